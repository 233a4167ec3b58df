"""``listener features``: frame or texture features of an audio file, as a table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import ConfigError

_EPILOG = f"""\
rows: one per frame of {FRAME} samples ({1000 * FRAME / SAMPLE_RATE:.1f} ms at {SAMPLE_RATE} Hz);
  'frame' is the frame index and 'time' its start in seconds. With --texture, one row per
  texture window of {TEXTURE_FRAMES} frames (1 s), labelled by the window's last frame; the first
  comes at frame {TEXTURE_FRAMES - 1}.
formats: jsonl (one JSON object a line), csv (a header line of column names), npy (a structured
  array whose field names are the columns; binary, so give -o or pipe it).
examples:
  listener features song.wav | head
  listener features song.flac --texture --format csv -o song.csv
  python -c "import numpy as np; print(np.load('f.npy').dtype.names)"
"""


def register(commands) -> None:
    """Add ``features`` to the command line."""
    p = commands.add_parser(
        "features",
        help="frame or texture features of an audio file",
        description="Compute the frame features (zcr, centroid, rolloff, flux, mfcc1-5, rms) or "
        "the 19-dim texture vectors of an audio file (any format libsndfile reads; mixed to mono "
        f"and resampled to {SAMPLE_RATE} Hz).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="audio file")
    p.add_argument("--texture", action="store_true", help="texture vectors instead of frames")
    p.add_argument(
        "--format", choices=("jsonl", "csv", "npy"), default="jsonl", help="default jsonl"
    )
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    p.set_defaults(func=run)


def write_table(
    rows: np.ndarray, first_frame: int, columns: tuple[str, ...], fmt: str, out: BinaryIO
) -> None:
    """Write feature rows with their frame index and start time as jsonl, csv or npy."""
    frames = np.arange(first_frame, first_frame + rows.shape[0])
    times = frames * (FRAME / SAMPLE_RATE)
    if fmt == "npy":
        dtype = [("frame", "<i8"), ("time", "<f8")] + [(c, "<f8") for c in columns]
        table = np.empty(rows.shape[0], dtype=dtype)
        table["frame"] = frames
        table["time"] = times
        for j, c in enumerate(columns):
            table[c] = rows[:, j]
        np.save(out, table, allow_pickle=False)
        return
    if fmt == "csv":
        out.write((",".join(("frame", "time") + columns) + "\n").encode())
        for i, row in enumerate(rows):
            values = ",".join(f"{v:.10g}" for v in row)
            out.write(f"{frames[i]},{times[i]:.6f},{values}\n".encode())
        return
    for i, row in enumerate(rows):
        record = {"frame": int(frames[i]), "time": round(float(times[i]), 6)}
        record.update(zip(columns, map(float, row), strict=True))
        out.write((json.dumps(record) + "\n").encode())


def run(args: argparse.Namespace) -> int:
    """Run ``listener features``."""
    from listener.audio import load_audio
    from listener.features import FRAME_COLUMNS, TEXTURE_COLUMNS, extract

    if args.format == "npy" and args.output is None and sys.stdout.isatty():
        raise ConfigError("npy is binary: give -o FILE.npy, or pipe standard output to a file")
    got = extract(load_audio(args.file))
    if args.texture:
        rows, first, columns = got.texture, got.texture_start, TEXTURE_COLUMNS
    else:
        rows, first, columns = got.frames, 0, FRAME_COLUMNS
    if args.output is None:
        write_table(rows, first, columns, args.format, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    try:
        with open(args.output, "wb") as out:
            write_table(rows, first, columns, args.format, out)
    except OSError as exc:
        raise ConfigError(f"{args.output}: cannot write ({exc.strerror})") from exc
    print(f"wrote {rows.shape[0]} rows to {args.output}", file=sys.stderr)
    return 0

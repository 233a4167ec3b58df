"""The ``listener`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from listener import __version__
from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import ConfigError, ListenerError

_EPILOG_FEATURES = f"""\
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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="listener",
        description="A streaming real-time listening machine: it hears music, describes it every "
        "23 ms (Tzanetakis & Cook 2002 features), and answers it.",
    )
    parser.add_argument("--version", action="version", version=f"listener {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="stream the built-in performance through the engine, printing live features",
        description="Synthesise a short performance and stream it through the engine as if it "
        "came from a sound card, printing the texture features as they come. Needs no audio "
        "device and no data.",
    )
    demo.add_argument("--seconds", type=float, default=8.0, help="length (default 8)")
    demo.add_argument("--fast", action="store_true", help="as fast as possible, not at live pace")

    feats = commands.add_parser(
        "features",
        help="frame or texture features of an audio file",
        description="Compute the frame features (zcr, centroid, rolloff, flux, mfcc1-5, rms) or "
        "the 19-dim texture vectors of an audio file (any format libsndfile reads; mixed to mono "
        f"and resampled to {SAMPLE_RATE} Hz).",
        epilog=_EPILOG_FEATURES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    feats.add_argument("file", type=Path, help="audio file")
    feats.add_argument("--texture", action="store_true", help="texture vectors instead of frames")
    feats.add_argument(
        "--format",
        choices=("jsonl", "csv", "npy"),
        default="jsonl",
        help="output format (default jsonl)",
    )
    feats.add_argument("-o", "--output", type=Path, help="write here instead of standard output")

    bench = commands.add_parser(
        "bench",
        help="measure speed against the tools people would otherwise use",
        description="Benchmarks, each with its anchors measured in the same run.",
    )
    targets = bench.add_subparsers(dest="target", metavar="TARGET")
    bf = targets.add_parser(
        "features",
        help="the feature engine: per-frame streaming cost and offline throughput",
        description="Stream a 30 s clip one 512-sample block per call and report the per-frame "
        "cost (p50, p99, max, first call), the offline path's cost per frame, and, measured in "
        "the same run, plain numpy one frame per call and librosa with a shared STFT.",
    )
    bf.add_argument("--json", action="store_true", help="print one JSON object")
    bf.add_argument(
        "--file", type=Path, help="clip to use (default: the built-in 30 s synthesised performance)"
    )
    bf.add_argument("--passes", type=int, default=5, help="streaming passes over the clip")
    return parser


def _write_table(
    rows: np.ndarray, first_frame: int, columns: tuple[str, ...], fmt: str, out: BinaryIO
) -> None:
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


def _cmd_features(args: argparse.Namespace) -> int:
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
        _write_table(rows, first, columns, args.format, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        try:
            with open(args.output, "wb") as out:
                _write_table(rows, first, columns, args.format, out)
        except OSError as exc:
            raise ConfigError(f"{args.output}: cannot write ({exc.strerror})") from exc
        print(f"wrote {rows.shape[0]} rows to {args.output}", file=sys.stderr)
    return 0


def _cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.target != "features":
        parser.parse_args(["bench", "--help"])
        return 2
    from listener.audio import load_audio
    from listener.audio.synth import demo_signal
    from listener.bench import bench_features, format_report

    if args.file is None:
        samples, source = demo_signal(30.0), "the built-in 30 s performance"
    else:
        samples, source = load_audio(args.file), str(args.file)
    result = bench_features(samples, passes=args.passes)
    if args.json:
        print(json.dumps({"source": source, **result}))
    else:
        print(format_report(result, source))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "features":
            return _cmd_features(args)
        if args.command == "bench":
            return _cmd_bench(args, parser)
        if args.command == "demo":
            from listener.demo import run_demo

            run_demo(seconds=args.seconds, realtime=not args.fast)
            return 0
        parser.print_help()
        return 2
    except ListenerError as exc:
        print(f"listener: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("listener: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `listener features x.wav | head`
        sys.stderr.close()
        return 0

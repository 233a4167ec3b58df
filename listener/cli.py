"""The ``listener`` command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

from listener import __version__
from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import ConfigError, ListenerError
from listener.listen import add_gate_argument

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
        "23 ms (Tzanetakis & Cook 2002 features), decides its genre as it goes, and composes "
        "folk tunes (folk-rnn). Each command has its own --help, with examples.",
        epilog="start with: listener demo",
    )
    parser.add_argument("--version", action="version", version=f"listener {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="the whole machine on a built-in performance: listen, decide, answer (30 s)",
        description="The composer writes a tune, a small built-in synthesiser plays it, and "
        "the performance streams into the engine as if from a sound card: the rolling genre "
        "decisions print as they change, and the composer answers with a continuation primed "
        "with the opening of what it heard. Writes demo.jsonl (every event), demo.abc (the "
        "tune heard and the answers) and demo.mid (the first answer). Needs no audio device "
        "and no data.",
    )
    demo.add_argument("--seconds", type=float, default=30.0, help="length (default 30)")
    demo.add_argument("--fast", action="store_true", help="as fast as possible, not at live pace")
    demo.add_argument("--folder", default=".", help="where the three files go (default: here)")

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

    _add_genres(commands)
    _add_tunes(commands)
    from listener import listen

    listen.add_parser(commands)
    commands.add_parser(
        "devices",
        help="list audio inputs and MIDI outputs",
        description="List the audio inputs (PortAudio, with indices and host APIs) and the "
        "MIDI outputs (ALSA and JACK) this machine offers now.",
    )

    bench = commands.add_parser(
        "bench",
        help="measure speed against the tools people would otherwise use",
        description="Benchmarks, each with its anchors measured in the same run. With no "
        "TARGET, all of them on the built-in 30 s performance, and the whole engine on it at "
        "full speed with the composer running (per-frame latency, real-time factor).",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
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
    bg = targets.add_parser(
        "genres",
        help="the genre side: GTZAN vectors of a clip, one rolling decision update",
        description="Time the 30-dim GTZAN vectors of a 30 s clip, one update of the rolling "
        "decision with the shipped model, and optionally a whole collection extracted cold "
        "(decoding included, no cache).",
    )
    bg.add_argument("--json", action="store_true", help="print one JSON object")
    bg.add_argument("--file", type=Path, help="clip to use (default: the built-in performance)")
    bg.add_argument("--collection", type=Path, help="also extract this collection, cold")
    bl = targets.add_parser(
        "lstm",
        help="the composer: one sampling step and a 250-token tune",
        description="Time one step of the composer's ONNX model as it samples (one thread, "
        "p50, p99, max) and 250 tokens sampled through generate(), against the same graph in "
        "fp32 on onnxruntime (needs onnx) and a PyTorch eager step (needs torch), measured in "
        "the same run.",
    )
    bl.add_argument("--json", action="store_true", help="print one JSON object")
    bl.add_argument("--model", type=Path, help="ONNX step model (default: the shipped one)")
    bl.add_argument("--steps", type=int, default=500, help="steps per timed pass")
    bl.add_argument("--passes", type=int, default=9, help="timed passes")
    bl.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="also time the step pinned to this CPU (-1: the last one)",
    )
    return parser


_EPILOG_GENRES = """\
collections: a folder with one subfolder of audio files per label (GTZAN's layout; a genres/
  level is looked through). Features (the 30-dim GTZAN vector at each 1 s texture window) are
  extracted once, in parallel, and cached by file content (~/.cache/listener or $LISTENER_CACHE).
classifiers: gaussian (default; one full-covariance Gaussian per class, its covariance drawn
  75% toward the one pooled over classes), gaussian:POOLING:SHRINKAGE to set both, gmm:K or
  gmm:K:diag (K Gaussians per class), knn:K (K nearest windows). --tune chooses a gaussian's or
  a knn's settings by cross-validation inside each training fold (nested: honest figures).
features: full (all 30) or timbral (the 19 texture dimensions, the paper's real-time set).
examples:
  listener genres evaluate ../shared/data/gtzan-mini --table
  listener genres evaluate DIR --tune --rolling 10
  listener genres evaluate DIR --by-artist --folds 3 --plot confusion.png
  listener genres evaluate DIR --split-dir DIR/splits/fault-filtered --json
  listener genres train DIR -o models/my-genres --tune
  listener genres classify song.wav --realtime
"""


def _add_genres(commands) -> None:
    genres = commands.add_parser(
        "genres",
        help="genre decisions: train, evaluate, classify",
        description="Decide the genre of music from its GTZAN features (Tzanetakis & Cook 2002).",
        epilog=_EPILOG_GENRES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = genres.add_subparsers(dest="genres_command", metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("dir", type=Path, help="collection: one subfolder of audio per label")
        p.add_argument(
            "--classifier",
            default="gaussian",
            help="gaussian[:POOLING:SHRINKAGE] | gmm:K[:diag] | knn:K (default gaussian, "
            "which is gaussian:0.75:0)",
        )
        p.add_argument(
            "--features",
            choices=("full", "timbral"),
            default="full",
            help="feature set (default full, 30 dims)",
        )
        p.add_argument(
            "--tune",
            action="store_true",
            help="choose the classifier's settings (gaussian: pooling and shrinkage; knn: K) by "
            "cross-validation inside each training fold, so that no test clip takes part",
        )
        p.add_argument("--cache", type=Path, help="feature cache folder")
        p.add_argument("--workers", type=int, help="extraction processes (default: cores)")

    train = sub.add_parser(
        "train",
        help="fit a model on a whole collection",
        description="Fit a classifier on every clip of a collection and "
        "write MODEL.npz with MODEL.json (provenance, 10-fold figures).",
    )
    common(train)
    train.add_argument("-o", "--output", type=Path, required=True, help="model file (.npz)")

    ev = sub.add_parser(
        "evaluate",
        help="cross-validate: accuracy, confusion, precision, recall",
        description="Cross-validate on a collection and report accuracy mean "
        "+- std over folds, the confusion table, precision and recall, per 1 s "
        "window (the real-time decision) and per clip.",
        epilog=_EPILOG_GENRES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(ev)
    ev.add_argument("--folds", type=int, help="k folds (default 10; 3 with --by-artist)")
    ev.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    ev.add_argument(
        "--split-dir", type=Path, help="folder of *train*.txt / *test*.txt file lists (one split)"
    )
    ev.add_argument(
        "--holdout",
        type=float,
        metavar="SHARE",
        help="one split holding out SHARE (e.g. 0.2) of each label's clips",
    )
    ev.add_argument(
        "--by-artist", action="store_true", help="folds grouped by artist: no artist on both sides"
    )
    ev.add_argument(
        "--artists",
        type=Path,
        help="artist index, lines 'file ::: artist ::: title' (default: found in DIR)",
    )
    ev.add_argument(
        "--table",
        action="store_true",
        help="the paper's rows (RT GS, GS, GMM(2-5), KNN(1,3,5)) beside its figures",
    )
    ev.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ev.add_argument("--plot", type=Path, help="confusion tables as a PNG")
    ev.add_argument(
        "--rolling",
        type=float,
        metavar="SECONDS",
        help="also measure how often the rolling decision after SECONDS of a clip agrees with "
        "the whole clip's decision",
    )

    cl = sub.add_parser(
        "classify",
        help="rolling genre decisions on a file, as JSON lines",
        description="Stream a file through the features and the online "
        "decision, printing each decision as a JSON line as it is made.",
    )
    cl.add_argument("file", type=Path, help="audio file")
    cl.add_argument("--model", type=Path, help="model .npz (default: the shipped one)")
    cl.add_argument("--realtime", action="store_true", help="play the file at its own pace")
    cl.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="seconds of evidence behind a decision (default 10)",
    )
    cl.add_argument("--decay", type=float, help="fading memory in seconds instead of a window")
    add_gate_argument(cl)


def _add_tunes(commands) -> None:
    tunes = commands.add_parser(
        "tunes",
        help="folk tunes: corpus, generate, check, play",
        description="Folk tunes in folk-rnn's v2 tokens (Sturm et al. 2016).",
    )
    sub = tunes.add_subparsers(dest="tunes_command", metavar="ACTION")
    corpus = sub.add_parser(
        "corpus",
        help="write the training corpus (data_v2) from music21's ABC collections",
        description="Read the public-domain ABC collections bundled with music21 (O'Neill's "
        "1850, Ryan's Mammoth, Aird's Airs, misc folk), transpose every tune to C (maj, min, "
        "dor or mix), normalise it to L:1/8 and write it in folk-rnn's data_v2 format. Tunes "
        "the 137 tokens cannot express are dropped and counted by reason; repeats kept once.",
    )
    corpus.add_argument("-o", "--output", type=Path, required=True, help="data_v2 file")
    gen = sub.add_parser(
        "generate",
        help="compose tunes with the folk-rnn model, written as ABC",
        description="Sample tunes token by token from the folk-rnn model (onnxruntime) and "
        "write them as ABC (X:, T:, M:, L:1/8, K:, then the body) that abc2midi and abcm2ps "
        "read. The same seed and settings always give the same tune.",
        epilog="examples:\n  listener tunes generate --seed 1 --meter 6/8 --mode dor\n"
        "  listener tunes generate --prime 'M:4/4 K:Cmaj c d c' --count 5 -o tunes.abc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _generation_options(gen)
    gen.add_argument("--count", type=int, default=1, help="tunes, seeds seed..seed+count-1")
    gen.add_argument("-o", "--output", type=Path, help="ABC file (default: standard output)")
    play = sub.add_parser(
        "play",
        help="play tunes out as MIDI as they are read or composed, or write them to a file",
        description="Play the tunes of an ABC or data_v2 file, or a tune composed as it is "
        "sampled (--generate), on a MIDI output: notes on time at a tempo, repeats played, all "
        "notes off when it ends, on Ctrl-C and on errors. With -o and no port it writes the "
        ".mid (or .abc) file and plays nothing. Without a port it makes a virtual output "
        "named 'listener' for a synthesiser to connect to.",
        epilog="examples:\n  listener tunes play tune.abc --port fluidsynth --program 73\n"
        "  listener tunes play --generate --meter 6/8 --seed 4 --virtual folk\n"
        "  listener tunes play --generate --mode dor -o tune.mid\n"
        "MIDI on Linux goes through ALSA (needs /dev/snd/seq) or JACK (needs jackd running); "
        "`listener devices` lists the outputs. Tempo counts quarter notes per minute; by "
        "default it follows the meter (jigs 165, reels 180, waltzes 135, ...).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    play.add_argument("file", type=Path, nargs="?", help="ABC or data_v2 file")
    play.add_argument("--generate", action="store_true", help="compose a tune and play it")
    _generation_options(play)
    play.add_argument("--port", help="an existing MIDI output: its name or a unique part of it")
    play.add_argument("--virtual", help="make a MIDI output of this name")
    play.add_argument("--api", choices=["auto", "alsa", "jack"], default="auto")
    play.add_argument("--tempo", type=float, help="quarter notes per minute (default: by meter)")
    play.add_argument("--program", type=int, help="General MIDI program 0..127 (default: none)")
    play.add_argument("--channel", type=int, default=1, help="MIDI channel 1..16 (default 1)")
    play.add_argument("-o", "--output", type=Path, help="write a .mid or .abc file too")
    check = sub.add_parser(
        "check",
        help="how well tunes hold together: endings, bars, repeats, parts",
        description="Check tunes (an ABC or data_v2 file, or N tunes generated with seeds "
        "1..N): the share that end with </s>, the share of full bars as long as the meter "
        "says (pickups and a part's short last bar aside), the share with balanced repeats, "
        "and the parts per tune.",
    )
    check.add_argument("file", type=Path, nargs="?", help="ABC or data_v2 file")
    check.add_argument("--generate", type=int, metavar="N", help="check N generated tunes")
    check.add_argument("--model", type=Path, help="ONNX step model for --generate")
    check.add_argument("--temperature", type=float, default=1.0)
    check.add_argument("--json", action="store_true", help="one JSON object")


def _generation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="ONNX step model (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--temperature", type=float, default=1.0, help="default 1.0")
    parser.add_argument("--meter", help="2/4, 3/4, 4/4, 6/8, 9/8, 12/8 or 3/2")
    parser.add_argument("--mode", help="maj, min, dor or mix")
    parser.add_argument("--prime", default="", help="tokens to start from: 'M:6/8 K:Cmaj c d'")
    parser.add_argument("--max-tokens", type=int, default=1000, help="cap (default 1000)")


def _cmd_generate(args: argparse.Namespace) -> int:
    from listener.tunes.abc import Tune
    from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

    model = FolkLSTM(args.model or DEFAULT_FOLK_MODEL)
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    try:
        for i in range(args.count):
            seed = args.seed + i
            tokens = list(
                model.generate(
                    args.prime, args.meter, args.mode, args.temperature, seed, args.max_tokens
                )
            )
            tune, ended = Tune.from_sampled(tokens)
            tune, dropped = tune.cleaned()
            title = f"listener seed {seed}" + ("" if ended else " (stopped at the token cap)")
            abc = tune.abc(i + 1, title)
            if dropped:
                abc += f"% {dropped} malformed tokens left out\n"
            out.write(abc + "\n")
            out.flush()
    finally:
        if args.output:
            out.close()
            print(f"wrote {args.count} tunes to {args.output}", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from listener.tunes.abc import Tune
    from listener.tunes.check import check_tunes
    from listener.tunes.corpus import read_tunes

    if (args.file is None) == (args.generate is None):
        raise ConfigError("give a FILE to check or --generate N, one of the two")
    tunes: list[Tune] = []
    ended: list[bool] = []
    if args.generate:
        from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

        model = FolkLSTM(args.model or DEFAULT_FOLK_MODEL)
        for seed in range(1, args.generate + 1):
            tune, done = Tune.from_sampled(
                list(model.generate(temperature=args.temperature, seed=seed))
            )
            tunes.append(tune)
            ended.append(done)
        source = f"{args.generate} tunes generated (seeds 1..{args.generate})"
    else:
        read = read_tunes(args.file)
        tunes, ended = [t for t, _ in read], [done for _, done in read]
        source = str(args.file)
    result = check_tunes(tunes, ended)
    if args.json:
        print(json.dumps({"source": source, **result}))
        return 0
    print(f"{source}: {result['tunes']} tunes")
    print(f"  ended with </s>            {100 * result['ended_share']:5.1f}%")
    print(f"  full bars fitting meter    {100 * result['bars_ok_share']:5.1f}%")
    print(f"  balanced repeats           {100 * result['repeats_ok_share']:5.1f}%")
    print(f"  parts per tune             {result['parts_mean']:5.2f}")
    return 0


def _cmd_tunes(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.tunes_command == "check":
        return _cmd_check(args)
    if args.tunes_command == "generate":
        return _cmd_generate(args)
    if args.tunes_command == "play":
        from listener.midi.commands import play

        return play(args)
    if args.tunes_command != "corpus":
        parser.parse_args(["tunes", "--help"])
        return 2
    from listener.tunes.corpus import build_corpus, collection_files, write_data_v2

    files = collection_files()
    tunes, counts = build_corpus(files)
    write_data_v2(tunes, args.output)
    tokens = sum(len(t.tokens()) + 2 for t in tunes)  # with <s> and </s>
    print(
        f"wrote {len(tunes)} tunes ({tokens} tokens with <s> and </s>) from {len(files)} "
        f"files to {args.output}"
    )
    for reason, n in counts.most_common():
        if reason != "kept":
            print(f"  dropped {n:5d}  {reason}")
    return 0


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


def _bench_all(as_json: bool) -> int:
    from listener.audio.synth import demo_signal
    from listener.bench import (
        bench_engine,
        bench_features,
        bench_genres,
        bench_lstm,
        format_lstm_report,
        format_report,
    )

    samples, source = demo_signal(30.0), "the built-in 30 s performance"
    result = {
        "source": source,
        "features": bench_features(samples),
        "genres": bench_genres(samples),
        "lstm": bench_lstm(),
        "engine": bench_engine(samples),
    }
    if as_json:
        print(json.dumps(result))
        return 0
    print(format_report(result["features"], source))
    print()
    print(
        "genre side: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["genres"].items() if isinstance(v, float))
    )
    print()
    print(format_lstm_report(result["lstm"]))
    print()
    e = result["engine"]
    print(
        f"whole engine on {source} at full speed, composer writing a tune every 5 s: "
        f"{e['frames']} frames in {e['seconds']:.2f} s ({e['realtime_factor']:.0f}x real time), "
        f"{e['tunes']} tunes; per-frame latency p50 {e['latency_ms_p50']:.3f} ms, p99 "
        f"{e['latency_ms_p99']:.3f} ms, max {e['latency_ms_max']:.3f} ms (budget 23.2 ms)"
    )
    return 0


def _cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.target is None:
        return _bench_all(args.json)
    if args.target not in ("features", "genres", "lstm"):
        parser.parse_args(["bench", "--help"])
        return 2
    if args.target == "lstm":
        from listener.bench import bench_lstm, format_lstm_report
        from listener.tunes.lstm import DEFAULT_FOLK_MODEL

        result = bench_lstm(args.model or DEFAULT_FOLK_MODEL, args.steps, args.passes, cpu=args.cpu)
        print(json.dumps(result) if args.json else format_lstm_report(result))
        return 0
    from listener.audio import load_audio
    from listener.audio.synth import demo_signal
    from listener.bench import bench_features, bench_genres, format_report

    if args.file is None:
        samples, source = demo_signal(30.0), "the built-in 30 s performance"
    else:
        samples, source = load_audio(args.file), str(args.file)
    if args.target == "genres":
        result = bench_genres(samples, str(args.collection) if args.collection else None)
        if args.json:
            print(json.dumps({"source": source, **result}))
        else:
            for key, value in result.items():
                shown = (
                    "n/a"
                    if value is None
                    else f"{value:.2f}"
                    if isinstance(value, float)
                    else value
                )
                print(f"{key:<24}{shown:>12}")
        return 0
    result = bench_features(samples, passes=args.passes)
    if args.json:
        print(json.dumps({"source": source, **result}))
    else:
        print(format_report(result, source))
    return 0


def _stop_on_terminate() -> dict:
    # `kill`, `systemctl stop` and a closed terminal send SIGTERM or SIGHUP: stop as Ctrl-C
    # does (audio first, then every note released and all notes off), not in mid-note.
    # Returns the handlers replaced, for main() to put back.
    def stop(signum, frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    replaced = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) == signal.SIG_DFL:
                replaced[number] = signal.signal(number, stop)
    return replaced


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    replaced = _stop_on_terminate()
    try:
        if args.command == "features":
            return _cmd_features(args)
        if args.command == "bench":
            return _cmd_bench(args, parser)
        if args.command == "tunes":
            return _cmd_tunes(args, parser)
        if args.command == "genres":
            from listener.genres import commands

            action = {
                "train": commands.train,
                "evaluate": commands.evaluate,
                "classify": commands.classify,
            }.get(args.genres_command)
            if action is None:
                parser.parse_args(["genres", "--help"])
                return 2
            return action(args)
        if args.command == "listen":
            from listener.listen import listen

            return listen(args)
        if args.command == "devices":
            from listener.midi.commands import devices

            return devices(args)
        if args.command == "demo":
            from listener.demo import run_demo

            run_demo(seconds=args.seconds, realtime=not args.fast, folder=args.folder)
            return 0
        parser.print_help()
        return 2
    except ListenerError as exc:
        print(f"listener: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `listener features x.wav | head`; before OSError, its base
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file that cannot be written or read, named by the system
        print(f"listener: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("listener: interrupted", file=sys.stderr)
        return 130
    finally:
        for number, handler in replaced.items():
            signal.signal(number, handler)

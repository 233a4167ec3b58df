"""``listener bench``: speed against the tools people would otherwise use, measured in one run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

_SOURCE = "the built-in 30 s performance"


def register(commands) -> None:
    """Add ``bench`` and its targets to the command line."""
    bench = commands.add_parser(
        "bench",
        help="measure speed against the tools people would otherwise use",
        description="Benchmarks, each with its anchors measured in the same run. With no "
        "TARGET, all of them on the built-in 30 s performance, and the whole engine on it at "
        "full speed with the composer running (per-frame latency, real-time factor).",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=run_all)
    targets = bench.add_subparsers(dest="target", metavar="TARGET")
    features = targets.add_parser(
        "features",
        help="the feature engine: per-frame streaming cost and offline throughput",
        description="Stream a 30 s clip one 512-sample block per call and report the per-frame "
        "cost (p50, p99, max, first call), the offline path's cost per frame, and, measured in "
        "the same run, plain numpy one frame per call and librosa with a shared STFT.",
    )
    features.add_argument("--json", action="store_true", help="print one JSON object")
    features.add_argument(
        "--file", type=Path, help="clip to use (default: the built-in 30 s synthesised performance)"
    )
    features.add_argument("--passes", type=int, default=5, help="streaming passes over the clip")
    features.set_defaults(func=run_features)
    genres = targets.add_parser(
        "genres",
        help="the genre side: GTZAN vectors of a clip, one rolling decision update",
        description="Time the 30-dim GTZAN vectors of a 30 s clip, one update of the rolling "
        "decision with the shipped model, and optionally a whole collection extracted cold "
        "(decoding included, no cache).",
    )
    genres.add_argument("--json", action="store_true", help="print one JSON object")
    genres.add_argument("--file", type=Path, help="clip to use (default: the built-in performance)")
    genres.add_argument("--collection", type=Path, help="also extract this collection, cold")
    genres.set_defaults(func=run_genres)
    lstm = targets.add_parser(
        "lstm",
        help="the composer: one sampling step and a 250-token tune",
        description="Time one step of the composer's ONNX model as it samples (one thread, "
        "p50, p99, max) and 250 tokens sampled through generate(), against the same graph in "
        "fp32 on onnxruntime (needs onnx) and a PyTorch eager step (needs torch), measured in "
        "the same run.",
    )
    lstm.add_argument("--json", action="store_true", help="print one JSON object")
    lstm.add_argument("--model", type=Path, help="ONNX step model (default: the shipped one)")
    lstm.add_argument("--steps", type=int, default=500, help="steps per timed pass")
    lstm.add_argument("--passes", type=int, default=9, help="timed passes")
    lstm.add_argument(
        "--cpu", type=int, default=None, help="also time the step pinned to this CPU (-1: last)"
    )
    lstm.set_defaults(func=run_lstm)


def _clip(path: Path | None):
    from listener.audio import load_audio
    from listener.audio.synth import demo_signal

    if path is None:
        return demo_signal(30.0), _SOURCE
    return load_audio(path), str(path)


def run_all(args: argparse.Namespace) -> int:
    """Run every benchmark and the whole engine on the built-in performance."""
    from listener.bench import (
        bench_engine,
        bench_features,
        bench_genres,
        bench_lstm,
        format_lstm_report,
        format_report,
    )

    samples, source = _clip(None)
    result = {
        "source": source,
        "features": bench_features(samples),
        "genres": bench_genres(samples),
        "lstm": bench_lstm(),
        "engine": bench_engine(samples),
    }
    if args.json:
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


def run_features(args: argparse.Namespace) -> int:
    """Run ``listener bench features``."""
    from listener.bench import bench_features, format_report

    samples, source = _clip(args.file)
    result = bench_features(samples, passes=args.passes)
    print(json.dumps({"source": source, **result}) if args.json else format_report(result, source))
    return 0


def run_genres(args: argparse.Namespace) -> int:
    """Run ``listener bench genres``."""
    from listener.bench import bench_genres

    samples, source = _clip(args.file)
    result = bench_genres(samples, str(args.collection) if args.collection else None)
    if args.json:
        print(json.dumps({"source": source, **result}))
        return 0
    for key, value in result.items():
        shown = "n/a" if value is None else f"{value:.2f}" if isinstance(value, float) else value
        print(f"{key:<24}{shown:>12}")
    return 0


def run_lstm(args: argparse.Namespace) -> int:
    """Run ``listener bench lstm``."""
    from listener.bench import bench_lstm, format_lstm_report
    from listener.tunes.lstm import DEFAULT_FOLK_MODEL

    result = bench_lstm(args.model or DEFAULT_FOLK_MODEL, args.steps, args.passes, cpu=args.cpu)
    print(json.dumps(result) if args.json else format_lstm_report(result))
    return 0

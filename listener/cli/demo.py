"""``listener demo``: the whole machine on a built-in performance (see :mod:`listener.demo`)."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    """Add ``demo`` to the command line."""
    p = commands.add_parser(
        "demo",
        help="the whole machine on a built-in performance: listen, decide, answer (30 s)",
        description="The composer writes a tune, a small built-in synthesiser plays it, and "
        "the performance streams into the engine as if from a sound card: the rolling genre "
        "decisions print as they change, and the composer answers with a continuation primed "
        "with the opening of what it heard. Writes demo.jsonl (every event), demo.abc (the "
        "tune heard and the answers) and demo.mid (the first answer). Needs no audio device "
        "and no data.",
    )
    p.add_argument("--seconds", type=float, default=30.0, help="length (default 30)")
    p.add_argument("--fast", action="store_true", help="as fast as possible, not at live pace")
    p.add_argument("--folder", default=".", help="where the three files go (default: here)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``listener demo``."""
    from listener.demo import run_demo

    run_demo(seconds=args.seconds, realtime=not args.fast, folder=args.folder)
    return 0

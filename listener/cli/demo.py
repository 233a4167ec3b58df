"""``listener demo``: the whole machine on a built-in performance (see :mod:`listener.demo`)."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    """Add ``demo`` to the command line."""
    p = commands.add_parser(
        "demo",
        help="call and response with a built-in fiddler: hear a real tune, answer it (30 s)",
        description="A built-in performer plays phrases of Haste to the Wedding (O'Neill "
        "1903, public domain) on a fiddle, humanised (fluidsynth when installed, the built-in "
        "synthesiser otherwise), resting after each. The sound streams into the engine as if "
        "from a sound card: it hears the notes, reads each phrase as folk-rnn tokens (tempo, "
        "meter, key, bars; printed beside what was played), and the composer answers it in "
        "the player's key and tempo, from a beat. Writes demo.jsonl (every event), demo.abc "
        "(the tune, each phrase as heard, each phrase with its answer) and demo.mid (the "
        "answers). Needs no audio device and no data.",
    )
    p.add_argument(
        "--seconds", type=float, default=30.0, help="most seconds of performance (default 30)"
    )
    p.add_argument("--fast", action="store_true", help="as fast as possible, not at live pace")
    p.add_argument("--folder", default=".", help="where the three files go (default: here)")
    p.add_argument(
        "--view",
        metavar="[HOST:]PORT",
        help="show it in the live view too: open http://127.0.0.1:PORT/ (it stays up after "
        "the demo until Ctrl-C)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``listener demo``."""
    from listener.demo import run_demo

    run_demo(seconds=args.seconds, realtime=not args.fast, folder=args.folder, view=args.view)
    return 0

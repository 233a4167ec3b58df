"""Options that more than one command takes, each defined once."""

from __future__ import annotations

import argparse
from pathlib import Path


def gate_level(text: str) -> float | None:
    """Parse ``--gate``: a level in dBFS (at most 0), or ``off``."""
    if text.strip().lower() == "off":
        return None
    try:
        level = float(text)
    except ValueError:
        level = 1.0
    if not level <= 0.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a level in dBFS such as -60, or off")
    return level


def add_gate(parser) -> None:
    """``--gate DB|off``: the level below which the genre decision hears silence."""
    parser.add_argument(
        "--gate",
        type=gate_level,
        default=-60.0,
        metavar="DB",
        help="windows with a frame below DB dBFS are silence: the genre decision holds through "
        "them (default -60; off: every window counts)",
    )


def add_midi_output(parser) -> None:
    """``--port``, ``--virtual``, ``--api``, ``--program``, ``--channel``: where notes go."""
    parser.add_argument("--port", help="an existing MIDI output: its name or a unique part of it")
    parser.add_argument("--virtual", help="make a MIDI output of this name")
    parser.add_argument("--api", choices=["auto", "alsa", "jack"], default="auto")
    parser.add_argument("--program", type=int, help="General MIDI program 0..127 (default: none)")
    parser.add_argument("--channel", type=int, default=1, help="MIDI channel 1..16 (default 1)")


def check_midi_output(args: argparse.Namespace) -> None:
    """Refuse MIDI output options that contradict each other, before anything opens."""
    from listener.errors import ConfigError

    if args.port and args.virtual:
        raise ConfigError("--port plays into an existing MIDI input, --virtual makes one: not both")
    if not 1 <= args.channel <= 16:
        raise ConfigError(f"--channel {args.channel}: MIDI channels are 1..16")
    if args.program is not None and not 0 <= args.program <= 127:
        raise ConfigError(f"--program {args.program}: General MIDI programs are 0..127")


def add_generation(parser, *, model_flag: str = "--model", follow: bool = False) -> None:
    """Add the composer's settings: model, seed, temperature, meter, mode, prime.

    ``follow`` makes ``follow`` (from what is heard) the default meter and mode, as ``listen``
    has it.
    """
    parser.add_argument(model_flag, type=Path, help="ONNX step model (default: the shipped one)")
    parser.add_argument(
        "--seed", type=int, default=None if follow else 0, help="first seed (default 0)"
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="default 1.0")
    which = " (default follow: from what is heard)" if follow else ""
    parser.add_argument(
        "--meter",
        default="follow" if follow else None,
        help=f"2/4, 3/4, 4/4, 6/8, 9/8, 12/8 or 3/2{which}",
    )
    parser.add_argument(
        "--mode", default="follow" if follow else None, help=f"maj, min, dor or mix{which}"
    )
    parser.add_argument("--prime", default="", help="tokens to start from: 'M:6/8 K:Cmaj c d'")
    parser.add_argument(
        "--unconstrained",
        action="store_true",
        help="sample the model as it is, ill-formed tokens included (for study; by default only "
        "what keeps the tune well formed: bars that fit, repeats that close)",
    )

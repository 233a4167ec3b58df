"""``listener osc``, and the stage's options of ``listen`` and ``demo``: OSC, the live view."""

from __future__ import annotations

import argparse
import sys

from listener.errors import ConfigError


def register(commands) -> None:
    """Add ``osc`` to the command line."""
    p = commands.add_parser(
        "osc",
        help="the OSC address table (what --osc sends, what --osc-in takes)",
        description="Print the OSC address table: every address `listener listen --osc` "
        "sends, its types, range and rate, and the controls --osc-in takes. Numbers are "
        "32-bit floats, strings have addresses of their own, messages are plain (no bundles).",
        epilog="examples:\n"
        "  listener osc --table\n"
        "  listener listen --osc 127.0.0.1:57120                 # SuperCollider's language\n"
        "  listener listen --osc :4560 --osc :7400/td            # Sonic Pi and TouchDesigner\n"
        "  listener listen --osc :6448 --osc-format wekinator    # Wekinator's /wek/inputs\n"
        "  listener listen --osc-in 9000                         # controls from a patch",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--table", action="store_true", help="print the table (the default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the address table and the controls."""
    from listener.stage.control import CONTROLS
    from listener.stage.osc import DEFAULT_PREFIX, table

    print(table())
    print(f"\n# controls taken by --osc-in (prefix {DEFAULT_PREFIX})")
    for path, types, what in CONTROLS:
        print(f"{DEFAULT_PREFIX + path:<22} {types or '-':<12} {what}")
    return 0


def add_stage_options(parser: argparse.ArgumentParser) -> None:
    """Add the stage's options (OSC out and in) to a command's parser."""
    stage = parser.add_argument_group(
        "the stage",
        "OSC out to Max, Pd, SuperCollider, TouchDesigner, Sonic Pi or Wekinator, and "
        "controls in (`listener osc --table` lists the addresses). Each socket binds to "
        "127.0.0.1 unless given a host.",
    )
    stage.add_argument(
        "--osc",
        action="append",
        metavar="HOST:PORT[/prefix]",
        help="send OSC there (repeatable; prefix /listener by default; :PORT is 127.0.0.1)",
    )
    stage.add_argument(
        "--osc-rate",
        type=float,
        default=30.0,
        help="frame features (rms, centroid, flux, tempo) a second over OSC (default 30)",
    )
    stage.add_argument(
        "--osc-format",
        choices=("listener", "wekinator"),
        default="listener",
        help="listener: the address table; wekinator: the 30-dim GTZAN vector to /wek/inputs",
    )
    stage.add_argument(
        "--view",
        metavar="[HOST:]PORT",
        help="serve the live view (level, spectrogram, genre, the tune as a score) on this "
        "port: open http://127.0.0.1:PORT/ in a browser (8765, say)",
    )
    stage.add_argument(
        "--clock-in",
        metavar="PORT",
        help="follow the band's MIDI clock from this MIDI output (a name or unique part; "
        "--api ALSA or JACK): tunes start on its beats at its tempo, wait for its Start and "
        "stop at its Stop",
    )
    stage.add_argument(
        "--clock-out",
        metavar="PORT",
        help="send MIDI clock (24 a quarter note, Start and Stop) to this MIDI input, at the "
        "tempo of the tune playing, between tunes the tempo heard (or --tempo); through JACK "
        "each pulse is written at its frame",
    )
    stage.add_argument(
        "--osc-in",
        metavar="[HOST:]PORT",
        help="take controls over OSC on this UDP port (compose, stop, temperature, meter, "
        "mode, tempo)",
    )


def open_stage(args: argparse.Namespace, writer):
    """Build the events' way out (:class:`~listener.stage.outlets.Outlets`) from the options.

    Returns the writer itself when no stage option is given.
    """
    if not (args.osc or args.osc_in or args.view):
        return writer
    from listener.stage.osc import OscOut, Target
    from listener.stage.outlets import Outlets

    if not args.osc_rate > 0:
        raise ConfigError(f"--osc-rate {args.osc_rate:g}: readings a second, above 0")
    outlets = []
    if args.osc:
        targets = [Target.parse(text, format=args.osc_format) for text in args.osc]
        outlets.append(OscOut(targets))
        for target in targets:
            where = target.prefix if target.format == "listener" else "/wek/inputs"
            print(f"listener: OSC to {target.host}:{target.port} {where}", file=sys.stderr)
    if args.view:
        from listener.stage.control import parse_listen
        from listener.stage.view import LiveView

        host, port = parse_listen(args.view)
        view = LiveView(host=host, port=port)
        outlets.append(view)
        print(f"listener: the live view on {view.url}", file=sys.stderr)
    return Outlets(writer, outlets)


def open_controls(args: argparse.Namespace, engine, outlets) -> None:
    """Start OSC in (``--osc-in``) acting on ``engine``; ``outlets`` counts what it rejects."""
    if not args.osc_in:
        return
    from listener.stage.control import OscControl, parse_listen
    from listener.stage.osc import DEFAULT_PREFIX

    host, port = parse_listen(args.osc_in)
    control = OscControl(engine.control, host=host, port=port, prefix=DEFAULT_PREFIX)
    outlets.inputs.append(control)
    print(f"listener: OSC in on {control.host}:{control.port} {DEFAULT_PREFIX}", file=sys.stderr)


def open_clock_out(args: argparse.Namespace):
    """Open ``--clock-out`` (not started: the engine starts it with the run), or None."""
    if not args.clock_out:
        return None
    from listener.stage.clock_out import ClockOut

    clock = ClockOut.open(args.clock_out, api=args.api, tempo=args.tempo or 120.0)
    print(f"listener: MIDI clock out to {clock.name} ({clock.api})", file=sys.stderr)
    return clock

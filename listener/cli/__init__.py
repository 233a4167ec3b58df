"""The ``listener`` command line: one module per command, each registering its own parser.

Each command module has ``register(commands)``, which adds its parser and sets ``func`` (what
runs it) with ``set_defaults``. Options that several commands share live in
:mod:`listener.cli.options`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from listener import __version__
from listener.cli import (
    bench,
    demo,
    devices,
    features,
    genres,
    listen,
    stage,
    transcribe,
    tunes,
)
from listener.errors import ListenerError

#: The commands, in the order ``--help`` lists them.
COMMANDS = (demo, listen, devices, features, genres, tunes, transcribe, bench, stage)


def build_parser() -> argparse.ArgumentParser:
    """Build the whole command line's parser."""
    parser = argparse.ArgumentParser(
        prog="listener",
        description="A streaming real-time listening machine: it hears music, describes it every "
        "23 ms (Tzanetakis & Cook 2002 features), decides its genre as it goes, and composes "
        "folk tunes (folk-rnn). Each command has its own --help, with examples.",
        epilog="start with: listener demo",
    )
    parser.add_argument("--version", action="version", version=f"listener {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def _stop_on_terminate() -> dict:
    # `kill`, `systemctl stop`, a closed terminal and Ctrl-\ send SIGTERM, SIGHUP or SIGQUIT:
    # stop as Ctrl-C does (audio first, then every note released, the whole run's stats
    # said), not in mid-note. Returns the handlers replaced, for main() to put back.
    def stop(signum, frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    replaced = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP", "SIGQUIT"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) == signal.SIG_DFL:
                replaced[number] = signal.signal(number, stop)
    return replaced


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # a command with actions, given none
        (args.help_parser if hasattr(args, "help_parser") else parser).print_help()
        return 2
    replaced = _stop_on_terminate()
    try:
        return args.func(args)
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

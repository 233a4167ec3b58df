"""``listener devices``: the audio inputs and MIDI outputs this machine offers now."""

from __future__ import annotations

import argparse
import contextlib
import os


def register(commands) -> None:
    """Add ``devices`` to the command line."""
    p = commands.add_parser(
        "devices",
        help="list audio inputs and MIDI outputs",
        description="List the audio inputs (PortAudio, with indices and host APIs) and the "
        "MIDI outputs (ALSA and JACK) this machine offers now.",
    )
    p.add_argument("--jack", action="store_true", help="audio inputs of PortAudio's JACK API only")
    p.set_defaults(func=run)


def print_audio_inputs(jack: bool = False) -> None:
    """Print the audio inputs, one a line, or why there are none."""
    from listener.audio.device import input_devices
    from listener.errors import DeviceError

    try:
        found = input_devices(jack)
    except DeviceError as exc:
        print(f"  none: {exc}")
        return
    if not found:
        print("  none" + (" (is a JACK server running?)" if jack else ""))
    for d in found:
        print(
            f"  {d['index']:3d}  {d['name']}  ({d['hostapi']}, {d['channels']} channels, "
            f"{d['rate']:g} Hz)"
        )


@contextlib.contextmanager
def _quiet_stderr():
    # rtmidi's JACK client prints to the C stderr when no server runs; listing should not
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def print_midi_outputs() -> None:
    """Print the MIDI outputs of ALSA and JACK, or why an API has none."""
    from listener.midi.sink import output_names

    for api in ("alsa", "jack"):
        if api == "alsa" and not os.path.exists("/dev/snd/seq"):
            print("  alsa: no sequencer (/dev/snd/seq is missing)")
            continue
        try:
            with _quiet_stderr():
                names = output_names(api)
        except Exception as exc:  # rtmidi's own errors when the API is down
            print(f"  {api}: not available ({exc})")
            continue
        if not names:
            print(f"  {api}: none (a virtual port can be made: --virtual NAME)")
        for index, name in enumerate(names):
            print(f"  {api} {index:3d}  {name}")


def run(args: argparse.Namespace) -> int:
    """Run ``listener devices``: audio inputs, then MIDI outputs."""
    print("audio inputs (listener listen --device INDEX or a part of its name):")
    print_audio_inputs(args.jack)
    print("MIDI outputs (listener tunes play --port NAME --api API):")
    print_midi_outputs()
    return 0

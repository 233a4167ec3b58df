"""``listener listen``: the engine on a live input, or on a file played as if live."""

from __future__ import annotations

import argparse
import os
import sys

from listener.cli import options, stage
from listener.config import FRAME
from listener.errors import ConfigError


def register(commands) -> None:
    """Add ``listen`` to the command line."""
    p = commands.add_parser(
        "listen",
        help="listen live (sound card, JACK, or a file as if live): genre decisions and tunes",
        description="Listen to a live input or a file: describe it every 23 ms, decide its "
        "genre as it goes (rolling decisions), and answer with folk tunes composed as it "
        "listens, played over MIDI. Prints JSON lines (decision, tune, stats) on standard "
        "output or into --jsonl, flushed one by one; on a terminal, a status line on stderr.",
        epilog="examples:\n"
        "  listener listen --list-devices\n"
        "  listener listen --device 'USB' --virtual listener        # a sound card\n"
        "  listener listen --jack --port fluidsynth --duration 300  # through JACK\n"
        "  listener listen --file song.wav --realtime --compose every:20\n"
        "  listener listen --file song.wav --fast --compose off --jsonl out.jsonl\n"
        "  listener listen --respond --port fluidsynth             # call and response\n"
        "  listener listen --respond --bars 4 --meter 4/4 --key D  # trading fours\n"
        "stats lines: frames, overflows (ring), xruns (PortAudio), latency_ms_p50/p99/max\n"
        "(a frame's last sample arriving -> its decision updated), overruns (frames over the\n"
        "23.2 ms budget); the last one covers the whole run.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("input")
    src.add_argument("--device", help="input index or a part of its name (default input)")
    src.add_argument(
        "--list-devices", action="store_true", help="list inputs and exit (as `listener devices`)"
    )
    src.add_argument("--jack", action="store_true", help="PortAudio's JACK host API")
    src.add_argument("--file", help="an audio file instead of a device")
    pace = src.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="play --file at real speed")
    pace.add_argument("--fast", action="store_true", help="read --file as fast as it goes")
    src.add_argument("--duration", type=float, help="stop after this many seconds of audio")
    src.add_argument(
        "--no-reconnect",
        dest="reconnect",
        action="store_false",
        help="end the run at the first fault of the input (by default a device that fails or "
        "goes quiet, its JACK server killed and started again, is waited for and opened "
        "afresh, the decision, tempo and key kept)",
    )
    options.add_gate(src)
    out = p.add_argument_group("output")
    out.add_argument(
        "--jsonl",
        help="append the JSON lines to this file instead of standard output (never truncated)",
    )
    out.add_argument(
        "--jsonl-max-mb",
        type=float,
        help="rotate --jsonl at this size: the full file becomes FILE.1 (then .2, ...) and a "
        "new FILE begins; nothing is deleted",
    )
    out.add_argument("--stats-every", type=float, default=5.0, help="seconds (default 5)")
    out.add_argument(
        "--notes",
        action="store_true",
        help="also hear the melody: a note line for each note as it ends (pitch, onset, offset)",
    )
    options.add_midi_output(out)
    stage.add_stage_options(p)
    comp = p.add_argument_group("composing")
    comp.add_argument(
        "--composer-thread",
        action="store_true",
        help="compose on a thread of the listener's process, not in a process of its own (live "
        "runs compose in their own process: a composer that dies is started again, and "
        "nothing it does can hold up the analysis)",
    )
    comp.add_argument(
        "--compose", default="on-change", help="off, on-change (default) or every:SECONDS"
    )
    options.add_generation(comp, model_flag="--composer", follow=True)
    comp.add_argument("--tempo", type=float, help="quarter notes per minute (default: heard)")
    comp.add_argument("--model", help="genre model .npz (default: the shipped one)")
    talk = p.add_argument_group(
        "call and response",
        "With --respond the machine answers each phrase the musician plays (a microphone: one "
        "instrument or voice), in the player's key and tempo, starting on a beat; genre "
        "decisions go on but start no tunes. A phrase ends after three quarters of a beat's "
        "rest (a breath does not end it), or --gap seconds; with --bars N it is N bars, its "
        "bar lines read as it is played, and the answer starts on the downbeat after them (a "
        "first phrase whose meter is in doubt ends by rest: --meter settles it). Playing "
        "again stops the answer. --meter and --key fix how phrases "
        "are read when the player knows them. Keep the answer out of the microphone "
        "(headphones, or a monitor away from it): the machine would hear itself.",
    )
    talk.add_argument("--respond", action="store_true", help="answer each phrase played")
    talk.add_argument(
        "--bars",
        type=int,
        help="trading: a phrase is N bars (the reading weighs it), answered on the next downbeat",
    )
    talk.add_argument(
        "--gap", type=float, help="seconds of rest that end a phrase (default: a beat)"
    )
    talk.add_argument("--answer-bars", type=int, help="bars an answer lasts (default: the call's)")
    talk.add_argument("--key", help="the key the musician plays in, when known: D, Dmix, F#min")
    talk.add_argument(
        "--midi-in",
        help="a MIDI controller's output (its name or a unique part): its notes are calls too "
        "(the audio input still runs; --api chooses ALSA or JACK)",
    )
    p.set_defaults(func=run)


def _status_line():
    if not sys.stderr.isatty():
        return None

    def status(line: str) -> None:
        sys.stderr.write("\r" + line[:150].ljust(150))
        sys.stderr.flush()

    return status


def run(args: argparse.Namespace) -> int:
    """Run ``listener listen``; returns the exit status (130 after Ctrl-C)."""
    from listener.audio.device import SoundDeviceSource
    from listener.audio.device_process import DeviceProcess
    from listener.audio.sources import FileSource
    from listener.composer import ComposeSettings
    from listener.engine import Engine
    from listener.events import EventWriter
    from listener.genres.model import GenreModel

    if args.list_devices:
        from listener.cli.devices import print_audio_inputs

        print("audio inputs:")
        print_audio_inputs(args.jack)
        return 0
    if (args.realtime or args.fast) and not args.file:
        raise ConfigError("--realtime and --fast pace a --file; a device is always live")
    if args.file and (args.device or args.jack):
        raise ConfigError("--file replaces the device: not both")
    options.check_midi_output(args)
    shaping = (args.bars, args.gap, args.answer_bars, args.key, args.midi_in)
    if not args.respond and any(x is not None for x in shaping):
        raise ConfigError(
            "--bars, --gap, --answer-bars, --key and --midi-in shape call and response: "
            "add --respond"
        )
    compose = ComposeSettings(
        when="respond" if args.respond else args.compose,
        prime=args.prime,
        meter=args.meter,
        mode=args.mode,
        temperature=args.temperature,
        seed=args.seed,
        tempo=args.tempo,
        constrained=not args.unconstrained,
        key=args.key,
        answer_bars=args.answer_bars,
        play_events=bool(args.osc or args.view),
        clock_in=args.clock_in,
        clock_api=args.api,
    )
    compose.check()  # every setting, before anything opens
    phrases = None
    if args.respond:
        from listener.transcribe.phrases import PhraseTracker

        try:
            phrases = PhraseTracker(gap=args.gap, bars=args.bars)
        except ValueError as exc:
            raise ConfigError(f"--gap/--bars: {exc}") from None
    model = GenreModel.load(args.model) if args.model else GenreModel.load()
    composer = None
    if compose.when != "off":
        from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

        composer = FolkLSTM(args.composer or DEFAULT_FOLK_MODEL)
    if args.jsonl_max_mb is not None and not args.jsonl:
        raise ConfigError("--jsonl-max-mb rotates a --jsonl file: give one")
    try:
        writer = EventWriter(
            args.jsonl,
            max_bytes=None if args.jsonl_max_mb is None else int(args.jsonl_max_mb * 2**20),
        )
    except ValueError as exc:
        raise ConfigError(f"--jsonl-max-mb: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"--jsonl {args.jsonl}: {exc.strerror or exc}") from None
    status = _status_line()
    sink = keys = clock_out = None
    outlets = writer
    try:
        outlets = stage.open_stage(args, writer)
        clock_out = stage.open_clock_out(args)
        if args.respond and args.midi_in:
            from listener.midi.keys import MidiKeys

            keys = MidiKeys.open(args.midi_in, api=args.api)
        live = not (args.file and args.fast)
        # live, the composer works in a process of its own (a file read as fast as it goes
        # waits for it to take each phrase: there it is a thread)
        separate = live and composer is not None and not args.composer_thread
        if (args.port or args.virtual) and separate:  # the composer's process opens it
            from listener.composer_process import SinkSpec

            sink = SinkSpec(args.port, args.virtual, args.api, args.channel - 1, args.program)
        elif args.port or args.virtual:  # MIDI ports before the audio stream
            from listener.midi import MidiSink

            sink = MidiSink.open(
                args.port,
                virtual=args.virtual,
                api=args.api,
                channel=args.channel - 1,
                program=args.program,
            )
        if args.file:
            source = FileSource(args.file, block_size=(256, 1024), realtime=live)
        else:
            if hasattr(os, "eventfd"):  # its stream in a process of its own: see device_process
                source = DeviceProcess(args.device, jack=args.jack)
            else:
                source = SoundDeviceSource(args.device, jack=args.jack)
        # read fast, a file waits on a ring of two frames: latency is the engine's, no queue
        engine = Engine(
            model,
            outlets,
            composer=composer,
            sink=sink,
            compose=compose,
            stats_every=args.stats_every,
            status=status,
            ring_size=2 * FRAME if args.fast else 1 << 17,
            gate_db=args.gate,
            notes=args.notes,
            phrases=phrases,
            keys=keys,
            reconnect=args.reconnect,
            composer_process=separate,
            meters=getattr(outlets, "meter", None),
            meter_rate=args.osc_rate,
            clock_out=clock_out,
        )
        stage.open_controls(args, engine, outlets)
        try:
            final = engine.run(source, duration=args.duration, live=live)
        except KeyboardInterrupt:
            print("\nstopped: audio closed, every note released", file=sys.stderr)
            return 130
    finally:
        if sink is not None:
            if hasattr(sink, "close"):  # (the composer's process closes its own)
                sink.close()  # after the audio stream has stopped
        if outlets is not writer:
            outlets.close()
        if clock_out is not None:
            clock_out.close()
        writer.close()
        if keys is not None:  # last: RtMidi's JACK input may race its own callback as it
            keys.close()  # unregisters the port (docs/design.md); all is written by then
    if status is not None:
        sys.stderr.write("\n")
    print(
        f"{final['frames']} frames; latency p50 {final['latency_ms_p50']:.2f} ms, p99 "
        f"{final['latency_ms_p99']:.2f} ms, max {final['latency_ms_max']:.2f} ms; "
        f"{final['overruns']} over budget, {final['overflows']} overflows, {final['xruns']} xruns"
        + (f"; {writer.lost} events not written" if writer.lost else ""),
        file=sys.stderr,
    )
    return 0

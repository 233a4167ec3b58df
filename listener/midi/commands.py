"""``listener tunes play`` and ``listener devices``: what the command line runs for MIDI out."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from listener.errors import ConfigError
from listener.tunes.abc import Tune

#: Beats of silence between tunes played one after another.
GAP_BEATS = 2


def _shifted(notes, beats: Fraction, semitones: int):
    from listener.tunes.interpret import NoteEvent

    return [NoteEvent(n.pitch + semitones, n.onset + beats, n.duration) for n in notes]


def _sampled(args: argparse.Namespace) -> Iterator[str]:
    from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

    model = FolkLSTM(args.model or DEFAULT_FOLK_MODEL)
    return model.generate(
        args.prime, args.meter, args.mode, args.temperature, args.seed, args.max_tokens
    )


def play(args: argparse.Namespace) -> int:
    """Run ``listener tunes play``; returns the exit status (130 after Ctrl-C)."""
    from listener.midi import MidiScheduler, MidiSink, default_tempo
    from listener.midi.player import play_tokens
    from listener.tunes.corpus import read_tunes
    from listener.tunes.interpret import TuneInterpreter, interpret

    if (args.file is None) == (not args.generate):
        raise ConfigError("give a FILE to play or --generate, one of the two")
    if args.port and args.virtual:
        raise ConfigError("--port plays into an existing MIDI input, --virtual makes one: not both")
    if not 1 <= args.channel <= 16:
        raise ConfigError(f"--channel {args.channel}: MIDI channels are 1..16")
    if args.output and args.output.suffix.lower() not in (".mid", ".midi", ".abc"):
        raise ConfigError(f"{args.output}: write .mid or .abc (the suffix says which)")
    live = bool(args.port or args.virtual or not args.output)
    tokens: Iterator[str] = iter(())
    tunes: list[Tune] = []
    if args.generate:
        tokens = _sampled(args)
        first = next(tokens)  # the meter: it sets the tempo before the first note
        meter = first if first.startswith("M:") else "M:4/4"
        tokens = itertools.chain([first], tokens)
    else:
        tunes = [t for t, _ in read_tunes(args.file)]
        if not tunes:
            raise ConfigError(f"{args.file}: no tune to play")
        meter = tunes[0].meter
    tempo = args.tempo or default_tempo(meter)

    sink = scheduler = None
    if live:
        virtual = args.virtual or (None if args.port else "listener")
        sink = MidiSink.open(args.port, virtual, args.api, args.channel - 1, args.program)
        where = f"MIDI output {args.port!r}" if args.port else f"virtual MIDI port {virtual!r}"
        print(f"playing on {where} at {tempo:g} quarter notes per minute", file=sys.stderr)
        scheduler = MidiScheduler(sink, tempo=tempo, lead=0.2).start()
    sampled: list[str] = []
    notes = []
    try:
        if args.generate:
            source = _recording(tokens, sampled)
            if scheduler is not None:
                player = play_tokens(source, scheduler, TuneInterpreter())
            else:
                player = TuneInterpreter()
                for token in source:
                    notes += player.process(token)
                notes += player.flush()
            tune, _ = Tune.from_sampled(sampled)
            tunes = [tune.cleaned()[0]]
            if scheduler is not None and args.output:  # the notes played, for the file
                notes = interpret(tune.tokens())
            if player.warnings:
                print(f"interpreter: {dict(player.warnings)}", file=sys.stderr)
        else:
            start = Fraction(0)
            for tune in tunes:
                part = _shifted(interpret(tune.tokens()), start, tune.offset)
                notes += part
                start = max([n.end for n in part], default=start) + GAP_BEATS
            if scheduler is not None:
                scheduler.feed(notes)
                scheduler.close()
        if scheduler is not None:
            scheduler.wait()
            if scheduler.error is not None:
                raise scheduler.error
    except KeyboardInterrupt:
        if scheduler is not None:
            scheduler.stop()
        print("stopped: every note released, all notes off sent", file=sys.stderr)
        return 130
    finally:
        if sink is not None:
            sink.close()
    if scheduler is not None:
        late = scheduler.lateness_ms()
        print(
            f"played {late['count'] // 2} notes; sent late against the clock by "
            f"p50 {late['p50']:.3f} ms, p99 {late['p99']:.3f} ms, max {late['max']:.3f} ms",
            file=sys.stderr,
        )
    if args.output:
        _write(args.output, tunes, notes, tempo, args)
    if args.generate:
        print(tunes[0].abc(1, f"listener seed {args.seed}"), end="")
    return 0


def _recording(tokens: Iterator[str], into: list[str]) -> Iterator[str]:
    for token in tokens:
        into.append(token)
        yield token


def _write(path: Path, tunes: list[Tune], notes, tempo: float, args) -> None:
    from listener.midi import write_midi

    if path.suffix.lower() == ".abc":
        try:
            path.write_text("\n".join(t.abc(i + 1) for i, t in enumerate(tunes)))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write ({exc.strerror})") from exc
    else:
        write_midi(notes, path, tempo, tunes[0].meter, args.program, args.channel - 1)
    print(f"wrote {path}", file=sys.stderr)


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


def devices(args: argparse.Namespace) -> int:
    """Run ``listener devices``: audio inputs, then MIDI outputs, with indices and host APIs."""
    print("audio inputs (listener listen --device INDEX or a part of its name):")
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        print(
            f"  none: sounddevice/PortAudio is not available ({exc}); "
            "pip install sounddevice, apt-get install libportaudio2"
        )
    else:
        apis = sd.query_hostapis()
        found = False
        for index, device in enumerate(sd.query_devices()):
            if device["max_input_channels"] > 0:
                found = True
                api = apis[device["hostapi"]]["name"]
                print(
                    f"  {index:3d}  {device['name']}  ({api}, {device['max_input_channels']} "
                    f"channels, {device['default_samplerate']:g} Hz)"
                )
        if not found:
            print("  none")
    from listener.midi.sink import output_names

    print("MIDI outputs (listener tunes play --port NAME --api API):")
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
    return 0

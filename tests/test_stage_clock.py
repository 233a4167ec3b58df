"""MIDI clock in, from Debian's jack_midi_clock on the dummy JACK server."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from listener.stage.clock import CLOCK, CONTINUE, PULSES_PER_QUARTER, START, STOP, ClockIn
from tests.harness import need_module, need_program, wait_until
from tests.harness.jack import dummy_jack


def test_tempo_and_transport_from_timed_pulses():
    clock = ClockIn()
    assert clock.tempo is None
    clock.take([START], 0.0)
    at = 0.0
    for _ in range(2 * PULSES_PER_QUARTER):  # two quarter notes at 120
        at += 0.5 / PULSES_PER_QUARTER
        clock.take([CLOCK], at)
    # the first pulse after Start is the downbeat, beat 0
    assert clock.tempo == pytest.approx(120.0) and clock.beat == 47 / 24 and clock.running
    clock.take([STOP], at)
    for _ in range(PULSES_PER_QUARTER):  # a step to 90, heard while stopped
        at += (60.0 / 90.0) / PULSES_PER_QUARTER
        clock.take([CLOCK], at)
    assert clock.tempo == pytest.approx(90.0) and clock.beat == 47 / 24 and not clock.running
    clock.take([CONTINUE], at)
    clock.take([CLOCK], at + 0.03)
    assert clock.running and clock.pulses == 48


def test_jack_midi_clock_at_120_is_heard_within_half_a_beat_a_minute():
    program = need_program("jack_midi_clock", "jack-midi-clock")
    need_program("jackd", "jackd2")
    jack = need_module("jack")
    with dummy_jack(rate=48000, period=256):
        source = subprocess.Popen(
            [program, "-b", "120", "-B"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        transport = jack.Client("harness-transport", no_start_server=True)
        clock = None
        try:
            wait_until(lambda: transport.get_ports("jack_midi_clock", is_midi=True), 10, "its port")
            clock = ClockIn.open("jack_midi_clock", api="jack")
            transport.transport_start()  # the clock runs while JACK's transport rolls
            wait_until(lambda: clock.running, 10, "Start from jack_midi_clock")
            wait_until(lambda: clock.pulses >= 48, 10, "48 pulses")
            tempo = clock.tempo
            transport.transport_stop()
            wait_until(lambda: not clock.running, 10, "Stop")
        finally:
            if clock is not None:
                clock.close()
            transport.close()
            source.terminate()
            source.wait(5)
    assert tempo == pytest.approx(120.0, abs=0.5)


def test_a_step_from_120_to_90_is_followed_within_a_bar():
    from tests.harness.jack import TimebaseMaster

    program = need_program("jack_midi_clock", "jack-midi-clock")
    need_program("jackd", "jackd2")
    need_module("jack")
    with dummy_jack(rate=48000, period=256):
        master = TimebaseMaster(120.0)
        source = subprocess.Popen([program], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clock = None
        try:
            wait_until(
                lambda: master.client.get_ports("jack_midi_clock", is_midi=True), 10, "its port"
            )
            clock = ClockIn.open("jack_midi_clock", api="jack")
            master.client.transport_start()
            wait_until(lambda: clock.pulses >= 48, 10, "48 pulses at 120")
            before = clock.tempo
            master.bpm = 90.0
            stepped = clock.pulses
            # within one bar (4 quarter notes) of the step, the tempo is the new one
            wait_until(lambda: clock.pulses >= stepped + 4 * PULSES_PER_QUARTER, 10, "a bar at 90")
            after = clock.tempo
            master.client.transport_stop()
        finally:
            if clock is not None:
                clock.close()
            master.close()
            source.terminate()
            source.wait(5)
    assert before == pytest.approx(120.0, abs=0.5)
    assert after == pytest.approx(90.0, abs=0.5)


def test_the_composers_notes_fall_on_the_clocks_beats():
    # the composer follows jack_midi_clock at 120: each note-on the synthesiser gets is where
    # the clock's pulses put its beat, within a JACK period
    from listener.composer import Composer, ComposeSettings
    from listener.midi import MidiSink
    from listener.tunes.lstm import FolkLSTM
    from tests.harness.midi import Receiver

    program = need_program("jack_midi_clock", "jack-midi-clock")
    need_program("jackd", "jackd2")
    jack = need_module("jack")
    period = 256
    events = []
    with dummy_jack(rate=48000, period=period):
        receiver = Receiver(timing=True)
        source = subprocess.Popen(
            [program, "-b", "120", "-B"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        transport = jack.Client("harness-transport", no_start_server=True)
        composer = sink = None
        try:
            wait_until(lambda: transport.get_ports("jack_midi_clock", is_midi=True), 10, "its port")
            clock_port = transport.get_ports("jack_midi_clock", is_midi=True)[0]

            def connected() -> bool:  # (once jack_midi_clock has activated its client)
                try:
                    transport.connect(clock_port, "harness:sink")
                except jack.JackError:
                    return False
                return True

            wait_until(connected, 10, "jack_midi_clock connected to the receiver")
            sink = MidiSink.open("harness:sink", api="jack")
            settings = ComposeSettings(
                "every:1000",
                seed=2,
                clock_in="jack_midi_clock",
                clock_api="jack",
                play_events=True,
            )
            composer = Composer(FolkLSTM(), events.append, sink=sink, settings=settings)
            composer.start()
            transport.transport_start()
            composer.request(0.0, "test", None)
            wait_until(lambda: len(receiver.notes_on()) >= 32, 30, "32 notes on the clock")
        finally:
            if composer is not None:
                composer.stop()
            if sink is not None:
                sink.close()
            transport.transport_stop()
            transport.close()
            source.terminate()
            source.wait(5)
            forgiven = receiver.forgiven()
            receiver.close()
    start = next(i for i, (_, m) in enumerate(receiver.messages) if m.type == "start")
    pulses = [t for t, m in receiver.messages[start:] if m.type == "clock"]
    notes = [t for t, m in receiver.messages[start:] if m.type == "note_on" and m.velocity]
    first = next(e for e in events if e.get("event") == "start")
    beats = [e["beat"] for e in events if e["type"] == "play" and e["on"]][: len(notes)]
    assert forgiven == 0, "the dummy server lost MIDI in xruns: the grid cannot be judged"
    errors = [
        t - pulses[round((first["clock_beat"] + beat) * 24)]
        for t, beat in zip(notes, beats, strict=True)
    ]
    print(
        f"notes against the clock's grid: {len(errors)} notes, ms",
        np.round(np.array(errors) * 1e3, 2),
    )
    assert max(abs(e) for e in errors) <= period / 48000, errors

"""MIDI clock in, from Debian's jack_midi_clock on the dummy JACK server."""

from __future__ import annotations

import subprocess

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
    assert clock.tempo == pytest.approx(120.0) and clock.beat == 2.0 and clock.running
    clock.take([STOP], at)
    for _ in range(PULSES_PER_QUARTER):  # a step to 90, heard while stopped
        at += (60.0 / 90.0) / PULSES_PER_QUARTER
        clock.take([CLOCK], at)
    assert clock.tempo == pytest.approx(90.0) and clock.beat == 2.0 and not clock.running
    clock.take([CONTINUE], at)
    clock.take([CLOCK], at + 0.03)
    assert clock.running and clock.pulses == 49


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

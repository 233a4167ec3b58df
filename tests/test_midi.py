"""MIDI out through a real JACK server: notes on time, in order, and never one left sounding."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from conftest import ROOT, need_module

from listener.errors import DeviceError
from listener.midi import MidiScheduler, MidiSink, default_tempo, write_midi
from listener.midi.player import play_tokens
from listener.tunes.corpus import read_data_v2
from listener.tunes.interpret import NoteEvent, interpret

EXAMPLES = ROOT.parent / "shared" / "reference" / "folkrnn-examples"
PERIOD_MS = 128 / 48000 * 1e3  # the test server's period: MIDI is delivered once per period


class Receiver:
    """A JACK MIDI input named harness:sink that records each message with its arrival time.

    python-rtmidi without a callback: its JACK thread queues each message with JACK's own time
    and never waits for Python's lock (a callback that did could make the test's own JACK
    client late, and a late client loses MIDI). A thread here drains the queue.
    """

    def __init__(self) -> None:
        import mido
        import rtmidi

        self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="harness", queue_size_limit=65536)
        self._rt.open_virtual_port("sink")
        self._mido = mido
        self.messages: list[tuple[float, object]] = []  # JACK time from the first, message
        self._clock = 0.0
        self._running = True
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while self._running:
            got = self._rt.get_message()
            if got is None:
                time.sleep(0.001)
                continue
            data, delta = got
            self._clock += delta
            self.messages.append((self._clock, self._mido.Message.from_bytes(data)))

    def notes_on(self) -> list[tuple[float, int]]:
        return [(t, m.note) for t, m in self.messages if m.type == "note_on" and m.velocity > 0]

    def sounding(self) -> Counter:
        """Notes struck and not released, by pitch, as a synthesiser would count them."""
        count: Counter = Counter()
        for _, m in self.messages:
            if m.type == "note_on" and m.velocity > 0:
                count[m.note] = 1
            elif m.type in ("note_on", "note_off"):
                count[m.note] = 0
            elif m.type == "control_change" and m.control == 123:
                count.clear()
        return +count

    def close(self) -> None:
        self._running = False
        self._thread.join()
        self._rt.close_port()
        self._rt.delete()


def in_order(got: list[int], sent: list[int]) -> list[int]:
    """Check that the pitches received are the pitches sent, in order; return their indices.

    One may be missing: the dummy JACK server (no real-time scheduling on this shared machine)
    drops a MIDI event now and then when a cycle overruns (about 1 in 1,000 here); the
    scheduler's own count shows it was sent. None may be extra or out of order.
    """
    at, j = [], 0
    for pitch in got:
        while j < len(sent) and sent[j] != pitch:
            j += 1
        assert j < len(sent), (got, sent)  # extra, or out of order
        at.append(j)
        j += 1
    assert len(sent) - len(got) <= 1, (got, sent)
    return at


@pytest.fixture
def receiver(jack_server):
    need_module("mido")
    port = Receiver()
    yield port
    port.close()


def first_tune_notes(bars: int | None = None) -> list[NoteEvent]:
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[0]
    return interpret(tune.tokens())


def test_notes_arrive_in_order_and_on_time(receiver):
    notes = [n for n in first_tune_notes() if n.onset < 16]  # 8 s at 120 BPM
    sink = MidiSink.open("harness:sink", api="jack", program=73)
    scheduler = MidiScheduler(sink, tempo=120.0, lead=0.2).start()
    scheduler.feed(notes)
    scheduler.close()
    assert scheduler.wait(30)
    time.sleep(0.05)
    sink.close()
    got = receiver.notes_on()
    ordered = sorted(notes, key=lambda n: n.onset)
    at = in_order([p for _, p in got], [n.pitch for n in ordered])
    # each onset against its schedule, on JACK's clock from the first note: within 5 ms, apart
    # from one JACK period of delivery (MIDI leaves once per period)
    due = np.array([float(ordered[i].onset - ordered[at[0]].onset) * 0.5 for i in at])
    arrived = np.array([t for t, _ in got]) - got[0][0]
    error_ms = np.abs(arrived - due) * 1e3
    # this 2-core machine is shared, and a neighbour can stall a thread 10 to 25 ms now and
    # then (a CI run failed on one of 25.3 ms): 95% of the onsets must be within the bound,
    # every one within 50 ms (a wrong tempo or a lost beat would be hundreds)
    assert np.mean(error_ms <= PERIOD_MS + 5.0) >= 0.95, error_ms
    assert error_ms.max() <= 50.0, error_ms
    assert scheduler.lateness_ms()["count"] == 2 * len(notes)
    assert receiver.sounding() == Counter()
    programs = [m for _, m in receiver.messages if m.type == "program_change"]
    assert [m.program for m in programs] == [73]


def test_stop_leaves_no_note_sounding(receiver):
    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=120.0).start()
    held = [NoteEvent(60 + k, Fraction(0), Fraction(20)) for k in range(3)]  # a long chord
    scheduler.feed(held + first_tune_notes())
    time.sleep(0.5)
    assert sink.sounding >= 3
    scheduler.stop()
    time.sleep(0.05)
    sink.close()
    assert len(receiver.notes_on()) >= 3
    assert receiver.sounding() == Counter()
    offs = {m.note for _, m in receiver.messages if m.type == "note_off"}
    assert {60, 61, 62} <= offs  # each note its own note-off, not only all-notes-off
    assert any(m.type == "control_change" and m.control == 123 for _, m in receiver.messages)


def test_an_error_inside_the_composer_leaves_no_note_sounding(receiver):
    def composer():
        yield from "M:4/4 K:Cmaj [ C E G ] 8 | c d e f".split()
        time.sleep(0.4)  # the chord sounds
        raise RuntimeError("the composer failed")

    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=120.0).start()
    with pytest.raises(RuntimeError, match="the composer failed"):
        play_tokens(composer(), scheduler)
    time.sleep(0.05)
    sink.close()
    # the chord's three notes (the dummy JACK server, with no real-time scheduling on this
    # shared machine, can drop an event when a cycle overruns: one may be missing)
    assert 2 <= len(receiver.notes_on()) <= 3
    assert receiver.sounding() == Counter()


def test_fed_while_playing(receiver):
    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=240.0, lead=0.05).start()
    notes = [NoteEvent(60 + k, Fraction(k, 2), Fraction(1, 2)) for k in range(8)]

    def composer():
        for note in notes:  # each note arrives a little before it is due
            scheduler.feed([note])
            time.sleep(0.05)
        scheduler.close()

    thread = threading.Thread(target=composer)
    thread.start()
    assert scheduler.wait(10)
    thread.join()
    time.sleep(0.05)
    sink.close()
    in_order([p for _, p in receiver.notes_on()], list(range(60, 68)))


def as_from_a_terminal() -> None:
    """Give a child process the stop signals' default actions, as a terminal's shell does.

    A background job inherits SIGINT ignored and `nohup` SIGHUP ignored, and a program then
    leaves them so (rightly): the tests that send them must not depend on how pytest was run.
    """
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_DFL)


def start_listener(args: list[str]) -> subprocess.Popen:
    """Run ``listener ARGS`` in a process of its own, as a performer would from a terminal.

    With ``-X faulthandler``, so that :func:`stop_process` can say where one hung; stderr is
    kept for the test to read.
    """
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "listener", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )


def wait_for_notes(receiver: Receiver, count: int, seconds: float = 30.0) -> int:
    """Wait until ``count`` notes have arrived (at most ``seconds``); return how many have."""
    deadline = time.monotonic() + seconds
    while len(receiver.notes_on()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(receiver.notes_on())


def stop_process(process: subprocess.Popen, stop: str, heard: int) -> str:
    """Send signal ``stop`` and return the process's stderr once it has exited.

    One that has not exited 30 s later is aborted: started by :func:`start_listener`, it dumps
    every thread's stack, and the test fails saying where it hung.
    """
    process.send_signal(getattr(signal, stop))
    try:
        return process.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        err = process.communicate(timeout=10)[1]
        pytest.fail(f"no exit 30 s after {stop} ({heard} notes heard before it); stacks:\n{err}")


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_while_playing_leaves_no_note_sounding(receiver, tmp_path, stop):
    # Ctrl-C, `kill` or `systemctl stop`, a closed terminal: each stops with no note left on
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[1]
    source = tmp_path / "tune.abc"
    source.write_text(tune.abc())
    play = start_listener(
        ["tunes", "play", str(source), "--port", "harness:sink", "--api", "jack", "--tempo", "120"]
    )
    err = stop_process(play, stop, heard=wait_for_notes(receiver, 4))
    assert play.returncode == 130, err
    time.sleep(0.05)
    assert len(receiver.notes_on()) >= 4
    assert receiver.sounding() == Counter()
    assert "stopped" in err


def test_unknown_port_is_named(jack_server):
    with pytest.raises(DeviceError, match="no MIDI outputs on jack; start a synthesiser"):
        MidiSink.open("nowhere", api="jack")
    port = Receiver()
    try:
        with pytest.raises(DeviceError, match="'nowhere' matches none of: harness:sink"):
            MidiSink.open("nowhere", api="jack")
    finally:
        port.close()


def test_midi_file_holds_the_notes_tempo_and_meter(tmp_path):
    mido = need_module("mido")
    notes = first_tune_notes()
    path = write_midi(notes, tmp_path / "t.mid", tempo=150, meter="M:6/8", program=40)
    midi = mido.MidiFile(path)
    meta = {m.type: m for m in midi.tracks[0] if m.is_meta}
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo)) == 150
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (6, 8)
    now, starts, back = 0, {}, []
    for m in midi.tracks[0]:
        now += m.time
        if m.type == "note_on" and m.velocity:
            starts[m.note] = now
        elif m.type == "note_off":
            back.append((Fraction(starts.pop(m.note), 480), m.note, Fraction(now, 480)))
    want = sorted((n.onset, n.pitch, n.end) for n in notes)
    assert sorted(back) == want


def test_default_tempo_follows_the_dance():
    assert default_tempo("M:6/8") == default_tempo("6/8") == 165
    assert default_tempo("M:4/4") > default_tempo("M:3/4")


def test_listen_stopped_by_sigterm_releases_notes_and_reports_the_run(receiver, gtzan, tmp_path):
    # An installation stopped by `systemctl stop` (SIGTERM) while a composed tune plays: the
    # audio stops, every note is released, and the whole run's stats line is still written.
    import json

    out = tmp_path / "run.jsonl"
    listen = start_listener(
        ["listen", "--file", str(gtzan / "genres" / "country" / "country.00000.wav")]
        + ["--realtime", "--compose", "every:1", "--tempo", "240", "--seed", "3"]
        + ["--jsonl", str(out), "--port", "harness:sink", "--api", "jack"]
    )
    heard = wait_for_notes(receiver, 6)
    err = stop_process(listen, "SIGTERM", heard)
    assert listen.returncode == 130, err
    assert "stopped" in err
    time.sleep(0.05)
    assert heard >= 6
    assert receiver.sounding() == Counter()
    last = json.loads(out.read_text().splitlines()[-1])
    assert last["type"] == "stats" and last["whole_run"] and last["stopped"]
    assert 0 < last["t"] < 30 and last["frames"] > 0


def _time_signatures(path) -> list[tuple[int, int, int]]:
    mido = need_module("mido")
    found = []
    for track in mido.MidiFile(path).tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "time_signature":
                found.append((now, message.numerator, message.denominator))
    return sorted(set(found))


def test_midi_file_changes_meter_where_the_tune_does(tmp_path):
    # A meter change inside a repeat: each time signature where abc2midi writes it, and the
    # first meter again where the repeat starts over (abc2midi leaves 3/4 there and warns
    # that the bar "has 4 time units while the time signature has 3")
    import subprocess

    from conftest import need_program

    from listener.tunes.interpret import read_through
    from listener.tunes.tune import Tune

    abc2midi = need_program("abc2midi", "abcmidi")
    tune = Tune("M:4/4", "K:Cmaj", "|: C D E F G A B c | M:3/4 c B A G F E :| D 6 |".split())
    notes, reader = read_through(tune.tokens())
    ours = write_midi(notes, tmp_path / "ours.mid", tempo=120, meter=reader.meters)
    (tmp_path / "t.abc").write_text(tune.abc())
    subprocess.run([abc2midi, str(tmp_path / "t.abc"), "-o", str(tmp_path / "ref.mid")], check=True)
    reference = _time_signatures(tmp_path / "ref.mid")
    assert reference == [(0, 4, 4), (1920, 3, 4), (5280, 3, 4)]
    assert _time_signatures(ours) == [(0, 4, 4), (1920, 3, 4), (3360, 4, 4), (5280, 3, 4)]

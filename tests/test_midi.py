"""MIDI out through a real JACK server: notes on time, in order, and never one left sounding."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from listener.errors import DeviceError
from listener.midi import MidiScheduler, MidiSink, default_tempo, write_midi
from listener.midi.player import play_tokens
from listener.tunes.corpus import read_data_v2
from listener.tunes.interpret import interpret
from listener.tunes.notes import NoteEvent
from tests.harness import EXAMPLES, need_module, need_program, wait_until
from tests.harness.midi import (
    Receiver,
    assert_every_note_released,
    in_order,
    wait_for_delivery,
)
from tests.harness.processes import start_listener, stop_process, wait_for_notes, wait_for_quiet

PERIOD_MS = 128 / 48000 * 1e3  # the test server's period: MIDI is delivered once per period


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
    sink.close()
    wait_for_delivery(receiver, sink.sent)
    got = receiver.notes_on()
    ordered = sorted(notes, key=lambda n: n.onset)
    at = in_order([p for _, p in got], [n.pitch for n in ordered], forgiven=receiver.forgiven())
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
    assert_every_note_released(receiver, sink.sent)
    programs = [m for _, m in receiver.messages if m.type == "program_change"]
    assert [m.program for m in programs] == [73]


def test_notes_sound_in_the_tuning_asked_for_after_every_reset(receiver):
    # an answer in tune with a player 30 cents sharp: a pitch bend of 0.3 semitones on a range
    # of two (RPN 0 set with it), before the first note; a release resets the controllers,
    # so the next note bends again
    sink = MidiSink.open("harness:sink", api="jack")
    sink.tune(0.3)
    sink.note_on(69)
    sink.note_off(69)
    sink.release_all()
    sink.note_on(69)
    sink.note_off(69)
    sink.close()
    wait_for_delivery(receiver, sink.sent)
    kinds = [m for _, m in receiver.messages if m.type != "control_change" or m.control < 120]
    bend = [
        ("control_change", 101, 0),
        ("control_change", 100, 0),
        ("control_change", 6, 2),
        ("control_change", 38, 0),
        ("control_change", 101, 127),
        ("control_change", 100, 127),
        ("pitchwheel", round(0.3 / 2 * 8192)),
    ]

    def said(m):
        if m.type == "control_change":
            return (m.type, m.control, m.value)
        return (m.type, m.pitch) if m.type == "pitchwheel" else (m.type, m.note)

    assert [said(m) for m in kinds] == 2 * [*bend, ("note_on", 69), ("note_off", 69)]


def test_stop_leaves_no_note_sounding(receiver):
    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=120.0).start()
    held = [NoteEvent(60 + k, Fraction(0), Fraction(20)) for k in range(3)]  # a long chord
    scheduler.feed(held + first_tune_notes())
    wait_until(lambda: len(receiver.notes_on()) >= 4, 10, "the chord and a note to sound")
    assert sink.sounding >= 3
    scheduler.stop()
    sink.close()
    wait_for_delivery(receiver, sink.sent)
    assert_every_note_released(receiver, sink.sent)
    offs = {m.note for _, m in receiver.messages if m.type == "note_off"}
    assert {60, 61, 62} <= offs  # each note its own note-off
    # then mido's reset: all notes off and controllers reset on every channel
    resets = [m for _, m in receiver.messages if m.type == "control_change"]
    assert sorted({(m.channel, m.control) for m in resets}) == [
        (c, k) for c in range(16) for k in (121, 123)
    ]


def test_an_error_inside_the_composer_leaves_no_note_sounding(receiver):
    def composer():
        yield from "M:4/4 K:Cmaj [ C E G ] 8 | c d e f".split()
        wait_until(lambda: len(receiver.notes_on()) >= 2, 10, "the chord to sound")
        raise RuntimeError("the composer failed")

    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=120.0).start()
    with pytest.raises(RuntimeError, match="the composer failed"):
        play_tokens(composer(), scheduler)
    sink.close()
    wait_for_delivery(receiver, sink.sent)
    # the chord's three notes (but for what an xrun lost), each released
    assert 3 - receiver.forgiven() <= len(receiver.notes_on()) <= 3
    assert_every_note_released(receiver, sink.sent)


def test_fed_while_playing(receiver):
    sink = MidiSink.open("harness:sink", api="jack")
    scheduler = MidiScheduler(sink, tempo=240.0, lead=0.05).start()
    notes = [NoteEvent(60 + k, Fraction(k, 2), Fraction(1, 2)) for k in range(8)]

    def composer():
        for note in notes:  # each note arrives once the one before has sounded
            scheduler.feed([note])
            # a note the server lost in an xrun never sounds: wait a second for it, no more
            # (what was lost is then forgiven), and for each later one by its own pitch
            deadline = time.monotonic() + 1
            while note.pitch not in [p for _, p in receiver.notes_on()]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
        scheduler.close()

    thread = threading.Thread(target=composer)
    thread.start()
    assert scheduler.wait(10)
    thread.join()
    sink.close()
    wait_for_delivery(receiver, sink.sent)
    in_order([p for _, p in receiver.notes_on()], list(range(60, 68)), forgiven=receiver.forgiven())
    assert_every_note_released(receiver, sink.sent)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_ctrl_c_while_playing_leaves_no_note_sounding(receiver, tmp_path, stop):
    # Ctrl-C, `kill` or `systemctl stop`, a closed terminal, Ctrl-\ (SIGQUIT): each stops
    # with no note left on
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[1]
    source = tmp_path / "tune.abc"
    source.write_text(tune.abc())
    play = start_listener(
        ["tunes", "play", str(source), "--port", "harness:sink", "--api", "jack", "--tempo", "120"]
    )
    err = stop_process(play, stop, heard=wait_for_notes(receiver, 4))
    assert play.returncode == 130, err
    wait_for_quiet(receiver)
    assert len(receiver.notes_on()) >= 4
    assert_every_note_released(receiver)
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
    wait_for_quiet(receiver)
    assert heard >= 6
    assert_every_note_released(receiver)
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


def test_a_dead_port_does_not_stop_the_release(receiver):
    # the synthesiser quits while notes sound: they are written off, nothing raises
    sink = MidiSink.open("harness:sink", api="jack")
    sink.note_on(60)
    sink.note_on(64)
    wait_until(lambda: len(receiver.notes_on()) == 2, 5, "two notes")
    sink.port.close()
    failed = sink.release_all()
    assert failed is not None and sink.error is failed
    assert sink.sounding == 0
    sink.close()  # a second time, on a closed port: still no error raised


def test_the_scheduler_reports_a_port_that_fails(receiver):
    sink = MidiSink.open("harness:sink", api="jack")
    sink.note_on(60)  # the connection made (rtmidi can crash closing one being made)
    wait_until(lambda: receiver.notes_on(), 5, "the first note")
    sink.note_off(60)
    sink.port.close()  # closed before the scheduler's first note: its sends fail
    scheduler = MidiScheduler(sink, tempo=240.0, lead=0.05).start()
    scheduler.feed([NoteEvent(60 + k, Fraction(k, 2), Fraction(1, 2)) for k in range(4)])
    scheduler.close()
    assert scheduler.wait(10)
    assert isinstance(scheduler.error, DeviceError) and "is closed" in str(scheduler.error)
    assert sink.sounding == 0 and len(receiver.notes_on()) == 1

"""Call and response: phrases end where a musician's do, and the answer comes on the beat."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from listener.answer import LATEST_BEATS, SEND_SECONDS, WORK_SECONDS, answer_beat, plan_answer
from listener.config import SAMPLE_RATE
from listener.transcribe import Note
from listener.transcribe.evaluate import perform
from listener.transcribe.phrases import LEAD, MIN_NOTES, READ_AHEAD, PhraseTracker
from listener.transcribe.profiles import DEFAULT_PROFILES, MelodyProfiles
from listener.transcribe.tokens import read_notes
from listener.tunes.corpus import read_data_v2
from listener.tunes.interpret import TuneInterpreter
from tests.harness import EXAMPLES, need_module
from tests.harness.midi import Receiver, assert_every_note_released, wait_for_delivery


def eighths(count: int, *, start: float = 0.0, eighth: float = 0.2, breath: float = 0.02):
    """Running eighths (a D major scale walk), each ending ``breath`` before the next."""
    return [
        Note(start + i * eighth, start + (i + 1) * eighth - breath, 62 + (i * 2) % 12, 1.0)
        for i in range(count)
    ]


def test_a_breath_does_not_end_a_phrase_and_a_rest_does():
    tracker = PhraseTracker()
    notes = eighths(8, breath=0.12)  # 120 ms breaths; a dotted eighth's rest (0.3 s) ends it
    for note in notes:
        tracker.add([note])
        assert tracker.check(note.offset + 0.12, sounding=False) is None
    last = notes[-1].offset
    assert tracker.check(last + 0.29, sounding=False) is None
    assert tracker.check(last + 0.31, sounding=False, last_sound=last + 0.1) is None  # a sound
    call = tracker.check(last + 0.31, sounding=False)
    assert call is not None and call.notes == notes and call.downbeat is None
    assert tracker.notes == []


def test_a_phrase_is_offered_to_be_read_ahead_part_way_through_its_rest():
    tracker = PhraseTracker()
    notes = eighths(8)  # a dotted eighth's rest (0.3 s) ends it: offered after a share of it
    offer = READ_AHEAD * 0.3
    tracker.add(notes[:4])
    early = notes[3].offset + offer + 0.01
    assert tracker.ahead(early, sounding=True) is None  # a note sounds
    offered = tracker.ahead(early, sounding=False)
    assert offered is not None and offered.notes == notes[:4]
    assert tracker.ahead(early + 0.01, sounding=False) is None  # once for those notes
    tracker.add(notes[4:])  # the player went on: that reading is of no use
    last = notes[-1].offset
    assert tracker.ahead(last + offer - 0.01, sounding=False) is None
    assert tracker.ahead(last + offer + 0.01, sounding=False).notes == notes
    call = tracker.check(last + 0.31, sounding=False)
    assert call.notes == notes and call.ahead == pytest.approx(last + offer + 0.01)
    tracker.add(notes)  # a phrase never offered says so
    assert tracker.check(last + 10.0, sounding=False).ahead is None


def test_once_a_reading_says_the_beat_three_quarters_of_it_ends_the_phrase():
    tracker = PhraseTracker()
    quarters = eighths(8, eighth=0.4)  # a waltz's quarter notes: its running notes' rest is 0.6 s
    tracker.add(quarters)
    last = quarters[-1].offset
    offered = last + READ_AHEAD * 0.6 + 0.01
    assert tracker.ahead(offered, sounding=False) is not None  # part way through it
    tracker.keep_beat(0.4, known_at=last + 0.36)  # the reading: quarter beats, later
    assert tracker.check(last + 0.35, sounding=False) is None  # not known yet
    call = tracker.check(last + 0.36, sounding=False)
    assert call is not None and call.ahead == pytest.approx(offered)
    # a beat never lengthens the rest: eighths at 0.2 s still end after 0.3 s
    tracker.keep_beat(0.8, known_at=0.0)
    running = eighths(8, start=10.0)
    tracker.add(running)
    assert tracker.check(running[-1].offset + 0.31, sounding=False).notes == running
    with pytest.raises(ValueError, match="above 0"):
        tracker.keep_beat(0.0, known_at=0.0)


def test_a_waltz_in_quarter_notes_is_answered_within_two_beats():
    # a folk-rnn waltz's first phrase, mostly quarter notes: its running notes' rest is a beat
    # and a half; read ahead, the tracker knows the beat and ends the phrase three quarters of
    # a beat after the last note, so that the answer starts on the beat after it
    from listener.conversation import Conversation
    from listener.transcribe.notes import hear
    from listener.transcribe.phrases import REST_BEATS
    from listener.transcribe.tokens import warm_up

    profiles = MelodyProfiles.load(DEFAULT_PROFILES)
    warm_up(profiles)  # compiled: the reading takes its usual tens of milliseconds
    tune = read_data_v2(EXAMPLES / "folkrnn-v2-generated-64-tunes.txt")[21]
    performance = perform(tune, seed=1, voice="flute", synth="builtin", humanised=True)
    start, end, _ = performance.phrases[0]
    audio = np.concatenate(
        [
            performance.samples[int(start * SAMPLE_RATE) : int((end - 0.05) * SAMPLE_RATE)],
            np.zeros(2 * SAMPLE_RATE, dtype=np.float32),
        ]
    )
    quarter = 60.0 / performance.tempo

    def answer(told: bool) -> tuple[float, float]:
        # quarter notes from the last note-off to the phrase's end and to the answer
        tracker = PhraseTracker()
        conversation = Conversation(profiles=profiles, phrases=tracker if told else None)
        read_ahead = lambda call, now: conversation.read_ahead(call, clock=lambda: now + 0.05)  # noqa: E731
        (call,) = hear(audio, phrases=tracker, read_ahead=read_ahead)[1]
        reading = read_notes(call.notes, profiles)
        assert reading.meter == "M:3/4"
        plan = plan_answer(reading, now=call.ended, read_at=call.ahead + 0.05)
        last = call.notes[-1].offset
        return (call.ended - last) / quarter, (plan.start - last) / quarter

    ended, start = answer(told=True)
    assert ended < REST_BEATS + 0.15 and start <= 2.0
    ended, start = answer(told=False)  # the tracker never told: a beat and a half's rest
    assert ended > 1.0 and start > 2.0


def test_the_reader_is_compiled_before_the_audio_starts():
    # compiling the reader (the first time on a machine) holds the interpreter's lock for long
    # stretches: a composer that answers does it as it starts, before the engine's audio
    # starts, not on its own thread while the analysis runs
    from listener.composer import Composer, ComposeSettings
    from listener.tunes.lstm import FolkLSTM

    composer = Composer(FolkLSTM(), [].append, settings=ComposeSettings(when="respond"))
    composer.start()
    try:
        assert composer.conversation.profiles is not None
    finally:
        composer.stop()


def test_a_stray_sound_is_no_phrase_and_a_held_note_holds_it():
    tracker = PhraseTracker(gap=0.5)
    tracker.add(eighths(MIN_NOTES - 1))
    assert tracker.check(10.0, sounding=False) is None and tracker.notes == []
    tracker.add(eighths(6, start=20.0))
    assert tracker.check(30.0, sounding=True) is None  # a long note sounds: not over
    assert tracker.check(30.0, sounding=False) is not None


def test_trading_hands_the_phrase_over_before_its_last_bar_line():
    tracker = PhraseTracker(bars=2)
    tracker.keep_time(bar_line=0.0, bar_seconds=1.6)  # 4/4 at 150: bars of eight eighths
    notes = eighths(20, start=3.2)  # from the bar line at 3.2, without a rest
    tracker.add(notes[:15])  # ended by 6.25; the 16th (6.2 to 6.38) still sounds
    sounding = notes[15]._replace(offset=6.25)
    assert tracker.check(6.4 - LEAD - 0.01, sounding=True, current=sounding) is None
    call = tracker.check(6.4 - LEAD, sounding=True, current=sounding)
    assert call is not None and call.downbeat == pytest.approx(6.4)  # the answer's downbeat
    assert call.bars == 2  # the player's word, for the reading to weigh
    assert call.notes == [*notes[:15], sounding]
    tracker.add(notes[15:])  # the 16th ends: it went with the phrase, the rest are the next's
    assert tracker.notes == notes[16:]


def test_trading_reads_the_bar_lines_while_the_first_phrase_is_played():
    # trading fours, the first phrase: offered every OFFER_NOTES notes as it is played (no
    # rest, no bars told); its bar lines kept once a reading has heard three of its four
    # bars; the phrase, a pickup leading into its first bar, handed over before its last
    tracker = PhraseTracker(bars=4)
    notes = eighths(34, start=1.4)  # an eighth's pickup into the bar line at 1.6; bars of 1.6 s
    offered = []
    for note in notes[:28]:
        tracker.add([note])
        offered += [tracker.ahead(note.offset, sounding=True)]
    taken = [call for call in offered if call is not None]
    assert [len(call.notes) for call in taken] == [8, 12, 16, 20, 24, 28]
    assert all(call.playing and call.bars is None and call.downbeat is None for call in taken)
    tracker.foresee(3.2, 1.6, bars_heard=2)  # two bars heard: the meter not sure enough
    assert tracker.check(7.85, sounding=True) is None  # the bar lines not yet known
    tracker.foresee(4.8, 1.6, bars_heard=3)
    tracker.add(notes[28:32])
    sounding = notes[32]._replace(offset=7.85)
    assert tracker.check(8.0 - LEAD - 0.01, sounding=True, current=sounding) is None
    call = tracker.check(8.0 - LEAD, sounding=True, current=sounding)
    assert call is not None and not call.playing
    assert call.downbeat == pytest.approx(1.6 + 4 * 1.6)  # four bars after the pickup
    assert call.notes == [*notes[:32], sounding] and call.bars == 4
    # the next phrase: a reading of any bars moves the bar lines to the player's tempo now
    tracker.add(eighths(8, start=14.4, eighth=0.19))
    tracker.foresee(14.4 + 8 * 0.19, 8 * 0.19, bars_heard=1)
    assert tracker.check(14.4 + 4 * 8 * 0.19 - LEAD, sounding=True).downbeat == pytest.approx(
        14.4 + 4 * 8 * 0.19
    )


def test_the_answer_starts_on_a_beat_of_the_players_grid():
    profiles = MelodyProfiles.load(DEFAULT_PROFILES)
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[4]  # a jig in C
    performance = perform(tune, seed=4, voice="flute", synth="none", humanised=True)
    start, end, bars = performance.phrases[0]
    heard = [n for n in performance.notes if start - 0.05 <= n.onset < end - 0.05]
    reading = read_notes(heard, profiles)
    beat = reading.clock[1] * 6  # a dotted quarter
    for wait in (0.0, 0.3, 0.7):
        now = heard[-1].offset + wait
        plan = plan_answer(reading, now=now)
        assert plan.start >= now + WORK_SECONDS
        beats = (plan.start - reading.time_of(reading.phase)) / beat
        assert abs(beats - round(beats)) < 1e-9  # whole beats after a bar line
        assert plan.start - now <= WORK_SECONDS + beat
        # the prime rests up to that beat, so that the answer's bar lines are the player's
        assert plan.start == pytest.approx(reading.time_of(4 * plan.call_beats))
        assert _beats_of(plan.prime) == plan.call_beats
    assert plan.bars == len(bars) and plan.shift % 12 == performance.shift % 12
    trading = plan_answer(reading, now=heard[-1].offset, downbeat=heard[-1].offset + 0.3)
    assert trading.start == pytest.approx(heard[-1].offset + 0.3)
    # a call that stops a beat or more before its bar line: the prime rests to the bar line
    short = read_notes(heard[:-3], profiles, meter="6/8")
    assert -(short.end - short.phase) % 12 >= 6  # a dotted quarter or more short of it
    trading = plan_answer(short, now=heard[-1].offset, downbeat=heard[-1].offset + 0.3)
    assert (4 * trading.call_beats - short.phase) % 12 == 0  # a downbeat of the prime too
    assert _beats_of(trading.prime) == trading.call_beats
    # read ahead, while the rest went on: the answer needs only to be sent after the end
    now = heard[-1].offset + 0.3
    ahead = plan_answer(reading, now=now, read_at=now - 0.1)
    assert now + SEND_SECONDS <= ahead.start < now + SEND_SECONDS + beat
    late = plan_answer(reading, now=now, read_at=now + 0.2)  # a reading slower than planned
    assert now + 0.2 + SEND_SECONDS <= late.start < now + 0.2 + SEND_SECONDS + beat


def _beats_of(tokens) -> Fraction:
    interpreter = TuneInterpreter()
    for token in tokens:
        interpreter.process(token)
    interpreter.flush()
    return interpreter.beats


def _a_reels_phrase(*, humanised: bool):
    # a reel's second phrase (the examples' second tune), played by the notes alone
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[1]
    performance = perform(tune, seed=1, voice="flute", synth="none", humanised=humanised)
    start, end, _ = performance.phrases[1]
    return performance, [n for n in performance.notes if start - 0.05 <= n.onset < end - 0.05]


def test_a_reading_slower_than_its_dance_answers_within_two_of_its_half_beats():
    # a reel's phrase read as 2/4 in sixteenths, at half the reel's tempo (as the corpus writes
    # some reels): the rest that ends it and the answer's start are of half its beat, so that
    # the answer is never later than two of the player's beats after the last note
    profiles = MelodyProfiles.load(DEFAULT_PROFILES)
    performance, heard = _a_reels_phrase(humanised=True)
    slow = read_notes(heard, profiles, meter="M:2/4")
    assert slow.tempo == pytest.approx(performance.tempo / 2, rel=0.05)
    assert slow.pace == -1 and slow.rest_beat_seconds == pytest.approx(slow.beat_seconds / 2)
    half = slow.clock[1] * 2  # the reel's quarter note
    last_off = heard[-1].offset
    for wait in (0.2, 0.25):  # the rest that ended it (the shortest is 0.25 s)
        now = last_off + wait
        plan = plan_answer(slow, now=now, read_at=now, last_off=last_off)
        halves = (plan.start - slow.time_of(slow.phase)) / half
        assert abs(halves - round(halves)) < 1e-9
        assert now + SEND_SECONDS <= plan.start <= last_off + LATEST_BEATS * half
        assert plan.start == pytest.approx(slow.time_of(4 * plan.call_beats))
        assert _beats_of(plan.prime) == plan.call_beats
    usual = plan_answer(slow, now=now, read_at=now)  # not told the note-off: its whole beats
    beats = (usual.start - slow.time_of(slow.phase)) / (2 * half)
    assert abs(beats - round(beats)) < 1e-9 and usual.start > plan.start


def test_a_reading_faster_than_its_dance_answers_on_a_beat_of_half_its_tempo_too():
    # a reel's phrase at 204 quarter notes a minute answers on any quarter note; played a
    # fifth faster again (faster than players take a reel, as a polka written in sixteenths
    # reads at twice its tempo), on every second quarter from the bar line: a beat of the
    # reading at half the tempo too
    profiles = MelodyProfiles.load(DEFAULT_PROFILES)
    performance, heard = _a_reels_phrase(humanised=False)
    usual = read_notes(heard, profiles, meter="M:4/4")
    assert usual.tempo == pytest.approx(performance.tempo, rel=0.02) and answer_beat(usual) == 4
    faster = [n._replace(onset=n.onset / 1.2, offset=n.offset / 1.2) for n in heard]
    fast = read_notes(faster, profiles, meter="M:4/4")
    assert fast.tempo == pytest.approx(1.2 * performance.tempo, rel=0.02)
    assert answer_beat(fast) == 8
    half_note = fast.clock[1] * 8
    for wait in (0.0, 0.2, 0.4):
        now = faster[-1].offset + wait
        plan = plan_answer(fast, now=now)
        halves = (plan.start - fast.time_of(fast.phase)) / half_note
        assert abs(halves - round(halves)) < 1e-9
        assert plan.start - now <= WORK_SECONDS + half_note


@pytest.fixture(scope="module")
def conversation():
    """Two phrases of a jig, humanised, with a rest after each: a musician's calls."""
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[4]
    performance = perform(tune, seed=4, voice="flute", synth="builtin", humanised=True)
    samples = performance.samples
    (s0, e0, _), (s1, e1, _) = performance.phrases[:2]
    rest = np.zeros(int(4.0 * SAMPLE_RATE), dtype=np.float32)
    first = samples[int((s0 - 0.3) * SAMPLE_RATE) : int((e0 - 0.05) * SAMPLE_RATE)]
    second = samples[int((s1 - 0.05) * SAMPLE_RATE) : int((e1 - 0.05) * SAMPLE_RATE)]
    return np.concatenate([first, rest, second, rest]), performance


def _respond(
    samples, *, bars: int | None = None, keys=None, player=None, separate: bool = False
) -> dict:
    """Run the engine on ``samples`` at live pace, answering over JACK MIDI to a receiver.

    ``keys``: a MIDI controller's port (MidiKeys); ``player``: called on a thread of its own
    as the engine starts (a musician playing the keys); ``separate``: the composer in a
    process of its own (which opens the port itself, and counts what it sent there).
    ``started`` is when the source began to play: stream time 0 (a composer's process
    starts before it).
    """
    import threading

    from listener.audio.sources import ArraySource
    from listener.composer import ComposeSettings
    from listener.composer_process import SinkSpec
    from listener.engine import Engine
    from listener.genres.model import GenreModel
    from listener.midi import MidiSink
    from listener.tunes.lstm import FolkLSTM

    events: list[dict] = []
    receiver = Receiver()
    sink = None if separate else MidiSink.open("harness:sink", api="jack")
    try:
        engine = Engine(
            GenreModel.load(),
            events.append,
            composer=FolkLSTM(),
            sink=SinkSpec("harness:sink", api="jack") if separate else sink,
            compose=ComposeSettings(when="respond", seed=1),
            phrases=PhraseTracker(bars=bars),
            keys=keys,
            composer_process=separate,
        )
        source = ArraySource(samples, SAMPLE_RATE, block_size=(256, 1024), realtime=True)
        opened = {}
        open_source = source.open

        def open_and_note_when(ring, *, live):
            opened["at"] = time.monotonic()
            open_source(ring, live=live)

        source.open = open_and_note_when
        playing = threading.Thread(target=player) if player is not None else None
        if playing is not None:
            playing.start()
        engine.run(source, live=True)
        if playing is not None:
            playing.join()
        sent = None
        if sink is not None:
            sink.close()
            sent = sink.sent
            wait_for_delivery(receiver, sent)
        else:  # the composer's process closed its port, its note-offs given time to arrive
            time.sleep(0.2)
        started = opened["at"]
        return {"events": events, "receiver": receiver, "started": started, "sent": sent}
    finally:
        if sink is not None:
            sink.close()
        receiver.close()


@pytest.mark.parametrize("separate", [False, True], ids=["thread", "process"])
def test_a_phrase_played_is_heard_and_answered_on_the_beat(jack_server, conversation, separate):
    # the composer on a thread of the listener's process, or in a process of its own
    need_module("mido")
    samples, performance = conversation
    run = _respond(samples, separate=separate)
    events, receiver = run["events"], run["receiver"]
    phrases = [e for e in events if e["type"] == "phrase"]
    starts = [e for e in events if e["type"] == "tune" and e["event"] == "start"]
    assert len(phrases) == len(starts) == 2
    for phrase in phrases:  # heard as the jig it is, in the key it was played in
        assert phrase["meter"] == "6/8" and phrase["tokens"].startswith("M:6/8 K:Cmaj")
        assert phrase["key"]["mode"] == "maj"
    assert all(s["reason"] == "phrase" for s in starts)
    # the first answer note: when the plan said, within 30 ms and a JACK period; no later
    # than two beats (quarter notes) after the musician's last note
    first = starts[0]
    answer_on = [
        t
        for t, (_, m) in zip(receiver.arrivals, receiver.messages, strict=False)
        if m.type == "note_on" and m.velocity > 0
    ]
    assert answer_on, "no answer was heard over MIDI"
    quarter = 60.0 / first["tempo"]
    assert first["after_last_note"] <= 2 * quarter
    assert abs(answer_on[0] - (run["started"] + first["at"])) < 0.03 + 0.003 + 0.02
    # on the player's grid: whole beats (dotted quarters) from a downbeat it heard
    beat = phrases[0]["bar_seconds"] / 2
    offset = (first["at"] - phrases[0]["downbeat"]) / beat
    assert abs(offset - round(offset)) * beat < 0.03
    assert all(s["work_ms"] <= 150 for s in starts)  # generous: a shared machine
    assert all(s["read_ahead"] for s in starts)  # read while the rest went on
    # in the player's key: the answer's notes in E flat major (the jig in C, played in E flat)
    pitches = [m.note for _, m in receiver.messages if m.type == "note_on" and m.velocity]
    scale = {(3 + d) % 12 for d in (0, 2, 4, 5, 7, 9, 11)}
    assert performance.shift % 12 == 3
    assert np.mean([p % 12 in scale for p in pitches]) >= 0.9
    assert_every_note_released(receiver, run["sent"])


def test_a_player_tuned_sharp_is_answered_in_their_tuning(jack_server, conversation):
    # the jig's first phrase played 40 cents sharp (a flute pushed in too far): heard in its
    # key, and answered in tune with it, a pitch bend of 0.4 semitones before the first note
    from listener.audio.synth import render_melody
    from listener.transcribe.evaluate import VIBRATO_CENTS

    need_module("mido")
    _, performance = conversation
    start, end, _ = performance.phrases[0]
    notes = [n for n in performance.notes if start - 0.05 <= n.onset < end - 0.05]
    sharp = [(n.onset - start + 0.3, n.offset - start + 0.3, n.pitch + 0.4) for n in notes]
    samples = render_melody(sharp, voice="flute", vibrato_cents=VIBRATO_CENTS, seed=4)
    run = _respond(np.concatenate([samples, np.zeros(3 * SAMPLE_RATE, dtype=np.float32)]))
    events, receiver = run["events"], run["receiver"]
    (phrase,) = [e for e in events if e["type"] == "phrase"]
    (start_event,) = [e for e in events if e["type"] == "tune" and e["event"] == "start"]
    assert phrase["key"] == {"tonic": "Eb", "mode": "maj"}, phrase["key"]
    assert 30 <= phrase["tuning_cents"] <= 50 and start_event["tuning_cents"] > 30
    said = [m for _, m in receiver.messages if m.type in ("pitchwheel", "note_on")]
    assert said and said[0].type == "pitchwheel", said[:3]
    assert abs(said[0].pitch / 8192 * 2 - phrase["tuning_cents"] / 100) < 0.01
    assert_every_note_released(receiver, run["sent"])


@pytest.mark.parametrize("separate", [False, True], ids=["thread", "process"])
def test_playing_again_stops_the_answer_at_once(jack_server, conversation, separate):
    # the musician starts the second phrase while the first answer plays (a 1.5 s rest)
    need_module("mido")
    samples, _ = conversation
    cut = samples.copy()
    quiet = np.flatnonzero(np.abs(cut) > 1e-3)
    end_first = quiet[quiet < int(8.0 * SAMPLE_RATE)].max()  # the first phrase's last sound
    rest_end = end_first + int(4.0 * SAMPLE_RATE)
    cut = np.concatenate([cut[: end_first + int(1.5 * SAMPLE_RATE)], cut[rest_end:]])
    played_again = (end_first + int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE  # stream seconds
    loud = np.abs(cut[int(played_again * SAMPLE_RATE) :]) > 0.1  # a note, not the room
    played_again += np.flatnonzero(loud)[0] / SAMPLE_RATE
    run = _respond(cut, separate=separate)
    events, receiver = run["events"], run["receiver"]
    barge = [e for e in events if e["type"] == "barge_in"]
    assert barge, [e for e in events if e["type"] != "note"]
    # the answer stopped (its notes released, then all notes off) by the time the new
    # phrase's first note is loud, or soon after: its first sound is heard within a frame or
    # two and the note-offs go out at once (a shared machine is forgiven 50 ms more than the
    # 50 ms asked)
    t_sound = run["started"] + played_again
    stopped = [
        t
        for t, (_, m) in zip(receiver.arrivals, receiver.messages, strict=False)
        if t > t_sound - 0.3 and m.type == "control_change" and m.control == 123
    ]
    assert stopped and stopped[0] - t_sound < 0.05 + 0.05, stopped[0] - t_sound
    # nothing starts after the barge-in (but the next answer's notes), everything released
    t_barge = run["started"] + barge[0]["t"]
    second = [e for e in events if e["type"] == "tune" and e["event"] == "start"][1:]
    next_answer = run["started"] + second[0]["at"] if second else float("inf")
    late = [
        t
        for t, (_, m) in zip(receiver.arrivals, receiver.messages, strict=False)
        if m.type == "note_on" and m.velocity and t_barge + 0.05 < t < next_answer - 0.01
    ]
    assert late == []
    assert_every_note_released(receiver, run["sent"])


def test_a_call_played_on_midi_keys_is_answered(jack_server):
    # a keyboard player's phrase through JACK MIDI: the same reading, the same answer path
    need_module("mido")
    import rtmidi

    from listener.midi.keys import MidiKeys

    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[4]
    performance = perform(tune, seed=4, voice="flute", synth="none", humanised=True)
    start, end, _ = performance.phrases[0]
    phrase = [n for n in performance.notes if start - 0.05 <= n.onset < end - 0.05]
    keyboard = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="player")
    keyboard.open_virtual_port("keys")
    keys = MidiKeys.open("player:keys", api="jack")

    def play() -> None:  # the player, on the wall clock, a second after the engine starts
        t0 = time.monotonic() + 1.0 - phrase[0].onset
        messages = [(n.onset, [0x90, n.pitch, 90]) for n in phrase]
        messages += [(n.offset, [0x80, n.pitch, 0]) for n in phrase]
        for when, message in sorted(messages):
            time.sleep(max(0.0, t0 + when - time.monotonic()))
            keyboard.send_message(message)

    try:
        silence = np.zeros(int(9.0 * SAMPLE_RATE), dtype=np.float32)
        run = _respond(silence, keys=keys, player=play)
    finally:
        keys.close()
        keyboard.close_port()
    phrases = [e for e in run["events"] if e["type"] == "phrase"]
    assert len(phrases) == 1, [e for e in run["events"] if e["type"] != "stats"]
    assert phrases[0]["meter"] == "6/8" and len(phrases[0]["notes"]) == len(phrase)
    assert phrases[0]["key"] == {"tonic": "Eb", "mode": "maj"}
    assert run["receiver"].notes_on(), "no answer was heard over MIDI"
    assert_every_note_released(run["receiver"], run["sent"])


def _trading_fours():
    # a jig (no pickup) played as a player trades fours: half a second's silence, four bars,
    # four bars' rest while the machine answers, the same four again in time, and a rest;
    # returns the samples and the seconds of a bar
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[4]
    performance = perform(tune, seed=4, voice="flute", synth="builtin", humanised=False)
    start, end, _ = performance.phrases[0]
    bar = (end - start) / 4
    four = performance.samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    rest = np.zeros(int(4 * bar * SAMPLE_RATE), dtype=np.float32)
    lead_in = np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([lead_in, four, rest, four, rest]), bar


def test_trading_answers_on_the_downbeat_after_the_players_bars(jack_server):
    # trading fours: the player plays four bars, rests four while the machine answers, plays
    # four more in time and stops: each answer starts on the downbeat after the player's
    # bars, the first too (its bar lines read while it was played, not after a rest)
    need_module("mido")
    samples, bar = _trading_fours()
    run = _respond(samples, bars=4)
    events = run["events"]
    starts = [e for e in events if e["type"] == "tune" and e["event"] == "start"]
    assert len(starts) == 2, [e for e in events if e["type"] not in ("note", "stats")]
    assert [s["bars"] for s in starts] == [4, 4]
    bar_5, bar_13 = 0.5 + 4 * bar, 0.5 + 12 * bar  # where the player's fifth and 13th begin
    assert abs(starts[0]["at"] - bar_5) < 0.03, starts
    assert abs(starts[1]["at"] - bar_13) < 0.03, starts
    # the answer is there on time: its first note within 30 ms (and a JACK period)
    answer_on = [
        t
        for t, (_, m) in zip(run["receiver"].arrivals, run["receiver"].messages, strict=False)
        if m.type == "note_on" and m.velocity > 0 and t > run["started"] + bar_13 - 0.5
    ]
    assert answer_on and answer_on[0] >= run["started"] + starts[1]["at"] - 0.03
    assert_every_note_released(run["receiver"], run["sent"])


def test_a_file_read_fast_trades_as_live():
    # read as fast as it goes (nothing live: each reading ahead is waited for), the first
    # phrase's bar lines are read while it is played, as live: both answers on the downbeat
    from listener.audio.sources import ArraySource
    from listener.composer import ComposeSettings
    from listener.config import FRAME
    from listener.engine import Engine
    from listener.genres.model import GenreModel
    from listener.tunes.lstm import FolkLSTM

    samples, bar = _trading_fours()
    events: list[dict] = []
    engine = Engine(
        GenreModel.load(),
        events.append,
        composer=FolkLSTM(),
        compose=ComposeSettings(when="respond", seed=1),
        phrases=PhraseTracker(bars=4),
        ring_size=2 * FRAME,  # as `listen --fast`: the stream read a frame or two at a time
    )
    engine.run(ArraySource(samples, SAMPLE_RATE, block_size=(256, 1024)), live=False)
    starts = [e for e in events if e["type"] == "tune" and e["event"] == "start"]
    assert len(starts) == 2, [e for e in events if e["type"] not in ("note", "stats")]
    assert abs(starts[0]["at"] - (0.5 + 4 * bar)) < 0.03, starts
    assert abs(starts[1]["at"] - (0.5 + 12 * bar)) < 0.03, starts

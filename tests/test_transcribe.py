"""Hearing a melody: the pitch tracker and the notes it finds, scored with mir_eval."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from listener.config import SAMPLE_RATE
from listener.transcribe import NoteTracker, PitchTracker, track_pitch
from listener.tunes.corpus import read_data_v2
from listener.tunes.interpret import interpret
from tests.harness import EXAMPLES
from tests.harness.melody import scores, voice


def transcribe(samples, blocks=None):
    pitch, notes = PitchTracker(), NoteTracker()
    found = []
    parts = [samples] if blocks is None else np.array_split(samples, blocks)
    for part in parts:
        found += notes.process(pitch.process(part))
    return found + notes.flush()


def test_a_steady_tone_has_its_pitch():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for hz in (196.0, 440.0, 1174.7):
        frames = track_pitch(np.sin(2 * np.pi * hz * t))
        assert np.all(np.abs(frames.f0[2:-2] - hz) < hz * 0.003)  # 5 cents
        assert np.all(frames.dip[2:-2] < 0.05)
    noise = track_pitch(np.random.default_rng(0).standard_normal(SAMPLE_RATE))
    assert np.mean(noise.f0 == 0.0) > 0.9


def test_streaming_equals_offline(rng):
    x = voice(interpret(read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[1].tokens())[:20], 120)
    whole = track_pitch(x)
    tracker, parts, i = PitchTracker(), [], 0
    while i < x.size:
        n = int(rng.integers(1, 3000))
        parts.append(tracker.process(x[i : i + n]))
        i += n
    np.testing.assert_array_equal(np.concatenate([p.f0 for p in parts]), whole.f0)
    assert transcribe(x) == transcribe(x, blocks=37)


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("breath", [0.02, 0.0])
def test_clean_melodies_are_heard_note_for_note(index, breath):
    # with a breath between notes, and legato (a repeated note only tongued anew)
    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[index]
    notes = [n for n in interpret(tune.tokens()) if n.onset < 24]  # the first bars, 12 s
    conp, conpoff = scores(notes, transcribe(voice(notes, 120.0, breath=breath)), 120.0, breath)
    assert conp >= 0.97 and conpoff >= (0.95 if breath else 0.9), (conp, conpoff)


@pytest.mark.parametrize("cents", [-45, 45])
def test_a_player_tuned_near_a_quarter_tone_off_is_heard_in_one_tuning(cents):
    # A440's semitones fall between the player's, and vibrato crosses them: named against
    # A440, a note would be read a semitone apart from its neighbours half the time. Named
    # against the tuning followed, the notes after the first bar (while the tuning is found)
    # are the played ones, at the nearer semitone
    from listener.audio.synth import render_melody
    from listener.transcribe.evaluate import VIBRATO_CENTS

    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[0]
    notes = [n for n in interpret(tune.tokens()) if n.onset < 24]
    played = [(float(n.onset) / 2, float(n.end) / 2 - 0.02, n.pitch + cents / 100) for n in notes]
    heard = transcribe(render_melody(played, voice="fiddle", vibrato_cents=VIBRATO_CENTS))
    later = [n for n in heard if n.onset >= 2.0 - 0.05]
    conp, _ = scores([n for n in notes if n.onset >= 4], later, 120.0, 0.02)
    assert conp >= 0.97, conp
    assert abs(heard[-1].tuning - cents / 100) < 0.1


def test_vibrato_holds_a_note_and_a_cut_merges_into_it():
    from listener.tunes.notes import NoteEvent

    t = np.arange(int(0.6 * SAMPLE_RATE)) / SAMPLE_RATE
    vibrato = 440.0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 6.0 * t))  # +-30 cents at 6 Hz
    tone = 0.3 * np.sin(2 * np.pi * np.cumsum(vibrato) / SAMPLE_RATE)
    [note] = transcribe(np.concatenate([np.zeros(2000), tone, np.zeros(4000)]))
    assert note.pitch == 69 and abs(note.onset - 2000 / SAMPLE_RATE) < 0.03
    # a 30 ms cut a tone above, then the note: one note, from the cut's onset
    melody = [NoteEvent(74, Fraction(0), Fraction(3, 50)), NoteEvent(72, Fraction(3, 50), 1)]
    found = transcribe(voice(melody, 120.0, breath=0.0))
    assert [n.pitch for n in found] == [72] and found[0].onset < 0.03


def test_a_short_note_whose_attack_swells_is_one_note_wherever_the_frames_fall():
    # a jig's first note, a sixteenth (70 ms) whose sound swells for 40 ms after silence: its
    # rising level is no re-attack, so it is one note, not two pieces too short to keep;
    # heard alike whatever silence comes before it (where the analysis frames fall)
    from listener.transcribe.evaluate import perform
    from listener.transcribe.notes import notes_of

    tune = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")[4]
    performance = perform(tune, seed=4, voice="flute", synth="builtin", humanised=False)
    start, end, _ = performance.phrases[0]
    phrase = performance.samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    played = [n for n in performance.notes if start - 0.05 <= n.onset < end - 0.05]
    for lead in (0.5, 1.0, 1.013, 3.0):
        silence = np.zeros(int(lead * SAMPLE_RATE), dtype=np.float32)
        heard = notes_of(np.concatenate([silence, phrase, silence]))
        assert [n.pitch for n in heard[:3]] == [n.pitch for n in played[:3]], lead
        assert abs(heard[0].onset - lead) < 0.03


def _tone(hz, seconds, *, level=0.3):
    # a tone of a few harmonics, as pipes and voices have; hz may be an array (a glide)
    n = int(round(seconds * SAMPLE_RATE))
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(hz, (n,))) / SAMPLE_RATE
    return level * (np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)) / 1.6


def _ramp(n, *, up=True):
    ramp = np.linspace(0.0, 1.0, n)
    return ramp if up else ramp[::-1]


def test_a_note_that_speaks_slowly_is_dated_from_its_breath_not_its_pitch(rng):
    # 60 ms of breath noise swelling before the pipe's tone takes over (as a whistle's low
    # notes speak): the onset is where the sound began, not where the pitch became sure
    lead, chiff = 0.4, 0.06
    room = 1e-4 * rng.standard_normal(int(1.2 * SAMPLE_RATE))
    n = int(chiff * SAMPLE_RATE)
    noise = 0.05 * rng.standard_normal(n) * _ramp(n)
    tone = _tone(440.0, 0.5)
    tone[: n // 2] *= _ramp(n // 2)
    signal = room.copy()
    at = int(lead * SAMPLE_RATE)
    signal[at : at + n] += noise
    signal[at + n // 2 : at + n // 2 + tone.size] += tone
    [note] = transcribe(signal)
    assert note.pitch == 69 and abs(note.onset - lead) < 0.02, note


@pytest.mark.parametrize("delay", [0, 64, 128, 192])
def test_a_pipe_attack_periodic_a_twelfth_below_is_the_note_it_starts(rng, delay):
    # breath swelling for 50 ms, then 40 ms periodic at three times the note's period (a
    # whistle's low notes speak so), then the note: one note at the note's pitch, from the
    # breath (give or take an onset window), wherever the frames fall (``delay``: samples of
    # silence before)
    g4 = 392.0
    breath, attack = int(0.05 * SAMPLE_RATE), int(0.04 * SAMPLE_RATE)
    t = np.arange(attack) / SAMPLE_RATE
    undertone = sum(np.sin(2 * np.pi * g4 * k / 3 * t) for k in (1, 2, 3)) / 3
    sound = np.concatenate(
        [
            0.02 * rng.standard_normal(breath) * _ramp(breath),
            (0.02 + 0.08 * _ramp(attack)) * undertone,
            _tone(g4, 0.3),
        ]
    )
    lead = 0.4 + delay / SAMPLE_RATE
    signal = 1e-4 * rng.standard_normal(int(1.2 * SAMPLE_RATE))
    at = int(lead * SAMPLE_RATE)
    signal[at : at + sound.size] += sound
    [note] = transcribe(signal)
    assert note.pitch == 67 and abs(note.onset - lead) < 0.05, note  # mir_eval's onset window


def test_two_ornaments_in_a_row_take_the_pitch_of_the_second():
    # a cut (25 ms) into a note cut short (40 ms), then a rest: the cut leads into the
    # note, which is heard at its own pitch from the cut's start
    signal = np.zeros(int(1.0 * SAMPLE_RATE))
    at = int(0.3 * SAMPLE_RATE)
    sound = np.concatenate([_tone(587.33, 0.025), _tone(440.0, 0.04)])
    signal[at : at + sound.size] = sound
    [note] = transcribe(signal)
    assert note.pitch == 69 and abs(note.onset - 0.3) < 0.02, note


@pytest.mark.parametrize("above", [7, 4])
def test_two_notes_overlapping_are_not_heard_as_an_octave_below(above):
    # the first note's release over the next one's attack (a fifth or a third above) repeats
    # at the period the two share, one or two octaves below the first: no note of its own
    first, second = _tone(440.0, 0.4), _tone(440.0 * 2 ** (above / 12), 0.4)
    signal = np.zeros(int(1.2 * SAMPLE_RATE))
    a = int(0.2 * SAMPLE_RATE)
    signal[a : a + first.size] += first
    b = a + first.size - int(0.06 * SAMPLE_RATE)
    signal[b : b + second.size] += second
    heard = transcribe(signal)
    assert [n.pitch for n in heard] == [69, 69 + above], heard
    assert b / SAMPLE_RATE - 0.02 < heard[1].onset < b / SAMPLE_RATE + 0.075  # in the overlap


def test_a_short_note_alone_is_a_note_not_an_ornament():
    # 30 ms, then a rest and a note (a staccato, a note a breath cut short): it leads into no
    # note, so it is no ornament
    signal = np.zeros(int(1.2 * SAMPLE_RATE))
    at, then = int(0.3 * SAMPLE_RATE), int(0.5 * SAMPLE_RATE)
    short, long = _tone(523.25, 0.03), _tone(440.0, 0.4)
    signal[at : at + short.size] = short
    signal[then : then + long.size] = long
    heard = transcribe(signal)
    assert [n.pitch for n in heard] == [72, 69] and abs(heard[0].onset - 0.3) < 0.02, heard


def test_a_note_ends_where_its_pitch_glides_toward_the_next():
    # a flute's release bends its pitch toward the next note's for 50 ms: the note ends
    # where the bend began
    held, bend = 0.3, 0.05
    glide = np.concatenate(
        [
            np.full(int(held * SAMPLE_RATE), 523.25),
            np.geomspace(523.25, 440.0 * 2 ** (2.4 / 12), int(bend * SAMPLE_RATE)),
        ]
    )
    signal = np.concatenate(
        [
            np.zeros(int(0.2 * SAMPLE_RATE)),
            _tone(glide, glide.size / SAMPLE_RATE),
            _tone(440.0, 0.3),
            np.zeros(4000),
        ]
    )
    first, second = transcribe(signal)
    assert (first.pitch, second.pitch) == (72, 69)
    assert abs(first.offset - (0.2 + held)) < 0.025, first


def test_a_repeated_note_starts_where_its_level_turned_to_rise():
    # the same pitch played again without silence: the level falls to a third and swells
    # back over 60 ms; the second note starts at the trough, not when the swell is sure
    level = np.ones(int(0.8 * SAMPLE_RATE))
    trough = int(0.45 * SAMPLE_RATE)
    fall, rise = int(0.02 * SAMPLE_RATE), int(0.06 * SAMPLE_RATE)
    level[trough - fall : trough] = np.linspace(1.0, 0.3, fall)
    level[trough : trough + rise] = np.linspace(0.3, 1.0, rise)
    signal = np.concatenate(
        [np.zeros(4000), _tone(587.33, level.size / SAMPLE_RATE) * level, np.zeros(4000)]
    )
    first, second = transcribe(signal)
    assert first.pitch == second.pitch == 74
    assert abs(second.onset - (4000 + trough) / SAMPLE_RATE) < 0.02, second


@pytest.mark.parametrize("hz", [5.0, 6.0])
def test_a_long_note_with_tremolo_is_one_note(hz):
    # a sung long note whose level swings 3 dB either way five or six times a second (the
    # tremolo a singer's vibrato carries): each swell takes longer to rise than a note
    # tongued, bowed or sung anew; one note
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    tremolo = 1.0 + 0.35 * np.sin(2 * np.pi * hz * t)
    signal = np.concatenate(
        [np.zeros(int(0.2 * SAMPLE_RATE)), tremolo * _tone(440.0, 0.8), np.zeros(4000)]
    )
    heard = transcribe(signal)
    assert [n.pitch for n in heard] == [69], heard


def test_a_short_note_that_settles_onto_its_pitch_is_one_note():
    # a voice's short note after one a major third above: it comes in 0.7 semitone sharp for
    # 60 ms, then settles onto its pitch over 40 ms (as the General MIDI voice does at speed);
    # the sharp frames are the note settling, not a note a semitone above it
    a6 = 440.0 * 2 ** (21 / 12)  # MIDI 90
    sharp = np.concatenate(  # semitones above MIDI 90
        [
            np.full(int(0.06 * SAMPLE_RATE), 0.7),
            np.linspace(0.7, 0.15, int(0.04 * SAMPLE_RATE)),
            np.full(int(0.06 * SAMPLE_RATE), 0.15),
        ]
    )
    signal = np.concatenate(
        [
            np.zeros(int(0.2 * SAMPLE_RATE)),
            _tone(a6 * 2 ** (4 / 12), 0.15),
            _tone(a6 * 2 ** (sharp / 12), sharp.size / SAMPLE_RATE),
            _tone(a6 * 2 ** (-5 / 12), 0.2),
            np.zeros(4000),
        ]
    )
    heard = transcribe(signal)
    assert [n.pitch for n in heard] == [94, 90, 85], heard

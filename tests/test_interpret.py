"""The token interpreter, held to abc2midi note for note, and its streaming and malformed input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from listener.tunes.corpus import read_data_v2
from listener.tunes.interpret import TuneInterpreter, interpret
from listener.tunes.notes import NoteEvent
from listener.tunes.tune import Tune
from listener.tunes.vocab import VOCAB
from tests.harness import EXAMPLES, need_program
from tests.harness.abc2midi import abc2midi_notes

# Hand-written edge cases: (meter, key, body in data_v2 tokens).
EDGE_CASES = {
    "every broken rhythm": (
        "M:4/4",
        "K:Cmaj",
        "C > D E < F G 2> A 2 B 2< c 2 | d /2> e /2 f /2< g /2 A 4> B 4 |",
    ),
    "broken rhythm on rests and chords": ("M:4/4", "K:Cmaj", "z > C [ C E ] < [ D F ] G 2 z 2 |"),
    "tuplets 2 to 9, simple meter": (
        "M:4/4",
        "K:Cmaj",
        "(2 C D (3 E F G (4 A B c d (5 C D E F G | (6 C D E F G A (7 C D E F G A B | "
        "(8 C D E F G A B c (9 C D E F G A B c d |",
    ),
    "tuplets 5, 7 and 9 in 3/4, as abc2midi reads them": (
        "M:3/4",
        "K:Cmaj",
        "(5 C D E F G (7 C D E F G A B | (9 C D E F G A B c d |",
    ),
    "tuplets 2 to 9, compound meter": (
        "M:6/8",
        "K:Cmaj",
        "(2 C D (3 E F G (4 A B c d | (5 C D E F G (6 C D E F G A | (7 C D E F G A B "
        "(8 C D E F G A B c | (9 C D E F G A B c d |",
    ),
    "tuplets with lengths, rests and chords": (
        "M:4/4",
        "K:Cmaj",
        "(3 C 2 D 2 E 2 (3 z C [ C E ] (3 c /2 d /2 e /2 z 3/2 |",
    ),
    "endings": (
        "M:4/4",
        "K:Cmaj",
        "|: C D E F |1 G A B c :| |2 c B A G |: E F G A |1 B 4 :| |2 c 4 |",
    ),
    "repeat from the start and twice over": ("M:3/4", "K:Cmaj", "C D E :| F G A :| B c d |"),
    "accidentals carried through a bar": (
        "M:4/4",
        "K:Cmaj",
        "^F F f F, =F F _B B | F B ^c c' c C |",
    ),
    "minor key and naturals": ("M:4/4", "K:Cmin", "E A B =E E e =B B | E A B e |"),
    "dorian and mixolydian": ("M:2/4", "K:Cdor", "E A B b | K:Cmix E A B b |"),
    "meter change inside the tune": ("M:4/4", "K:Cmaj", "C D E F | M:6/8 (5 C D E F G (2 A B |"),
    "octaves": ("M:4/4", "K:Cmaj", "C, G, C G c g c' g' | d' e' f' ^g' =a' b' |"),
    "long and short lengths": (
        "M:3/2",
        "K:Cmaj",
        "C 8 D 4 | E 12 | F /4 G /8 B 7/2 c 5/2 d 3/4 e 16 |",
    ),
    "chords": ("M:4/4", "K:Cmaj", "[ C E G ] 2 [ C 2 E 2 ] [ D F A c ] 4 |"),
    "a repeat closed by :||": ("M:4/4", "K:Cmaj", "|: C D E F :| | G A B c |"),
    "nested start repeats": ("M:4/4", "K:Cmaj", "|: C D E F |: G A B c :| d e f g :|"),
    "key change inside a repeat": ("M:4/4", "K:Cmaj", "|: B c d e | K:Cmin B c e a :| B 8 |"),
    "meter change inside a repeat": (
        "M:4/4",
        "K:Cmaj",
        "|: C D E F G A B c | M:3/4 c B A G F E :| D 6 |",
    ),
}


def _notes(events: list[NoteEvent]) -> list[tuple[Fraction, int, Fraction]]:
    return sorted((n.onset, n.pitch, n.duration) for n in events)


def _same(got, want) -> bool:
    """The same notes in the same order, times equal on abc2midi's grid of 1/480 beat.

    abc2midi rounds each onset and duration to its grid, so 7- and 9-tuplets land up to one
    tick from the exact fractions the interpreter keeps.
    """
    if len(got) != len(want):
        return False
    tick = Fraction(1, 480)
    return all(
        p == q and abs(a - c) <= tick and abs(b - d) <= tick
        for (a, p, b), (c, q, d) in zip(got, want, strict=True)
    )


def _compare(tune: Tune, tmp_path, abc2midi) -> tuple[bool, bool]:
    want, accepted = abc2midi_notes(tune.abc(), tmp_path, abc2midi)
    got = _notes(interpret(tune.tokens()))
    return _same(got, want), accepted


def test_real_tunes_are_abc2midis_notes(tmp_path):
    abc2midi = need_program("abc2midi", "abcmidi")
    tunes = read_data_v2(EXAMPLES / "data_v2-first-5-tunes.txt")
    assert len(tunes) == 5
    for i, tune in enumerate(tunes):
        same, _ = _compare(tune, tmp_path, abc2midi)
        assert same, f"tune {i + 1}"  # all five, the one abc2midi complains about included


def test_generated_tunes_are_abc2midis_notes(tmp_path):
    abc2midi = need_program("abc2midi", "abcmidi")
    tunes = read_data_v2(EXAMPLES / "folkrnn-v2-generated-64-tunes.txt")
    accepted = 0
    for i, tune in enumerate(tunes):
        same, ok = _compare(tune, tmp_path, abc2midi)
        if ok:  # abc2midi reported no error
            accepted += 1
            assert same, f"generated tune {i + 1}"
    assert accepted == 61  # 3 have repeat structures abc2midi calls errors


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_are_abc2midis_notes(case, tmp_path):
    abc2midi = need_program("abc2midi", "abcmidi")
    meter, key, body = EDGE_CASES[case]
    same, accepted = _compare(Tune(meter, key, body.split()), tmp_path, abc2midi)
    assert same
    # abc2midi reads a |: inside an open repeat as :: and says so as an error; all else it takes
    assert accepted == (case != "nested start repeats")


def test_second_ending_without_a_first_is_played_as_written(tmp_path):
    # abc2midi calls it an error and leaves the ending out; a player plays what is written
    abc2midi = need_program("abc2midi", "abcmidi")
    tune = Tune("M:4/4", "K:Cmaj", "|: C D E F :| |2 G A B c |".split())
    _, accepted = abc2midi_notes(tune.abc(), tmp_path, abc2midi)
    assert not accepted
    got = [(float(n.onset), n.pitch) for n in interpret(tune.tokens())]
    assert got == [(k / 2, p) for k, p in enumerate([60, 62, 64, 65] * 2 + [67, 69, 71, 72])]


def test_notes_come_as_soon_as_they_are_settled():
    player = TuneInterpreter("M:4/4", "K:Cmaj")
    assert player.process("c") == []  # a length may follow
    assert player.process("2") == []  # so may a broken rhythm
    (c,) = player.process("d")  # c is settled by the next note
    assert (c.pitch, c.onset, c.duration) == (72, 0, 1)
    assert player.process(">") == []  # d waits for its partner's length
    assert player.process("e") == []
    d, e = player.process("f")  # e has no length token: both settled
    assert (d.duration, e.onset, e.duration) == (Fraction(3, 4), Fraction(7, 4), Fraction(1, 4))
    (f,) = player.process("|")  # a bar line settles everything
    assert f.onset == 2 and player.beats == Fraction(5, 2)


def test_repeat_comes_at_once_in_the_future():
    player = TuneInterpreter("M:4/4", "K:Cmaj")
    for token in "|: C D |1 E".split():
        player.process(token)
    again = player.process(":|")  # E settled, then C D again after it
    assert [(n.pitch, n.onset) for n in again] == [(64, 1), (60, Fraction(3, 2)), (62, 2)]
    assert player.beats == Fraction(5, 2)


@pytest.mark.parametrize(
    ("tokens", "warning"),
    [
        ("C :| :| D", ":| with nothing to repeat"),
        ("C foo D", "unknown token"),
        ("| 2 C", "length with no note"),
        ("C ] D", "] with no ["),
        ("> C D", "broken rhythm with no note"),
        ("C 2 > D E", "broken rhythm between notes of different lengths"),
        ("C > | D", "broken rhythm with no note after it"),
        ("[ C z E ] D", "rest inside a chord"),
        ("C </s> D", "token after </s>"),
    ],
)
def test_malformed_streams_are_counted_and_keep_time(tokens, warning):
    player = TuneInterpreter()
    notes = []
    for token in tokens.split():
        notes += player.process(token)
    notes += player.flush()
    assert player.warnings[warning] >= 1
    assert notes and all(n.duration > 0 for n in notes)


def test_random_token_streams_never_crash():
    rng = np.random.default_rng(0)
    for _ in range(200):
        player = TuneInterpreter()
        emitted = []
        for token in rng.choice(VOCAB, 60):
            emitted += player.process(str(token))
        emitted += player.flush()
        onsets = [n.onset for n in emitted]
        assert onsets == sorted(onsets)  # the order they are played in
        assert all(n.duration > 0 and 0 <= n.pitch < 128 for n in emitted)

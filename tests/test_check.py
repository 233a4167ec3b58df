"""Checks on tunes: bars timed by the interpreter and judged against the meter in force."""

from __future__ import annotations

from fractions import Fraction

from listener.tunes.check import check_tune
from listener.tunes.interpret import bar_lengths
from listener.tunes.tune import Tune


def test_bars_are_judged_against_the_meter_in_force():
    body = "C 8 | C 8 | M:3/4 C 6 | C 6 | C 4 D 2 | C 6 |".split()
    result = check_tune(Tune("M:4/4", "K:Cmaj", body))
    assert (result["bars"], result["bars_ok"]) == (4, 4)
    # the same bars against the header's meter alone would fail three of them
    wrong = check_tune(Tune("M:4/4", "K:Cmaj", [t for t in body if not t.startswith("M:")]))
    assert (wrong["bars"], wrong["bars_ok"]) == (4, 1)


def test_a_broken_rhythm_between_notes_of_different_lengths_changes_no_length():
    # abc2midi (and so the interpreter) does not apply it: a2 > b is 2 + 1, not 3 + 1/2
    [bar] = bar_lengths("a 2 > b b b b b b |".split(), "M:4/4")
    assert bar.length == 8  # applied, it would be 8 1/2
    [bar] = bar_lengths("a > b b b b b b b |".split(), "M:4/4")
    assert bar.length == 8  # applied: 3/2 + 1/2 + 6


def test_bars_record_their_closing_line_and_meter():
    bars = bar_lengths("|: C 2 D 2 :| M:6/8 E 3 F 3 |1 G 6 :| |2 A 6 |".split(), "M:4/4")
    assert [(b.length, b.closing, b.meter) for b in bars] == [
        (Fraction(0), "|:", "M:4/4"),
        (Fraction(4), ":|", "M:4/4"),
        (Fraction(6), "|1", "M:6/8"),
        (Fraction(6), ":|", "M:6/8"),
        (Fraction(0), "|2", "M:6/8"),
        (Fraction(6), "|", "M:6/8"),
    ]

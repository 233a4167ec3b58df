"""Well-formed tunes, token by token: which of the 137 tokens may come next.

:class:`TuneGrammar` follows a tune as it is sampled and says, before each step, which tokens
keep it well formed (:meth:`~TuneGrammar.allowed`, a mask over the vocabulary); the sampler
gives the others probability zero and renormalises. The rules are a sublanguage of folk-rnn's
ABC that the interpreter (:mod:`listener.tunes.interpret`) and abc2midi play alike, note for
note, and in which every bar fits the meter:

* **Header, then body.** A meter, a key, then notes: no meter or key token once the body began.
* **Bars fit the meter.** A note, rest or chord starts only where some length still fits in the
  bar; a length only where it fits; a bar line only when the bar is full. The first bar may be
  short (a pickup), and then a part's last bar, before ``:|``, or the tune's before ``</s>``
  (with no bar line: abc2midi flags a short bar closed by ``|``) may be as short as makes one
  bar with the pickup; after such a part the next one begins
  with a pickup of its own, as long as the first (abc2midi counts the two as one bar).
  Lengths are the dyadic ones (``/3`` is not).
* **Broken rhythms** (``>``, ``<``, ``2>``, ``/2<``...) join two notes of one written length,
  as the interpreter and abc2midi apply them: the left note plain (undotted, not in a tuplet or
  chord), the right one of the same length, with room for both in the bar.
* **Tuplets** ``(p`` take p plain notes or rests (no lengths, chords or bar lines among them) in
  the time of q (:func:`~listener.tunes.notation.tuplet_ratio`), where q fits in the bar.
* **Chords** hold one to four pitches only; a length may follow ``]``.
* **Repeats and endings.** A part runs from the tune's start, a ``:|`` or a ``|:`` to the next
  ``:|``, which repeats it (from the start, or the last ``:|``, when no ``|:`` began it, as
  abc2midi and the interpreter play it); it must hold a bar at least. ``|:`` does not open a
  part inside one it opened. ``|1`` starts a first ending, which ``:|`` closes, and ``|2`` must
  follow at once; endings only in a part a ``|:`` began (abc2midi refuses others), and once a
  second ending has come, every part begins with ``|:`` (abc2midi repeats no other then).
  ``</s>`` ends the tune after a bar, with no ``|:`` or first ending open.
* **An end in sight.** Once :attr:`~TuneGrammar.closing` is set (the sampler sets it some
  tokens before its cap), nothing opens (no ``|:``, ending, chord or tuplet) and each bar line
  closes what is open, or ends the tune: a tune ends, it does not stop at the cap.

Lengths here are written lengths in eighths: a broken pair's two notes last as long as written
together, a tuplet reserves its q eighths when it opens, so a bar's written total is its played
length (tests hold the grammar's bars to the interpreter's and the notes to abc2midi's).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

from listener.tunes.notation import (
    BARS,
    BROKEN,
    LENGTHS,
    PITCH,
    bar_length,
    length_of,
    plain_length,
    tuplet_ratio,
)
from listener.tunes.vocab import END, INDEX, START, VOCAB

_N = len(VOCAB)


def _mask(tokens) -> npt.NDArray[np.bool_]:
    out = np.zeros(_N, dtype=bool)
    out[[INDEX[t] for t in tokens]] = True
    return out


_PITCHES = _mask(t for t in VOCAB if PITCH.fullmatch(t))
_NOTE_STARTS = _PITCHES | _mask(["z"])
_METERS = _mask(t for t in VOCAB if t.startswith("M:"))
_KEYS = _mask(t for t in VOCAB if t.startswith("K:"))
#: Length tokens the grammar writes (dyadic: abc2midi and abcm2ps refuse /3), and their values.
_LENGTH_TOKENS = [t for t in sorted(LENGTHS) if plain_length(str(length_of(t).denominator))]
_LENGTH_INDEX = np.array([INDEX[t] for t in _LENGTH_TOKENS])
_LENGTH_VALUE = np.array([float(length_of(t)) for t in _LENGTH_TOKENS])
#: Broken rhythms: the left note's written length each one gives (1 for a bare > or <).
_BROKEN_LEFT = {
    t: (length_of(t[:-1]) if t[:-1] else Fraction(1))
    for t in VOCAB
    if BROKEN.fullmatch(t) and (not t[:-1] or plain_length(t[:-1]))
}
_BARE_BROKEN = _mask(t for t in _BROKEN_LEFT if len(t) == 1)
_WRITTEN_BROKEN = [(INDEX[t], float(left)) for t, left in _BROKEN_LEFT.items() if len(t) > 1]
_TUPLETS = [(INDEX[t], int(t[1:])) for t in VOCAB if t.startswith("(")]
_EPS = 1e-9
#: Pitches a chord holds at most.
CHORD_PITCHES = 4


class TuneGrammar:
    """Follow a tune token by token; say which tokens may come next (see the module doc).

    Examples
    --------
    >>> grammar = TuneGrammar()
    >>> for token in "M:3/4 K:Cmaj c 2 d 2 e 2 | c 2 d 2".split():
    ...     grammar.advance(token)
    >>> bool(grammar.allowed()[INDEX["|"]])  # 4 of the bar's 6 eighths
    False
    >>> grammar.advance("e")  # an eighth, unless a length follows: 2 fills the bar, 3 is too long
    >>> [VOCAB[i] for i in np.flatnonzero(grammar.allowed()) if VOCAB[i] in ("|", "2", "3")]
    ['2']
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the start of a tune: its meter comes first."""
        self.phase = "meter"  # then "key", then "body"
        self._set_meter("M:4/4")
        self.bar = 0.0  # eighths written in the bar so far, the open note's default included
        self.closed_bars = 0
        self.pickup = 0.0  # the first bar's length, when short
        self.owed = 0.0  # a part ended short: the next bar is a pickup this long
        self.note = None  # "open": a note, rest or chord whose length may follow; "set": given
        self.bare_note = False  # the open note is a pitch or rest (a broken rhythm may follow)
        self.right: str | None = None  # a broken pair's right note: "wanted", then "open"
        self.right_length = 1.0
        self.tuplet_left = 0
        self.chord: int | None = None  # pitches in the chord being written
        self.part_open = False  # a |: waits for its :|
        self.ending = 0  # inside a first (1) or second (2) ending
        self.first_ending_used = False
        self.second_wanted = False  # a :| closed a first ending: |2 comes now
        self.second_seen = False  # since a second ending, a part needs its |:
        self.after_close = False  # the last token closed a part (:|): |: may open the next
        self.ended = False
        self.closing = False  # finish the tune: open nothing, close at each bar line

    # -- what may come -----------------------------------------------------------------------

    def allowed(self) -> npt.NDArray[np.bool_]:
        """Return the tokens that may come next, as a mask over the vocabulary (never all False)."""
        if self.ended:
            return np.zeros(_N, dtype=bool)
        if self.phase == "meter":
            return _METERS.copy()
        if self.phase == "key":
            return _KEYS.copy()
        if self.chord is not None:
            out = _PITCHES.copy() if self.chord < CHORD_PITCHES else np.zeros(_N, dtype=bool)
            if self.chord > 0:
                out[INDEX["]"]] = True
            return out
        if self.right == "wanted":
            return _NOTE_STARTS.copy()
        out = np.zeros(_N, dtype=bool)
        if self.right == "open" and self.right_length != 1.0:  # the pair's length, exactly
            out[INDEX[_length_token(self.right_length)]] = True
            return out
        if self.second_wanted:
            out[INDEX["|2"]] = True
            return out
        room = (self.owed or self.full) - self.bar  # (a pickup owed is this bar's length)
        if self.note == "open" and self.right is None:
            before = room + 1.0  # the room the open note had before its default length
            out[_LENGTH_INDEX[_LENGTH_VALUE <= before + _EPS]] = True
            if self.bare_note:
                if room >= 1.0 - _EPS:  # room for a right note of length 1
                    out |= _BARE_BROKEN
                for index, left in _WRITTEN_BROKEN:
                    out[index] = 2 * left <= before + _EPS
        if room < -_EPS:  # the open note's default length does not fit: a length must come
            return out
        if self.tuplet_left:
            return out | _NOTE_STARTS
        if room >= 0.125 - _EPS:
            out |= _NOTE_STARTS
            if not self.closing:
                out[INDEX["["]] = True
                for index, q in self._tuplet_time.items():
                    out[index] = q <= room + _EPS
        self._allow_bar_lines(out, room)
        if self.closing:
            out[[INDEX["|:"], INDEX["|1"]]] = False
            if out[INDEX[END]] or out[INDEX[":|"]]:  # close what is open, or end
                out[INDEX["|"]] = False
        return out

    def _allow_bar_lines(self, out: npt.NDArray[np.bool_], room: float) -> None:
        empty = self.bar < _EPS
        full = abs(room) < _EPS
        pickup = self.closed_bars == 0 and not empty and room > _EPS
        part_end = self.pickup > 0 and abs(self.bar - (self.full - self.pickup)) < _EPS
        closes = full or pickup  # a bar line that closes this bar
        out[INDEX["|"]] = closes
        start = self.phase == "body" and self.closed_bars == 0 and empty
        out[INDEX["|:"]] = (
            not self.part_open and self.ending != 1 and (closes or start or self.after_close)
        )
        begun = self.part_open or self.ending == 1 or not self.second_seen
        out[INDEX[":|"]] = self.ending != 2 and begun and not empty and (full or part_end)
        out[INDEX["|1"]] = (
            self.part_open and self.ending == 0 and not self.first_ending_used and full
        )
        out[INDEX[END]] = (
            not self.part_open
            and self.ending != 1
            and self.closed_bars >= 2
            and (empty or full or part_end)
        )

    # -- what came ---------------------------------------------------------------------------

    def advance(self, token: str) -> None:
        """Take the token that came (whether or not :meth:`allowed` allowed it)."""
        if token == START:
            return
        self.after_close = False
        if token == END:
            self.ended = True
        elif token.startswith("M:"):
            self._set_meter(token)
            self.phase = "key" if self.phase == "meter" else self.phase
        elif token.startswith("K:"):
            self.phase = "body"
        elif token in BARS:
            self._bar_line(token)
        elif self.chord is not None:
            self.chord += PITCH.fullmatch(token) is not None
            if token == "]":
                self.chord = None
                self.note, self.bare_note = "open", False
        elif PITCH.fullmatch(token) or token == "z":
            self._note_start()
        elif token in LENGTHS:
            self.bar += float(length_of(token)) - 1.0
            self.note, self.bare_note = "set", False
            if self.right == "open":
                self.right = None
        elif token in _BROKEN_LEFT:
            left = float(_BROKEN_LEFT[token])
            self.bar += left - 1.0
            self.right, self.right_length = "wanted", left
            self.note, self.bare_note = None, False
        elif token == "[":
            self._note_start()
            self.chord, self.note = 0, None
        elif token.startswith("("):
            p = int(token[1:])
            self.bar += self._tuplet_time[INDEX[token]]
            self.tuplet_left, self.note = p, None
            self.right = None

    def _set_meter(self, meter: str) -> None:
        self.meter, self.full = meter, float(bar_length(meter))  # eighths in a full bar
        # eighths each tuplet takes in this meter: (p notes in the time of q
        self._tuplet_time = {i: float(tuplet_ratio(p, meter) * p) for i, p in _TUPLETS}

    def _note_start(self) -> None:
        if self.right == "wanted":
            self.right = "open"
        elif self.right == "open":
            self.right = None
        if self.tuplet_left:
            self.tuplet_left -= 1
            self.note, self.bare_note = None, False
            return
        self.bar += 1.0
        self.note, self.bare_note = "open", True

    def _bar_line(self, token: str) -> None:
        short_end = False
        if self.bar > _EPS:
            if self.closed_bars == 0 and self.bar < self.full - _EPS:
                self.pickup = self.bar
            elif self.owed:
                self.owed = 0.0  # the pickup it owed: paid
            elif self.bar < self.full - _EPS:
                short_end = True  # a part's short last bar (only :| closes one)
            self.closed_bars += 1
        self.bar = 0.0
        self.note, self.bare_note, self.right = None, False, None
        if short_end:
            self.owed = self.pickup
        if token == "|:":
            self.part_open, self.ending, self.first_ending_used = True, 0, False
        elif token == ":|":
            if self.ending == 1:
                self.second_wanted, self.ending = True, 0
            self.part_open, self.first_ending_used = False, False
            self.after_close = True
        elif token == "|1":
            self.ending, self.first_ending_used = 1, True
        elif token == "|2":
            self.second_wanted, self.ending, self.part_open = False, 2, False
            self.second_seen = True
        elif self.ending == 2:
            self.ending = 0

    def accepts(self, tokens) -> int | None:
        """Follow ``tokens`` from here; return the index of the first one not allowed, or None."""
        for i, token in enumerate(tokens):
            if token not in INDEX or not self.allowed()[INDEX[token]]:
                return i
            self.advance(token)
        return None


def _length_token(length: float) -> str:
    return _LENGTH_TOKENS[int(np.flatnonzero(np.abs(_LENGTH_VALUE - length) < _EPS)[0])]

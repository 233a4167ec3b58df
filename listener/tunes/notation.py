"""ABC notation as folk-rnn writes it: pitches, keys, meters, lengths and the token classes.

A pitch is an accidental, a letter and an octave; a length is a fraction of the unit note length
L:1/8. Reading ABC text (:mod:`listener.tunes.reading`), cleaning sampled tunes
(:mod:`listener.tunes.tune`) and timing them (:mod:`listener.tunes.interpret`) all build on these.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from listener.errors import DataError
from listener.tunes.vocab import INDEX, METERS

LETTERS = "CDEFGAB"
#: Semitones above C of each letter.
LETTER_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
_ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
ACCIDENTAL_TEXT = {v: k for k, v in _ACCIDENTALS.items()}
# Fifths of each major tonic letter (C 0, G 1, ... F -1), and what each mode adds to them.
_LETTER_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODE_FIFTHS = {"maj": 0, "mix": -1, "dor": -2, "min": -3}
_MODE_NAMES = {
    "": "maj",
    "maj": "maj",
    "ion": "maj",
    "m": "min",
    "min": "min",
    "aeo": "min",
    "dor": "dor",
    "mix": "mix",
}
_SHARP_ORDER = "FCGDAEB"
_FLAT_ORDER = "BEADGCF"
#: Note lengths in units of 1/8 that have a token, and the token (2, 3/2, /2, ...).
LENGTH_TOKENS = {
    (Fraction(1, int(t[1:])) if t.startswith("/") else Fraction(t)): t
    for t in INDEX
    if re.fullmatch(r"\d+(/\d+)?|/\d+", t)
}


class AbcError(DataError):
    """A tune that cannot be expressed in folk-rnn's tokens; ``reason`` says why, briefly."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Pitch:
    """A written pitch: an explicit accidental (or None), a letter index (C=0) and an octave.

    Octave 4 is written in capitals (C..B = C4..B4), octave 5 in small letters; each ``,``
    lowers and each ``'`` raises an octave.
    """

    accidental: int | None
    step: int
    octave: int

    @property
    def diatonic(self) -> int:
        """Steps above C0 counted in letters."""
        return self.step + 7 * self.octave

    def text(self) -> str:
        """Write the pitch as ABC does (and as a folk-rnn token)."""
        acc = "" if self.accidental is None else ACCIDENTAL_TEXT[self.accidental]
        letter = LETTERS[self.step]
        if self.octave >= 5:
            return acc + letter.lower() + "'" * (self.octave - 5)
        return acc + letter + "," * (4 - self.octave)

    def midi(self, alteration: int) -> int:
        """MIDI note number with the given alteration in semitones (C4 = 60)."""
        return 12 * (self.octave + 1) + LETTER_SEMITONES[self.step] + alteration


PITCH = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")


@functools.lru_cache(maxsize=1024)  # a tune has a few dozen distinct pitch tokens
def parse_pitch(text: str) -> Pitch:
    """Parse ``^c'``, ``_B,``, ``E`` into a :class:`Pitch`."""
    m = PITCH.fullmatch(text)
    if not m:
        raise AbcError("not a pitch", repr(text))
    acc, letter, marks = m.groups()
    octave = (5 if letter.islower() else 4) + marks.count("'") - marks.count(",")
    return Pitch(None if acc is None else _ACCIDENTALS[acc], LETTERS.index(letter.upper()), octave)


@dataclass(frozen=True)
class Key:
    """A key: tonic letter, tonic alteration, mode (maj, min, dor or mix)."""

    letter: str
    alteration: int
    mode: str

    @property
    def tonic_class(self) -> int:
        """Pitch class of the tonic (0 for C)."""
        return (LETTER_SEMITONES[LETTERS.index(self.letter)] + self.alteration) % 12

    @property
    def fifths(self) -> int:
        """Sharps (positive) or flats (negative) of the signature."""
        return _LETTER_FIFTHS[self.letter] + 7 * self.alteration + _MODE_FIFTHS[self.mode]

    def signature(self) -> dict[int, int]:
        """Alteration of each letter index under the key signature."""
        f = self.fifths
        order = _SHARP_ORDER if f >= 0 else _FLAT_ORDER
        sig = {i: 0 for i in range(7)}
        for k in range(abs(f)):
            sig[LETTERS.index(order[k % 7])] += 1 if f > 0 else -1
        return sig


def parse_key(text: str) -> Key:
    """Parse a K: field (``G``, ``Ador``, ``F#m``, ``Bb Mixolydian``) into a :class:`Key`."""
    body = text.split("%")[0].strip()
    m = re.fullmatch(r"([A-G])([#b]?)\s*([A-Za-z]*)\s*", body)
    if not m:
        raise AbcError("unsupported key", repr(text))
    letter, acc, mode = m.groups()
    name = _MODE_NAMES.get(mode.lower()[:3] if len(mode) > 1 else mode.lower())
    if name is None:
        raise AbcError("unsupported mode", repr(text))
    return Key(letter, {"#": 1, "b": -1, "": 0}[acc], name)


def parse_meter(text: str) -> str:
    """Parse an M: field into a folk-rnn meter token; ``C`` is 4/4, ``C|`` and 2/2 too.

    2/2 has no token; its bar lasts as long as 4/4's, so reels written in it keep their time.
    """
    body = text.split("%")[0].strip().replace(" ", "")
    meter = {"C": "4/4", "C|": "4/4", "2/2": "4/4"}.get(body, body)
    token = f"M:{meter}"
    if token not in METERS:
        raise AbcError("meter not in vocabulary", repr(text))
    return token


def parse_length(text: str) -> Fraction:
    """Parse a length suffix (``2``, ``3/2``, ``/``, ``//``, ``/4``, ``3/``) in units of L."""
    if not text:
        return Fraction(1)
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    if not m:
        raise AbcError("bad length", repr(text))
    num, slashes, den = m.groups()
    n = int(num) if num else 1
    if not slashes:
        return Fraction(n)
    if den:
        return Fraction(n, int(den) * 2 ** (len(slashes) - 1))
    return Fraction(n, 2 ** len(slashes))


def length_token(length: Fraction) -> str | None:
    """Name the token of a length in eighths (None for 1, the default); AbcError if none."""
    if length == 1:
        return None
    token = LENGTH_TOKENS.get(length)
    if token is None:
        raise AbcError("length not in vocabulary", str(length))
    return token


# One lexical item of a tune body: what is kept, and what is skipped (in groups named after it).

#: Tokens of each kind: lengths (``2``, ``/2``, ``3/2``), bar lines, broken rhythms (``>``, ``2<``).
LENGTHS = frozenset(LENGTH_TOKENS.values())
BARS = frozenset({"|", "|:", ":|", "|1", "|2"})
BROKEN = re.compile(r"[\d/]*[<>]")


@functools.lru_cache(maxsize=256)
def length_of(token: str) -> Fraction:
    """Read a length token as eighths (``/2`` is 1/2, ``3/2`` is 3/2)."""
    return Fraction(token if not token.startswith("/") else "1" + token)


def plain_length(token: str) -> bool:
    """Whether a length token is undotted (a power of two), so a broken rhythm may dot it."""
    numerator = length_of(token).numerator
    return numerator & (numerator - 1) == 0


def tuplet_ratio(p: int, meter: str) -> Fraction:
    """Time factor of ``(p``: p notes in the time of q, q as abc2midi defaults it.

    q is 3 for (2, (4 and (8, 2 for (3 and (6; for (5, (7 and (9 it is 3 when the meter's
    numerator is a multiple of 3 (6/8, 9/8, 12/8, and 3/4 and 3/2 too: abc2midi's reading,
    where ABC 2.1 names only the compound meters) and 2 otherwise.
    """
    triple = int(meter[2:].split("/")[0]) % 3 == 0
    q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if triple else 2)
    return Fraction(q, p)


def bar_length(meter: str) -> Fraction:
    """Length of a full bar in eighths (``M:6/8`` -> 6, ``M:4/4`` -> 8)."""
    num, den = meter[2:].split("/")
    return Fraction(8 * int(num), int(den))

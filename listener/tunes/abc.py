"""ABC notation as folk-rnn sees it: pitches, lengths, keys, meters, and the tune tokeniser.

The model of notes here (a pitch is an accidental, a letter and an octave; a length is a fraction
of the unit note length) serves the corpus tokeniser now and the note interpreter later, so that
ABC is parsed in one place.

folk-rnn's data_v2 conventions: every tune in C (its mode one of maj, min, dor, mix), unit note
length 1/8, no titles, chords in quotes, decorations, grace notes, slurs or ties; bar lines,
repeats, endings, tuplets, broken rhythm, rests and bracketed chords kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from listener.errors import DataError
from listener.tunes.vocab import END, INDEX, METERS

LETTERS = "CDEFGAB"
#: Semitones above C of each letter.
LETTER_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
_ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_ACCIDENTAL_TEXT = {v: k for k, v in _ACCIDENTALS.items()}
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
        acc = "" if self.accidental is None else _ACCIDENTAL_TEXT[self.accidental]
        letter = LETTERS[self.step]
        if self.octave >= 5:
            return acc + letter.lower() + "'" * (self.octave - 5)
        return acc + letter + "," * (4 - self.octave)

    def midi(self, alteration: int) -> int:
        """MIDI note number with the given alteration in semitones (C4 = 60)."""
        return 12 * (self.octave + 1) + LETTER_SEMITONES[self.step] + alteration


_PITCH = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")


def parse_pitch(text: str) -> Pitch:
    """Parse ``^c'``, ``_B,``, ``E`` into a :class:`Pitch`."""
    m = _PITCH.fullmatch(text)
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
_BODY = re.compile(
    r"""
    (?P<space>\s+|\\|`)
  | (?P<comment>%[^\n]*)
  | (?P<quoted>"[^"]*")
  | (?P<deco>![^!\n]*!|!|\+[^+\n]*\+|[~.HIJLMNOPQRSTUVWhijklmnopqrstuvwy])
  | (?P<grace>\{[^}]*\})
  | (?P<field>\[[A-Za-z]:[^\]]*\])
  | (?P<bar>:*\[?\|+\]?:*(?:\[?[12])?|::|\[[12])
  | (?P<tuplet>\((?P<p>[2-9])(?::(?P<q>\d*))?(?::(?P<r>\d*))?)
  | (?P<slur>[()])
  | (?P<tie>-)
  | (?P<chord_open>\[)
  | (?P<chord_close>\](?P<chord_len>\d*/*\d*))
  | (?P<note>(?P<pitch>(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*)(?P<len>\d*/*\d*))
  | (?P<rest>[zx](?P<rest_len>\d*/*\d*))
  | (?P<broken>[<>]+)
    """,
    re.VERBOSE,
)


@dataclass
class Tune:
    """A tune in folk-rnn's terms: meter token, key token (K:C + mode), body tokens.

    ``offset`` is the number of semitones that take it from C back to the key it was written
    in (0 for tunes born in C); it is not part of the tokens, nor of equality.
    """

    meter: str
    key: str
    body: list[str]
    offset: int = field(default=0, compare=False)

    @classmethod
    def from_sampled(cls, tokens: list[str]) -> tuple[Tune, bool]:
        """Make a tune of sampled tokens (meter, key, body, maybe ``</s>``); say if it ended.

        A missing meter or key becomes M:4/4 or K:Cmaj.
        """
        ended = bool(tokens) and tokens[-1] == END
        body = list(tokens[:-1] if ended else tokens)
        meter = body.pop(0) if body and body[0].startswith("M:") else "M:4/4"
        key = body.pop(0) if body and body[0].startswith("K:") else "K:Cmaj"
        return cls(meter, key, body), ended

    def cleaned(self) -> tuple[Tune, int]:
        """Return the tune without what ABC cannot hold (:func:`clean_body`), and the count."""
        body, dropped = clean_body(self.body)
        return Tune(self.meter, self.key, body, self.offset), dropped

    def tokens(self) -> list[str]:
        """Meter, key and body: what the model reads after ``<s>``."""
        return [self.meter, self.key, *self.body]

    def data_v2(self) -> str:
        """Write the tune as a data_v2 block: meter line, key line, spaced body line."""
        return f"{self.meter}\n{self.key}\n{' '.join(self.body)}\n"

    def abc(self, index: int = 1, title: str = "listener") -> str:
        """Write the tune as ABC that abc2midi and abcm2ps read (body joined without spaces).

        A meter or key token inside the body (a sampled change) is written as an inline field,
        ``[K:Cmin]``. Lines break after every fourth bar, as tunes are printed.
        """
        parts, bars, pending, in_chord = [], 0, 0, False
        for i, token in enumerate(self.body):
            parts.append(f"[{token}]" if token[:2] in ("M:", "K:") else token)
            bars += token in _BARS
            in_chord = token == "[" or (in_chord and token != "]")
            if token.startswith("("):
                pending = int(token[1:])
            elif token in ("z", "]") or (_PITCH.fullmatch(token) and not in_chord):
                pending = max(pending - 1, 0)
            if bars >= 4 and token in ("|", ":|") and not pending and i + 1 < len(self.body):
                parts.append("\n")
                bars = 0
        body = "".join(parts)
        return f"X:{index}\nT:{title}\n{self.meter}\nL:1/8\n{self.key}\n{body}\n"


def _bar_tokens(text: str) -> list[str]:
    # Map the many ways of writing a bar line to folk-rnn's |, |:, :|, |1, |2.
    ending = text[-1] if text[-1] in "12" else ""
    core = text.rstrip("12").replace("[", "").replace("]", "")
    if not core:  # "[1"
        return [f"|{ending}"]
    left, right = core.startswith(":"), core.endswith(":")
    out = []
    if left and right:
        out = [":|", "|:"]
    elif left:
        out = [":|"]
    elif right:
        out = ["|:"]
    else:
        out = ["|"]
    if ending:
        out = out[:-1] + [f"|{ending}"] if out == ["|"] else out + [f"|{ending}"]
    return out


def tokenize_body(body: str, unit: Fraction) -> list[tuple[str, object]]:
    """Lex a tune body into kept items: ``("pitch", Pitch)``, ``("length", Fraction)``, etc.

    Lengths are converted from units of ``unit`` to eighths. Raises AbcError on what folk-rnn
    cannot express: changes of key, meter or unit inside the body, unknown characters, tuplets
    with explicit q and r, multi-bar rests.
    """
    items: list[tuple[str, object]] = []
    scale = unit * 8
    pos = 0
    while pos < len(body):
        m = _BODY.match(body, pos)
        if not m:
            raise AbcError("unknown construct", repr(body[pos : pos + 10]))
        pos = m.end()
        kind = m.lastgroup
        if kind in ("space", "comment", "quoted", "deco", "grace", "slur", "tie"):
            continue
        if kind == "field":
            if m.group("field")[1] in "KLMV":
                raise AbcError("key, meter, unit or voice change", m.group("field"))
            continue  # parts, tempo, notes: not music
        if kind == "bar":
            items.extend(("bar", t) for t in _bar_tokens(m.group("bar")))
        elif kind == "tuplet":
            if m.group("q") or m.group("r"):
                raise AbcError("tuplet with q or r", m.group("tuplet"))
            items.append(("tuplet", f"({m.group('p')}"))
        elif kind == "chord_open":
            items.append(("chord", "["))
        elif kind == "chord_close":
            items.append(("chord", "]"))
            if m.group("chord_len"):
                items.append(("length", parse_length(m.group("chord_len")) * scale))
        elif kind == "note":
            items.append(("pitch", parse_pitch(m.group("pitch"))))
            items.append(("length", parse_length(m.group("len")) * scale))
        elif kind == "rest":
            items.append(("rest", "z"))
            items.append(("length", parse_length(m.group("rest_len")) * scale))
        elif kind == "broken":
            if m.group("broken") not in (">", "<"):
                raise AbcError("broken rhythm not in vocabulary", m.group("broken"))
            items.append(("broken", m.group("broken")))
    return items


def _transposed(items, key: Key, shift: int) -> list[str]:
    # Tokens of the lexed items moved `shift` letters (the tonic onto C), each explicit
    # accidental keeping its distance from the key signature; AbcError when out of range.
    source = key.signature()
    target = Key("C", 0, key.mode).signature()
    tokens: list[str] = []
    for kind, value in items:
        if kind == "pitch":
            n = value.diatonic + shift
            step, octave = n % 7, n // 7
            acc = value.accidental
            if acc is not None:
                acc = target[step] + acc - source[value.step]
                if acc not in _ACCIDENTAL_TEXT:
                    raise AbcError("accidental not in vocabulary", value.text())
            token = Pitch(acc, step, octave).text()
            if token not in INDEX:
                raise AbcError("note out of range", token)
            tokens.append(token)
        elif kind == "length":
            token = length_token(value)
            if token is not None:
                tokens.append(token)
        elif kind == "broken":
            # folk-rnn writes a length and the broken rhythm after it as one token (2>, /2<)
            if tokens and tokens[-1] + value in INDEX and tokens[-1] in LENGTH_TOKENS.values():
                tokens[-1] += value
            else:
                tokens.append(value)
        else:
            tokens.append(value)
    return tokens


def tune_from_abc(headers: dict[str, str], body: str) -> Tune:
    """Convert one tune (its header fields and body text) to folk-rnn tokens in C.

    The transposition moves the tonic to C by the smaller of the two moves (down or up), or by
    the other, or an octave further, when notes would leave the vocabulary's range.
    """
    if "K" not in headers:
        raise AbcError("no key")
    if "M" not in headers:
        raise AbcError("no meter")
    key = parse_key(headers["K"])
    meter = parse_meter(headers["M"])
    if "L" in headers:
        unit = Fraction(headers["L"].split("%")[0].strip().replace(" ", ""))
    else:  # ABC's default: 1/16 for meters below 3/4, else 1/8
        num, den = meter[2:].split("/")
        unit = Fraction(1, 16) if Fraction(int(num), int(den)) < Fraction(3, 4) else Fraction(1, 8)
    items = tokenize_body(body, unit)
    if not any(kind == "pitch" for kind, _ in items):
        raise AbcError("no notes")
    down = -LETTERS.index(key.letter)
    failure: AbcError | None = None
    for shift in sorted({down, down + 7, down - 7, down + 14}, key=lambda s: (abs(s), s)):
        try:
            body_tokens = _transposed(items, key, shift)
        except AbcError as exc:
            if exc.reason != "note out of range":
                raise
            failure = exc
            continue
        tonic = LETTERS.index(key.letter)
        written = Pitch(None, tonic, 4).midi(key.alteration)
        moved = Pitch(None, 0, (tonic + 28 + shift) // 7).midi(0)  # the tonic's C
        return Tune(meter, f"K:C{key.mode}", body_tokens, offset=written - moved)
    raise failure or AbcError("note out of range")


_LENGTHS = frozenset(LENGTH_TOKENS.values())


_BROKEN = re.compile(r"[\d/]*[<>]")


def _length(token: str) -> Fraction:
    """Read a length token as eighths (``/2`` is 1/2)."""
    return Fraction(token if not token.startswith("/") else "1" + token)


def _plain_length(token: str) -> bool:
    """Whether a length token is undotted (a power of two), so a broken rhythm may dot it."""
    numerator = _length(token).numerator
    return numerator & (numerator - 1) == 0


def clean_body(tokens: list[str]) -> tuple[list[str], int]:
    """Drop what cannot be written as ABC from sampled body tokens; return them and the count.

    A length or broken rhythm that follows no note, rest or chord, a chord bracket that does
    not pair, a tuplet with nothing after it: a well-trained model rarely samples these, and
    abc2midi refuses them. A broken rhythm inside a chord or with no note after it, one that
    would dot a note already dotted (``a3/2>b``, ``a<b3``), and a tuplet that starts before the
    last one has its notes go too: abcm2ps refuses them. So does a broken rhythm between notes
    of different lengths (``a2>b``), which abc2midi refuses to apply.
    """
    out: list[str] = []
    in_chord = False
    kept = 0
    pending, tuplet_at = 0, 0  # notes the open tuplet still takes, and where it stands
    last_in_tuplet = False
    # a broken rhythm joins two notes of one length: where it stands, the left note's length,
    # and whether the right note has come (its length is the next token, or 1)
    broken_at, left, right_open = 0, None, False

    def settle(right: Fraction) -> None:
        nonlocal kept
        if left is not None and right != left:
            if out[broken_at][:-1]:  # 2> loses its > and keeps its length
                out[broken_at] = out[broken_at][:-1]
            else:
                del out[broken_at]
            kept -= 1  # counted as malformed either way

    for token in tokens:
        if right_open:
            right_open = False
            settle(_length(token) if token in _LENGTHS else Fraction(1))
        if out and not (_PITCH.fullmatch(token) or token in "z["):
            if _BROKEN.fullmatch(out[-1]) or out[-1].startswith("("):
                if out[-1].startswith("("):
                    pending = 0
                out.pop()  # a broken rhythm or a tuplet needs a note after it
                kept -= 1
        previous = out[-1] if out else ""
        holds_time = bool(_PITCH.fullmatch(previous)) or previous in ("z", "]")
        if _BROKEN.fullmatch(token):
            if in_chord or pending or last_in_tuplet:
                continue
            if not (holds_time or (token in "<>" and previous in _LENGTHS)):
                continue
            # the left note's length: in the token (2>, /2<), or the length before it, or 1
            own = token[:-1]
            written = own or (previous if previous in _LENGTHS else "")
            if token.endswith(">") and written and not _plain_length(written):
                if own:  # keep the length, lose the rhythm
                    out.append(own)
                continue
            broken_at = len(out)
            left = _length(written) if written else Fraction(1)
            if previous == "]" and not own:
                left = None  # a chord's length: not checked
        elif token in _LENGTHS:
            denominator = _length(token).denominator
            if not holds_time or denominator & (denominator - 1):
                continue  # /3 is a token, but abc2midi and abcm2ps refuse it
            before = out[-2] if len(out) > 1 else ""
            if before.endswith("<") and not _plain_length(token):
                out.pop(-2)  # the broken rhythm would lengthen this dotted note
                kept -= 1
        elif token == "[":
            if in_chord:
                continue
            in_chord = True
        elif token == "]":
            if not in_chord or previous == "[":
                if previous == "[":  # an empty chord: both brackets go
                    out.pop()
                    kept -= 1
                    in_chord = False
                continue
            in_chord = False
        elif in_chord and not _PITCH.fullmatch(token):
            continue  # only notes inside a chord
        elif token.startswith("("):
            if pending:
                continue  # tuplets do not nest
            pending, tuplet_at = int(token[1:]), len(out)
        elif pending and token in _BARS:
            del out[tuplet_at]  # a tuplet may not cross a bar line: its notes play plain
            kept -= 1
            pending = 0
        if token == "z" or (_PITCH.fullmatch(token) and not in_chord):
            last_in_tuplet = pending > 0
            pending = max(pending - 1, 0)
        if out and _BROKEN.fullmatch(out[-1]) and (token == "z" or _PITCH.fullmatch(token)):
            right_open = not in_chord
        if token == "]":
            last_in_tuplet = pending > 0
            pending = max(pending - 1, 0)
        out.append(token)
        kept += 1
    if right_open:
        settle(Fraction(1))
    while out and (out[-1].startswith("(") or _BROKEN.fullmatch(out[-1])):
        out.pop()
        kept -= 1
    if in_chord:
        out.append("]")  # closes the last chord (not a sampled token)
    return out, len(tokens) - kept


_BARS = frozenset({"|", "|:", ":|", "|1", "|2"})


def tuplet_ratio(p: int, meter: str) -> Fraction:
    """Time factor of ``(p``: p notes in the time of q, q as ABC 2.1 defaults it.

    q is 3 for (2, (4 and (8, 2 for (3 and (6, and for (5, (7 and (9 3 in compound meters
    (6/8, 9/8, 12/8) and 2 otherwise.
    """
    compound = meter in ("M:6/8", "M:9/8", "M:12/8")
    q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
    return Fraction(q, p)


def bar_lengths(tokens: list[str], meter: str) -> list[tuple[Fraction, str]]:
    """Length in eighths of each bar of a body, with the bar line that closes it ("" at the end).

    Lengths follow ABC: a note or rest lasts its length token (1 without one); a chord lasts
    its first note times the length after ``]``; ``>`` makes the note before it 3/2 as long
    and the one after 1/2 (``<`` the other way round); a tuplet ``(p`` scales its next p notes.
    """
    bars: list[tuple[Fraction, str]] = []
    current = Fraction(0)
    pending_broken: Fraction | None = None  # factor for the next note
    tuplet_left, tuplet = 0, Fraction(1)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _BARS:
            bars.append((current, token))
            current = Fraction(0)
        elif _PITCH.fullmatch(token) or token == "z" or token == "[":
            if token == "[":  # a chord: its first note's length, times the length after ]
                j = i + 1
                length = None
                while j < len(tokens) and tokens[j] != "]":
                    if length is None and _PITCH.fullmatch(tokens[j]):
                        after = tokens[j + 1] if j + 1 < len(tokens) else ""
                        length = _length_of(after) if after in _LENGTHS else Fraction(1)
                    j += 1
                length = length or Fraction(1)
                i = j
            else:
                length = Fraction(1)
            broken = None
            if i + 1 < len(tokens):
                nxt = tokens[i + 1]
                m = re.fullmatch(r"([\d/]*)([<>]?)", nxt)
                if m and nxt and (m.group(1) == "" or m.group(1) in _LENGTHS):
                    if m.group(1):
                        length *= _length_of(m.group(1))
                    broken = m.group(2) or None
                    i += 1
            if i + 1 < len(tokens) and tokens[i + 1] in ("<", ">") and broken is None:
                broken = tokens[i + 1]
                i += 1
            if pending_broken is not None:
                length *= pending_broken
                pending_broken = None
            if broken:
                length *= Fraction(3, 2) if broken == ">" else Fraction(1, 2)
                pending_broken = Fraction(1, 2) if broken == ">" else Fraction(3, 2)
            if tuplet_left:
                length *= tuplet
                tuplet_left -= 1
            current += length
        elif token.startswith("(") and token[1:].isdigit():
            tuplet_left = int(token[1:])
            tuplet = tuplet_ratio(tuplet_left, meter)
        i += 1
    if current > 0:
        bars.append((current, ""))
    return bars


def _length_of(token: str) -> Fraction:
    return Fraction(1, int(token[1:])) if token.startswith("/") else Fraction(token)


_HEADER = re.compile(r"^([A-Za-z]):\s*(.*)$")


def split_tunes(text: str) -> list[tuple[dict[str, str], str]]:
    """Split an ABC file into tunes: header fields up to K:, then the body up to the next X:.

    A body line that is a field (``M:``, ``K:``, ``L:``, ``P:``...) other than lyrics and notes
    is kept in the body as an inline field, so that a change of meter or key inside a tune is
    seen (and refused) by the tokeniser.
    """
    tunes = []
    headers: dict[str, str] | None = None
    body: list[str] = []
    in_body = False
    for line in text.splitlines():
        m = _HEADER.match(line.strip())
        if m and m.group(1) == "X":
            if headers is not None:
                tunes.append((headers, "\n".join(body)))
            headers, body, in_body = {"X": m.group(2)}, [], False
            continue
        if headers is None:
            continue
        if not in_body:
            if m:
                headers.setdefault(m.group(1), m.group(2))
                if m.group(1) == "K":
                    in_body = True
            continue
        if m:  # a field line in the body: kept as an inline field for the tokeniser to judge
            body.append(f"[{m.group(1)}:{m.group(2)}]")
            continue
        body.append(line)
    if headers is not None:
        tunes.append((headers, "\n".join(body)))
    return tunes

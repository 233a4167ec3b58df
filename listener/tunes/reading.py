"""Reading ABC text into folk-rnn tokens: the lexer, the transposition to C, split files.

folk-rnn's data_v2 conventions: every tune in C (its mode one of maj, min, dor, mix), unit note
length 1/8, no titles, chords in quotes, decorations, grace notes, slurs or ties; bar lines,
repeats, endings, tuplets, broken rhythm, rests and bracketed chords kept.
"""

from __future__ import annotations

import re
from fractions import Fraction

from listener.tunes.notation import (
    ACCIDENTAL_TEXT,
    LENGTH_TOKENS,
    LETTERS,
    AbcError,
    Key,
    Pitch,
    length_token,
    parse_key,
    parse_length,
    parse_meter,
    parse_pitch,
)
from listener.tunes.tune import Tune
from listener.tunes.vocab import INDEX

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


def tokenize_body(body: str, unit: Fraction, *, changes: bool = False) -> list[tuple[str, object]]:
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
            field = m.group("field")
            if changes and field[1] == "M":
                items.append(("meter", parse_meter(field[3:-1])))
                continue
            if changes and field[1] == "K":
                items.append(("key", parse_key(field[3:-1])))
                continue
            if field[1] in "KLMV":
                raise AbcError("key, meter, unit or voice change", field)
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
        if kind == "key":  # a change of mode on the tune's own tonic
            if (value.letter, value.alteration) != (key.letter, key.alteration):
                raise AbcError("key change to another tonic", f"K:{value.letter}")
            source, target = value.signature(), Key("C", 0, value.mode).signature()
            tokens.append(f"K:C{value.mode}")
        elif kind == "meter":
            tokens.append(value)
        elif kind == "pitch":
            n = value.diatonic + shift
            step, octave = n % 7, n // 7
            acc = value.accidental
            if acc is not None:
                acc = target[step] + acc - source[value.step]
                if acc not in ACCIDENTAL_TEXT:
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


def tune_from_abc(headers: dict[str, str], body: str, *, changes: bool = False) -> Tune:
    """Convert one tune (its header fields and body text) to folk-rnn tokens in C.

    The transposition moves the tonic to C by the smaller of the two moves (down or up), or by
    the other, or an octave further, when notes would leave the vocabulary's range. With
    ``changes``, a meter field inside the body (``[M:3/4]``) and a change of mode on the
    tune's own tonic (``[K:Cmin]`` in a tune in C) become tokens, as the interpreter and
    abc2midi play them; otherwise they (and every other change) refuse the tune, as the
    training corpus has it.
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
    items = tokenize_body(body, unit, changes=changes)
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

"""Tokens to notes, as they are sampled: an incremental interpreter of folk-rnn v2's ABC tokens.

:class:`TuneInterpreter` takes one token at a time and gives back the notes that token has
settled, each as soon as nothing later can change it: a note waits for the token after it (a
length or a broken rhythm may follow), two notes joined by a broken rhythm wait for the second
one's length, a bar line settles everything. Repeats are played as a musician plays them: at
``:|`` the notes since the last ``|:`` (or since the last ``:|``, or the start) come again,
without the first ending, and the second ending follows; a ``:|`` that closes a second ending
plays the part before the endings once more, and a ``|:`` inside an open repeat closes it first
(as ``::``), as abc2midi does. Once a second ending has come, a ``:|`` with no ``|:`` before it
(since the last ``:|``) repeats nothing, as in abc2midi (and is counted as malformed). A ``|2``
with no ``|1`` before it is played as written (abc2midi calls it an error and leaves the ending
out).

What the notes mean is the model of :mod:`listener.tunes.notation` (pitches, key signatures,
lengths, tuplet ratios), so the tokeniser that writes the corpus and this interpreter agree by
construction. This is the one model of ABC time: bar lengths (:func:`bar_lengths`, for
``tunes check``), the cleaning of sampled tunes and the ABC writer's line breaks all read it.

The rules, and what abc2midi (the reference the tests hold this to) does:

* **Pitch**: C4 = MIDI 60; small letters an octave up, ``'`` and ``,`` an octave each. The key
  (``K:Cmaj``, ``K:Cmin``, ``K:Cdor``, ``K:Cmix``) flattens B, E and A as its mode says. An
  accidental holds for that letter, in every octave, to the end of the bar.
* **Time**: lengths are in units of L:1/8; a beat is a quarter note, so an eighth lasts 1/2 beat.
  ``>`` makes the note before 3/2 as long and the next 1/2 (``<`` the other way) when both
  have one length, and is ignored otherwise; ``2>``, ``/2<``... are a length and a broken
  rhythm in one token. A tuplet ``(p`` plays its next p
  notes (rests and chords count) in the time of q, with ABC 2.1's default q
  (:func:`listener.tunes.notation.tuplet_ratio`) for the meter the tune starts in (abc2midi does not
  follow a change of meter here). A chord lasts as long as its first note, times the
  length after ``]``. Rests keep time and give no note.
* **Malformed input** never stops it: an unknown token, a length or broken rhythm with no note
  before it, an unpaired chord bracket, a ``:|`` with nothing to repeat, or anything after
  ``</s>`` is skipped and counted in :attr:`TuneInterpreter.warnings`, and time goes on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from listener.tunes.notation import (
    BARS,
    BROKEN,
    LENGTHS,
    PITCH,
    Key,
    length_of,
    parse_pitch,
    tuplet_ratio,
)
from listener.tunes.notes import Bar, NoteEvent
from listener.tunes.vocab import END, INDEX, START

#: Units of L:1/8 in a beat (a quarter note).
UNITS_PER_BEAT = 2


@dataclass
class _Pending:
    # A note, rest or chord whose duration may still change (a length or broken rhythm after it).
    pitches: list[int]
    length: Fraction = Fraction(1)
    lengthened: bool = False  # a length token has come
    tuplet: Fraction = Fraction(1)
    broken: Fraction = Fraction(1)  # what broken rhythms next to it make of its length


@dataclass
class _Section:
    # Notes that a :| will play again: their onsets, from where the section began.
    start: Fraction
    notes: list[NoteEvent] = field(default_factory=list)
    end: Fraction | None = None  # where its first ending began, if it has one
    meter: str = "M:4/4"  # the meter in force where it began
    opened: bool = False  # begun by |: (not by the tune's start or a :|)
    meters: list[tuple[Fraction, str]] = field(default_factory=list)  # changes inside it


class TuneInterpreter:
    """folk-rnn v2 tokens in, :class:`NoteEvent` lists out, one token at a time.

    Parameters
    ----------
    meter : str
        The meter token in force until the tune gives one (``M:4/4``).
    key : str
        The key token in force until the tune gives one (``K:Cmaj``).

    Examples
    --------
    >>> player = TuneInterpreter()
    >>> notes = []
    >>> for token in "M:6/8 K:Cmaj c 2> d 2 |".split():
    ...     notes += player.process(token)
    >>> [(n.pitch, float(n.onset), float(n.duration)) for n in notes]
    [(72, 0.0, 1.5), (74, 1.5, 0.5)]
    """

    def __init__(self, meter: str = "M:4/4", key: str = "K:Cmaj") -> None:
        self._initial = (meter, key)
        self.reset()

    def reset(self) -> None:
        """Forget the tune: time back to 0, the initial meter and key, no warnings."""
        self.meter, key = self._initial
        self._set_key(key)
        self.time = Fraction(0)  # in units of L:1/8
        self._first_meter: str | None = None  # the meter the tune starts in
        self.warnings: Counter[str] = Counter()
        self.ended = False
        self._accidentals: dict[int, int] = {}
        self._pending: _Pending | None = None
        self._chord: list[int] | None = None  # pitches of a chord being read
        self._chord_length = Fraction(1)
        self._chord_open_length = False
        self._left: _Pending | None = None  # a note before a broken rhythm, and its kind
        self._left_kind = ">"
        self._tuplet_left = 0
        self._tuplet = Fraction(1)
        self._section = _Section(Fraction(0), meter=self.meter)
        self._endings: _Section | None = None  # the last section closed with endings
        self._in_second = False  # inside its second ending
        self._second_seen = False  # a second ending has come: a :| then needs a |:
        self.position = 0  # tokens taken so far
        self.bars: list[Bar] = []  # every bar closed so far, as written
        self._bar_start = Fraction(0)
        #: Meter changes as played, repeats expanded: (beat, meter token), the first at beat 0.
        self.meters: list[tuple[Fraction, str]] = [(Fraction(0), self.meter)]
        #: Tokens skipped as malformed: (position, reason), for those who clean a tune.
        self.skipped: list[tuple[int, str]] = []
        self._left_at = 0  # position of the broken rhythm joining _left to its partner

    @property
    def beats(self) -> Fraction:
        """Time so far, in beats, of the notes settled."""
        return self.time / UNITS_PER_BEAT

    def _set_key(self, token: str) -> None:
        self.key = token
        self._signature = Key("C", 0, token[3:]).signature()

    @property
    def tuplet_open(self) -> bool:
        """Whether a tuplet still has notes to take."""
        return self._tuplet_left > 0

    @property
    def bar_so_far(self) -> Fraction:
        """Eighths settled in the bar being written."""
        return self.time - self._bar_start

    def _warn(self, what: str, at: int | None = None) -> list[NoteEvent]:
        self.warnings[what] += 1
        self.skipped.append((self.position - 1 if at is None else at, what))
        return []

    def _set_meter(self, token: str, at: Fraction | None = None) -> None:
        # the meter in force from `at` (units; default now), recorded when it changes
        self.meter = token
        if token == self.meters[-1][1]:
            return
        beat = (self.time if at is None else at) / UNITS_PER_BEAT
        if self.meters[-1][0] == beat:  # two changes at one moment: the later one holds
            self.meters.pop()
        if not self.meters or self.meters[-1][1] != token:
            self.meters.append((beat, token))

    def process(self, token: str) -> list[NoteEvent]:
        """Take one token; return the notes it settles, in the order they are played.

        Parameters
        ----------
        token : str
            A folk-rnn v2 token (``M:6/8``, ``K:Cdor``, ``^c'``, ``3/2``, ``>``, ``|:``...).
        """
        self.position += 1
        if self.ended:
            return self._warn("token after </s>")
        if token == START:
            return []
        if token == END:
            out = self.flush()
            self.ended = True
            return out
        if token.startswith("M:") and token in INDEX:
            out = self._settle()
            self._set_meter(token)
            self._section.meters.append((self.time, token))
            if self._first_meter is None and self.time == 0:
                self._first_meter = token
            return out
        if token.startswith("K:") and token in INDEX:
            out = self._settle()
            self._set_key(token)
            return out
        if PITCH.fullmatch(token):
            return self._pitch(token)
        if token in LENGTHS:
            return self._length(token)
        if BROKEN.fullmatch(token) and token in INDEX:
            return self._broken(token)
        if token == "z":
            if self._chord is not None:
                return self._warn("rest inside a chord")
            out = self._settle()
            self._pending = self._start([])
            return out
        if token == "[":
            if self._chord is not None:
                return self._warn("chord inside a chord")
            out = self._settle()
            self._chord, self._chord_length = [], Fraction(1)
            return out
        if token == "]":
            if self._chord is None:
                return self._warn("] with no [")
            pitches, self._chord = self._chord, None
            if not pitches:
                return self._warn("empty chord")
            self._pending = self._start(pitches)
            self._pending.length = self._chord_length
            return []
        if token.startswith("(") and token[1:] in "23456789":  # (8 too, though not sampled
            out = self._settle()
            if self._tuplet_left:
                return out + self._warn("tuplet inside a tuplet")
            self._tuplet_left = int(token[1:])
            # q follows the tune's first meter, as in abc2midi, not a change inside the tune
            self._tuplet = tuplet_ratio(self._tuplet_left, self._first_meter or self.meter)
            return out
        if token in BARS:
            return self._bar(token)
        return self._warn("unknown token")

    def flush(self) -> list[NoteEvent]:
        """Settle the note still open (the tune has ended, or the caller has stopped)."""
        if self._chord is not None:
            pitches, self._chord = self._chord, None
            if pitches:
                self._pending = self._start(pitches)
                self._pending.length = self._chord_length
        out = self._settle(final=True)
        if self.bar_so_far > 0:
            self.bars.append(Bar(self.bar_so_far, "", self.meter))
            self._bar_start = self.time
        return out

    # -- notes -------------------------------------------------------------------------------

    def _start(self, pitches: list[int]) -> _Pending:
        note = _Pending(pitches)
        if self._tuplet_left:
            note.tuplet = self._tuplet
            self._tuplet_left -= 1
        return note

    def _midi(self, token: str) -> int:
        pitch = parse_pitch(token)
        if pitch.accidental is not None:
            self._accidentals[pitch.step] = pitch.accidental
        alteration = self._accidentals.get(pitch.step, self._signature[pitch.step])
        return pitch.midi(alteration)

    def _pitch(self, token: str) -> list[NoteEvent]:
        midi = self._midi(token)
        if self._chord is not None:
            self._chord.append(midi)
            self._chord_open_length = len(self._chord) == 1  # a length now is the chord's
            return []
        out = self._settle()
        self._pending = self._start([midi])
        return out

    def _length(self, token: str) -> list[NoteEvent]:
        if self._chord is not None:
            if not self._chord:
                return self._warn("length with no note")
            if self._chord_open_length:  # the first note's length is the chord's
                self._chord_length = length_of(token)
            self._chord_open_length = False
            return []
        if self._pending is None or self._pending.lengthened:
            return self._warn("length with no note")
        self._pending.length *= length_of(token)
        self._pending.lengthened = True
        return []

    def _broken(self, token: str) -> list[NoteEvent]:
        if self._chord is not None:
            return self._warn("broken rhythm inside a chord")
        if self._pending is None:
            return self._warn("broken rhythm with no note")
        if token[:-1]:
            if self._pending.lengthened:
                return self._warn("length with no note")
            self._pending.length *= length_of(token[:-1])
            self._pending.lengthened = True
        # The note before is complete, but its partner's length is not known yet: a broken
        # rhythm joins notes of one length only (abc2midi refuses the others and so do we).
        out = self._resolve(self._pending) if self._left is not None else []
        self._left, self._left_kind, self._pending = self._pending, token[-1], None
        self._left_at = self.position - 1
        return out

    def _resolve(self, right: _Pending | None) -> list[NoteEvent]:
        # Apply the broken rhythm waiting between the left note and `right`; time the left one.
        left, self._left = self._left, None
        if right is None:
            self._warn("broken rhythm with no note after it", self._left_at)
        elif left.length != right.length:
            self._warn("broken rhythm between notes of different lengths", self._left_at)
        else:
            longer, shorter = Fraction(3, 2), Fraction(1, 2)
            if self._left_kind == "<":
                longer, shorter = shorter, longer
            left.broken *= longer
            right.broken *= shorter
        return self._emit(left)

    def _settle(self, final: bool = False) -> list[NoteEvent]:
        # The open note is complete: time it (after the one it is joined to), give its notes.
        # `final`: no note can come as the partner of a broken rhythm still waiting.
        note, self._pending = self._pending, None
        out = []
        if self._left is not None and (note is not None or final):
            out = self._resolve(note)
        return out + self._emit(note)

    def _emit(self, note: _Pending | None) -> list[NoteEvent]:
        if note is None:
            return []
        # (Fractions are exact and slow: no product with 1, one division each for onset and
        # duration)
        units = note.length
        if note.broken != 1:
            units = units * note.broken
        if note.tuplet != 1:
            units = units * note.tuplet
        onset = self.time / UNITS_PER_BEAT
        duration = units / UNITS_PER_BEAT
        self.time += units
        out = [NoteEvent(p, onset, duration) for p in note.pitches]
        self._section.notes.extend(out)
        return out

    # -- bars and repeats --------------------------------------------------------------------

    def _bar(self, token: str) -> list[NoteEvent]:
        out = self._settle(final=True)
        if self._chord is not None:
            self._chord = None
            self._warn("unclosed chord")
        self._accidentals.clear()
        self.bars.append(Bar(self.bar_so_far, token, self.meter))
        out += self._close_section(token)
        self._bar_start = self.time
        return out

    def _close_section(self, token: str) -> list[NoteEvent]:
        out: list[NoteEvent] = []
        if token == "|:":
            if self._section.opened and self.time > self._section.start:
                out += self._repeat()  # a |: inside an open one: abc2midi reads it as ::
            self._section = _Section(self.time, meter=self.meter, opened=True)
            self._endings, self._in_second = None, False
        elif token == "|1":
            if self._section.end is None:
                self._section.end = self.time
        elif token == "|2":
            self._in_second = self._endings is not None
            self._second_seen = True
        elif token == ":|":
            if self._in_second:
                # a :| that closes a second ending: the common part once more, as abc2midi
                # plays it (the way to a third ending, when there is one)
                self._in_second = False
                out += self._replay(self._endings)
            else:
                out += self._repeat()
        return out

    def _repeat(self) -> list[NoteEvent]:
        # Play the section again from its start, up to its first ending; go on after that.
        section = self._section
        if self._second_seen and not section.opened:  # as abc2midi: no |: to go back to
            self._section = _Section(self.time, meter=self.meter)
            return self._warn(":| with no |: after a second ending")
        if section.end is not None:
            self._endings = section
        return self._replay(section)

    def _replay(self, section: _Section) -> list[NoteEvent]:
        end = section.end if section.end is not None else self.time
        if end <= section.start:
            self._section = _Section(self.time, meter=self.meter)
            return self._warn(":| with nothing to repeat")
        shift = (self.time - section.start) / UNITS_PER_BEAT
        last = end / UNITS_PER_BEAT
        again = [
            NoteEvent(n.pitch, n.onset + shift, n.duration) for n in section.notes if n.onset < last
        ]
        # the meters of the part played again, as they change in it; then the one in force now
        now = self.meter
        self._set_meter(section.meter)
        for at, token in section.meters:
            if at < end:
                self._set_meter(token, self.time + at - section.start)
        self.time += end - section.start
        self._set_meter(now)
        self._section = _Section(self.time, meter=self.meter)
        return again


def read_through(
    tokens: list[str], meter: str = "M:4/4", key: str = "K:Cmaj"
) -> tuple[list[NoteEvent], TuneInterpreter]:
    """Interpret a whole tune: its notes, repeats expanded, and the interpreter that read it.

    The interpreter holds what else was read: :attr:`~TuneInterpreter.bars`,
    :attr:`~TuneInterpreter.meters`, :attr:`~TuneInterpreter.warnings` and
    :attr:`~TuneInterpreter.skipped`.

    Parameters
    ----------
    tokens : list of str
        Tokens, with or without the meter and key tokens first.
    meter, key : str
        In force until the tokens give their own.
    """
    player = TuneInterpreter(meter, key)
    notes: list[NoteEvent] = []
    for token in tokens:
        notes += player.process(token)
    return notes + player.flush(), player


def interpret(tokens: list[str], meter: str = "M:4/4", key: str = "K:Cmaj") -> list[NoteEvent]:
    """All the notes of a token sequence (a whole tune), repeats expanded: :func:`read_through`."""
    return read_through(tokens, meter, key)[0]


def bar_lengths(tokens: list[str], meter: str = "M:4/4") -> list[Bar]:
    """Every bar of a body as written, timed as it is played (see :class:`Bar`).

    Parameters
    ----------
    tokens : list of str
        Body tokens (a meter or key token inside them changes what follows).
    meter : str
        The meter the body starts in.
    """
    return read_through(tokens, meter)[1].bars

"""Answering a phrase: what primes the composer, how many bars, and the beat the answer starts on.

The phrase heard is read (:func:`~listener.transcribe.tokens.read_notes`); its tokens, in C,
prime folk-rnn, which continues them. The answer is the continuation, as many bars as the
call had (or ``answer_bars``), moved back to the player's key and played at the player's tempo.
It starts on the first beat (of the meter: a dotted quarter in 6/8; every second one where
the reading is faster than players take its dance) at or after where the written phrase
ends, on the grid that followed the player; the phrase is primed with the rest up to that
beat, so that the answer keeps the player's bar. If that time is too close, it starts as
many whole beats later as it must: the answer needs ``SEND_SECONDS`` (priming, the first
note) after both the phrase's end and its reading (a phrase read ahead was read while the
rest went on), or ``WORK_SECONDS`` after the end where the reading's time is not known.
A reading slower than players take its dance may be a tune at twice its tempo read in
doubled note values (a reel as a 2/4 tune in sixteenths); where its beat would come more
than two of the faster reading's beats after the last note, the answer starts on a half
beat, so that it is never later than two beats after the last note either way.
Trading (a phrase of N bars) starts it on the bar line that ended the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from listener.transcribe.profiles import BEAT, sixteenths
from listener.transcribe.tokens import length_tokens
from listener.tunes.notation import LENGTH_TOKENS

#: Seconds from the phrase's end the answer's first note needs at least: to read the phrase,
#: prime the model and send the first note (measured: 35 to 55 ms, the reading most of it).
WORK_SECONDS = 0.08
#: Seconds from the reading's end to the first note sent: priming the model, sampling up to
#: the answer's first note, sending it (measured: about 10 ms). A reading that took longer
#: than planned pushes the start to a later beat by this.
SEND_SECONDS = 0.04
#: The latest an answer starts, in beats after the call's last note-off (of the faster reading
#: where a slow one may be a tune at twice its tempo).
LATEST_BEATS = 2.0


@dataclass
class AnswerPlan:
    """How to answer a phrase.

    Attributes
    ----------
    prime : list of str
        The phrase's tokens in C (meter, key, body): what the composer continues.
    call_beats : float
        Quarter notes from the phrase's first note to where the written phrase ends: the
        answer's notes are the continuation's from there on.
    bars : int
        Bars to answer; the continuation stops at its bar line.
    finish_bar : bool
        The phrase ended inside a bar: the continuation first completes it.
    start : float
        Stream seconds at which the answer's first beat (``call_beats``) is played.
    seconds_per_beat : float
        Of the player's tempo (quarter notes).
    shift : int
        Semitones the answer is moved up by, back to the player's key.
    """

    prime: list[str]
    call_beats: float
    bars: int
    finish_bar: bool
    start: float
    seconds_per_beat: float
    shift: int


def call_bars(reading) -> int:
    """Bars the phrase lasted, rounded (a pickup and a short last bar make one together)."""
    return max(1, round(reading.end / sixteenths(reading.meter)))


def answer_beat(reading) -> int:
    """Sixteenths between the beats an answer to ``reading`` may start on.

    A beat of the meter; but a reading faster than players take its dance
    (:attr:`~listener.transcribe.tokens.Reading.pace`) may be a tune at half its tempo read in
    halved note values, so the answer starts on a beat of both readings: every second beat
    from the bar line.
    """
    beat = BEAT[reading.meter]
    return 2 * beat if reading.pace > 0 and sixteenths(reading.meter) % (2 * beat) == 0 else beat


def plan_answer(
    reading,
    *,
    now: float,
    read_at: float | None = None,
    answer_bars: int | None = None,
    downbeat: float | None = None,
    last_off: float | None = None,
) -> AnswerPlan:
    """Plan the answer to a phrase read as ``reading``, that ended at stream time ``now``.

    ``read_at``: the stream time the reading was done, when known (the answer starts no
    sooner than ``SEND_SECONDS`` after it and after ``now``: a phrase read ahead, while the
    rest went on, was read before it ended); without it, no sooner than ``WORK_SECONDS``
    after ``now``.
    ``downbeat``: in trading, the bar line that ended the call (the answer starts there when
    it is still ahead; else on the next beat that is).
    ``last_off``: when the call's last note ended (stream seconds); with it, a slow reading's
    answer may start on a half beat (see the module doc).
    """
    if read_at is None:
        earliest = now + WORK_SECONDS
    else:
        earliest = max(now, read_at) + SEND_SECONDS
    prime, end, start = _start_on(answer_beat(reading), reading, earliest, downbeat)
    half = reading.rest_beat  # a slow reading's half beat, else the meter's beat
    if downbeat is None and last_off is not None and half < BEAT[reading.meter]:
        if start > last_off + LATEST_BEATS * reading.rest_beat_seconds:
            prime, end, start = _start_on(half, reading, earliest, None)
    return AnswerPlan(
        prime=prime,
        call_beats=end / 4.0,
        bars=answer_bars or call_bars(reading),
        finish_bar=prime[-1] != "|",
        start=start,
        seconds_per_beat=60.0 / reading.tempo,
        shift=reading.shift,
    )


def _start_on(beat_positions: int, reading, earliest: float, downbeat: float | None) -> tuple:
    # the prime, its end (sixteenths) and the start (seconds) on the first beat of the grid
    # every `beat_positions` from the bar line, at or after the written phrase's end and at
    # or after `earliest` (or at the trading downbeat, the bar line after the end, while it
    # is ahead); the prime rests up to that beat, so that the answer's bar lines fall on the
    # player's
    end = reading.end
    first = beat_positions if downbeat is None else sixteenths(reading.meter)
    at = end + -(end - reading.phase) % first  # the first beat (or bar line) from the end
    start = reading.time_of(at) if downbeat is None else downbeat
    beat_seconds = reading.clock[1] * beat_positions
    if start < earliest:  # on a later beat of the same grid
        later = math.ceil((earliest - start) / beat_seconds)
        start += beat_seconds * later
        at += beat_positions * later
    return [*reading.tokens, *_rests(end, at, reading)], at, start


def _rests(begin: int, end: int, reading) -> list[str]:
    # rest tokens from grid position `begin` to `end` (sixteenths), with the bar lines between:
    # a rest to the next beat, then whole beats to each bar line (one token where the
    # vocabulary writes their length, else one a beat)
    bar, beat = sixteenths(reading.meter), BEAT[reading.meter]
    tokens = []
    while begin < end:
        to_beat = -(begin - reading.phase) % beat
        step = min(end - begin, to_beat or -(begin - reading.phase) % bar or bar)
        if to_beat or (_writable(step) and step % beat == 0):
            lengths = [step]
        else:  # whole beats, and what is left of a half beat's start
            lengths = [beat] * (step // beat) + ([step % beat] if step % beat else [])
        for length in lengths:
            tokens += ["z", *length_tokens(length)]
        begin += step
        if (begin - reading.phase) % bar == 0:
            tokens.append("|")
    return tokens


def _writable(sixteenths_long: int) -> bool:
    # whether the vocabulary has a length token for it (or needs none: an eighth)
    return sixteenths_long == 2 or Fraction(sixteenths_long, 2) in LENGTH_TOKENS

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
Trading (a phrase of N bars) starts it on the bar line that ended the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from listener.midi.scheduler import TEMPI
from listener.transcribe.profiles import BEAT, sixteenths
from listener.transcribe.tokens import TEMPO_SPREAD, length_tokens

#: Seconds from the phrase's end the answer's first note needs at least: to read the phrase,
#: prime the model and send the first note (measured: 35 to 55 ms, the reading most of it).
WORK_SECONDS = 0.08
#: Seconds from the reading's end to the first note sent: priming the model, sampling up to
#: the answer's first note, sending it (measured: about 10 ms). A reading that took longer
#: than planned pushes the start to a later beat by this.
SEND_SECONDS = 0.04
#: Players take a dance within about two spreads of the reader's tempo prior of its middle
#: (:data:`~listener.transcribe.tokens.TEMPO_SPREAD`); a reading faster than that starts its
#: answer on every second beat (:func:`answer_beat`).
FAST_SPREADS = 2.0


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

    A beat of the meter; but a reading faster than players take its dance (more than
    ``FAST_SPREADS`` spreads of the tempo prior above it) may be a tune at half its tempo read
    in halved note values (a polka's sixteenths as a reel's eighths: the corpus writes the same
    rhythm both ways), so the answer starts on a beat of both readings: every second beat
    from the bar line.
    """
    beat = BEAT[reading.meter]
    fast = reading.tempo > TEMPI[reading.meter] * math.exp(FAST_SPREADS * TEMPO_SPREAD)
    return 2 * beat if fast and sixteenths(reading.meter) % (2 * beat) == 0 else beat


def plan_answer(
    reading,
    *,
    now: float,
    read_at: float | None = None,
    answer_bars: int | None = None,
    downbeat: float | None = None,
) -> AnswerPlan:
    """Plan the answer to a phrase read as ``reading``, that ended at stream time ``now``.

    ``read_at``: the stream time the reading was done, when known (the answer starts no
    sooner than ``SEND_SECONDS`` after it and after ``now``: a phrase read ahead, while the
    rest went on, was read before it ended); without it, no sooner than ``WORK_SECONDS``
    after ``now``.
    ``downbeat``: in trading, the bar line that ended the call (the answer starts there when
    it is still ahead; else on the next beat that is).
    """
    beat_positions = answer_beat(reading)
    prime, end = list(reading.tokens), reading.end
    to_beat = -(end - reading.phase) % beat_positions
    if to_beat:  # a rest up to the beat, and the bar line when the beat is a downbeat
        prime += ["z", *length_tokens(to_beat)]
        end += to_beat
        if (end - reading.phase) % sixteenths(reading.meter) == 0:
            prime.append("|")
    start = reading.time_of(end) if downbeat is None else downbeat
    beat_seconds = reading.clock[1] * beat_positions
    if read_at is None:
        earliest = now + WORK_SECONDS
    else:
        earliest = max(now, read_at) + SEND_SECONDS
    if start < earliest:  # on a later beat of the same grid
        start += beat_seconds * math.ceil((earliest - start) / beat_seconds)
    return AnswerPlan(
        prime=prime,
        call_beats=end / 4.0,
        bars=answer_bars or call_bars(reading),
        finish_bar=prime[-1] != "|",
        start=start,
        seconds_per_beat=60.0 / reading.tempo,
        shift=reading.shift,
    )

"""Notes heard, written as folk-rnn tokens: the beat, the meter and its downbeat, the key, bars.

From notes with times in seconds (:class:`~listener.transcribe.notes.Note`) to data_v2 tokens
in C, as the corpus writes tunes, so that the composer can continue what it heard:

* **The grid.** Each candidate length of a sixteenth (quarter notes at 50 to 280 a minute)
  places the onsets on a grid that follows the player's tempo as it drifts (each onset is
  placed against a line fitted to the last few), once at the nearest points, once
  preferring eighths to odd sixteenths, and swung (a hornpipe's off-beats played near 2:1:
  :data:`SWING_WARP`; as likely as the corpus's tunes in dotted pairs). The onsets' distance
  from their grid points is scored as a player's timing error (25 ms), and the tempo by how
  fast tunes of each meter are danced.
* **The meter and its downbeat.** Under each of folk-rnn's seven meters and each downbeat, the
  notes are a walk through the bar, scored by the corpus's metrical profile
  (:mod:`~listener.transcribe.profiles`; in each of the meter's rhythmic styles), and by where
  the phrase ends (most phrases end at a bar line: :data:`END_AT_BAR`). The best reading of
  grid, meter and downbeat together wins; a pickup is written as a pickup.
* **The key.** Tonic and mode (maj, min, dor, mix) by the corpus's tonal profile (how
  melodies move in each mode, which degrees fall on the beats), then the profiles' key head
  (where the phrase starts and rests, its longest and lowest notes). With the composer's
  likelihood, the likeliest meters, keys and downbeats are written out and judged by it too.
* **Tokens.** The tune moved to C by the smaller move (as the corpus moves its tunes), pitches
  spelled in the mode of C with accidentals carried through the bar as ABC reads them, bar
  lines, dotted pairs written as broken rhythms (``>`` ``<``), triplets (``(3``) where thirds
  of a quarter note fit three onsets better than the grid does (:func:`find_triplets`; where
  they fit a little worse, the composer's likelihood, with the timing, decides), a note
  that crosses a bar line written as two (the vocabulary has no ties).

Where another meter or key scored close to the chosen one (the data say little), the reading
says so in ``ambiguity``; ``meter=`` and ``key=`` fix them when the player knows.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numba as nb
import numpy as np

from listener.midi.scheduler import TEMPI
from listener.transcribe.profiles import (
    BEAT,
    METERS,
    MODES,
    MelodyProfiles,
    interval_class,
    ioi_class,
    key_features,
    levels,
    sixteenths,
)
from listener.tunes.notation import (
    LENGTH_TOKENS,
    LETTER_SEMITONES,
    AbcError,
    Key,
    Pitch,
    parse_key,
)
from listener.tunes.notes import NoteEvent
from listener.tunes.tune import Tune
from listener.tunes.vocab import VOCAB

#: A player's timing error as heard, seconds (the spread of the onsets about their grid
#: points: the player's, and the hearing's, which dates an onset from its sound, earlier or
#: later by the instrument), and the onsets a local tempo is fitted to. Chosen on 400
#: training tunes rendered and heard (profiles alone; 0.025 s and 8 before, fitted to notes as
#: played): meter 0.858 to 0.871, bars 0.556 to 0.568 (0.03 s: 0.865, 0.04 s: 0.858; 12
#: notes alone 0.865, 16: 0.867); validation as heard with the composer 0.900 to 0.905, key
#: 0.842 to 0.847, bars 0.616 to 0.623 (on each half).
TIMING_SPREAD = 0.035
TEMPO_NOTES = 12
#: Each grid also places its onsets preferring eighths: an onset between an eighth's point and
#: an odd sixteenth's goes to the odd one only where it fits by ODD_SIXTEENTH nats more. A late
#: legato onset heard past the middle would otherwise turn running eighths into dotted
#: rhythms, and the reading that wins is half the tempo. Both placements are scored; grids
#: whose sixteenth is under ODD_FASTEST seconds (over 230 quarter notes a minute) get only the
#: nearest, or a polka's sixteenths would fit as a reel's eighths at twice its tempo.
ODD_SIXTEENTH = 1.0
ODD_FASTEST = 0.065
#: The first interval is placed before any line is fitted, from an onset dated from its attack
#: (heard earlier or later than a legato one, by the instrument): its timing is taken as twice
#: as uncertain, an odd sixteenth there needing FIRST_ODD times ODD_SIXTEENTH. On 400 training
#: tunes as heard (profiles alone): meter 0.855 to 0.858, bars 0.552 to 0.555 (2 to 16 alike).
FIRST_ODD = 4.0
#: A swung beat (hornpipes, and tunes played like them): where its sixteenths sound, in
#: sixteenths from where a straight grid has them. Players take a dotted pair near 2:1 rather
#: than as written, and swing plain eighths toward the same point: both off-beat points sound
#: at two thirds of the beat, and a note there is written as a dotted pair's (the corpus's
#: hornpipes write their pairs dotted nine times in ten).
SWING_WARP = (0.0, 0.0, 2.0 / 3.0, -1.0 / 3.0)
_SWUNG = np.array(SWING_WARP)
_STRAIGHT = np.zeros(4)
#: Placements whose timing scores this many nats below the best straight one's are not read
#: further (none of them won on the validation phrases; the reading takes a third less time).
TIMING_MARGIN = 40.0
#: Sixteenths (seconds) tried: quarter notes at 280 down to 50 a minute.
SIXTEENTHS = np.geomspace(60 / (4 * 280), 60 / (4 * 50), 90)
#: Each meter's tunes are danced at about one tempo (a reel in 4/4 near 180 quarter notes a
#: minute, a polka in 2/4 near 140: :data:`~listener.midi.scheduler.TEMPI`): a log-normal
#: prior on the tempo about it, of this spread (natural log), keeps a reading from doubling or
#: halving the tempo, and tells a polka's sixteenths from a jig's eighths. Players' tempos for
#: a dance span about a fifth either side of its middle (session reels measured at 90 to 124
#: half notes a minute): two spreads. The rhythm profiles alone favour writing running notes
#: as 2/4's sixteenths (most of the corpus's 2/4 tunes are written so) over 4/4's eighths at
#: twice the tempo; at twice this spread the prior let a reel be read so in one phrase of ten.
TEMPO_SPREAD = 0.1
#: Players take a dance within about this many tempo spreads of its middle; a reading further
#: out may be the tune at half or twice its tempo, read in halved or doubled note values (a
#: polka's sixteenths as a reel's eighths: the corpus writes the same rhythm both ways).
USUAL_SPREADS = 2.0
#: In a conversation, the phrase before's meter and key are this many times likelier than
#: each other one, and the tempo stays within this spread (natural log) of its tempo, as well
#: as near its dance's. The dance's tempo was once left out of a conversation: a reel read as
#: 2/4 at the reel's tempo then lost nothing by it, and a conversation read the meter worse
#: than phrases alone (0.885 against 0.896 on the validation tunes as heard; 0.905 with it).
CARRY_ODDS = 20.0
CARRY_SPREAD = 0.1
#: The answer's beat is foreseen on the line through all the phrase's onsets, each weighed
#: down by e for every CLOCK_SIXTEENTHS (a bar of 4/4) it came before the last: on the
#: validation calls as heard, the answer's start against the player's beat went from 15 ms
#: p50, 52 ms p90, 69 ms p95 (the line through the last eight alone) to 15, 43, 66 ms.
CLOCK_SIXTEENTHS = 16.0
#: How far the local tempo may stray from the reading's (a share of its sixteenth).
DRIFT = 0.12
#: With the composer's likelihood (``read_notes(likelihood=)``): the meters and, in each, the
#: keys written out for it to judge, and how much its judgement weighs against the profiles'
#: for the meter and for the key (on the validation phrases read from the notes as played,
#: humanised: meter 0.76 to 0.78, key 0.78 to 0.82, bars token-equal 0.48 to 0.54; the
#: weights held on either half of the tunes alone).
RERANK_METERS = 2
RERANK_KEYS = 3
RERANK_METER_WEIGHT = 0.1
RERANK_KEY_WEIGHT = 1.0
#: With the composer's likelihood, each judged meter's next best placings of the notes (another
#: downbeat, mostly: the bar lines an eighth or a beat off, which the rhythm and the beats'
#: pitches scarcely tell apart in running notes) are written out too, in their best key, each
#: weighed by the profiles' odds against the best placing. Up to RERANK_PLACINGS in all: on
#: 200 training tunes as played, humanised, bars token-equal 0.700 with one, 0.714 with two or
#: five; on each half of the validation tunes as heard (humanised), 0.575 and 0.611 with one,
#: 0.595 and 0.632 with two, 0.594 and 0.641 with three. The weights above are not chosen on
#: training tunes: the composer learnt them, and judges them too kindly (meter weight 0.3:
#: 0.914 there, against 0.871 on the validation tunes as heard, where 0.1 gives 0.896).
RERANK_PLACINGS = 2
#: A note that stops well before the next is followed by a rest: where the silence is an eighth
#: or more and this share of the interval or more (a breath is shorter). Chosen on 400 training
#: tunes rendered and heard (profiles alone): bars 0.5677 at a half, 0.5689 at 0.3, 0.5691 at
#: 0.2 (a quarter note and an eighth's rest, `G 2 z`, had been written `G 3`); validation as
#: heard with the composer 0.6228 to 0.6255, both halves up.
REST_SHARE = 0.2
#: A reading whose runner-up has at least this probability names it in ``ambiguity``.
AMBIGUOUS = 0.2
#: Trading (``read_notes(bars=N)``): a reading in which the phrase spans another number of
#: whole bars than the player said is this many times as likely as one that spans N.
BARS_MISS = 0.01
#: A phrase ends where a bar does: its last note sounds up to a bar line, or stops short of
#: one as players stop a note. Readings in which it does are likelier: this share of phrases
#: is taken to end so, the rest anywhere in the bar (a player may stop inside a bar).
END_AT_BAR = 0.7
#: The bar line counts as reached by a last note that sounds past it by up to ``END_PAST``
#: sixteenths, or stops short of it by up to ``END_SHORT`` sixteenths or ``END_SHORT_SHARE``
#: of its sounded length, whichever is more (a long last note let go early).
END_PAST, END_SHORT, END_SHORT_SHARE = 0.5, 2.0, 0.5
#: Three notes are a triplet when thirds of a quarter fit their times this much better (s).
TRIPLET_MARGIN = 0.005
#: With the composer's likelihood, triplets that fit up to TRIPLET_DOUBT seconds worse than the
#: grid (root mean square) are written out too, and the composer judges which writing is
#: likelier, with the two fits' likelihood as timing (a reel's ``(3 GAG`` is common, its
#: ``G/2 A G/2`` rare; 20 ms of jitter on 110 ms notes may hide either).
TRIPLET_DOUBT = 0.010
#: The tokens the phrase in C may be written with: the composer's.
IN_VOCABULARY = frozenset(VOCAB)
#: Degrees above the tonic, outside each mode, that data_v2 writes flat (counted on the corpus:
#: in major the flat seventh is ``_B`` 794 times and ``^A`` 15; in minor ``_D`` 7 and ``^C`` 4;
#: in dorian ``_A`` 10 and ``^G`` none; in mixolydian ``_E`` 7 and ``^D`` none); the others sharp.
FLAT_SPELLED = {"maj": (10,), "min": (1,), "dor": (8,), "mix": (3,)}
#: Tonic names, by pitch class, as a player would say them.
TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
#: Sixteenths a note may last, written with a length token (or none, for an eighth).
_WRITABLE = sorted({2, *(int(2 * f) for f in LENGTH_TOKENS if (2 * f).denominator == 1 and f <= 8)})


class Reading(NamedTuple):
    """A phrase heard, in folk-rnn's terms.

    Attributes
    ----------
    tempo : float
        Quarter notes a minute, at the phrase's end.
    meter : str
        The meter token (``M:6/8``).
    tonic : str
        The heard key's tonic (``D``, ``F#``, ``Bb``).
    mode : str
        ``maj``, ``min``, ``dor`` or ``mix``.
    shift : int
        Semitones the heard notes were moved down by to put the tonic on C.
    tokens : list of str
        data_v2 tokens in C: the meter, the key, the body.
    downbeat : float
        Seconds of a downbeat (the first bar line's, or where it would be).
    bar_seconds : float
        Seconds a bar lasts, on the line through all the phrase's onsets (where trading
        foresees bar lines, bars ahead).
    confidence : dict
        The probability of the chosen meter and of the chosen key, given the phrase.
    ambiguity : dict
        For the meter or the key: the runner-up and its probability, where it has at least
        ``AMBIGUOUS``.
    events : list of NoteEvent
        The notes on the grid, in the heard key, in beats (quarter notes) from the bar line
        at or before the first note (so that a pickup starts inside its bar), rests left out.
    heard_body : list of str
        The body as :attr:`tokens` has it, in the heard key (ABC; outside the vocabulary's
        range where the key takes it there).
    clock : tuple of float
        Where the grid stands at the phrase's end: the time (seconds) of the first note's
        grid point and the sixteenth's length, on the line through the onsets, the last
        weighing most (:data:`CLOCK_SIXTEENTHS`); a grid
        position ``p`` (sixteenths from the first note) falls at ``clock[0] + clock[1] * p``
        (on a swung grid, a beat's off-beat sixteenths sound where :data:`SWING_WARP` moves
        them).
    end : int
        The grid position (sixteenths from the first note) where the written phrase ends.
    phase : int
        Sixteenths from the first note to a bar line (0 when it starts the bar; less than a
        bar).
    evidence : dict
        The log scores behind the choice: ``meter`` (each meter's, summed over grids and
        downbeats) and ``key`` (12 tonics by 4 modes, at the chosen reading); the
        probabilities in :attr:`confidence` are these, tempered by the profiles' calibrated
        temperatures. With the composer's judgement, ``likelihood``: each writing it judged
        (``"6/8 Dmix"``; ``"6/8 Dmix #1"`` for the meter's next placing of the bar lines).
    swung : bool
        Whether the phrase was played swung (read on a swung grid; its tokens write the swung
        pairs as the corpus writes a hornpipe's, dotted).
    """

    tempo: float
    meter: str
    tonic: str
    mode: str
    shift: int
    tokens: list[str]
    downbeat: float
    bar_seconds: float
    confidence: dict
    ambiguity: dict
    events: list
    heard_body: list
    clock: tuple
    end: int
    phase: int
    evidence: dict
    swung: bool = False

    @property
    def key(self) -> str:
        """The heard key, as a K: field would say it (``Dmix``, ``F#min``)."""
        return f"{self.tonic}{self.mode}"

    def tune(self) -> Tune:
        """Return the phrase as a tune in C (data_v2's tokens)."""
        return Tune(self.tokens[0], self.tokens[1], list(self.tokens[2:]))

    def time_of(self, position: float) -> float:
        """Seconds at which a grid position (sixteenths from the first note) falls."""
        return self.clock[0] + self.clock[1] * position

    @property
    def beat_seconds(self) -> float:
        """Seconds a beat of the meter lasts (a dotted quarter in 6/8) at the phrase's end."""
        return self.clock[1] * BEAT[self.meter]

    @property
    def pace(self) -> int:
        """1 where the tempo is faster than players take the dance, -1 slower, else 0.

        Beyond :data:`USUAL_SPREADS` spreads of the tempo prior: perhaps the tune at half or
        twice its tempo, in halved or doubled note values.
        """
        usual = np.log(self.tempo / TEMPI[self.meter]) / TEMPO_SPREAD
        return int(usual > USUAL_SPREADS) - int(usual < -USUAL_SPREADS)

    @property
    def rest_beat(self) -> int:
        """Sixteenths of the beat a rest after the phrase is measured in.

        The meter's beat, or half of it where the reading is slow (:attr:`pace`: its beat may
        be two of the player's).
        """
        beat = BEAT[self.meter]
        return beat // 2 if self.pace < 0 and beat % 2 == 0 else beat

    def foreseen_bars(self) -> tuple[float, float, int]:
        """Where bar lines fall after the phrase, as its end foresees them (trading).

        Returns the time (seconds) of the last bar line at or before the written end and a
        bar's seconds, both on :attr:`clock` (the tempo as the phrase ends, not its mean),
        and the whole bars heard from the first bar line to that one.
        """
        bar = sixteenths(self.meter)
        whole = (self.end - self.phase) // bar
        return self.time_of(self.phase + bar * whole), self.clock[1] * bar, int(whole)

    @property
    def rest_beat_seconds(self) -> float:
        """Seconds of :attr:`rest_beat` at the phrase's end."""
        return self.clock[1] * self.rest_beat

    def heard_tune(self) -> Tune:
        """Return the phrase as a tune in the key it was played in (for ABC)."""
        return Tune(self.meter, f"K:{self.key}", list(self.heard_body))


class _Grid(NamedTuple):
    # the onsets placed on one grid: positions (sixteenths from the first onset), the timing
    # score, and the local sixteenth and the line's intercept at the end
    positions: np.ndarray
    score: float
    sixteenth: float
    intercept: float
    swing: int = -1  # the first onset's sixteenth within its beat on a swung grid; -1: straight


@nb.njit(cache=True)
def _sounds_at(k, warp, beat):  # pragma: no cover - compiled
    # where grid position k sounds, in sixteenths on the line: k, moved on a swung grid
    return k + warp[(k + beat) % 4]


@nb.njit(cache=True)
def _place(onsets, sixteenth, window, drift, odd, first_odd, warp, beat):  # pragma: no cover
    # grid position k sounds at intercept + slope * _sounds_at(k): warp is zero on a straight
    # grid, and moves a swung beat's off-beat sixteenths (beat: the first onset's sixteenth
    # within its beat)
    n_notes = onsets.shape[0]
    positions = np.zeros(n_notes, dtype=np.int64)
    swung = np.any(warp != 0.0)
    squared = 0.0
    slope, intercept = sixteenth, onsets[0] - sixteenth * _sounds_at(0, warp, beat)
    for n in range(1, n_notes):
        at = (onsets[n] - intercept) / slope
        if swung:  # the grid point whose swung time is nearest
            k = positions[n - 1] + 1
            best = 1.0e9
            for c in range(max(positions[n - 1] + 1, int(np.floor(at)) - 1), int(np.floor(at)) + 3):
                miss = abs(_sounds_at(c, warp, beat) - at)
                if miss <= best + 1e-9:  # a tie: the later point (a dotted pair's)
                    best, k = miss, c
        else:
            k = max(positions[n - 1] + 1, int(np.round(at)))
        if k % 2 == 1 and not swung:  # an odd sixteenth only where it fits by more than `odd`
            even = k - 1 if at < k else k + 1
            if even > positions[n - 1]:
                miss = onsets[n] - (intercept + slope * k)
                miss_even = onsets[n] - (intercept + slope * even)
                if miss_even * miss_even < miss * miss + (first_odd if n == 1 else odd):
                    k = even
        positions[n] = k
        error = onsets[n] - (intercept + slope * _sounds_at(k, warp, beat))
        squared += error * error
        first = max(0, n + 1 - window)
        if n - first >= 2:
            # least squares through the last onsets; the slope kept near the grid's
            mx = 0.0
            my = 0.0
            for i in range(first, n + 1):
                mx += _sounds_at(positions[i], warp, beat)
                my += onsets[i]
            mx /= n + 1 - first
            my /= n + 1 - first
            sxy = 0.0
            sxx = 0.0
            for i in range(first, n + 1):
                x = _sounds_at(positions[i], warp, beat) - mx
                sxy += x * (onsets[i] - my)
                sxx += x**2
            slope = min(max(sxy / sxx, sixteenth * (1 - drift)), sixteenth * (1 + drift))
            intercept = my - slope * mx
        else:
            intercept = onsets[n] - slope * _sounds_at(k, warp, beat)
    return positions, squared, slope, intercept


def place_on_grid(
    onsets: np.ndarray, sixteenth: float, *, odd: float = 0.0, swing: int | None = None
) -> _Grid:
    """Place onsets (seconds) on a grid of ``sixteenth`` seconds that follows tempo drift.

    Each onset goes to the grid point nearest a line fitted to the last ``TEMPO_NOTES``
    onsets (its slope within ``DRIFT`` of the grid's); with ``odd`` (nats), to an odd
    sixteenth only where that fits by ``odd`` more than the eighth beside it (``FIRST_ODD``
    times that for the second onset, placed before any line is fitted). With ``swing``
    (the first onset's sixteenth within its quarter-note beat), the grid is swung: each
    beat's off-beat points sound where :data:`SWING_WARP` puts them. The score is the log
    likelihood of the onsets' errors about the line. A first onset that fits badly (a stray:
    the tail of a note before, a grace note alone) is placed on the line through the ones
    after it instead, when that fits the whole better (on a straight grid).
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    odd = 2 * TIMING_SPREAD**2 * odd
    warp, beat = (_STRAIGHT, 0) if swing is None else (_SWUNG, swing)
    positions, squared, slope, intercept = _place(
        onsets, float(sixteenth), TEMPO_NOTES, DRIFT, odd, FIRST_ODD * odd, warp, beat
    )
    if onsets.shape[0] > 4 and swing is None:
        # the first onset may be a stray (the tail of a note before, a grace note alone):
        # the grid anchored on the second, the first placed on the line through the next
        # few, wins when it fits better
        rest, rest_squared, rest_slope, rest_intercept = _place(
            onsets[1:], float(sixteenth), TEMPO_NOTES, DRIFT, odd, FIRST_ODD * odd, warp, 0
        )
        early = slice(0, min(TEMPO_NOTES, rest.shape[0]))
        line_slope, line_origin = _line(rest[early], onsets[1:][early])
        first = min(-1, int(np.round((onsets[0] - line_origin) / line_slope)))
        error = onsets[0] - (line_origin + line_slope * first)
        if rest_squared + error * error < squared:
            positions = np.concatenate([[0], rest - first])
            squared = rest_squared + error * error
            slope, intercept = rest_slope, rest_intercept + rest_slope * first
    score = -0.5 * squared / TIMING_SPREAD**2
    return _Grid(
        positions, float(score), float(slope), float(intercept), -1 if swing is None else swing
    )


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    # least squares slope and intercept of y on x (np.polyfit's, at a tenth of its cost)
    mx, my = x.mean(), y.mean()
    slope = float(((x - mx) * (y - my)).sum() / ((x - mx) ** 2).sum())
    return slope, float(my - slope * mx)


def _meter_scores(
    positions: np.ndarray,
    classes: np.ndarray,
    intervals: np.ndarray,
    profiles: MelodyProfiles,
    *,
    meter: str,
    phases: np.ndarray,
) -> np.ndarray:
    # log P(the walk | meter, downbeat) for each downbeat (sixteenths after the first onset),
    # with where in the bar the melody moves as it does (classes: of the inter-onset
    # intervals; intervals: to each next note), summed over the meter's rhythmic styles
    bar = sixteenths(meter)
    where = (positions[None, :] - phases[:, None]) % bar  # (phases, notes)
    scores = profiles.first[meter][:, where[:, 0]]  # (styles, phases)
    if len(positions) > 1:
        scores = scores + profiles.onsets[meter][:, where[:, :-1], classes].sum(axis=2)
        scores = scores + profiles.contour[meter][:, where[:, :-1], intervals].sum(axis=2)
    by_style = scores + profiles.style_prior[meter][:, None]
    return np.logaddexp.reduce(by_style, axis=0) + profiles.meter_prior[METERS.index(meter)]


def _end_score(last: float, sounded: float, phases: np.ndarray, bar: int) -> np.ndarray:
    # log P(where the phrase ends | meter, downbeat) for each downbeat: the last note's onset
    # (grid position) and sounded length (sixteenths); at a bar line (within a window
    # `width` sixteenths wide) with probability END_AT_BAR, else anywhere in the bar
    width = END_PAST + max(END_SHORT, END_SHORT_SHARE * sounded)
    first = math.ceil(last + sounded - END_PAST)  # the bar lines (grid points) in the window
    span = math.floor(last + sounded - END_PAST + width) - first
    anywhere = (1.0 - END_AT_BAR) / bar
    at_bar = (phases - first) % bar <= span
    return np.where(at_bar, math.log(END_AT_BAR / width + anywhere), math.log(anywhere))


def _swing_score(grid: _Grid, meter: str, profiles: MelodyProfiles) -> float | None:
    # log prior of the grid's swing (or its straightness) in this meter; None where a swung
    # grid has no place (a compound meter's beat is no quarter note)
    share = profiles.swing_share.get(meter)
    if share is None:
        return None if grid.swing >= 0 else 0.0
    return float(np.log(share) if grid.swing >= 0 else np.log1p(-share))


def _tempo_score(sixteenth: float, meter: str, carry=None) -> float:
    # log prior of this grid's tempo for a tune in `meter`: about the dance's tempo, and in a
    # conversation also about the phrase before's, in its meter (likelier by CARRY_ODDS)
    tempo = 60.0 / (4 * sixteenth)
    score = -0.5 * (np.log(tempo / TEMPI[meter]) / TEMPO_SPREAD) ** 2
    if carry is not None:
        score += -0.5 * (np.log(tempo / carry.tempo) / CARRY_SPREAD) ** 2
        score += np.log(CARRY_ODDS) if meter == carry.meter else 0.0
    return float(score)


class _Tonal:
    """The pitches' part of the score, under every key, for any placement of the beats."""

    def __init__(self, pitch_classes: np.ndarray, profiles: MelodyProfiles) -> None:
        # degrees of each note above each tonic; how the melody moves in each key (modes,
        # tonics); and how much likelier a degree is at each metrical level than anywhere
        self.degrees = (pitch_classes[None, :] - np.arange(12)[:, None]) % 12  # (tonics, notes)
        d = self.degrees
        steps = profiles.steps[:, d[:, :-1], d[:, 1:]].sum(axis=2)
        self.steps = steps + profiles.mode_prior[:, None]
        anywhere = np.logaddexp.reduce(profiles.pitch, axis=1) - np.log(profiles.pitch.shape[1])
        lift = profiles.pitch - anywhere[:, None, :]  # (modes, levels, 12)
        # each note's lift at each level under each key: (levels, notes, modes * tonics)
        by_note = lift[:, :, d]  # (modes, levels, tonics, notes)
        self.by_level = by_note.transpose(1, 3, 0, 2).reshape(lift.shape[1], d.shape[1], -1)

    def scores(self, level: np.ndarray) -> np.ndarray:
        """Score every downbeat and key, (downbeats, modes, tonics), by the notes' levels.

        ``level``: each note's metrical level under each downbeat, (downbeats, notes).
        """
        total = sum(
            (level == v).astype(np.float64) @ self.by_level[v] for v in range(len(self.by_level))
        )  # (downbeats, modes * tonics)
        return self.steps[None, :, :] + total.reshape(level.shape[0], *self.steps.shape)


def _posterior(scores: np.ndarray) -> np.ndarray:
    p = np.exp(scores - scores.max())
    return p / p.sum()


def _parse_meter(meter: str) -> str:
    token = meter if meter.startswith("M:") else f"M:{meter}"
    if token not in METERS:
        raise ValueError(f"meter {meter!r} is not one of folk-rnn's: {', '.join(METERS)}")
    return token


def _parse_key(key: str) -> tuple[int, str]:
    try:
        parsed = parse_key(key)
    except AbcError as exc:
        raise ValueError(f"key {key!r}: {exc}; write it as D, Dmix, F#min or Bbdor") from None
    return parsed.tonic_class, parsed.mode


def read_notes(
    notes,
    profiles: MelodyProfiles,
    *,
    meter: str | None = None,
    key: str | None = None,
    carry: Reading | None = None,
    likelihood=None,
    bars: int | None = None,
) -> Reading:
    """Write notes heard as folk-rnn tokens in C (see the module doc).

    Parameters
    ----------
    notes : sequence of Note
        In time order, at least two (``onset``, ``offset`` in seconds, ``pitch`` MIDI).
    profiles : MelodyProfiles
        The corpus's metrical and tonal profiles.
    meter : str, optional
        ``6/8`` or ``M:6/8``, when the player knows.
    key : str, optional
        ``Dmix``, ``F#min``, ``G`` (major), when the player knows.
    carry : Reading, optional
        The phrase before, in a conversation: its meter, key and tempo are likelier than the
        others (``CARRY_ODDS``; the tempo within ``CARRY_SPREAD``), not certain.
    likelihood : callable, optional
        The composer's judgement (:meth:`FolkLSTM.likelihood
        <listener.tunes.lstm.FolkLSTM.likelihood>`: token lists to their log-likelihoods).
        With it, the profiles' ``RERANK_METERS`` likeliest meters and ``RERANK_KEYS`` likeliest
        keys in each are written out, and the model's likelihood of each writing joins the
        profiles' scores (:func:`_rerank`).
    bars : int, optional
        The bars the player says the phrase is (trading, ``--bars N``): readings in which it
        spans another number of whole bars are ``BARS_MISS`` times as likely.
    """
    if len(notes) < 2:
        raise ValueError(f"a phrase needs two notes or more to have a beat; got {len(notes)}")
    meters = [_parse_meter(meter)] if meter is not None else list(METERS)
    fixed_key = _parse_key(key) if key is not None else None
    onsets = np.array([n.onset for n in notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in notes])
    tonal = _Tonal(pitches % 12, profiles)
    intervals = interval_class(np.diff(pitches))
    # every grid, meter and downbeat, scored by rhythm and by the pitches on its beats; grids
    # that place the onsets alike are scored once, with the best fit among them
    placements: dict[tuple[bytes, int], _Grid] = {}
    for sixteenth in SIXTEENTHS:
        grids = [place_on_grid(onsets, sixteenth)]
        if sixteenth >= ODD_FASTEST:
            grids.append(place_on_grid(onsets, sixteenth, odd=ODD_SIXTEENTH))
        if profiles.swing_share:
            grids += [place_on_grid(onsets, sixteenth, swing=beat) for beat in range(4)]
        for grid in grids:
            seen = placements.get((grid.positions.tobytes(), grid.swing))
            if seen is None or grid.score > seen.score:
                placements[grid.positions.tobytes(), grid.swing] = grid
    # each meter's best grids and downbeats (with their keys' scores), and its evidence summed
    placings: dict[str, list[tuple[float, _Grid, int, np.ndarray]]] = {m: [] for m in meters}
    by_meter = {m: -np.inf for m in meters}
    carried_key = np.zeros((len(MODES), 12))  # the phrase before's key is CARRY_ODDS likelier
    if carry is not None:
        carried_key[MODES.index(carry.mode), TONICS.index(carry.tonic)] = np.log(CARRY_ODDS)
    last_sounded = notes[-1].offset - notes[-1].onset
    # against the best straight grid, so that every meter keeps grids to be read on
    fits = max(g.score for g in placements.values() if g.swing < 0) - TIMING_MARGIN
    for grid in placements.values():
        if grid.score < fits:
            continue
        classes = ioi_class(np.diff(grid.positions))
        sounded = last_sounded / grid.sixteenth  # the last note, in this grid's sixteenths
        for m in meters:
            swing = _swing_score(grid, m, profiles)
            if swing is None:
                continue
            bar = sixteenths(m)
            # the downbeats: any; on a swung grid, those on its beats
            phases = np.arange(bar) if grid.swing < 0 else np.arange(-grid.swing % 4, bar, 4)
            level = levels(m, grid.positions[None, :] - phases[:, None])
            keys = tonal.scores(level)  # (downbeats, modes, tonics)
            with_carry = keys + carried_key
            if fixed_key is not None:
                keys = keys[:, MODES.index(fixed_key[1]), fixed_key[0]][:, None, None]
                with_carry = keys
            totals = grid.score + _meter_scores(
                grid.positions, classes, intervals, profiles, meter=m, phases=phases
            )
            totals = totals + swing
            totals = totals + _tempo_score(grid.sixteenth, m, carry)
            totals = totals + _end_score(grid.positions[-1], sounded, phases, bar)
            if bars is not None:  # the whole bars from the first downbeat to the last note's end
                end = grid.positions[-1] + max(1.0, sounded)
                spans = np.round((end - phases) / bar)
                totals = totals + np.where(spans == bars, 0.0, np.log(BARS_MISS))
            totals = totals + np.logaddexp.reduce(with_carry.reshape(len(phases), -1), axis=1)
            by_meter[m] = np.logaddexp(by_meter[m], np.logaddexp.reduce(totals))
            for top in np.argsort(-totals)[:RERANK_PLACINGS]:
                placings[m].append((float(totals[top]), grid, int(phases[top]), keys[top].T))
    for m in meters:
        placings[m] = sorted(placings[m], key=lambda placing: -placing[0])[:RERANK_PLACINGS]
    meter_scores = {m: float(by_meter[m]) for m in meters}
    posterior = _posterior(np.array(list(meter_scores.values())) / profiles.meter_temperature)
    meter_p = dict(zip(meters, posterior, strict=True))

    features = key_features(pitches, onsets, notes[-1].offset)

    def key_posterior(m: str, placing: int = 0) -> np.ndarray:  # (tonics, modes)
        if fixed_key is not None:  # or the key given
            one = np.zeros((12, len(MODES)))
            one[fixed_key[0], MODES.index(fixed_key[1])] = 1.0
            return one
        odds = profiles.key_log_odds(placings[m][placing][3], features) + carried_key.T
        return _posterior(odds.ravel()).reshape(12, len(MODES))

    layouts: dict[tuple[str, int], dict] = {}

    def layout_of(m: str, placing: int = 0) -> dict:  # where the notes fall in that reading
        if (m, placing) not in layouts:
            _, grid, phase, _ = placings[m][placing]
            layouts[m, placing] = _layout(notes, onsets, grid, meter=m, phase=phase)
        return layouts[m, placing]

    ranked_meters = sorted(meters, key=lambda m: -meter_p[m])
    candidates: list[_Candidate] = []
    for m in ranked_meters[: RERANK_METERS if likelihood is not None else 1]:
        key_p = key_posterior(m)
        for flat in np.argsort(-key_p.ravel())[: RERANK_KEYS if likelihood is not None else 1]:
            tonic, mode_index = divmod(int(flat), len(MODES))
            if key_p.ravel()[flat] > 0:
                candidates.append(_Candidate(m, tonic, MODES[mode_index], key_p.ravel()[flat]))
        if likelihood is None:
            continue
        for placing in range(1, len(placings[m])):  # the next placings, in their best key
            key_p = key_posterior(m, placing)
            tonic, mode_index = divmod(int(np.argmax(key_p)), len(MODES))
            odds = placings[m][placing][0] - placings[m][0][0]
            candidates.append(_Candidate(m, tonic, MODES[mode_index], key_p.max(), placing, odds))
    chosen, weighed = 0, None
    if len(candidates) > 1:
        writings = [
            _tokens_in_c(pitches, layout_of(c.meter, c.placing), tonic=c.tonic, mode=c.mode)
            for c in candidates
        ]
        scores = likelihood(writings)
        chosen = _rerank(candidates, meter_p, scores)
        weighed = {c.label: round(float(x), 2) for c, x in zip(candidates, scores, strict=True)}
    chosen_meter, tonic, mode, _, chosen_placing, _ = candidates[chosen]
    _, chosen_grid, _, chosen_keys = placings[chosen_meter][chosen_placing]
    layout = layout_of(chosen_meter, chosen_placing)
    if likelihood is not None:
        layout = _judge_triplets(
            notes,
            onsets,
            pitches,
            chosen_grid,
            layout,
            tonic=tonic,
            mode=mode,
            likelihood=likelihood,
        )
    evidence = {"meter": meter_scores, "key": chosen_keys}
    if weighed is not None:
        evidence["likelihood"] = weighed
    reading = _write(
        onsets,
        pitches,
        chosen_grid,
        layout,
        tonic=tonic,
        mode=mode,
        evidence=evidence,
    )
    key_p = key_posterior(chosen_meter, chosen_placing)
    confidence = {"meter": round(float(meter_p[chosen_meter]), 3)}
    ambiguity: dict = {}
    others = [m for m in ranked_meters if m != chosen_meter]
    if others and meter_p[others[0]] >= AMBIGUOUS:
        ambiguity["meter"] = {
            "runner_up": others[0][2:],
            "probability": round(float(meter_p[others[0]]), 3),
        }
    confidence["key"] = round(float(key_p[tonic, MODES.index(mode)]), 3)
    flat_p = key_p.ravel().copy()
    flat_p[tonic * len(MODES) + MODES.index(mode)] = -1.0
    runner = int(np.argmax(flat_p))
    if fixed_key is None and flat_p[runner] >= AMBIGUOUS:
        t2, m2 = divmod(runner, len(MODES))
        ambiguity["key"] = {
            "runner_up": {"tonic": TONICS[t2], "mode": MODES[m2]},
            "probability": round(float(flat_p[runner]), 3),
        }
    return reading._replace(confidence=confidence, ambiguity=ambiguity)


class _Candidate(NamedTuple):
    # a writing for the composer to judge: meter, key (and its probability), and which of
    # the meter's placings (its log odds against the best)
    meter: str
    tonic: int
    mode: str
    key_p: float
    placing: int = 0
    odds: float = 0.0

    @property
    def label(self) -> str:  # as the reading's evidence names it: "6/8 Dmix", "6/8 Dmix #1"
        name = f"{self.meter[2:]} {TONICS[self.tonic]}{self.mode}"
        return name + (f" #{self.placing}" if self.placing else "")


def _judge_triplets(
    notes, onsets, pitches, grid: _Grid, layout: dict, *, tonic: int, mode: str, likelihood
) -> dict:
    # the layout with the triplets in doubt (fitting up to TRIPLET_DOUBT worse than the grid)
    # where the composer finds its writing likelier, timing and all; else the layout as found
    meter, phase = layout["meter"], layout["phase"]
    doubtful = find_triplets(
        onsets, grid.positions, meter=meter, phase=phase, margin=-TRIPLET_DOUBT
    )
    if doubtful == layout["triplets"]:
        return layout
    other = _layout(notes, onsets, grid, meter=meter, phase=phase, triplets=doubtful)
    both = (layout, other)
    judged = np.asarray(
        likelihood([_tokens_in_c(pitches, each, tonic=tonic, mode=mode) for each in both]),
        dtype=np.float64,
    )
    judged += [_triplet_timing(onsets, grid.positions, each["triplets"]) for each in both]
    return other if judged[1] > judged[0] else layout


def _rerank(candidates, meter_p: dict, scores) -> int:
    # the meter by its profiles' probability times the model's likelihood of its writings
    # (summed over its keys and placings), tempered by RERANK_METER_WEIGHT; then, in that
    # meter, the placing and key by their probabilities times the model's likelihood
    # (RERANK_KEY_WEIGHT)
    scores = np.asarray(scores, dtype=np.float64)
    key_log_p = np.log([c.key_p for c in candidates])
    joint = key_log_p + RERANK_METER_WEIGHT * scores
    by_meter: dict[str, float] = {}
    for c, x in zip(candidates, joint, strict=True):
        by_meter[c.meter] = float(np.logaddexp(by_meter.get(c.meter, -np.inf), x + c.odds))
    meter = max(by_meter, key=lambda m: np.log(meter_p[m]) + by_meter[m])
    inside = [i for i, c in enumerate(candidates) if c.meter == meter]
    return max(
        inside,
        key=lambda i: candidates[i].odds + key_log_p[i] + RERANK_KEY_WEIGHT * scores[i],
    )


def _layout(notes, onsets, grid: _Grid, *, meter: str, phase: int, triplets=None) -> dict:
    # where the notes fall on one grid, meter and downbeat, whatever the key: positions,
    # lengths and rests (sixteenths), triplets (found, or given); what write_body takes
    # besides the pitches
    positions = grid.positions
    last = _last_length(notes[-1], positions[-1] - phase, grid.sixteenth)
    iois = np.append(np.diff(positions), last)
    lengths, rests = _lengths_and_rests(notes, positions, iois, grid.sixteenth)
    if triplets is None:
        triplets = find_triplets(onsets, positions, meter=meter, phase=phase)
    for first in triplets:  # three notes in the time of two eighths, rests and all
        lengths[first : first + 3], rests[first : first + 3] = 0, 0
    return {
        "positions": positions,
        "lengths": lengths,
        "rests": rests,
        "meter": meter,
        "phase": phase,
        "triplets": triplets,
    }


def _tokens_in_c(pitches: np.ndarray, layout: dict, *, tonic: int, mode: str) -> list[str]:
    # the phrase moved to C and written in data_v2's tokens: meter, key, body
    body = write_body(
        pitches - _shift(pitches, tonic),
        key=Key("C", 0, mode),
        vocabulary=IN_VOCABULARY,
        **layout,
    )
    return [layout["meter"], f"K:C{mode}", *body]


def _write(
    onsets: np.ndarray,
    pitches: np.ndarray,
    grid: _Grid,
    layout: dict,
    *,
    tonic: int,
    mode: str,
    evidence: dict,
) -> Reading:
    # the reading of one grid, meter, downbeat and key: tokens in C and in the heard key,
    # the notes in beats, where the bars fall (confidence and ambiguity left to the caller)
    meter, phase = layout["meter"], layout["phase"]
    positions, lengths, triplets = layout["positions"], layout["lengths"], layout["triplets"]
    bar = sixteenths(meter)
    shift = _shift(pitches, tonic)
    tokens = _tokens_in_c(pitches, layout, tonic=tonic, mode=mode)
    heard_body = write_body(pitches, key=parse_key(f"{TONICS[tonic]}{mode}"), **layout)
    downbeat = grid.intercept + grid.sixteenth * (phase + bar * ((positions[-1] - phase) // bar))
    origin = phase - bar * -(-phase // bar)  # the bar line at or before the first note
    starts = [Fraction(int(at - origin), 4) for at in positions]
    durations = [Fraction(int(n), 4) for n in lengths]
    for first in triplets:  # a third of a quarter note each
        for k in range(3):
            starts[first + k] = Fraction(int(positions[first] - origin), 4) + Fraction(k, 3)
            durations[first + k] = Fraction(1, 3)
    events = [NoteEvent(int(p), a, d) for p, a, d in zip(pitches, starts, durations, strict=True)]
    return Reading(
        tempo=60.0 / (4 * grid.sixteenth),
        meter=meter,
        tonic=TONICS[tonic],
        mode=mode,
        shift=shift,
        tokens=tokens,
        downbeat=float(downbeat),
        bar_seconds=bar * _mean_sixteenth(onsets, positions, grid.sixteenth),
        confidence={},
        ambiguity={},
        events=events,
        heard_body=heard_body,
        clock=_clock(onsets, positions, grid, triplets),
        end=int(positions[-1] + lengths[-1] + layout["rests"][-1]),
        phase=int(phase),
        evidence=dict(evidence),
        swung=grid.swing >= 0,
    )


def _clock(onsets: np.ndarray, positions: np.ndarray, grid: _Grid, triplets) -> tuple:
    # where the grid stands at the phrase's end: the line through the onsets (of a triplet,
    # its first), each weighed down by e per CLOCK_SIXTEENTHS before the last, its slope
    # within DRIFT of the grid's local one; that local line where too few onsets to fit
    kept = np.ones(len(positions), dtype=bool)
    for first in triplets:
        kept[first + 1 : first + 3] = False
    sounds = positions.astype(np.float64)
    if grid.swing >= 0:  # where a swung beat's off-beat sixteenths sound
        sounds = sounds + _SWUNG[(positions + grid.swing) % 4]
    x, y = sounds[kept], np.asarray(onsets, dtype=np.float64)[kept]
    if len(x) < 4 or x[-1] - x[0] < 8:
        return (grid.intercept, grid.sixteenth)
    weight = np.exp((x - x[-1]) / CLOCK_SIXTEENTHS)
    mx, my = np.average(x, weights=weight), np.average(y, weights=weight)
    slope = float((weight * (x - mx) * (y - my)).sum() / (weight * (x - mx) ** 2).sum())
    slope = min(max(slope, grid.sixteenth * (1 - DRIFT)), grid.sixteenth * (1 + DRIFT))
    return (float(my - slope * mx), slope)


def _mean_sixteenth(onsets: np.ndarray, positions: np.ndarray, local: float) -> float:
    # the sixteenth of the line through all the phrase's onsets: steadier than the local one
    # over a few notes, for bar lines foreseen bars ahead (trading); the local one without
    # the onsets to fit
    if positions[-1] - positions[0] < 8 or len(onsets) < 4:
        return local
    return _line(positions, onsets)[0]


def warm_up(profiles: MelodyProfiles) -> None:
    """Read a made-up phrase once, so that the grid's kernel compiles before anyone waits.

    Compiling takes about a second, the first time in a process.
    """
    from listener.transcribe.notes import Note

    read_notes([Note(0.25 * i, 0.25 * i + 0.2, 62 + i % 3, 1.0) for i in range(6)], profiles)


def _lengths_and_rests(notes, positions, iois, sixteenth) -> tuple[np.ndarray, np.ndarray]:
    # a note sounds until the next starts, unless it stopped well before: a rest of an eighth
    # or more and REST_SHARE of the interval or more (a breath between notes is no rest)
    lengths = iois.copy()
    rests = np.zeros_like(iois)
    for n in range(len(notes) - 1):
        sounded = max(1, round((notes[n].offset - notes[n].onset) / sixteenth))
        gap = iois[n] - sounded
        if gap >= 2 and gap >= REST_SHARE * iois[n]:
            lengths[n], rests[n] = sounded, gap
    return lengths, rests


def _last_length(note, from_bar: int, sixteenth: float) -> int:
    # the phrase's last note, in sixteenths: as a player shortens every note before the next
    # (more so before a breath), it is written as long as the shortest length that holds its
    # sound less a quarter of a sixteenth and ends on an eighth of the bar
    sounded = (note.offset - note.onset) / sixteenth
    length = max(1, int(np.ceil(sounded - 0.25)))
    return length + (from_bar + length) % 2


def _shift(pitches: np.ndarray, tonic: int) -> int:
    # semitones down to put the tonic on C, as the corpus moves its tunes: the smaller move
    # (down on a tie), or the other when notes would leave the vocabulary (C, to b')
    low, high = 48, 95
    for shift in sorted({tonic, tonic - 12}, key=lambda s: (abs(s), -s)):
        if np.all(pitches - shift >= low) and np.all(pitches - shift <= high):
            return shift
    return tonic if abs(tonic) <= abs(tonic - 12) else tonic - 12


def spell(
    midi: int,
    signature: dict[int, int],
    carried: dict[int, int],
    *,
    vocabulary=None,
    flats: frozenset[int] = frozenset(),
) -> str:
    """Write a MIDI pitch as ABC (a token, in C), with an accidental only where needed.

    ``signature``: each letter's alteration in the key; ``carried``: alterations written
    earlier in the bar (updated here), which ABC carries to the bar line. A note outside the
    key is written sharp, or flat where its pitch class is in ``flats`` (:func:`flats_of`).
    With ``vocabulary`` (a set of tokens), the spelling is one it holds: another spelling of
    the pitch, else the pitch an octave toward the middle (data_v2 has no ``=a'``; the
    composer refuses a token it does not know).
    """
    octave, pc = divmod(int(midi), 12)
    options = []
    for step in range(7):
        for alteration in (0, 1, -1):
            if (LETTER_SEMITONES[step] + alteration) % 12 == pc:
                # the key's own spelling first, then naturals, then sharps (flats in `flats`)
                off_key = alteration != signature[step]
                away = alteration != (-1 if pc in flats else 1)
                options.append((off_key, abs(alteration), away, step, alteration))
    for *_, step, alteration in sorted(options):
        written_octave = octave - 1 - (LETTER_SEMITONES[step] + alteration) // 12
        in_force = carried.get(step, signature[step])
        explicit = None if in_force == alteration else alteration
        text = Pitch(explicit, step, written_octave).text()
        if vocabulary is None or text in vocabulary:
            carried[step] = alteration
            return text
    nearer = midi - 12 if midi > 72 else midi + 12
    return spell(nearer, signature, carried, vocabulary=vocabulary, flats=flats)


def flats_of(key: Key) -> frozenset[int]:
    """Pitch classes outside ``key`` that the corpus writes flat (:data:`FLAT_SPELLED`)."""
    return frozenset((key.tonic_class + degree) % 12 for degree in FLAT_SPELLED[key.mode])


def length_tokens(sixteenths_long: int) -> list[str]:
    """Return the length token of a note this many sixteenths long (none for an eighth).

    The nearest length the vocabulary writes, where it has no token for this one.
    """
    n = min(_WRITABLE, key=lambda w: (abs(w - sixteenths_long), w))
    return [] if n == 2 else [LENGTH_TOKENS[Fraction(n, 2)]]


def _triplet_misfits(onsets, positions, first: int) -> tuple[float, float]:
    # the squared distances (s^2) of three onsets from the sixteenth grid and from thirds of
    # the quarter from the first to the fourth
    span = onsets[first + 3] - onsets[first]
    times = onsets[first : first + 3] - onsets[first]
    grid = (positions[first : first + 3] - positions[first]) * span / 4
    thirds = np.arange(3) * span / 3
    return float(np.sum((times - grid) ** 2)), float(np.sum((times - thirds) ** 2))


def _triplet_timing(onsets, positions, triplets) -> float:
    # log-likelihood of the onsets' times with these triplets, against none (TIMING_SPREAD)
    total = 0.0
    for first in triplets:
        on_grid, in_thirds = _triplet_misfits(onsets, positions, first)
        total += (on_grid - in_thirds) / (2 * TIMING_SPREAD**2)
    return total


def find_triplets(
    onsets, positions, *, meter: str, phase: int, margin: float = TRIPLET_MARGIN
) -> list[int]:
    """Find the notes that begin triplets: three notes in the time of two eighths.

    Where exactly three onsets fall in a quarter note that starts on an eighth and stays in
    its bar, and the next onset comes a quarter after the first, the three are a triplet when
    thirds of that quarter fit their times better than the sixteenth grid does (by ``margin``
    seconds, root mean square; negative: worse by up to that).
    """
    bar = sixteenths(meter)
    found: list[int] = []
    n = len(positions)
    i = 0
    while i + 3 < n:
        p = positions[i]
        ok = (
            (p - phase) % 2 == 0
            and positions[i + 3] == p + 4
            and positions[i + 2] < p + 4
            and (p - phase) % bar + 4 <= bar
        )
        if ok:
            on_grid, in_thirds = _triplet_misfits(onsets, positions, i)
            if np.sqrt(in_thirds / 3) + margin < np.sqrt(on_grid / 3):
                found.append(i)
                i += 3
                continue
        i += 1
    return found


def write_body(
    pitches,
    positions,
    lengths,
    rests,
    *,
    meter: str,
    phase: int,
    key: Key,
    triplets: list[int] = (),
    vocabulary=None,
) -> list[str]:
    """Body tokens for notes on a grid of sixteenths, with bar lines of ``meter``.

    Parameters
    ----------
    pitches : array of int
        MIDI pitches, already in C.
    positions : array of int
        Each note's onset, sixteenths from the first.
    lengths, rests : array of int
        Each note's length and the rest after it, sixteenths.
    meter : str
        The meter token.
    phase : int
        Sixteenths from the first onset to a downbeat (a bar line), modulo the bar.
    key : Key
        The key the pitches are spelled in (a mode of C for data_v2).
    triplets : list of int
        Notes that begin a triplet (:func:`find_triplets`): written ``(3`` and three eighths,
        the quarter note they fill (their lengths and rests are 0).
    vocabulary : set of str, optional
        Spell every note with a token in it (:func:`spell`): data_v2's for the tokens in C.
    """
    bar = sixteenths(meter)
    signature = key.signature()
    flats = flats_of(key)
    # the events as (pitch or None for a rest, start, length), split at bar lines; a triplet
    # is one piece of a quarter note whose pitch is the three notes'
    pieces: list[tuple] = []
    members = {t + k for t in triplets for k in (1, 2)}
    for index, (pitch, start, length, rest) in enumerate(
        zip(pitches, positions, lengths, rests, strict=True)
    ):
        if index in members:
            continue
        if index in triplets:
            pieces.append((tuple(int(p) for p in pitches[index : index + 3]), int(start), 4))
            continue
        for what, at, span in ((int(pitch), int(start), int(length)), (None, start + length, rest)):
            while span > 0:
                to_bar = bar - (at - phase) % bar
                piece = min(span, to_bar)
                pieces.append((what, int(at), int(piece)))
                at, span = at + piece, span - piece
    body: list[str] = []
    carried: dict[int, int] = {}

    def written(pitch: int) -> str:  # spelled in the key, accidentals carried in the bar
        return spell(pitch, signature, carried, vocabulary=vocabulary, flats=flats)

    i = 0
    while i < len(pieces):
        what, at, length = pieces[i]
        if at > pieces[0][1] and (at - phase) % bar == 0:
            body.append("|")
            carried.clear()
        if isinstance(what, tuple):  # a triplet
            body += ["(3", *(written(p) for p in what)]
            i += 1
            continue
        pair = pieces[i + 1] if i + 1 < len(pieces) else None
        broken = None
        plain = pair is not None and not isinstance(pair[0], tuple)
        if plain and what is not None and pair[0] is not None and (at - phase) % 2 == 0:
            if (length, pair[2]) == (3, 1):
                broken = ">"
            elif (length, pair[2]) == (1, 3):
                broken = "<"
        if broken is not None and (pair[1] - phase) % bar != 0:
            body += [written(what), broken, written(pair[0])]
            i += 2
            continue
        body.append("z" if what is None else written(what))
        body += length_tokens(length)
        i += 1
    end = pieces[-1][1] + pieces[-1][2]
    if (end - phase) % bar == 0:
        body.append("|")
    return body

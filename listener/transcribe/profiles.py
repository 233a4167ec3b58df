"""What folk tunes look like in time and in pitch, counted on the corpus: the reader's priors.

Two kinds of profile, each fitted on the composer's own training tunes (never its validation
split, on which the reader is evaluated):

* **Metrical**: for each of folk-rnn's seven meters and each sixteenth of its bar, how long a
  note that starts there lasts until the next one starts (its inter-onset interval, 1 to 15
  sixteenths, or more), and where in the bar a tune's first note starts. The notes of a phrase
  are a walk through the bar: each one's interval says where the next starts. Every reading of
  the phrase (meter, downbeat, length of the sixteenth) scores each note once, so readings with
  short bars, long bars, fast or slow grids compare fairly: the corpus says which of them looks
  like a folk tune (long notes on strong beats, pickups, dotted rhythms). Beside the rhythm,
  the melody's contour: how much likelier each interval to the next note is from each
  sixteenth of the bar than anywhere. In running eighths, where every reading has the same
  rhythm, this tells a jig's groups of three from a reel's groups of four. A meter whose tunes
  are written in two ways (most of the corpus's 2/4 tunes run in sixteenths, its polkas in
  eighths; most 4/4 tunes run in eighths, its hornpipes and marches in sixteenths) has these
  counted per **style**, and a phrase's rhythm is scored as either: one table would make a
  polka in eighths an unlikely 2/4 tune, and a likelier 4/4 one. For the meters whose beat is
  a quarter note, the share of tunes written in **dotted pairs** (hornpipes): how likely a
  phrase in that meter is to be played swung.
* **Tonal**: for each mode of C, how often each pitch class starts a note on a downbeat, on
  another beat, and elsewhere. A phrase's pitch classes, moved to each of the twelve tonics,
  are scored under each mode; since chord tones fall on the beats, the same profile also
  tells which notes are on the beats, and so helps choose the meter.

Beside the counts, a **key head**: the profiles score each key as if every note were drawn on
its own, and cannot see what a player hears at once (where the phrase comes to rest, which
note is longest, which lowest). A log-linear layer over the profiles' key scores and a few
such features of the phrase, its weights shared by the twelve tonics, is fitted on the
training tunes' phrases to name their keys (:func:`fit_key_head`).

Profiles are log probabilities with add-half smoothing, stored as JSON (``models/``), with the
corpus and the counts that made them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listener.tunes.notation import bar_length

#: The profiles shipped with the composer (``scripts/fit_melody_profiles.py`` writes them).
DEFAULT_PROFILES = Path(__file__).resolve().parents[2] / "models" / "melody-profiles.json"
#: folk-rnn's meters, in the order of the profiles.
METERS = ("M:2/4", "M:3/4", "M:4/4", "M:6/8", "M:9/8", "M:12/8", "M:3/2")
#: folk-rnn's modes of C, in the order of the profiles.
MODES = ("maj", "min", "dor", "mix")
#: Inter-onset intervals are counted exactly from 1 to 15 sixteenths; longer ones together.
IOI_CLASSES = 16
#: Sixteenths between the beats of each meter (the dotted quarter in compound meters).
BEAT = {"M:2/4": 4, "M:3/4": 4, "M:4/4": 4, "M:6/8": 6, "M:9/8": 6, "M:12/8": 6, "M:3/2": 8}
#: Levels of the tonal profile: a note on a downbeat, on another beat, elsewhere.
LEVELS = 3
#: Melodic intervals are counted exactly up to an octave either way; wider ones as an octave.
INTERVALS = 12
SMOOTHING = 0.5
#: What the key head looks at beside the profiles' scores, each as pitch classes: the share of
#: the phrase's time each sounds, and the phrase's last, first, lowest and longest notes.
KEY_FEATURES = ("time", "last", "first", "lowest", "longest")
#: The key head's L2 penalty on its degree weights (per weight, against the mean log loss).
KEY_HEAD_L2 = 1e-3
#: A tune's rhythmic style: "in sixteenths" when at least this share of its notes last a
#: sixteenth (to the next note), else "in eighths". A meter's tunes are counted per style
#: where each style has at least STYLE_TUNES tunes (2/4 and 4/4 in the corpus), else together.
STYLE_SIXTEENTHS = 0.3
STYLE_TUNES = 50
#: Meters whose beats are quarter notes, which a player may swing (hornpipes): a tune in one
#: of them is "in dotted pairs" when at least DOTTED_PAIRS of its notes are dotted pairs on
#: the beat (three sixteenths and one); the share of such tunes is the prior on a swung
#: reading (the reader's :data:`~listener.transcribe.tokens.SWING_WARP`).
SWUNG_METERS = ("M:2/4", "M:3/4", "M:4/4", "M:3/2")
DOTTED_PAIRS = 0.4


def ioi_class(sixteenths):
    """Class (0..15) of inter-onset intervals of ``sixteenths`` (1 or more)."""
    return np.clip(np.asarray(sixteenths) - 1, 0, IOI_CLASSES - 1)


def interval_class(semitones):
    """Class (0..24) of melodic intervals of ``semitones`` (clipped to an octave either way)."""
    return np.clip(np.asarray(semitones), -INTERVALS, INTERVALS) + INTERVALS


@functools.cache
def sixteenths(meter: str) -> int:
    """Sixteenths in a bar of ``meter``."""
    return int(2 * bar_length(meter))


def levels(meter: str, positions):
    """Metrical level of sixteenths of the bar: 0 downbeat, 1 another beat, 2 elsewhere."""
    positions = np.asarray(positions) % sixteenths(meter)
    return np.where(positions == 0, 0, np.where(positions % BEAT[meter] == 0, 1, 2))


@dataclass
class MelodyProfiles:
    """Log-probability profiles of meter and key (see the module doc).

    Attributes
    ----------
    meter_prior : ndarray, shape (7,)
        Log share of the corpus's tunes in each meter of :data:`METERS`.
    style_prior : dict of str to ndarray, shape (styles,)
        For each meter, the log share of its tunes in each style it is counted in (one, or
        two: in eighths, in sixteenths; see :data:`STYLE_SIXTEENTHS`).
    onsets : dict of str to ndarray, shape (styles, sixteenths, 16)
        For each meter and style, log P(inter-onset class | sixteenth of the bar the note
        starts on).
    first : dict of str to ndarray, shape (styles, sixteenths)
        For each meter and style, log P(sixteenth of the bar a tune's first note starts on).
    mode_prior : ndarray, shape (4,)
        Log share of tunes in each mode of :data:`MODES`.
    pitch : ndarray, shape (4, 3, 12)
        Log P(pitch class | mode, level), pitch classes above C, levels as :func:`levels`.
    steps : ndarray, shape (4, 12, 12)
        Log P(pitch class | mode, the pitch class before): how melodies move in each mode.
    contour : dict of str to ndarray, shape (styles, sixteenths, 25)
        For each meter and style, how much likelier a melodic interval (to the next note, in
        :func:`interval_class`) is from a note on each sixteenth of the bar than anywhere in
        the style's tunes (log ratio): where in the bar melodies leap, turn and repeat, which
        tells a jig's groups of three eighths from a reel's groups of four.
    provenance : dict
        Corpus, tunes, notes: what they were fitted on.
    meter_temperature, key_temperature : float
        What the log scores of meters and of keys are divided by before they are turned into
        probabilities: the notes of a phrase are not independent, so the raw sums are
        over-confident. Fitted on tunes the counts did not see (:func:`calibrate`).
    swing_share : dict of str to float
        For each meter of :data:`SWUNG_METERS`, the share of its tunes written in dotted pairs
        (smoothed): how likely a phrase in it is to be played swung.
    key_head : dict, optional
        The key head (:func:`fit_key_head`): ``weight`` of the profiles' scores, ``mode_bias``
        (4), ``degrees`` (features, modes, 12): each feature's weight on each degree above the
        tonic. Without it, keys are scored by the profiles and ``key_temperature`` alone.
    """

    meter_prior: np.ndarray
    style_prior: dict[str, np.ndarray]
    onsets: dict[str, np.ndarray]
    first: dict[str, np.ndarray]
    mode_prior: np.ndarray
    pitch: np.ndarray
    steps: np.ndarray
    contour: dict[str, np.ndarray]
    provenance: dict
    meter_temperature: float = 1.0
    key_temperature: float = 1.0
    key_head: dict | None = None
    swing_share: dict[str, float] = field(default_factory=dict)

    def key_log_odds(self, scores: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        """Log odds of every key, (tonics, modes), from the profiles' key scores of a phrase.

        ``features``: the phrase's :func:`key_features`, for the key head; without the head
        (or the features), the scores are tempered by ``key_temperature``.
        """
        scores = np.asarray(scores, dtype=np.float64)
        if self.key_head is None or features is None:
            return scores / self.key_temperature
        return _head_odds(self.key_head, scores, features)

    def save(self, path: str | Path) -> Path:
        """Write the profiles as JSON."""
        path = Path(path)
        data = {
            "meters": list(METERS),
            "modes": list(MODES),
            "meter_prior": np.round(self.meter_prior, 6).tolist(),
            "style_prior": {m: np.round(v, 6).tolist() for m, v in self.style_prior.items()},
            "onsets": {m: np.round(v, 6).tolist() for m, v in self.onsets.items()},
            "first": {m: np.round(v, 6).tolist() for m, v in self.first.items()},
            "mode_prior": np.round(self.mode_prior, 6).tolist(),
            "pitch": np.round(self.pitch, 6).tolist(),
            "steps": np.round(self.steps, 6).tolist(),
            "contour": {m: np.round(v, 6).tolist() for m, v in self.contour.items()},
            "meter_temperature": self.meter_temperature,
            "key_temperature": self.key_temperature,
            "key_head": self.key_head,
            "swing_share": {m: round(v, 6) for m, v in self.swing_share.items()},
            "provenance": self.provenance,
        }
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> MelodyProfiles:
        """Read profiles written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        return cls(
            np.array(data["meter_prior"]),
            {m: np.array(v) for m, v in data["style_prior"].items()},
            {m: np.array(v) for m, v in data["onsets"].items()},
            {m: np.array(v) for m, v in data["first"].items()},
            np.array(data["mode_prior"]),
            np.array(data["pitch"]),
            np.array(data["steps"]),
            {m: np.array(v) for m, v in data["contour"].items()},
            data["provenance"],
            data.get("meter_temperature", 1.0),
            data.get("key_temperature", 1.0),
            data.get("key_head"),
            data.get("swing_share", {}),
        )


def _normalised(counts: np.ndarray) -> np.ndarray:
    counts = counts + SMOOTHING
    return np.log(counts / counts.sum(axis=-1, keepdims=True))


def fit_profiles(tunes: Iterable, *, source: str = "") -> MelodyProfiles:
    """Count the profiles on tunes (data_v2 :class:`~listener.tunes.tune.Tune`, in C).

    A tune with a meter or key change inside it, or whose bars do not keep its meter, is left
    out: it would count notes against the wrong downbeat. The rhythm is counted per style
    (:data:`STYLE_SIXTEENTHS`) where a meter has enough tunes in each.
    """
    from listener.tunes.interpret import read_through

    meter_counts = np.zeros(len(METERS))
    style_counts = {m: np.zeros(2) for m in METERS}  # in eighths, in sixteenths
    onset_counts = {m: np.zeros((2, sixteenths(m), IOI_CLASSES)) for m in METERS}
    first_counts = {m: np.zeros((2, sixteenths(m))) for m in METERS}
    mode_counts = np.zeros(len(MODES))
    pitch_counts = np.zeros((len(MODES), LEVELS, 12))
    step_counts = np.zeros((len(MODES), 12, 12))
    contour_counts = {m: np.zeros((2, sixteenths(m), 2 * INTERVALS + 1)) for m in METERS}
    swing_counts = {m: np.zeros(2) for m in SWUNG_METERS}  # tunes: not, and in dotted pairs
    used = skipped = notes_counted = 0
    for tune in tunes:
        mode = tune.key.removeprefix("K:C")
        if tune.meter not in METERS or mode not in MODES:
            skipped += 1
            continue
        notes, player = read_through(tune.tokens())
        if len(player.meters) > 1 or any(t.startswith(("M:", "K:")) for t in tune.body):
            skipped += 1
            continue
        bar = sixteenths(tune.meter)
        bars = player.bars
        if not notes or not bars or any(b.length * 2 > bar for b in bars):
            skipped += 1
            continue
        pickup = int(bars[0].length * 2) % bar  # the first downbeat, in sixteenths
        starts: dict[int, int] = {}  # sixteenth -> highest pitch starting there (the melody)
        for note in notes:
            at = round(note.onset * 4)
            starts[at] = max(starts.get(at, 0), note.pitch)
        grid = sorted(starts)
        ends = [*grid[1:], round(notes[-1].end * 4)]
        iois = np.maximum(np.subtract(ends, grid), 1)
        style = int(np.mean(iois == 1) >= STYLE_SIXTEENTHS)
        style_counts[tune.meter][style] += 1
        row = onset_counts[tune.meter][style]
        for at, ioi in zip(grid, iois, strict=True):
            position = (at - pickup) % bar
            row[position, ioi_class(ioi)] += 1
            level = levels(tune.meter, position)
            pitch_counts[MODES.index(mode), level, starts[at] % 12] += 1
        first_counts[tune.meter][style, (grid[0] - pickup) % bar] += 1
        if tune.meter in SWUNG_METERS:
            on_beat = (np.array(grid[:-1]) - pickup) % 4 == 0
            pairs = np.sum(on_beat & (iois[:-1] == 3) & (iois[1:] == 1))
            swing_counts[tune.meter][int(2 * pairs >= DOTTED_PAIRS * len(grid))] += 1
        melody = [starts[at] % 12 for at in grid]
        np.add.at(step_counts[MODES.index(mode)], (melody[:-1], melody[1:]), 1)
        heights = np.array([starts[at] for at in grid])
        where = (np.array(grid[:-1]) - pickup) % bar
        np.add.at(contour_counts[tune.meter][style], (where, interval_class(np.diff(heights))), 1)
        meter_counts[METERS.index(tune.meter)] += 1
        mode_counts[MODES.index(mode)] += 1
        used += 1
        notes_counted += len(grid)
    split = {m: bool(np.all(style_counts[m] >= STYLE_TUNES)) for m in METERS}

    def styled(counts: dict) -> dict:  # per style where the meter is split, else together
        return {m: c if split[m] else c.sum(axis=0, keepdims=True) for m, c in counts.items()}

    contour = styled(contour_counts)
    return MelodyProfiles(
        _normalised(meter_counts),
        {m: _normalised(c) for m, c in styled(style_counts).items()},
        {m: _normalised(c) for m, c in styled(onset_counts).items()},
        {m: _normalised(c) for m, c in styled(first_counts).items()},
        _normalised(mode_counts),
        _normalised(pitch_counts),
        _normalised(step_counts),
        {m: _normalised(c) - _normalised(c.sum(axis=1, keepdims=True)) for m, c in contour.items()},
        {
            "source": source,
            "tunes": used,
            "tunes_left_out": skipped,
            "notes": notes_counted,
            "tunes_by_meter": dict(zip(METERS, meter_counts.astype(int).tolist(), strict=True)),
            "tunes_by_mode": dict(zip(MODES, mode_counts.astype(int).tolist(), strict=True)),
            "tunes_by_style": {
                m: dict(zip(("eighths", "sixteenths"), c.astype(int).tolist(), strict=True))
                for m, c in style_counts.items()
                if split[m]
            },
            "tunes_in_dotted_pairs": {m: int(c[1]) for m, c in swing_counts.items()},
            "smoothing": SMOOTHING,
        },
        swing_share={
            m: float((c[1] + SMOOTHING) / (c.sum() + 2 * SMOOTHING))
            for m, c in swing_counts.items()
        },
    )


def best_temperature(scores: list[np.ndarray], truths: list[int]) -> float:
    """Find the temperature that makes softmax(scores / T) likeliest to name the truths.

    Temperature scaling: one number, found on a grid from 1 to 100, for log scores (one array
    per example) and the index of the true class in each.
    """
    candidates = np.geomspace(1.0, 100.0, 81)

    def log_likelihood(temperature: float) -> float:
        total = 0.0
        for score, truth in zip(scores, truths, strict=True):
            scaled = np.asarray(score, dtype=np.float64).ravel() / temperature
            total += scaled[truth] - np.logaddexp.reduce(scaled)
        return total

    return float(max(candidates, key=log_likelihood))


def key_features(pitches, onsets, end: float) -> np.ndarray:
    """Return what the key head hears in a phrase (:data:`KEY_FEATURES`): (features, 12).

    ``pitches`` (MIDI) and ``onsets`` (seconds) of its notes; ``end``: when the last one stops.
    """
    pitches = np.asarray(pitches)
    classes = pitches % 12
    spans = np.diff(np.append(np.asarray(onsets, dtype=np.float64), end))
    spans = np.maximum(spans, 0.0)
    features = np.zeros((len(KEY_FEATURES), 12))
    np.add.at(features[0], classes, spans / max(spans.sum(), 1e-9))
    for row, index in enumerate((-1, 0, int(np.argmin(pitches)), int(np.argmax(spans))), start=1):
        features[row, classes[index]] = 1.0
    return features


def _head_odds(head: dict, scores: np.ndarray, features) -> np.ndarray:
    # the key head's log odds, (..., tonics, modes), of each phrase's key scores and features
    scores = scores - scores.max(axis=(-2, -1), keepdims=True)
    features = np.asarray(features, dtype=np.float64)
    terms = _head_terms(features, head["degrees"])
    return head["weight"] * scores + np.asarray(head["mode_bias"]) + terms


def _head_terms(features: np.ndarray, degrees) -> np.ndarray:
    # the head's feature terms for every key, (tonics, modes): each feature's pitch classes
    # read as degrees above each tonic
    rolled = features[..., _ROLL]  # (..., features, tonics, degrees)
    return np.einsum("...ftd,fmd->...tm", rolled, np.asarray(degrees))


_ROLL = (np.arange(12)[None, :] + np.arange(12)[:, None]) % 12  # [tonic, degree] -> class


def fit_key_head(scores, features, truths, *, l2: float = KEY_HEAD_L2) -> dict:
    """Fit the key head: softmax over the 48 keys of weight·scores + bias + feature terms.

    Parameters
    ----------
    scores : array, (phrases, tonics, modes)
        The profiles' key scores of each phrase (``Reading.evidence["key"]``).
    features : array, (phrases, features, 12)
        Each phrase's :func:`key_features`.
    truths : array of int
        Each phrase's key, ``tonic * 4 + mode``.

    Returns the head as :attr:`MelodyProfiles.key_head` holds it, with its fit's figures.
    """
    from scipy.optimize import minimize

    scores = np.asarray(scores, dtype=np.float64)
    scores = scores - scores.max(axis=(1, 2), keepdims=True)
    rolled = np.asarray(features, dtype=np.float64)[..., _ROLL]  # (n, features, tonics, 12)
    truths = np.asarray(truths)
    n, n_features = len(truths), rolled.shape[1]
    shape = (n_features, len(MODES), 12)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weight, bias, degrees = theta[0], theta[1:5], theta[5:].reshape(shape)
        logits = weight * scores + bias + np.einsum("nftd,fmd->ntm", rolled, degrees)
        flat = logits.reshape(n, -1)
        flat = flat - flat.max(axis=1, keepdims=True)
        p = np.exp(flat)
        p /= p.sum(axis=1, keepdims=True)
        log_loss = -np.log(p[np.arange(n), truths]).mean()
        g = p
        g[np.arange(n), truths] -= 1.0
        g = (g / n).reshape(n, 12, len(MODES))
        grad = np.concatenate(
            [
                [(g * scores).sum()],
                g.sum(axis=(0, 1)),
                np.einsum("ntm,nftd->fmd", g, rolled).ravel() + 2 * l2 * theta[5:],
            ]
        )
        return log_loss + l2 * float((theta[5:] ** 2).sum()), grad

    start = np.zeros(5 + int(np.prod(shape)))
    start[0] = 0.5
    fitted = minimize(loss, start, jac=True, method="L-BFGS-B").x
    head = {
        "weight": round(float(fitted[0]), 6),
        "mode_bias": np.round(fitted[1:5], 6).tolist(),
        "degrees": np.round(fitted[5:].reshape(shape), 6).tolist(),
        "features": list(KEY_FEATURES),
    }
    odds = _head_odds(head, scores, features)
    head["fit"] = {
        "phrases": int(n),
        "l2": l2,
        "key_right_profiles": round(float(np.mean(scores.reshape(n, -1).argmax(1) == truths)), 4),
        "key_right_head": round(float(np.mean(odds.reshape(n, -1).argmax(1) == truths)), 4),
    }
    return head

"""Pitch features: the pitch histogram of the last 3 s and its five numbers (FA0 .. SUM).

Method (after Tzanetakis & Cook 2002, whose multipitch detector is Tolonen & Karjalainen's
enhanced summary autocorrelation; here with one channel instead of two):

1. Every 512-sample hop, the last 1024 samples (46 ms, the frame and the one before) are
   Hann-windowed and zero-padded to 2048.
2. Generalised autocorrelation: the inverse transform of ``|X|^(1/2)`` over the bins below
   5.5 kHz (the compression flattens the spectrum's envelope; T&K use 0.67, a square root does
   alike and costs a tenth), divided by its value at lag 0.
3. Enhancement: negative values are clipped, then the autocorrelation stretched in time by 2 is
   subtracted and the result clipped again, which removes the peaks at twice the period of each
   pitch.
4. Up to three local maxima with lags for 55 to 1760 Hz (A1 to A6) and heights of at least 0.2
   become pitches (the period refined by a parabola), rounded to MIDI note numbers.
5. Histogram: the notes detected in the last 128 frames (65536 samples = 2.97 s, as the rhythm
   window), counted. The unfolded histogram has a bin per note; the folded one a bin per pitch
   class, ordered along the circle of fifths (C, G, D, ...), where neighbouring bins are related
   keys. Counts are integers, so the sliding window is exact.

Features (``PITCH_COLUMNS``): ``FA0``, the height of the folded histogram's largest bin relative
to the folded sum; ``UP0``, the note number of the unfolded histogram's largest bin; ``FP0``, the
position of the folded histogram's largest bin on the circle of fifths (0 = C, 1 = G, ...);
``IPO1``, the interval in fifths between the two largest folded bins (1 for a fifth or a fourth,
the most common); ``SUM``, pitches detected per frame, divided by three (in [0, 1]).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import FRAME, SAMPLE_RATE
from listener.features.fft import make_rfft
from listener.features.filters import hann
from listener.features.frame import frame_batch, split_frames
from listener.features.peaks import parabolic_offset

#: Names of the pitch feature columns.
PITCH_COLUMNS = ("FA0", "UP0", "FP0", "IPO1", "SUM")
N_PITCH_FEATURES = len(PITCH_COLUMNS)
#: Frames in the pitch histogram's window: 128 frames = 65536 samples = 2.97 s.
PITCH_WINDOW = 128
#: Pitches detected per frame at most.
MAX_PITCHES = 3
#: Notes of the unfolded histogram: MIDI 0..127.
N_NOTES = 128

_SPAN = 2 * FRAME  # analysis window: 1024 samples
_PADDED = 2 * _SPAN
_WINDOW = np.concatenate([hann(_SPAN), np.zeros(_PADDED - _SPAN)])
_ONES = np.ones(_PADDED)
_TOP_BIN = int(5500.0 * _PADDED / SAMPLE_RATE)
_MIN_LAG = int(SAMPLE_RATE / 1760.0)
_MAX_LAG = int(np.ceil(SAMPLE_RATE / 55.0)) + 1
_MIN_HEIGHT = 0.2
_FIFTHS = (7 * np.arange(12)) % 12  # pitch class -> position on the circle of fifths
_rfft_padded = make_rfft(_PADDED)


@nb.njit("void(float64[::1], float64[::1], int64[::1])", cache=True, nogil=True)
def _detect(span, work, notes):  # pragma: no cover - compiled
    # Up to MAX_PITCHES MIDI notes of the 1024-sample span into notes (-1 where none).
    half = _PADDED // 2
    padded = work[:_PADDED]
    zr = work[_PADDED : _PADDED + half]
    zi = work[_PADDED + half : 2 * _PADDED]
    re = work[2 * _PADDED : 2 * _PADDED + half + 1]
    im = work[3 * _PADDED : 3 * _PADDED + half + 1]
    spectrum = work[4 * _PADDED : 5 * _PADDED]
    enhanced = work[5 * _PADDED : 5 * _PADDED + _MAX_LAG + 2]
    for i in range(MAX_PITCHES):
        notes[i] = -1
    for i in range(_SPAN):
        padded[i] = span[i]
    for i in range(_SPAN, _PADDED):
        padded[i] = 0.0
    _rfft_padded(padded, _WINDOW, zr, zi, re, im)
    for k in range(half + 1):
        spectrum[k] = np.sqrt(np.sqrt(re[k] * re[k] + im[k] * im[k])) if k < _TOP_BIN else 0.0
    for k in range(half + 1, _PADDED):
        spectrum[k] = spectrum[_PADDED - k]
    _rfft_padded(spectrum, _ONES, zr, zi, re, im)  # real and even: gives the autocorrelation
    zero = re[0]
    if zero <= 1e-12:
        return
    for lag in range(_MAX_LAG + 2):
        v = re[lag] / zero
        enhanced[lag] = v if v > 0.0 else 0.0
    # subtract the autocorrelation stretched by 2 (its value at lag / 2), clip at 0
    for lag in range(_MAX_LAG + 1, 1, -1):
        half_lag = 0.5 * lag
        i = int(half_lag)
        frac = half_lag - i
        v = enhanced[lag] - ((1.0 - frac) * enhanced[i] + frac * enhanced[i + 1])
        enhanced[lag] = v if v > 0.0 else 0.0
    found = 0
    while found < MAX_PITCHES:
        best = -1
        for lag in range(_MIN_LAG, _MAX_LAG):
            v = enhanced[lag]
            if v >= _MIN_HEIGHT and v > enhanced[lag - 1] and v >= enhanced[lag + 1]:
                if best < 0 or v > enhanced[best]:
                    best = lag
        if best < 0:
            return
        freq = SAMPLE_RATE / (best + parabolic_offset(enhanced, best))
        notes[found] = int(np.round(69.0 + 12.0 * np.log2(freq / 440.0)))
        found += 1
        enhanced[best] = 0.0  # take the next highest peak next


@nb.njit("void(int64[::1], float64[::1])", cache=True, nogil=True)
def _histogram_features(hist, out):  # pragma: no cover - compiled
    for j in range(N_PITCH_FEATURES):
        out[j] = 0.0
    total = 0
    up0 = 0
    folded = np.zeros(12, dtype=np.int64)
    for n in range(N_NOTES):
        c = hist[n]
        total += c
        if c > hist[up0]:
            up0 = n
        folded[_FIFTHS[n % 12]] += c
    if total == 0:
        return
    first = 0
    for b in range(12):
        if folded[b] > folded[first]:
            first = b
    second = -1
    for b in range(12):
        if b != first and folded[b] > 0 and (second < 0 or folded[b] > folded[second]):
            second = b
    out[0] = folded[first] / total
    out[1] = up0
    out[2] = first
    if second >= 0:
        d = abs(second - first)
        out[3] = min(d, 12 - d)
    out[4] = total / (PITCH_WINDOW * MAX_PITCHES)


_STATE_TYPES = "float64[::1], int64[:, ::1], int64[::1], int64[::1], float64[:, ::1]"


@nb.njit(
    [f"void(float32[:, ::1], {_STATE_TYPES})", f"void(float64[:, ::1], {_STATE_TYPES})"],
    cache=True,
    nogil=True,
)
def _pitch_frames(frames, previous, ring, hist, counters, out):  # pragma: no cover - compiled
    # previous: the last frame's samples; ring: the notes of the window's frames; hist: their
    # counts; counters: [next ring slot].
    span = np.empty(_SPAN)
    work = np.empty(5 * _PADDED + _MAX_LAG + 2)
    notes = np.empty(MAX_PITCHES, dtype=np.int64)
    for f in range(frames.shape[0]):
        for i in range(FRAME):
            span[i] = previous[i]
            span[FRAME + i] = frames[f, i]
            previous[i] = frames[f, i]
        _detect(span, work, notes)
        slot = counters[0]
        for j in range(MAX_PITCHES):
            leaving = ring[slot, j]
            if leaving >= 0:
                hist[leaving] -= 1
            entering = notes[j]
            if 0 <= entering < N_NOTES:
                hist[entering] += 1
                ring[slot, j] = entering
            else:
                ring[slot, j] = -1
        counters[0] = (slot + 1) % PITCH_WINDOW
        _histogram_features(hist, out[f])


class PitchFeatures:
    """Streaming pitch-histogram features, one row per 512-sample frame (processor).

    ``process(frames)`` takes whole frames, shape ``(n, 512)``, and returns ``(n, 5)``, columns
    ``PITCH_COLUMNS``: the features of the 2.97 s window ending with each frame.
    """

    def __init__(self) -> None:
        self._previous = np.zeros(FRAME)
        self._ring = np.full((PITCH_WINDOW, MAX_PITCHES), -1, dtype=np.int64)
        self._hist = np.zeros(N_NOTES, dtype=np.int64)
        self._counters = np.zeros(1, dtype=np.int64)

    @property
    def histogram(self) -> npt.NDArray[np.int64]:
        """The unfolded histogram of the current window: detections per MIDI note (a copy)."""
        return self._hist.copy()

    def reset(self) -> None:
        """Start a new stream: silence before it, an empty histogram."""
        self._previous[:] = 0.0
        self._ring[:] = -1
        self._hist[:] = 0
        self._counters[:] = 0

    def process(self, frames: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Features of the windows ending at each of ``frames`` (shape ``(n, 512)``)."""
        f = frame_batch(frames)
        out = np.empty((f.shape[0], N_PITCH_FEATURES))
        _pitch_frames(f, self._previous, self._ring, self._hist, self._counters, out)
        return out


def pitch_features(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Pitch features of every frame of a whole signal (the offline path), shape ``(n, 5)``."""
    return PitchFeatures().process(split_frames(samples))


# The first call of a compiled function pays for resolving its types (a fraction of a
# millisecond): pay it at import, not on the first frame of a live stream.
PitchFeatures().process(np.zeros((1, FRAME), dtype=np.float32))

"""Rhythm features: the beat histogram of the last 3 s and its six numbers (A0 .. SUM).

Method (after Tzanetakis & Cook 2002, with an onset envelope in place of their wavelet one):

1. Onset envelope at 172.3 Hz: each 128-sample sub-block (5.8 ms) gives the power of the
   signal's first difference (which favours attacks over sustained low notes) in decibels,
   ``L = 10 log10(mean(diff(x)^2) + 1e-20)``, and the onset strength is its rise beyond 1 dB,
   ``max(0, L[t] - L[t - 1] - 1)`` (smaller wobbles, as a steady tone or noise makes them, are
   not attacks); the first sub-block of a stream has no rise. Decibels make it independent of
   the input gain.
2. Window: the last 512 envelope values = 65536 samples = 2.97 s (the paper's window), with
   silence before the stream starts. It moves by one 512-sample hop (four envelope values) per
   frame, and the histogram is recomputed on each hop.
3. Autocorrelation of the mean-removed window, divided by its value at lag 0 (computed through
   the power spectrum of the window zero-padded to 1024 values: two real FFTs per hop).
4. Beat histogram: one bin per BPM from 40 to 200; bin ``b`` holds the autocorrelation at lag
   ``60 * 172.3 / b`` envelope values (interpolated linearly), negative values clipped to 0.

Features (``RHYTHM_COLUMNS``): ``P1`` and ``P2``, the tempi in BPM of the highest and second
highest peaks (local maxima) of the histogram, P1 refined between bins by a parabola through
its neighbours; ``A0`` and ``A1``, their heights relative to the histogram's sum; ``RA = A1 / A0``;
``SUM``, the histogram's mean height (the overall beat strength, in [0, 1]). A window with no
peak (silence, a steady tone) gives zeros.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import FRAME, SAMPLE_RATE
from listener.features.fft import make_rfft
from listener.features.frame import frame_batch, split_frames
from listener.features.peaks import parabolic_offset

#: Names of the rhythm feature columns.
RHYTHM_COLUMNS = ("A0", "A1", "RA", "P1", "P2", "SUM")
N_RHYTHM_FEATURES = len(RHYTHM_COLUMNS)
#: Samples per onset-envelope value: 128 = 5.8 ms, four per frame.
ENVELOPE_HOP = 128
#: Envelope values per second: 172.27.
ENVELOPE_RATE = SAMPLE_RATE / ENVELOPE_HOP
#: Envelope values in the autocorrelation window: 512 = 65536 samples = 2.97 s.
RHYTHM_WINDOW = 512
#: Tempo range of the beat histogram in BPM, one bin per BPM.
BPM_LOW, BPM_HIGH = 40, 200

_PER_FRAME = FRAME // ENVELOPE_HOP
_BPMS = np.arange(BPM_LOW, BPM_HIGH + 1, dtype=np.float64)
_LAGS = 60.0 * ENVELOPE_RATE / _BPMS  # fractional lag of each histogram bin
_MAX_LAG = int(np.ceil(_LAGS.max())) + 1
_FLOOR = 1e-20  # guards log(0) only: a higher floor would make quiet input depend on gain
_MIN_RISE_DB = 1.0


_PADDED = 2 * RHYTHM_WINDOW  # zero padding: no circular wrap for lags up to RHYTHM_WINDOW
_rfft_padded = make_rfft(_PADDED)
_ONES = np.ones(_PADDED)


@nb.njit("void(float64[::1], float64[::1], float64[::1])", cache=True, nogil=True)
def _autocorrelation(window, acf, work):  # pragma: no cover - compiled
    # acf[0 .. RHYTHM_WINDOW] of the mean-removed window through the power spectrum of the
    # zero-padded window: the power spectrum is real and even, so one more forward real FFT
    # of it gives the autocorrelation times the length. work holds 5 * _PADDED values.
    n = window.shape[0]
    padded = work[:_PADDED]
    zr = work[_PADDED : _PADDED + _PADDED // 2]
    zi = work[_PADDED + _PADDED // 2 : 2 * _PADDED]
    re = work[2 * _PADDED : 2 * _PADDED + _PADDED // 2 + 1]
    im = work[3 * _PADDED : 3 * _PADDED + _PADDED // 2 + 1]
    power = work[4 * _PADDED : 5 * _PADDED]
    mean = 0.0
    for i in range(n):
        mean += window[i]
    mean /= n
    for i in range(n):
        padded[i] = window[i] - mean
    for i in range(n, _PADDED):
        padded[i] = 0.0
    _rfft_padded(padded, _ONES, zr, zi, re, im)
    half = _PADDED // 2
    for k in range(half + 1):
        power[k] = re[k] * re[k] + im[k] * im[k]
    for k in range(half + 1, _PADDED):
        power[k] = power[_PADDED - k]
    _rfft_padded(power, _ONES, zr, zi, re, im)
    for lag in range(acf.shape[0]):
        acf[lag] = re[lag] / _PADDED


@nb.njit("void(float64[::1], float64[::1], float64[::1])", cache=True, nogil=True)
def _histogram_features(acf, hist, out):  # pragma: no cover - compiled
    # The beat histogram of one autocorrelation and its six features.
    for j in range(N_RHYTHM_FEATURES):
        out[j] = 0.0
    energy = acf[0]
    nbins = hist.shape[0]
    if energy <= 1e-12:  # no onsets in the window
        return
    total = 0.0
    for b in range(nbins):
        lag = _LAGS[b]
        i = int(lag)
        frac = lag - i
        v = ((1.0 - frac) * acf[i] + frac * acf[i + 1]) / energy
        hist[b] = v if v > 0.0 else 0.0
        total += hist[b]
    if total <= 0.0:
        return
    first = -1
    second = -1
    for b in range(1, nbins - 1):
        v = hist[b]
        if v > hist[b - 1] and v >= hist[b + 1]:  # a local maximum
            if first < 0 or v > hist[first]:
                second = first
                first = b
            elif second < 0 or v > hist[second]:
                second = b
    if first < 0:
        return
    out[0] = hist[first] / total
    out[3] = _BPMS[first] + parabolic_offset(hist, first)  # P1 refined between bins
    if second >= 0:
        out[1] = hist[second] / total
        out[2] = out[1] / out[0]
        out[4] = _BPMS[second]
    out[5] = total / nbins


@nb.njit(
    [
        "void(float32[:, ::1], float64[::1], float64[::1], float64[:, ::1])",
        "void(float64[:, ::1], float64[::1], float64[::1], float64[:, ::1])",
    ],
    cache=True,
    nogil=True,
)
def _rhythm_frames(frames, envelope, state, out):  # pragma: no cover - compiled
    # envelope: the window's ring of RHYTHM_WINDOW onset values, oldest first after rotation;
    # state: [last sample, last level in dB, write position, 1 once a level is known].
    window = np.empty(RHYTHM_WINDOW)
    work = np.empty(5 * _PADDED)
    acf = np.zeros(_MAX_LAG + 2)
    hist = np.empty(_BPMS.shape[0])
    for f in range(frames.shape[0]):
        last = state[0]
        level = state[1]
        pos = int(state[2])
        for j in range(_PER_FRAME):
            power = 0.0
            for i in range(j * ENVELOPE_HOP, (j + 1) * ENVELOPE_HOP):
                d = frames[f, i] - last
                power += d * d
                last = frames[f, i]
            now = 10.0 * np.log10(power / ENVELOPE_HOP + _FLOOR)
            rise = now - level - _MIN_RISE_DB if state[3] > 0.0 else 0.0
            envelope[pos] = rise if rise > 0.0 else 0.0
            level = now
            state[3] = 1.0
            pos = (pos + 1) % RHYTHM_WINDOW
        state[0] = last
        state[1] = level
        state[2] = pos
        for i in range(RHYTHM_WINDOW):  # oldest first
            window[i] = envelope[(pos + i) % RHYTHM_WINDOW]
        _autocorrelation(window, acf, work)
        _histogram_features(acf, hist, out[f])


class RhythmFeatures:
    """Streaming beat-histogram features, one row per 512-sample frame (processor).

    ``process(frames)`` takes whole frames, shape ``(n, 512)``, and returns ``(n, 6)``, columns
    ``RHYTHM_COLUMNS``: the features of the 2.97 s window ending with each frame.
    """

    def __init__(self) -> None:
        self._envelope = np.zeros(RHYTHM_WINDOW)
        self._state = np.zeros(4)

    def reset(self) -> None:
        """Start a new stream: silence before it, no level yet."""
        self._envelope[:] = 0.0
        self._state[:] = 0.0

    def process(self, frames: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Features of the windows ending at each of ``frames`` (shape ``(n, 512)``)."""
        f = frame_batch(frames)
        out = np.empty((f.shape[0], N_RHYTHM_FEATURES))
        _rhythm_frames(f, self._envelope, self._state, out)
        return out


def rhythm_features(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Rhythm features of every frame of a whole signal (the offline path), shape ``(n, 6)``."""
    return RhythmFeatures().process(split_frames(samples))


# The first call of a compiled function pays for resolving its types (a fraction of a
# millisecond): pay it at import, not on the first frame of a live stream.
RhythmFeatures().process(np.zeros((1, FRAME), dtype=np.float32))

"""Texture windows: the 19-dim timbral texture vector over the last 43 frames (0.998 s).

Columns (``TEXTURE_COLUMNS``): the population mean of zcr, centroid, rolloff, flux and MFCC c1..c5,
their population variances, and low energy, the share of the window's frames whose RMS is below
the window's mean RMS. The first vector is complete at frame 43 (index 42).

Mean and variance are updated in O(1) per frame with the sliding-window form of Welford's update
(the new frame enters and the one leaving goes in a single step), which avoids the cancellation
of raw sums of squares. Rounding must not pile up over an hour of audio, nor linger when loud,
varied frames leave the window to steady ones (the variance must then come back to 0, not to the
rounding residue of the loud part). Two guards see to it:

- each time the window has been replaced entirely (every 43 frames) the moments are recomputed
  exactly, in two passes over the frames it holds: O(43) once per 43 frames;
- between those, each feature keeps a bound on the magnitude its updates have handled; when its
  sum of squared deviations falls below 1e-7 of that bound (cancellation), that feature's moments
  are recomputed exactly at once. So the variance is always within about 1e-7 of exact,
  relative, and exactly 0 for a steady window.

Low energy compares each of the 43 RMS values with their mean, which is summed afresh for every
window so that digital silence gives exactly 0.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import TEXTURE_FRAMES
from listener.errors import AudioError
from listener.features.frame import FRAME_COLUMNS, N_FRAME_FEATURES, RMS, run_chunked

_SUMMARISED = FRAME_COLUMNS[:RMS]  # every frame feature but rms
#: Names of the texture vector columns.
TEXTURE_COLUMNS = (
    tuple(f"mean_{c}" for c in _SUMMARISED)
    + tuple(f"var_{c}" for c in _SUMMARISED)
    + ("low_energy",)
)
N_TEXTURE_FEATURES = len(TEXTURE_COLUMNS)
#: Rows of the running-moments state of :func:`texture_update`.
MOMENT_ROWS = 3
_N = len(_SUMMARISED)


_CANCELLATION = 1e-7  # refresh a feature when its M2 falls below this share of what it handled


@nb.njit("void(float64[:, ::1], int64, float64[:, ::1])", cache=True, nogil=True)
def _refresh(history, j, moments):  # pragma: no cover - compiled
    # Exact two-pass mean and M2 of feature j over the window; the error bound starts afresh.
    w = history.shape[0]
    s = 0.0
    for i in range(w):
        s += history[i, j]
    mu = s / w
    s = 0.0
    for i in range(w):
        d = history[i, j] - mu
        s += d * d
    moments[0, j] = mu
    moments[1, j] = s
    moments[2, j] = 0.0


@nb.njit(
    "boolean(float64[::1], int64, float64[:, ::1], float64[:, ::1], float64[::1])",
    cache=True,
    nogil=True,
)
def texture_update(frame, index, history, moments, out):  # pragma: no cover - compiled
    """Add frame ``index`` to the window and write the texture vector once the window is full.

    Parameters
    ----------
    frame : float64 array of N_FRAME_FEATURES
        The new frame's features.
    index : int
        The frame's index in the stream, counted from 0 after a reset.
    history : float64 array (TEXTURE_FRAMES, N_FRAME_FEATURES)
        Ring of the window's frames, slot ``index % TEXTURE_FRAMES``.
    moments : float64 array (3, N_FRAME_FEATURES)
        Running mean (row 0), sum of squared deviations (row 1) and the magnitude the updates
        have handled since the last exact refresh (row 2).
    out : float64 array of N_TEXTURE_FEATURES
        Receives the texture vector when the window is full.

    Returns
    -------
    bool
        Whether ``out`` was written (from index TEXTURE_FRAMES - 1 on).
    """
    w = TEXTURE_FRAMES
    slot = index % w
    mean = moments[0]
    m2 = moments[1]
    handled = moments[2]  # magnitude handled by the updates since the last exact refresh
    if index < w:  # the window is still filling: plain Welford
        count = index + 1
        for j in range(N_FRAME_FEATURES):
            v = frame[j]
            delta = v - mean[j]
            mean[j] += delta / count
            term = delta * (v - mean[j])
            m2[j] += term
            handled[j] += abs(term) + m2[j]
    else:  # slide: the frame in this slot leaves as the new one enters
        for j in range(N_FRAME_FEATURES):
            v = frame[j]
            old = history[slot, j]
            old_mean = mean[j]
            mean[j] = old_mean + (v - old) / w
            term = (v - old) * (v - mean[j] + old - old_mean)
            m2[j] += term
            handled[j] += abs(term) + abs(m2[j])
    for j in range(N_FRAME_FEATURES):
        history[slot, j] = frame[j]
    if index < w - 1:
        return False
    everything = slot == w - 1  # the window has been replaced entirely since the last refresh
    for j in range(N_FRAME_FEATURES):
        if everything or m2[j] < _CANCELLATION * handled[j]:
            _refresh(history, j, moments)
    for j in range(_N):
        out[j] = mean[j]
        out[_N + j] = max(m2[j], 0.0) / w
    total = 0.0
    for i in range(w):
        total += history[i, RMS]
    mean_rms = total / w
    below = 0
    for i in range(w):
        if history[i, RMS] < mean_rms:
            below += 1
    out[2 * _N] = below / w
    return True


@nb.njit("void(float64[:, ::1], float64[:, ::1], int64, int64)", cache=True, nogil=True)
def _texture_range(frames, out, start, stop):  # pragma: no cover - compiled
    # Texture vectors of the windows ending at frames [first, stop) with first = max(start, 42),
    # into out[first - 42 : stop - 42]. The window is primed with the 42 frames before `first`;
    # starting from an empty (all-zero) window at a later index is exact too: each update
    # replaces a zero frame as if it had been there.
    w = TEXTURE_FRAMES
    history = np.zeros((w, N_FRAME_FEATURES))
    moments = np.zeros((MOMENT_ROWS, N_FRAME_FEATURES))
    spare = np.empty(out.shape[1])  # receives nothing while the window is being primed
    first = max(start, w - 1)
    for i in range(max(first - (w - 1), 0), stop):
        texture_update(frames[i], i, history, moments, out[i - w + 1] if i >= first else spare)


def texture_features(frames: npt.ArrayLike, threads: int | None = None) -> npt.NDArray[np.float64]:
    """Texture vectors of a whole sequence of frame features (the offline path).

    Parameters
    ----------
    frames : array_like
        Shape ``(n, 10)``, columns ``FRAME_COLUMNS``, as from
        :func:`~listener.features.frame.frame_features`.
    threads : int, optional
        Threads to split the windows across (default: one per core); each chunk primes its own
        window, so results differ from one thread's only by rounding (about 1e-15 relative).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(max(n - 42, 0), 19)``, columns ``TEXTURE_COLUMNS``; row ``i`` is the
        window of frames ``i .. i + 42``.
    """
    f = np.ascontiguousarray(frames, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != N_FRAME_FEATURES:
        raise AudioError(f"frame features must have shape (n, {N_FRAME_FEATURES}), got {f.shape}")
    out = np.empty((max(f.shape[0] - TEXTURE_FRAMES + 1, 0), N_TEXTURE_FEATURES))
    if out.shape[0]:
        run_chunked(_texture_range, f.shape[0], threads, f, out)
    return out

"""Frame features: what one 512-sample frame (23.2 ms) sounds like, in 10 numbers.

Columns, in order (``FRAME_COLUMNS``): zero-crossing rate, spectral centroid (Hz), rolloff (Hz),
flux, MFCC c1..c5 (dB), RMS. Exact definitions are in ``DESIGN.md``; in short, with a periodic
Hann window and the 257-bin magnitude spectrum ``|X|``:

- ``zcr``: sign changes between neighbouring samples of the rectangular frame (zero counts as
  positive) divided by the frame length, in [0, 1];
- ``centroid``: ``sum f_k |X_k| / sum |X_k|``;
- ``rolloff``: frequency of the first bin where the cumulative magnitude reaches 85% of the total;
- ``flux``: ``sum (N_k - N'_k)^2`` with ``N = |X| / sum |X|`` and ``N'`` of the previous frame;
  0 for the first frame;
- ``mfcc1..5``: orthonormal DCT-II of ``10 log10(max(mel power, 1e-10))`` over 40 Slaney mel bands,
  c0 left out so that the features do not depend on input gain. That holds while every band stays
  above the -100 dB floor: a quiet high band of 16-bit audio (about -95 dB) turned down by 26 dB
  falls under it, and the MFCCs of that frame then change with the gain;
- ``rms``: ``sqrt(mean(x^2))`` of the rectangular frame.

A frame whose magnitude sum is below 1e-10 is silence: centroid and rolloff are 0, ``N`` is 0, the
MFCCs are those of the floor. No feature is ever NaN or Inf for finite input.

:func:`analyse_frame` is the compiled kernel the streaming extractor calls once per frame;
:func:`frame_features` runs it over a whole signal, split across threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import (
    FRAME,
    N_BINS,
    N_MELS,
    N_MFCC,
    POWER_FLOOR,
    ROLLOFF,
    SAMPLE_RATE,
    SILENCE,
)
from listener.features.fft import rfft_frame
from listener.features.filters import bin_frequencies, dct_matrix, hann, mel_filterbank

#: Names of the frame feature columns, in the order of every frame feature row.
FRAME_COLUMNS = (
    ("zcr", "centroid", "rolloff", "flux")
    + tuple(f"mfcc{k}" for k in range(1, N_MFCC + 1))
    + ("rms",)
)
N_FRAME_FEATURES = len(FRAME_COLUMNS)
#: Index of the rms column (low energy is computed from it).
RMS = N_FRAME_FEATURES - 1

# Constants frozen into the compiled kernels.
_WINDOW = hann(FRAME)
_FREQS = bin_frequencies(FRAME, SAMPLE_RATE)
_MEL = mel_filterbank(N_MELS, FRAME, SAMPLE_RATE)
# Each triangle touches a few bins only: its weights are stored packed, band after band
# (489 values, 4 KB instead of 82 KB, so that they stay in the L1 cache between calls).
_NONZERO = _MEL > 0
_MEL_LO = np.argmax(_NONZERO, axis=1).astype(np.int64)  # first bin of each band
_MEL_START = np.concatenate([[0], np.cumsum(_NONZERO.sum(axis=1))]).astype(np.int64)
_MEL_WEIGHTS = _MEL[_NONZERO]  # row-major: band 0's weights, then band 1's, ...
_DCT = np.ascontiguousarray(dct_matrix(N_MFCC + 1, N_MELS)[1:])  # c1..c5
_DB_PER_OCTAVE = 10.0 * np.log10(2.0)  # 10 log10(x) = this * log2(x); log2 is the cheaper call

# Scratch of one frame analysis: packed FFT, spectrum, power, cumulative magnitude, mel decibels.
_ZR = 0
_ZI = _ZR + FRAME // 2
_RE = _ZI + FRAME // 2
_IM = _RE + N_BINS
_POW = _IM + N_BINS
_CUM = _POW + N_BINS
_DB = _CUM + N_BINS
#: float64 values of scratch space that :func:`analyse_frame` needs.
SCRATCH_SIZE = _DB + N_MELS
#: float64 values of the state that :func:`analyse_frame` carries from frame to frame (for flux).
PREV_SIZE = N_BINS + 2


@nb.njit(
    "void(float64[::1], float64[::1], boolean, float64[::1], float64[::1])",
    cache=True,
    nogil=True,
)
def analyse_frame(frame, prev, first, scratch, out):  # pragma: no cover - compiled
    """Compute the 10 frame features of one frame.

    Parameters
    ----------
    frame : float64 array of FRAME samples
        The frame, unwindowed.
    prev : float64 array of N_BINS + 2
        In: the previous frame's magnitude spectrum, then the sum of its squared L1-normalised
        spectrum and the inverse of its magnitude sum (both 0 after silence). Out: this frame's.
    first : bool
        This is the first frame of the stream (flux 0).
    scratch : float64 array of SCRATCH_SIZE
        Work space.
    out : float64 array of N_FRAME_FEATURES
        Receives the features in ``FRAME_COLUMNS`` order.
    """
    re = scratch[_RE:_IM]
    im = scratch[_IM:_POW]
    prev_state = prev[N_BINS:]
    power = scratch[_POW:_CUM]
    cumulative = scratch[_CUM:_DB]
    db = scratch[_DB:SCRATCH_SIZE]

    # time domain: zero crossings and energy of the rectangular frame (four partial sums, so
    # that the additions do not wait on one another)
    crossings = 0
    for n in range(1, FRAME):
        crossings += (frame[n] >= 0.0) != (frame[n - 1] >= 0.0)
    e0 = e1 = e2 = e3 = 0.0
    for n in range(0, FRAME, 4):
        e0 += frame[n] * frame[n]
        e1 += frame[n + 1] * frame[n + 1]
        e2 += frame[n + 2] * frame[n + 2]
        e3 += frame[n + 3] * frame[n + 3]
    out[0] = crossings / FRAME
    out[9] = np.sqrt(((e0 + e1) + (e2 + e3)) / FRAME)

    rfft_frame(frame, _WINDOW, scratch[_ZR:_ZI], scratch[_ZI:_RE], re, im)

    # One pass over the spectrum: power, magnitude, the magnitude's running sum in bin order
    # (so that rolloff is exactly a cumulative sum's threshold), the centroid's sum, and the
    # sums that give the flux without normalising each spectrum first:
    #   sum (m/T - m'/T')^2 = sum m^2 / T^2 - 2 sum m m' / (T T') + sum m'^2 / T'^2
    # with m, T this frame's magnitudes and their sum and m', T' the previous frame's.
    running = 0.0
    w0 = w1 = 0.0
    squares = 0.0
    cross = 0.0
    for k in range(N_BINS):
        p = re[k] * re[k] + im[k] * im[k]
        power[k] = p
        m = np.sqrt(p)
        running += m
        cumulative[k] = running
        squares += p
        cross += m * prev[k]
        prev[k] = m
        if k & 1:
            w1 += _FREQS[k] * m
        else:
            w0 += _FREQS[k] * m
    total = running
    # prev_state holds the previous frame's sum m'^2 / T'^2 and 1 / T' (0 and 0 after silence)
    before = prev_state[0]
    if total < SILENCE:
        out[1] = 0.0
        out[2] = 0.0
        flux = before  # N is 0 for silence
        prev_state[0] = 0.0
        prev_state[1] = 0.0
    else:
        inverse = 1.0 / total
        out[1] = (w0 + w1) * inverse
        # rolloff: the first bin whose cumulative sum reaches the threshold (binary search)
        threshold = ROLLOFF * total
        lo = 0
        hi = N_BINS - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if cumulative[mid] >= threshold:
                hi = mid
            else:
                lo = mid + 1
        out[2] = _FREQS[lo]
        now = squares * inverse * inverse
        flux = max(0.0, now - 2.0 * cross * inverse * prev_state[1] + before)
        prev_state[0] = now
        prev_state[1] = inverse
    out[3] = 0.0 if first else flux

    # MFCC c1..c5 from 40 mel bands; each triangle touches only the bins [lo, hi)
    for b in range(N_MELS):
        s = 0.0
        offset = _MEL_LO[b] - _MEL_START[b]
        for j in range(_MEL_START[b], _MEL_START[b + 1]):
            s += _MEL_WEIGHTS[j] * power[offset + j]
        db[b] = _DB_PER_OCTAVE * np.log2(max(s, POWER_FLOOR))
    for c in range(N_MFCC):
        s = 0.0
        for b in range(N_MELS):
            s += _DCT[c, b] * db[b]
        out[4 + c] = s


@nb.njit(
    [
        "void(float32[::1], float64[:, ::1], int64, int64)",
        "void(float64[::1], float64[:, ::1], int64, int64)",
    ],
    cache=True,
    nogil=True,
)
def _frames_range(x, out, start, stop):  # pragma: no cover - compiled
    # Features of frames [start, stop) of x into out[start:stop]; seeds flux from frame start - 1.
    frame = np.empty(FRAME)
    prev = np.zeros(PREV_SIZE)
    scratch = np.empty(SCRATCH_SIZE)
    if start > 0:
        row = np.empty(out.shape[1])
        for n in range(FRAME):
            frame[n] = x[(start - 1) * FRAME + n]
        analyse_frame(frame, prev, True, scratch, row)
    for i in range(start, stop):
        for n in range(FRAME):
            frame[n] = x[i * FRAME + n]
        analyse_frame(frame, prev, i == 0, scratch, out[i])


_POOL: ThreadPoolExecutor | None = None
_PARALLEL_MIN_FRAMES = 256  # below this, threads cost more than they save
_CHUNK_FRAMES = 128  # frames per job: small enough that a core another tenant stalls holds
# up little of the whole


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="features")
    return _POOL


def run_chunked(kernel, n: int, threads: int | None, *args) -> None:
    """Run ``kernel(*args, start, stop)`` over ``[0, n)`` in chunks, on threads when it pays.

    The kernels release the GIL, so the chunks run in parallel; each chunk seeds itself from
    what precedes it, so the split does not change the results.
    """
    workers = threads or os.cpu_count() or 1
    if workers == 1 or n < _PARALLEL_MIN_FRAMES:
        kernel(*args, 0, n)
        return
    bounds = list(range(0, n, _CHUNK_FRAMES)) + [n]
    jobs = [
        _pool().submit(kernel, *args, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for job in jobs:
        job.result()


def frame_features(
    samples: npt.NDArray[np.floating], threads: int | None = None
) -> npt.NDArray[np.float64]:
    """Frame features of a whole signal (the offline path).

    Parameters
    ----------
    samples : numpy.ndarray
        Mono float32 or float64 signal at 22050 Hz. Only whole frames are analysed: a tail of
        fewer than 512 samples is left out, as the streaming extractor leaves it pending.
    threads : int, optional
        Threads to split the frames across (default: one per CPU core). The kernel releases the
        GIL, so the threads run in parallel; the results do not depend on the split.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(len(samples) // 512, 10)``, columns ``FRAME_COLUMNS``.
    """
    x = np.ascontiguousarray(samples)
    if x.dtype != np.float32:
        x = x.astype(np.float64, copy=False)
    n = x.shape[0] // FRAME
    out = np.empty((n, N_FRAME_FEATURES))
    run_chunked(_frames_range, n, threads, x, out)
    return out


def split_frames(samples: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """View a mono signal as its whole frames, shape ``(len // 512, 512)`` (the tail is left)."""
    x = np.asarray(samples)
    n = x.shape[0] // FRAME
    return x[: n * FRAME].reshape(n, FRAME)


def frame_batch(frames: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """Frames ``(n, 512)`` as the compiled kernels take them: contiguous, float32 or float64."""
    f = np.ascontiguousarray(frames)
    return f if f.dtype == np.float32 else f.astype(np.float64, copy=False)

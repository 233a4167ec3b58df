"""The pitch of a melody, frame by frame, as it is played: YIN, compiled, streaming.

YIN (de Cheveigné and Kawahara 2002) finds the period of a frame as the lag where the frame
differs least from itself shifted: the difference function ``d(tau)``, normalised by its running
mean (the cumulative mean normalised difference), its first dip below a threshold, refined
between lags by a parabola. The normalised dip is also how aperiodic the frame is: 0 for a pure
periodic tone, near 1 for noise, so ``1 - dip`` serves as the frame's confidence.

A frame is ``WINDOW`` samples (46 ms at 22050 Hz), one every ``HOP`` (256 samples, 11.6 ms);
lags cover 60 Hz (below the voice's and the fiddle's lowest notes) to 2 kHz (above the
whistle's). Frame ``k`` starts at sample ``k * HOP`` and is done once its last sample has come,
so the tracker streams: any split of the input gives the frames one call on the whole gives.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import SAMPLE_RATE
from listener.errors import AudioError

#: Samples in a frame (46 ms) and between frames (11.6 ms).
WINDOW = 1024
HOP = 256
#: Lowest and highest pitch tracked, in Hz.
F_MIN = 60.0
F_MAX = 2000.0
#: YIN's threshold on the normalised difference: the first dip below it is the period.
THRESHOLD = 0.15


@nb.njit(cache=True, nogil=True)
def yin_frame(x, lag_min, lag_max, threshold, out):  # pragma: no cover - compiled
    """Period of one frame ``x`` (``WINDOW`` samples): ``out`` gets (f0 Hz or 0, dip, rms, onset).

    The difference function over the first ``W = len(x) - lag_max`` samples, for lags
    ``lag_min..lag_max``. ``rms`` is the whole frame's level, ``onset`` the level of its
    middle ``HOP`` samples (sharper in time, for attacks).
    """
    n = x.shape[0]
    w = n - lag_max
    energy = 0.0
    for j in range(n):
        energy += x[j] * x[j]
    out[2] = np.sqrt(energy / n)
    middle = 0.0
    for j in range((n - HOP) // 2, (n + HOP) // 2):
        middle += x[j] * x[j]
    out[3] = np.sqrt(middle / HOP)
    # d(tau) = sum (x_j - x_{j+tau})^2 over j < w, and its cumulative mean normalisation
    d = np.empty(lag_max + 1)
    d[0] = 0.0
    running = 0.0
    best_tau = -1
    best = 1.0e9
    for tau in range(1, lag_max + 1):
        s = 0.0
        for j in range(w):
            diff = x[j] - x[j + tau]
            s += diff * diff
        running += s
        d[tau] = s * tau / running if running > 0.0 else 1.0
    tau = lag_min
    while tau <= lag_max:
        if d[tau] < threshold:
            while tau + 1 <= lag_max and d[tau + 1] < d[tau]:
                tau += 1
            best_tau = tau
            best = d[tau]
            break
        if d[tau] < best:
            best = d[tau]
        tau += 1
    if best_tau < 0:  # no dip below the threshold: unvoiced; how aperiodic, all the same
        out[0] = 0.0
        out[1] = best
        return
    shift = 0.0
    if lag_min < best_tau < lag_max:
        a, b, c = d[best_tau - 1], d[best_tau], d[best_tau + 1]
        denominator = a - 2.0 * b + c
        if denominator > 0.0:
            shift = 0.5 * (a - c) / denominator
    out[0] = SAMPLE_RATE / (best_tau + shift)
    out[1] = best


class PitchFrames(NamedTuple):
    """Frames of the pitch track.

    Attributes
    ----------
    start : int
        Index of the first frame (frame ``k`` starts at sample ``k * HOP``).
    f0 : numpy.ndarray
        Hz, 0 where the frame is not periodic enough to have a pitch.
    dip : numpy.ndarray
        YIN's normalised dip, 0 (periodic) to about 1 (noise).
    rms : numpy.ndarray
        The frame's level.
    attack : numpy.ndarray
        The level of the frame's middle ``HOP`` samples, where an attack shows sharpest.
    """

    start: int
    f0: npt.NDArray[np.float64]
    dip: npt.NDArray[np.float64]
    rms: npt.NDArray[np.float64]
    attack: npt.NDArray[np.float64]

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Each frame's centre, in seconds."""
        k = np.arange(self.start, self.start + self.f0.shape[0])
        return (k * HOP + WINDOW / 2) / SAMPLE_RATE


class PitchTracker:
    """Streaming YIN at 22050 Hz (processor: ``process(block)``, ``reset()``)."""

    def __init__(self) -> None:
        self.lag_min = int(SAMPLE_RATE // F_MAX)
        self.lag_max = int(np.ceil(SAMPLE_RATE / F_MIN))
        self._out = np.empty(4)
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self._buffer = np.zeros(0)
        self.frames_done = 0

    def process(self, block: npt.ArrayLike) -> PitchFrames:
        """Take the next samples; return the frames they complete."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise AudioError(f"process() takes mono blocks of shape (n,), got {x.shape}")
        buffer = np.concatenate([self._buffer, x]) if self._buffer.size else x
        count = 0 if buffer.shape[0] < WINDOW else (buffer.shape[0] - WINDOW) // HOP + 1
        rows = np.empty((count, 4))
        for k in range(count):
            yin_frame(
                buffer[k * HOP : k * HOP + WINDOW],
                self.lag_min,
                self.lag_max,
                THRESHOLD,
                self._out,
            )
            rows[k] = self._out
        start = self.frames_done
        self.frames_done += count
        self._buffer = buffer[count * HOP :].copy()
        return PitchFrames(start, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])


def track_pitch(samples: npt.ArrayLike) -> PitchFrames:
    """Track the pitch of a whole signal (22050 Hz, mono), as the streaming tracker does."""
    return PitchTracker().process(samples)

"""The pitch of a melody, frame by frame, as it is played: YIN, streaming.

YIN (de Cheveigné and Kawahara 2002) finds the period of a frame as the lag where the frame
differs least from itself shifted: the difference function ``d(tau)`` (through the FFT, about
0.1 ms a frame), normalised by its running mean (the cumulative mean normalised difference),
its first dip below a threshold (compiled), refined between lags by a parabola. The normalised
dip is also how aperiodic the frame is: 0 for a pure periodic tone, near 1 for noise, so
``1 - dip`` serves as the frame's confidence.

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
#: YIN's threshold on the normalised difference: the first dip below it is the period. Higher
#: than the paper's 0.1-0.15: a slow-speaking pipe's attack and two notes overlapping show a
#: deeper dip at a multiple of the period, which a low threshold takes for the pitch (an
#: octave or a twelfth too low); whether a frame is voiced is judged apart (``VOICED_DIP``).
THRESHOLD = 0.3


@nb.njit(cache=True, nogil=True)
def yin_pick(d, lag_min, threshold, out):  # pragma: no cover - compiled
    """From one frame's difference function ``d`` (lags 0..lag_max): ``out[0:2]`` = (f0, dip).

    The cumulative mean normalised difference, its first dip below ``threshold`` (followed to
    its bottom) refined by a parabola; no dip below it: unvoiced (f0 0), with the lowest value.
    """
    lag_max = d.shape[0] - 1
    cmnd = np.empty(lag_max + 1)
    cmnd[0] = 1.0
    running = 0.0
    for tau in range(1, lag_max + 1):
        running += d[tau]
        cmnd[tau] = d[tau] * tau / running if running > 0.0 else 1.0
    best_tau = -1
    best = 1.0e9
    tau = lag_min
    while tau <= lag_max:
        if cmnd[tau] < threshold:
            while tau + 1 <= lag_max and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
            best_tau = tau
            best = cmnd[tau]
            break
        if cmnd[tau] < best:
            best = cmnd[tau]
        tau += 1
    if best_tau < 0:
        out[0] = 0.0
        out[1] = best
        return
    shift = 0.0
    if lag_min < best_tau < lag_max:
        a, b, c = cmnd[best_tau - 1], cmnd[best_tau], cmnd[best_tau + 1]
        denominator = a - 2.0 * b + c
        if denominator > 0.0:
            shift = 0.5 * (a - c) / denominator
    out[0] = SAMPLE_RATE / (best_tau + shift)
    out[1] = best


def difference(frames: npt.NDArray[np.float64], lag_max: int) -> npt.NDArray[np.float64]:
    """YIN's difference function of each frame (rows), lags 0..lag_max, through the FFT.

    ``d(tau) = sum_{j<W} (x_j - x_{j+tau})^2`` with ``W = len - lag_max``: the energies of the
    two stretches from running sums, the cross term as one correlation.
    """
    n = frames.shape[1]
    w = n - lag_max
    size = 1 << int(np.ceil(np.log2(n + w)))
    head = np.fft.rfft(frames[:, :w], size)
    whole = np.fft.rfft(frames, size)
    cross = np.fft.irfft(np.conj(head) * whole, size)[:, : lag_max + 1]
    squares = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    first = squares[:, w : w + 1]  # sum of x_j^2, j < w
    shifted = squares[:, w : w + lag_max + 1] - squares[:, : lag_max + 1]
    return np.maximum(first + shifted - 2.0 * cross, 0.0)


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
        self._out = np.empty(2)
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
        if count:
            frames = np.lib.stride_tricks.sliding_window_view(buffer, WINDOW)[::HOP][:count]
            d = difference(frames, self.lag_max)
            for k in range(count):
                yin_pick(d[k], self.lag_min, THRESHOLD, self._out)
                rows[k, :2] = self._out[:2]
            rows[:, 2] = np.sqrt(np.mean(frames**2, axis=1))
            middle = frames[:, (WINDOW - HOP) // 2 : (WINDOW + HOP) // 2]
            rows[:, 3] = np.sqrt(np.mean(middle**2, axis=1))
        start = self.frames_done
        self.frames_done += count
        self._buffer = buffer[count * HOP :].copy()
        return PitchFrames(start, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])


def track_pitch(samples: npt.ArrayLike) -> PitchFrames:
    """Track the pitch of a whole signal (22050 Hz, mono), as the streaming tracker does."""
    return PitchTracker().process(samples)

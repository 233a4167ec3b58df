"""Streaming sample-rate conversion at the edge: a device's rate in, 22050 Hz out, block by block.

A live device that refuses 22050 Hz is opened at its own rate; its blocks are resampled here, in
the analysis thread (never in the audio callback), by a polyphase FIR filter that keeps its state
between blocks, so any split of the input gives the same output as one call on the whole.

For a ratio L/M in lowest terms (22050/48000 = 147/320), output sample n sits at input position
n*M/L; it is the dot product of the input just before that position with one of L phases of a
windowed-sinc low-pass filter (Kaiser: flat to 90% of the lower Nyquist frequency and 80 dB
down from it on), ``taps`` coefficients per phase (about 200 for 44.1 or 48 kHz to 22050 Hz).
The work is ``taps`` multiply-adds per output sample, whatever L is. The filter is causal and
holds nothing back: a block's output comes with the block, delayed only by the filter's group
delay (``taps / 2`` input samples, 2.3 ms at 44.1 kHz).
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

from listener.config import SAMPLE_RATE
from listener.errors import ConfigError


class StreamResampler:
    """Resample a stream from ``rate_in`` to ``rate_out`` (processor: ``process``, ``reset``).

    Files go through it too (:func:`listener.audio.io.resample`), so live and offline agree.

    Parameters
    ----------
    rate_in : int
        The device's rate in Hz.
    rate_out : int
        The analysis rate (default ``SAMPLE_RATE`` = 22050 Hz).
    stopband_db : float
        Attenuation from the lower Nyquist frequency up (80 dB: what folds back into the band
        is below the 16-bit noise floor's neighbourhood).
    transition : float
        Share of the lower Nyquist frequency given to the transition band, below it (0.1:
        flat to 90%, 9.9 kHz at 22050 Hz out).
    """

    def __init__(
        self,
        rate_in: int,
        rate_out: int = SAMPLE_RATE,
        *,
        stopband_db: float = 80.0,
        transition: float = 0.1,
    ) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ConfigError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
        g = gcd(int(rate_in), int(rate_out))
        self.up, self.down = int(rate_out) // g, int(rate_in) // g
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        from scipy.signal import firwin, kaiserord  # (scipy.signal takes 0.6 s to import)

        # prototype low-pass at the upsampled rate: flat to (1 - transition) of the lower
        # Nyquist frequency, stopband_db down from the Nyquist frequency itself (Kaiser design)
        rate_up = self.rate_in * self.up
        nyquist = min(self.rate_in, self.rate_out) / 2
        width = transition * nyquist
        length, beta = kaiserord(stopband_db, width / (rate_up / 2))
        self.taps = -(-length // self.up)  # per phase
        cutoff = nyquist - width / 2
        proto = firwin(self.taps * self.up, cutoff, window=("kaiser", beta), fs=rate_up) * self.up
        # phase p holds proto[p], proto[p + up], ... reversed, to dot with input oldest first
        self._phases = proto.reshape(self.taps, self.up).T[:, ::-1].astype(np.float64).copy()
        self.reset()

    def reset(self) -> None:
        """Forget the input history: the next block starts a new stream."""
        self._history = np.zeros(self.taps - 1, dtype=np.float64)
        self._consumed = 0  # input samples before the history's end, since reset
        self._produced = 0  # output samples since reset

    def process(self, block: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Take input samples; return the output samples they complete (float32)."""
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        if self.up == self.down:
            return x.astype(np.float32)
        buffer = np.concatenate([self._history, x])
        total = self._consumed + x.size  # input samples seen
        # output n needs input up to floor(n * down / up): all n with that index < total
        last = (total * self.up - 1) // self.down  # largest n whose input is all here
        n = np.arange(self._produced, last + 1, dtype=np.int64)
        out = np.empty(n.size, dtype=np.float32)
        if n.size:
            position = n * self.down
            newest = position // self.up  # the input sample at or just before the position
            phase = position % self.up
            # index in `buffer` of the newest input sample: history ends at self._consumed - 1
            end = newest - (self._consumed - (self.taps - 1))
            windows = buffer[end[:, None] - np.arange(self.taps - 1, -1, -1)[None, :]]
            out[:] = np.einsum("ij,ij->i", windows, self._phases[phase])
            self._produced = int(last) + 1
        self._history = buffer[buffer.size - (self.taps - 1) :].copy()
        self._consumed = total
        return out

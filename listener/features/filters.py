"""The fixed matrices behind the frame features: window, mel filterbank, DCT, bin frequencies.

Plain numpy, computed once at import by the kernels. Definitions follow ``DESIGN.md``: a periodic
Hann window, 40 Slaney-style mel bands from 0 Hz to Nyquist with Slaney (area) normalisation, and
an orthonormal DCT-II.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.config import FRAME, N_MELS, SAMPLE_RATE

# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per
# factor 6.4 in frequency, so both parts meet at 15 mels = 1 kHz).
_MEL_LINEAR_HZ = 200.0 / 3.0
_MEL_BREAK_HZ = 1000.0
_MEL_BREAK = _MEL_BREAK_HZ / _MEL_LINEAR_HZ
_MEL_LOG_STEP = np.log(6.4) / 27.0


def hann(n: int = FRAME) -> npt.NDArray[np.float64]:
    """Periodic Hann window of ``n`` samples (the DFT-even form used for spectral analysis)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def bin_frequencies(n_fft: int = FRAME, rate: int = SAMPLE_RATE) -> npt.NDArray[np.float64]:
    """Centre frequency in Hz of each of the ``n_fft // 2 + 1`` rfft bins."""
    return np.arange(n_fft // 2 + 1) * (rate / n_fft)


def hz_to_mel(hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Frequency in Hz to Slaney mels."""
    f = np.asarray(hz, dtype=np.float64)
    above = f >= _MEL_BREAK_HZ
    safe = np.where(above, f, _MEL_BREAK_HZ)
    return np.where(
        above,
        _MEL_BREAK + np.log(safe / _MEL_BREAK_HZ) / _MEL_LOG_STEP,
        f / _MEL_LINEAR_HZ,
    )


def mel_to_hz(mel: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney mels to frequency in Hz (inverse of :func:`hz_to_mel`)."""
    m = np.asarray(mel, dtype=np.float64)
    above = m >= _MEL_BREAK
    return np.where(
        above,
        _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (m - _MEL_BREAK)),
        m * _MEL_LINEAR_HZ,
    )


def mel_filterbank(
    n_mels: int = N_MELS, n_fft: int = FRAME, rate: int = SAMPLE_RATE
) -> npt.NDArray[np.float64]:
    """Triangular mel filters with Slaney normalisation, from 0 Hz to ``rate / 2``.

    Band ``b`` rises from edge ``b`` to edge ``b + 1`` and falls to edge ``b + 2``, the
    ``n_mels + 2`` edges equally spaced in mels; each triangle is scaled by
    ``2 / (edge[b + 2] - edge[b])`` so that every band has the same area.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mels, n_fft // 2 + 1)``; applied to a power spectrum.
    """
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2.0), n_mels + 2))
    freqs = bin_frequencies(n_fft, rate)
    width = np.diff(edges)
    rising = (freqs[None, :] - edges[:-2, None]) / width[:-1, None]
    falling = (edges[2:, None] - freqs[None, :]) / width[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def dct_matrix(n_out: int, n_in: int = N_MELS) -> npt.NDArray[np.float64]:
    """Rows 0..n_out-1 of the orthonormal DCT-II of length ``n_in``.

    ``c_k = s_k * sum_n x_n cos(pi k (2n + 1) / (2 n_in))`` with ``s_0 = sqrt(1 / n_in)`` and
    ``s_k = sqrt(2 / n_in)`` otherwise.
    """
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis

"""Real FFTs compiled with numba, so that a 512-sample frame's can be called per frame.

``np.fft.rfft`` costs several microseconds per call from Python, most of it call overhead; this
one runs inside the compiled frame kernel. It packs the 512 real samples into 256 complex ones,
runs an iterative radix-2 FFT (the first two stages fused, their twiddles being 1 and -i), and
splits the result into the 257 bins of the real transform. Tables are constants of each compiled
size, which numba freezes into the code. :func:`make_rfft` builds other sizes (the rhythm
features' autocorrelation uses 1024 points).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from listener.config import FRAME


def _bit_reverse(n_bits: int) -> np.ndarray:
    idx = np.arange(1 << n_bits)
    rev = np.zeros_like(idx)
    for b in range(n_bits):
        rev |= ((idx >> b) & 1) << (n_bits - 1 - b)
    return rev.astype(np.int64)


def _stage_twiddles(half: int) -> tuple[np.ndarray, np.ndarray]:
    # twiddles of the stage whose butterflies span m points lie at [m, 2m): exp(-i pi j / m)
    re = np.zeros(half)
    im = np.zeros(half)
    m = 1
    while m < half:
        j = np.arange(m)
        re[m : 2 * m] = np.cos(np.pi * j / m)
        im[m : 2 * m] = -np.sin(np.pi * j / m)
        m *= 2
    return re, im


_VEC = nb.float64[::1]
_CONST_VEC = nb.types.Array(nb.float64, 1, "C", readonly=True)  # a module constant, frozen
# Contraction into fused multiply-adds only; no reassociation, NaN and Inf stay as IEEE says.
_FASTMATH = {"contract"}


def make_rfft(size: int):
    """Compile a real FFT of ``size`` points (a power of two, at least 8).

    Returns
    -------
    callable
        ``rfft(x, window, zr, zi, out_re, out_im)``, compiled: the transform of ``x * window``
        (``size`` samples) into ``out_re``/``out_im`` (``size // 2 + 1`` bins), with ``zr`` and
        ``zi`` scratch of ``size // 2`` values each. Same result as ``np.fft.rfft(x * window)``
        to rounding (about 1e-14 relative). The tables are constants of the compiled code.
    """
    if size < 8 or size & (size - 1):
        raise ValueError(f"FFT size must be a power of two >= 8, got {size}")
    half = size // 2
    rev_table = _bit_reverse(half.bit_length() - 1)
    tw_re, tw_im = _stage_twiddles(half)
    split_re = np.cos(2.0 * np.pi * np.arange(half + 1) / size)
    split_im = -np.sin(2.0 * np.pi * np.arange(half + 1) / size)

    @nb.njit(
        [
            nb.void(_VEC, _CONST_VEC, _VEC, _VEC, _VEC, _VEC),
            nb.void(_VEC, _VEC, _VEC, _VEC, _VEC, _VEC),
        ],
        cache=True,
        nogil=True,
        fastmath=_FASTMATH,
    )
    def rfft(x, window, zr, zi, out_re, out_im):  # pragma: no cover - compiled
        for n in range(half):  # window, pack pairs of samples as complex ones, bit-reverse
            r = rev_table[n]
            zr[r] = x[2 * n] * window[2 * n]
            zi[r] = x[2 * n + 1] * window[2 * n + 1]
        # stages with butterflies of 1 and 2 points: twiddles 1 and -i, no multiplications
        for k0 in range(0, half, 4):
            ar = zr[k0]
            ai = zi[k0]
            br = zr[k0 + 1]
            bi = zi[k0 + 1]
            cr = zr[k0 + 2]
            ci = zi[k0 + 2]
            dr = zr[k0 + 3]
            di = zi[k0 + 3]
            s0r = ar + br
            s0i = ai + bi
            s1r = ar - br
            s1i = ai - bi
            s2r = cr + dr
            s2i = ci + di
            s3r = cr - dr
            s3i = ci - di
            zr[k0] = s0r + s2r
            zi[k0] = s0i + s2i
            zr[k0 + 2] = s0r - s2r
            zi[k0 + 2] = s0i - s2i
            zr[k0 + 1] = s1r + s3i
            zi[k0 + 1] = s1i - s3r
            zr[k0 + 3] = s1r - s3i
            zi[k0 + 3] = s1i + s3r
        m = 4
        while m < half:
            for k0 in range(0, half, 2 * m):
                for j in range(m):
                    wr = tw_re[m + j]
                    wi = tw_im[m + j]
                    a = k0 + j
                    b = a + m
                    tr = zr[b] * wr - zi[b] * wi
                    ti = zr[b] * wi + zi[b] * wr
                    zr[b] = zr[a] - tr
                    zi[b] = zi[a] - ti
                    zr[a] += tr
                    zi[a] += ti
            m *= 2
        # split the packed transform Z into the even and odd parts of the real transform
        out_re[0] = zr[0] + zi[0]
        out_im[0] = 0.0
        out_re[half] = zr[0] - zi[0]
        out_im[half] = 0.0
        for k in range(1, half):
            ar = zr[k]
            ai = zi[k]
            br = zr[half - k]
            bi = -zi[half - k]
            er = 0.5 * (ar + br)
            ei = 0.5 * (ai + bi)
            odr = 0.5 * (ai - bi)
            odi = -0.5 * (ar - br)
            out_re[k] = er + split_re[k] * odr - split_im[k] * odi
            out_im[k] = ei + split_re[k] * odi + split_im[k] * odr

    return rfft


#: The real FFT of one analysis frame (512 points): ``rfft_frame(x, window, zr, zi, re, im)``.
rfft_frame = make_rfft(FRAME)

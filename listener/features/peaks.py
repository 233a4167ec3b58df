"""Locating a peak between the samples of a histogram or autocorrelation."""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True, nogil=True)
def parabolic_offset(values, i):  # pragma: no cover - compiled
    """Offset in (-0.5, 0.5) of the vertex of the parabola through ``values[i - 1 .. i + 1]``.

    0 where the three points do not bend downward (no maximum to refine).
    """
    left = values[i - 1]
    right = values[i + 1]
    curve = left - 2.0 * values[i] + right
    return 0.5 * (left - right) / curve if curve < 0.0 else 0.0

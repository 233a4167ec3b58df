"""Which features a genre model reads, and how they are prepared before it sees them.

Two feature sets: ``timbral``, the 19 texture dimensions (what the paper's real-time "RT"
classifier uses), and ``full``, all 30. Both are prepared the same way: the variances and the
mean flux, positive and heavy-tailed (their logarithms are close to normal, the raw values are
not), are replaced by their natural logarithms, floored at 1e-12. A model file records its set,
so training, evaluation and live decisions prepare vectors alike.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError
from listener.features.vector import GENRE_COLUMNS, TIMBRAL

#: The feature sets a model can use, with their columns of the 30-dim vector.
FEATURE_SETS = {"timbral": TIMBRAL, "full": slice(0, len(GENRE_COLUMNS))}
_LOGGED = np.array([c.startswith("var_") or c == "mean_flux" for c in GENRE_COLUMNS])
_LOG_FLOOR = 1e-12
_LOGGED_INDEX = {name: np.flatnonzero(_LOGGED[cols]) for name, cols in FEATURE_SETS.items()}


def columns(feature_set: str) -> tuple[str, ...]:
    """Names of the columns of a feature set."""
    return GENRE_COLUMNS[_select(feature_set)]


def _select(feature_set: str) -> slice:
    try:
        return FEATURE_SETS[feature_set]
    except KeyError:
        raise ConfigError(
            f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}"
        ) from None


def prepare(vectors: npt.ArrayLike, feature_set: str = "full") -> npt.NDArray[np.float64]:
    """Select a feature set's columns of GTZAN vectors ``(n, 30)`` and log the heavy-tailed ones.

    Returns
    -------
    numpy.ndarray
        float64, ``(n, 19)`` for ``timbral``, ``(n, 30)`` for ``full``.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(GENRE_COLUMNS):
        raise ConfigError(f"GTZAN vectors have shape (n, {len(GENRE_COLUMNS)}), got {v.shape}")
    cols = _select(feature_set)
    out = v[:, cols].copy()
    logged = _LOGGED_INDEX[feature_set]
    out[:, logged] = np.log(np.maximum(out[:, logged], _LOG_FLOOR))
    return out

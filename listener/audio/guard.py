"""Bad audio at the edge: counted, and never passed on as NaN.

A driver can hand over NaN or infinite samples (a bad conversion, a device going away), a
cable or a phantom supply can add a DC step, and a hot input clips. None of it may stop the
listening or reach the classifier as NaN, where one bad sample would poison every texture
window it falls in. :class:`AudioGuard` looks at each block before anything else does: it
counts samples that are not finite (and passes them on as silence), samples at full scale
(clipping), and blocks during which the signal's slow mean (a one-pole average over about
half a second) sits further from zero than any music does (a DC offset). The counts go into
the engine's stats.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import SAMPLE_RATE

#: A sample at or beyond this magnitude is clipped (full scale is 1.0).
CLIP_LEVEL = 0.999
#: The slow mean's time constant (seconds) and the level beyond which it is a DC offset.
DC_SECONDS = 0.5
DC_LEVEL = 0.05


@nb.njit(cache=True)
def _inspect(block, state, alpha, clip):  # pragma: no cover - compiled
    # count the non-finite and clipped samples; follow the slow mean (state[0]) through the
    # block, non-finite samples counted as zero
    nonfinite = 0
    clipped = 0
    mean = state[0]
    for i in range(block.shape[0]):
        x = block[i]
        if not np.isfinite(x):
            nonfinite += 1
            x = 0.0
        elif abs(x) >= clip:
            clipped += 1
        mean += alpha * (x - mean)
    state[0] = mean
    return nonfinite, clipped


class AudioGuard:
    """Count bad samples in the blocks that pass, and make non-finite ones silent."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self._state = np.zeros(1, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the counts and the slow mean (a new stream)."""
        self._state[0] = 0.0
        self.nonfinite = 0
        self.clipped = 0
        self.dc_blocks = 0

    def check(self, block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Count what is wrong with ``block``; return it, or a copy with non-finite samples at 0."""
        alpha = 1.0 - np.exp(-1.0 / (DC_SECONDS * self.rate))
        nonfinite, clipped = _inspect(block, self._state, alpha, CLIP_LEVEL)
        self.clipped += clipped
        if abs(self._state[0]) > DC_LEVEL:
            self.dc_blocks += 1
        if nonfinite:
            self.nonfinite += nonfinite
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        return block

    def figures(self) -> dict:
        """Return the counts, for a stats event."""
        return {"nonfinite": self.nonfinite, "clipped": self.clipped, "dc_blocks": self.dc_blocks}

"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Run ``fn`` ``repeat`` times; return the fastest run in seconds.

    timeit's convention: on a shared machine other tenants only ever add time, so the fastest
    run is the closest to what the code itself costs.
    """
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))

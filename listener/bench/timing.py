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


def table(
    result: dict, rows: list[tuple[str, str, str]], width: int = 40, digits: int = 2
) -> list[str]:
    """Lines of a benchmark table: a header, then each row's label, value and target.

    ``rows`` holds ``(label, key in result, target)``; a value of None shows as ``n/a``.
    """
    lines = [f"{'measure':<{width}}{'value':>12}  target"]
    for label, key, target in rows:
        value = result[key]
        shown = "n/a" if value is None else f"{value:.{digits}f}"
        lines.append(f"{label:<{width}}{shown:>12}  {target}")
    return lines

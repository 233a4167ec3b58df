"""Per-frame latency kept as fixed histograms, so that memory does not grow with the run."""

from __future__ import annotations

import numpy as np

from listener.config import FRAME_SECONDS


class LatencyHistogram:
    """Latencies in 10 us bins up to 1 s: one histogram for the whole run, one since a restart.

    Percentiles are the upper edge of the bin that holds them (never above the largest value
    seen), so they are at most 10 us above ``numpy.percentile`` of the same values.
    """

    BIN_MS = 0.01
    BINS = 100_000

    def __init__(self) -> None:
        self.whole = np.zeros(self.BINS, dtype=np.int64)
        self.recent = np.zeros(self.BINS, dtype=np.int64)
        self.max_whole = self.max_recent = 0.0
        self.overruns = 0  # frames over the budget, FRAME_SECONDS

    def add(self, ms: float) -> None:
        """Count one frame's latency in milliseconds."""
        b = min(int(ms / self.BIN_MS), self.BINS - 1)
        self.whole[b] += 1
        self.recent[b] += 1
        self.max_whole = max(self.max_whole, ms)
        self.max_recent = max(self.max_recent, ms)
        if ms > FRAME_SECONDS * 1e3:
            self.overruns += 1

    def figures(self, recent: bool = False) -> dict[str, float]:
        """``latency_ms_p50``, ``latency_ms_p99`` and ``latency_ms_max`` (0 before any frame)."""
        counts = self.recent if recent else self.whole
        total = int(counts.sum())
        if total == 0:
            return {"latency_ms_p50": 0.0, "latency_ms_p99": 0.0, "latency_ms_max": 0.0}
        cumulative = np.cumsum(counts)

        def percentile(q: float) -> float:  # upper edge of the bin holding it
            return (int(np.searchsorted(cumulative, q / 100 * total)) + 1) * self.BIN_MS

        top = self.max_recent if recent else self.max_whole
        return {
            "latency_ms_p50": round(min(percentile(50), top), 3),
            "latency_ms_p99": round(min(percentile(99), top), 3),
            "latency_ms_max": round(float(top), 3),
        }

    def restart_recent(self) -> None:
        """Start the recent histogram afresh (after each stats report)."""
        self.recent[:] = 0
        self.max_recent = 0.0

"""``listener bench`` (engine section): the whole engine on a clip at full speed, composing.

The clip is pushed as fast as the analysis takes it, through a ring of two frames, so that the
per-frame latency (a frame's last sample arriving to its decision updated) is the engine's own
work and not a queue of audio waiting; the composer writes a tune every 5 s of stream time on
its own thread meanwhile, as it would live.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from listener.config import FRAME


def bench_engine(samples: npt.NDArray[np.float32], compose_every: float = 5.0) -> dict:
    """Run the engine on ``samples`` at full speed with the composer on; return its figures.

    Returns
    -------
    dict
        ``latency_ms_p50``, ``latency_ms_p99``, ``latency_ms_max``, ``realtime_factor``,
        ``frames``, ``tunes`` (composed meanwhile), ``overruns``, ``seconds``.
    """
    from listener.audio.sources import ArraySource
    from listener.composer import ComposeSettings
    from listener.engine import Engine
    from listener.genres.model import GenreModel
    from listener.tunes.lstm import FolkLSTM

    events: list[dict] = []
    engine = Engine(
        GenreModel.load(),
        events.append,
        composer=FolkLSTM(),
        compose=ComposeSettings(f"every:{compose_every:g}", seed=1),
        ring_size=2 * FRAME,
    )
    source = ArraySource(samples, block_size=FRAME)
    t0 = time.perf_counter()
    final = engine.run(source, live=False)
    seconds = time.perf_counter() - t0
    return {
        "frames": final["frames"],
        "seconds": seconds,
        "latency_ms_p50": final["latency_ms_p50"],
        "latency_ms_p99": final["latency_ms_p99"],
        "latency_ms_max": final["latency_ms_max"],
        "overruns": final["overruns"],
        "realtime_factor": final["realtime_factor"],
        "tunes": sum(1 for e in events if e["type"] == "tune" and e["event"] == "end"),
    }

"""``listener demo``: the built-in performance streamed through the engine as if live.

Needs no sound card and no data: the synthesiser's signal is pushed in irregular blocks by a
source thread (as an audio callback would push it) into the ring buffer, and the analysis loop
reads the ring, runs the feature extractor and prints the texture features as they come.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import numpy as np

from listener.audio import ArraySource, RingBuffer
from listener.audio.synth import demo_signal
from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.features import TEXTURE_COLUMNS, FeatureExtractor

_SHOW = ("mean_centroid", "mean_rolloff", "mean_zcr", "mean_flux", "low_energy")


def _line(t: float, row: np.ndarray) -> str:
    v = dict(zip(TEXTURE_COLUMNS, row, strict=True))
    bar = "#" * int(min(30, v["mean_centroid"] / 150))
    return (
        f"{t:6.2f} s  centroid {v['mean_centroid']:6.0f} Hz (sd {np.sqrt(v['var_centroid']):5.0f})"
        f"  rolloff {v['mean_rolloff']:6.0f} Hz  zcr {v['mean_zcr']:.3f}"
        f"  flux {v['mean_flux']:.4f}  low energy {v['low_energy']:.2f}"
        f"  mfcc1 {v['mean_mfcc1']:6.1f}  {bar}"
    )


def run_demo(
    seconds: float = 8.0, realtime: bool = True, every: float = 0.5, out: TextIO = sys.stdout
) -> dict[str, float]:
    """Stream the built-in signal through the engine and print texture features live.

    Parameters
    ----------
    seconds : float
        Length of the performance.
    realtime : bool
        Pace the source at the signal's speed (False: as fast as possible).
    every : float
        Seconds of stream time between printed lines.
    out : TextIO
        Where the lines go (flushed one by one).

    Returns
    -------
    dict
        ``frames``, ``texture_vectors``, ``overflows``, ``dropped``, and ``process_us_p50`` /
        ``process_us_max``: the cost of each call of the extractor.
    """
    ring = RingBuffer()
    source = ArraySource(demo_signal(seconds), block_size=(64, 1024), realtime=realtime)
    fx = FeatureExtractor()
    buf = np.empty(ring.capacity, dtype=np.float32)
    step = max(1, round(every * SAMPLE_RATE / FRAME))
    costs: list[float] = []
    vectors = 0
    print(
        f"listening to the built-in performance ({seconds:.0f} s, "
        f"{'live pace' if realtime else 'as fast as possible'}); "
        f"texture over the last {TEXTURE_FRAMES} frames (1 s):",
        file=out,
        flush=True,
    )
    # live pace: a late consumer loses samples, counted; as fast as possible: the source waits
    source.start(ring.write if realtime else ring.offer)
    while source.running or ring.available:
        n = ring.read_into(buf)
        if n == 0:
            time.sleep(0.002)
            continue
        t0 = time.perf_counter()
        got = fx.process(buf[:n])
        costs.append((time.perf_counter() - t0) * 1e6)
        for i, row in enumerate(got.texture):
            index = got.texture_start + i
            vectors += 1
            if (index - TEXTURE_FRAMES + 1) % step == 0:
                print(_line((index + 1) * FRAME / SAMPLE_RATE, row), file=out, flush=True)
    source.join()
    stats = {
        "frames": fx.frames_done,
        "texture_vectors": vectors,
        "overflows": ring.overflows,
        "dropped": ring.dropped,
        "process_us_p50": float(np.percentile(costs, 50)) if costs else 0.0,
        "process_us_max": float(np.max(costs)) if costs else 0.0,
    }
    print(
        f"done: {stats['frames']} frames, {vectors} texture vectors, "
        f"{stats['overflows']} ring overflows ({stats['dropped']} samples dropped); "
        f"extractor call p50 {stats['process_us_p50']:.1f} us, "
        f"max {stats['process_us_max']:.1f} us (each call after a wait for audio, caches cold; "
        "`listener bench features` measures the steady state)",
        file=out,
        flush=True,
    )
    return stats

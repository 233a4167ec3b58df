"""``listener bench genres``: the 30-dim GTZAN vectors of a clip and one rolling decision update."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from listener.config import FRAME

from .timing import best_seconds


def bench_genres(
    samples: npt.NDArray[np.float32], collection: str | None = None, repeat: int = 5
) -> dict[str, float | int | None]:
    """Measure the genre side: GTZAN vectors of a clip, one rolling decision update.

    Parameters
    ----------
    samples : numpy.ndarray
        A clip (30 s gives 1291 frames).
    collection : str, optional
        A folder-per-label collection to extract whole, cold (no cache, decoding included).
    repeat : int
        Runs of the clip extraction; the best is reported.

    Returns
    -------
    dict
        ``vectors_ms_per_clip``, ``vectors_us_per_frame``, ``update_us_p50``, ``update_us_p99``
        (one vector into the shipped model's rolling decision), and with a collection
        ``collection_clips`` and ``collection_seconds``.
    """
    from listener.features.vector import GenreVectors, genre_vectors
    from listener.genres.model import GenreModel
    from listener.genres.online import OnlineGenre

    x = np.ascontiguousarray(samples, dtype=np.float32)
    n = x.shape[0] // FRAME
    clip_s = best_seconds(lambda: genre_vectors(x), repeat)
    got = genre_vectors(x)
    online = OnlineGenre(GenreModel.load())
    clock = time.perf_counter_ns
    times = np.empty(got.vectors.shape[0])
    for i in range(times.size):
        one = GenreVectors(got.start + i, got.vectors[i : i + 1], got.levels[i : i + 1])
        t0 = clock()
        online.process(one)
        times[i] = clock() - t0
    result: dict[str, float | int | None] = {
        "frames": n,
        "vectors_ms_per_clip": clip_s * 1e3,
        "vectors_us_per_frame": clip_s / n * 1e6,
        "update_us_p50": float(np.percentile(times, 50)) / 1e3,
        "update_us_p99": float(np.percentile(times, 99)) / 1e3,
        "collection_clips": None,
        "collection_seconds": None,
    }
    if collection:
        import tempfile

        from listener.genres.dataset import FeatureCache, extract_collection, find_clips

        clips = find_clips(collection)
        with tempfile.TemporaryDirectory() as empty:
            t0 = time.perf_counter()
            extract_collection(clips, FeatureCache(empty), progress=False)
            result["collection_seconds"] = time.perf_counter() - t0
        result["collection_clips"] = len(clips)
    return result

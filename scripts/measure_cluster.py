"""Measure extraction on a Dask cluster against local processes (issue 17's targets).

    python -m scripts.measure_cluster [--clips 100]
    python -m scripts.measure_cluster --mp3 20

The gtzan-mini clips extracted with empty caches: by local processes (2), by a Dask
LocalCluster of 1 and of 2 worker processes (one thread each); the wall times (the cluster's
start included, and without it), the throughput from 1 to 2 workers against linear, and
whether every clip's vectors equal the local ones bit for bit.

With ``--mp3 N``: N clips written as FMA's are (MP3, 44.1 kHz stereo, in a temporary folder,
deleted after), then extracted by one worker here, timing decoding and features apart; from
those, what 16 such workers would take for FMA-large (106,574 clips of 30 s, 93 GiB) and
fma_full (106,574 whole tracks, about 8,000 hours, 879 GiB), computing and reading.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

#: The FMA sets: clips, hours of audio, GiB of MP3 (Defferrard et al. 2017).
FMA = {"fma_large": (106_574, 106_574 * 30 / 3600, 93), "fma_full": (106_574, 8_000, 879)}
CLUSTER_WORKERS = 16
#: Read bandwidth from shared storage assumed for the estimate: 1 Gbit/s to the cluster.
STORAGE_GBIT_S = 1.0


def measure_mp3(clips: list, folder: Path) -> dict:
    """Per second of audio, the decoding and feature seconds of one worker on FMA-like MP3s."""
    import soundfile
    from scipy.signal import resample_poly

    from listener.genres.dataset import _extract_batch

    mp3s = []
    for clip in clips:
        x, rate = soundfile.read(clip.path, dtype="float32")
        up = resample_poly(x, 2, 1)[: int(len(x) * 44100 / rate)]  # 22050 -> 44100
        path = folder / (clip.path.stem + ".mp3")
        stereo = np.stack([up, up], axis=1)
        soundfile.write(
            path, stereo, 44100, format="MP3", bitrate_mode="CONSTANT", compression_level=0.2
        )
        mp3s.append(path)
    seconds = sum(soundfile.info(str(p)).duration for p in mp3s)
    _extract_batch([(str(mp3s[0]), 43)])  # compiled and warm, as on a worker
    result = _extract_batch([(str(p), 43) for p in mp3s])
    assert all(not isinstance(v, str) for v in result["vectors"]), result["vectors"]
    mib = sum(p.stat().st_size for p in mp3s) / 2**20
    out = {
        "mp3_clips": len(mp3s),
        "mp3_audio_s": round(seconds, 1),
        "mp3_kbit_s": round(mib * 2**20 * 8 / 1000 / seconds),
        "decode_s_per_audio_hour": round(result["decode_s"] / seconds * 3600, 1),
        "features_s_per_audio_hour": round(result["features_s"] / seconds * 3600, 1),
    }
    per_hour = (result["decode_s"] + result["features_s"]) / seconds * 3600
    for name, (_, hours, gib) in FMA.items():
        compute = hours * per_hour / CLUSTER_WORKERS
        read = gib * 2**30 * 8 / (STORAGE_GBIT_S * 1e9)
        out[f"{name}_{CLUSTER_WORKERS}_workers_compute_h"] = round(compute / 3600, 2)
        out[f"{name}_read_at_{STORAGE_GBIT_S:g}_gbit_h"] = round(read / 3600, 2)
    return out


def main() -> None:
    from listener.genres.dataset import FeatureCache, extract_collection, find_clips
    from listener.genres.executors import open_executor
    from tests.harness import GTZAN

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--mp3", type=int, help="time N clips as FMA-like MP3s, and estimate")
    args = parser.parse_args()
    if args.mp3:
        with tempfile.TemporaryDirectory() as folder:
            every = find_clips(GTZAN)
            print(json.dumps(measure_mp3(every[:: len(every) // args.mp3], Path(folder)), indent=1))
        return
    clips = find_clips(GTZAN)[: args.clips]
    out: dict = {"clips": len(clips)}
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, kind, workers in (
            ("local_2", "local", 2),
            ("dask_1", "dask", 1),
            ("dask_2", "dask", 2),
        ):
            began = time.monotonic()
            with open_executor(kind, workers=workers) as pool:
                ready = time.monotonic()
                cache = FeatureCache(Path(folder) / name)
                runs[name] = extract_collection(clips, cache, progress=False, executor=pool)
                done = time.monotonic()
            out[f"{name}_s"] = round(done - began, 2)
            out[f"{name}_work_s"] = round(done - ready, 2)
    out["dask_2_over_local_2"] = round(out["dask_2_s"] / out["local_2_s"], 3)
    out["speedup_1_to_2_workers"] = round(out["dask_1_work_s"] / out["dask_2_work_s"], 3)
    out["identical"] = all(
        np.array_equal(a, b) for a, b in zip(runs["local_2"], runs["dask_2"], strict=True)
    )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

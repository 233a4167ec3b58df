"""Measure extraction on a Dask cluster against local processes (issue 17's targets).

    python -m scripts.measure_cluster [--clips 100]

The gtzan-mini clips extracted with empty caches: by local processes (2), by a Dask
LocalCluster of 1 and of 2 worker processes (one thread each); the wall times (the cluster's
start included, and without it), the throughput from 1 to 2 workers against linear, and
whether every clip's vectors equal the local ones bit for bit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from listener.genres.dataset import FeatureCache, extract_collection, find_clips
    from listener.genres.executors import open_executor
    from tests.harness import GTZAN

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100)
    args = parser.parse_args()
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

"""Extraction on a Dask cluster (a LocalCluster of two worker processes) against local."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from listener.genres.dataset import FeatureCache, extract_collection, find_clips
from listener.genres.executors import open_executor
from tests.harness import need_module


@pytest.fixture(scope="module")
def cluster():
    need_module("distributed")
    with open_executor("dask", workers=2) as pool:
        yield pool


@pytest.fixture(scope="module")
def clips(gtzan):
    every = find_clips(gtzan)
    return [c for c in every if c.path.name.endswith(("00000.wav", "00001.wav"))][:12]


def test_features_on_the_cluster_equal_local_ones_bit_for_bit(cluster, clips, tmp_path):
    local = extract_collection(clips, FeatureCache(tmp_path / "local"), progress=False)
    remote = extract_collection(
        clips, FeatureCache(tmp_path / "dask"), progress=False, executor=cluster
    )
    assert len(remote) == len(local) == len(clips)
    for ours, theirs in zip(local, remote, strict=True):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def entries(cache):
    """The cache's finished entries: not a killed writer's temporary file (``.KEY.PID.tmp.npz``),
    which a kill between writing and renaming leaves behind."""
    return [p for p in cache.glob("*.npz") if not p.name.startswith(".")]


def test_a_run_killed_midway_recomputes_nothing_it_had_finished(clips, tmp_path):
    # a run on a Dask cluster of its own, killed once some clips are cached, and run again
    need_module("distributed")
    cache = tmp_path / "cache"
    script = (
        "import sys; from pathlib import Path\n"
        "from listener.genres.dataset import FeatureCache, extract_collection, Clip\n"
        "from listener.genres.executors import open_executor\n"
        "clips = [Clip(Path(p), 'x') for p in sys.argv[2:]]\n"
        "with open_executor('dask', workers=2) as pool:\n"
        "    extract_collection(clips, FeatureCache(sys.argv[1]), progress=False, executor=pool)\n"
    )
    paths = [str(c.path) for c in clips]
    run = subprocess.Popen([sys.executable, "-c", script, str(cache), *paths])
    deadline = time.monotonic() + 60
    while len(entries(cache)) < 4:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no clip cached in 60 s"
        time.sleep(0.02)
    run.kill()
    run.wait()
    before = {p.name: p.stat().st_mtime_ns for p in entries(cache)}
    assert 4 <= len(before) < len(clips)
    again = FeatureCache(cache)
    with open_executor("dask", workers=2) as pool:
        vectors = extract_collection(clips, again, progress=False, executor=pool)
    after = {p.name: p.stat().st_mtime_ns for p in entries(cache)}
    assert all(after[name] == stamp for name, stamp in before.items())  # none recomputed
    assert len(after) == len(clips)
    local = extract_collection(clips, FeatureCache(enabled=False), progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(vectors, local, strict=True))


def test_bad_files_are_records_and_the_rest_goes_on(cluster, clips, tmp_path):
    import shutil

    from listener.genres.dataset import Clip

    good = [Clip(tmp_path / f"good{i}.wav", "x") for i in range(2)]
    for clip, source in zip(good, clips, strict=False):
        shutil.copy(source.path, clip.path)
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path / "empty.wav").write_bytes(b"")
    import soundfile

    soundfile.write(tmp_path / "short.wav", np.zeros(2000, np.float32), 22050)
    bad = [Clip(tmp_path / name, "x") for name in ("noise.wav", "empty.wav", "short.wav")]
    errors: list = []
    vectors = extract_collection(
        [bad[0], good[0], bad[1], good[1], bad[2]],
        FeatureCache(tmp_path / "cache"),
        progress=False,
        executor=cluster,
        errors=errors,
    )
    assert len(vectors) == 2 and all(v.shape[1] == 30 for v in vectors)
    assert [clip.path.name for clip, _ in errors] == ["noise.wav", "empty.wav", "short.wav"]
    assert all(clip.path.name in reason for clip, reason in errors), errors
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


@pytest.fixture(scope="module")
def pairs(gtzan, tmp_path_factory):
    # three clips of each genre, their prepared window vectors and labels
    from listener.genres.features import prepare

    every = find_clips(gtzan)
    chosen = [c for c in every if c.path.name.endswith(("00000.wav", "00001.wav", "00002.wav"))]
    cache = FeatureCache(tmp_path_factory.mktemp("pairs"))
    vectors = extract_collection(chosen, cache, progress=False)
    return [prepare(v, "full") for v in vectors], [c.label for c in chosen]


def test_cross_validation_on_the_cluster_scores_as_local(cluster, pairs):
    from listener.genres.evaluate import cross_validate, stratified_folds
    from listener.genres.tuning import classifier_factory

    vectors, labels = pairs
    folds = stratified_folds(labels, 3, 0)
    for spec in ("gaussian", "gmm:2", "knn:3"):
        make = classifier_factory(spec)
        here = cross_validate(vectors, labels, folds, make).to_dict()
        there = cross_validate(vectors, labels, folds, make, executor=cluster).to_dict()
        assert there == here, spec
        assert 0.0 < here["clip"]["accuracy_mean"] < 1.0  # a figure, not a constant


def test_tuning_on_the_cluster_chooses_and_scores_as_local(cluster, pairs):
    # nested: each outer fold's choice runs on a worker; tune: the candidates go to the
    # cluster through joblib's Dask backend (this process's client is the fixture's)
    from listener.genres.evaluate import stratified_folds
    from listener.genres.tuning import nested_cross_validate, tune, tuning_grid

    vectors, labels = pairs
    folds = stratified_folds(labels, 3, 0)
    grid = tuning_grid("knn")
    seen: list = []
    here, chosen_here = nested_cross_validate(vectors, labels, folds, grid)
    there, chosen_there = nested_cross_validate(
        vectors, labels, folds, grid, executor=cluster, progress=lambda *a: seen.append(a)
    )
    assert chosen_there == chosen_here and there.to_dict() == here.to_dict()
    assert sorted(fold for fold, _, _ in seen) == [1, 2, 3]
    spec_here, scores_here = tune(vectors, labels, grid, folds=2)
    spec_there, scores_there = tune(vectors, labels, grid, folds=2, backend="dask")
    assert (spec_there, scores_there) == (spec_here, scores_here)
    assert len({s["window"] for s in scores_here}) > 1  # the candidates differ


def test_evaluate_command_on_a_dask_cluster_prints_the_local_figures(gtzan):
    def evaluate(*extra):
        return subprocess.run(
            [sys.executable, "-m", "listener", "genres", "evaluate", str(gtzan), "--json"]
            + ["--tune", "--folds", "3", "--workers", "2", *extra],
            capture_output=True,
            text=True,
            timeout=300,
        )

    need_module("distributed")
    local, dask = evaluate(), evaluate("--executor", "dask")
    assert local.returncode == 0 and dask.returncode == 0, dask.stderr
    assert "Dask dashboard: http://127.0.0.1:" in dask.stderr
    assert dask.stdout == local.stdout

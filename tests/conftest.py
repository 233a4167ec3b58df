"""Shared fixtures: the real data and programs the tests use (helpers in :mod:`tests.harness`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.harness import GTZAN, missing, need_module, need_program


@pytest.fixture(scope="session")
def gtzan() -> Path:
    """The gtzan-mini collection in ../shared/data (or $LISTENER_GTZAN)."""
    if not (GTZAN / "genres").is_dir():
        missing(f"gtzan-mini not found at {GTZAN}: set LISTENER_GTZAN to its folder")
    return GTZAN


@pytest.fixture(scope="session")
def librosa():
    """librosa, the reference implementation of the frame features."""
    return need_module("librosa")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def jack_server():
    """A dummy JACK server (48 kHz, periods of 128 frames: 2.7 ms), unique to this module."""
    need_program("jackd", "jackd2")
    need_module("jack")
    from tests.harness.jack import dummy_jack

    with dummy_jack() as name:
        yield name


#: The clip of each genre the held-out model never sees: the ones tests judge, else the first.
JUDGED = ("metal.00002.wav", "country.00000.wav", "classical.00005.wav")


@pytest.fixture(scope="session")
def model():
    """The shipped genre model."""
    from listener.genres.model import GenreModel

    return GenreModel.load()


@pytest.fixture(scope="session")
def composer():
    """The shipped folk-rnn model, on onnxruntime."""
    from listener.tunes.lstm import FolkLSTM

    return FolkLSTM()


@pytest.fixture(scope="session")
def held_out_model(gtzan, tmp_path_factory):
    """A genre model trained on 9 clips of each genre, as the shipped one was, and its path.

    The 10th (``JUDGED`` where a genre has one there, else its first clip) is left out, so that
    a test that judges it judges what the model learned, not what it memorised.
    """
    from listener.genres.dataset import FeatureCache, extract_collection, find_clips
    from listener.genres.features import prepare
    from listener.genres.gaussian import GaussianClassifier
    from listener.genres.model import GenreModel

    clips = find_clips(gtzan)
    cache = FeatureCache(tmp_path_factory.mktemp("features"))
    vectors = extract_collection(clips, cache, workers=2, progress=False)
    held = set()
    for label in sorted({c.label for c in clips}):
        names = [c.name for c in clips if c.label == label]
        held.add(next((n for n in names if n in JUDGED), names[0]))
    kept = [i for i, c in enumerate(clips) if c.name not in held]
    X = np.vstack([prepare(vectors[i]) for i in kept])
    y = np.concatenate([[clips[i].label] * vectors[i].shape[0] for i in kept])
    data = {"clips": len(kept), "held_out": sorted(held)}
    model = GenreModel(GaussianClassifier().fit(X, y), "full", {"data": data})
    model.calibrate(X)
    npz, _ = model.save(tmp_path_factory.mktemp("model") / "held-out.npz")
    return GenreModel.load(npz), npz

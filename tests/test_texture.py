from __future__ import annotations

import numpy as np
import pytest

from listener.config import TEXTURE_FRAMES
from listener.features import TEXTURE_COLUMNS, texture_features

W = TEXTURE_FRAMES


def two_pass(frames: np.ndarray) -> np.ndarray:
    """Texture vectors straight from the definition, one window at a time."""
    rows = []
    for i in range(W - 1, frames.shape[0]):
        win = frames[i - W + 1 : i + 1]
        rms = win[:, 9]
        rows.append(
            np.r_[
                win[:, :9].mean(axis=0),
                win[:, :9].var(axis=0),
                np.count_nonzero(rms < rms.mean()) / W,
            ]
        )
    return np.array(rows).reshape(-1, 19)


def test_columns():
    assert len(TEXTURE_COLUMNS) == 19
    assert TEXTURE_COLUMNS[0] == "mean_zcr" and TEXTURE_COLUMNS[9] == "var_zcr"
    assert TEXTURE_COLUMNS[-1] == "low_energy"


def test_matches_definition(rng):
    frames = rng.standard_normal((500, 10)) * [0.1, 2000, 3000, 0.01, 30, 10, 5, 5, 5, 0.2]
    frames[:, 9] = np.abs(frames[:, 9])
    got = texture_features(frames)
    assert got.shape == (500 - W + 1, 19)
    np.testing.assert_allclose(got, two_pass(frames), rtol=1e-9, atol=1e-12)


def test_first_vector_at_frame_43():
    assert texture_features(np.ones((W - 1, 10))).shape == (0, 19)
    assert texture_features(np.ones((W, 10))).shape == (1, 19)


def test_low_energy():
    frames = np.zeros((W, 10))
    assert texture_features(frames)[0, -1] == 0.0  # digital silence: none below the mean
    frames[:, 9] = 1.0
    frames[:10, 9] = 0.1  # 10 quiet frames among 43
    assert texture_features(frames)[0, -1] == pytest.approx(10 / W)


def test_constant_features_have_zero_variance_after_change(rng):
    # loud, wildly varying frames, then a steady stretch: the variance must come back to 0
    loud = rng.standard_normal((300, 10)) * 1e4
    steady = np.tile(np.linspace(1, 10, 10), (200, 1))
    got = texture_features(np.vstack([loud, steady]))
    tail = got[-(200 - W + 1) :]
    assert np.all(tail[:, 9:18] == 0.0)
    np.testing.assert_allclose(tail[:, :9], steady[: tail.shape[0], :9], rtol=1e-12)


def test_one_hour_without_drift(rng):
    # An hour of frames (155,039 at 23.2 ms) whose level and spread change by orders of
    # magnitude: the running moments must still equal a fresh two-pass computation.
    n = 155_039
    scale = 10.0 ** rng.uniform(-4, 4, size=(n // 500 + 1, 1))
    frames = rng.standard_normal((n, 10)) * np.repeat(scale, 500, axis=0)[:n] + 1e3
    frames[:, 9] = np.abs(frames[:, 9])
    got = texture_features(frames)
    for i in (0, n // 2, got.shape[0] - 1, got.shape[0] - 17):
        np.testing.assert_allclose(got[i], two_pass(frames[i : i + W])[0], rtol=1e-9, atol=1e-9)


def test_bad_shape():
    from listener.errors import AudioError

    with pytest.raises(AudioError, match="shape"):
        texture_features(np.zeros((50, 3)))


def test_threads_prime_their_windows(rng):
    # chunks on threads each prime their window from the 42 frames before them
    frames = rng.standard_normal((3000, 10)) * np.geomspace(1e-3, 1e4, 10)
    one = texture_features(frames, threads=1)
    np.testing.assert_allclose(texture_features(frames, threads=2), one, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(two_pass(frames[:400]), one[: 400 - W + 1], rtol=1e-9)

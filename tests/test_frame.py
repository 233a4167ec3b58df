"""Frame features against librosa (computed as DESIGN.md says) and against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from listener.audio import load_audio
from listener.config import FRAME, SAMPLE_RATE
from listener.features import FRAME_COLUMNS, frame_features

COL = {name: j for j, name in enumerate(FRAME_COLUMNS)}
CLIPS = [
    "blues/blues.00000.wav",
    "classical/classical.00003.wav",
    "metal/metal.00002.wav",
    "hiphop/hiphop.00005.wav",
    "jazz/jazz.00011.wav",
]


def reference(y: np.ndarray, librosa) -> dict[str, np.ndarray]:
    """The frame features with librosa: one magnitude STFT, passed with S=.

    librosa has no spectral flux of normalised spectra: flux here is DESIGN.md's definition on
    librosa's STFT, and :func:`test_flux_known_answer` holds ours to a value worked by hand.
    """
    y = y.astype(np.float64)
    mag = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=FRAME, window="hann", center=False))
    sr = SAMPLE_RATE
    total = mag.sum(axis=0)
    norm = np.where(total > 1e-10, mag / np.where(total > 1e-10, total, 1.0), 0.0)
    flux = np.r_[0.0, np.sum(np.diff(norm, axis=1) ** 2, axis=0)]
    mel = librosa.feature.melspectrogram(
        S=mag**2, sr=sr, n_fft=FRAME, n_mels=40, fmin=0.0, fmax=sr / 2, htk=False, norm="slaney"
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=6, dct_type=2, norm="ortho")[1:6]
    return {
        "zcr": librosa.feature.zero_crossing_rate(
            y, frame_length=FRAME, hop_length=FRAME, center=False
        )[0],
        "centroid": librosa.feature.spectral_centroid(S=mag, sr=sr, n_fft=FRAME)[0],
        "rolloff": librosa.feature.spectral_rolloff(S=mag, sr=sr, n_fft=FRAME, roll_percent=0.85)[
            0
        ],
        "flux": flux,
        "mfcc": mfcc.T,
        "rms": librosa.feature.rms(y=y, frame_length=FRAME, hop_length=FRAME, center=False)[0],
    }


def assert_matches_librosa(x: np.ndarray, librosa) -> None:
    got = frame_features(x)
    ref = reference(x, librosa)
    assert got.shape == (x.size // FRAME, 10)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got[:, COL["zcr"]], ref["zcr"])
    for name in ("centroid", "flux", "rms"):
        np.testing.assert_allclose(
            got[:, COL[name]], ref[name], rtol=1e-4, atol=1e-12, err_msg=name
        )
    np.testing.assert_array_equal(got[:, COL["rolloff"]], ref["rolloff"])  # the same bin
    np.testing.assert_allclose(
        got[:, COL["mfcc1"] : COL["mfcc5"] + 1], ref["mfcc"], rtol=0, atol=0.01
    )


@pytest.mark.parametrize("clip", CLIPS)
def test_real_clips_match_librosa(gtzan, librosa, clip):
    assert_matches_librosa(load_audio(gtzan / "genres" / clip), librosa)


def test_synthetic_signals_match_librosa(librosa, rng):
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    chirp = np.sin(2 * np.pi * (100 + 2000 * t) * t)
    x = np.concatenate(
        [chirp, np.zeros(3000), 1e-6 * rng.standard_normal(5000), 0.3 * rng.standard_normal(6000)]
    ).astype(np.float32)
    assert_matches_librosa(x, librosa)


def test_sine_centroid_is_its_frequency():
    # a sine on a bin centre: the Hann window spreads it symmetrically over three bins
    for k in (10, 46, 123):
        f = k * SAMPLE_RATE / FRAME
        x = np.sin(2 * np.pi * f * np.arange(FRAME * 20) / SAMPLE_RATE)
        got = frame_features(x)
        assert np.allclose(got[:, COL["centroid"]], f, rtol=1e-6)
        # magnitudes 1/4, 1/2, 1/4 on bins k-1, k, k+1: 85% is reached at bin k+1
        assert np.allclose(got[:, COL["rolloff"]], (k + 1) * SAMPLE_RATE / FRAME)
    # between bins the centroid stays within a bin of the frequency
    x = np.sin(2 * np.pi * 1234.5 * np.arange(FRAME * 20) / SAMPLE_RATE)
    assert np.allclose(frame_features(x)[:, COL["centroid"]], 1234.5, atol=SAMPLE_RATE / FRAME)


def test_sine_zcr_and_rms():
    f = 1000.0
    x = np.sin(2 * np.pi * f * np.arange(FRAME * 40) / SAMPLE_RATE)
    got = frame_features(x)
    crossings_per_frame = 2 * f * FRAME / SAMPLE_RATE
    assert np.allclose(got[:, COL["zcr"]] * FRAME, crossings_per_frame, atol=1.01)
    assert np.allclose(got[:, COL["rms"]], np.sqrt(0.5), rtol=0.01)


def test_white_noise(rng):
    got = frame_features(rng.standard_normal(SAMPLE_RATE * 5))
    assert abs(np.mean(got[:, COL["zcr"]]) - 0.5) < 0.01
    # a flat spectrum: centroid near half of Nyquist, rolloff near 85% of it
    assert abs(np.mean(got[:, COL["centroid"]]) - SAMPLE_RATE / 4) < 150
    assert abs(np.mean(got[:, COL["rolloff"]]) - 0.85 * SAMPLE_RATE / 2) < 200
    assert np.allclose(np.mean(got[:, COL["rms"]]), 1.0, rtol=0.02)


def test_flux_first_frame_zero_and_stationary_small():
    x = np.sin(2 * np.pi * 441 * np.arange(FRAME * 10) / SAMPLE_RATE)
    got = frame_features(x)  # a steady tone: every frame's spectrum looks alike
    assert got[0, COL["flux"]] == 0.0
    assert np.all(got[1:, COL["flux"]] < 1e-3)


def test_flux_known_answer():
    # Frames alternate between two tones, each at the centre of an FFT bin far from the
    # other. A periodic Hann window spreads a bin-centred tone over three bins with
    # magnitudes 1/4, 1/2, 1/4 of its peak, so the normalised spectra are (1/4, 1/2, 1/4) on
    # disjoint bins, and flux = 2 * (1/16 + 1/4 + 1/16) = 3/4 at every change.
    n = np.arange(FRAME)
    tones = [np.sin(2 * np.pi * k * n / FRAME) for k in (20, 60)]
    x = np.concatenate([tones[i % 2] for i in range(8)])
    got = frame_features(x)[:, COL["flux"]]
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1:], 0.75, rtol=1e-3)


@pytest.mark.parametrize("level", [0.0, 1e-30, 1e-12, 1e-8])
def test_silence_and_near_silence_are_finite(level, rng):
    x = level * rng.standard_normal(FRAME * 8)
    got = frame_features(x)
    assert np.isfinite(got).all()
    if level == 0.0:
        assert np.all(got[:, [COL["centroid"], COL["rolloff"], COL["flux"], COL["rms"]]] == 0)
        assert np.all(got[:, COL["zcr"]] == 0)  # zero counts as positive: no sign changes
        assert np.allclose(got[:, COL["mfcc1"] :], 0.0, atol=1e-9)  # the floor is flat


def test_silence_after_sound_and_back(rng):
    x = np.concatenate(
        [rng.standard_normal(FRAME * 3), np.zeros(FRAME * 3), rng.standard_normal(FRAME * 3)]
    )
    got = frame_features(x)
    assert np.isfinite(got).all()
    assert got[3, COL["flux"]] > 0 and got[4, COL["flux"]] == 0 and got[6, COL["flux"]] > 0
    assert got[4, COL["centroid"]] == 0


def test_extremes_stay_finite():
    full = np.tile([1.0, -1.0], FRAME * 2)  # full-scale Nyquist
    dc = np.ones(FRAME * 4)
    impulses = np.zeros(FRAME * 4)
    impulses[::FRAME] = 1.0
    for x in (full, dc, impulses, np.float32(3.4e38) * np.ones(FRAME * 2, dtype=np.float32)):
        assert np.isfinite(frame_features(x)).all()
    assert np.all(frame_features(full)[:, COL["zcr"]] == (FRAME - 1) / FRAME)


def test_threads_do_not_change_results(rng):
    x = rng.standard_normal(FRAME * 1000).astype(np.float32)
    one = frame_features(x, threads=1)
    assert np.array_equal(one, frame_features(x, threads=2))
    assert np.array_equal(one, frame_features(x, threads=7))


def test_short_input():
    assert frame_features(np.zeros(511)).shape == (0, 10)
    assert frame_features(np.zeros(512)).shape == (1, 10)

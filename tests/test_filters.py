from __future__ import annotations

import numpy as np
import scipy.fft

from listener.features.fft import rfft_frame
from listener.features.filters import dct_matrix, hann, mel_filterbank


def _rfft(x):
    re = np.empty(257)
    im = np.empty(257)
    rfft_frame(x, np.ones(512), np.empty(256), np.empty(256), re, im)
    return re + 1j * im


def test_rfft_matches_numpy(rng):
    for x in (
        rng.standard_normal(512),
        np.zeros(512),
        np.ones(512),
        np.eye(512)[7] * 3.0,
        np.sin(2 * np.pi * 37 * np.arange(512) / 512) * 1e-9,
    ):
        ref = np.fft.rfft(x)
        got = _rfft(np.ascontiguousarray(x, dtype=np.float64))
        assert np.allclose(got, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))


def test_hann_is_periodic(librosa):
    assert np.allclose(hann(512), librosa.filters.get_window("hann", 512, fftbins=True))


def test_mel_filterbank_matches_librosa_slaney(librosa):
    ref = librosa.filters.mel(
        sr=22050,
        n_fft=512,
        n_mels=40,
        fmin=0.0,
        fmax=11025.0,
        htk=False,
        norm="slaney",
        dtype=np.float64,
    )
    assert np.allclose(mel_filterbank(), ref, rtol=1e-10, atol=1e-14)


def test_dct_is_orthonormal_dct2():
    x = np.random.default_rng(0).standard_normal(40)
    assert np.allclose(dct_matrix(6) @ x, scipy.fft.dct(x, type=2, norm="ortho")[:6])
    full = dct_matrix(40)
    assert np.allclose(full @ full.T, np.eye(40))

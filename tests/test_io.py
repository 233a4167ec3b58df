from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from listener.audio import load_audio, resample, to_mono
from listener.errors import AudioError, DataError, ListenerError
from tests.harness import need_program


def _sine(freq: float, seconds: float, rate: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32
    )


def _peak_hz(x: np.ndarray, rate: int = 22050) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [
        (".wav", "PCM_16"),
        (".wav", "FLOAT"),
        (".au", "PCM_16"),
        (".flac", "PCM_24"),
        (".ogg", "VORBIS"),
    ],
)
def test_formats_load_as_mono_22050(tmp_path, suffix, subtype):
    rate = 22050
    x = _sine(440.0, 1.0, rate)
    path = tmp_path / f"tone{suffix}"
    sf.write(path, x, rate, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - x.size) <= 64  # lossy codecs may pad
    assert abs(_peak_hz(y) - 440.0) < 22050 / y.size * 1.5


def test_stereo_at_44100_is_mixed_and_resampled(tmp_path):
    rate = 44100
    left = _sine(1000.0, 2.0, rate)
    right = _sine(3000.0, 2.0, rate)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), rate, subtype="FLOAT")
    y = load_audio(path)
    assert y.size == 44100  # 2 s at 22050 Hz
    spectrum = np.abs(np.fft.rfft(y[2000:-2000]))
    freqs = np.fft.rfftfreq(y.size - 4000, 1 / 22050)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert abs(top[0] - 1000) < 2 and abs(top[1] - 3000) < 2
    # each channel at half level after the mix: two sines of amplitude 0.25, rms 0.25
    mid = y[4000:-4000]
    assert np.isclose(np.sqrt(np.mean(mid**2)), 0.25, rtol=0.02)


@pytest.mark.parametrize(
    ("suffix", "args"),
    [(".au", ["-e", "mu-law"]), (".flac", []), (".ogg", []), (".wav", ["-b", "24"])],
)
def test_files_written_by_sox(tmp_path, suffix, args):
    # an independent encoder: sox writes the files, libsndfile reads them
    sox = need_program("sox", "sox")
    path = tmp_path / f"sox{suffix}"
    subprocess.run(
        [sox, "-n", "-r", "48000", "-c", "2", *args, str(path), "synth", "1.5", "sine", "660"],
        check=True,
    )
    y = load_audio(path)
    assert abs(y.size - int(1.5 * 22050)) <= 64
    assert abs(_peak_hz(y) - 660.0) < 22050 / y.size * 1.5


def test_resample_keeps_frequency_and_length():
    x = _sine(440.0, 1.0, 48000)
    y = resample(x, 48000, 22050)
    assert y.size == 22050 and y.dtype == np.float32
    assert abs(_peak_hz(y) - 440.0) <= 1.0
    assert np.array_equal(resample(x, 22050, 22050), x)


def test_to_mono_shapes():
    assert to_mono(np.zeros((10, 1))).shape == (10,)
    assert np.allclose(to_mono(np.array([[1.0, 0.0], [0.0, 1.0]])), 0.5)
    with pytest.raises(AudioError):
        to_mono(np.zeros((2, 2, 2)))


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(DataError, match="nope.wav: no such file"):
        load_audio(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.wav: the file is empty"):
        load_audio(path)


def test_not_audio(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(DataError, match=r"notes\.txt: not readable as audio"):
        load_audio(path)


def test_truncated_header(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _sine(440, 0.5, 22050), 22050)
    bad = tmp_path / "cut.wav"
    bad.write_bytes(good.read_bytes()[:30])
    with pytest.raises(DataError, match="cut.wav"):
        load_audio(bad)


def test_header_without_samples(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(DataError, match="no samples"):
        load_audio(path)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        load_audio(tmp_path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected(tmp_path, bad):
    x = _sine(440, 0.5, 22050)
    x[5000] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, x, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"bad\.wav: 1 samples are NaN or infinite.*sample 5000"):
        load_audio(path)


def test_errors_share_one_base():
    assert issubclass(DataError, ListenerError) and issubclass(AudioError, ListenerError)

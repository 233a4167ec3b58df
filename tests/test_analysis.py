"""The one analysis path: a file and a live input at any rate give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from listener.analysis import Analysis
from listener.audio.io import load_audio, resample
from listener.audio.resampler import StreamResampler
from listener.config import SAMPLE_RATE
from listener.features.vector import genre_vectors


@pytest.fixture(scope="module")
def clip(gtzan) -> np.ndarray:
    return load_audio(gtzan / "genres" / "jazz" / "jazz.00001.wav")[: 8 * SAMPLE_RATE]


def _in_blocks(analysis: Analysis, x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.size:
        n = int(rng.integers(64, 4096))
        out.append(analysis.process(x[i : i + n]).vectors.vectors)
        i += n
    return np.vstack(out)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_file_and_a_live_input_give_the_same_features(clip, held_out_model, tmp_path, rate):
    # A recording at the device's rate (made here with scipy, a resampler of its own), read
    # from a file, and the same samples arriving live in blocks of any size
    recording = resample_poly(clip, rate, SAMPLE_RATE).astype(np.float32)
    path = tmp_path / f"clip-{rate}.wav"
    sf.write(path, recording, rate, subtype="FLOAT")
    from_file = load_audio(path)
    analysis = Analysis(held_out_model[0], rate=rate)
    # the same samples at 22050 Hz, to the bit, whatever the blocks
    rng = np.random.default_rng(rate)
    cuts = np.cumsum(rng.integers(64, 4096, recording.size // 64))
    blocks = np.split(recording, cuts[cuts < recording.size])
    np.testing.assert_array_equal(np.concatenate([analysis.resample(b) for b in blocks]), from_file)
    analysis.reset()
    # and so the same features: the stream's running sums and the file's whole-signal ones
    # agree to rounding (streaming equals offline, as for any audio)
    offline = genre_vectors(from_file).vectors
    live = _in_blocks(analysis, recording, seed=rate)
    assert live.shape == offline.shape and live.shape[0] > 250
    np.testing.assert_allclose(live, offline, rtol=1e-9, atol=1e-12)


def test_analysis_in_blocks_equals_at_once_after_reset(clip, held_out_model):
    analysis = Analysis(held_out_model[0], rate=44100)
    recording = resample_poly(clip, 44100, SAMPLE_RATE).astype(np.float32)
    first = _in_blocks(analysis, recording, seed=1)
    analysis.reset()
    whole = analysis.process(recording).vectors.vectors
    np.testing.assert_array_equal(first, whole)
    # without the reset, the stream goes on: the second pass starts mid-texture-window
    assert not np.array_equal(_in_blocks(analysis, recording, seed=2)[:10], whole[:10])


@pytest.mark.parametrize("rate", [44100, 48000])
def test_no_aliasing_from_above_the_new_nyquist(rate):
    # a tone above 11025 Hz has no place at 22050 Hz: it must not fold back into the band
    t = np.arange(2 * rate) / rate
    for tone in (12_000.0, 15_000.0, 20_000.0):
        got = resample(np.sin(2 * np.pi * tone * t), rate)[4000:-4000]
        level = 20 * np.log10(np.sqrt(np.mean(got**2)) / np.sqrt(0.5))
        assert level < -70, (tone, level)
    # and one well inside the band passes at its level, at its frequency
    got = resample(np.sin(2 * np.pi * 3000.0 * t), rate)[4000:-4000]
    assert abs(np.sqrt(2 * np.mean(got**2)) - 1) < 1e-3
    spectrum = np.abs(np.fft.rfft(got * np.hanning(got.size)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / got.size - 3000.0) < 2


def test_a_whole_signal_is_resampled_as_its_blocks_are(rng):
    x = rng.standard_normal(3 * 48000).astype(np.float32)  # as a device delivers it
    stream, parts, i = StreamResampler(48000), [], 0
    while i < x.size:  # blocks of any size
        n = int(rng.integers(1, 2000))
        parts.append(stream.process(x[i : i + n]))
        i += n
    whole = resample(x, 48000)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.size == 3 * SAMPLE_RATE
    stream.reset()  # a new stream: the same again; without the reset, history carries over
    np.testing.assert_array_equal(stream.process(x), whole)
    assert not np.array_equal(stream.process(x)[:100], whole[:100])

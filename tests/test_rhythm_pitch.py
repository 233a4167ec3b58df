"""Rhythm and pitch features on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from listener.audio import load_audio
from listener.audio.synth import midi_to_hz, pluck
from listener.config import FRAME, SAMPLE_RATE
from listener.features.pitch import PITCH_COLUMNS, PitchFeatures, pitch_features
from listener.features.rhythm import RHYTHM_COLUMNS, RhythmFeatures, rhythm_features

R = {c: j for j, c in enumerate(RHYTHM_COLUMNS)}
P = {c: j for j, c in enumerate(PITCH_COLUMNS)}


def click_track(bpm: float, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 1e-3 * rng.standard_normal(int(seconds * SAMPLE_RATE))
    period = 60.0 / bpm * SAMPLE_RATE
    click = 0.8 * np.hanning(60) * np.sin(np.arange(60) * 2.5)
    for k in range(int(seconds * SAMPLE_RATE / period)):
        i = int(round(k * period))
        x[i : i + 60] += click[: x.size - i]
    return x.astype(np.float32)


def frames_of(x: np.ndarray) -> np.ndarray:
    n = x.size // FRAME
    return x[: n * FRAME].reshape(n, FRAME)


def in_pieces(processor, frames: np.ndarray, rng, most: int) -> np.ndarray:
    """Feed frames to a processor in pieces of random size; join what comes out."""
    parts, i = [], 0
    while i < len(frames):
        n = int(rng.integers(1, most + 1))
        parts.append(processor.process(frames[i : i + n]))
        i += n
    return np.concatenate(parts)


@pytest.mark.parametrize("bpm", [60, 90, 120, 133, 175])
def test_click_track_tempo(bpm):
    r = rhythm_features(click_track(bpm))
    assert abs(r[-1, R["P1"]] - bpm) <= 2.0
    assert r[-1, R["A0"]] > r[-1, R["A1"]] >= 0.0
    assert 0.0 <= r[-1, R["SUM"]] <= 1.0


def test_rhythm_is_gain_independent():
    x = click_track(120)
    np.testing.assert_allclose(rhythm_features(x * 0.05), rhythm_features(x), rtol=1e-6, atol=1e-9)


def test_rhythm_streaming_equals_offline(rng):
    x = click_track(100, 8.0)
    offline = rhythm_features(x)
    rf = RhythmFeatures()
    f = frames_of(x)
    np.testing.assert_array_equal(in_pieces(rf, f, rng, 40), offline)
    rf.reset()
    np.testing.assert_array_equal(rf.process(f), offline)


def test_rhythm_of_silence_and_steady_tone_is_zero():
    assert np.all(rhythm_features(np.zeros(SAMPLE_RATE * 4)) == 0.0)
    tone = np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE)
    r = rhythm_features(tone)
    assert np.isfinite(r).all() and np.all(r[-50:, R["SUM"]] < 0.05)


def notes_signal(notes, seconds=0.5):
    return np.concatenate([pluck(float(midi_to_hz(n)), seconds, decay=1.0) for n in notes])


def test_known_notes_top_the_histogram():
    pf = PitchFeatures()
    pf.process(frames_of(notes_signal([60, 64, 67, 60, 64, 67])))  # C E G, 3 s
    top = set(np.argsort(pf.histogram)[::-1][:3])
    assert top == {60, 64, 67}


def test_pitch_class_of_a_melody():
    # A minor arpeggio over two octaves: pitch classes A, C, E on the circle of fifths
    x = notes_signal([57, 60, 64, 69, 72, 76] * 2, 0.25)
    p = pitch_features(x)[-1]
    fifths = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: 7, 8: 8, 3: 9, 10: 10, 5: 11}
    assert p[P["FP0"]] in {fifths[9], fifths[0], fifths[4]}
    assert p[P["UP0"]] in {57, 60, 64, 69, 72, 76}
    assert 0 < p[P["FA0"]] <= 1 and 0 < p[P["SUM"]] <= 1


def test_pitch_streaming_equals_offline(rng):
    x = notes_signal([62, 66, 69, 74], 0.5)
    offline = pitch_features(x)
    np.testing.assert_array_equal(in_pieces(PitchFeatures(), frames_of(x), rng, 30), offline)


def test_pitch_of_silence_and_noise_is_finite(rng):
    assert np.all(pitch_features(np.zeros(SAMPLE_RATE * 2)) == 0.0)
    assert np.isfinite(pitch_features(rng.standard_normal(SAMPLE_RATE * 2))).all()


@pytest.mark.parametrize("clip", ["reggae/reggae.00001.wav", "disco/disco.00002.wav"])
def test_real_clip_tempo_agrees_with_librosa(gtzan, librosa, clip):
    x = load_audio(gtzan / "genres" / clip)
    r = rhythm_features(x)
    assert np.isfinite(r).all() and np.isfinite(pitch_features(x)).all()
    # librosa's tempo estimate (its own onset envelope and tempogram) as the reference:
    # within 5%, or an octave away (the histogram's strongest peak may be the half or double)
    want = float(librosa.feature.tempo(y=x, sr=SAMPLE_RATE)[0])
    got = float(np.median(r[200:, R["P1"]]))
    assert min(abs(got / (want * k) - 1) for k in (0.5, 1.0, 2.0)) < 0.05, (got, want)


def test_genre_vectors_stream_equals_offline(gtzan, rng):
    from listener.features.vector import GENRE_COLUMNS, GenreFeatures, genre_vectors

    x = load_audio(gtzan / "genres" / "country" / "country.00002.wav")[: SAMPLE_RATE * 8]
    offline = genre_vectors(x)
    assert len(GENRE_COLUMNS) == 30 and offline.vectors.shape[1] == 30
    assert offline.start == 42 and np.isfinite(offline.vectors).all()
    gf = GenreFeatures()
    parts, levels, pos = [], [], 0
    while pos < x.size:
        n = int(rng.integers(1, 4097))
        got = gf.process(x[pos : pos + n])
        assert got.levels.shape == (got.vectors.shape[0],)
        if got.vectors.size:
            parts.append(got.vectors)
            levels.append(got.levels)
        pos += n
    np.testing.assert_allclose(np.concatenate(parts), offline.vectors, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(levels), offline.levels, rtol=1e-9)


def test_window_level_is_its_quietest_frame():
    from listener.features.vector import genre_vectors

    t = np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE
    x = 0.5 * np.sin(2 * np.pi * 10 * SAMPLE_RATE / FRAME * t)  # 10 periods a frame
    x[FRAME * 50 : FRAME * 53] *= 0.01  # frames 50, 51 and 52 40 dB down
    got = genre_vectors(x)
    loud = 20 * np.log10(0.5 / np.sqrt(2))
    frame = np.arange(got.vectors.shape[0]) + got.start  # the last frame of each window
    holds_dip = (frame >= 50) & (frame - 42 <= 52)
    np.testing.assert_allclose(got.levels[~holds_dip], loud, atol=0.01)
    assert np.all(got.levels[holds_dip] < loud - 39)
    assert genre_vectors(np.zeros(SAMPLE_RATE)).levels[0] == -200.0


def test_short_signals_give_no_vectors():
    from listener.features.vector import genre_vectors

    assert genre_vectors(np.zeros(FRAME * 42)).vectors.shape == (0, 30)
    assert genre_vectors(np.zeros(SAMPLE_RATE)).vectors.shape == (1, 30)

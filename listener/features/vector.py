"""The 30-dim GTZAN vector: timbral texture (19), rhythm (6) and pitch (5), per frame.

A vector exists for every frame whose 1 s texture window is full (from frame 42 on); its rhythm
and pitch parts describe the 2.97 s ending with the same frame (with silence before the stream
started). :class:`GenreFeatures` computes them as a stream, :func:`genre_vectors` for a whole
signal, with the same numbers.

The vector leaves out loudness on purpose (it does not depend on the input gain), so each comes
with the level of its texture window beside it: the RMS of the window's quietest frame, in dB
relative to full scale. A listener uses it to tell music from silence and from windows that
silence cuts into, whose texture describes the cut more than the music.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import AudioError
from listener.features.extractor import FeatureExtractor, extract
from listener.features.frame import FRAME_COLUMNS, split_frames
from listener.features.pitch import PITCH_COLUMNS, PitchFeatures
from listener.features.rhythm import RHYTHM_COLUMNS, RhythmFeatures
from listener.features.texture import TEXTURE_COLUMNS

#: Names of the 30 columns of a GTZAN vector.
GENRE_COLUMNS = TEXTURE_COLUMNS + RHYTHM_COLUMNS + PITCH_COLUMNS
#: The timbral texture part of a GTZAN vector (the real-time "RT" classifier uses it alone).
TIMBRAL = slice(0, len(TEXTURE_COLUMNS))
_RMS = FRAME_COLUMNS.index("rms")


def _window_levels(rms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # dBFS of the smallest of each run of TEXTURE_FRAMES consecutive frame RMS values
    if rms.shape[0] < TEXTURE_FRAMES:
        return np.zeros(0)
    quietest = np.lib.stride_tricks.sliding_window_view(rms, TEXTURE_FRAMES).min(axis=1)
    return 20.0 * np.log10(np.maximum(quietest, 1e-10))


class GenreVectors(NamedTuple):
    """GTZAN vectors of consecutive frames.

    Attributes
    ----------
    start : int
        Stream index of the frame of ``vectors[0]`` (the last frame of its texture window).
    vectors : numpy.ndarray
        float64, shape ``(m, 30)``, columns ``GENRE_COLUMNS``.
    levels : numpy.ndarray or None
        float64, shape ``(m,)``: the RMS of the quietest frame of each vector's texture window,
        in dBFS (floored at -200); None where the source did not say.
    """

    start: int
    vectors: npt.NDArray[np.float64]
    levels: npt.NDArray[np.float64] | None = None

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Stream time in seconds at which each vector is complete (the end of its frame)."""
        return (np.arange(self.vectors.shape[0]) + self.start + 1) * (FRAME / SAMPLE_RATE)


class GenreFeatures:
    """Streaming GTZAN vectors (processor: ``process(block)``, ``reset()``)."""

    def __init__(self) -> None:
        self.timbral = FeatureExtractor()
        self.rhythm = RhythmFeatures()
        self.pitch = PitchFeatures()
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self.timbral.reset()
        self.rhythm.reset()
        self.pitch.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._rms = np.zeros(0)  # the last frames' RMS, for the next window levels
        #: The frame features (``FRAME_COLUMNS``) of the last frame complete, None before one.
        self.last_frame: npt.NDArray[np.float64] | None = None

    def process(self, block: npt.ArrayLike) -> GenreVectors:
        """Take the next samples (any length); return the vectors of the frames they complete."""
        x = np.asarray(block, dtype=np.float32)
        if x.ndim != 1:
            raise AudioError(f"process() takes mono blocks of shape (n,), got {x.shape}")
        got = self.timbral.process(x)
        if got.frames.shape[0]:
            self.last_frame = got.frames[-1]
        joined = np.concatenate([self._pending, x]) if self._pending.size else x
        n = joined.shape[0] // FRAME
        frames = joined[: n * FRAME].reshape(n, FRAME)
        self._pending = joined[n * FRAME :].copy()
        rhythm = self.rhythm.process(frames)
        pitch = self.pitch.process(frames)
        m = got.texture.shape[0]
        vectors = np.hstack([got.texture, rhythm[n - m :], pitch[n - m :]])
        rms = np.concatenate([self._rms, got.frames[:, _RMS]])
        self._rms = rms[-(TEXTURE_FRAMES - 1) :]
        levels = _window_levels(rms)
        return GenreVectors(got.texture_start, vectors, levels[levels.shape[0] - m :])


def genre_vectors(samples: npt.ArrayLike, threads: int | None = None) -> GenreVectors:
    """GTZAN vectors of every frame of a whole signal that has a full texture window.

    Parameters
    ----------
    samples : array_like
        Mono signal at 22050 Hz.
    threads : int, optional
        Threads for the timbral part (default: one per core).

    Returns
    -------
    GenreVectors
        From frame 42 on; none for a signal shorter than 43 frames (1 s).
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"genre_vectors() takes a mono signal of shape (n,), got {x.shape}")
    frames = split_frames(x)
    n = frames.shape[0]
    got = extract(x, threads)
    m = got.texture.shape[0]
    rhythm = RhythmFeatures().process(frames)[n - m :]
    pitch = PitchFeatures().process(frames)[n - m :]
    vectors = np.hstack([got.texture, rhythm, pitch])
    return GenreVectors(TEXTURE_FRAMES - 1, vectors, _window_levels(got.frames[:, _RMS])[:m])

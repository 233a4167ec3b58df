"""The streaming feature extractor: audio blocks of any size in, frame and texture features out.

:class:`FeatureExtractor` is the processor the analysis thread runs: ``process(block)`` takes the
samples that have arrived (1 sample or 4096, it does not matter), cuts them into 512-sample frames,
and returns the features of every frame it completed. ``reset()`` starts a new stream. Fed a whole
signal in any blocking it gives the same numbers as :func:`extract`, the offline path.

The per-call work runs in one compiled kernel that assembles frames, computes their features and
updates the texture window, so that a 512-sample block costs a few microseconds. Its state lives
in one float64 vector (laid out below), so that few arrays cross the boundary between Python and
compiled code on every call: each costs a fraction of a microsecond to pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import AudioError
from listener.features.frame import (
    N_FRAME_FEATURES,
    PREV_SIZE,
    SCRATCH_SIZE,
    analyse_frame,
    frame_features,
)
from listener.features.texture import (
    MOMENT_ROWS,
    N_TEXTURE_FEATURES,
    texture_features,
    texture_update,
)

# Layout of the float64 state vector.
# (offset, then what the slice holds and its length)
_PENDING = 0  # samples of the frame being assembled: FRAME
_PREV = _PENDING + FRAME  # what analyse_frame keeps of the previous frame: PREV_SIZE
_SCRATCH = _PREV + PREV_SIZE  # work space of analyse_frame: SCRATCH_SIZE
_HISTORY = _SCRATCH + SCRATCH_SIZE  # the texture window: TEXTURE_FRAMES x N_FRAME_FEATURES
_MOMENTS = _HISTORY + TEXTURE_FRAMES * N_FRAME_FEATURES  # moments: MOMENT_ROWS x N_FRAME_FEATURES
_SPARE = _MOMENTS + MOMENT_ROWS * N_FRAME_FEATURES  # output of an incomplete window
_STATE_SIZE = _SPARE + N_TEXTURE_FEATURES


@nb.njit(
    [
        "void(float32[::1], float64[::1], int64, int64, float64[:, ::1], float64[:, ::1])",
        "void(float64[::1], float64[::1], int64, int64, float64[:, ::1], float64[:, ::1])",
    ],
    cache=True,
    nogil=True,
)
def _stream_block(block, state, filled, index, frames, texture):  # pragma: no cover - compiled
    # Append block to the pending frame (which holds `filled` samples; the next frame to complete
    # is `index`); write each completed frame's features to a row of `frames` and, once its
    # window is full, its texture vector to the next row of `texture`.
    pending = state[_PENDING:_PREV]
    prev = state[_PREV:_SCRATCH]
    scratch = state[_SCRATCH:_HISTORY]
    history = state[_HISTORY:_MOMENTS].reshape((TEXTURE_FRAMES, N_FRAME_FEATURES))
    moments = state[_MOMENTS:_SPARE].reshape((MOMENT_ROWS, N_FRAME_FEATURES))
    spare = state[_SPARE:_STATE_SIZE]
    rows = 0
    texture_rows = 0
    pos = 0
    n = block.shape[0]
    while pos < n:
        take = min(FRAME - filled, n - pos)
        for i in range(take):
            pending[filled + i] = block[pos + i]
        filled += take
        pos += take
        if filled == FRAME:
            row = frames[rows]
            analyse_frame(pending, prev, index == 0, scratch, row)
            full = index >= TEXTURE_FRAMES - 1
            texture_update(row, index, history, moments, texture[texture_rows] if full else spare)
            texture_rows += full
            filled = 0
            index += 1
            rows += 1


class FeatureBlock(NamedTuple):
    """Features of consecutive frames.

    Attributes
    ----------
    start : int
        Stream index of the first frame (frame ``i`` starts at sample ``512 * i``).
    frames : numpy.ndarray
        float64, shape ``(n, 10)``, columns ``FRAME_COLUMNS``.
    texture : numpy.ndarray
        float64, shape ``(m, 19)``, columns ``TEXTURE_COLUMNS``: the texture vectors of the last
        ``m`` of these frames, those whose window (the frame and the 42 before it) is complete.
    """

    start: int
    frames: npt.NDArray[np.float64]
    texture: npt.NDArray[np.float64]

    @property
    def index(self) -> npt.NDArray[np.int64]:
        """Stream index of each frame."""
        return np.arange(self.start, self.start + self.frames.shape[0], dtype=np.int64)

    @property
    def texture_start(self) -> int:
        """Stream index of the frame that completes the window of ``texture[0]``."""
        return self.start + self.frames.shape[0] - self.texture.shape[0]

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Start of each frame in seconds of stream time."""
        return self.index * (FRAME / SAMPLE_RATE)


class FeatureExtractor:
    """Streaming frame and texture features (processor: ``process(block)``, ``reset()``).

    Examples
    --------
    >>> fx = FeatureExtractor()
    >>> out = fx.process(np.zeros(1000, dtype=np.float32))  # one frame complete, 488 pending
    >>> out.frames.shape, out.texture.shape
    ((1, 10), (0, 19))
    """

    def __init__(self) -> None:
        self._state = np.zeros(_STATE_SIZE)
        self._samples = 0  # samples taken since reset; frames and pending samples follow from it

    @property
    def frames_done(self) -> int:
        """Frames completed since the last reset."""
        return self._samples // FRAME

    @property
    def pending(self) -> int:
        """Samples waiting for their frame to be completed (0..511)."""
        return self._samples % FRAME

    def reset(self) -> None:
        """Forget the stream: the next sample starts frame 0 and a new texture window."""
        self._state[:] = 0.0
        self._samples = 0

    def process(self, block: npt.ArrayLike) -> FeatureBlock:
        """Take the next samples of the stream; return the features of the frames they complete.

        Parameters
        ----------
        block : array_like
            Mono samples at 22050 Hz, any length. A contiguous float32 array (what the ring
            buffer gives) goes straight to the kernel; anything else is converted first.

        Returns
        -------
        FeatureBlock
            Zero or more frames; the arrays are new, the caller's to keep.
        """
        # This runs once per block on the analysis thread: every step here is counted in
        # hundreds of nanoseconds, so the common case (contiguous float32) is checked by the
        # compiled function's own dispatch, and anything else converted only when it refuses.
        x = (
            block
            if block.__class__ is np.ndarray and block.dtype is _FLOAT32
            else _as_signal(block)
        )
        before = self._samples
        after = before + x.shape[0]
        start = before // FRAME
        count = after // FRAME - start
        ready = count if start >= _FIRST_WINDOW else count + start - _FIRST_WINDOW
        frames = np.empty((count, N_FRAME_FEATURES)) if count else _NO_FRAMES
        texture = np.empty((ready, N_TEXTURE_FEATURES)) if ready > 0 else _NO_TEXTURE
        try:
            _stream_block(x, self._state, before % FRAME, start, frames, texture)
        except TypeError:  # refused by the kernel's signatures (not contiguous, not 1-D, ...)
            _stream_block(
                _as_signal(x, contiguous=True), self._state, before % FRAME, start, frames, texture
            )
        self._samples = after
        return _new_block(FeatureBlock, (start, frames, texture))


_FLOAT32 = np.dtype(np.float32)
_FIRST_WINDOW = TEXTURE_FRAMES - 1  # index of the first frame whose texture window is full
_new_block = tuple.__new__  # builds the named tuple without its Python-level __new__
# Blocks that complete no frame (or no full window) share these: they hold no element, so
# nothing a caller does to them can reach another caller.
_NO_FRAMES = np.empty((0, N_FRAME_FEATURES))
_NO_TEXTURE = np.empty((0, N_TEXTURE_FEATURES))


def _as_signal(block: npt.ArrayLike, contiguous: bool = False) -> npt.NDArray[np.floating]:
    # A block as the kernel takes it: 1-D, contiguous, float32 kept, anything else float64.
    x = np.asarray(block)
    if x.ndim != 1:
        raise AudioError(f"process() takes mono blocks of shape (n,), got {x.shape}")
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    return np.ascontiguousarray(x) if contiguous or not x.flags.c_contiguous else x


def extract(samples: npt.ArrayLike, threads: int | None = None) -> FeatureBlock:
    """Frame and texture features of a whole signal (the offline path).

    Parameters
    ----------
    samples : array_like
        Mono signal at 22050 Hz; a tail shorter than one frame is left out.
    threads : int, optional
        Threads for the frame features (default: one per core).

    Returns
    -------
    FeatureBlock
        All frames from index 0, and every complete texture window.
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise AudioError(f"extract() takes a mono signal of shape (n,), got {x.shape}")
    frames = frame_features(x, threads)
    return FeatureBlock(0, frames, texture_features(frames, threads))


def _warm_up() -> None:
    # The first call of a compiled function pays for resolving its types and for cold caches
    # (about 0.25 ms); pay it here, at import, rather than on the first frame of a live stream.
    for dtype in (np.float32, np.float64):
        FeatureExtractor().process(np.zeros(FRAME, dtype=dtype))


_warm_up()

"""Audio in: loading and resampling, the ring buffer, and block sources."""

from __future__ import annotations

from listener.audio.io import check_finite, load_audio, resample, to_mono
from listener.audio.ring import RingBuffer
from listener.audio.sources import ArraySource, FileSource

__all__ = [
    "ArraySource",
    "FileSource",
    "RingBuffer",
    "check_finite",
    "load_audio",
    "resample",
    "to_mono",
]

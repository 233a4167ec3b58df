"""Block sources: audio pushed in blocks of any size, as an audio callback would push it.

Every source keeps the :class:`BlockSource` contract: :meth:`~BlockSource.open` has it write
into a ring from a thread of its own, :attr:`~BlockSource.finished` says that no more audio will
come and :attr:`~BlockSource.error` why, when it failed. An array or a file is pushed from a
Python thread, paced in real time (``realtime=True``: each block when its last sample would have
arrived from a live input) or as fast as the consumer takes it; a live input through PortAudio
(:mod:`listener.audio.device`) from PortAudio's thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from listener.audio.io import check_finite, load_audio, resample, to_mono
from listener.audio.ring import RingBuffer
from listener.config import FRAME, SAMPLE_RATE
from listener.errors import ConfigError

Callback = Callable[[npt.NDArray[np.float32]], object]
_RETRY_SECONDS = 0.0005  # wait of a source that is not live when its consumer is full


class BlockSource(Protocol):
    """What the engine asks of a source of audio.

    Attributes
    ----------
    rate : int
        Samples per second of what it writes (known once open).
    name : str
        What to call it in messages.
    notice : str or None
        Something to say once when it opens (a rate not 22050 Hz, a fallback).
    """

    rate: int
    name: str
    notice: str | None

    def open(self, ring: RingBuffer, *, live: bool) -> None:
        """Start writing blocks into ``ring`` from a thread of its own; returns at once.

        ``live``: it cannot wait, so what the ring cannot hold is dropped and counted
        (``ring.write``); otherwise it waits for room (``ring.offer``).
        """

    def stop(self) -> None:
        """Stop writing (a device: close the stream)."""

    @property
    def finished(self) -> bool:
        """Whether no more audio will come: the end of a file, or a stream that stopped."""

    @property
    def error(self) -> BaseException | None:
        """Why it stopped, when it failed; None while it runs and after a clean end."""

    @property
    def xruns(self) -> int:
        """Blocks the device flagged as overflow or underflow (0 where nothing can flag)."""


class ArraySource:
    """Push an in-memory signal in blocks.

    Parameters
    ----------
    samples : array_like
        Shape ``(n,)`` or ``(n, channels)``; mixed down to mono.
    rate : int
        Sample rate of ``samples`` in Hz; resampled to ``SAMPLE_RATE`` here, at the edge.
    block_size : int or (int, int)
        Samples per block (default ``FRAME`` = 512 = 23.2 ms), or a ``(low, high)`` range from which
        each block's size is drawn, as irregular device callbacks deliver.
    realtime : bool
        Pace the blocks at the signal's own speed instead of as fast as possible.
    seed : int
        Seed for the random block sizes.
    """

    def __init__(
        self,
        samples: npt.ArrayLike,
        rate: int = SAMPLE_RATE,
        block_size: int | tuple[int, int] = FRAME,
        realtime: bool = False,
        seed: int = 0,
        name: str = "array",
    ) -> None:
        x = to_mono(samples)
        check_finite(x, name, rate)
        self.samples = resample(x, rate, SAMPLE_RATE)
        low, high = (block_size, block_size) if isinstance(block_size, int) else block_size
        if not 1 <= low <= high:
            raise ConfigError(f"block sizes must satisfy 1 <= low <= high, got {block_size}")
        self.block_range = (int(low), int(high))
        self.realtime = realtime
        self.seed = seed
        self.name = name
        self.rate = SAMPLE_RATE
        self.notice: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def duration(self) -> float:
        """Length of the signal in seconds."""
        return self.samples.shape[0] / SAMPLE_RATE

    def blocks(self) -> Iterator[npt.NDArray[np.float32]]:
        """Yield the blocks in order, paced when ``realtime``; stops early after :meth:`stop`."""
        rng = np.random.default_rng(self.seed)
        low, high = self.block_range
        n = self.samples.shape[0]
        pos = 0
        t0 = time.monotonic()
        while pos < n and not self._stop.is_set():
            size = low if low == high else int(rng.integers(low, high + 1))
            end = min(n, pos + size)
            if self.realtime:
                # a live input delivers a block when its last sample has been captured
                delay = t0 + end / SAMPLE_RATE - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
            yield self.samples[pos:end]
            pos = end

    def run(self, callback: Callback) -> None:
        """Push every block into ``callback`` from the calling thread.

        ``callback`` may return how many samples it accepted, as the ring's ``write`` and
        ``offer`` do. When pacing in real time the rest is lost, as from a live input (give
        ``ring.write``, which counts it). As fast as possible, the rest is offered again after a
        short wait (give ``ring.offer``): a file can wait for its consumer and loses nothing.
        """
        for block in self.blocks():
            taken = callback(block)
            while not self.realtime and isinstance(taken, int) and taken < block.shape[0]:
                block = block[taken:]
                if self._stop.wait(_RETRY_SECONDS):
                    return
                taken = callback(block)

    def start(self, callback: Callback) -> None:
        """Push the blocks into ``callback`` from a new thread; returns at once."""
        if self._thread is not None and self._thread.is_alive():
            raise ConfigError(f"source {self.name!r} is already running; stop() it first")
        self._stop.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run_noting_errors,
            args=(callback,),
            name=f"source:{self.name}",
            daemon=True,
        )
        self._thread.start()

    def _run_noting_errors(self, callback: Callback) -> None:
        try:
            self.run(callback)
        except Exception as exc:  # the consumer's callback failed: the engine hears of it
            self._error = exc

    def open(self, ring: RingBuffer, *, live: bool) -> None:
        """Push the blocks into ``ring`` from a new thread (see :class:`BlockSource`)."""
        self.start(ring.write if live else ring.offer)

    @property
    def finished(self) -> bool:
        """Whether the thread started by :meth:`start` has pushed its last block."""
        return self._thread is not None and not self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """What stopped the pushing, when something failed."""
        return self._error

    @property
    def xruns(self) -> int:
        """Always 0: an array cannot overflow."""
        return 0

    def stop(self) -> None:
        """Ask the pushing to end after the current block."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread started by :meth:`start`; True once it has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        """Whether the thread started by :meth:`start` is still pushing."""
        return self._thread is not None and self._thread.is_alive()


class FileSource(ArraySource):
    """Push an audio file in blocks, as fast as possible or paced as if live.

    The file is read once with :func:`~listener.audio.io.load_audio` (any libsndfile format,
    mixed to mono, resampled to 22050 Hz), so a bad file fails here, before anything starts.

    Parameters
    ----------
    path : str or pathlib.Path
        The audio file.
    block_size, realtime, seed
        As for :class:`ArraySource`.
    """

    def __init__(
        self,
        path: str | Path,
        block_size: int | tuple[int, int] = FRAME,
        realtime: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(load_audio(path), SAMPLE_RATE, block_size, realtime, seed, name=str(path))

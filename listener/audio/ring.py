"""A single-producer, single-consumer ring buffer between an audio callback and the analysis."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError


class RingBuffer:
    """Preallocated float32 ring: the producer never blocks, overflow is counted, never silent.

    One thread writes (the audio callback), one thread reads (the analysis). Each side only
    advances its own counter (``_written`` by the producer, ``_read`` by the consumer) after its
    copy is complete, so no lock is needed: under CPython's GIL an attribute store is atomic and
    the copy before it is visible once the counter moves. When a block does not fit, the samples
    that do not fit are dropped and counted; the samples already in the ring are never touched,
    so what the consumer gets is always in order.

    Parameters
    ----------
    capacity : int
        Samples the ring holds; 65536 samples = 2.97 s at 22050 Hz by default.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        if capacity < 1:
            raise ConfigError(f"ring capacity must be at least 1 sample, got {capacity}")
        self._buf = np.zeros(int(capacity), dtype=np.float32)
        self._capacity = int(capacity)
        self._written = 0  # samples ever written (producer's counter)
        self._read = 0  # samples ever read (consumer's counter)
        self._dropped = 0  # samples that did not fit (producer's)
        self._overflows = 0  # writes that dropped anything (producer's)

    @property
    def capacity(self) -> int:
        """Samples the ring can hold."""
        return self._capacity

    @property
    def available(self) -> int:
        """Samples waiting to be read."""
        return self._written - self._read

    @property
    def dropped(self) -> int:
        """Samples dropped on overflow since creation or :meth:`reset`."""
        return self._dropped

    @property
    def overflows(self) -> int:
        """Writes that had to drop samples since creation or :meth:`reset`."""
        return self._overflows

    @property
    def written(self) -> int:
        """Samples accepted into the ring since creation or :meth:`reset`."""
        return self._written

    def write(self, block: npt.NDArray[np.floating]) -> int:
        """Copy a block in (producer side, live): never blocks, never allocates a buffer.

        What does not fit is dropped and counted in :attr:`dropped` and :attr:`overflows`; a
        live input cannot wait.

        Parameters
        ----------
        block : numpy.ndarray
            Mono samples, shape ``(n,)``.

        Returns
        -------
        int
            Samples accepted; the rest were dropped.
        """
        n = block.shape[0]
        take = self._put(block)
        if take < n:
            self._dropped += n - take
            self._overflows += 1
        return take

    def offer(self, block: npt.NDArray[np.floating]) -> int:
        """Copy in as much of a block as fits (producer side, for a producer that can wait).

        Nothing is dropped or counted: the caller keeps the rest and offers it again, as a file
        source does. Never blocks.

        Returns
        -------
        int
            Samples accepted, from the start of ``block``.
        """
        return self._put(block)

    def _put(self, block: npt.NDArray[np.floating]) -> int:
        n = block.shape[0]
        free = self._capacity - (self._written - self._read)
        take = n if n <= free else free
        if take:
            start = self._written % self._capacity
            first = min(take, self._capacity - start)
            self._buf[start : start + first] = block[:first]
            if first < take:
                self._buf[: take - first] = block[first:take]
            self._written += take  # publish only after the copy
        return take

    def read_into(self, out: npt.NDArray[np.float32]) -> int:
        """Move up to ``len(out)`` samples into ``out`` (consumer side).

        Parameters
        ----------
        out : numpy.ndarray
            Destination, shape ``(m,)``.

        Returns
        -------
        int
            Samples copied, ``min(m, available)``; they fill ``out[:count]``.
        """
        count = min(out.shape[0], self._written - self._read)
        if count:
            start = self._read % self._capacity
            first = min(count, self._capacity - start)
            out[:first] = self._buf[start : start + first]
            if first < count:
                out[first:count] = self._buf[: count - first]
            self._read += count  # release the space only after the copy
        return count

    def read(self, n: int | None = None) -> npt.NDArray[np.float32]:
        """Return up to ``n`` waiting samples (all of them by default) as a new array."""
        want = self.available if n is None else min(n, self.available)
        out = np.empty(want, dtype=np.float32)
        return out[: self.read_into(out)]

    def reset(self) -> None:
        """Empty the ring and zero the counters; call only while no producer is running."""
        self._written = self._read = self._dropped = self._overflows = 0

"""A single-producer, single-consumer ring buffer between an audio callback and the analysis.

The ring's counters live in one int64 array and its work is done by compiled kernels, so that a
producer written in Python (a file source's thread) and one compiled to machine code (the
PortAudio callback in :mod:`listener.audio.portaudio_callback`, which never takes the
interpreter's lock) share the same code. Each side advances only its own counter, and only
after its copy, with a memory fence in between: no lock is needed, on x86 or on ARM.

Every write also records when it arrived (the monotonic clock, in nanoseconds) and how many
samples the ring had taken by then, so that the analysis can time each frame from the arrival
of its last sample.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from listener.errors import ConfigError

# Slots of the state array. The producer writes WRITTEN, DROPPED, OVERFLOWS, XRUNS, BLOCKS and
# CLOCK; the consumer writes READ. The rest is set once, before any producer starts.
WRITTEN, READ, DROPPED, OVERFLOWS, XRUNS, BLOCKS = range(6)
CAPACITY, SLOTS, DATA_ADDRESS, ARRIVALS_ADDRESS = range(6, 10)
CLOCK = 10  # two slots: a struct timespec for the compiled callback's clock_gettime
STATE_SIZE = 16
#: Writes remembered with their arrival time (16384: 6 minutes of 512-sample blocks).
ARRIVAL_SLOTS = 1 << 14


def monotonic_ns() -> int:
    """Read the clock the arrivals are stamped with: CLOCK_MONOTONIC, in nanoseconds."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


if not hasattr(time, "clock_gettime_ns"):  # Windows: no compiled callback, any monotonic clock
    monotonic_ns = time.monotonic_ns  # noqa: F811


@intrinsic
def fence(typingctx):
    """Emit a full memory fence (LLVM ``fence seq_cst``): no load or store moves across it."""

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def address_to_pointer(typingctx, address):
    """Make the ``void *`` at an integer address (for ``numba.carray``)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@njit(cache=True)
def ring_put(state, data, arrivals, block, now_ns, drop):
    """Copy ``block`` in as far as it fits; record its arrival; return the samples taken.

    With ``drop`` what does not fit is counted as dropped (a live input cannot wait).
    """
    capacity = state[CAPACITY]
    written = state[WRITTEN]
    fence()  # the consumer's READ is read before any sample is overwritten
    free = capacity - (written - state[READ])
    n = block.shape[0]
    take = n if n <= free else free
    start = written % capacity
    for i in range(take):
        j = start + i
        if j >= capacity:
            j -= capacity
        data[j] = block[i]
    if drop and take < n:
        state[DROPPED] += n - take
        state[OVERFLOWS] += 1
    slot = state[BLOCKS] % state[SLOTS]
    arrivals[slot, 0] = written + take
    arrivals[slot, 1] = now_ns
    fence()  # samples and arrival are in place before the counters say so
    state[WRITTEN] = written + take
    state[BLOCKS] += 1
    return take


@njit(cache=True)
def ring_take(state, data, out):
    """Move up to ``len(out)`` samples into ``out``; return how many."""
    capacity = state[CAPACITY]
    read = state[READ]
    available = state[WRITTEN] - read
    fence()  # the samples are read only after the counter that published them
    count = out.shape[0] if out.shape[0] <= available else available
    start = read % capacity
    for i in range(count):
        j = start + i
        if j >= capacity:
            j -= capacity
        out[i] = data[j]
    fence()  # the samples are out before their space is given back
    state[READ] = read + count
    return count


class RingBuffer:
    """Preallocated float32 ring: the producer never blocks, overflow is counted, never silent.

    One thread writes (the audio callback), one thread reads (the analysis). When a block does
    not fit, the samples that do not fit are dropped and counted; the samples already in the
    ring are never touched, so what the consumer gets is always in order.

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
        #: Per write: samples taken into the ring by its end, and its arrival (ns); slot
        #: ``i % ARRIVAL_SLOTS`` holds write ``i``.
        self.arrivals = np.zeros((ARRIVAL_SLOTS, 2), dtype=np.int64)
        self.state = np.zeros(STATE_SIZE, dtype=np.int64)
        self.state[CAPACITY] = self._capacity
        self.state[SLOTS] = ARRIVAL_SLOTS
        self.state[DATA_ADDRESS] = self._buf.ctypes.data
        self.state[ARRIVALS_ADDRESS] = self.arrivals.ctypes.data
        # compile (or load from numba's cache) now, not in the audio thread's first call
        ring_put(self.state, self._buf, self.arrivals, self._buf[:0], 0, True)
        ring_take(self.state, self._buf, self._buf[:0])
        self.reset()

    @property
    def capacity(self) -> int:
        """Samples the ring can hold."""
        return self._capacity

    @property
    def available(self) -> int:
        """Samples waiting to be read."""
        return int(self.state[WRITTEN] - self.state[READ])

    @property
    def dropped(self) -> int:
        """Samples dropped on overflow since creation or :meth:`reset`."""
        return int(self.state[DROPPED])

    @property
    def overflows(self) -> int:
        """Writes that had to drop samples since creation or :meth:`reset`."""
        return int(self.state[OVERFLOWS])

    @property
    def written(self) -> int:
        """Samples accepted into the ring since creation or :meth:`reset`."""
        return int(self.state[WRITTEN])

    @property
    def blocks(self) -> int:
        """Writes since creation or :meth:`reset` (each has a record in :attr:`arrivals`)."""
        return int(self.state[BLOCKS])

    @property
    def xruns(self) -> int:
        """Blocks the audio device flagged as overflowed or underflowed (compiled callback)."""
        return int(self.state[XRUNS])

    def write(self, block: npt.NDArray[np.floating]) -> int:
        """Copy a block in (producer side, live): never blocks, never allocates.

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
        return int(ring_put(self.state, self._buf, self.arrivals, block, monotonic_ns(), True))

    def offer(self, block: npt.NDArray[np.floating]) -> int:
        """Copy in as much of a block as fits (producer side, for a producer that can wait).

        Nothing is dropped or counted: the caller keeps the rest and offers it again, as a file
        source does. Never blocks.

        Returns
        -------
        int
            Samples accepted, from the start of ``block``.
        """
        return int(ring_put(self.state, self._buf, self.arrivals, block, monotonic_ns(), False))

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
        return int(ring_take(self.state, self._buf, out))

    def read(self, n: int | None = None) -> npt.NDArray[np.float32]:
        """Return up to ``n`` waiting samples (all of them by default) as a new array."""
        want = self.available if n is None else min(n, self.available)
        out = np.empty(want, dtype=np.float32)
        return out[: self.read_into(out)]

    def reset(self) -> None:
        """Empty the ring and zero the counters; call only while no producer is running."""
        self.state[[WRITTEN, READ, DROPPED, OVERFLOWS, XRUNS, BLOCKS]] = 0

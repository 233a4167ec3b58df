"""A single-producer, single-consumer ring buffer between an audio callback and the analysis.

The ring's counters live in one int64 array and its work is done by compiled kernels, so that a
producer written in Python (a file source's thread) and one compiled to machine code (the
PortAudio callback in :mod:`listener.audio.portaudio_callback`, which never takes the
interpreter's lock) share the same code. Each side advances only its own counter, and only
after its copy, with a memory fence in between: no lock is needed, on x86 or on ARM.

Every write also records when it arrived (the monotonic clock, in nanoseconds) and how many
samples the ring had taken by then, so that the analysis can time each frame from the arrival
of its last sample.

Every write also wakes the consumer: the producer's kernel adds one to an eventfd (a counter
the kernel keeps; ``write(2)`` from compiled code, no interpreter lock), and the consumer
blocks on it in ``poll(2)`` with the interpreter's lock released (:meth:`RingBuffer.wait`).
A block is analysed as soon as it arrives, not at the next turn of a polling loop, and a
consumer with nothing to do costs no CPU. Where there is no eventfd (not Linux), the consumer
sleeps in short steps instead.
"""

from __future__ import annotations

import os
import select
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
WAKE_FD, ONE = 12, 13  # the eventfd a write adds ONE (always 1) to; -1 for none
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


_write = types.ExternalFunction("write", types.intp(types.intc, types.voidptr, types.uintp))
#: How long a consumer without an eventfd sleeps between looks at the ring (seconds).
POLL_SECONDS = 0.0005


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
    if state[WAKE_FD] >= 0:  # wake the consumer (a full counter only fails with EAGAIN)
        _write(state[WAKE_FD], address_to_pointer(state.ctypes.data + 8 * ONE), 8)
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


def _shared_size(capacity: int) -> int:
    # the counters, the arrival records and the samples, one after the other
    return 8 * STATE_SIZE + 16 * ARRIVAL_SLOTS + 4 * capacity


def _views(memory, capacity: int):
    # the state, arrivals and samples arrays over a shared memory block
    state = np.ndarray((STATE_SIZE,), np.int64, memory.buf)
    arrivals = np.ndarray((ARRIVAL_SLOTS, 2), np.int64, memory.buf, offset=8 * STATE_SIZE)
    offset = 8 * STATE_SIZE + 16 * ARRIVAL_SLOTS
    samples = np.ndarray((capacity,), np.float32, memory.buf, offset=offset)
    return state, arrivals, samples


class RingBuffer:
    """Preallocated float32 ring: the producer never blocks, overflow is counted, never silent.

    One thread writes (the audio callback), one thread reads (the analysis). When a block does
    not fit, the samples that do not fit are dropped and counted; the samples already in the
    ring are never touched, so what the consumer gets is always in order.

    Parameters
    ----------
    capacity : int
        Samples the ring holds; 65536 samples = 2.97 s at 22050 Hz by default.
    wake : bool
        Wake a consumer blocked in :meth:`wait` on every write (an eventfd), rather than
        leave it to look again every ``POLL_SECONDS``. Off only to measure the difference.
    shared : bool
        Keep the samples, arrivals and counters in shared memory, so that a producer in
        another process (:meth:`attach`, by :attr:`shared_name`) writes them: a device's
        stream in a process of its own (:mod:`listener.audio.device_process`).
    """

    def __init__(self, capacity: int = 1 << 16, *, wake: bool = True, shared: bool = False) -> None:
        if capacity < 1:
            raise ConfigError(f"ring capacity must be at least 1 sample, got {capacity}")
        self._capacity = int(capacity)
        self._memory = None  # shared memory, when the ring is there
        self._owner = True  # made here (not attached): its eventfd and memory are ours
        if shared:
            from multiprocessing import shared_memory

            self._memory = shared_memory.SharedMemory(create=True, size=_shared_size(capacity))
            self.state, self.arrivals, self._buf = _views(self._memory, self._capacity)
            self.state[:] = 0
        else:
            self._buf = np.zeros(self._capacity, dtype=np.float32)
            #: Per write: samples taken into the ring by its end, and its arrival (ns); slot
            #: ``i % ARRIVAL_SLOTS`` holds write ``i``.
            self.arrivals = np.zeros((ARRIVAL_SLOTS, 2), dtype=np.int64)
            self.state = np.zeros(STATE_SIZE, dtype=np.int64)
        self.state[CAPACITY] = self._capacity
        self.state[SLOTS] = ARRIVAL_SLOTS
        self.state[DATA_ADDRESS] = self._buf.ctypes.data
        self.state[ARRIVALS_ADDRESS] = self.arrivals.ctypes.data
        self.state[WAKE_FD] = -1
        self.state[ONE] = 1
        self._poll = None
        if wake and hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self.state[WAKE_FD] = fd
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
        # compile (or load from numba's cache) now, not in the audio thread's first call
        ring_put(self.state, self._buf, self.arrivals, self._buf[:0], 0, True)
        ring_take(self.state, self._buf, self._buf[:0])
        self.reset()

    @classmethod
    def attach(cls, name: str) -> RingBuffer:
        """Open, in another process, a ring made with ``shared=True``: its producer's side.

        Its counters are taken as they are (nothing is reset); writes wake the consumer
        through the eventfd the state names, which the process must have inherited.
        """
        from multiprocessing import resource_tracker, shared_memory

        memory = shared_memory.SharedMemory(name=name)
        # the maker unlinks it; this process's tracker must not (it would at exit)
        resource_tracker.unregister(memory._name, "shared_memory")
        ring = cls.__new__(cls)
        ring._memory, ring._owner, ring._poll = memory, False, None
        capacity = int(np.ndarray((STATE_SIZE,), np.int64, memory.buf)[CAPACITY])
        ring._capacity = capacity
        ring.state, ring.arrivals, ring._buf = _views(memory, capacity)
        # the compiled callback finds the samples at this process's addresses
        ring.state[DATA_ADDRESS] = ring._buf.ctypes.data
        ring.state[ARRIVALS_ADDRESS] = ring.arrivals.ctypes.data
        return ring

    @property
    def shared_name(self) -> str | None:
        """The shared memory's name, for :meth:`attach` (None for a ring in this process)."""
        return None if self._memory is None else self._memory.name

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

    @property
    def wakes(self) -> bool:
        """Whether writes wake a consumer blocked in :meth:`wait` (an eventfd)."""
        return self._poll is not None

    def wait(self, timeout: float) -> None:
        """Block until a write may have brought samples, or ``timeout`` seconds have passed.

        The interpreter's lock is released while waiting. Returns at once when a write came
        since the last wait; it can return with nothing new (the caller looks again). Without
        an eventfd it sleeps ``POLL_SECONDS``.
        """
        if self._poll is None:
            time.sleep(POLL_SECONDS)
            return
        if self._poll.poll(max(0, int(timeout * 1000))):
            try:
                os.eventfd_read(int(self.state[WAKE_FD]))
            except BlockingIOError:  # another wait took it
                pass

    def close(self) -> None:
        """Close the eventfd; call only once no producer writes (the ring still reads).

        A ring in shared memory is released too (by its maker: unlinked), and reads no more.
        """
        if not self._owner:
            self._release()
            return
        fd = int(self.state[WAKE_FD])
        if fd >= 0:
            self.state[WAKE_FD] = -1
            self._poll = None
            os.close(fd)
        self._release()

    def _release(self) -> None:
        memory, self._memory = self._memory, None
        if memory is None:
            return
        # the arrays are views of the memory: copies stay behind, so that reads still work
        self.state, self.arrivals, self._buf = (
            self.state.copy(),
            self.arrivals.copy(),
            self._buf.copy(),
        )
        try:
            memory.close()
        except BufferError:  # a caller still holds a view: the mapping goes when it does
            pass
        if self._owner:
            memory.unlink()

    def __del__(self) -> None:
        if hasattr(self, "state"):  # not when the constructor refused its arguments
            self.close()

    def reset(self) -> None:
        """Empty the ring and zero the counters; call only while no producer is running."""
        self.state[[WRITTEN, READ, DROPPED, OVERFLOWS, XRUNS, BLOCKS]] = 0
        if self.state[WAKE_FD] >= 0:
            try:  # no wake-up left over
                os.eventfd_read(int(self.state[WAKE_FD]))
            except BlockingIOError:
                pass

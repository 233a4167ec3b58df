from __future__ import annotations

import ctypes
import threading
import time

import numpy as np
import pytest

from listener.audio import RingBuffer
from listener.audio.ring import monotonic_ns
from listener.errors import ConfigError


def test_fifo_and_wraparound():
    ring = RingBuffer(10)
    assert ring.write(np.arange(7, dtype=np.float32)) == 7
    assert np.array_equal(ring.read(5), np.arange(5))
    assert ring.write(np.arange(7, 15, dtype=np.float32)) == 8  # wraps around the end
    assert ring.available == 10
    assert np.array_equal(ring.read(), np.arange(5, 15))
    assert ring.available == 0 and ring.dropped == 0


def test_overflow_drops_newest_and_counts():
    ring = RingBuffer(8)
    assert ring.write(np.arange(6, dtype=np.float32)) == 6
    assert ring.write(np.arange(6, 11, dtype=np.float32)) == 2
    assert ring.dropped == 3 and ring.overflows == 1
    assert np.array_equal(ring.read(), np.arange(8))  # what was in the ring is intact
    ring.write(np.zeros(20, dtype=np.float32))
    assert ring.dropped == 15 and ring.overflows == 2
    ring.reset()
    assert ring.dropped == ring.overflows == ring.available == 0


def test_offer_takes_what_fits_and_counts_nothing():
    ring = RingBuffer(8)
    assert ring.offer(np.arange(6, dtype=np.float32)) == 6
    assert ring.offer(np.arange(6, 11, dtype=np.float32)) == 2
    assert ring.dropped == 0 and ring.overflows == 0
    assert np.array_equal(ring.read(), [0, 1, 2, 3, 4, 5, 6, 7])


def test_read_into_returns_count():
    ring = RingBuffer(16)
    ring.write(np.ones(5, dtype=np.float32))
    out = np.zeros(8, dtype=np.float32)
    assert ring.read_into(out) == 5
    assert ring.read_into(out) == 0


def test_capacity_must_be_positive():
    with pytest.raises(ConfigError):
        RingBuffer(0)


def compiled_writer(ring: RingBuffer):
    """Call the compiled PortAudio callback as PortAudio would, through its C address.

    ctypes lets go of the interpreter's lock for the call, so the callback runs truly
    alongside the consumer, as on PortAudio's thread.
    """
    from listener.audio.portaudio_callback import input_callback

    signature = ctypes.CFUNCTYPE(
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
    )
    call = signature(input_callback.address)

    def write(block: np.ndarray, flags: int = 0) -> int:
        block = np.ascontiguousarray(block, dtype=np.float32)
        before = ring.written
        assert call(block.ctypes.data, None, block.size, None, flags, ring.state.ctypes.data) == 0
        return ring.written - before

    return write


def test_compiled_callback_writes_counts_and_stamps():
    ring = RingBuffer(8)
    write = compiled_writer(ring)
    before = monotonic_ns()
    assert write(np.arange(6)) == 6
    assert write(np.arange(6, 11), flags=0x2) == 2  # paInputOverflow: an xrun
    after = monotonic_ns()
    assert ring.dropped == 3 and ring.overflows == 1 and ring.xruns == 1
    assert np.array_equal(ring.read(), np.arange(8))
    assert ring.blocks == 2
    # each write: samples in the ring by its end, and when it arrived, on the Python clock
    assert ring.arrivals[:2, 0].tolist() == [6, 8]
    assert before <= ring.arrivals[0, 1] <= ring.arrivals[1, 1] <= after
    write(np.zeros(3), flags=0x1)  # paInputUnderflow
    assert ring.xruns == 2


@pytest.mark.parametrize("producer", ["python", "compiled"])
@pytest.mark.parametrize("capacity", [64, 1000, 4096])
def test_threads_deliver_in_order_or_count_drops(capacity, producer):
    # A producer thread writes a counting sequence in blocks of random size; a slower consumer
    # thread reads. Every sample must be delivered in order or counted as dropped. The compiled
    # producer runs without the interpreter's lock, so only the ring's fences keep order.
    total = 400_000  # below 2**24, so float32 holds every count exactly
    ring = RingBuffer(capacity)
    put = ring.write if producer == "python" else compiled_writer(ring)
    seq = np.arange(total, dtype=np.float32)
    got: list[np.ndarray] = []
    done = threading.Event()

    def produce():
        rng = np.random.default_rng(1)
        pos = 0
        while pos < total:
            n = int(rng.integers(1, 700))
            put(seq[pos : pos + n])
            pos += n
            if rng.random() < 0.01:
                time.sleep(0)  # let the consumer in now and then
        done.set()

    def consume():
        buf = np.empty(333, dtype=np.float32)
        while not done.is_set() or ring.available:
            n = ring.read_into(buf)
            if n:
                got.append(buf[:n].copy())
            else:
                time.sleep(0)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    delivered = np.concatenate(got)
    assert np.all(np.diff(delivered) > 0), "samples delivered out of order or twice"
    assert delivered.size + ring.dropped == total
    assert ring.written == delivered.size
    if ring.dropped:
        assert ring.overflows > 0


@pytest.mark.parametrize("producer", ["python", "compiled"])
def test_a_write_wakes_a_waiting_consumer(producer):
    # the consumer blocks in wait() with the interpreter's lock released; a write from
    # another thread (the compiled callback's without the lock) ends the wait long before
    # its timeout, and the samples are there
    ring = RingBuffer(64)
    assert ring.wakes
    put = ring.write if producer == "python" else compiled_writer(ring)
    waiting = threading.Event()
    woken = threading.Event()

    def consume():
        waiting.set()
        ring.wait(30.0)
        woken.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert waiting.wait(10)
    assert not woken.wait(0.05)  # nothing written: still waiting
    put(np.arange(5, dtype=np.float32))
    assert woken.wait(10), "the write did not wake the consumer"
    consumer.join(10)
    assert np.array_equal(ring.read(), np.arange(5))


def test_a_wait_with_nothing_written_times_out_and_closing_is_final():
    ring = RingBuffer(16)
    ring.write(np.ones(3, dtype=np.float32))
    ring.wait(5.0)  # the write before the wait counts: no sleep
    assert ring.available == 3
    began = time.monotonic()
    ring.wait(0.02)
    assert time.monotonic() - began >= 0.015 and ring.available == 3
    ring.close()
    assert not ring.wakes
    ring.write(np.ones(2, dtype=np.float32))  # a ring without its eventfd still works
    assert ring.available == 5

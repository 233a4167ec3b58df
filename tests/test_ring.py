from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from listener.audio import RingBuffer
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


@pytest.mark.parametrize("capacity", [64, 1000, 4096])
def test_threads_deliver_in_order_or_count_drops(capacity):
    # A producer thread writes a counting sequence in blocks of random size; a slower consumer
    # thread reads. Every sample must be delivered in order or counted as dropped.
    total = 400_000  # below 2**24, so float32 holds every count exactly
    ring = RingBuffer(capacity)
    seq = np.arange(total, dtype=np.float32)
    got: list[np.ndarray] = []
    done = threading.Event()

    def produce():
        rng = np.random.default_rng(1)
        pos = 0
        while pos < total:
            n = int(rng.integers(1, 700))
            ring.write(seq[pos : pos + n])
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

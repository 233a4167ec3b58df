from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from listener.audio import ArraySource, FileSource, RingBuffer
from listener.errors import AudioError, ConfigError, DataError


def test_blocks_cover_the_signal_in_order(rng):
    x = rng.standard_normal(10_000).astype(np.float32)
    blocks = list(ArraySource(x, block_size=(1, 4096), seed=3).blocks())
    sizes = [b.size for b in blocks]
    assert min(sizes) >= 1 and max(sizes) <= 4096 and len(set(sizes)) > 1
    assert np.array_equal(np.concatenate(blocks), x)


def test_fixed_block_size():
    x = np.zeros(1300, dtype=np.float32)
    sizes = [b.size for b in ArraySource(x, block_size=512).blocks()]
    assert sizes == [512, 512, 276]


def test_source_resamples_at_the_edge():
    x = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)
    src = ArraySource(np.stack([x, x], axis=1), rate=44100)
    assert src.samples.size == 22050 and src.duration == pytest.approx(1.0)


def test_nan_rejected():
    x = np.zeros(100)
    x[10] = np.nan
    with pytest.raises(AudioError, match="array: 1 samples are NaN"):
        ArraySource(x)


def test_bad_block_size():
    with pytest.raises(ConfigError):
        ArraySource(np.zeros(10), block_size=(5, 2))


def test_realtime_pacing():
    x = np.zeros(int(0.4 * 22050), dtype=np.float32)
    src = ArraySource(x, block_size=1024, realtime=True)
    t0 = time.monotonic()
    arrivals = []
    for _ in src.blocks():
        arrivals.append(time.monotonic() - t0)
    # the last block arrives when its last sample would have: after the signal's duration
    assert arrivals[-1] == pytest.approx(0.4, abs=0.05)
    assert arrivals[0] == pytest.approx(1024 / 22050, abs=0.03)


def test_thread_pushes_into_a_ring_and_stops():
    x = np.arange(50_000, dtype=np.float32)
    ring = RingBuffer(1 << 17)
    src = ArraySource(x, block_size=(100, 900))
    src.start(ring.write)
    assert src.join(timeout=10)
    assert np.array_equal(ring.read(), x)

    slow = ArraySource(np.zeros(22050 * 10, dtype=np.float32), realtime=True)
    slow.start(ring.write)
    time.sleep(0.1)
    slow.stop()
    assert slow.join(timeout=2) and not slow.running
    assert 0 < ring.available < 22050


def test_as_fast_as_possible_waits_for_a_full_ring():
    # a slow consumer and a small ring: offer() makes the source wait, nothing is lost
    x = np.arange(40_000, dtype=np.float32)
    ring = RingBuffer(1000)
    src = ArraySource(x, block_size=700)
    src.start(ring.offer)
    got = []
    while src.running or ring.available:
        got.append(ring.read(300))
        time.sleep(0.0002)
    assert np.array_equal(np.concatenate(got), x)
    assert ring.dropped == 0 and ring.overflows == 0


def test_file_source(tmp_path):
    x = (0.1 * np.sin(np.arange(30_000) / 10)).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, x, 22050, subtype="FLOAT")
    src = FileSource(path, block_size=777)
    assert np.array_equal(np.concatenate(list(src.blocks())), x)
    with pytest.raises(DataError):
        FileSource(tmp_path / "missing.flac")

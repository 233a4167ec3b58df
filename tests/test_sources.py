from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from listener.audio import ArraySource, FileSource, RingBuffer
from listener.errors import AudioError, ConfigError, DataError
from tests.harness import need_module, wait_until


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
    # (never early; late only by what a busy machine adds)
    assert 0.4 - 0.005 <= arrivals[-1] < 0.4 + 0.5
    assert 1024 / 22050 - 0.005 <= arrivals[0] < 1024 / 22050 + 0.5


def test_thread_pushes_into_a_ring_and_stops():
    x = np.arange(50_000, dtype=np.float32)
    ring = RingBuffer(1 << 17)
    src = ArraySource(x, block_size=(100, 900))
    src.start(ring.write)
    assert src.join(timeout=10)
    assert np.array_equal(ring.read(), x)

    slow = ArraySource(np.zeros(22050 * 10, dtype=np.float32), realtime=True)
    slow.start(ring.write)
    wait_until(lambda: ring.available > 0, 5, "the first block")
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


def test_an_array_source_keeps_the_block_source_contract():
    x = np.arange(10_000, dtype=np.float32)
    ring = RingBuffer(1 << 15)
    src = ArraySource(x, block_size=1000)
    assert not src.finished and src.error is None and src.xruns == 0 and src.rate == 22050
    src.open(ring, live=False)
    wait_until(lambda: src.finished, 10, "the source to finish")
    assert src.error is None and np.array_equal(ring.read(), x)
    # a consumer that fails: the source ends and says why
    failing = ArraySource(x, block_size=1000)

    def refuse(block):
        raise ValueError("the consumer failed")

    failing.start(refuse)
    wait_until(lambda: failing.finished, 10, "the failing source to finish")
    assert isinstance(failing.error, ValueError)


def test_sounddevice_still_has_the_private_names_we_use():
    # The compiled callback reaches into sounddevice: _StreamBase with a C function pointer and
    # userdata, _ffi, and _initialized / _initialize / _terminate to restart PortAudio.
    # pyproject.toml pins the versions that have them; this fails loudly when they move.
    import inspect
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement

    sd = need_module("sounddevice")
    parameters = inspect.signature(sd._StreamBase.__init__).parameters
    for name in ("kind", "callback", "userdata", "wrap_callback", "finished_callback"):
        assert name in parameters, name
    assert isinstance(sd._initialized, int) and callable(sd._initialize)
    assert callable(sd._terminate) and hasattr(sd._ffi, "cast")
    [pin] = [Requirement(r) for r in requires("listener") if r.startswith("sounddevice")]
    assert pin.specifier.contains(version("sounddevice"))
    assert any(spec.operator == "<" for spec in pin.specifier)  # an upper bound

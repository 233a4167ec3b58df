"""Block sources: audio pushed in blocks of any size, as an audio callback would push it.

Every source keeps the :class:`BlockSource` contract: :meth:`~BlockSource.open` has it write
into a ring from a thread of its own, :attr:`~BlockSource.finished` says that no more audio will
come and :attr:`~BlockSource.error` why, when it failed. An array or a file is pushed from a
Python thread, paced in real time (``realtime=True``: each block when its last sample would have
arrived from a live input) or as fast as the consumer takes it; a live input through PortAudio
(sounddevice, JACK included) from PortAudio's thread.
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
from listener.errors import ConfigError, DeviceError

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


#: PortAudio's name for the JACK host API.
JACK_HOST_API = "JACK Audio Connection Kit"


def _sounddevice():
    # sounddevice is imported only when a live input is asked for: everything else works on a
    # machine without PortAudio
    try:
        import sounddevice
    except ImportError as exc:
        raise DeviceError(
            "live input needs sounddevice: pip install sounddevice (and PortAudio: "
            "apt-get install libportaudio2)"
        ) from exc
    except OSError as exc:
        raise DeviceError(
            f"live input needs the PortAudio library ({exc}): apt-get install libportaudio2"
        ) from exc
    return sounddevice


def _restart_portaudio(sd) -> None:
    # PortAudio lists devices when it initialises: start it afresh, so that a JACK server
    # started after the import is seen
    while sd._initialized > 0:
        sd._terminate()
    sd._initialize()


def input_devices(jack: bool = False) -> list[dict]:
    """Audio inputs PortAudio offers: ``index``, ``name``, ``hostapi``, ``channels``, ``rate``."""
    sd = _sounddevice()
    _restart_portaudio(sd)
    apis = sd.query_hostapis()
    found = []
    for index, device in enumerate(sd.query_devices()):
        api = apis[device["hostapi"]]["name"]
        if device["max_input_channels"] > 0 and (not jack or api == JACK_HOST_API):
            found.append(
                {
                    "index": index,
                    "name": device["name"],
                    "hostapi": api,
                    "channels": device["max_input_channels"],
                    "rate": device["default_samplerate"],
                }
            )
    return found


class SoundDeviceSource:
    """A live input through PortAudio (sounddevice), in callback mode.

    The callback copies the block into a ring and counts PortAudio's status flags (input
    overflow and underflow: xruns); nothing else happens there. :meth:`open` does it with a
    compiled callback that never takes the interpreter's lock, :meth:`start` with a Python one
    that hands each block to any callable. A stream that stops by itself (a device unplugged,
    a server gone) says so through :attr:`finished` and :attr:`error`.
    A device that refuses 22050 Hz is opened at its own rate: :attr:`rate` says which, and the
    consumer resamples (:class:`listener.audio.resampler.StreamResampler`) outside the callback.

    Parameters
    ----------
    device : int or str, optional
        An input's index, or a part of its name; the default input without it.
    jack : bool
        Only PortAudio's JACK host API (a JACK server must run).
    blocksize : int
        Frames per callback (0: what the host API prefers).
    compiled : bool
        :meth:`open` a ring through the compiled callback, which never waits for the
        interpreter's lock (False: a Python callback, as :meth:`start` uses).
    """

    def __init__(
        self,
        device: int | str | None = None,
        jack: bool = False,
        blocksize: int = 0,
        compiled: bool = True,
    ) -> None:
        self.device_query = device
        self.jack = jack
        self.blocksize = blocksize
        self.rate = SAMPLE_RATE
        self.compiled = compiled and hasattr(time, "clock_gettime_ns")
        self._python_xruns = 0
        self._ring: RingBuffer | None = None
        self.notice: str | None = None  # said once: a rate not 22050 Hz, a Python callback
        self.name = "?"
        self._stream = None
        self._finished = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None

    def _choose(self, sd) -> int:
        inputs = input_devices(self.jack)
        where = "JACK inputs" if self.jack else "audio inputs"
        listing = "; ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in inputs)
        if not inputs:
            hint = " (is a JACK server running?)" if self.jack else ""
            raise DeviceError(f"no {where}{hint}; `listener devices` lists what there is")
        query = self.device_query
        if query is None:
            if self.jack:
                return inputs[0]["index"]
            default = sd.default.device[0]
            return default if default is not None and default >= 0 else inputs[0]["index"]
        if isinstance(query, int) or str(query).isdigit():
            index = int(query)
            if index not in [d["index"] for d in inputs]:
                raise DeviceError(f"device {index} is not one of the {where}: {listing}")
            return index
        chosen = [d for d in inputs if str(query).lower() in d["name"].lower()]
        if len(chosen) != 1:
            what = "matches none" if not chosen else "matches several"
            raise DeviceError(f"device {query!r} {what} of the {where}: {listing}")
        return chosen[0]["index"]

    def _note(self, text: str) -> None:
        # what the engine says once on stderr when the input starts
        self.notice = text if self.notice is None else f"{self.notice}; {text}"

    def _open(self, sd) -> int:
        # choose the device and its rate; say once when it is not 22050 Hz
        index = self._choose(sd)
        info = sd.query_devices(index)
        self.name = info["name"]
        try:
            sd.check_input_settings(index, channels=1, dtype="float32", samplerate=SAMPLE_RATE)
            self.rate = SAMPLE_RATE
        except sd.PortAudioError:
            self.rate = int(info["default_samplerate"])
            self._note(
                f"{self.name} refuses {SAMPLE_RATE} Hz: opened at {self.rate} Hz and resampled "
                f"to {SAMPLE_RATE} Hz at the edge"
            )
        return index

    def _run_stream(self, sd, make) -> None:
        self._finished.clear()
        self._stopping = False
        self._error = None
        try:
            self._stream = make()
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise DeviceError(f"cannot open {self.name!r} at {self.rate} Hz: {exc}") from exc

    def open(self, ring: RingBuffer, *, live: bool = True) -> None:
        """Open the device and have PortAudio's thread write each block into ``ring``.

        With ``compiled`` (the default where the platform has ``clock_gettime``) the callback is
        :mod:`listener.audio.portaudio_callback`'s compiled one, which never waits for the
        interpreter; otherwise a Python callback calls ``ring.write``. Either way each block's
        arrival is in ``ring.arrivals`` and its xrun flags in :attr:`xruns`. A device is always
        live: ``live`` is there for the :class:`BlockSource` contract.
        """
        if self.compiled:
            try:
                from listener.audio.portaudio_callback import input_callback
            except Exception as exc:  # numba could not build it here: a Python one will do
                self.compiled = False
                self._note(f"compiled audio callback unavailable ({exc}): using a Python one")
        if not self.compiled:
            self.start(ring.write)
            return
        sd = _sounddevice()
        index = self._open(sd)
        self._ring = ring  # the stream writes into its memory: keep it alive
        self._run_stream(
            sd,
            lambda: sd._StreamBase(
                kind="input",
                device=index,
                channels=1,
                dtype="float32",
                samplerate=self.rate,
                blocksize=self.blocksize,
                callback=input_callback.address,
                userdata=sd._ffi.cast("void *", ring.state.ctypes.data),
                wrap_callback=None,
                finished_callback=self._on_finished,
            ),
        )

    def start(self, callback: Callback) -> None:
        """Open the device and call ``callback(block)`` from PortAudio's thread (Python)."""
        sd = _sounddevice()
        index = self._open(sd)

        def on_block(indata, frames, time_info, status) -> None:
            if status.input_overflow or status.input_underflow:
                self._python_xruns += 1
            callback(indata[:, 0])

        self._run_stream(
            sd,
            lambda: sd.InputStream(
                device=index,
                channels=1,
                dtype="float32",
                samplerate=self.rate,
                blocksize=self.blocksize,
                callback=on_block,
                finished_callback=self._on_finished,
            ),
        )

    def _on_finished(self) -> None:
        # PortAudio's word that the stream is inactive: asked for by stop(), or not
        self._finished.set()
        if not self._stopping:
            self._error = DeviceError(
                f"{self.name!r} stopped delivering audio (device unplugged, or its server "
                "stopped); `listener devices` lists what is there now"
            )

    @property
    def finished(self) -> bool:
        """Whether the stream has stopped: by :meth:`stop`, or by itself (see :attr:`error`)."""
        return self._finished.is_set()

    @property
    def error(self) -> BaseException | None:
        """Why the stream stopped by itself; None while it runs and after :meth:`stop`."""
        return self._error

    @property
    def xruns(self) -> int:
        """Blocks PortAudio flagged as input overflow or underflow."""
        ring = self._ring
        return self._python_xruns + (ring.xruns if ring is not None else 0)

    def stop(self) -> None:
        """Stop and close the stream, then terminate PortAudio."""
        sd = _sounddevice()
        self._stopping = True
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            finally:
                self._stream = None
        while sd._initialized > 0:
            sd._terminate()

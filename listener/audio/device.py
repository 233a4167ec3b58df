"""A live input through PortAudio (sounddevice), JACK's included: the device side of the sources.

sounddevice is imported only when a live input is asked for, so everything else works on a
machine without PortAudio. The stream's callback is compiled
(:mod:`listener.audio.portaudio_callback`) unless the platform cannot build it.
"""

from __future__ import annotations

import threading
import time

from listener.audio.ring import RingBuffer
from listener.audio.sources import Callback
from listener.config import SAMPLE_RATE
from listener.errors import DeviceError

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

"""MIDI clock out: the listener as the band's master, 24 pulses a quarter note.

Through JACK the pulses are written by a process callback of our own JACK client, at their
frame offsets within each cycle: the callback is compiled by numba to a C function that calls
libjack directly and touches no Python object (as the audio input's callback does), so the
interpreter's lock never delays a pulse and the spacing is exact to the frame. A tempo change
takes effect at the next pulse. Through ALSA (no frame offsets) a thread sends each pulse at
its deadline on the monotonic clock, counted from the start (a sleep that runs late is not
carried over into the next pulse, so the clock does not drift).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

import numpy as np

from listener.errors import DeviceError
from listener.midi.sink import choose_port
from listener.stage.clock import CLOCK, CONTINUE, PULSES_PER_QUARTER, START, STOP

# the callback's state (int64): libjack's client and port, the bytes it writes, a command
# from Python (START, STOP or CONTINUE, 0 when none), whether it runs, pulses sent, where its
# timing is, frames processed (its own count: JACK's frame time wraps after 27 hours); the
# timing (float64): frames per pulse, the frame of the next pulse
_CLIENT, _PORT, _BYTES, _COMMAND, _RUNNING, _SENT, _TIMING, _FRAMES = range(8)
_STATE_SIZE = 8
_FRAMES_PER_PULSE, _NEXT = 0, 1
_JACK_NO_START_SERVER = 0x01
_JACK_PORT_IS_OUTPUT = 0x2
_MIDI_TYPE = b"8 bit raw midi"

_compiled = None  # the callback, compiled at the first JACK clock


def _load_jack() -> ctypes.CDLL:
    path = ctypes.util.find_library("jack")
    if path is None:
        raise DeviceError("MIDI clock out through JACK needs libjack (Debian: libjack-jackd2-0)")
    import llvmlite.binding

    llvmlite.binding.load_library_permanently(path)  # the compiled callback calls into it
    lib = ctypes.CDLL(path)
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
    lib.jack_port_register.restype = ctypes.c_void_p
    lib.jack_port_register.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    lib.jack_set_process_callback.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.jack_port_name.restype = ctypes.c_char_p
    lib.jack_port_name.argtypes = [ctypes.c_void_p]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    for name in ("jack_activate", "jack_deactivate", "jack_client_close", "jack_get_sample_rate"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    return lib


def _compile():
    # the process callback: int callback(jack_nframes_t nframes, void *arg)
    from numba import carray, cfunc, types

    from listener.audio.ring import address_to_pointer

    get_buffer = types.ExternalFunction(
        "jack_port_get_buffer", types.voidptr(types.voidptr, types.uint32)
    )
    clear = types.ExternalFunction("jack_midi_clear_buffer", types.void(types.voidptr))
    write = types.ExternalFunction(
        "jack_midi_event_write", types.intc(types.voidptr, types.uint32, types.voidptr, types.uintp)
    )

    @cfunc(types.intc(types.uint32, types.voidptr))
    def process(frames, arg):  # pragma: no cover - compiled, called by JACK
        state = carray(arg, _STATE_SIZE, dtype=np.int64)
        timing = carray(address_to_pointer(state[_TIMING]), 2, dtype=np.float64)
        buffer = get_buffer(address_to_pointer(state[_PORT]), frames)
        clear(buffer)
        first = np.float64(state[_FRAMES])
        state[_FRAMES] += frames
        command = state[_COMMAND]
        if command != 0:
            state[_COMMAND] = 0
            at = 0 if command == STOP else 1 if command == START else 2
            write(buffer, 0, address_to_pointer(state[_BYTES] + at), 1)
            if command == STOP:
                state[_RUNNING] = 0
            else:
                state[_RUNNING] = 1
                timing[_NEXT] = first  # the first pulse with it: the downbeat
        if state[_RUNNING] == 1:
            end = first + frames
            while timing[_NEXT] < end:
                offset = int(timing[_NEXT] - first + 0.5)
                if offset >= frames:
                    break
                write(buffer, max(offset, 0), address_to_pointer(state[_BYTES] + 3), 1)
                state[_SENT] += 1
                timing[_NEXT] += timing[_FRAMES_PER_PULSE]
        return 0

    return process


class ClockOut:
    """Send MIDI clock at a tempo that may change, with Start, Stop and Continue.

    Use :meth:`open`. ``tempo`` (quarter notes a minute) may be set at any time; the next
    pulse follows it.
    """

    def __init__(self, tempo: float) -> None:
        self._tempo = float(tempo)
        self.name: str | None = None
        self.api: str | None = None

    @classmethod
    def open(cls, name: str, *, api: str = "auto", tempo: float = 120.0) -> ClockOut:
        """Send clock to the MIDI input ``name`` (or a unique part of it); not started yet."""
        from listener.midi.sink import midi_backend

        if not tempo > 0:
            raise DeviceError(f"clock tempo {tempo:g}: quarter notes a minute, above 0")
        _, api = midi_backend(api)
        clock = _JackClockOut(tempo) if api == "jack" else _ThreadClockOut(tempo)
        clock.api = api
        clock._connect(name, api)
        return clock

    @property
    def tempo(self) -> float:
        """Quarter notes a minute."""
        return self._tempo

    @tempo.setter
    def tempo(self, tempo: float) -> None:
        if tempo > 0:
            self._tempo = float(tempo)
            self._retime()

    def _retime(self) -> None:
        pass

    def _connect(self, name: str, api: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Send Start, then pulses from the downbeat."""
        self._command(START)

    def stop(self) -> None:
        """Send Stop; pulses end."""
        self._command(STOP)

    def resume(self) -> None:
        """Send Continue; pulses go on."""
        self._command(CONTINUE)

    def _command(self, status: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Send Stop and close."""


class _JackClockOut(ClockOut):
    # a JACK client of our own; its compiled callback writes the pulses at frame offsets
    def _connect(self, name: str, api: str) -> None:
        global _compiled
        target = choose_port(_jack_midi_inputs(), name, kind="clock destination")
        lib = _load_jack()
        if _compiled is None:
            _compiled = _compile()
        self._lib = lib
        client = lib.jack_client_open(b"listener-clock", _JACK_NO_START_SERVER, None)
        if not client:
            raise DeviceError("MIDI clock out: no JACK server to send it through")
        port = lib.jack_port_register(client, b"clock", _MIDI_TYPE, _JACK_PORT_IS_OUTPUT, 0)
        self._client, self.rate = client, lib.jack_get_sample_rate(client)
        self._bytes = np.array([STOP, START, CONTINUE, CLOCK], dtype=np.uint8)
        self._timing = np.zeros(2, dtype=np.float64)
        self._state = np.zeros(_STATE_SIZE, dtype=np.int64)
        self._state[[_CLIENT, _PORT, _BYTES, _TIMING]] = [
            client,
            port,
            self._bytes.ctypes.data,
            self._timing.ctypes.data,
        ]
        self._retime()
        lib.jack_set_process_callback(client, _compiled.address, self._state.ctypes.data)
        if lib.jack_activate(client) != 0:
            lib.jack_client_close(client)
            raise DeviceError("MIDI clock out: JACK refused to activate its client")
        if lib.jack_connect(client, lib.jack_port_name(port), target.encode()) != 0:
            self.close()
            raise DeviceError(f"MIDI clock out: JACK refused to connect to {target!r}")
        self.name = target

    def _retime(self) -> None:
        self._timing[_FRAMES_PER_PULSE] = self.rate * 60.0 / self._tempo / PULSES_PER_QUARTER

    def _command(self, status: int) -> None:
        self._state[_COMMAND] = status

    @property
    def pulses_sent(self) -> int:
        """Pulses written so far."""
        return int(self._state[_SENT])

    def close(self) -> None:
        """Send Stop (within a cycle) and close the client."""
        if self._client is None:
            return
        self._state[_COMMAND] = STOP
        deadline = time.monotonic() + 1.0  # the next cycle writes it (a period: ms)
        while self._state[_COMMAND] != 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        self._lib.jack_deactivate(self._client)
        self._lib.jack_client_close(self._client)
        self._client = None


def _jack_midi_inputs() -> list[str]:
    # JACK's MIDI inputs, as rtmidi names them
    import rtmidi

    probe = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="listener-probe")
    try:
        return probe.get_ports()
    finally:
        probe.delete()


class _ThreadClockOut(ClockOut):
    # ALSA: a thread sends each pulse at its deadline on the monotonic clock
    def _connect(self, name: str, api: str) -> None:
        from listener.midi.sink import midi_backend, port_names

        backend, _ = midi_backend(api)
        chosen = choose_port(port_names(api), name, kind="clock destination")
        self._port = backend.open_output(chosen)
        self.name = chosen
        self._lock = threading.Condition()
        self._running = False
        self._pending: list[int] = []
        self._open = True
        self.pulses_sent = 0
        self._thread = threading.Thread(target=self._run, name="clock-out", daemon=True)
        self._thread.start()

    def _command(self, status: int) -> None:
        with self._lock:
            self._pending.append(status)
            self._lock.notify()

    def _retime(self) -> None:
        with self._lock:  # a long wait at the old tempo is cut short
            self._lock.notify()

    def _run(self) -> None:
        import mido

        anchor = count = 0
        pulse = 0.0
        while True:
            with self._lock:
                while self._open and not self._pending and not self._running:
                    self._lock.wait()
                commands, self._pending = self._pending, []
                closing = not self._open
            for status in commands:
                self._port.send(mido.Message.from_bytes([status]))
                self._running = status != STOP
                anchor, count = time.monotonic(), 0
            if closing:
                return
            if not self._running:
                continue
            new_pulse = 60.0 / self._tempo / PULSES_PER_QUARTER
            if new_pulse != pulse:  # a new tempo: count from the next pulse
                if pulse:
                    anchor, count = anchor + count * pulse, 0
                pulse = new_pulse
            delay = anchor + count * pulse - time.monotonic()
            if delay > 0:
                with self._lock:
                    self._lock.wait(delay)
                continue
            self._port.send(mido.Message.from_bytes([CLOCK]))
            count += 1
            self.pulses_sent += 1

    def close(self) -> None:
        """Send Stop and close the port."""
        if not self._open:
            return
        with self._lock:  # the thread sends the Stop, then ends
            self._pending.append(STOP)
            self._open = False
            self._lock.notify()
        self._thread.join(1.0)
        self._port.close()

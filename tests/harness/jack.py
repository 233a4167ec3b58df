"""A dummy JACK server (real JACK, no sound card, a unique name per run) and a player client."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager

import numpy as np


def start_jackd(
    name: str, *, rate: int, period: int, realtime: bool = False, log=None
) -> subprocess.Popen:
    """Start ``jackd -n name`` on the dummy backend and wait until it takes clients.

    Also how a test starts a server again under the name of one it killed (and reaped: jackd
    takes a server whose process is still there, a zombie included, for one still running).
    """
    import jack

    log = log if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        ["jackd", "-n", name, "--realtime" if realtime else "--no-realtime"]
        + ["-d", "dummy", "-r", str(rate), "-p", str(period)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            jack.Client("probe", servername=name, no_start_server=True).close()
            return server
        except jack.JackError:
            if server.poll() is not None or time.monotonic() > deadline:
                said = ""
                if log is not subprocess.DEVNULL:
                    log.seek(0)
                    said = log.read()
                raise RuntimeError(f"jackd did not start: {said}") from None
            time.sleep(0.05)


def kill_jackd(name: str) -> None:
    """Kill the server ``name`` as a crash would (SIGKILL), and reap it.

    Reaped as a service manager would: jackd takes a server whose process is still there, a
    zombie included, for one still running.
    """
    [pid] = [int(p) for p in subprocess.check_output(["pgrep", "-f", f"jackd -n {name}"]).split()]
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


@contextmanager
def dummy_jack(
    rate: int = 48000, period: int = 128, log_to: str | None = None, realtime: bool = False
):
    """Start ``jackd`` on the dummy backend; yield its name; stop it.

    Clients find it through ``JACK_DEFAULT_SERVER`` (set in this process's environment while
    it runs, so that python-rtmidi's JACK client and child processes see it too). With
    ``log_to`` the server's messages are saved in that file when it stops: each xrun it
    blames on a client names the client ("client = NAME was not finished"). With ``realtime``
    the server and every client's process thread run with real-time (SCHED_FIFO) priority, as
    on a stage (needs the privilege: root, or an rtprio limit); the tests run without it.
    """
    name = f"listener-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    log = tempfile.TemporaryFile("w+")  # a pipe nobody reads would block jackd when full
    server = start_jackd(name, rate=rate, period=period, realtime=realtime, log=log)
    try:
        yield name
    finally:
        if server.poll() is not None:  # a test killed it: its slot in JACK's registry of
            # servers (eight in all, kept in /dev/shm) is freed only by a server of its name
            start_jackd(name, rate=rate, period=period).terminate()
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
        if log_to is not None:
            log.seek(0)
            with open(log_to, "w") as out:
                out.write(log.read())
        log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class JackPlayer:
    """A JACK client that plays an array into its output port, once told to start."""

    def __init__(self, server: str, samples: np.ndarray) -> None:
        import jack

        self.client = jack.Client("player", servername=server, no_start_server=True)
        self.port = self.client.outports.register("out")
        self.samples = samples.astype(np.float32)
        self.position = 0
        self.go = threading.Event()
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        out = self.port.get_array()
        if not self.go.is_set():
            out[:] = 0
            return
        n = max(0, min(frames, self.samples.size - self.position))
        out[:n] = self.samples[self.position : self.position + n]
        out[n:] = 0
        self.position += n

    def feed(self, timeout: float = 10.0) -> None:
        """Connect to PortAudio's input (once it is there) instead of the dummy capture."""
        deadline = time.monotonic() + timeout
        while True:
            inputs = self.client.get_ports("PortAudio", is_input=True, is_audio=True)
            if inputs:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("PortAudio's JACK input never appeared")
            time.sleep(0.02)
        for source in self.client.get_all_connections(inputs[0]):
            self.client.disconnect(source, inputs[0])
        self.client.connect(self.port, inputs[0])
        self.go.set()

    def close(self) -> None:
        """Deactivate and close the client."""
        self.client.deactivate()
        self.client.close()


class TimebaseMaster:
    """A JACK client that is the transport's timebase master at a tempo the test sets.

    Its bar, beat and tick follow the frames rolled at the tempo of the moment; a change of
    ``bpm`` takes effect from the next cycle (jack_midi_clock reads it there).
    """

    def __init__(self, bpm: float, *, beats_per_bar: int = 4) -> None:
        import jack

        self.bpm = float(bpm)
        self.beats_per_bar = beats_per_bar
        self._ticks = 0.0  # ticks (1920 a beat) rolled so far
        self._lib = jack._lib
        self.client = jack.Client("harness-timebase", no_start_server=True)
        self.client.set_timebase_callback(self._timebase)
        self.client.activate()

    def _timebase(self, state, blocksize, pos, new_pos) -> None:
        ticks_per_beat = 1920.0
        if state == 1 and not new_pos:  # rolling: a cycle of frames at the tempo now
            self._ticks += blocksize * self.bpm / 60.0 / pos.frame_rate * ticks_per_beat
        beats = int(self._ticks // ticks_per_beat)
        pos.valid = self._lib.JackPositionBBT
        pos.bar = beats // self.beats_per_bar + 1
        pos.beat = beats % self.beats_per_bar + 1
        pos.tick = int(self._ticks % ticks_per_beat)
        pos.bar_start_tick = (beats - beats % self.beats_per_bar) * ticks_per_beat
        pos.beats_per_bar = self.beats_per_bar
        pos.beat_type = 4
        pos.ticks_per_beat = ticks_per_beat
        pos.beats_per_minute = self.bpm

    def close(self) -> None:
        """Give up the timebase and close the client."""
        self.client.deactivate()
        self.client.close()

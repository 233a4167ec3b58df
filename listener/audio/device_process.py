"""A device's stream in a process of its own, so that a server that dies cannot hang the listener.

Once the JACK server has died, PortAudio's JACK host API never returns from stopping, aborting
or closing a stream, nor from terminating PortAudio (measured here: each call waits forever
for a process callback that cannot come). In the listener's own process that would be the end:
no new stream can open while the old one hangs. :class:`DeviceProcess` therefore runs the
stream (:class:`~listener.audio.device.SoundDeviceSource`, with its compiled callback) in a
child process. The ring it writes lives in shared memory (``RingBuffer(shared=True)``) and the
child inherits the ring's eventfd, so blocks arrive and wake the analysis exactly as they do
from a stream in the same process, stamped on the same monotonic clock.

To reconnect (:meth:`DeviceProcess.restart`), the child is killed (SIGKILL: nothing to hang)
and a new one finds the device afresh, with a fresh PortAudio; the ring and its counters carry
on. Run as ``python -m listener.audio.device_process RING``, this module is the child: it says
``{"ready": ...}`` or ``{"error": ...}`` as one JSON line on standard output, streams until its
standard input closes (or says ``stop``), and says ``{"error": ...}`` if the stream stops by
itself.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import subprocess
import sys
import threading

from listener.audio.ring import WAKE_FD, RingBuffer
from listener.errors import DeviceError

#: Seconds a child is given to open its stream, and to stop it before it is killed.
START_SECONDS = 10.0
STOP_SECONDS = 1.0


class DeviceProcess:
    """A live input through PortAudio, its stream in a child process (a BlockSource).

    Parameters
    ----------
    device : int or str, optional
        An input's index, or a part of its name; the default input without it.
    jack : bool
        Only PortAudio's JACK host API.
    blocksize : int
        Frames per callback (0: what the host API prefers).
    """

    #: The engine must make its ring in shared memory for this source.
    shared_ring = True

    def __init__(self, device: int | str | None = None, jack: bool = False, blocksize: int = 0):
        self.device_query = device
        self.jack = jack
        self.blocksize = blocksize
        self.name = "?"
        self.rate = 0
        self.notice: str | None = None
        self.restarts = 0
        self._ring: RingBuffer | None = None
        self._child: subprocess.Popen | None = None
        self._error: BaseException | None = None
        self._stopped = False

    def open(self, ring: RingBuffer, *, live: bool = True) -> None:
        """Start the child streaming into ``ring`` (made with ``shared=True``).

        Raises
        ------
        DeviceError
            The child could not open the device (it says why).
        """
        if ring.shared_name is None:
            raise DeviceError("a device in a process of its own needs a ring in shared memory")
        self._ring = ring
        self._start()

    def _command(self) -> list[str]:
        assert self._ring is not None and self._ring.shared_name is not None
        command = [sys.executable, "-m", "listener.audio.device_process", self._ring.shared_name]
        if self.device_query is not None:
            command += ["--device", str(self.device_query)]
        if self.jack:
            command.append("--jack")
        return command + ["--blocksize", str(self.blocksize)]

    def _start(self) -> None:
        assert self._ring is not None
        self._error = None
        fd = int(self._ring.state[WAKE_FD])
        child = subprocess.Popen(
            self._command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # JACK's own chatter about servers that are not there
            pass_fds=(fd,) if fd >= 0 else (),
            text=True,
        )
        self._child = child
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], START_SECONDS)
        line = child.stdout.readline() if ready else ""
        said = json.loads(line) if line.strip() else {}
        if not said.get("ready"):
            self._kill()
            why = said.get("error") or f"its process did not start within {START_SECONDS:g} s"
            raise DeviceError(why)
        self.name, self.rate, self.notice = said["name"], int(said["rate"]), said.get("notice")
        threading.Thread(target=self._listen, args=(child,), daemon=True).start()

    def _listen(self, child: subprocess.Popen) -> None:
        # the child's later word: its stream stopped by itself
        assert child.stdout is not None
        for line in child.stdout:
            said = json.loads(line) if line.strip() else {}
            if "error" in said and child is self._child and not self._stopped:
                self._error = DeviceError(said["error"])

    def restart(self) -> bool:
        """Kill the child and start another: True once it streams, False if it cannot yet.

        The reason it cannot is in :attr:`error` until a start succeeds.
        """
        self._kill()
        try:
            self._start()
        except DeviceError as exc:
            self._error = exc
            return False
        self.restarts += 1
        return True

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()

    def stop(self) -> None:
        """Ask the child to stop its stream; kill it when it cannot (a server that died)."""
        self._stopped = True
        child = self._child
        if child is None:
            return
        try:
            assert child.stdin is not None
            child.stdin.close()  # the child's word to stop
            child.wait(STOP_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()

    @property
    def pid(self) -> int | None:
        """The stream's process id (for a test that kills it)."""
        return None if self._child is None else self._child.pid

    @property
    def finished(self) -> bool:
        """Whether the stream has stopped: by :meth:`stop`, or by itself (see :attr:`error`)."""
        return self._stopped or self._error is not None

    @property
    def error(self) -> BaseException | None:
        """Why the stream stopped by itself (or could not start again); None while it runs."""
        return None if self._stopped else self._error

    @property
    def xruns(self) -> int:
        """Blocks PortAudio flagged as input overflow or underflow (counted in the ring)."""
        return 0 if self._ring is None else self._ring.xruns


def _say(what: dict) -> None:
    print(json.dumps(what), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Stream a device into a shared ring until standard input closes (the child's side)."""
    from listener.audio.device import SoundDeviceSource

    parser = argparse.ArgumentParser(description="a device's stream, for DeviceProcess")
    parser.add_argument("ring", help="the shared ring's name")
    parser.add_argument("--device")
    parser.add_argument("--jack", action="store_true")
    parser.add_argument("--blocksize", type=int, default=0)
    args = parser.parse_args(argv)
    # Ctrl-C and a closed terminal reach the whole process group: stopping is the parent's
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    ring = RingBuffer.attach(args.ring)
    source = SoundDeviceSource(args.device, jack=args.jack, blocksize=args.blocksize)
    try:
        source.open(ring)
    except Exception as exc:  # DeviceError, or PortAudio's own
        _say({"error": str(exc)})
        return 2
    _say({"ready": True, "name": source.name, "rate": source.rate, "notice": source.notice})
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.1)
        if readable and sys.stdin.readline().strip() in ("", "stop"):
            break
        if source.error is not None:
            _say({"error": str(source.error)})
            break
    source.stop()  # the parent kills this process if it hangs here
    ring.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

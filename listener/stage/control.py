"""OSC in: a few controls a performer's patch can send the listener.

Addresses (after the prefix, ``/listener`` by default; ``listener osc --table`` lists them):

- ``/compose``: compose a tune now;
- ``/stop``: stop the tune or answer playing, every note released;
- ``/temperature f``: the sampling temperature of the next tunes (0.1 to 5);
- ``/meter s``: the next tunes' meter (``6/8``, or ``follow``);
- ``/mode s``: their mode (``maj``, ``min``, ``dor``, ``mix``, or ``follow``);
- ``/tempo f``: their tempo in quarter notes a minute (0 follows what is heard).

It listens on 127.0.0.1 unless told otherwise, on a thread of its own. A datagram that is not
OSC, an unknown address or a bad argument is rejected and counted (:attr:`OscControl.rejected`,
in every ``stats`` event) and said on standard error once a second at most; nothing sent can
stop the engine.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

from pythonosc.osc_message import OscMessage, ParseError

from listener.errors import ConfigError
from listener.stage.osc import DEFAULT_PREFIX

#: The controls: address after the prefix, OSC type tags, what it does.
CONTROLS = (
    ("/compose", "", "compose a tune now"),
    ("/stop", "", "stop the tune or answer playing"),
    ("/temperature", "f", "sampling temperature of the next tunes, 0.1-5"),
    ("/meter", "s", "next tunes' meter (6/8 ...) or follow"),
    ("/mode", "s", "next tunes' mode (maj min dor mix) or follow"),
    ("/tempo", "f", "next tunes' tempo, quarter notes a minute (0 follows)"),
)
_TYPES = {path: types for path, types, _ in CONTROLS}


def parse_listen(text: str) -> tuple[str, int]:
    """Read ``[HOST:]PORT`` (127.0.0.1 without a host); ConfigError when malformed."""
    host, colon, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 < number < 65536:
        raise ConfigError(f"{text!r}: give [HOST:]PORT, for example 9000 or 0.0.0.0:9000")
    return (host if colon and host else "127.0.0.1"), number


class OscControl:
    """Take controls over OSC from a UDP port, on a thread of its own.

    Parameters
    ----------
    act : callable
        Called with the control's name (``compose``, ``stop``, ``temperature``, ``meter``,
        ``mode``, ``tempo``) and its value (None for the first two), from the control's
        thread. A ConfigError or ValueError it raises rejects the control.
    host, port : str, int
        Where to listen (port 0: one the system chooses; :attr:`port` says which).
    prefix : str
        Of every address.
    """

    def __init__(
        self,
        act: Callable[[str, object], None],
        *,
        host: str = "127.0.0.1",
        port: int,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.act = act
        self.prefix = prefix
        self.rejected = 0
        self.accepted = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(
                f"--osc-in {host}:{port}: {exc.strerror}; is another program listening there?"
            ) from None
        self._socket.settimeout(0.2)
        self.host, self.port = self._socket.getsockname()[:2]
        self._said = 0.0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                data, _ = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                continue
            reason = self.take(data)
            if reason is None:
                self.accepted += 1
            else:
                self.rejected += 1
                self._say(reason)

    def take(self, data: bytes) -> str | None:
        """Act on one datagram; return why it was rejected, or None."""
        try:
            message = OscMessage(data)
        except ParseError:
            return f"not an OSC message ({len(data)} bytes)"
        address = message.address
        if not address.startswith(self.prefix + "/"):
            return f"{address}: not under {self.prefix}"
        path = address[len(self.prefix) :]
        if path not in _TYPES:
            return f"{address}: no such control (listener osc --table lists them)"
        params = list(message.params)
        types = _TYPES[path]
        if len(params) != len(types):
            return f"{address}: takes {len(types)} argument(s), got {len(params)}"
        value = None
        if types == "f":
            if isinstance(params[0], bool) or not isinstance(params[0], int | float):
                return f"{address}: takes a number, got {params[0]!r}"
            value = float(params[0])
        elif types == "s":
            if not isinstance(params[0], str):
                return f"{address}: takes a string, got {params[0]!r}"
            value = params[0]
        try:
            self.act(path[1:], value)
        except (ConfigError, ValueError) as exc:
            return f"{address}: {exc}"
        return None

    def _say(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._said >= 1.0:
            self._said = now
            print(f"listener: OSC in rejected: {reason}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop listening."""
        self._closed.set()
        self._thread.join(1.0)
        self._socket.close()

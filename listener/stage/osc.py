"""OSC out: the listener's events as Open Sound Control messages.

For Max, Pd, SuperCollider, TouchDesigner, Sonic Pi and Wekinator.

Every address is in one versioned table (:data:`ADDRESSES`, printed by ``listener osc
--table``); a receiver can rely on it. Numbers go out as 32-bit floats, one address per scalar
or fixed-length vector, and strings on addresses of their own (TouchDesigner's OSC In CHOP
takes only floats, ints and timetags). Messages are plain, sent at once, never bundled (a
python-osc receiver sleeps until a bundle's timetag; older Sonic Pi drops bundles).

Sending happens on a thread of its own (:class:`OscOut`) from a bounded queue that drops the
oldest message when a target cannot keep up: the analysis only appends to it.
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from dataclasses import dataclass

from pythonosc.osc_message_builder import OscMessageBuilder

from listener.errors import ConfigError

#: Version of the address table; it changes whenever an address or its arguments change.
TABLE_VERSION = 1
#: Default prefix of every address.
DEFAULT_PREFIX = "/listener"
#: Messages waiting to go out before the oldest is dropped.
QUEUE_SIZE = 1024
#: Features a second at which the frame features go out (``--osc-rate``).
DEFAULT_RATE = 30.0


@dataclass(frozen=True)
class Address:
    """One row of the address table.

    The address after the prefix, its OSC type tags, the range of its arguments, when it is
    sent, and what it means.
    """

    path: str
    types: str
    range: str
    rate: str
    what: str


#: The address table (version ``TABLE_VERSION``), after the prefix (``/listener`` by default).
ADDRESSES = (
    Address("/version", "f", "1-", "at start", "version of this table"),
    Address("/genre", "s", "a label", "each decision", "the genre decided"),
    Address("/posterior", "f" * 10, "0-1", "each decision", "each genre's posterior, label order"),
    Address("/confidence", "f", "0-1", "each decision", "the decided genre's posterior"),
    Address("/familiar", "f", "0-1", "each decision", "share of recent windows like the training"),
    Address("/rms", "f", "0-1", "--osc-rate", "level of the last 23 ms frame (linear RMS)"),
    Address("/centroid", "f", "0-11025 Hz", "--osc-rate", "spectral centroid of the last frame"),
    Address("/flux", "f", "0-", "--osc-rate", "spectral flux of the last frame"),
    Address("/tempo", "f", "40-240 bpm", "--osc-rate", "tempo heard (the beat histogram's peak)"),
    Address("/beat", "ff", "0-, bpm", "each beat played", "beat number in the tune, its tempo"),
    Address("/note", "fff", "0-127, 0-127, 1|0", "each note played", "pitch, velocity, on/off"),
    Address("/tune", "s", "start|end", "each tune", "a tune the composer plays starts or ends"),
    Address("/tune/abc", "s", "ABC", "each tune's end", "the whole tune as ABC"),
    Address("/tune/meter", "s", "M:6/8", "each tune's start", "the tune's meter"),
    Address("/phrase", "s", "tokens", "each phrase heard", "the call as folk-rnn tokens, in C"),
    Address("/phrase/key", "s", "D dor", "each phrase heard", "tonic and mode of the call"),
    Address("/phrase/meter", "s", "6/8", "each phrase heard", "meter of the call"),
    Address("/phrase/tempo", "f", "bpm", "each phrase heard", "tempo of the call"),
    Address("/heard", "fff", "0-127, s, s", "each note heard", "pitch, onset, offset"),
    Address("/fault", "s", "text", "each fault", "a part failed (or recovered: 'recovered ...')"),
    Address(
        "/stats",
        "ffffff",
        "counts, ms",
        "each stats event",
        "xruns, overflows, latency p50, p99, max (ms), faults",
    ),
)
#: Wekinator's input address and what goes there (``--osc-format wekinator``).
WEKINATOR = Address("/wek/inputs", "f" * 30, "GTZAN", "--osc-rate", "the 30-dim GTZAN vector")


def table() -> str:
    """Return the address table as text (``listener osc --table``)."""
    rows = [f"# listener OSC address table, version {TABLE_VERSION}; prefix {DEFAULT_PREFIX}"]
    rows.append(f"{'address':<22} {'types':<12} {'range':<18} {'sent':<18} meaning")
    for a in (*ADDRESSES, WEKINATOR):
        path = a.path if a is WEKINATOR else DEFAULT_PREFIX + a.path
        types = a.types if len(a.types) <= 10 else f"{a.types[0]} x {len(a.types)}"
        rows.append(f"{path:<22} {types:<12} {a.range:<18} {a.rate:<18} {a.what}")
    return "\n".join(rows)


@dataclass(frozen=True)
class Target:
    """Where OSC goes: host, UDP port, address prefix, format (``listener``, ``wekinator``)."""

    host: str
    port: int
    prefix: str = DEFAULT_PREFIX
    format: str = "listener"

    @classmethod
    def parse(cls, text: str, *, format: str = "listener") -> Target:
        """Read ``HOST:PORT[/prefix]`` (``:PORT`` alone is 127.0.0.1); ConfigError if bad."""
        where, slash, prefix = text.partition("/")
        host, colon, port = where.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not colon or not 0 < number < 65536:
            raise ConfigError(
                f"--osc {text!r}: give HOST:PORT[/prefix], for example 127.0.0.1:57120 "
                "(SuperCollider), :4560 (Sonic Pi) or 127.0.0.1:6448 (Wekinator)"
            )
        prefix = "/" + prefix.strip("/") if slash and prefix.strip("/") else DEFAULT_PREFIX
        return cls(host or "127.0.0.1", number, prefix, format)


def _message(address: str, types: str, values) -> bytes:
    builder = OscMessageBuilder(address=address)
    for tag, value in zip(types, values, strict=True):
        builder.add_arg(float(value) if tag == "f" else str(value), "f" if tag == "f" else "s")
    return builder.build().dgram


def messages(event: dict, *, prefix: str = DEFAULT_PREFIX) -> list[tuple[str, str, tuple]]:
    """List the messages one event becomes in the address table: ``(address, types, values)``."""
    kind = event.get("type")
    out: list[tuple[str, str, tuple]] = []

    def add(path: str, types: str, *values) -> None:
        out.append((prefix + path, types, values))

    if kind == "decision":
        add("/genre", "s", event["genre"])
        add("/posterior", "f" * len(event["posterior"]), *event["posterior"].values())
        add("/confidence", "f", event["confidence"])
        add("/familiar", "f", event["familiar"])
    elif kind == "meter":
        add("/rms", "f", event["rms"])
        add("/centroid", "f", event["centroid"])
        add("/flux", "f", event["flux"])
        if event.get("tempo"):
            add("/tempo", "f", event["tempo"])
    elif kind == "beat":
        add("/beat", "ff", event["beat"], event["tempo"])
    elif kind == "play":
        add("/note", "fff", event["pitch"], event["velocity"], 1.0 if event["on"] else 0.0)
    elif kind == "tune" and event.get("event") in ("start", "end"):
        add("/tune", "s", event["event"])
        if event["event"] == "start" and "meter" in event:
            add("/tune/meter", "s", event["meter"])
        if event["event"] == "end" and "abc" in event:
            add("/tune/abc", "s", event["abc"])
    elif kind == "phrase":
        add("/phrase", "s", event["tokens"])
        add("/phrase/key", "s", f"{event['key']['tonic']} {event['key']['mode']}")
        add("/phrase/meter", "s", event["meter"])
        add("/phrase/tempo", "f", event["tempo"])
    elif kind == "note":
        add("/heard", "fff", event["pitch"], event["onset"], event["offset"])
    elif kind == "fault":
        what = event.get("fault") or f"recovered {event.get('part', '')}".strip()
        add("/fault", "s", what)
    elif kind == "stats":
        add(
            "/stats",
            "ffffff",
            event.get("xruns", 0),
            event.get("overflows", 0),
            event.get("latency_ms_p50", 0.0),
            event.get("latency_ms_p99", 0.0),
            event.get("latency_ms_max", 0.0),
            event.get("health", {}).get("faults", 0),
        )
    return out


class OscOut:
    """Send events as OSC to one or more targets, from a thread of its own.

    Parameters
    ----------
    targets : list of Target
        Where to send; each gets every message of its format.

    Attributes
    ----------
    sent, dropped, failed : int
        Datagrams sent; messages dropped from a full queue (the oldest first); sends the
        network refused (a target's port closed: ICMP unreachable, said by the next send).
    send_times : collections.deque
        ``(event's monotonic arrival, sent)`` pairs of the last 4096 messages, in ns, for
        the latency figures.
    """

    def __init__(self, targets: list[Target]) -> None:
        if not targets:
            raise ValueError("OscOut needs at least one target")
        self.targets = list(targets)
        self.sent = self.dropped = self.failed = 0
        self.send_times: collections.deque = collections.deque(maxlen=4096)
        self._queue: collections.deque = collections.deque()
        self._wake = threading.Condition()
        self._closed = False
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._addresses: dict[Target, tuple] = {}
        for target in self.targets:
            try:
                info = socket.getaddrinfo(target.host, target.port, socket.AF_INET)
            except socket.gaierror as exc:
                raise ConfigError(f"--osc {target.host}:{target.port}: {exc.strerror}") from None
            self._addresses[target] = info[0][4]
        self._thread = threading.Thread(target=self._run, name="osc-out", daemon=True)
        self._thread.start()

    def __call__(self, event: dict) -> None:
        """Queue an event to go out; never waits (the oldest is dropped when full)."""
        with self._wake:
            if len(self._queue) >= QUEUE_SIZE:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append((time.monotonic_ns(), event))
            self._wake.notify()

    def _run(self) -> None:
        for target in self.targets:  # first, which table the addresses follow
            if target.format == "listener":
                self._send(_message(target.prefix + "/version", "f", (TABLE_VERSION,)), target)
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return
                arrived, event = self._queue.popleft()
            for target in self.targets:
                for datagram in self._datagrams(event, target):
                    self._send(datagram, target)
                    self.send_times.append((arrived, time.monotonic_ns()))

    def _send(self, datagram: bytes, target: Target) -> None:
        try:
            self._socket.sendto(datagram, self._addresses[target])
            self.sent += 1
        except OSError:
            self.failed += 1

    def _datagrams(self, event: dict, target: Target) -> list[bytes]:
        if target.format == "wekinator":
            vector = event.get("vector") if event.get("type") == "meter" else None
            if vector is None:
                return []
            return [_message(WEKINATOR.path, "f" * len(vector), vector)]
        return [_message(a, t, v) for a, t, v in messages(event, prefix=target.prefix)]

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout)
        self._socket.close()

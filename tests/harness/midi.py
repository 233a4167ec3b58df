"""A JACK MIDI input that records what arrives, and what the tests hold it to."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The dummy JACK server (no real-time scheduling on a shared machine) drops the MIDI of a cycle
#: whose clients overran it (an xrun, which every client is told of). Monophonic tunes send at
#: most two note messages at one instant (a note's end, the next one's start): what one xrun may
#: cost. A test forgives that many per xrun the server reported while it listened, and no more.
LOST_PER_XRUN = 2


class Receiver:
    """A JACK MIDI input named harness:sink, in a process of its own, that records each message.

    The port lives in a child process (``python -m tests.harness.midi``): RtMidi unregisters a
    virtual JACK port while its client is still active, and that races the client's process
    callback, which now and then crashes the process at close. A crash there must not be the
    test run's. The child takes messages from python-rtmidi's queue (no callback: its JACK
    thread then never waits for a Python lock, and a late client loses MIDI) and writes each,
    with JACK's time and ``time.monotonic()`` as it took it (one clock for all processes on
    Linux), as a line to this process, where a thread records them.

    With ``timing``, MIDI clock and its Start, Stop and Continue are recorded as well.
    """

    def __init__(self, *, timing: bool = False, seconds: float = 10.0) -> None:
        import mido

        self._mido = mido
        self.xruns = 0  # xruns the server reported while this port listened
        self.messages: list[tuple[float, object]] = []  # JACK time from the first, message
        self.arrivals: list[float] = []  # each message's time.monotonic() as it was taken
        self._errors = tempfile.TemporaryFile("w+")  # a pipe left unread could fill and stall it
        self._child = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.midi", *(["--timing"] if timing else [])],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._record, daemon=True)
        self._thread.start()
        if not self._ready.wait(seconds):
            self._child.kill()
            self._child.wait()
            self._errors.seek(0)
            raise RuntimeError(f"the receiver did not open harness:sink: {self._errors.read()}")

    def _record(self) -> None:
        assert self._child.stdout is not None
        for line in self._child.stdout:
            kind, *fields = line.split()
            if kind == "m":
                clock, arrival, data = float(fields[0]), float(fields[1]), fields[2]
                self.messages.append((clock, self._mido.Message.from_hex(data, sep=",")))
                self.arrivals.append(arrival)
            elif kind == "x":
                self.xruns = int(fields[0])
            elif kind == "ready":
                self._ready.set()
            elif kind == "done":
                break

    def forgiven(self) -> int:
        """Note messages the server may have lost: ``LOST_PER_XRUN`` for each xrun it reported."""
        return LOST_PER_XRUN * self.xruns

    def notes_on(self) -> list[tuple[float, int]]:
        """(arrival, pitch) of every note-on."""
        return [(t, m.note) for t, m in self.messages if m.type == "note_on" and m.velocity > 0]

    def note_messages(self) -> int:
        """Note-ons and note-offs received."""
        return sum(1 for _, m in self.messages if m.type in ("note_on", "note_off"))

    def unmatched(self) -> Counter:
        """Note-ons not followed by a note-off of their own, by pitch.

        All-notes-off (CC 123) and the other controllers count for nothing: a receiver that
        clears its record on them would hide every lost note-off.
        """
        count: Counter = Counter()
        for _, m in self.messages:
            if m.type == "note_on" and m.velocity > 0:
                count[m.note] += 1
            elif m.type in ("note_on", "note_off") and count[m.note] > 0:
                count[m.note] -= 1
        return +count

    def close(self, seconds: float = 10.0) -> None:
        """Take what has arrived, then close the port: its name is free once this returns.

        The child's exit status is not asked: the messages are all here before it closes.
        """
        assert self._child.stdin is not None
        try:
            self._child.stdin.write("stop\n")
            self._child.stdin.close()
        except BrokenPipeError:
            pass
        self._thread.join(seconds)  # it ends at "done", or where the child's output does
        try:
            self._child.wait(seconds)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._errors.close()


def _receive(timing: bool) -> None:
    """The child of :class:`Receiver`: open harness:sink, write what arrives, stop on stdin."""
    import jack
    import rtmidi

    xruns = [0]
    watch = jack.Client("harness-xruns", no_start_server=True)
    watch.set_xrun_callback(lambda delay: xruns.__setitem__(0, xruns[0] + 1))
    watch.activate()
    port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="harness", queue_size_limit=65536)
    if timing:  # MIDI clock too (rtmidi drops it unless told)
        port.ignore_types(sysex=True, timing=False, active_sense=True)
    port.open_virtual_port("sink")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    clock, told = 0.0, 0
    while True:
        got = port.get_message()
        if xruns[0] != told:
            told = xruns[0]
            print("x", told, flush=True)
        if got is None:
            if stop.is_set():
                break
            time.sleep(0.001)
            continue
        data, delta = got
        clock += delta
        print("m", clock, time.monotonic(), ",".join(f"{b:02X}" for b in data), flush=True)
    print("done", flush=True)
    port.close_port()
    port.delete()
    watch.deactivate()
    watch.close()


def assert_every_note_released(receiver: Receiver, sent: int | None = None) -> None:
    """Every note-on received has its own note-off, but for events the server lost in xruns.

    ``sent``: note-ons and note-offs the sink sent (``MidiSink.sent``); a note left unmatched
    must then be one the server lost. Without it (a sink in another process), as many as the
    xruns forgive.
    """
    unmatched = sum(receiver.unmatched().values())
    forgiven = receiver.forgiven()
    lost = forgiven if sent is None else sent - receiver.note_messages()
    assert 0 <= lost <= forgiven, (
        f"sent {sent}, received {receiver.note_messages()}, {receiver.xruns} xruns"
    )
    assert unmatched <= lost, f"notes left sounding: {dict(receiver.unmatched())}"


def in_order(got: list[int], sent: list[int], *, forgiven: int = 0) -> list[int]:
    """Check that the pitches received are the pitches sent, in order; return their indices.

    At most ``forgiven`` may be missing (:meth:`Receiver.forgiven`); none may be extra or out
    of order.
    """
    at, j = [], 0
    for pitch in got:
        while j < len(sent) and sent[j] != pitch:
            j += 1
        assert j < len(sent), (got, sent)  # extra, or out of order
        at.append(j)
        j += 1
    assert len(sent) - len(got) <= forgiven, (got, sent)
    return at


def wait_for_delivery(receiver: Receiver, sent: int, seconds: float = 2.0) -> None:
    """Wait until ``sent`` note messages have arrived, at most ``seconds`` (some may be lost)."""
    deadline = time.monotonic() + seconds
    while receiver.note_messages() < sent and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    _receive("--timing" in sys.argv[1:])

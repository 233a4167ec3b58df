"""A JACK MIDI input that records what arrives, and what the tests hold it to."""

from __future__ import annotations

import threading
import time
from collections import Counter

#: The dummy JACK server (no real-time scheduling on a shared machine) drops the MIDI of a cycle
#: whose clients overran it (an xrun, which every client is told of). Monophonic tunes send at
#: most two note messages at one instant (a note's end, the next one's start): what one xrun may
#: cost. A test forgives that many per xrun the server reported while it listened, and no more.
LOST_PER_XRUN = 2


class Receiver:
    """A JACK MIDI input named harness:sink that records each message with its arrival time.

    python-rtmidi without a callback: its JACK thread queues each message with JACK's own time
    and never waits for Python's lock (a callback that did could make the test's own JACK
    client late, and a late client loses MIDI). A thread here drains the queue.

    With ``timing``, MIDI clock and its Start, Stop and Continue are recorded as well.
    """

    def __init__(self, *, timing: bool = False) -> None:
        import jack
        import mido
        import rtmidi

        self.xruns = 0  # xruns the server reported while this port listened
        self._watch = jack.Client("harness-xruns", no_start_server=True)
        self._watch.set_xrun_callback(self._count_xrun)
        self._watch.activate()
        self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="harness", queue_size_limit=65536)
        if timing:  # MIDI clock too (rtmidi drops it unless told)
            self._rt.ignore_types(sysex=True, timing=False, active_sense=True)
        self._rt.open_virtual_port("sink")
        self._mido = mido
        self.messages: list[tuple[float, object]] = []  # JACK time from the first, message
        self.arrivals: list[float] = []  # each message's time.monotonic() as it was drained
        self._clock = 0.0
        self._running = True
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _count_xrun(self, delay: float) -> None:
        self.xruns += 1

    def forgiven(self) -> int:
        """Note messages the server may have lost: ``LOST_PER_XRUN`` for each xrun it reported."""
        return LOST_PER_XRUN * self.xruns

    def _drain(self) -> None:
        while self._running:
            got = self._rt.get_message()
            if got is None:
                time.sleep(0.001)
                continue
            data, delta = got
            self._clock += delta
            self.arrivals.append(time.monotonic())
            self.messages.append((self._clock, self._mido.Message.from_bytes(data)))

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

    def close(self) -> None:
        """Stop draining and close the port."""
        self._running = False
        self._thread.join()
        self._rt.close_port()
        self._rt.delete()
        self._watch.deactivate()
        self._watch.close()


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

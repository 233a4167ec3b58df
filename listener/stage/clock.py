"""MIDI clock in: the band's tempo and transport, from 24 pulses a quarter note.

:class:`ClockIn` listens on a MIDI input (JACK or ALSA, through python-rtmidi with timing
messages let through) and keeps the tempo, the transport (Start, Stop, Continue) and the
position in pulses since Start. The tempo is a line fitted through the last two quarter
notes' pulses, timed by the MIDI system's own timestamps, not by when Python got to them: a
sleeping reader does not bend the tempo. JACK stamps a message with its cycle's time (up to a
period off); the fit averages that out, where a quarter note's first and last pulse would keep
it (1% at a period of 5 ms), and a change of tempo is followed within two beats.

No callback into Python runs on the MIDI system's thread: a thread here drains rtmidi's queue
(as the tests' receiver does), so a busy interpreter never makes the MIDI client late.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from listener.errors import DeviceError

#: MIDI clock pulses per quarter note.
PULSES_PER_QUARTER = 24
#: Pulses the tempo is fitted over: two quarter notes (a line through their times; JACK
#: stamps each with its cycle's time, up to a period off, which one interval would carry whole).
TEMPO_PULSES = 2 * PULSES_PER_QUARTER
#: A gap of this many pulses at the tempo (or more, up to MOST_LOST + 1.5) has pulses lost in
#: it; JACK stamps a pulse up to a period early, so below 236 quarter notes a minute (a
#: pulse longer than two 5.3 ms periods) a gap without loss stays under it.
LOST_RATIO = 1.5
MOST_LOST = 2
#: Seconds without a pulse that break the tempo's line (below 12.5 quarter notes a minute).
PAUSE = 0.2
#: Messages over which the MIDI system's clock is mapped to ``time.monotonic`` (4 s at 120).
OFFSET_WINDOW = 192
#: Status bytes of the real-time messages this reads.
CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC


class ClockIn:
    """Follow a MIDI clock: tempo, transport and position, from a MIDI input.

    Use :meth:`open` for a real port; :meth:`take` feeds messages directly (a file, a test).

    Attributes
    ----------
    running : bool
        Between a Start (or Continue) and a Stop; from the first pulse heard when the clock
        was running before we joined (no Start, Stop or Continue heard yet).
    pulses : int
        Pulses since the first after the last Start (that one is 0: the downbeat; -1 between
        Start and it), kept through Stop and Continue.
    pulses_heard : int
        Pulses heard since opening, running or not.
    """

    def __init__(self) -> None:
        self.running = False
        self.pulses = 0
        self.pulses_heard = 0
        self._transport_seen = False  # a Start, Stop or Continue heard
        # (pulse number, time) of the last pulses, for the tempo's line
        self._times: collections.deque = collections.deque(maxlen=TEMPO_PULSES)
        self._pending_lost = 0  # pulses counted as lost at the last pulse, until the next
        self._clock = 0.0  # the MIDI system's time of the last message, seconds
        # monotonic less the MIDI system's time, per message: the least of the recent ones is
        # the one delivered soonest, the best guess of how the two clocks relate
        self._offsets: collections.deque = collections.deque(maxlen=OFFSET_WINDOW)
        self._last_pulse = 0.0  # the MIDI system's time of the last pulse
        self._lock = threading.Lock()
        self._midi = None
        self._thread: threading.Thread | None = None
        self._open = False
        self.name = None
        #: Seconds a follower sends early to land on the pulse. Through JACK a message sent is
        #: written in the next cycle, and a pulse's time is its cycle's: sent on time a note
        #: lands a period late, sent a period early a period early; half a period lands it in
        #: the pulse's own cycle (measured: docs/design.md).
        self.output_lead = 0.0

    @classmethod
    def open(cls, name: str, *, api: str = "auto") -> ClockIn:
        """Connect to the MIDI output ``name`` (or a unique part of it) sending the clock."""
        import rtmidi

        from listener.midi.sink import choose_port, midi_backend

        _, api = midi_backend(api)
        apis = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA}
        midi = rtmidi.MidiIn(apis[api], name="listener-clock", queue_size_limit=4096)
        midi.ignore_types(sysex=True, timing=False, active_sense=True)  # the clock let in
        names = midi.get_ports()
        try:
            chosen = choose_port(names, name, kind="clock source")
            midi.open_port(names.index(chosen), "clock")
        except (DeviceError, rtmidi.RtMidiError) as exc:
            midi.delete()
            raise DeviceError(f"{exc}; `listener devices` lists the MIDI ports") from None
        clock = cls()
        clock._midi, clock.name, clock._open = midi, chosen, True
        if api == "jack":
            clock.output_lead = 0.5 * jack_period()
        clock._thread = threading.Thread(target=clock._drain, name="clock-in", daemon=True)
        clock._thread.start()
        return clock

    def _drain(self) -> None:
        while self._open:
            got = self._midi.get_message()
            if got is None:
                time.sleep(0.001)
                continue
            data, delta = got
            at = self._clock + delta
            self._offsets.append(time.monotonic() - at)
            self.take(data, at)

    def take(self, data, at: float) -> None:
        """Take one message (its bytes) stamped ``at`` seconds on the source's clock."""
        self._clock = at
        status = data[0] if data else None
        with self._lock:
            if status == CLOCK:
                if self._times and at - self._times[-1][1] > PAUSE:
                    self._times.clear()  # no line through a pause in the pulses
                lost = self._lost(at)
                if lost < 0:  # the gap before was the tempo falling, not pulses lost
                    self._times.clear()
                self._last_pulse = at
                self.pulses_heard += 1 + lost
                self._times.append((self.pulses_heard, at))
                if not self._transport_seen and not self.running:
                    # a clock already running when we joined: followed from this pulse (its
                    # place in the bar unknown), not left waiting for a Start that came before
                    self.running, self.pulses = True, -1
                if self.running:
                    self.pulses += 1 + lost
            elif status == START:  # the first pulse after it is the downbeat, pulse 0
                self.running, self.pulses, self._transport_seen = True, -1, True
                self._times.clear()  # the line starts again with the music
            elif status == CONTINUE:
                self.running, self._transport_seen = True, True
                self._times.clear()
            elif status == STOP:
                self.running, self._transport_seen = False, True

    @property
    def tempo(self) -> float | None:
        """Quarter notes a minute, fitted to the last two quarter notes' pulses (or one).

        None before a quarter note's pulses have come.
        """
        with self._lock:
            pulse = self._pulse_seconds()
        return 60.0 / (pulse * PULSES_PER_QUARTER) if pulse else None

    def _pulse_seconds(self) -> float | None:
        # seconds a pulse, the slope of the line through the last pulses' times by their
        # numbers (the lock held); None before a quarter note's pulses, or if it does not rise
        if len(self._times) < PULSES_PER_QUARTER + 1:
            return None
        numbers, times = np.array(self._times, dtype=np.float64).T
        numbers -= numbers.mean()
        pulse = float(numbers @ (times - times.mean()) / (numbers @ numbers))
        return pulse if pulse > 0 else None

    def _lost(self, at: float) -> int:
        # pulses the MIDI system lost before this one (an xrun drops a cycle's messages), so
        # that the position keeps counting them (or every note after would come a pulse
        # late): a gap of two or three pulses at the tempo is one or two lost. A clock that
        # slowed as much would show the same gap again at the next pulse: then the pulses
        # counted for the gap before are taken back (a negative count), and the tempo's line
        # starts again.
        pending, self._pending_lost = self._pending_lost, 0
        pulse = self._pulse_seconds()
        if pulse is None:
            return -pending
        ratio = (at - self._times[-1][1]) / pulse
        if pending:
            return -pending if ratio >= LOST_RATIO else 0
        if LOST_RATIO <= ratio < MOST_LOST + 1.5:
            self._pending_lost = round(ratio) - 1
        return self._pending_lost

    @property
    def beat(self) -> float:
        """Quarter notes since the downbeat that followed the last Start."""
        return self.pulses / PULSES_PER_QUARTER

    def beats_now(self) -> float:
        """Quarter notes since Start now, on ``time.monotonic``'s clock, between pulses too.

        From the last pulse's position, and the time since it at the tempo of the last
        quarter note, never past the next pulse (a clock that slows or stops holds it there).
        A clock for :class:`~listener.midi.scheduler.MidiScheduler` that follows the band.
        """
        with self._lock:
            pulses, last = self.pulses, self._last_pulse
            offset = min(self._offsets) if self._offsets else 0.0
            running = self.running
        tempo = self.tempo
        if not running or tempo is None:
            return pulses / PULSES_PER_QUARTER
        pulse = 60.0 / tempo / PULSES_PER_QUARTER
        since = time.monotonic() - (last + offset)
        return (pulses + min(max(since / pulse, 0.0), 1.0)) / PULSES_PER_QUARTER

    def ahead(self) -> float:
        """:meth:`beats_now` plus the output's lead, in beats: what to send now to land now."""
        tempo = self.tempo
        return self.beats_now() + (self.output_lead * tempo / 60.0 if tempo else 0.0)

    def close(self) -> None:
        """Stop listening and close the port."""
        self._open = False
        if self._thread is not None:
            self._thread.join(1.0)
        if self._midi is not None:
            self._midi.close_port()
            self._midi.delete()
            self._midi = None


def jack_period() -> float:
    """Seconds of the running JACK server's period (0.0 when it cannot be asked)."""
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("jack")
    if path is None:
        return 0.0
    lib = ctypes.CDLL(path)
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
    for name in ("jack_get_buffer_size", "jack_get_sample_rate", "jack_client_close"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    client = lib.jack_client_open(b"listener-period", 0x01, None)  # JackNoStartServer
    if not client:
        return 0.0
    try:
        return lib.jack_get_buffer_size(client) / lib.jack_get_sample_rate(client)
    finally:
        lib.jack_client_close(client)

"""MIDI clock in: the band's tempo and transport, from 24 pulses a quarter note.

:class:`ClockIn` listens on a MIDI input (JACK or ALSA, through python-rtmidi with timing
messages let through) and keeps the tempo, the transport (Start, Stop, Continue) and the
position in pulses since Start. The tempo comes from the last quarter note's pulses, timed by
the MIDI system's own timestamps (JACK's frame time), not by when Python got to them: a
sleeping reader does not bend the tempo. Over one quarter note the timestamps' jitter
averages out, and a change of tempo is followed within a beat.

No callback into Python runs on the MIDI system's thread: a thread here drains rtmidi's queue
(as the tests' receiver does), so a busy interpreter never makes the MIDI client late.
"""

from __future__ import annotations

import collections
import threading
import time

from listener.errors import DeviceError

#: MIDI clock pulses per quarter note.
PULSES_PER_QUARTER = 24
#: Status bytes of the real-time messages this reads.
CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC


class ClockIn:
    """Follow a MIDI clock: tempo, transport and position, from a MIDI input.

    Use :meth:`open` for a real port; :meth:`take` feeds messages directly (a file, a test).

    Attributes
    ----------
    running : bool
        Between a Start (or Continue) and a Stop.
    pulses : int
        Pulses since the last Start (kept through Stop and Continue).
    pulses_heard : int
        Pulses heard since opening, running or not.
    """

    def __init__(self) -> None:
        self.running = False
        self.pulses = 0
        self.pulses_heard = 0
        self._times: collections.deque = collections.deque(maxlen=PULSES_PER_QUARTER + 1)
        self._clock = 0.0  # the MIDI system's time of the last message, seconds
        self._lock = threading.Lock()
        self._midi = None
        self._thread: threading.Thread | None = None
        self._open = False
        self.name = None

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
            self.take(data, self._clock + delta)

    def take(self, data, at: float) -> None:
        """Take one message (its bytes) stamped ``at`` seconds on the source's clock."""
        self._clock = at
        status = data[0] if data else None
        with self._lock:
            if status == CLOCK:
                self._times.append(at)
                self.pulses_heard += 1
                if self.running:
                    self.pulses += 1
            elif status == START:
                self.running, self.pulses = True, 0
            elif status == CONTINUE:
                self.running = True
            elif status == STOP:
                self.running = False

    @property
    def tempo(self) -> float | None:
        """Quarter notes a minute over the last quarter note's pulses; None before one."""
        with self._lock:
            times = list(self._times)
        if len(times) < PULSES_PER_QUARTER + 1:
            return None
        quarter = times[-1] - times[0]
        return 60.0 / quarter if quarter > 0 else None

    @property
    def beat(self) -> float:
        """Quarter notes since the last Start."""
        return self.pulses / PULSES_PER_QUARTER

    def close(self) -> None:
        """Stop listening and close the port."""
        self._open = False
        if self._thread is not None:
            self._thread.join(1.0)
        if self._midi is not None:
            self._midi.close_port()
            self._midi.delete()
            self._midi = None

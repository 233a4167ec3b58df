"""Notes in from a MIDI controller (a keyboard, a wind controller): a call played on keys.

The port's callback (python-rtmidi's thread) stamps each note-on and note-off with
:func:`time.monotonic` and keeps them; the engine takes the finished notes once per block and
puts them on its own stream clock, so that they join the phrase tracker as the notes heard in
the microphone do. Nothing here waits for the engine, and the engine never waits for it.
"""

from __future__ import annotations

import threading
import time

from listener.errors import DeviceError
from listener.midi.sink import choose_port, midi_backend, port_names


class MidiKeys:
    """Notes played on a MIDI input port, as (onset, offset, pitch) in monotonic seconds.

    Parameters
    ----------
    port : mido input port
        Opened with this object's :meth:`receive` as its callback (see :meth:`open`).
    """

    def __init__(self) -> None:
        self.port = None
        self._lock = threading.Lock()
        self._held: dict[int, float] = {}  # pitch -> when it was struck
        self._done: list[tuple[float, float, int]] = []
        self.last_activity = -1.0  # monotonic seconds of the last note-on or note-off

    @classmethod
    def open(cls, name: str, *, api: str = "auto") -> MidiKeys:
        """Listen to an existing MIDI output by name (or a unique part of it)."""
        backend, api = midi_backend(api)
        chosen = choose_port(port_names(api, inputs=True), name, kind="input")
        keys = cls()
        try:
            keys.port = backend.open_input(chosen, callback=keys.receive)
        except Exception as exc:
            raise DeviceError(f"MIDI ({api}): cannot open {chosen!r} ({exc})") from exc
        return keys

    def receive(self, message) -> None:
        """Take one message (the port's callback): note-ons and note-offs, on any channel."""
        now = time.monotonic()
        if message.type not in ("note_on", "note_off"):
            return
        with self._lock:
            self.last_activity = now
            if message.type == "note_on" and message.velocity > 0:
                if message.note in self._held:  # struck again: the first one ends here
                    self._done.append((self._held.pop(message.note), now, message.note))
                self._held[message.note] = now
            elif message.note in self._held:
                self._done.append((self._held.pop(message.note), now, message.note))

    @property
    def sounding(self) -> bool:
        """Whether a key is held now."""
        return bool(self._held)

    def take(self) -> list[tuple[float, float, int]]:
        """Return the notes finished since the last call, in the order they began."""
        with self._lock:
            done, self._done = self._done, []
        return sorted(done)

    def close(self) -> None:
        """Close the port."""
        if self.port is not None:
            self.port.close()

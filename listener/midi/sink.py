"""A MIDI output port that knows which notes sound, so that stopping never leaves one stuck.

Ports are mido ports on python-rtmidi. On Linux it speaks ALSA (needs ``/dev/snd/seq``, which
containers often lack) and JACK (needs a running JACK server). ``api="auto"`` takes ALSA when
its sequencer is there and JACK otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

from listener.errors import DeviceError

#: Seconds a JACK MIDI port is given to deliver what was sent before it closes: rtmidi queues
#: the messages for JACK's next process cycles (a period or two: 3 to 20 ms), and a port closed
#: sooner loses them, note-offs included.
DRAIN_SECONDS = 0.1
#: rtmidi API names by the short names users type.
APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK"}
#: Seconds between looks at whether a port opened by name is still there (or back).
WATCH_SECONDS = 0.5
#: What the watcher's reports are: fault events of the MIDI output.
FAULT = {"type": "fault", "part": "midi output"}
#: Semitones a full pitch bend moves a note (General MIDI's default), set on the channel (RPN
#: 0) with each bend, since a synthesiser may have been told another range.
BEND_RANGE = 2


def midi_backend(api: str):
    """Return mido's rtmidi backend for ``api`` (auto, alsa, jack) and the API chosen."""
    import mido

    if api == "auto":
        api = "alsa" if os.path.exists("/dev/snd/seq") else "jack"
    if api not in APIS:
        raise DeviceError(f"MIDI API {api!r} is not one of auto, {', '.join(APIS)}")
    return mido.Backend(f"mido.backends.rtmidi/{APIS[api]}", load=True), api


def port_names(api: str = "auto", *, inputs: bool = False) -> list[str]:
    """Names of the MIDI outputs (other programs' inputs) ``api`` offers now, or its inputs."""
    backend, _ = midi_backend(api)
    try:
        return list(backend.get_input_names() if inputs else backend.get_output_names())
    except Exception as exc:  # rtmidi raises its own classes when the API is down
        raise DeviceError(f"MIDI ({api}): cannot list ports ({exc})") from exc


def output_names(api: str = "auto") -> list[str]:
    """Names of the MIDI outputs (other programs' inputs) that ``api`` offers now."""
    return port_names(api)


def choose_port(names: list[str], name: str, *, kind: str) -> str:
    """Return the one port ``name`` names: its full name, or a part of one name only.

    ``kind`` (``output``, ``input``) goes into the error that lists the ports there are.
    """
    chosen = [n for n in names if n == name] or [n for n in names if name in n]
    if len(chosen) != 1:
        what = "matches none" if not chosen else "matches several"
        listed = ", ".join(names) or "none"
        raise DeviceError(f"MIDI {kind} {name!r} {what} of: {listed}")
    return chosen[0]


class MidiSink:
    """Send notes to one channel of a MIDI port; remember what sounds; silence it on demand.

    Parameters
    ----------
    port : mido output port
        Where the messages go (see :meth:`open`).
    channel : int
        MIDI channel, 0..15.
    program : int, optional
        General MIDI program (0..127), sent once, before the first note.

    Notes
    -----
    A pitch struck while it still sounds is struck again (note-off, note-on) and counted; it
    goes silent only when its last note ends, so overlapping notes of one pitch neither cut
    each other short nor stick. :meth:`release_all` sends a note-off for every sounding note,
    then mido's ``reset()`` (all notes off and controllers reset on every channel). A port that
    fails (the synthesiser quit) does not stop a release: its notes are written off and the
    error kept in :attr:`error`.

    A port opened by name can be watched (:meth:`watch`): when the program behind it goes away,
    its notes are written off and nothing is sent (no error: the composer goes on); when a port
    of that name is there again, it is reconnected, and all notes off goes first.
    """

    def __init__(self, port, *, channel: int = 0, program: int | None = None) -> None:
        if not 0 <= channel <= 15:
            raise DeviceError(f"MIDI channel {channel} is not in 0..15 (channel 1 is 0)")
        self.port = port
        self.channel = channel
        self.sent = 0  # note-ons and note-offs the port took
        self.queued = False  # messages wait for a process cycle (JACK) before they leave
        self.error: BaseException | None = None  # the port's first failure
        self.gone = False  # the port opened by name went away; nothing is sent until it is back
        self._reset_pending = False
        self._sounding: Counter[int] = Counter()
        self._lock = threading.RLock()  # the scheduler sends while the watcher reconnects
        self._reconnect: tuple | None = None  # (name asked for, mido backend, a port lister)
        self._watching: threading.Thread | None = None
        self._stop_watching = threading.Event()
        if program is not None and not 0 <= program <= 127:
            raise DeviceError(f"MIDI program {program} is not in 0..127")
        # sent with the first note, not now: a JACK connection made at open is not yet in
        # the graph, and what is sent before it is lost
        self._program = self._first_program = program
        self._bend_wanted = 0  # the pitch bend the notes are to sound with (tune())
        self._bend = 0  # the pitch bend the channel has (0 after a reset)

    @classmethod
    def open(
        cls,
        name: str | None = None,
        *,
        virtual: str | None = None,
        api: str = "auto",
        channel: int = 0,
        program: int | None = None,
    ) -> MidiSink:
        """Open an existing output by name (or a unique part of it), or a new virtual one.

        Parameters
        ----------
        name : str, optional
            An existing port: its full name or a part of it that names one port.
        virtual : str, optional
            Create a port of this name for other programs to connect to.
        api : str
            ``auto``, ``alsa`` or ``jack``.
        channel, program : int
            As for the constructor.
        """
        backend, api = midi_backend(api)
        try:
            if virtual is not None:
                port = backend.open_output(virtual, virtual=True)
            else:
                names = output_names(api)
                if not names:
                    raise DeviceError(
                        f"no MIDI outputs on {api}; start a synthesiser or use a virtual port"
                    )
                chosen = names[0] if name is None else choose_port(names, name, kind="output")
                port = backend.open_output(chosen)
        except DeviceError:
            raise
        except Exception as exc:
            raise DeviceError(f"MIDI ({api}): cannot open {virtual or name!r} ({exc})") from exc
        sink = cls(port, channel=channel, program=program)
        sink.queued = api == "jack"
        if virtual is None and name is not None:
            # one lister, made now, before any audio stream: opening a JACK client later
            # would stall the process (and a lister a look would be a client a look)
            import rtmidi

            lister = rtmidi.MidiOut(getattr(rtmidi, f"API_{APIS[api]}"), name="listener-watch")
            sink._reconnect = (name, backend, lister)
        return sink

    def _check_open(self) -> None:
        # mido's rtmidi output sends without looking whether it is closed, and a closed one
        # crashes the process: a port closed under us is a DeviceError instead
        if self.port.closed:
            raise DeviceError(f"MIDI output {self.port.name!r} is closed")

    def _send(self, kind: str, **fields) -> None:
        import mido

        with self._lock:
            if self.gone:  # written off until the port is back
                return
            self._check_open()
            if self._reset_pending:  # a port found again: all notes off before anything
                self._reset_pending = False
                self.port.reset()
                self._bend = 0
            self.port.send(mido.Message(kind, channel=self.channel, **fields))
            self.sent += kind in ("note_on", "note_off")

    @property
    def sounding(self) -> int:
        """Notes sounding now."""
        return sum(self._sounding.values())

    def tune(self, semitones: float) -> None:
        """Sound the notes from now on ``semitones`` (within half of one) from A440's.

        The player's tuning, for an answer in tune with them: a pitch bend of the channel,
        sent with the next note (as the program is), with its range (:data:`BEND_RANGE`).
        """
        tuning = min(max(float(semitones), -0.5), 0.5)
        self._bend_wanted = min(round(tuning / BEND_RANGE * 8192), 8191)

    def _send_bend(self) -> None:
        bend = self._bend_wanted
        if bend == self._bend:
            return
        # RPN 0 (the bend's range) selected, set, and deselected (RPN 127/127: none)
        rpn = ((101, 0), (100, 0), (6, BEND_RANGE), (38, 0), (101, 127), (100, 127))
        for control, value in rpn:
            self._send("control_change", control=control, value=value)
        self._send("pitchwheel", pitch=bend)
        self._bend = bend

    def note_on(self, pitch: int, velocity: int = 80) -> None:
        """Strike ``pitch`` (struck again if it sounds already)."""
        if self._program is not None:
            self._send("program_change", program=self._program)
            self._program = None
        self._send_bend()
        if self._sounding[pitch]:
            self._send("note_off", note=pitch, velocity=0)
        self._sounding[pitch] += 1
        self._send("note_on", note=pitch, velocity=velocity)

    def note_off(self, pitch: int) -> None:
        """End one note of ``pitch``; silent when it was the last one sounding."""
        if not self._sounding[pitch]:
            return
        self._sounding[pitch] -= 1
        if not self._sounding[pitch]:
            del self._sounding[pitch]
            self._send("note_off", note=pitch, velocity=0)

    def release_all(self) -> BaseException | None:
        """Release every sounding note (a note-off each), then reset the port (mido's reset).

        Never raises: a port that fails has its notes written off and its error returned (and
        kept in :attr:`error`), so that stopping always completes.
        """
        import mido

        with self._lock:
            pitches, self._sounding = list(self._sounding), Counter()
            if self.gone:
                return None
            messages = [mido.Message("note_off", channel=self.channel, note=p) for p in pitches]
            try:
                self._check_open()
                for message in messages:
                    self.port.send(message)
                    self.sent += 1
                self.port.reset()
                self._bend = 0  # reset all controllers: the bend too
            except Exception as exc:  # rtmidi's own errors: the port is gone
                self.error = self.error or exc
                return exc
            return None

    def panic(self) -> None:
        """Silence whatever a composer before this one left sounding.

        A note-off for every pitch on the channel, then all notes off on every channel
        (mido's reset). For a port opened again after its composer died mid-note: nothing
        here knows which notes sound, and a synthesiser that ignores all-notes-off still
        obeys a note-off.
        """
        import mido

        with self._lock:
            self._sounding = Counter()
            if self.gone:
                return
            self._check_open()
            for pitch in range(128):
                self.port.send(mido.Message("note_off", channel=self.channel, note=pitch))
            self.port.reset()
            self._bend = 0

    @property
    def watchable(self) -> bool:
        """Whether the port was opened by name, so that it can be found again."""
        return self._reconnect is not None

    def watch(self, report) -> None:
        """Look every ``WATCH_SECONDS`` whether the port is there; say when it goes or comes back.

        ``report`` is called (from the watching thread) with a fault event of the MIDI output
        (``FAULT``): with ``fault`` and ``notes_written_off`` when the port went away, with
        ``recovered`` once it is reconnected (all notes off sent first). Only for a port
        opened by name.
        """
        if self._reconnect is None or self._watching is not None:
            return
        self._stop_watching.clear()
        self._watching = threading.Thread(
            target=self._watch, args=(report,), name="midi-watch", daemon=True
        )
        self._watching.start()

    def unwatch(self) -> None:
        """Stop watching (before the port closes)."""
        if self._watching is not None:
            self._stop_watching.set()
            self._watching.join(5.0)
            self._watching = None

    def _watch(self, report) -> None:
        assert self._reconnect is not None
        wanted, backend, lister = self._reconnect
        while not self._stop_watching.wait(WATCH_SECONDS):
            try:
                names = lister.get_ports()
                there = choose_port(names, wanted, kind="output")
            except Exception:  # gone (or several alike: not the one we had)
                there = None
            if there is None and not self.gone:
                with self._lock:
                    lost = sum(self._sounding.values())
                    self._sounding = Counter()
                    self.gone = True
                gone = f"MIDI output {wanted!r} is gone"
                report({**FAULT, "fault": gone, "notes_written_off": lost})
            elif there is not None and self.gone:
                try:
                    port = backend.open_output(there)
                except Exception:  # not ready yet: look again
                    continue
                with self._lock:
                    old, self.port = self.port, port
                    self.gone = False
                    self.error = None
                    # with the first message: a JACK connection just made is not yet in the
                    # graph, and what is sent now is lost
                    self._program = self._first_program
                    self._reset_pending = True
                try:
                    old.close()
                except Exception:
                    pass
                report({**FAULT, "recovered": True, "port": there})

    def close(self) -> None:
        """Release every note and close the port; never raises for a port already gone.

        A JACK port is given ``DRAIN_SECONDS`` to deliver the note-offs before it closes.
        """
        self.unwatch()
        if self.release_all() is None and self.queued:
            time.sleep(DRAIN_SECONDS)
        try:
            self.port.close()
        except Exception as exc:  # rtmidi's own errors: the port is gone
            self.error = self.error or exc
        if self._reconnect is not None:
            self._reconnect[2].delete()
            self._reconnect = None

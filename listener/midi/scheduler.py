"""Play notes on time: a thread that sends each note-on and note-off when its moment comes.

Notes arrive in beats (from :class:`listener.tunes.interpret.TuneInterpreter`) and may keep
arriving while earlier ones play, as the composer samples. :meth:`MidiScheduler.feed` only
puts them on a heap under a lock held for microseconds, so the composer never waits on the
port. The playing thread sleeps on a condition until the next message is due on the clock,
sends it, and records how late it went out. Every way out of the thread (the end of the tune,
:meth:`MidiScheduler.stop`, an error in the port) ends with the sink releasing every note, so
no note is left sounding where the port still works.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable

import numpy as np

from listener.midi.sink import MidiSink
from listener.tunes.notes import NoteEvent

#: Default tempo in quarter notes per minute for each meter, after the dance it usually is:
#: 4/4 reels and 2/4 polkas, 6/8 jigs, 9/8 slip jigs, 12/8 slides (dotted quarter = 2/3 of
#: these), 3/4 waltzes and mazurkas, 3/2 hornpipes.
TEMPI = {
    "M:4/4": 180.0,
    "M:2/4": 140.0,
    "M:6/8": 165.0,
    "M:9/8": 170.0,
    "M:12/8": 180.0,
    "M:3/4": 135.0,
    "M:3/2": 160.0,
}


def default_tempo(meter: str) -> float:
    """Tempo (quarter notes per minute) a session would play a tune in ``meter`` at."""
    return TEMPI.get(meter if meter.startswith("M:") else f"M:{meter}", 120.0)


class MidiScheduler:
    """Send fed notes through a sink at a tempo, on a clock, from a thread of its own.

    Parameters
    ----------
    sink : MidiSink
        Where the notes go; only the scheduler's thread touches it once started.
    tempo : float
        Quarter notes per minute.
    clock : callable
        Seconds, monotonic (default :func:`time.monotonic`); sleeping assumes it runs at the
        rate of real time.
    velocity : int
        Note-on velocity.
    lead : float
        Seconds between :meth:`start` and beat 0, so that the first notes are not late.
    report : callable, optional
        Told of each message as it goes out (for the stage: OSC, the live view), from the
        playing thread: ``{"type": "play", "pitch", "velocity", "on", "beat"}`` for a note-on
        (``on`` True) or note-off, and ``{"type": "beat", "beat", "tempo"}`` on each whole
        beat from the first note's to the last note's end.
    max_wait : float, optional
        The longest the thread sleeps before it looks at the clock again, in seconds: for a
        clock that does not run at the rate of real time (a MIDI clock's beats, given with
        ``tempo`` 60 so that its "seconds" are beats). Lateness is then in its units.
    tempo_now : callable, optional
        The tempo said with each ``beat`` (the clock's); 60 / seconds per beat without it.
    """

    def __init__(
        self,
        sink: MidiSink,
        *,
        tempo: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        velocity: int = 80,
        lead: float = 0.05,
        report: Callable[[dict], None] | None = None,
        max_wait: float | None = None,
        tempo_now: Callable[[], float | None] | None = None,
    ) -> None:
        if not tempo > 0:
            raise ValueError(f"tempo must be positive, got {tempo}")
        self.sink = sink
        self.seconds_per_beat = 60.0 / tempo
        self.clock = clock
        self.velocity = velocity
        self.lead = lead
        self.report = report
        self.max_wait = max_wait
        self.tempo_now = tempo_now
        self._next_beat: int | None = None  # the next whole beat to report
        self._sounding: dict[int, int] = {}  # pitch: note-ons reported and not yet ended
        self.start_time: float | None = None
        self.error: BaseException | None = None
        self._late: list[float] = []
        self._heap: list[tuple[float, int, int, int]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = self._stopping = False
        self._thread: threading.Thread | None = None
        self._done = threading.Event()  # set when the thread has sent its last message

    def start(self, at: float | None = None) -> MidiScheduler:
        """Start the clock and the playing thread.

        Beat 0 is ``lead`` seconds from now, or at the clock's time ``at`` (to land on a beat
        the listener chose).
        """
        self.start_time = self.clock() + self.lead if at is None else at
        self._thread = threading.Thread(target=self._run, name="midi-scheduler", daemon=True)
        self._thread.start()
        return self

    def feed(self, notes: Iterable[NoteEvent]) -> None:
        """Add notes to play (any order, any time before or while playing); never waits."""
        with self._wake:
            for note in notes:
                # note-offs sort before note-ons at the same beat: a repeated pitch restrikes
                heapq.heappush(self._heap, (float(note.end), 0, next(self._order), note.pitch))
                heapq.heappush(self._heap, (float(note.onset), 1, next(self._order), note.pitch))
                if self.report is not None:
                    self._add_beats(note)
            self._wake.notify()

    def _add_beats(self, note: NoteEvent) -> None:
        # whole beats (kind 2: nothing is sent) up to this note's end, from the first note's
        if self._next_beat is None:
            self._next_beat = int(np.ceil(float(note.onset) - 1e-9))
        while self._next_beat < float(note.end) - 1e-9:
            heapq.heappush(self._heap, (float(self._next_beat), 2, next(self._order), 0))
            self._next_beat += 1

    def close(self) -> None:
        """No more notes will come: the thread ends after the last one."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (after :meth:`close`); True when it has.

        Waits in short slices, so that Ctrl-C reaches the caller at once.
        """
        if self._thread is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        # An Event, not Thread.join: a join cut short by Ctrl-C can leave the thread marked
        # as finished while it still runs (and still sends).
        while not self._done.wait(0.1):
            if deadline is not None and time.monotonic() > deadline:
                return False
        return True

    def stop(self, *, wait: bool = True) -> None:
        """Stop now: nothing more is sent but the note-offs of what sounds, and a reset.

        ``wait=False`` returns at once (the thread sends the note-offs as soon as it wakes):
        for a caller that must not wait, such as the analysis on a barge-in.
        """
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is None:
            self.sink.release_all()
        elif wait:
            self._done.wait(5.0)

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping

    def seconds_until(self, beat: float) -> float:
        """Seconds from now until ``beat`` is due (negative once it has passed)."""
        if self.start_time is None:
            raise RuntimeError("the scheduler has not started")
        return self.start_time + beat * self.seconds_per_beat - self.clock()

    def lateness_ms(self) -> dict[str, float | int]:
        """How late messages went out against the clock: ``count``, ``p50``, ``p99``, ``max``."""
        late = np.asarray(self._late) * 1e3
        if late.size == 0:
            return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
        return {
            "count": int(late.size),
            "p50": float(np.percentile(late, 50)),
            "p99": float(np.percentile(late, 99)),
            "max": float(late.max()),
        }

    def _report(self, kind: int, beat: float, pitch: int) -> None:
        if kind == 2:
            tempo = self.tempo_now() if self.tempo_now is not None else None
            tempo = round(tempo or 60.0 / self.seconds_per_beat, 2)
            self.report({"type": "beat", "beat": int(beat), "tempo": tempo})
        else:
            on = kind == 1
            self._sounding[pitch] = self._sounding.get(pitch, 0) + (1 if on else -1)
            velocity = self.velocity if on else 0
            event = {"type": "play", "pitch": pitch, "velocity": velocity, "on": on}
            self.report({**event, "beat": round(beat, 4)})

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._stopping and not self._heap and not self._closed:
                        self._wake.wait()
                    if self._stopping or not self._heap:
                        return
                    beat, kind, _, pitch = self._heap[0]
                    due = self.start_time + beat * self.seconds_per_beat
                    delay = due - self.clock()
                    if delay > 0:  # a feed or a stop may wake it earlier
                        self._wake.wait(delay if self.max_wait is None else self.max_wait)
                        continue
                    heapq.heappop(self._heap)
                if kind == 1:
                    self.sink.note_on(pitch, self.velocity)
                elif kind == 0:
                    self.sink.note_off(pitch)
                if kind < 2:
                    self._late.append(self.clock() - due)
                if self.report is not None:
                    self._report(kind, beat, pitch)
        except BaseException as exc:  # the port failed: keep the reason for the caller
            self.error = exc
        finally:
            failed = self.sink.release_all()  # never raises: a dead port's notes go
            if self.report is not None:  # what was cut short ends where it was told, too
                for pitch, count in self._sounding.items():
                    for _ in range(count):
                        self.report({"type": "play", "pitch": pitch, "velocity": 0, "on": False})
            self.error = self.error or failed
            self._done.set()

"""The listening machine: audio in, rolling genre out, composed tunes played back over MIDI.

Threads and what joins them::

    audio callback (PortAudio's thread, compiled: it never takes the interpreter's lock; or a
    file source's thread)
        copies each block into the ring and notes when it arrived; nothing else
    analysis (the thread that calls Engine.run)
        ring -> Analysis (resampling, GTZAN vectors, rolling genre) -> decision events; times
        each frame from its last sample's arrival to its decision
    composer (listener.composer: a thread of its own, at a lower priority)
        samples a tune when asked and plays it on the MIDI output as it samples

The analysis never waits for the composer (requests go through a queue that drops what it
cannot hold) and the callback never waits for anything. Stop order: the audio stream first
(PortAudio terminated), then the composer and its scheduler (every note released); the caller
opens MIDI ports before :meth:`Engine.run` and closes them after.

What it says comes out as dicts (JSON lines on the command line), each with a ``type``, the
stream time ``t`` in seconds and a sequence number ``seq`` (counting up from 0 for the engine's
life, so that a consumer sees any gap): ``decision`` (genre, confidence, posterior),
``tune`` (``event`` ``start``, ``tokens``, ``end`` with the tune's ABC, or ``error``), ``note``
(with ``notes``: a note of the melody heard, once it has ended), ``fault`` (a part that failed
or went quiet: the audio input, the MIDI output; ``recovered`` when it comes back),
``stats`` (every few seconds, and a last one for the whole run: ``frames``, ``overflows``,
``xruns``, ``latency_ms_p50``, ``latency_ms_p99``, ``latency_ms_max``, ``overruns``,
``events_lost`` where the output failed, ``bad_audio`` and ``health``: seconds since the last
frame was analysed and faults so far). A live source that goes quiet still gets its stats,
every ``stats_every`` seconds of wall time.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from listener.analysis import Analysis
from listener.audio.ring import ARRIVAL_SLOTS, RingBuffer, monotonic_ns
from listener.composer import Composer, ComposeSettings
from listener.config import FRAME, SAMPLE_RATE
from listener.errors import ConfigError, DeviceError
from listener.features.frame import FRAME_COLUMNS
from listener.features.vector import GENRE_COLUMNS
from listener.latency import LatencyHistogram

#: Sound after this many seconds of silence, while an answer plays, is the musician again.
BARGE_SILENCE = 0.1
#: Seconds without a block from a live source before a ``fault`` event says so.
NO_AUDIO_SECONDS = 2.0
#: The longest the analysis waits for a block before it looks at the source again.
WAIT_SECONDS = 0.05
#: Seconds between tries to open a lost input again (a source that can restart).
RETRY_SECONDS = 1.0
#: Samples (at 22050 Hz: 46 ms) of the latest audio in each ``meter`` reading.
METER_SAMPLES = 1024
_CENTROID, _FLUX, _RMS = (FRAME_COLUMNS.index(c) for c in ("centroid", "flux", "rms"))
_P1 = GENRE_COLUMNS.index("P1")


class Engine:
    """Listen to a source, decide its genre as it goes, and answer with tunes.

    Parameters
    ----------
    model : GenreModel
        The genre model (``GenreModel.load()`` for the shipped one).
    emit : callable
        Receives every event dict (decision, tune, fault, stats) as it happens. An emitter
        that can fail without raising (:class:`~listener.events.EventWriter`) says how many
        events it lost in ``lost``, which the stats carry.
    composer : FolkLSTM, optional
        Without it nothing is composed.
    sink : MidiSink, optional
        Where tunes are played; without it they are only reported.
    compose : ComposeSettings
        When and what to compose.
    stats_every : float
        Seconds of stream time between stats events.
    status : callable, optional
        Called with a one-line summary a few times a second (a terminal's status line).
    ring_size : int
        Samples the ring between the callback and the analysis holds (131072: 5.9 s at 22050
        Hz, 2.7 s at 48 kHz). A source that waits (a file read fast) can be ahead by that much.
    gate_db : float or None
        Windows with a frame below this level (dBFS) bring the genre decision no evidence, so
        that it holds through silence (see :class:`~listener.genres.online.OnlineGenre`).
    notes : bool
        Also hear the melody and say each note as it ends (``note`` events: ``onset``,
        ``offset`` in stream seconds, ``pitch``, ``confidence``).
    phrases : PhraseTracker, optional
        Call and response (with ``compose.when == "respond"``): the notes heard make phrases,
        each answered by the composer (``phrase`` events, then the answer's ``tune``); a note
        begun while an answer plays stops it (a ``barge_in`` event).
    keys : MidiKeys, optional
        A MIDI controller whose notes are a musician's too (with ``phrases``): they join the
        notes heard, on the stream's clock.
    wake : bool
        The analysis sleeps until a block arrives, woken by the writer (an eventfd); False
        looks at the ring every half millisecond instead (kept to measure the two).
    meters : callable, optional
        Receives ``meter`` readings ``meter_rate`` times a second of stream time, beside the
        events and not numbered with them (the stage's OSC and live view; never the JSON
        lines): ``t``, ``rms`` (linear), ``centroid`` (Hz), ``flux`` of the last frame,
        ``tempo`` (the beat histogram's strongest peak, quarter notes a minute, 0 before a
        window is full), ``vector`` (the last GTZAN vector, 30 floats, or None) and
        ``samples`` (the last ``METER_SAMPLES`` samples at 22050 Hz, for a spectrum drawn
        elsewhere). Each reading is a new dict with its own arrays.
    meter_rate : float
        Readings a second for ``meters``.
    clock_out : ClockOut, optional
        MIDI clock to send (:mod:`listener.stage.clock_out`): started with the run and
        stopped at its end, at the tempo of the tune playing, and between tunes the tempo
        heard (unless ``compose.tempo`` fixes it).
    composer_process : bool
        Compose in a process of its own (:mod:`~listener.composer_process`): ``sink`` is then
        a :class:`~listener.composer_process.SinkSpec`, the port the child opens; a child
        that dies is started again. For live runs (a phrase is never waited for).
    reconnect : bool
        A live input that fails or goes quiet is waited for (and, when its stream runs in a
        process of its own, :class:`~listener.audio.device_process.DeviceProcess`, opened
        afresh every ``RETRY_SECONDS``), with the decision, tempo and key kept. False ends
        the run at the first fault (a ``DeviceError``).
    """

    def __init__(
        self,
        model,
        emit: Callable[[dict], None],
        *,
        composer=None,
        sink=None,
        compose: ComposeSettings | None = None,
        stats_every: float = 5.0,
        status: Callable[[str], None] | None = None,
        ring_size: int = 1 << 17,
        gate_db: float | None = -60.0,
        notes: bool = False,
        phrases=None,
        keys=None,
        wake: bool = True,
        reconnect: bool = True,
        composer_process: bool = False,
        meters: Callable[[dict], None] | None = None,
        meter_rate: float = 30.0,
        clock_out=None,
    ) -> None:
        self.model = model
        self.emit = emit
        self.compose = compose or ComposeSettings()
        self.compose.check()
        self._interval = self.compose.interval()
        self.stats_every = stats_every
        self.status = status
        self.ring_size = ring_size
        self.phrases = phrases
        self.keys = keys
        self.sink = sink
        self.wake = wake
        self.reconnect = reconnect
        if meters is not None and not meter_rate > 0:
            raise ValueError(f"meter_rate must be above 0, got {meter_rate}")
        self.meters = meters
        self.meter_rate = meter_rate
        self.clock_out = clock_out
        self._clock_held = 0.0  # monotonic time until which a tune's tempo holds the clock
        self._recent = np.zeros(METER_SAMPLES, dtype=np.float32)
        self.analysis = Analysis(model, gate_db=gate_db, notes=notes or phrases is not None)
        self.composer = None
        if composer is not None and self.compose.when != "off":
            if composer_process:
                from listener.composer_process import ComposerProcess

                path = getattr(composer, "path", composer)  # a FolkLSTM, or its model's path
                self.composer = ComposerProcess(
                    path, self._say_stamped, sink=sink, settings=self.compose
                )
            else:
                self.composer = Composer(
                    composer, self._say_stamped, sink=sink, settings=self.compose
                )
            self.composer.phrases = phrases
        self._emit_lock = threading.Lock()
        self._seq = 0
        self._faults = 0
        self._audio_lost = 0.0
        self._last_frame = time.monotonic()

    @property
    def tunes(self) -> list[dict]:
        """Every tune composed in the last run: ``tokens``, ``abc``, ``tempo``, ``meter``."""
        return [] if self.composer is None else self.composer.tunes

    def _say_stamped(self, event: dict) -> None:
        # from another thread or process (the composer's, the MIDI port's watcher): stamped
        # with the stream time now when it knows none
        event.setdefault("t", round(self.analysis.seconds, 4))
        self._say(event)

    def _say(self, event: dict) -> None:
        with self._emit_lock:  # several threads speak: one line at a time, numbered
            event["seq"] = self._seq
            self._seq += 1
            if event["type"] == "fault" and "fault" in event:  # (not a recovery)
                self._faults += 1
            if self.clock_out is not None:
                self._keep_clock(event)
            self.emit(event)

    def run(self, source, *, duration: float | None = None, live: bool = True) -> dict:
        """Listen until the source ends, ``duration`` seconds of audio pass, or Ctrl-C.

        An engine can run again: each run starts from silence, with no decision.

        Parameters
        ----------
        source : BlockSource
            Where the audio comes from (see :class:`~listener.audio.sources.BlockSource`).
        duration : float, optional
            Seconds of audio to listen to.
        live : bool
            The source cannot wait (a device, a file paced in real time): overflow drops and
            counts. False for a file read as fast as possible, which waits for the analysis.

        Returns
        -------
        dict
            The last stats event (the whole run).

        Raises
        ------
        DeviceError
            The source failed (a device unplugged, its server stopped); a ``fault`` event and
            the whole run's stats come first.
        """
        ring = RingBuffer(
            self.ring_size, wake=self.wake, shared=getattr(source, "shared_ring", False)
        )
        arrivals = ring.arrivals  # per write: samples in the ring by its end, arrival in ns
        analysis = self.analysis
        analysis.reset()
        latency = LatencyHistogram()
        if self.composer is not None:
            self.composer.start()
        if getattr(self.sink, "watchable", False):  # the synthesiser may come and go
            self.sink.watch(self._say_stamped)
        buf = np.empty(4 * FRAME, dtype=np.float32)  # at most 93 ms a turn: fine-grained
        limit = None if duration is None else int(round(duration * SAMPLE_RATE))
        cursor = 0  # next arrival record to look at
        next_stats = self.stats_every
        next_tune = self._interval
        next_status = 0.0
        next_meter = 0.0
        self._recent[:] = 0.0
        decision = None
        sounding = False  # a note of the musician's sounds now
        if self.phrases is not None:
            self.phrases.reset()
            self._last_sound = -1.0
        self._live = live
        self._waited_ns = 0  # read fast: when the engine last waited on the composer
        started = last_audio = self._last_frame = time.monotonic()
        quiet_stats = started + self.stats_every  # stats by the wall clock, while no audio
        silent = False  # a live source has sent nothing for NO_AUDIO_SECONDS
        restartable = hasattr(source, "restart")  # a stream in a process of its own
        next_try = 0.0  # when to try a fresh stream again
        self._audio_lost = 0.0
        failure = None
        interrupted = broken = False
        # A source's thread in Python (a file paced as if live, a Python audio callback) and the
        # MIDI scheduler need the interpreter's lock: hand it over every millisecond (not every
        # 5, the default) so that a busy thread cannot hold them up.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, 0.001))
        try:
            source.open(ring, live=live)
            rate = int(source.rate)  # a device knows it once open
            if self.clock_out is not None:
                if self.compose.tempo:
                    self.clock_out.tempo = self.compose.tempo
                self.clock_out.start()
            analysis.rate = rate
            if source.notice:
                print(source.notice, file=sys.stderr)
            while True:
                n = ring.read_into(buf)
                if n == 0:
                    now = time.monotonic()
                    error = source.error
                    if error is not None and not (restartable and live and self.reconnect):
                        failure = error
                        if not silent:
                            self._say(self._fault(analysis.seconds, source, str(failure)))
                        break
                    if error is None and source.finished and ring.available == 0:
                        break
                    if (
                        live
                        and not silent
                        and (error is not None or now - last_audio > NO_AUDIO_SECONDS)
                    ):
                        silent = True
                        gone = str(error) if error else f"no audio for {NO_AUDIO_SECONDS:g} s"
                        self._say(self._fault(analysis.seconds, source, gone))
                        if not self.reconnect:
                            failure = DeviceError(
                                f"{gone}; the run ends at its first fault (--no-reconnect)"
                            )
                            break
                        next_try = now
                    if silent and restartable and self.reconnect and now >= next_try:
                        # a fresh stream, found afresh: the server may be back
                        source.restart()
                        next_try = time.monotonic() + RETRY_SECONDS
                    if live and time.monotonic() >= quiet_stats:
                        self._say(self._stats(analysis.seconds, ring, source, latency))
                        quiet_stats = time.monotonic() + self.stats_every
                    ring.wait(WAIT_SECONDS)  # the interpreter's lock released
                    continue
                if silent:  # the audio between the last block and this one was never heard
                    lost = max(time.monotonic() - last_audio - n / rate, 0.0)
                    self._audio_lost += lost
                    silent = False
                    back = {"recovered": True, "audio_lost_s": round(lost, 3)}
                    self._say({**self._fault(analysis.seconds, source, None), **back})
                last_audio = time.monotonic()
                quiet_stats = last_audio + self.stats_every
                block = analysis.resample(buf[:n])
                if limit is not None:
                    block = block[: max(limit - analysis.samples, 0)]
                heard = analysis.process(block, resampled=True)
                done = monotonic_ns()
                if heard.frames_done > heard.frames_before:
                    self._last_frame = time.monotonic()
                # each frame completed: from its last sample's arrival to now
                blocks = ring.blocks
                for frame in range(heard.frames_before, heard.frames_done):
                    needed = math.ceil((frame + 1) * FRAME * rate / SAMPLE_RATE)
                    while cursor < blocks and arrivals[cursor % ARRIVAL_SLOTS, 0] < needed:
                        cursor += 1
                    if cursor < blocks:  # (not the time a file read fast waited on readings)
                        arrived = max(arrivals[cursor % ARRIVAL_SLOTS, 1], self._waited_ns)
                        latency.add((done - arrived) * 1e-6)
                t = analysis.seconds
                for note in heard.notes:
                    self._say(_note_event(t, note))
                if self.phrases is not None:
                    sounding = self._listen_for_phrases(t, heard.notes, sounding)
                for event in heard.events:
                    self._say({"type": "decision", **event})
                    if event["genre"] != decision and self.compose.when == "on-change":
                        self._ask(event["t"], f"decision {event['genre']}")
                    decision = event["genre"]
                if next_tune is not None and t >= next_tune:
                    self._ask(round(t, 4), f"every {self._interval:g} s")
                    next_tune += self._interval
                if self.meters is not None:
                    self._keep_recent(block)
                    if t >= next_meter:
                        self.meters(self._meter(t))
                        # on average meter_rate a second, whatever the blocks' size
                        next_meter = max(next_meter + 1.0 / self.meter_rate, t)
                if t >= next_stats:
                    self._say(self._stats(t, ring, source, latency, recent=True))
                    latency.restart_recent()
                    next_stats += self.stats_every
                if self.status is not None and time.monotonic() >= next_status:
                    self.status(self._status_line(t, latency, source))
                    next_status = time.monotonic() + 0.25
                if limit is not None and analysis.samples >= limit:
                    break
        except BaseException as exc:  # Ctrl-C (or SIGTERM, from the command line), or an error
            interrupted = isinstance(exc, KeyboardInterrupt)
            broken = True
            raise
        finally:
            source.stop()  # the audio first; PortAudio is terminated by a live source
            if self.clock_out is not None:
                self.clock_out.stop()
            ring.close()  # no writer is left to wake the analysis
            if getattr(self.sink, "watchable", False):
                self.sink.unwatch()
            sys.setswitchinterval(switch)
            if self.composer is not None:
                # at the end of the audio, the tune being composed (and any asked for) is
                # finished; its playback is cut short with every note released. On a stop or
                # an error everything stops now.
                if broken:
                    self.composer.stop()
                else:
                    self.composer.finish()
            if interrupted:  # the whole run's figures are said even when it is stopped
                self._say({**self._final(started, ring, source, latency), "stopped": True})
        if analysis.melody is not None:  # the note still sounding at the end
            for note in analysis.melody[1].flush():
                self._say(_note_event(analysis.seconds, note))
        final = self._final(started, ring, source, latency)
        if failure is not None:
            final["error"] = str(failure)
        self._say(final)
        if failure is not None:
            raise DeviceError(str(failure)) from failure
        return final

    def _listen_for_phrases(self, t: float, notes: list, was_sounding: bool) -> bool:
        # call and response: a new note while an answer plays stops it; a phrase that is
        # over goes to the composer with the clock that maps stream time to monotonic time
        tracker = self.analysis.melody[1]
        sounding = tracker.sounding
        last_sound = tracker.last_sound
        if self.keys is not None:  # a controller's notes, moved onto the stream's clock
            from listener.transcribe.notes import Note

            offset = time.monotonic() - t
            played = [Note(a - offset, b - offset, p, 1.0) for a, b, p in self.keys.take()]
            notes = sorted([*notes, *played])
            sounding = sounding or self.keys.sounding
            last_sound = max(last_sound, self.keys.last_activity - offset)
        composer = self.composer
        # the musician plays again: a note begins, or sound comes after a silence (heard a
        # frame or two before the pitch is sure)
        again = (sounding and not was_sounding) or last_sound - self._last_sound > BARGE_SILENCE
        self._last_sound = last_sound
        if again and composer is not None and composer.answering:
            composer.barge_in()
            self._say({"type": "barge_in", "t": round(t, 4)})
        self.phrases.add(notes)
        call = self.phrases.check(
            t, sounding=sounding, last_sound=last_sound, current=tracker.current()
        )
        if composer is None:
            return sounding
        if call is not None:
            composer.answer(call, time.monotonic() - t, wait=not self._live)
        else:  # read while the rest goes on, or the phrase is played
            early = self.phrases.ahead(t, sounding=sounding, last_sound=last_sound)
            if early is None:
                return sounding
            # (a file read fast waits for it, to end phrases as live)
            composer.read_ahead(early, time.monotonic() - t, wait=not self._live)
        if not self._live:
            self._waited_ns = monotonic_ns()  # what came meanwhile waited on the composer
        return sounding

    def control(self, name: str, value=None) -> None:
        """Act on a control from the stage (:mod:`listener.stage.control`), from any thread.

        ``compose`` (a tune now), ``stop`` (the tune or answer playing), or a setting of the
        next tunes: ``temperature`` (0.1 to 5), ``meter`` and ``mode`` (or ``follow``),
        ``tempo`` (0 follows). Each is said as a ``control`` event.

        Raises
        ------
        ConfigError
            No composer, or a value the settings refuse.
        """
        if self.composer is None:
            raise ConfigError("nothing is composed in this run (--compose off)")
        if name == "compose":
            self._ask(round(self.analysis.seconds, 4), "control")
        elif name == "stop":
            self.composer.hush()
        elif name == "temperature":
            if not 0.1 <= value <= 5.0:
                raise ConfigError(f"temperature {value:g}: from 0.1 to 5")
            self.composer.configure(temperature=value)
        elif name in ("meter", "mode"):
            self.composer.configure(**{name: value})
        elif name == "tempo":
            self.composer.configure(tempo=value if value > 0 else None)
        else:
            raise ConfigError(f"no control {name!r}")
        self._say_stamped({"type": "control", "control": name, "value": value})

    def _ask(self, t: float, reason: str) -> None:
        if self.composer is not None:
            self.composer.request(t, reason, self.analysis.last_vector)

    def _keep_clock(self, event: dict) -> None:
        # the clock sent goes at the tempo of the tune playing; between tunes, what is heard
        kind, clock = event["type"], self.clock_out
        if kind == "tune" and event.get("event") == "start" and event.get("tempo"):
            clock.tempo = event["tempo"]
            self._clock_held = math.inf
        elif kind == "tune" and event.get("event") == "end":
            beats = event.get("beats") or 0.0
            self._clock_held = time.monotonic() + beats * 60.0 / clock.tempo
        elif kind == "decision" and self.compose.tempo is None:
            vector = self.analysis.last_vector
            if vector is not None and time.monotonic() > self._clock_held:
                clock.tempo = float(np.clip(vector[_P1], 40.0, 240.0))

    def _keep_recent(self, block: np.ndarray) -> None:
        recent, n = self._recent, block.shape[0]
        if n >= recent.shape[0]:
            recent[:] = block[-recent.shape[0] :]
        elif n:
            recent[:-n] = recent[n:]
            recent[-n:] = block

    def _meter(self, t: float) -> dict:
        frame = self.analysis.features.last_frame
        vector = self.analysis.last_vector
        reading = {"type": "meter", "t": round(t, 4), "rms": 0.0, "centroid": 0.0, "flux": 0.0}
        if frame is not None:
            reading["rms"] = float(frame[_RMS])
            reading["centroid"] = float(frame[_CENTROID])
            reading["flux"] = float(frame[_FLUX])
        reading["tempo"] = 0.0 if vector is None else float(vector[_P1])
        reading["vector"] = None if vector is None else vector.copy()
        reading["samples"] = self._recent.copy()
        return reading

    def _fault(self, t: float, source, what: str | None) -> dict:
        event = {"type": "fault", "t": round(t, 4), "part": "audio input", "source": source.name}
        return event if what is None else {**event, "fault": what}

    def _final(self, started, ring, source, latency: LatencyHistogram) -> dict:
        seconds = self.analysis.seconds
        final = self._stats(seconds, ring, source, latency)
        final["whole_run"] = True
        final["realtime_factor"] = round(seconds / max(time.monotonic() - started, 1e-9), 3)
        return final

    def _stats(self, t, ring, source, latency: LatencyHistogram, recent: bool = False) -> dict:
        return {
            "type": "stats",
            "t": round(t, 4),
            "frames": self.analysis.frames_done,
            "overflows": ring.overflows,
            "dropped": ring.dropped,
            "xruns": int(source.xruns),
            **latency.figures(recent),
            "overruns": latency.overruns,
            "events_lost": getattr(self.emit, "lost", 0),
            "rejected_input": getattr(self.emit, "rejected", 0),
            "audio_lost_s": round(self._audio_lost, 3),
            "bad_audio": self.analysis.guard.figures(),
            "health": {
                "since_frame_s": round(time.monotonic() - self._last_frame, 3),
                "faults": self._faults,
            },
        }

    def _status_line(self, t: float, latency: LatencyHistogram, source) -> str:
        online = self.analysis.online
        top = sorted(online.posterior.items(), key=lambda kv: -kv[1])[:3]
        bars = "  ".join(f"{g} {'#' * round(p * 10):<10} {p:4.2f}" for g, p in top)
        if online.quiet:
            bars += "  (quiet: held)"
        recent = latency.figures(recent=True)
        return (
            f"{t:7.1f} s  {bars}  latency p99 {recent['latency_ms_p99']:.2f} ms  "
            f"xruns {int(source.xruns)}"
        )


def _note_event(t: float, note) -> dict:
    return {
        "type": "note",
        "t": round(t, 4),
        "onset": round(note.onset, 4),
        "offset": round(note.offset, 4),
        "pitch": note.pitch,
        "confidence": round(note.confidence, 3),
    }

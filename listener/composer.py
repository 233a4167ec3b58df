"""The composer beside the engine: asked for a tune, it samples one and plays it as it samples.

A request (a new genre decision, or a clock) carries the last GTZAN vector heard; the tune's
meter, mode and tempo follow it (:func:`follow`) unless the settings fix them. Tokens stream
from :class:`~listener.tunes.lstm.FolkLSTM` through the interpreter into a
:class:`~listener.midi.scheduler.MidiScheduler`, a bar or so ahead of the playing
(``COMPOSE_AHEAD``), in a trickle: a tune sampled all at once is a burst of CPU that the
analysis would feel (see docs/design.md). The composer runs on a thread of its own at a lower
priority; the analysis hands it requests through a queue that never waits.

Following the music, from a GTZAN vector: the meter is 6/8 when the two strongest beat-histogram
peaks are 3:2 or 3:1 apart (a compound pulse) and 4/4 otherwise; the mode is minor when the two
strongest pitch classes are a minor third apart (IPO1 of 3 or 9 fifths), dorian for a whole
tone (2 or 10), major otherwise; the tempo is the strongest beat (P1), held to 80-200 a minute.
"""

from __future__ import annotations

import dataclasses
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from listener.conversation import Conversation
from listener.errors import ConfigError
from listener.features.vector import GENRE_COLUMNS
from listener.tunes.vocab import END

#: Seconds of music the composer keeps sampled ahead of what the MIDI output plays.
COMPOSE_AHEAD = 1.0
#: Seconds from a tune's request to the first beat of the band's clock it may start on.
CLOCK_LEAD = 0.15
#: The longest the scheduler sleeps between looks at the band's clock, in seconds.
CLOCK_POLL = 0.001
#: Seconds the composer rests after each token it samples for a MIDI output (a step takes
#: about 0.2 ms, a bar 10 to 20 tokens, and lasts a second or more: time enough).
TOKEN_PAUSE = 0.001
_COLUMN = {name: i for i, name in enumerate(GENRE_COLUMNS)}


@dataclass
class ComposeSettings:
    """When and what the composer plays.

    Attributes
    ----------
    when : str
        ``off``, ``on-change`` (a tune for each new genre decision), ``every:SECONDS``, or
        ``respond`` (an answer to each phrase a musician plays, and nothing else).
    prime : str
        Tokens every tune starts from.
    meter, mode : str
        ``follow`` (from what is heard), a meter such as ``6/8`` or a mode such as ``dor``.
    temperature : float
        Of the sampling.
    seed : int, optional
        First seed (then one more per tune); random without it.
    tempo : float, optional
        Quarter notes per minute; follows the music (or the meter) without it.
    max_tokens : int
        Cap per tune.
    constrained : bool
        Sample only well-formed tunes (:class:`~listener.tunes.grammar.TuneGrammar`).
    key : str, optional
        The key a musician's phrases are in (``Dmix``), when known; with ``meter`` (not
        ``follow``) it fixes how phrases are read.
    answer_bars : int, optional
        Bars an answer lasts; as many as the phrase without it.
    clock_in : str, optional
        A MIDI output sending clock (its name or a unique part; ``clock_api`` JACK or ALSA):
        tunes start on its beats, at its tempo, follow its tempo as it changes, wait for its
        Start (or Continue) and stop at its Stop. Answers keep the player's tempo.
    play_events : bool
        Say each note played (``play``) and each beat (``beat``) as it goes out, for the stage
        (OSC, the live view); off by default, to keep JSON lines short on long runs.
    """

    when: str = "on-change"
    prime: str = ""
    meter: str = "follow"
    mode: str = "follow"
    temperature: float = 1.0
    seed: int | None = None
    tempo: float | None = None
    max_tokens: int = 600
    constrained: bool = True
    key: str | None = None
    answer_bars: int | None = None
    clock_in: str | None = None
    clock_api: str = "auto"
    play_events: bool = False

    def interval(self) -> float | None:
        """Seconds between tunes for ``every:SECONDS``, else None; ConfigError when malformed."""
        if self.when in ("off", "on-change", "respond"):
            return None
        if self.when.startswith("every:"):
            try:
                seconds = float(self.when[6:])
            except ValueError:
                seconds = -1.0
            if seconds > 0:
                return seconds
        raise ConfigError(f"--compose {self.when!r}: use off, on-change, every:SECONDS or respond")

    def check(self) -> None:
        """Check every setting now, before anything opens; ConfigError naming the bad one."""
        from listener.tunes.lstm import start_tokens

        self.interval()
        start_tokens(
            self.prime,
            meter=None if self.meter == "follow" else self.meter,
            mode=None if self.mode == "follow" else self.mode,
            temperature=self.temperature,
        )
        if self.tempo is not None and not self.tempo > 0:
            raise ConfigError(f"--tempo {self.tempo:g}: quarter notes per minute, above 0")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens {self.max_tokens}: at least 1")


def follow(vector: np.ndarray) -> tuple[str, str, float]:
    """Meter token, mode and tempo that follow a GTZAN vector (the rule in the module doc)."""
    p1, p2 = float(vector[_COLUMN["P1"]]), float(vector[_COLUMN["P2"]])
    ratio = max(p1, p2) / max(min(p1, p2), 1e-9)
    meter = "M:6/8" if abs(ratio - 1.5) < 0.1 or abs(ratio - 3.0) < 0.15 else "M:4/4"
    interval = int(round(float(vector[_COLUMN["IPO1"]]))) % 12
    mode = {3: "min", 9: "min", 2: "dor", 10: "dor"}.get(interval, "maj")
    tempo = float(np.clip(p1 if p1 > 0 else 120.0, 80.0, 200.0))
    return meter, mode, tempo


class Composer:
    """Compose on request, on a thread of its own; play on a MIDI sink when there is one.

    Parameters
    ----------
    model : FolkLSTM
        The folk-rnn model.
    say : callable
        Receives the ``tune`` events: ``start``, ``tokens`` (a bar at a time), ``end``, and
        ``error`` when a tune fails (the sampling, or the MIDI port).
    sink : MidiSink, optional
        Where tunes are played; without it they are only reported.
    settings : ComposeSettings
        What to compose.
    """

    def __init__(
        self,
        model,
        say: Callable[[dict], None],
        *,
        sink=None,
        settings: ComposeSettings | None = None,
    ) -> None:
        self.model = model
        self.say = say
        self.sink = sink
        self.settings = settings or ComposeSettings()
        self.tunes: list[dict] = []  # every tune composed: tokens, abc, tempo, meter
        self.conversation = Conversation(model.likelihood)  # the phrases heard, as read
        self._answer = None  # the scheduler of the answer playing
        self._playing = None  # the scheduler of the tune or answer playing
        self.clock = None  # a ClockIn followed (settings.clock_in), open while started
        self._requests: queue.Queue = queue.Queue(maxsize=1)
        self._stopping = threading.Event()  # stop at once
        self._finishing = threading.Event()  # finish what is asked, then stop
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread, with no request pending and no tune composed yet.

        Raises
        ------
        DeviceError
            The MIDI clock to follow (``settings.clock_in``) cannot be opened.
        """
        if self.settings.clock_in and self.clock is None:
            from listener.stage.clock import ClockIn

            self.clock = ClockIn.open(self.settings.clock_in, api=self.settings.clock_api)
        if self.settings.when == "respond":
            # here, before the engine's audio starts: compiling the reader (the first time on
            # a machine) holds the interpreter's lock for long stretches, which the analysis
            # would wait on
            self.conversation.load()
        self._stopping.clear()
        self._finishing.clear()
        self.tunes = []
        while not self._requests.empty():
            self._requests.get_nowait()
        self._thread = threading.Thread(target=self._loop, name="composer", daemon=True)
        self._thread.start()

    @property
    def phrases(self):
        """The phrase tracker told where beats and bar lines fall (answers), or None."""
        return self.conversation.phrases

    @phrases.setter
    def phrases(self, tracker) -> None:
        self.conversation.phrases = tracker

    @property
    def readings(self) -> list:
        """Every phrase answered, as read."""
        return self.conversation.readings

    def request(self, t: float, reason: str, vector: np.ndarray | None) -> None:
        """Ask for a tune; never waits (one asked for while another is pending is dropped)."""
        try:
            self._requests.put_nowait((t, reason, None if vector is None else vector.copy()))
        except queue.Full:
            pass

    def answer(self, call, clock_offset: float, *, wait: bool = False) -> None:
        """Answer a phrase (:class:`~listener.transcribe.phrases.Call`).

        ``clock_offset``: monotonic seconds less stream seconds, now. Live, it never waits: a
        request still pending is replaced, the phrase being newer. With ``wait`` (a file read
        as fast as it goes, where nothing is live) it waits for the one pending to be taken,
        so that every phrase is answered.
        """
        request = (call.ended, "phrase", (call, clock_offset))
        if wait:
            self._put_when_taken(request)
            return
        try:
            self._requests.get_nowait()
        except queue.Empty:
            pass
        try:
            self._requests.put_nowait(request)
        except queue.Full:
            pass

    def read_ahead(self, call, clock_offset: float, *, wait: bool = False) -> None:
        """Read a phrase that may be over before it is.

        ``call``: the phrase so far (:meth:`PhraseTracker.ahead
        <listener.transcribe.phrases.PhraseTracker.ahead>`). It never takes a request's place;
        the answer to the phrase, when it ends with these notes, starts from this reading.
        Live, it never waits (a reading the queue has no room for is not made). With ``wait``
        (a file read as fast as it goes) it returns once the reading is done and the phrase
        tracker told what it says, so that the file's phrases end as they would live.
        """
        done = threading.Event() if wait else None
        request = (call.ended, "ahead", (call, clock_offset, done))
        if done is None:
            try:
                self._requests.put_nowait(request)
            except queue.Full:
                pass
            return
        self._put_when_taken(request)
        while not done.wait(0.1):
            if self._stopping.is_set() or self._thread is None or not self._thread.is_alive():
                return

    def _put_when_taken(self, request) -> None:
        # queue a request once the one pending is taken (nothing live waits on this)
        while not self._stopping.is_set():
            try:
                self._requests.put(request, timeout=0.1)
                return
            except queue.Full:
                continue

    @property
    def answering(self) -> bool:
        """Whether an answer is being played."""
        return self._answer is not None

    def barge_in(self) -> None:
        """Stop the answer now (the musician plays again), every note released; never waits."""
        scheduler = self._answer
        if scheduler is not None:
            scheduler.stop(wait=False)

    def hush(self) -> None:
        """Stop the tune or answer playing now, every note released; never waits."""
        scheduler = self._playing
        if scheduler is not None:
            scheduler.stop(wait=False)

    def configure(self, **changes) -> None:
        """Change settings for the next tunes (``temperature``, ``meter``, ``mode``, ``tempo``).

        Raises
        ------
        ConfigError
            A value the settings refuse (the settings are left as they were).
        """
        settings = dataclasses.replace(self.settings, **changes)
        settings.check()
        self.settings = settings

    def finish(self, timeout: float = 30.0) -> None:
        """Finish the tune being composed (and one asked for) at once, then end the thread."""
        self._finishing.set()
        self._join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop now: the tune being played is cut short, every note released."""
        self._stopping.set()
        self._join(timeout)

    def _join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        if self.clock is not None:
            self.clock.close()
            self.clock = None

    def _loop(self) -> None:
        # Composing can wait, the analysis cannot: this thread yields the CPU to it (Linux sets
        # a nice value per thread). Its tokens are still far ahead of the notes they become.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        seed = self.settings.seed
        while not self._stopping.is_set():
            try:
                t, reason, vector = self._requests.get(timeout=0.05)
            except queue.Empty:
                if self._finishing.is_set():
                    return
                continue
            try:
                if reason == "ahead":
                    self._read_ahead(*vector)
                    continue
                if reason == "phrase":
                    self._answer_one(t, *vector, seed)
                else:
                    self._compose_one(t, reason, vector, seed)
            except Exception as exc:  # a failed tune is reported; listening goes on
                self.say({"type": "tune", "t": t, "event": "error", "error": str(exc)})
            if seed is not None:
                seed += 1

    def _keep_just_ahead(self, scheduler, beats: float) -> None:
        # Wait while what is composed reaches more than COMPOSE_AHEAD seconds past now; not
        # once the audio has ended (the tune is then finished at once) or on a stop.
        while (
            scheduler.seconds_until(beats) > COMPOSE_AHEAD
            and not self._finishing.is_set()
            and not self._stopping.wait(0.05)
        ):
            pass

    def _plan(self, vector) -> tuple[str, str, float]:
        # meter, mode and tempo of the next tune: from the settings, the prime, what was heard
        from listener.midi.scheduler import default_tempo

        settings = self.settings
        heard = follow(vector) if vector is not None else ("M:4/4", "maj", 120.0)
        meter = heard[0] if settings.meter == "follow" else settings.meter
        mode = heard[1] if settings.mode == "follow" else settings.mode
        if not meter.startswith("M:"):  # a meter the settings give as 6/8: as follow() says it
            meter = f"M:{meter}"
        prime_words = settings.prime.split()
        if prime_words and prime_words[0].startswith("M:"):
            meter = prime_words[0]
        tempo = settings.tempo or (
            heard[2] if settings.meter == "follow" and vector is not None else default_tempo(meter)
        )
        return meter, mode, tempo

    def _compose_one(self, t: float, reason: str, vector, seed: int | None) -> None:
        from listener.midi.player import play_tokens
        from listener.midi.scheduler import MidiScheduler
        from listener.tunes.interpret import TuneInterpreter
        from listener.tunes.notation import BARS
        from listener.tunes.tune import Tune

        settings = self.settings
        meter, mode, tempo = self._plan(vector)
        start = {"type": "tune", "t": t, "event": "start", "reason": reason, "meter": meter}
        clock = self.clock
        if clock is not None:  # the band's clock: its tempo, from its next beat
            if not self._wait_for_clock():
                return
            tempo = clock.tempo or tempo
            beat = math.ceil(clock.beats_now() + CLOCK_LEAD * tempo / 60.0)
            start = {**start, "clock_beat": beat}
        self.say({**start, "mode": mode, "tempo": round(tempo, 1), "seed": seed})
        tokens: list[str] = []
        interpreter = TuneInterpreter()
        scheduler = None
        if self.sink is not None and clock is not None:
            # "seconds" are the clock's quarter notes: notes go out as its pulses come
            scheduler = MidiScheduler(
                self.sink,
                tempo=60.0,
                clock=clock.ahead,  # sent early by the output's own delay
                report=self._reporter(),
                max_wait=CLOCK_POLL,
                tempo_now=lambda: clock.tempo,
            ).start(at=beat)
        elif self.sink is not None:
            scheduler = MidiScheduler(
                self.sink, tempo=tempo, lead=0.1, report=self._reporter()
            ).start()
        self._playing = scheduler
        source = self.model.generate(
            settings.prime,
            meter=meter,
            mode=mode,
            temperature=settings.temperature,
            seed=seed,
            max_tokens=settings.max_tokens,
            constrained=settings.constrained,
        )

        def tokens_until_stopped():
            bar_start = 0
            for token in source:
                if clock is not None and not clock.running and scheduler is not None:
                    scheduler.stop(wait=False)  # the band's Stop
                if self._stopping.is_set() or (scheduler is not None and scheduler.stopped):
                    return
                if scheduler is not None and scheduler.error is not None:
                    raise scheduler.error  # the MIDI port failed: this tune cannot be heard
                tokens.append(token)
                yield token
                if scheduler is not None and not self._finishing.is_set():
                    time.sleep(TOKEN_PAUSE)  # a trickle, not a burst: see COMPOSE_AHEAD
                if token in BARS or token == END:  # a bar at a time
                    bar = tokens[bar_start:]
                    self.say({"type": "tune", "t": t, "event": "tokens", "tokens": bar})
                    bar_start = len(tokens)
                    if scheduler is not None:
                        self._keep_just_ahead(scheduler, float(interpreter.beats))

        if scheduler is not None:
            play_tokens(tokens_until_stopped(), scheduler, interpreter)
        else:
            for token in tokens_until_stopped():
                interpreter.process(token)
            interpreter.flush()
        tune, ended = Tune.from_sampled(tokens)
        abc = tune.cleaned()[0].abc(len(self.tunes) + 1, f"listener, {reason}")
        self.tunes.append({"tokens": tokens, "abc": abc, "tempo": tempo, "meter": tune.meter})
        end = {"type": "tune", "t": t, "event": "end", "tokens": len(tokens), "ended": ended}
        self.say({**end, "beats": float(interpreter.beats), "abc": abc})
        if scheduler is not None:
            while not scheduler.wait(0.01 if clock is not None else 0.1):
                if self._stopping.is_set() or self._finishing.is_set():
                    scheduler.stop()
                    break
                if clock is not None and not clock.running:  # the band's Stop
                    scheduler.stop()
                    break
            self._playing = None
            if scheduler.error is not None:
                raise scheduler.error

    def _wait_for_clock(self) -> bool:
        # a tune asked for while the band's clock is stopped starts at its Start (or
        # Continue); False when the composer is told to stop or finish first
        while not self.clock.running or self.clock.tempo is None:
            if self._finishing.is_set() or self._stopping.wait(0.01):
                return False
        return True

    def _reporter(self):
        # what the scheduler tells of each note and beat it plays, when the stage wants it
        if not self.settings.play_events:
            return None
        return self.say  # (the engine stamps them with the stream time)

    def _fixed(self) -> dict:
        # the meter and key the settings fix for a reading (none where they follow)
        meter = None if self.settings.meter == "follow" else self.settings.meter
        return {"meter": meter, "key": self.settings.key}

    def _read_ahead(self, call, clock_offset: float, done: threading.Event | None) -> None:
        try:
            self.conversation.read_ahead(call, clock=_stream_clock(clock_offset), **self._fixed())
        finally:
            if done is not None:
                done.set()

    def _answer_one(self, t: float, call, clock_offset: float, seed: int | None) -> None:
        from listener.answer import plan_answer
        from listener.midi.scheduler import MidiScheduler
        from listener.tunes.interpret import TuneInterpreter
        from listener.tunes.notation import BARS
        from listener.tunes.notes import NoteEvent
        from listener.tunes.tune import Tune

        settings = self.settings
        reading, read_at, read_ahead = self.conversation.hear(
            call, clock=_stream_clock(clock_offset), **self._fixed()
        )
        t = round(t, 4)
        self.say(phrase_event(t, call, reading))
        last_off = call.notes[-1].offset
        plan = plan_answer(
            reading,
            now=call.ended,
            read_at=read_at,
            answer_bars=settings.answer_bars,
            downbeat=call.downbeat,
            last_off=last_off,
        )
        work = time.monotonic() - (clock_offset + t)  # from the phrase's end to a plan
        tuning = call.notes[-1].tuning  # the player's, as the last note was named
        self.say(
            {
                "type": "tune",
                "t": t,
                "event": "start",
                "reason": "phrase",
                "meter": reading.meter,
                "mode": reading.mode,
                "key": reading.key,
                "tempo": round(reading.tempo, 1),
                "seed": seed,
                "bars": plan.bars,
                "shift": plan.shift,
                "tuning_cents": round(100 * tuning, 1),
                "at": round(plan.start, 4),
                "after_last_note": round(plan.start - last_off, 4),
                "work_ms": round(1e3 * work, 2),
                "read_ahead": read_ahead,
            }
        )
        scheduler = None
        if self.sink is not None:
            self.sink.tune(tuning)  # the answer in tune with the player
            beat0 = plan.start + clock_offset - plan.call_beats * plan.seconds_per_beat
            scheduler = MidiScheduler(
                self.sink, tempo=reading.tempo, report=self._reporter()
            ).start(at=beat0)
            self._answer = self._playing = scheduler
        interpreter = TuneInterpreter()
        tokens: list[str] = []
        bars_left = plan.bars + plan.finish_bar
        primed = len(plan.prime)

        def play(notes) -> None:
            answer = [
                NoteEvent(n.pitch + plan.shift, n.onset, n.duration)
                for n in notes
                if n.onset >= plan.call_beats - 1e-9
            ]
            if scheduler is not None and answer:
                scheduler.feed(answer)

        source = self.model.generate(
            plan.prime,
            temperature=settings.temperature,
            seed=seed,
            max_tokens=primed + settings.max_tokens,
            constrained=settings.constrained,
        )
        bar_start = primed
        for token in source:
            if self._stopping.is_set() or (scheduler is not None and scheduler.stopped):
                break
            tokens.append(token)
            play(interpreter.process(token))
            if len(tokens) <= primed:
                continue
            if token in BARS or token == END:
                self.say({"type": "tune", "t": t, "event": "tokens", "tokens": tokens[bar_start:]})
                bar_start = len(tokens)
                bars_left -= token in BARS
                if bars_left <= 0 or token == END:
                    break
                if scheduler is not None:
                    self._keep_just_ahead(scheduler, float(interpreter.beats))
            if scheduler is not None:
                time.sleep(TOKEN_PAUSE)
        play(interpreter.flush())
        tune, _ = Tune.from_sampled(tokens)
        abc = tune.cleaned()[0].abc(len(self.tunes) + 1, "listener, answer")
        self.tunes.append(
            {"tokens": tokens, "abc": abc, "tempo": reading.tempo, "meter": reading.meter}
        )
        answered = len(tokens) - primed
        self.say({"type": "tune", "t": t, "event": "end", "tokens": answered, "abc": abc})
        if scheduler is not None:
            scheduler.close()
            while not scheduler.wait(0.05):
                if self._stopping.is_set() or self._finishing.is_set():
                    scheduler.stop()
                    break
            self._answer = self._playing = None
            if scheduler.error is not None:
                raise scheduler.error


def _stream_clock(clock_offset: float) -> Callable[[], float]:
    # the stream time now, from monotonic time less `clock_offset`
    return lambda: time.monotonic() - clock_offset


def phrase_event(t: float, call, reading) -> dict:
    """Build the ``phrase`` event: the notes heard and how they read."""
    from listener.transcribe.notes import as_json

    return {
        "type": "phrase",
        "t": round(t, 4),
        "notes": as_json(call.notes),
        "tempo": round(reading.tempo, 2),
        "meter": reading.meter[2:],
        "key": {"tonic": reading.tonic, "mode": reading.mode},
        "swung": reading.swung,
        "tuning_cents": round(100 * call.notes[-1].tuning, 1),
        "downbeat": round(reading.downbeat, 4),
        "bar_seconds": round(reading.bar_seconds, 4),
        "tokens": " ".join(reading.tokens),
        "confidence": reading.confidence,
        "ambiguity": reading.ambiguity,
    }

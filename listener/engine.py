"""The listening machine: audio in, rolling genre out, composed tunes played back over MIDI.

Threads and what joins them::

    audio callback (PortAudio's thread, compiled: it never takes the interpreter's lock; or a
    file source's thread)
        copies each block into the ring and notes when it arrived; nothing else
    analysis (the thread that calls Engine.run)
        ring -> resampler (a device not at 22050 Hz) -> GTZAN vectors -> rolling genre
        -> decision events; times each frame from its last sample's arrival to its decision
    composer (a thread of its own, at a lower priority)
        waits for a request (a new decision, or a clock), samples a tune with FolkLSTM and
        streams its tokens through the interpreter into a MIDI scheduler, which plays them
        from its own thread. For a MIDI output it samples in a trickle, resting TOKEN_PAUSE
        after each token and keeping about COMPOSE_AHEAD seconds ahead of the playing: the
        whole tune sampled at once is a burst of CPU and of the interpreter's lock that, on a
        2-core machine, delayed the audio callback (in Python then) into xruns: 5-minute JACK
        runs with a tune every 10 s gave 4 xruns at once, 2 bar by bar, none in a trickle. The
        callback is compiled now and never waits for the lock; the trickle still keeps the
        analysis thread's waits for it short

The analysis never waits for the composer (requests go through a queue that drops what it
cannot hold) and the callback never waits for anything. Stop order: the audio stream first
(PortAudio terminated), then the composer and its scheduler (every note released, all notes
off); the caller opens MIDI ports before :meth:`Engine.run` and closes them after.

What it says comes out as dicts (JSON lines on the command line), each with a ``type`` and the
stream time ``t`` in seconds: ``decision`` (genre, confidence, posterior), ``tune`` (``event``
``start``, ``tokens`` or ``end`` with the tune's ABC), ``stats`` (every few seconds, and a last
one for the whole run: ``frames``, ``overflows``, ``xruns``, ``latency_ms_p50``,
``latency_ms_p99``, ``latency_ms_max``, ``overruns``).

Following the music (``meter="follow"``, ``mode="follow"``, used by default), from the last
GTZAN vector heard: the meter is 6/8 when the two strongest beat-histogram peaks are 3:2 or 3:1
apart (a compound pulse) and 4/4 otherwise; the mode is minor when the two strongest pitch
classes are a minor third apart (IPO1 of 3 or 9 fifths), dorian for a whole tone (2 or 10), major
otherwise; the tempo is the strongest beat (P1), held between 80 and 200 quarter notes a minute.
"""

from __future__ import annotations

import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from listener.audio.resampler import StreamResampler
from listener.audio.ring import ARRIVAL_SLOTS, RingBuffer, monotonic_ns
from listener.config import FRAME, SAMPLE_RATE
from listener.errors import ConfigError
from listener.features.vector import GENRE_COLUMNS, GenreFeatures
from listener.genres.online import OnlineGenre
from listener.tunes.vocab import END

#: Seconds of audio in one frame: the per-frame latency budget.
FRAME_SECONDS = FRAME / SAMPLE_RATE
#: Seconds of music the composer keeps sampled ahead of what the MIDI output plays.
COMPOSE_AHEAD = 1.0
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
        ``off``, ``on-change`` (a tune for each new genre decision) or ``every:SECONDS``.
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
    """

    when: str = "on-change"
    prime: str = ""
    meter: str = "follow"
    mode: str = "follow"
    temperature: float = 1.0
    seed: int | None = None
    tempo: float | None = None
    max_tokens: int = 600

    def interval(self) -> float | None:
        """Seconds between tunes for ``every:SECONDS``, else None; ConfigError when malformed."""
        if self.when in ("off", "on-change"):
            return None
        if self.when.startswith("every:"):
            try:
                seconds = float(self.when[6:])
            except ValueError:
                seconds = -1.0
            if seconds > 0:
                return seconds
        raise ConfigError(f"--compose {self.when!r}: use off, on-change or every:SECONDS")


def follow(vector: np.ndarray) -> tuple[str, str, float]:
    """Meter token, mode and tempo that follow a GTZAN vector (the rule in the module doc)."""
    p1, p2 = float(vector[_COLUMN["P1"]]), float(vector[_COLUMN["P2"]])
    ratio = max(p1, p2) / max(min(p1, p2), 1e-9)
    meter = "M:6/8" if abs(ratio - 1.5) < 0.1 or abs(ratio - 3.0) < 0.15 else "M:4/4"
    interval = int(round(float(vector[_COLUMN["IPO1"]]))) % 12
    mode = {3: "min", 9: "min", 2: "dor", 10: "dor"}.get(interval, "maj")
    tempo = float(np.clip(p1 if p1 > 0 else 120.0, 80.0, 200.0))
    return meter, mode, tempo


class _Latency:
    # Per-frame latencies, kept as histograms (10 us bins up to 1 s) so that memory does not
    # grow with the length of the run: one for the whole run, one since the last report.
    BIN_MS = 0.01
    BINS = 100_000

    def __init__(self) -> None:
        self.whole = np.zeros(self.BINS, dtype=np.int64)
        self.recent = np.zeros(self.BINS, dtype=np.int64)
        self.max_whole = self.max_recent = 0.0
        self.overruns = 0

    def add(self, ms: float) -> None:
        b = min(int(ms / self.BIN_MS), self.BINS - 1)
        self.whole[b] += 1
        self.recent[b] += 1
        self.max_whole = max(self.max_whole, ms)
        self.max_recent = max(self.max_recent, ms)
        if ms > FRAME_SECONDS * 1e3:
            self.overruns += 1

    def figures(self, recent: bool = False) -> dict[str, float]:
        counts = self.recent if recent else self.whole
        total = int(counts.sum())
        if total == 0:
            return {"latency_ms_p50": 0.0, "latency_ms_p99": 0.0, "latency_ms_max": 0.0}
        cumulative = np.cumsum(counts)

        def percentile(q: float) -> float:  # upper edge of the bin holding it
            return (int(np.searchsorted(cumulative, q / 100 * total)) + 1) * self.BIN_MS

        top = self.max_recent if recent else self.max_whole
        return {
            "latency_ms_p50": round(min(percentile(50), top), 3),
            "latency_ms_p99": round(min(percentile(99), top), 3),
            "latency_ms_max": round(top, 3),
        }

    def restart_recent(self) -> None:
        self.recent[:] = 0
        self.max_recent = 0.0


class Engine:
    """Listen to a source, decide its genre as it goes, and answer with tunes.

    Parameters
    ----------
    model : GenreModel
        The genre model (``GenreModel.load()`` for the shipped one).
    emit : callable
        Receives every event dict (decision, tune, stats) as it happens.
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
    """

    def __init__(
        self,
        model,
        emit: Callable[[dict], None],
        composer=None,
        sink=None,
        compose: ComposeSettings | None = None,
        stats_every: float = 5.0,
        status: Callable[[str], None] | None = None,
        ring_size: int = 1 << 17,
        gate_db: float | None = -60.0,
    ) -> None:
        self.model = model
        self.gate_db = gate_db
        self.emit = emit
        self.composer = composer
        self.sink = sink
        self.compose = compose or ComposeSettings()
        self._interval = self.compose.interval()
        self.stats_every = stats_every
        self.status = status
        self.ring_size = ring_size
        self.tunes: list[dict] = []  # every tune composed: tokens, abc, notes, tempo
        self._requests: queue.Queue = queue.Queue(maxsize=1)
        self._stopping = threading.Event()  # stop at once
        self._finishing = threading.Event()  # finish what is asked, then stop
        self._emit_lock = threading.Lock()

    def _say(self, event: dict) -> None:
        with self._emit_lock:  # two threads speak: one line at a time
            self.emit(event)

    # -- the analysis side -------------------------------------------------------------------

    def run(self, source, duration: float | None = None, live: bool = True) -> dict:
        """Listen until the source ends, ``duration`` seconds of audio pass, or Ctrl-C.

        Parameters
        ----------
        source
            A block source (``start(callback)``, ``stop()``, ``running``; ``rate`` when not
            22050 Hz, ``xruns`` when it counts them).
        duration : float, optional
            Seconds of audio to listen to.
        live : bool
            The source cannot wait (a device, a file paced in real time): overflow drops and
            counts. False for a file read as fast as possible, which waits for the analysis.

        Returns
        -------
        dict
            The last stats event (the whole run).
        """
        ring = RingBuffer(self.ring_size)
        arrivals = ring.arrivals  # per write: samples in the ring by its end, arrival in ns
        features = GenreFeatures()
        online = OnlineGenre(self.model, gate_db=self.gate_db)
        latency = _Latency()
        composer = None
        if self.composer is not None and self.compose.when != "off":
            composer = threading.Thread(target=self._compose_loop, name="composer", daemon=True)
            composer.start()
        buf = np.empty(4 * FRAME, dtype=np.float32)  # at most 93 ms a turn: fine-grained
        limit = None if duration is None else int(round(duration * SAMPLE_RATE))
        seen = 0  # samples analysed, at 22050 Hz
        cursor = 0  # next arrival record to look at
        next_stats = self.stats_every
        next_tune = self._interval
        next_status = 0.0
        last_vector = None
        decision = None
        started = time.monotonic()
        interrupted = False
        # A source's thread in Python (a file paced as if live, a Python audio callback) and the
        # MIDI scheduler need the interpreter's lock: hand it over every millisecond (not every
        # 5, the default) so that a busy thread cannot hold them up.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, 0.001))
        if hasattr(source, "feed"):  # a device: its callback writes into the ring itself
            source.feed(ring)
        else:
            source.start(ring.write if live else ring.offer)
        rate = int(getattr(source, "rate", SAMPLE_RATE))  # a device knows it once open
        resampler = StreamResampler(rate) if rate != SAMPLE_RATE else None
        if getattr(source, "notice", None):
            print(source.notice, file=sys.stderr)
        try:
            while not self._stopping.is_set():
                n = ring.read_into(buf)
                if n == 0:
                    if not getattr(source, "running", True) and ring.available == 0:
                        break
                    time.sleep(0.0005)
                    continue
                block = buf[:n] if resampler is None else resampler.process(buf[:n])
                if limit is not None:
                    block = block[: max(limit - seen, 0)]
                before = features.timbral.frames_done
                vectors = features.process(block)
                events = online.process(vectors)
                done = monotonic_ns()
                seen += block.shape[0]
                # each frame completed: from its last sample's arrival to now
                blocks = ring.blocks
                for frame in range(before, features.timbral.frames_done):
                    needed = math.ceil((frame + 1) * FRAME * rate / SAMPLE_RATE)
                    while cursor < blocks and arrivals[cursor % ARRIVAL_SLOTS, 0] < needed:
                        cursor += 1
                    if cursor < blocks:
                        latency.add((done - arrivals[cursor % ARRIVAL_SLOTS, 1]) * 1e-6)
                if vectors.vectors.shape[0]:
                    last_vector = vectors.vectors[-1]
                t = seen / SAMPLE_RATE
                for event in events:
                    self._say({"type": "decision", **event})
                    if event["genre"] != decision and self.compose.when == "on-change":
                        self._request(event["t"], f"decision {event['genre']}", last_vector)
                    decision = event["genre"]
                if next_tune is not None and t >= next_tune:
                    self._request(round(t, 4), f"every {self._interval:g} s", last_vector)
                    next_tune += self._interval
                if t >= next_stats:
                    self._say(self._stats(t, features, ring, source, latency, recent=True))
                    latency.restart_recent()
                    next_stats += self.stats_every
                if self.status is not None and time.monotonic() >= next_status:
                    self.status(self._status_line(t, online, latency, source))
                    next_status = time.monotonic() + 0.25
                if limit is not None and seen >= limit:
                    break
        except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, from the command line): a stop
            self._stopping.set()
            interrupted = True
            raise
        except BaseException:
            self._stopping.set()  # an error: everything stops now
            raise
        finally:
            source.stop()  # the audio first; PortAudio is terminated by a live source
            sys.setswitchinterval(switch)
            # at the end of the audio, the tune being composed (and any asked for) is
            # finished; its playback is cut short with every note released
            self._finishing.set()
            if composer is not None:
                composer.join(30.0)
            if interrupted:  # the whole run's figures are said even when it is stopped
                self._say(
                    {**self._final(seen, started, features, ring, source, latency), "stopped": True}
                )
        final = self._final(seen, started, features, ring, source, latency)
        self._say(final)
        return final

    def _final(self, seen, started, features, ring, source, latency: _Latency) -> dict:
        final = self._stats(seen / SAMPLE_RATE, features, ring, source, latency)
        final["whole_run"] = True
        final["realtime_factor"] = round(
            (seen / SAMPLE_RATE) / max(time.monotonic() - started, 1e-9), 3
        )
        return final

    def _stats(self, t, features, ring, source, latency: _Latency, recent: bool = False) -> dict:
        return {
            "type": "stats",
            "t": round(t, 4),
            "frames": features.timbral.frames_done,
            "overflows": ring.overflows,
            "dropped": ring.dropped,
            "xruns": int(getattr(source, "xruns", 0)),
            **latency.figures(recent),
            "overruns": latency.overruns,
        }

    def _status_line(self, t: float, online: OnlineGenre, latency: _Latency, source) -> str:
        top = sorted(online.posterior.items(), key=lambda kv: -kv[1])[:3]
        bars = "  ".join(f"{g} {'#' * round(p * 10):<10} {p:4.2f}" for g, p in top)
        if online.quiet:
            bars += "  (quiet: held)"
        recent = latency.figures(recent=True)
        return (
            f"{t:7.1f} s  {bars}  latency p99 {recent['latency_ms_p99']:.2f} ms  "
            f"xruns {int(getattr(source, 'xruns', 0))}"
        )

    # -- the composer side -------------------------------------------------------------------

    def _request(self, t: float, reason: str, vector) -> None:
        try:  # never waits: a request while one is pending replaces nothing, and is dropped
            self._requests.put_nowait((t, reason, None if vector is None else vector.copy()))
        except queue.Full:
            pass

    def _compose_loop(self) -> None:
        # Composing can wait, the analysis cannot: this thread yields the CPU to it (Linux sets
        # a nice value per thread). Its tokens are still far ahead of the notes they become.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        seed = self.compose.seed
        while not self._stopping.is_set():
            try:
                t, reason, vector = self._requests.get(timeout=0.05)
            except queue.Empty:
                if self._finishing.is_set():
                    return
                continue
            try:
                self._compose_one(t, reason, vector, seed)
            except Exception as exc:  # a failed tune is reported; listening goes on
                self._say({"type": "tune", "t": t, "event": "error", "error": str(exc)})
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

    def _compose_one(self, t: float, reason: str, vector, seed: int | None) -> None:
        from listener.midi.player import play_tokens
        from listener.midi.scheduler import MidiScheduler, default_tempo
        from listener.tunes.interpret import TuneInterpreter
        from listener.tunes.notation import BARS
        from listener.tunes.tune import Tune

        settings = self.compose
        heard = follow(vector) if vector is not None else ("M:4/4", "maj", 120.0)
        meter = heard[0] if settings.meter == "follow" else settings.meter
        mode = heard[1] if settings.mode == "follow" else settings.mode
        prime_words = settings.prime.split()
        if prime_words and prime_words[0].startswith("M:"):
            meter = prime_words[0]
        tempo = settings.tempo or (
            heard[2] if settings.meter == "follow" and vector is not None else default_tempo(meter)
        )
        self._say(
            {
                "type": "tune",
                "t": t,
                "event": "start",
                "reason": reason,
                "meter": meter,
                "mode": mode,
                "tempo": round(tempo, 1),
                "seed": seed,
            }
        )
        tokens: list[str] = []
        interpreter = TuneInterpreter()
        scheduler = None
        if self.sink is not None:
            scheduler = MidiScheduler(self.sink, tempo=tempo, lead=0.1).start()
        source = self.composer.generate(
            settings.prime, meter, mode, settings.temperature, seed, settings.max_tokens
        )

        def tokens_until_stopped():
            bar_start = 0
            for token in source:
                if self._stopping.is_set():
                    return
                tokens.append(token)
                yield token
                if scheduler is not None and not self._finishing.is_set():
                    time.sleep(TOKEN_PAUSE)  # a trickle, not a burst: see COMPOSE_AHEAD
                if token in BARS or token == END:  # a bar at a time
                    self._say(
                        {"type": "tune", "t": t, "event": "tokens", "tokens": tokens[bar_start:]}
                    )
                    bar_start = len(tokens)
                    # Compose just ahead of the playing: sampled all at once, a tune is a
                    # burst of CPU (and of the interpreter's lock) that on a small machine
                    # delays the audio callback into xruns; bar by bar it spreads thin.
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
        self._say(
            {
                "type": "tune",
                "t": t,
                "event": "end",
                "tokens": len(tokens),
                "ended": ended,
                "beats": float(interpreter.beats),
                "abc": abc,
            }
        )
        if scheduler is not None:
            while not scheduler.wait(0.1):
                if self._stopping.is_set() or self._finishing.is_set():
                    scheduler.stop()
                    break

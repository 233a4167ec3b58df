"""The composer in a process of its own: the LSTM's sampling, the interpreter, the MIDI port.

In one process, composing shares the interpreter's lock with the analysis: between two LSTM
steps, two notes, two bars, the analysis thread can wait for it. Here the
:class:`~listener.composer.Composer` runs in a child process with its own MIDI port and its
own scheduler, so nothing the analysis needs is held by composing. The engine talks to it
through :class:`ComposerProcess`, which has the composer's own methods: requests, phrases to
answer and barge-ins go into a queue that never blocks (what it cannot hold is dropped, oldest
first) and a thread sends them over a pipe; the child's ``tune`` events come back on the pipe
and a thread says them.

A child that dies (killed, crashed) is started again at once, forked from a server process
that has the modules loaded, and says ``fault`` and then ``recovered``; the new child sends all
notes off before anything, so that no note is left sounding from the one that died.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from listener.errors import DeviceError

#: Seconds a child is given to load the model and open its port, and to finish or stop.
START_SECONDS = 30.0
#: Requests, phrases and barge-ins waiting to be sent; beyond it the oldest go.
OUTBOX = 16
#: How often the child looks whether an answer is playing (for barge-in), seconds.
ANSWERING_SECONDS = 0.01
#: Modules the fork server loads once, so that a child starts in a fraction of a second.
PRELOAD = ["numpy", "onnxruntime", "mido", "rtmidi", "listener.composer", "listener.tunes.lstm"]


class SinkSpec(NamedTuple):
    """Where the child opens its MIDI output (:meth:`~listener.midi.MidiSink.open`'s terms)."""

    name: str | None = None
    virtual: str | None = None
    api: str = "auto"
    channel: int = 0
    program: int | None = None


class _Phrases:
    # stands in the child for the engine's phrase tracker: where bar lines and beats fall
    # goes back
    def __init__(self, send) -> None:
        self._send = send

    def keep_time(self, bar_line: float, bar_seconds: float) -> None:
        self._send(("keep_time", bar_line, bar_seconds))

    def keep_beat(self, beat_seconds: float, *, known_at: float) -> None:
        self._send(("keep_beat", beat_seconds, known_at))

    def foresee(self, bar_line: float, bar_seconds: float, *, bars_heard: int) -> None:
        self._send(("foresee", bar_line, bar_seconds, bars_heard))


def _child(connection, model_path, settings, spec: SinkSpec | None, environment: dict) -> None:
    """Compose in this process until told to finish or stop (the child's side)."""
    # forked from a server started earlier: the environment is the engine's now (which JACK
    # server, for one)
    os.environ.clear()
    os.environ.update(environment)
    # Ctrl-C and a closed terminal reach the whole process group: stopping is the engine's
    # to do (it says "stop", or its end closes the pipe)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from listener.composer import Composer
    from listener.midi.sink import DRAIN_SECONDS, MidiSink
    from listener.tunes.lstm import FolkLSTM

    lock = threading.Lock()

    def send(message) -> None:
        with lock:
            connection.send(message)

    sink = None
    if spec is not None:
        try:
            sink = MidiSink.open(
                spec.name,
                virtual=spec.virtual,
                api=spec.api,
                channel=spec.channel,
                program=spec.program,
            )
        except Exception as exc:  # a DeviceError naming the ports there are
            send(("error", str(exc)))
            return
        time.sleep(DRAIN_SECONDS)  # the connection in JACK's graph, then all notes off
        sink.panic()
        if sink.watchable:
            sink.watch(lambda event: send(("say", event)))
    composer = Composer(
        FolkLSTM(model_path), lambda e: send(("say", e)), sink=sink, settings=settings
    )
    composer.phrases = _Phrases(send)
    try:
        composer.start()  # (opens the band's clock to follow, when told to)
    except Exception as exc:  # a DeviceError naming the ports there are
        if sink is not None:
            sink.close()
        send(("error", str(exc)))
        return
    send(("ready",))
    done = threading.Event()

    def report_answering() -> None:
        answering = False
        while not done.wait(ANSWERING_SECONDS):
            if composer.answering != answering:
                answering = composer.answering
                send(("answering", answering))

    threading.Thread(target=report_answering, daemon=True).start()
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the engine went away: stop
            message = ("stop",)
        kind = message[0]
        if kind == "request":
            composer.request(*message[1:])
        elif kind == "answer":
            composer.answer(message[1], message[2])
        elif kind == "ahead":
            composer.read_ahead(message[1], message[2])
        elif kind == "barge_in":
            composer.barge_in()
        elif kind == "hush":
            composer.hush()
        elif kind == "configure":
            composer.configure(**message[1])
        elif kind in ("finish", "stop"):
            (composer.finish if kind == "finish" else composer.stop)(START_SECONDS)
            done.set()
            if sink is not None:
                sink.close()
            send(("done", composer.tunes))
            return


class ComposerProcess:
    """The composer's interface (:class:`~listener.composer.Composer`), its work in a child.

    Parameters
    ----------
    model_path : str or Path
        The folk-rnn ONNX model the child loads.
    say : callable
        Receives the child's events (``tune``, and ``fault`` for the MIDI output or the child
        itself), on a thread of this process.
    sink : SinkSpec, optional
        The MIDI output the child opens; without it tunes are only reported.
    settings : ComposeSettings
        What to compose.
    """

    def __init__(
        self,
        model_path,
        say: Callable[[dict], None],
        *,
        sink: SinkSpec | None = None,
        settings=None,
    ) -> None:
        from listener.composer import ComposeSettings

        self.model_path = str(model_path)
        self.say = say
        self.sink = sink
        self.settings = settings or ComposeSettings()
        self.tunes: list[dict] = []
        self.phrases = None
        self.answering = False
        self.restarts = 0
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._outbox: queue.Queue = queue.Queue(maxsize=OUTBOX)
        self._process = None
        self._connection = None
        self._ending = threading.Event()  # finish or stop asked: a child's end is no fault
        self._ended = threading.Event()
        self._ready = threading.Event()
        self._start_error: str | None = None

    def start(self) -> None:
        """Start the child (and the threads that talk to it); wait until it is ready."""
        self.tunes = []
        self._ending.clear()
        self._ended.clear()
        self._launch()
        threading.Thread(target=self._send_loop, name="composer-send", daemon=True).start()

    def _launch(self) -> None:
        ours, theirs = self._context.Pipe()
        self._ready.clear()
        self._start_error = None
        process = self._context.Process(
            target=_child,
            args=(theirs, self.model_path, self.settings, self.sink, dict(os.environ)),
            daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        threading.Thread(target=self._receive_loop, args=(process, ours), daemon=True).start()
        if not self._ready.wait(START_SECONDS):
            process.kill()
            raise DeviceError(f"the composer's process did not start in {START_SECONDS:g} s")
        if self._start_error is not None:
            raise DeviceError(self._start_error)

    def _receive_loop(self, process, connection) -> None:
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "say":
                self.say(message[1])
            elif kind == "ready":
                self._ready.set()
            elif kind == "error":  # it could not start
                self._start_error = message[1]
                self._ready.set()
            elif kind == "answering":
                self.answering = message[1]
            elif kind == "keep_time" and self.phrases is not None:
                self.phrases.keep_time(message[1], message[2])
            elif kind == "keep_beat" and self.phrases is not None:
                self.phrases.keep_beat(message[1], known_at=message[2])
            elif kind == "foresee" and self.phrases is not None:
                self.phrases.foresee(message[1], message[2], bars_heard=message[3])
            elif kind == "done":
                self.tunes.extend(message[1])
                self._ended.set()
                return
        process.join(1.0)
        self.answering = False
        if self._ending.is_set() or process is not self._process:
            self._ended.set()
            return
        # it died: another at once, which sends all notes off first
        began = time.monotonic()
        self.say({"type": "fault", "part": "composer", "fault": _death(process)})
        try:
            self._launch()
        except Exception as exc:  # noqa: BLE001 - said, and the listening goes on
            self.say({"type": "fault", "part": "composer", "fault": f"cannot restart: {exc}"})
            self._ended.set()
            return
        self.restarts += 1
        again = round(time.monotonic() - began, 3)
        self.say({"type": "fault", "part": "composer", "recovered": True, "restarted_in_s": again})

    def _send_loop(self) -> None:
        while True:
            message = self._outbox.get()
            try:
                self._connection.send(message)
            except (OSError, ValueError):  # the child is gone: its successor gets the next
                pass
            if message[0] in ("finish", "stop"):
                return

    def _post(self, message) -> None:
        while True:
            try:
                self._outbox.put_nowait(message)
                return
            except queue.Full:
                try:
                    self._outbox.get_nowait()  # the oldest goes
                except queue.Empty:
                    pass

    def request(self, t: float, reason: str, vector) -> None:
        """Ask for a tune; never waits."""
        self._post(("request", t, reason, None if vector is None else vector.copy()))

    def answer(self, call, clock_offset: float, *, wait: bool = False) -> None:
        """Answer a phrase; never waits (a run at full speed keeps the composer in-process)."""
        self._post(("answer", call, clock_offset))

    def read_ahead(self, call, clock_offset: float, *, wait: bool = False) -> None:
        """Read a phrase that may be over before it is; never waits (see ``answer``)."""
        self._post(("ahead", call, clock_offset))

    def barge_in(self) -> None:
        """Stop the answer now, every note released; never waits."""
        self.answering = False
        self._post(("barge_in",))

    def hush(self) -> None:
        """Stop the tune or answer playing now, every note released; never waits."""
        self._post(("hush",))

    def configure(self, **changes) -> None:
        """Change settings for the next tunes; ConfigError (here, at once) when refused."""
        settings = dataclasses.replace(self.settings, **changes)
        settings.check()
        self.settings = settings  # a child started again starts with them
        self._post(("configure", changes))

    def finish(self, timeout: float = 30.0) -> None:
        """Finish the tune being composed, then end the child."""
        self._end("finish", timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop now: the tune being played is cut short, every note released."""
        self._end("stop", timeout)

    def _end(self, kind: str, timeout: float) -> None:
        self._ending.set()
        self._post((kind,))
        self._ended.wait(timeout)
        process = self._process
        if process is not None:
            process.join(1.0)
            if process.is_alive():
                process.kill()

    @property
    def pid(self) -> int | None:
        """The child's process id (for a test that kills it)."""
        return None if self._process is None else self._process.pid


def _death(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"the composer's process was killed ({signal.Signals(-code).name})"
    return f"the composer's process ended (exit status {code})"

"""Measure the engine against issue 6's targets: a long live run through JACK, and an hour fast.

    python -m scripts.measure_engine jack --seconds 300     # live through JACK and PortAudio
    python -m scripts.measure_engine soak --seconds 3600    # an hour of audio at full speed

(from the repository's root: the JACK server, player and MIDI receiver are the tests' harness,
:mod:`tests.harness`).

``jack`` starts a dummy JACK server (22050 Hz, periods of 512), plays the gtzan-mini clips one
after another into PortAudio's input from a JACK client in a process of its own (which also
receives the MIDI and counts the xruns JACK reports, whichever client caused them: its Python
threads must not share the measured engine's interpreter lock), runs the engine on the real
sounddevice path with the composer writing a tune every 10 s and playing it over JACK MIDI, and
prints the whole run's stats. ``soak`` streams a clip looped for the given time through the
engine as fast as it goes (a ring of two frames) with the composer on, and prints the resident
memory after the first minute and at the end, NaN checks, and the drift between the stream time
and the samples fed. Both need the dev extra (JACK-Client) and jackd2.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from listener.audio.io import load_audio
from listener.composer import ComposeSettings
from listener.config import FRAME, SAMPLE_RATE
from listener.engine import Engine
from listener.genres.model import GenreModel
from listener.tunes.lstm import FolkLSTM
from tests.harness import GTZAN as GTZAN_ROOT
from tests.harness import ROOT
from tests.harness.jack import JackPlayer, dummy_jack
from tests.harness.midi import Receiver, wait_for_delivery

GTZAN = GTZAN_ROOT / "genres"


def rss_mb() -> float:
    """Resident memory of this process now, in MB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _audio(seconds: float) -> np.ndarray:
    clips = sorted(GTZAN.glob("*/*.wav"))
    audio = np.concatenate([load_audio(c) for c in clips[:: max(1, len(clips) // 12)]])
    return np.tile(audio, int(np.ceil((seconds + 5) * SAMPLE_RATE / audio.size)))


def play_in_own_process(server: str, seconds: float) -> int:
    """The player and the MIDI receiver, alone in a process (their Python JACK callbacks need
    an interpreter's lock: not the engine's). It says "ready" once the receiver's port is
    there, plays into PortAudio's input, counts the server's xruns (JACK's own report,
    whichever client was late), waits for the note messages the engine says it sent (a line
    on standard input), and prints its figures as JSON."""
    import jack

    receiver = Receiver()  # on the server the environment names
    print("ready", flush=True)
    player = JackPlayer(server, _audio(seconds))
    xruns = []
    watcher = jack.Client("xrun-watch", servername=server, no_start_server=True)
    watcher.set_xrun_callback(lambda delay: xruns.append(delay))
    watcher.activate()
    player.feed(timeout=60.0)
    while player.position < (seconds + 1) * SAMPLE_RATE:
        time.sleep(0.2)
    player.close()
    watcher.deactivate()
    sent = int(sys.stdin.readline() or 0)
    wait_for_delivery(receiver, sent)
    figures = {
        "server_xruns": len(xruns),
        "xrun_delays_us": xruns[:20],
        "midi_notes_received": len(receiver.notes_on()),
        "notes_sounding_after": sum(receiver.unmatched().values()),
    }
    receiver.close()
    print(json.dumps(figures), flush=True)
    return 0


def watch_stage_in_own_process(url: str, pages: int, targets: int) -> int:
    """The stage's audience, alone in a process: UDP sockets for the OSC targets and Chromium
    (headless, through Playwright) with pages on the live view. It says "ready PORT ..." once
    every page shows the run, counts datagrams until a line on standard input, then prints
    each page's counts of events by type and the datagrams each socket got, as JSON."""
    import shutil
    import socket as sockets

    from playwright.sync_api import sync_playwright

    socks = []
    for _ in range(targets):
        sock = sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        socks.append(sock)
    got = [0] * targets
    done = threading.Event()

    def drain(k: int) -> None:
        while not done.is_set():
            try:
                socks[k].recv(65536)
                got[k] += 1
            except TimeoutError:
                continue

    threads = [threading.Thread(target=drain, args=(k,), daemon=True) for k in range(targets)]
    for t in threads:
        t.start()
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        views = [browser.new_page(viewport={"width": 1400, "height": 900}) for _ in range(pages)]
        for view in views:
            view.goto(url)
            view.wait_for_function("window.listenerView && window.listenerView.session !== null")
        ports = " ".join(str(s.getsockname()[1]) for s in socks)
        print(f"ready {ports}", flush=True)
        sys.stdin.readline()
        time.sleep(2.0)  # the last events on their way
        counts = [view.evaluate("window.listenerView.counts") for view in views]
        render = [view.evaluate("window.listenerView.renderMs") for view in views]
        browser.close()
    done.set()
    print(
        json.dumps(
            {
                "pages": counts,
                "render_ms_max": max((max(r, default=0) for r in render), default=0),
                "datagrams": got,
            }
        ),
        flush=True,
    )
    return 0


def measure_jack(
    seconds: float,
    player_process: bool = True,
    compose: str = "every:10",
    compiled: bool = True,
    realtime: bool = False,
    notes: bool = False,
    wake: bool = True,
    device_process: bool = False,
    composer_process: bool = False,
    stage: bool = False,
    pages: int = 3,
) -> dict:
    import subprocess

    from listener.audio.device import SoundDeviceSource
    from listener.midi import MidiSink

    log = tempfile.NamedTemporaryFile("r", suffix=".jackd.log")
    with dummy_jack(SAMPLE_RATE, FRAME, log_to=log.name, realtime=realtime) as server:
        if player_process:  # their Python threads do not compete for our interpreter's lock
            command = ["_player", "--server", server, "--seconds", str(seconds)]
            child = subprocess.Popen(
                [sys.executable, "-m", "scripts.measure_engine", *command],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        else:
            receiver = Receiver()
            player = JackPlayer(server, _audio(seconds))
        if composer_process:  # the child opens the port
            from listener.composer_process import SinkSpec

            sink = None
            target = SinkSpec("harness:sink", api="jack")
        else:
            sink = target = MidiSink.open("harness:sink", api="jack")
        events: list[dict] = []
        emit, meters, audience = events.append, None, None
        if stage:  # OSC to 3 targets at 30 Hz, the view with 3 pages, all in another process
            from listener.stage.osc import OscOut, Target
            from listener.stage.outlets import Outlets
            from listener.stage.view import LiveView

            view = LiveView(port=0)
            audience = subprocess.Popen(
                [sys.executable, "-m", "scripts.measure_engine", "_stage", "--url", view.url]
                + ["--pages", str(pages)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            ready = audience.stdout.readline().split()
            assert ready and ready[0] == "ready", ready
            osc = OscOut([Target("127.0.0.1", int(port)) for port in ready[1:]])
            emit = Outlets(events.append, [osc, view])
            meters = emit.meter
        engine = Engine(
            GenreModel.load(),
            emit,
            composer=FolkLSTM(),
            sink=target,
            composer_process=composer_process,
            compose=ComposeSettings(compose, seed=1, play_events=stage),
            notes=notes,
            wake=wake,
            meters=meters,
        )
        if device_process:
            from listener.audio.device_process import DeviceProcess

            source = DeviceProcess(jack=True)
        else:
            source = SoundDeviceSource(jack=True, compiled=compiled)
        result: dict = {
            "compiled_callback": getattr(source, "compiled", True),
            "device_process": device_process,
            "composer_process": composer_process,
            "realtime_jack": realtime,
        }
        result["notes"] = notes
        result["stage"] = stage
        result["wake"] = "eventfd" if wake else "poll every 0.5 ms"
        thread = threading.Thread(
            target=lambda: result.update(engine.run(source, duration=seconds))
        )
        thread.start()
        if not player_process:
            player.feed()
        thread.join()
        sent = 0  # a composer in its own process counts its own: none waited for here
        if sink is not None:
            sink.close()
            sent = sink.sent
        if player_process:
            out, _ = child.communicate(f"{sent}\n", timeout=120)
            result.update(json.loads(out.strip().splitlines()[-1]))
        else:
            player.close()
            wait_for_delivery(receiver, sent)
            result["midi_notes_received"] = len(receiver.notes_on())
            result["notes_sounding_after"] = sum(receiver.unmatched().values())
            receiver.close()
        if audience is not None:
            out, _ = audience.communicate("done\n", timeout=120)
            seen = json.loads(out.strip().splitlines()[-1])
            emit.close()
            said = Counter(e["type"] for e in events)
            kinds = ("decision", "tune", "play", "beat", "stats", "fault", "note", "phrase")
            result["view_pages_missing"] = [
                {k: said[k] - page.get(k, 0) for k in kinds if said[k] != page.get(k, 0)}
                for page in seen["pages"]
            ]
            result["view_events_per_page"] = {k: said[k] for k in kinds if said[k]}
            result["view_render_ms_max"] = seen["render_ms_max"]
            result["osc_datagrams"] = {
                "sent": osc.sent,
                "dropped": osc.dropped,
                "received": seen["datagrams"],
            }
    # the server names the client it found unfinished at each xrun
    late = re.findall(r"client = (.+?) was not finished", log.read())
    result["late_clients"] = dict(Counter(late))
    result["tunes"] = sum(1 for e in events if e["type"] == "tune" and e["event"] == "end")
    result["decisions"] = sum(1 for e in events if e["type"] == "decision")
    return result


class LoopSource:
    """A clip pushed again and again, as fast as the consumer takes it, up to ``seconds``."""

    def __init__(self, clip: np.ndarray, seconds: float) -> None:
        self.clip = clip.astype(np.float32)
        self.total = int(seconds * SAMPLE_RATE)
        self.fed = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, callback) -> None:
        def run() -> None:
            pos = 0
            while self.fed < self.total and not self._stop.is_set():
                n = min(FRAME, self.total - self.fed, self.clip.size - pos)
                block = self.clip[pos : pos + n]
                taken = callback(block)
                self.fed += taken
                pos = (pos + taken) % self.clip.size
                if taken < n:
                    time.sleep(0.0002)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def measure_soak(seconds: float) -> dict:
    clip = load_audio(GTZAN / "country" / "country.00000.wav")
    events: list[dict] = []
    memory: dict[str, float] = {}

    def emit(event: dict) -> None:
        events.append(event) if event["type"] != "decision" else None
        bad = [k for k, v in event.items() if isinstance(v, float) and not np.isfinite(v)]
        if bad or any(not np.isfinite(v) for v in event.get("posterior", {}).values()):
            memory["nan_events"] = memory.get("nan_events", 0) + 1
        if event["type"] == "stats" and "after_first_minute" not in memory and event["t"] >= 60:
            memory["after_first_minute"] = rss_mb()

    engine = Engine(
        GenreModel.load(),
        emit,
        composer=FolkLSTM(),
        compose=ComposeSettings("every:60", seed=1),
        stats_every=30.0,
        ring_size=2 * FRAME,
    )
    source = LoopSource(clip, seconds)
    t0 = time.monotonic()
    final = engine.run(source, live=False)
    return {
        **final,
        "wall_seconds": time.monotonic() - t0,
        "samples_fed": source.fed,
        "drift_samples": source.fed - round(final["t"] * SAMPLE_RATE),
        "frames_expected": source.fed // FRAME,
        "rss_mb_after_first_minute": memory.get("after_first_minute"),
        "rss_mb_end": rss_mb(),
        "events_with_nan": memory.get("nan_events", 0),
        "tunes": sum(1 for e in events if e["type"] == "tune" and e["event"] == "end"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("what", choices=["jack", "soak", "_player", "_stage"])
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument(
        "--player-thread",
        action="store_true",
        help="jack: play the audio and receive the MIDI from JACK clients in this process (as "
        "the tests do), not from a process of their own",
    )
    p.add_argument("--compose", default="every:10", help="jack: when to compose (every:10)")
    p.add_argument(
        "--python-callback",
        action="store_true",
        help="jack: PortAudio calls a Python callback (which needs the interpreter's lock), "
        "not the compiled one",
    )
    p.add_argument(
        "--realtime-jack",
        action="store_true",
        help="jack: run the server (and so every JACK client's process thread) with real-time "
        "priority, as on a stage; needs root or an rtprio limit",
    )
    p.add_argument(
        "--notes",
        action="store_true",
        help="jack: hear the melody too (pitch and notes on the analysis path)",
    )
    p.add_argument(
        "--poll",
        action="store_true",
        help="jack: the analysis looks at the ring every half millisecond, not woken by each "
        "block (to measure the two side by side)",
    )
    p.add_argument(
        "--device-process",
        action="store_true",
        help="jack: the input's stream in a process of its own (as `listener listen` runs it)",
    )
    p.add_argument(
        "--composer-process",
        action="store_true",
        help="jack: compose in a process of its own (listener.composer_process)",
    )
    p.add_argument(
        "--stage",
        action="store_true",
        help="jack: OSC to 3 targets at 30 Hz and the live view with 3 Chromium pages, all "
        "received in a process of their own; says what each page missed",
    )
    p.add_argument("--pages", type=int, default=3, help="jack --stage: browser pages (3)")
    p.add_argument("--server", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.what == "_player":
        return play_in_own_process(args.server, args.seconds)
    if args.what == "_stage":
        return watch_stage_in_own_process(args.url, pages=args.pages, targets=3)
    if args.what == "jack":
        result = measure_jack(
            args.seconds,
            not args.player_thread,
            args.compose,
            not args.python_callback,
            args.realtime_jack,
            args.notes,
            not args.poll,
            args.device_process,
            args.composer_process,
            args.stage,
            args.pages,
        )
    else:
        result = measure_soak(args.seconds)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

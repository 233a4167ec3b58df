"""Measure the stage against issue 16's targets.

    python -m scripts.measure_stage osc [--clips 100] [--targets 3]
    python -m scripts.measure_stage view [--tunes 20]
    python -m scripts.measure_stage clock [--runs 10]

``osc``: the engine reads gtzan-mini clips as fast as it goes (the analysis flat out, the
hardest case for the sending thread), with OSC going to ``--targets`` receivers at 30
frame-feature readings a second; a receiver in a process of its own (so that it does not share
this interpreter's lock) stamps each ``/listener/genre`` datagram as it arrives. The latency
is from the decision event leaving the engine to its datagram arriving, on the same monotonic
clock (CLOCK_MONOTONIC is the machine's, not the process's).

``view``: Debian's Chromium (headless, through Playwright) opens the live view: the seconds
from ``listener listen --view`` started to a page that shows the run's level, and from the
view's server started to a page connected; the page's own time to redraw a score
as each bar of a composed tune arrives (``--tunes`` tunes of folk-rnn's, 16 bars or more, the
figure for the last bar); and the seconds from a server's restart on the same port to the page
showing the new run, without a reload.

``clock``: on a dummy JACK server (48 kHz, periods of 256: 5.3 ms), Debian's jack_midi_clock
as the band's clock under a timebase master of the harness's: the tempo :class:`ClockIn`
reads 48 pulses after each of ``--runs`` starts of the transport at 120; the pulses after a
step from 120 to 90 until it reads within 0.5 of 90 for good; then our clock out at 123 and
at 90, as jack_mclk_dump reads it (its filtered tempo, settled).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import time

import numpy as np


def _receive(port_out, stamps_out, stop) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port_out.send(sock.getsockname()[1])
    stamps = []
    while not stop.is_set():
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if data.startswith(b"/listener/genre\x00"):
            stamps.append(time.monotonic_ns())
    stamps_out.send(stamps)


def measure_osc(clips: int, targets: int) -> dict:
    from listener.audio.io import load_audio
    from listener.audio.sources import ArraySource
    from listener.config import FRAME
    from listener.engine import Engine
    from listener.genres.model import GenreModel
    from listener.stage.osc import OscOut, Target
    from listener.stage.outlets import Outlets
    from tests.harness import GTZAN

    context = multiprocessing.get_context("spawn")
    port_ours, port_theirs = context.Pipe()
    stamps_ours, stamps_theirs = context.Pipe()
    stop = context.Event()
    receiver = context.Process(target=_receive, args=(port_theirs, stamps_theirs, stop))
    receiver.start()
    port = port_ours.recv()
    # the measured receiver, and others that take the same traffic
    sinks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(targets - 1)]
    for s in sinks:
        s.bind(("127.0.0.1", 0))
    addresses = [Target("127.0.0.1", port)] + [
        Target("127.0.0.1", s.getsockname()[1]) for s in sinks
    ]
    osc = OscOut(addresses)
    emitted = []

    def clock_decisions(event: dict) -> None:
        if event["type"] == "decision":
            emitted.append(time.monotonic_ns())

    outlets = Outlets(clock_decisions, [osc])
    engine = Engine(GenreModel.load(), outlets, meters=outlets.meter, ring_size=2 * FRAME)
    paths = sorted((GTZAN / "genres").glob("*/*.wav"))[:clips]
    began = time.monotonic()
    for path in paths:
        engine.run(ArraySource(load_audio(path), block_size=FRAME), live=False)
    seconds = time.monotonic() - began
    outlets.close()
    time.sleep(0.5)  # the last datagrams in flight on loopback
    stop.set()
    stamps = stamps_ours.recv()
    receiver.join()
    for s in sinks:
        s.close()
    if len(stamps) != len(emitted):
        raise SystemExit(f"{len(emitted)} decisions, {len(stamps)} datagrams: lost on the way")
    ms = (np.asarray(stamps) - np.asarray(emitted)) * 1e-6
    return {
        "clips": len(paths),
        "targets": targets,
        "decisions": len(ms),
        "run_s": round(seconds, 2),
        "datagrams_sent": osc.sent,
        "dropped": osc.dropped,
        "latency_ms_p50": round(float(np.percentile(ms, 50)), 3),
        "latency_ms_p99": round(float(np.percentile(ms, 99)), 3),
        "latency_ms_max": round(float(ms.max()), 3),
    }


def measure_view(tunes: int) -> dict:
    import shutil

    from playwright.sync_api import sync_playwright

    from listener.stage.view import LiveView
    from listener.tunes.lstm import FolkLSTM
    from listener.tunes.notation import BARS

    model = FolkLSTM()
    bars_of = []
    seed = 0
    while len(bars_of) < tunes:
        tokens = list(model.generate(meter="M:4/4", mode="maj", seed=seed))
        seed += 1
        bars, start = [], 0
        for i, token in enumerate(tokens):
            if token in BARS:
                bars.append(tokens[start : i + 1])
                start = i + 1
        if len(bars) >= 16:
            bars_of.append(bars[:16])
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    usable, last_bar, back = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # from `listener listen --view` typed to a page that shows the run
        import subprocess
        import sys
        import urllib.request

        from tests.harness import GTZAN
        from tests.harness.osc import free_udp_port

        port = free_udp_port()
        clip = sorted((GTZAN / "genres").glob("*/*.wav"))[0]
        began = time.monotonic()
        command = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "listener",
                "listen",
                "--file",
                str(clip),
                "--realtime",
                "--compose",
                "off",
                "--view",
                str(port),
                "--duration",
                "10",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.01)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("window.listenerView && window.listenerView.counts.meter > 0")
        usable.append(time.monotonic() - began)
        command.terminate()
        command.wait(10)
        began = time.monotonic()
        view = LiveView(port=0)
        page.goto(view.url)
        page.wait_for_function("window.listenerView && window.listenerView.session !== null")
        usable.append(time.monotonic() - began)
        seq = 0
        for bars in bars_of:
            view(
                {
                    "type": "tune",
                    "event": "start",
                    "seq": seq,
                    "t": 0.0,
                    "reason": "every",
                    "meter": "M:4/4",
                    "mode": "maj",
                    "tempo": 180.0,
                }
            )
            seq += 1
            for bar in bars:
                view({"type": "tune", "event": "tokens", "seq": seq, "t": 0.0, "tokens": bar})
                seq += 1
            page.wait_for_function(f"window.listenerView.counts.tune >= {seq}")
            last_bar.append(page.evaluate("window.listenerView.renderMs.slice(-1)[0]"))
        for _ in range(3):  # the server started again on its port: the page comes back
            session = page.evaluate("window.listenerView.session")
            port = view.port
            view.close()
            page.wait_for_function("document.getElementById('link').className === 'down'")
            began = time.monotonic()
            view = LiveView(port=port)
            page.wait_for_function(f"window.listenerView.session !== '{session}'")
            back.append(time.monotonic() - began)
        view.close()
        browser.close()
    return {
        "usable_from_command_s": round(usable[0], 3),
        "usable_from_server_start_s": round(usable[1], 3),
        "tunes": len(last_bar),
        "render_16th_bar_ms_p50": round(float(np.percentile(last_bar, 50)), 1),
        "render_16th_bar_ms_max": round(float(max(last_bar)), 1),
        "back_after_restart_s": [round(b, 3) for b in back],
    }


def measure_clock(runs: int) -> dict:
    import re
    import signal
    import subprocess

    from listener.stage.clock import PULSES_PER_QUARTER, ClockIn
    from listener.stage.clock_out import ClockOut
    from tests.harness.jack import TimebaseMaster, dummy_jack

    def wait(condition, seconds=20.0):
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("waited too long")
            time.sleep(0.002)

    out: dict = {}
    with dummy_jack(rate=48000, period=256):
        master = TimebaseMaster(120.0)
        source = subprocess.Popen(
            ["jack_midi_clock"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait(lambda: master.client.get_ports("jack_midi_clock", is_midi=True))
        time.sleep(0.5)
        clock = ClockIn.open("jack_midi_clock", api="jack")
        after_48 = []
        for _ in range(runs):
            master.client.transport_start()  # (Start, or Continue after the first)
            wait(lambda: clock.running)
            heard = clock.pulses_heard
            wait(lambda heard=heard: clock.pulses_heard >= heard + 48)
            after_48.append(clock.tempo)
            master.client.transport_stop()
            wait(lambda: not clock.running)
        master.client.transport_start()
        wait(lambda: clock.pulses >= 4 * PULSES_PER_QUARTER)
        master.bpm = 90.0
        stepped, settled = clock.pulses, None
        while clock.pulses < stepped + 16 * PULSES_PER_QUARTER:
            tempo = clock.tempo
            if tempo is not None and abs(tempo - 90.0) <= 0.5:
                settled = settled if settled is not None else clock.pulses
            else:
                settled = None
            time.sleep(0.002)
        master.client.transport_stop()
        clock.close()
        master.close()
        source.send_signal(signal.SIGINT)
        source.wait(5)
        out["tempo_after_48_pulses_at_120"] = [round(t, 3) for t in after_48]
        out["pulses_from_step_to_90_within_0.5"] = None if settled is None else settled - stepped
        dump = subprocess.Popen(
            ["jack_mclk_dump"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        time.sleep(1.0)
        sender = ClockOut.open("jack_mclk_dump", api="jack", tempo=123.0)
        sender.start()
        wait(lambda: sender.pulses_sent >= 16 * PULSES_PER_QUARTER)
        sender.tempo = 90.0
        sent = sender.pulses_sent
        wait(lambda: sender.pulses_sent >= sent + 16 * PULSES_PER_QUARTER)
        sender.close()
        dump.send_signal(signal.SIGINT)
        said = dump.communicate(timeout=5)[0]
    flt = [float(x) for x in re.findall(r"flt:\s+([0-9.]+)\[BPM\]", said)]
    out["clock_out_read_at_123"] = flt[16 * PULSES_PER_QUARTER - 2]
    out["clock_out_read_at_90"] = flt[-1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["osc", "view", "clock"])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--tunes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.what == "osc":
        print(json.dumps(measure_osc(args.clips, args.targets), indent=1))
    elif args.what == "view":
        print(json.dumps(measure_view(args.tunes), indent=1))
    else:
        print(json.dumps(measure_clock(args.runs), indent=1))


if __name__ == "__main__":
    main()

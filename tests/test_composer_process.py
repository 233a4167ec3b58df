"""The composer in a process of its own: it plays over JACK MIDI, and its death is survived."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from listener.audio.io import load_audio
from listener.audio.sources import ArraySource
from listener.composer import ComposeSettings
from listener.composer_process import SinkSpec
from listener.config import FRAME, FRAME_SECONDS, SAMPLE_RATE
from listener.engine import Engine
from listener.genres.model import GenreModel
from listener.tunes.lstm import DEFAULT_FOLK_MODEL
from tests.harness import need_module, need_program, wait_until
from tests.harness.jack import dummy_jack
from tests.harness.midi import Receiver, assert_every_note_released


@pytest.fixture(scope="module")
def clip(gtzan):
    return load_audio(gtzan / "genres" / "country" / "country.00000.wav")


def test_a_composer_killed_mid_tune_is_started_again_and_leaves_no_note_sounding(clip):
    # SIGKILL to the composer's process while it plays: the engine says so, a new process
    # starts (it silences every pitch first), tunes go on, the analysis never waits
    need_program("jackd", "jackd2")
    need_module("jack")
    need_module("mido")
    events = []
    with dummy_jack():
        receiver = Receiver()
        try:
            engine = Engine(
                GenreModel.load(),
                events.append,
                composer=DEFAULT_FOLK_MODEL,
                sink=SinkSpec("harness:sink", api="jack"),
                compose=ComposeSettings("every:2", seed=3, tempo=240),
                composer_process=True,
            )
            source = ArraySource(clip[: 12 * SAMPLE_RATE], block_size=FRAME, realtime=True)
            result = {}
            thread = threading.Thread(target=lambda: result.update(engine.run(source)), daemon=True)
            thread.start()
            wait_until(lambda: len(receiver.notes_on()) >= 4, 20, "the first tune's notes")
            os.kill(engine.composer.pid, signal.SIGKILL)
            thread.join(60)
            assert not thread.is_alive()
            time.sleep(0.2)  # the last note-offs on their way through JACK
        finally:
            receiver.close()
    died, back = [e for e in events if e["type"] == "fault"][:2]
    assert died["part"] == back["part"] == "composer" and "SIGKILL" in died["fault"]
    assert back["recovered"] and back["restarted_in_s"] < 5.0
    assert engine.composer.restarts == 1
    ended = [e for e in events if e["type"] == "tune" and e["event"] == "end"]
    assert ended and all(e["t"] > died["t"] for e in ended)  # the new process composes
    # a note sounding when its process died is ended by the new process's note-offs
    assert_every_note_released(receiver)
    # the analysis went on as if nothing happened: every frame, within its budget
    assert result["frames"] == 12 * SAMPLE_RATE // FRAME
    assert result["latency_ms_p99"] < FRAME_SECONDS * 1e3
    assert result["health"]["faults"] == 1


def test_ctrl_c_at_a_terminal_stops_the_composers_process_once(gtzan, tmp_path):
    # Ctrl-C reaches the whole process group, the composer's process too: that is no death to
    # recover from; the listener stops it, every note released, the run's stats written
    import json
    import subprocess
    import sys

    from tests.harness import ROOT
    from tests.harness.processes import as_from_a_terminal, wait_for_notes

    need_program("jackd", "jackd2")
    need_module("jack")
    out = tmp_path / "run.jsonl"
    with dummy_jack():
        receiver = Receiver()
        try:
            listen = subprocess.Popen(
                [sys.executable, "-m", "listener", "listen", "--realtime", "--file"]
                + [str(gtzan / "genres" / "country" / "country.00000.wav")]
                + ["--compose", "every:1", "--tempo", "240", "--seed", "3", "--jsonl", str(out)]
                + ["--port", "harness:sink", "--api", "jack"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=as_from_a_terminal,
                start_new_session=True,  # a process group of its own, as a terminal's job
            )
            wait_for_notes(receiver, 6)
            os.killpg(listen.pid, signal.SIGINT)
            _, err = listen.communicate(timeout=60)
            time.sleep(0.2)
        finally:
            receiver.close()
    assert listen.returncode == 130, err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert not [e for e in events if e["type"] == "fault"], err
    assert events[-1]["type"] == "stats" and events[-1]["stopped"]
    assert "Traceback" not in err
    assert_every_note_released(receiver)

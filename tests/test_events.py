"""Events that leave the engine: every line kept, numbered, rotated; a failing output survived."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from listener.config import SAMPLE_RATE
from listener.events import EventWriter
from tests.harness import ROOT


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_file_is_appended_to_and_rotated_by_size_losing_nothing(tmp_path):
    out = tmp_path / "run.jsonl"
    out.write_text('{"seq": -1, "kept": "from a run before"}\n')
    writer = EventWriter(out, max_bytes=2048)
    for seq in range(200):
        writer({"type": "stats", "seq": seq, "pad": "x" * 40})
    writer.close()
    parts = sorted(tmp_path.glob("run.jsonl.*"), key=lambda p: int(p.suffix[1:]))
    assert parts == writer.rotated and len(parts) >= 5
    assert all(p.stat().st_size <= 2048 for p in [*parts, out])
    events = [e for p in [*parts, out] for e in _lines(p)]  # oldest first, the current last
    assert [e["seq"] for e in events] == list(range(-1, 200))
    assert writer.lost == 0


def test_a_full_disk_is_said_once_and_counted(tmp_path):
    warned = io.StringIO()
    writer = EventWriter("/dev/full", warn=warned)  # every write: ENOSPC
    for seq in range(5):
        writer({"seq": seq})
    assert writer.lost == 5
    said = warned.getvalue().splitlines()
    assert len(said) == 1 and "/dev/full" in said[0] and "No space left" in said[0]


def _clip_file(gtzan, tmp_path, seconds: float = 6.0):
    import soundfile as sf

    from listener.audio.io import load_audio

    clip = load_audio(gtzan / "genres" / "blues" / "blues.00000.wav")
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip[: int(seconds * SAMPLE_RATE)], SAMPLE_RATE)
    return wav


def test_a_reader_that_goes_away_does_not_stop_the_run(gtzan, tmp_path):
    # `listener listen ... | head -1`: the reader closes the pipe after one line; the run
    # goes on to its end, says so once on stderr, and counts what it could not write
    wav = _clip_file(gtzan, tmp_path)
    args = ["listen", "--file", str(wav), "--fast", "--compose", "off", "--stats-every", "0.5"]
    process = subprocess.Popen(
        [sys.executable, "-m", "listener", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert json.loads(process.stdout.readline())["seq"] == 0
    process.stdout.close()  # the reader is gone
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert err.count("cannot be written to standard output") == 1, err
    assert "Broken pipe" in err and "Exception ignored" not in err
    summary = err.strip().splitlines()[-1]
    assert "frames" in summary and "events not written" in summary


def test_jsonl_on_a_full_disk_lets_the_run_finish(gtzan, tmp_path):
    wav = _clip_file(gtzan, tmp_path, seconds=3.0)
    args = ["listen", "--file", str(wav), "--fast", "--compose", "off", "--jsonl", "/dev/full"]
    done = subprocess.run(
        [sys.executable, "-m", "listener", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("No space left on device") == 1


def test_events_are_numbered_and_stats_say_health_and_bad_audio(gtzan, tmp_path):
    from listener.cli import main

    wav = _clip_file(gtzan, tmp_path, seconds=4.0)
    out = tmp_path / "out.jsonl"
    args = ["listen", "--file", str(wav), "--fast", "--compose", "every:2", "--seed", "1"]
    assert main([*args, "--jsonl", str(out), "--stats-every", "1"]) == 0
    events = _lines(out)
    assert [e["seq"] for e in events] == list(range(len(events)))  # composer's events too
    assert any(e["type"] == "tune" for e in events)
    final = events[-1]
    assert final["type"] == "stats" and final["whole_run"]
    assert final["events_lost"] == 0
    assert final["bad_audio"] == {"nonfinite": 0, "clipped": 0, "dc_blocks": 0}
    assert final["health"]["faults"] == 0 and 0 <= final["health"]["since_frame_s"] < 5


def test_bad_options_are_named():
    from listener.cli import main

    assert main(["listen", "--file", "x.wav", "--jsonl-max-mb", "1"]) == 1
    with pytest.raises(ValueError, match="holds no run"):
        EventWriter(None, max_bytes=10)

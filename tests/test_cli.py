from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from listener import __version__
from listener.audio.synth import demo_signal
from listener.cli import main
from listener.config import FRAME, SAMPLE_RATE
from listener.features import FRAME_COLUMNS, TEXTURE_COLUMNS, extract


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "perf.wav"
    sf.write(path, demo_signal(3.0), SAMPLE_RATE, subtype="FLOAT")
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "listener", *args], capture_output=True, text=True, timeout=300
    )


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"listener {__version__}"


def test_jsonl_to_stdout(wav):
    out = run("features", str(wav))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    expected = extract(demo_signal(3.0))
    assert len(rows) == len(expected.frames) == 3 * SAMPLE_RATE // FRAME
    assert list(rows[0]) == ["frame", "time", *FRAME_COLUMNS]
    assert rows[10]["frame"] == 10 and rows[10]["time"] == pytest.approx(
        10 * FRAME / SAMPLE_RATE, abs=1e-6
    )
    assert rows[10]["centroid"] == pytest.approx(expected.frames[10, 1])


def test_csv_texture_to_file(wav, tmp_path, capsys):
    target = tmp_path / "t.csv"
    assert main(["features", str(wav), "--texture", "--format", "csv", "-o", str(target)]) == 0
    assert "wrote" in capsys.readouterr().err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == ["frame", "time", *TEXTURE_COLUMNS]
    expected = extract(demo_signal(3.0)).texture
    assert len(rows) - 1 == expected.shape[0]
    assert int(rows[1][0]) == 42  # labelled by the window's last frame
    assert np.allclose(np.array(rows[1][2:], dtype=float), expected[0], rtol=1e-9)


def test_npy_is_structured(wav, tmp_path):
    target = tmp_path / "f.npy"
    assert main(["features", str(wav), "--format", "npy", "-o", str(target)]) == 0
    table = np.load(target, allow_pickle=False)
    assert table.dtype.names == ("frame", "time", *FRAME_COLUMNS)
    assert table["frame"][5] == 5 and np.isclose(table["time"][5], 5 * FRAME / SAMPLE_RATE)


def test_missing_file_is_a_clear_error(tmp_path):
    out = run("features", str(tmp_path / "nothing.wav"))
    assert out.returncode == 1
    assert "nothing.wav: no such file" in out.stderr and "Traceback" not in out.stderr


def test_unwritable_output(wav, tmp_path, capsys):
    assert main(["features", str(wav), "-o", str(tmp_path / "no" / "dir" / "x.jsonl")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_help_teaches():
    out = run("features", "--help")
    assert out.returncode == 0 and "examples:" in out.stdout and "--texture" in out.stdout


def test_bench_features_json(wav):
    out = run("bench", "features", "--json", "--file", str(wav), "--passes", "1")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in (
        "stream_us_p50",
        "stream_us_p99",
        "stream_us_max",
        "offline_us_per_frame",
        "librosa_us_per_frame",
        "speedup_vs_librosa",
    ):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["stream_us_p50"] <= result["stream_us_p99"] <= result["stream_us_max"]


def test_demo_performs_listens_and_answers(capsys, tmp_path):
    import mido

    assert main(["demo", "--seconds", "12", "--fast", "--folder", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "decision" in out and "composing an answer" in out and "0 ring overflows" in out
    events = [json.loads(line) for line in (tmp_path / "demo.jsonl").read_text().splitlines()]
    kinds = {e["type"] for e in events}
    assert kinds == {"decision", "tune", "stats"} and events[-1]["whole_run"]
    abc = (tmp_path / "demo.abc").read_text()
    assert abc.count("X:") >= 2  # the tune heard and at least one answer
    heard, answer = abc.split("X:")[1:3]
    opening = heard.splitlines()[5][:6]
    assert answer.splitlines()[5].startswith(opening)  # the answer starts as the tune heard
    assert mido.MidiFile(tmp_path / "demo.mid").length > 5


def test_bench_genres_json(wav):
    out = run("bench", "genres", "--json", "--file", str(wav))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("vectors_ms_per_clip", "vectors_us_per_frame", "update_us_p50", "update_us_p99"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["collection_seconds"] is None


def test_bench_lstm_json():
    from conftest import ROOT, need_module

    need_module("torch")  # installed by the train extra: the anchor must be measured here
    tiny = ROOT / "tests" / "data" / "folk-lstm-tiny.onnx"
    out = run("bench", "lstm", "--json", "--model", str(tiny), "--steps", "60", "--passes", "2")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("step_ms_p50", "step_ms_p99", "tune_ms", "torch_step_ms_p50", "fp32_step_ms_p50"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["step_ms_p50"] <= result["step_ms_p99"] <= result["step_ms_max"]
    assert (result["layers"], result["hidden"], result["tune_tokens"]) == (1, 32, 250)


def test_tunes_corpus(tmp_path):
    from conftest import need_module

    need_module("music21")
    target = tmp_path / "corpus.txt"
    out = run("tunes", "corpus", "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert "dropped" in out.stdout and "wrote" in out.stdout
    blocks = target.read_text().strip().split("\n\n")
    assert len(blocks) > 3500
    assert all(
        b.splitlines()[0].startswith("M:") and b.splitlines()[1].startswith("K:C") for b in blocks
    )

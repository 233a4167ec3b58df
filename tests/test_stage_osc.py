"""OSC out and in, with liblo's oscdump and oscsend as the independent peers."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from listener.audio.io import load_audio
from listener.audio.sources import ArraySource
from listener.composer import ComposeSettings
from listener.config import FRAME, SAMPLE_RATE
from listener.engine import Engine
from listener.errors import ConfigError
from listener.stage.control import OscControl
from listener.stage.osc import ADDRESSES, OscOut, Target, messages, table
from listener.stage.outlets import Outlets
from tests.harness import need_module, need_program, wait_until
from tests.harness.jack import dummy_jack
from tests.harness.midi import Receiver, in_order
from tests.harness.osc import OscDump, free_udp_port, oscsend


@pytest.fixture(scope="module")
def clip(gtzan) -> np.ndarray:
    return load_audio(gtzan / "genres" / "country" / "country.00000.wav")


def test_the_address_table_is_pinned():
    # a receiver's patch relies on it: a change here is a new TABLE_VERSION and a README change
    golden = (Path(__file__).parent / "data" / "osc-table.txt").read_text()
    assert table() + "\n" == golden
    assert len({a.path for a in ADDRESSES}) == len(ADDRESSES)
    # numbers are floats, strings on addresses of their own (TouchDesigner)
    assert all(set(a.types) == {"f"} or a.types == "s" for a in ADDRESSES)


def test_targets_are_read_or_refused_by_name():
    assert Target.parse("127.0.0.1:57120") == Target("127.0.0.1", 57120, "/listener")
    assert Target.parse(":4560/td/") == Target("127.0.0.1", 4560, "/td")
    for bad in ("57120", "host:", "host:99999", "host:port"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            Target.parse(bad)


def test_every_event_kind_maps_to_addresses_in_the_table():
    known = {"/listener" + a.path: a.types for a in ADDRESSES}
    events = [
        {
            "type": "decision",
            "genre": "jazz",
            "confidence": 0.5,
            "familiar": 1.0,
            "posterior": {f"g{i}": 0.1 for i in range(10)},
        },
        {"type": "meter", "rms": 0.1, "centroid": 900.0, "flux": 0.2, "tempo": 120.0},
        {"type": "beat", "beat": 3, "tempo": 120.0},
        {"type": "play", "pitch": 62, "velocity": 80, "on": True, "beat": 1.0},
        {"type": "tune", "event": "start", "meter": "M:6/8"},
        {"type": "tune", "event": "end", "abc": "X:1\nK:D\nABc|"},
        {
            "type": "phrase",
            "tokens": "M:6/8 K:Cmaj",
            "key": {"tonic": "D", "mode": "dor"},
            "meter": "6/8",
            "tempo": 110.0,
        },
        {"type": "note", "pitch": 60, "onset": 1.0, "offset": 1.5},
        {"type": "fault", "part": "midi output", "fault": "gone"},
        {
            "type": "stats",
            "xruns": 0,
            "overflows": 0,
            "latency_ms_p50": 0.5,
            "latency_ms_p99": 1.0,
            "latency_ms_max": 2.0,
            "health": {"faults": 0},
        },
    ]
    seen = set()
    for event in events:
        out = messages(event)
        assert out, event["type"]
        for address, types, values in out:
            assert known[address] == types and len(values) == len(types)
            seen.add(address)
    assert seen == set(known) - {"/listener/version"}


def _lines(dump: OscDump, address: str) -> list[str]:
    return [v for a, _, v in dump.messages() if a == address]


def test_a_run_decoded_by_oscdump(model, composer, clip):
    # the engine on real audio, paced as if live, tunes played on a JACK MIDI port: what
    # oscdump decodes equals the events and the notes the synthesiser received
    from listener.midi import MidiSink

    need_program("jackd", "jackd2")
    need_module("jack")
    dump = OscDump()
    events = []
    try:
        with dummy_jack():
            receiver = Receiver()
            sink = MidiSink.open("harness:sink", api="jack")
            osc = OscOut([Target("127.0.0.1", dump.port)])
            outlets = Outlets(events.append, [osc])
            engine = Engine(
                model,
                outlets,
                composer=composer,
                sink=sink,
                compose=ComposeSettings("every:2", seed=3, tempo=240, play_events=True),
                meters=outlets.meter,
                stats_every=2.0,
            )
            source = ArraySource(clip[: 6 * SAMPLE_RATE], block_size=FRAME, realtime=True)
            final = engine.run(source)
            sink.close()
            outlets.close()
            played = [m.note for _, m in receiver.messages if m.type == "note_on" and m.velocity]
            forgiven = receiver.forgiven()  # what the dummy server lost in xruns
            receiver.close()
        wait_until(lambda: len(dump.messages()) >= osc.sent, 5, "oscdump to decode every message")
    finally:
        dump.close()
    assert osc.dropped == osc.failed == 0
    assert _lines(dump, "/listener/version") == ["1.000000"]
    decisions = [e for e in events if e["type"] == "decision"]
    assert decisions
    assert _lines(dump, "/listener/genre") == [f'"{e["genre"]}"' for e in decisions]
    posteriors = [np.array(v.split(), float) for v in _lines(dump, "/listener/posterior")]
    expected = [list(e["posterior"].values()) for e in decisions]
    np.testing.assert_allclose(posteriors, expected, atol=1e-6)
    # frame features at 30 a second of stream time
    rms = [float(v) for v in _lines(dump, "/listener/rms")]
    assert abs(len(rms) - 30 * final["t"]) <= 2 and 0 < max(rms) < 1
    # every note played, in order, as the synthesiser got it
    notes = [v.split() for v in _lines(dump, "/listener/note")]
    assert played
    in_order(played, [int(float(p)) for p, _, on in notes if float(on) == 1], forgiven=forgiven)
    assert sum(float(on) == 0 for _, _, on in notes) == sum(float(on) == 1 for _, _, on in notes)
    beats = [float(v.split()[1]) for v in _lines(dump, "/listener/beat")]
    assert beats and set(beats) == {240.0}
    tunes = [e for e in events if e["type"] == "tune" and e["event"] in ("start", "end")]
    assert _lines(dump, "/listener/tune") == [f'"{e["event"]}"' for e in tunes]
    abcs = [e["abc"] for e in tunes if e["event"] == "end"]
    assert _lines(dump, "/listener/tune/abc") == [f'"{abc}"' for abc in abcs]
    stats = [v.split() for v in _lines(dump, "/listener/stats")]
    assert len(stats) == sum(e["type"] == "stats" for e in events)


@pytest.mark.parametrize("separate", [False, True], ids=["thread", "process"])
def test_controls_from_oscsend(model, composer, clip, separate):
    # liblo's oscsend sets the meter and asks for a tune; what is malformed is counted and
    # refused, and the run goes on
    events = []
    outlets = Outlets(events.append, [])
    engine = Engine(
        model,
        outlets,
        composer=composer,
        compose=ComposeSettings("every:1000", seed=1),
        composer_process=separate,
    )
    source = ArraySource(clip[: 20 * SAMPLE_RATE], block_size=FRAME, realtime=True)
    control = OscControl(engine.control, port=free_udp_port())
    outlets.inputs.append(control)
    result = {}
    thread = threading.Thread(target=lambda: result.update(engine.run(source)), daemon=True)
    thread.start()
    try:
        wait_until(lambda: engine.analysis.seconds > 0.5, 10, "the engine to start")
        oscsend(control.port, "/listener/meter", "s", "6/8")
        oscsend(control.port, "/listener/mode", "s", "dor")
        oscsend(control.port, "/listener/temperature", "f", 9.0)  # out of range
        oscsend(control.port, "/listener/meter", "s", "5/4")  # not a folk-rnn meter
        oscsend(control.port, "/listener/nothing", "f", 1.0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b"\xff not osc", ("127.0.0.1", control.port))
        wait_until(lambda: control.accepted + control.rejected == 6, 5, "six datagrams taken")
        oscsend(control.port, "/listener/compose")
        starts = lambda: [e for e in events if e.get("event") == "start"]  # noqa: E731
        wait_until(starts, 15, "a tune asked for over OSC")
        oscsend(control.port, "/listener/stop")
        wait_until(lambda: control.accepted == 4, 5, "the stop taken")
    finally:
        source.stop()
        thread.join(30)
        outlets.close()
    assert not thread.is_alive()
    assert control.rejected == 4 and result["rejected_input"] == 4
    start = starts()[0]
    assert start["reason"] == "control" and start["meter"] == "M:6/8" and start["mode"] == "dor"
    said = [(e["control"], e["value"]) for e in events if e["type"] == "control"]
    assert said == [("meter", "6/8"), ("mode", "dor"), ("compose", None), ("stop", None)]


def test_wekinator_gets_the_gtzan_vector_as_floats():
    dump = OscDump()
    try:
        osc = OscOut([Target("127.0.0.1", dump.port, format="wekinator")])
        vector = np.linspace(-1.0, 1.0, 30)
        osc(
            {
                "type": "meter",
                "t": 0.1,
                "rms": 0.1,
                "centroid": 1.0,
                "flux": 0.0,
                "vector": vector,
                "samples": np.zeros(1024, np.float32),
            }
        )
        osc(
            {
                "type": "decision",
                "genre": "jazz",
                "confidence": 0.5,
                "familiar": 1.0,
                "posterior": {"jazz": 1.0},
            }
        )  # nothing for Wekinator
        osc.close()
        wait_until(lambda: dump.messages(), 5, "oscdump to decode the vector")
    finally:
        dump.close()
    [(address, types, values)] = dump.messages()
    assert address == "/wek/inputs" and types == "f" * 30
    np.testing.assert_allclose(np.array(values.split(), float), vector, atol=1e-6)

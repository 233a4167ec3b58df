"""``listener demo``: the whole machine on a built-in performance, no sound card needed.

The composer writes a tune (a fixed seed), the small built-in synthesiser plays it (plucked
notes, a kick on the beat), and the result streams into the engine as if live: the rolling
genre decisions are printed as they change, and once the engine has decided, the composer
answers with a continuation primed with the opening of the tune it heard. Everything it said
goes to ``demo.jsonl``, the tune heard and the answers to ``demo.abc``, the first answer to
``demo.mid``. About 30 s at live pace; ``--fast`` runs it as fast as it goes.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TextIO

from listener.audio.sources import ArraySource
from listener.audio.synth import render_notes
from listener.composer import ComposeSettings
from listener.engine import Engine
from listener.genres.model import GenreModel
from listener.midi.files import write_midi
from listener.tunes.interpret import interpret, read_through
from listener.tunes.lstm import FolkLSTM
from listener.tunes.notes import NoteEvent
from listener.tunes.tune import Tune

#: The built-in performance: what the composer is asked for, and how fast it is played.
PERFORMANCE = {"meter": "6/8", "mode": "dor", "seed": 7, "tempo": 165.0}
#: Tokens of the heard tune's opening that prime the answer: meter, key and about two bars.
OPENING_TOKENS = 14


def _opening(tune: Tune) -> str:
    words = tune.tokens()[:OPENING_TOKENS]
    while len(words) > 2 and words[-1] not in ("|", "|:", ":|"):  # end on a bar line
        words.pop()
    return " ".join(words)


def _again_and_again(notes: list[NoteEvent], seconds: float) -> tuple[list[NoteEvent], int]:
    # The tune played over and over, each time from the next whole beat after it ended, until
    # the performance is long enough: music all the way, as a player would fill the time.
    beats = seconds * PERFORMANCE["tempo"] / 60.0
    length = math.ceil(max(float(n.end) for n in notes))
    times = max(1, math.ceil(beats / length))
    again = [
        NoteEvent(n.pitch, n.onset + k * length, n.duration) for k in range(times) for n in notes
    ]
    return [n for n in again if n.onset < beats], times


def run_demo(
    seconds: float = 30.0,
    realtime: bool = True,
    out: TextIO = sys.stdout,
    folder: str | Path = ".",
) -> dict:
    """Perform, listen, answer; print as it goes; write demo.jsonl, demo.abc and demo.mid.

    Parameters
    ----------
    seconds : float
        Length of the performance heard.
    realtime : bool
        At live pace (False: as fast as it goes).
    out : TextIO
        Where the running commentary goes.
    folder : path
        Where the three files are written.

    Returns
    -------
    dict
        The engine's last stats event, with ``files`` (the paths written) and ``decision``.
    """
    folder = Path(folder)
    composer = FolkLSTM()
    heard_tokens = list(
        composer.generate(
            meter=PERFORMANCE["meter"], mode=PERFORMANCE["mode"], seed=PERFORMANCE["seed"]
        )
    )
    heard = Tune.from_sampled(heard_tokens)[0].cleaned()[0]
    notes, times = _again_and_again(list(interpret(heard.tokens())), seconds)
    signal = render_notes(notes, PERFORMANCE["tempo"], seconds)
    prime = _opening(heard)
    print(
        f"performing a {PERFORMANCE['meter']} tune in C dorian (the composer's, seed "
        f"{PERFORMANCE['seed']}) on the built-in synthesiser, {times} times through in "
        f"{seconds:.0f} s, "
        f"{'at live pace' if realtime else 'as fast as it goes'}; the engine listens, decides "
        f"its genre with the shipped model (GTZAN's ten genres: folk music is not one of them) "
        f"and answers with a tune primed with what it heard: {prime}",
        file=out,
        flush=True,
    )
    events: list[dict] = []
    last = {"genre": None, "decision": None}

    def emit(event: dict) -> None:
        events.append(event)
        if event["type"] == "decision":
            last["decision"] = event
        if event["type"] == "stats" and not event.get("whole_run") and last["decision"]:
            d = last["decision"]  # every few seconds: still listening, and how surely
            line = f"{event['t']:6.2f} s  {d['genre']} {d['confidence']:.2f}, familiar "
            line += f"{100 * d['familiar']:.0f}%"
            if realtime:  # read as fast as it goes, a frame waits for the analysis: no latency
                line += f", latency p99 {event['latency_ms_p99']:.2f} ms"
            print(line, file=out, flush=True)
        elif event["type"] == "decision" and event["quiet"]:
            print(f"{event['t']:6.2f} s  quiet: decision held", file=out, flush=True)
        elif event["type"] == "decision" and event["genre"] != last["genre"]:
            last["genre"] = event["genre"]
            top = sorted(event["posterior"].items(), key=lambda kv: -kv[1])[:3]
            shown = ", ".join(f"{g} {p:.2f}" for g, p in top)
            print(
                f"{event['t']:6.2f} s  decision {event['genre']}  ({shown})", file=out, flush=True
            )
        elif event["type"] == "tune" and event["event"] == "start":
            print(
                f"{event['t']:6.2f} s  composing an answer ({event['reason']})",
                file=out,
                flush=True,
            )
        elif event["type"] == "tune" and event["event"] == "end":
            print(
                f"{'':9}the answer, {event['tokens']} tokens:\n{event['abc']}", file=out, flush=True
            )

    engine = Engine(
        GenreModel.load(),
        emit,
        composer=composer,
        compose=ComposeSettings("on-change", prime=prime, mode="dor", seed=1),
    )
    source = ArraySource(signal, block_size=(128, 1024), realtime=realtime)
    final = engine.run(source, live=realtime)
    files = [folder / "demo.jsonl", folder / "demo.abc", folder / "demo.mid"]
    files[0].write_text("".join(json.dumps(e) + "\n" for e in events))
    answers = [t["abc"] for t in engine.tunes]
    files[1].write_text("\n".join([heard.abc(1, "the tune the engine heard"), *answers]))
    if engine.tunes:
        answer = engine.tunes[0]
        answer_tune, _ = Tune.from_sampled(answer["tokens"])
        notes, reader = read_through(answer_tune.tokens())
        write_midi(notes, files[2], tempo=answer["tempo"], meter=reader.meters)
    else:
        files.pop()
    timing = (
        f"latency from a frame's last sample to its decision p50 {final['latency_ms_p50']:.2f} "
        f"ms, p99 {final['latency_ms_p99']:.2f} ms (budget 23.2 ms)"
        if realtime
        else f"{final['realtime_factor']:.0f}x faster than real time"
    )
    print(
        f"done: {final['frames']} frames, {timing}, {final['overflows']} ring overflows; "
        f"wrote {', '.join(str(f) for f in files)}",
        file=out,
        flush=True,
    )
    return {**final, "files": [str(f) for f in files], "decision": last["genre"]}

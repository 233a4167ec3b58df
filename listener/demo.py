"""``listener demo``: call and response with a built-in performer, no sound card needed.

The performer plays the first phrase of *Haste to the Wedding* (O'Neill's Music of Ireland,
1903: public domain) on a fiddle, humanised (its timing, a drifting tempo, vibrato, breaths,
room noise), through fluidsynth's General MIDI sound font when it is installed and the
built-in synthesiser otherwise, then rests while the machine answers, then plays the next
phrase. The audio streams into the engine as if live; the engine hears the notes, reads each
phrase as folk-rnn tokens (tempo, meter, key, bars) and the composer continues it, in the
player's key and tempo, from a beat of the player's pulse. No token of the tune reaches the
composer but through what the engine heard. The transcription is printed beside what was
played; everything said goes to ``demo.jsonl``, the tune, each phrase as heard and each answer
to ``demo.abc``, the answers as they would sound to ``demo.mid``. About 30 s at live pace;
``--fast`` runs it as fast as it goes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from listener.config import SAMPLE_RATE

#: The tune the performer plays, and how.
TUNE_FILE = Path(__file__).parent / "data" / "haste-to-the-wedding.abc"
PERFORMER = {"voice": "fiddle", "seed": 3}
#: Seconds of rest the performer leaves for an answer beyond the phrase's own length.
ANSWER_ROOM = 2.0


def _performance(seconds: float):
    # the phrases, each followed by room for its answer, as many as fit in `seconds`
    from listener.transcribe.evaluate import fluidsynth_available, perform, phrase_notes
    from listener.tunes.reading import split_tunes, tune_from_abc

    text = TUNE_FILE.read_text()
    tune = tune_from_abc(*split_tunes(text)[0])
    synth = "fluidsynth" if fluidsynth_available() else "builtin"
    played = perform(tune, humanised=True, synth=synth, shift=tune.offset, **PERFORMER)
    parts, calls = [], []
    total = 0.0
    for start, end, bars in played.phrases:
        begin = max(start - 0.05, 0.0)  # from the phrase's first note (the last one's tail cut)
        phrase = played.samples[int(begin * SAMPLE_RATE) : int((end - 0.05) * SAMPLE_RATE)]
        room = np.zeros(int((end - start + ANSWER_ROOM) * SAMPLE_RATE), dtype=np.float32)
        length = (phrase.shape[0] + room.shape[0]) / SAMPLE_RATE
        if calls and total + length > seconds:
            break
        notes = phrase_notes(played.notes, start, end)
        calls.append({"at": total, "bars": bars, "notes": notes, "from": begin})
        parts += [phrase, room]
        total += length
    return text, tune, played, synth, np.concatenate(parts), calls


def _played_bars(bars: list[list[str]], shift: int) -> str:
    # the phrase's bars as written in D (the tune's own key), for the printout
    body = [t for bar in bars for t in [*bar, "|"]]
    return " ".join(body) + f"   (in C; played {shift:+d} semitones)"


def run_demo(
    seconds: float = 30.0,
    realtime: bool = True,
    out: TextIO = sys.stdout,
    folder: str | Path = ".",
    view: str | None = None,
) -> dict:
    """Perform, listen, answer; print as it goes; write demo.jsonl, demo.abc and demo.mid.

    Parameters
    ----------
    seconds : float
        Most seconds of performance (each phrase with room for its answer; one at least).
    realtime : bool
        At live pace (False: as fast as it goes).
    out : TextIO
        Where the running commentary goes.
    folder : path
        Where the three files are written.
    view : str, optional
        ``[HOST:]PORT`` to serve the live view on (:mod:`listener.stage.view`) while it plays.

    Returns
    -------
    dict
        The engine's last stats event, with ``files`` (the paths written), ``phrases`` (the
        ``phrase`` events) and ``answers`` (the answers' ABC).
    """
    from listener.audio.sources import ArraySource
    from listener.composer import ComposeSettings
    from listener.engine import Engine
    from listener.genres.model import GenreModel
    from listener.midi.files import write_midi
    from listener.transcribe.phrases import PhraseTracker
    from listener.tunes.interpret import interpret
    from listener.tunes.lstm import FolkLSTM
    from listener.tunes.notes import NoteEvent
    from listener.tunes.tune import Tune

    folder = Path(folder)
    text, tune, played, synth, signal, calls = _performance(seconds)
    print(
        f"a fiddler plays Haste to the Wedding (O'Neill 1903, public domain) in D, humanised, "
        f"on {'fluidsynth' if synth == 'fluidsynth' else 'the built-in synthesiser'}: "
        f"{len(calls)} phrase(s) of 4 bars, each followed by room for an answer, "
        f"{signal.shape[0] / SAMPLE_RATE:.0f} s "
        f"{'at live pace' if realtime else 'as fast as it goes'}. The machine hears only "
        "the sound.",
        file=out,
        flush=True,
    )
    events: list[dict] = []
    heard_tunes: list[str] = []
    said = {"phrases": 0}

    def emit(event: dict) -> None:
        events.append(event)
        if event["type"] == "phrase":
            k = said["phrases"]
            said["phrases"] += 1
            key = event["key"]
            line = (
                f"{event['t']:6.2f} s  phrase heard: {len(event['notes'])} notes, "
                f"{event['meter']} at {event['tempo']:.0f} quarter notes a minute, "
                f"{key['tonic']} {key['mode']}"
            )
            if event["ambiguity"]:
                line += f" (open: {', '.join(event['ambiguity'])})"
            print(line, file=out, flush=True)
            if k < len(calls):
                print(f"{'':9}played: {_played_bars(calls[k]['bars'], tune.offset)}", file=out)
            print(f"{'':9}heard:  {event['tokens']}", file=out, flush=True)
        elif event["type"] == "tune" and event["event"] == "start":
            print(
                f"{event['t']:6.2f} s  answering {event['bars']} bars in {event['key']}, from "
                f"{event['at']:.2f} s ({event['after_last_note']:.2f} s after the last note)",
                file=out,
                flush=True,
            )
        elif event["type"] == "tune" and event["event"] == "end":
            print(f"{'':9}the answer:\n{event['abc']}", file=out, flush=True)

    outlets = None
    if view is not None:
        from listener.stage.control import parse_listen
        from listener.stage.outlets import Outlets
        from listener.stage.view import LiveView

        host, port = parse_listen(view)
        page = LiveView(host=host, port=port)
        outlets = Outlets(emit, [page])
        print(f"the live view: {page.url}", file=out, flush=True)
    engine = Engine(
        GenreModel.load(),
        emit if outlets is None else outlets,
        composer=FolkLSTM(),
        compose=ComposeSettings(when="respond", seed=1),
        phrases=PhraseTracker(),
        meters=None if outlets is None else outlets.meter,
    )
    composer = engine.composer
    source = ArraySource(signal, block_size=(128, 1024), realtime=realtime)
    final = engine.run(source, live=realtime)
    readings = list(composer.readings)
    files = [folder / "demo.jsonl", folder / "demo.abc", folder / "demo.mid"]
    files[0].write_text("".join(json.dumps(e) + "\n" for e in events))
    for i, reading in enumerate(readings):
        heard_tunes.append(reading.heard_tune().abc(1 + i, f"phrase {i + 1} as heard"))
    answers = []
    midi_notes: list[NoteEvent] = []
    for i, (answer, reading) in enumerate(zip(engine.tunes, readings, strict=False)):
        # the phrase and its answer in C as the composer wrote them; the answer alone, in the
        # player's key, into the .mid (one after another, a bar's rest between)
        whole = Tune.from_sampled(answer["tokens"])[0].cleaned()[0]
        title = f"phrase {i + 1} and its answer (in C; played in {reading.key})"
        answers.append(whole.abc(101 + i, title))
        start = reading.end / 4.0
        after = max((float(n.end) for n in midi_notes), default=-2.0) + 2.0
        midi_notes += [
            NoteEvent(n.pitch + reading.shift, n.onset - start + after, n.duration)
            for n in interpret(whole.tokens())
            if n.onset >= start
        ]
    files[1].write_text("\n".join([text.strip() + "\n", *heard_tunes, *answers]))
    if midi_notes:
        tempo = readings[0].tempo
        write_midi(midi_notes, files[2], tempo=tempo, meter=readings[0].meter)
    else:
        files.pop()
    timing = (
        f"latency from a frame's last sample to its analysis p50 {final['latency_ms_p50']:.2f} "
        f"ms, p99 {final['latency_ms_p99']:.2f} ms (budget 23.2 ms)"
        if realtime
        else f"{final['realtime_factor']:.0f}x faster than real time"
    )
    print(
        f"done: {len(readings)} phrase(s) heard, {len(engine.tunes)} answered; {timing}; "
        f"wrote {', '.join(str(f) for f in files)}",
        file=out,
        flush=True,
    )
    if outlets is not None:
        try:
            print("the live view stays up until Ctrl-C", file=out, flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            outlets.close()
    phrases = [e for e in events if e["type"] == "phrase"]
    return {**final, "files": [str(f) for f in files], "phrases": phrases, "answers": answers}

"""Measure call and response against issue 14's timing targets, on the validation tunes.

    python -m scripts.measure_answers build/corpus.txt [--tunes 100]

Each tune's first phrase (4 bars and its pickup), played humanised by the built-in voices,
is a call: its audio goes block by block through the pitch and note trackers and the phrase
tracker, as in the engine, and the phrase, once over, is read and its answer planned, timed
on this machine. Figures: the answer's start against the nearest true beat of the player
(the beats of the tune's meter, a dotted quarter in 6/8, as the humanised tempo placed them),
p50/p95/max; the start after
the last note-off, in the player's quarter notes and in the meter's beats, share within two;
the work from the
phrase's end to a plan, p50/p95/max ms; and false phrase ends: each tune's first 16 bars
played straight through, with its breaths, ought to be one phrase, so every end before the
last is false (per minute of playing).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from listener.answer import plan_answer
from listener.transcribe.evaluate import perform, tunes_for_evaluation
from listener.transcribe.notes import NoteTracker
from listener.transcribe.phrases import PhraseTracker
from listener.transcribe.pitch import PitchTracker
from listener.transcribe.profiles import BEAT, DEFAULT_PROFILES, MelodyProfiles
from listener.transcribe.tokens import read_notes

BLOCK = 512
RATE = 22050


def _calls(samples: np.ndarray, tracker: PhraseTracker):
    # the engine's path: blocks, pitch, notes, the phrase tracker asked after each block
    pitch, notes = PitchTracker(), NoteTracker()
    for start in range(0, samples.shape[0], BLOCK):
        tracker.add(notes.process(pitch.process(samples[start : start + BLOCK])))
        now = min(start + BLOCK, samples.shape[0]) / RATE
        call = tracker.check(now, sounding=notes.sounding, last_sound=notes.last_sound)
        if call is not None:
            yield call


def main(argv: list[str] | None = None) -> int:
    """Measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--tunes", type=int, default=100)
    args = parser.parse_args(argv)
    profiles = MelodyProfiles.load(DEFAULT_PROFILES)
    tunes = tunes_for_evaluation(args.corpus)[: args.tunes]
    read_notes(_warm(), profiles)  # compile the grid first
    errors, after, after_meter, work, false_ends, minutes = [], [], [], [], 0, 0.0
    voices = ("flute", "fiddle", "whistle", "voice")
    for i, tune in enumerate(tunes):
        played = perform(tune, seed=i, voice=voices[i % 4], synth="builtin", humanised=True)
        start, end, _ = played.phrases[0]
        cut = int(max(start - 0.3, 0) * RATE)
        call_audio = np.concatenate(
            [played.samples[cut : int((end - 0.05) * RATE)], np.zeros(3 * RATE, dtype=np.float32)]
        )
        calls = list(_calls(call_audio, PhraseTracker()))
        if calls:
            call = calls[0]
            began = time.perf_counter()
            reading = read_notes(call.notes, profiles)
            plan = plan_answer(reading, now=call.ended)
            spent = time.perf_counter() - began
            work.append(spent * 1e3)
            if spent > 0.08:  # the plan assumed less: start a beat later, as the composer would
                plan = plan_answer(reading, now=call.ended + spent)
            t = plan.start + cut / RATE
            beat = BEAT[played.meter] / 4  # the meter's beat, in quarter notes
            grid = played.first_bar + beat * np.arange(-4, 200)
            beats = np.array([played.beat_time(b) for b in grid])
            errors.append(float(np.min(np.abs(beats - t))) * 1e3)
            quarter = 60.0 / played.tempo
            after.append((plan.start - call.notes[-1].offset) / quarter)
            after_meter.append(after[-1] / beat)
        # false ends: the whole performance (up to 16 bars) is one phrase
        whole = np.concatenate([played.samples, np.zeros(3 * RATE, dtype=np.float32)])
        ends = list(_calls(whole, PhraseTracker()))
        false_ends += max(0, len(ends) - 1)
        minutes += played.samples.shape[0] / RATE / 60
    result = {
        "tunes": len(tunes),
        "answered": len(errors),
        "start_vs_true_beat_ms": _spread(errors),
        "start_after_last_note_beats": {
            **_spread(after),
            "within_two": float(np.mean(np.array(after) <= 2.0)),
        },
        "start_after_last_note_meter_beats": {
            **_spread(after_meter),
            "within_two": float(np.mean(np.array(after_meter) <= 2.0)),
        },
        "work_ms": _spread(work),
        "false_phrase_ends": false_ends,
        "minutes_played": round(minutes, 2),
        "false_ends_per_5_minutes": round(5 * false_ends / max(minutes, 1e-9), 3),
    }
    print(json.dumps(result, indent=1))
    return 0


def _warm():
    from listener.transcribe.notes import Note

    return [Note(0.25 * i, 0.25 * i + 0.2, 62 + i % 3, 1.0) for i in range(6)]


def _spread(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if not v.size:
        return {}
    return {
        "p50": round(float(np.percentile(v, 50)), 3),
        "p95": round(float(np.percentile(v, 95)), 3),
        "max": round(float(v.max()), 3),
    }


if __name__ == "__main__":
    raise SystemExit(main())

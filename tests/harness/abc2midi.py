"""abc2midi as the reference: its notes for a tune, as (onset, pitch, duration) in beats."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import mido


def abc2midi_notes(abc: str, folder: Path, abc2midi: str) -> tuple[list[tuple], bool]:
    """Convert one tune with abc2midi; return its notes and whether it reported no error.

    abc2midi staggers chord notes unless told not to (``%%MIDI chordattack 0``, added here) and
    starts every note one tick late so that one note's end never meets the next one's start;
    that tick is taken off the onset (the end is kept), so the notes are the written ones.
    """
    lines = abc.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("K:"))
    lines.insert(at, "%%MIDI chordattack 0")
    source, target = folder / "tune.abc", folder / "tune.mid"
    source.write_text("\n".join(lines) + "\n")
    target.unlink(missing_ok=True)
    run = subprocess.run(
        [abc2midi, str(source), "-o", str(target)], capture_output=True, text=True, timeout=60
    )
    accepted = run.returncode == 0 and "Error" not in run.stdout + run.stderr
    midi = mido.MidiFile(target)
    tick = Fraction(1, midi.ticks_per_beat)
    notes = []
    for track in midi.tracks:
        now, sounding = 0, {}
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(message.note, []).append(now)
            elif message.type in ("note_on", "note_off") and sounding.get(message.note):
                start = sounding[message.note].pop(0)
                onset = start * tick - tick
                notes.append((onset, message.note, now * tick - onset))
    return sorted(notes), accepted


def same_notes(ours, theirs, grid: Fraction = Fraction(1, 48)) -> bool:
    """Whether two note lists (onset, pitch, duration) agree within ``grid`` beats.

    The same pitches in the same order, each onset and end within ``grid`` of the other's:
    abc2midi keeps times in ticks of 1/480 beat, starts a note a tick late and ends it two
    early, and rounds 7- and 9-tuplets to its ticks; the grid forgives that and nothing a
    listener would hear.
    """
    a = sorted((on, pitch, on + d) for on, pitch, d in ours)
    b = sorted((on, pitch, on + d) for on, pitch, d in theirs)
    return len(a) == len(b) and all(
        p == q and abs(x - u) <= grid and abs(y - v) <= grid
        for (x, p, y), (u, q, v) in zip(a, b, strict=True)
    )

"""Notes to a standard MIDI file, with its tempo, meter and program set."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from listener.errors import ConfigError
from listener.tunes.notes import NoteEvent

#: Ticks per quarter note in the files written (abc2midi's resolution too).
TICKS_PER_BEAT = 480


def write_midi(
    notes: list[NoteEvent],
    path: str | Path,
    *,
    tempo: float = 120.0,
    meter: str | Sequence[tuple[Fraction, str]] = "M:4/4",
    program: int | None = None,
    channel: int = 0,
    velocity: int = 80,
) -> Path:
    """Write notes to a type-0 MIDI file.

    Parameters
    ----------
    notes : list of NoteEvent
        Onsets and durations in beats (quarter notes).
    path : path
        The ``.mid`` file.
    tempo : float
        Quarter notes per minute.
    meter : str or sequence of (beat, str)
        ``M:6/8`` or ``6/8``: the file's time signature; or each time signature with the beat
        it starts on, as :attr:`TuneInterpreter.meters <listener.tunes.interpret.TuneInterpreter>`
        records them.
    program : int, optional
        General MIDI program (0..127).
    channel, velocity : int
        Of every note.
    """
    import mido

    meters = [(Fraction(0), meter)] if isinstance(meter, str) else list(meter)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    events = []  # (tick, order, ...): time signatures, then note-offs, then note-ons
    for beat, text in meters:
        num, den = (text[2:] if text.startswith("M:") else text).split("/")
        events.append((round(beat * TICKS_PER_BEAT), -1, int(num), int(den)))
    for note in notes:
        on = round(note.onset * TICKS_PER_BEAT)
        off = max(round(note.end * TICKS_PER_BEAT), on + 1)
        events.append((off, 0, note.pitch, 0))  # offs first at the same tick
        events.append((on, 1, note.pitch, 0))
    now = 0
    for tick, kind, value, denominator in sorted(events):
        if kind < 0:
            message = mido.MetaMessage(
                "time_signature", numerator=value, denominator=denominator, time=tick - now
            )
        else:
            message = mido.Message(
                "note_on" if kind else "note_off",
                channel=channel,
                note=value,
                velocity=velocity if kind else 0,
                time=tick - now,
            )
        track.append(message)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    target = Path(path)
    try:
        mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track]).save(target)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write ({exc.strerror})") from exc
    return target

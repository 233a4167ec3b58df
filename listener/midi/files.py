"""Notes to a standard MIDI file, with its tempo, meter and program set."""

from __future__ import annotations

from pathlib import Path

from listener.errors import ConfigError
from listener.tunes.interpret import NoteEvent

#: Ticks per quarter note in the files written (abc2midi's resolution too).
TICKS_PER_BEAT = 480


def write_midi(
    notes: list[NoteEvent],
    path: str | Path,
    tempo: float = 120.0,
    meter: str = "M:4/4",
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
    meter : str
        ``M:6/8`` or ``6/8``: the file's time signature.
    program : int, optional
        General MIDI program (0..127).
    channel, velocity : int
        Of every note.
    """
    import mido

    num, den = (meter[2:] if meter.startswith("M:") else meter).split("/")
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    track.append(
        mido.MetaMessage("time_signature", numerator=int(num), denominator=int(den), time=0)
    )
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    events = []
    for note in notes:
        on = round(note.onset * TICKS_PER_BEAT)
        off = max(round(note.end * TICKS_PER_BEAT), on + 1)
        events.append((off, 0, note.pitch))  # offs first at the same tick
        events.append((on, 1, note.pitch))
    now = 0
    for tick, kind, pitch in sorted(events):
        message = "note_on" if kind else "note_off"
        track.append(
            mido.Message(
                message,
                channel=channel,
                note=pitch,
                velocity=velocity if kind else 0,
                time=tick - now,
            )
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    target = Path(path)
    try:
        mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track]).save(target)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write ({exc.strerror})") from exc
    return target

"""Notes from a pitch track, as it comes: where each note starts and stops, and its pitch.

A note is a run of voiced frames (periodic enough, loud enough) around one semitone. It ends
where the pitch moves to another semitone and stays there (two frames, 23 ms), where the sound
stops being voiced (two frames), or where the level jumps up again (a repeated note tongued or
bowed anew: onsets come from energy as well as from pitch). A note shorter than ``MIN_NOTE``
seconds (a cut, a tap, a slide into the note) is an ornament: it merges into the note it leads
to, since the vocabulary has no grace notes. Notes come out once they have ended, so a note is
final about 35 ms after its last sound.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from listener.config import SAMPLE_RATE
from listener.transcribe.pitch import HOP, WINDOW, PitchFrames

#: A frame is voiced when its YIN dip is below this and its level above ``SILENCE``.
VOICED_DIP = 0.25
SILENCE = 0.003
#: Frames a change (of semitone, or to unvoiced) must last to end a note.
CHANGE_FRAMES = 2
#: A level this many times the lowest since the note's loudest starts a note again (a repeated
#: note: its sound fell, then rose again; a note's own attack, rising all along, is no new note).
REATTACK = 1.8
#: Sound is this many times the quietest frame of the last FLOOR_FRAMES (2.3 s): the room.
FLOOR_RATIO = 3.0
FLOOR_FRAMES = 200
#: Notes shorter than this many seconds are ornaments of the note that follows.
MIN_NOTE = 0.05
_FRAME_SECONDS = HOP / SAMPLE_RATE


class Note(NamedTuple):
    """A note heard: onset and offset in seconds, MIDI pitch, and how sure (0 to 1)."""

    onset: float
    offset: float
    pitch: int
    confidence: float


def _frame_time(k: int) -> float:
    # the centre of frame k, where its pitch is measured
    return (k * HOP + WINDOW / 2) / SAMPLE_RATE


class NoteTracker:
    """Pitch frames in, finished notes out (processor: ``process(frames)``, ``flush``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self._note: list | None = None  # [first frame, pitches, dips, level at its start]
        self._change = 0  # frames in a row that differ from the note
        self._peak = 0.0  # the note's loudest attack level so far
        self._trough = 0.0  # its quietest since that loudest
        self._frame = 0
        self._levels_seen: list[float] = []  # recent frames' levels, for the noise floor
        self.last_sound = -1.0  # seconds: the centre of the last frame louder than the floor
        self._held: Note | None = None  # a short note waiting to merge into the next

    @property
    def sounding(self) -> bool:
        """Whether a note is being played now (begun, not yet ended)."""
        return self._note is not None

    def current(self) -> Note | None:
        """Return the note being played now, as far as it has sounded (its offset is now)."""
        note = self._note
        if note is None:
            return None
        onset = _frame_time(note[0]) - _FRAME_SECONDS
        offset = _frame_time(self._frame) - _FRAME_SECONDS
        pitch = int(round(float(np.median(note[1]))))
        return Note(onset, max(offset, onset), pitch, 1.0)

    def process(self, frames: PitchFrames) -> list[Note]:
        """Take the next frames; return the notes that have ended."""
        out: list[Note] = []
        rows = zip(frames.f0, frames.dip, frames.rms, frames.attack, strict=True)
        for f0, dip, rms, attack in rows:
            out += self._take(float(f0), float(dip), float(rms), float(attack))
            self._hear_level(float(rms))
            self._frame += 1
        return out

    def _hear_level(self, rms: float) -> None:
        # sound, pitched or not, is the player still playing (a note the pitch tracker cannot
        # name is no rest): louder than SILENCE and than FLOOR_RATIO times the room's floor,
        # the quietest frame of the last FLOOR_FRAMES
        self._levels_seen.append(rms)
        if len(self._levels_seen) > FLOOR_FRAMES:
            del self._levels_seen[0]
        if rms > max(SILENCE, FLOOR_RATIO * min(self._levels_seen)):
            self.last_sound = _frame_time(self._frame)

    def flush(self) -> list[Note]:
        """End the note still sounding (the stream has ended)."""
        out = self._end(self._frame)
        held, self._held = self._held, None
        return out + ([held] if held is not None and not out else [])

    def _take(self, f0: float, dip: float, rms: float, attack: float) -> list[Note]:
        voiced = f0 > 0.0 and dip < VOICED_DIP and rms > SILENCE
        pitch = 69.0 + 12.0 * np.log2(f0 / 440.0) if voiced else None
        trough = self._trough
        if attack > self._peak:
            self._peak = self._trough = attack
        else:
            self._trough = min(self._trough, attack)
        note = self._note
        if note is None:
            if voiced:
                self._begin(self._frame, pitch, dip, rms, attack)
            return []
        semitone = round(float(np.median(note[1])))
        same = voiced and abs(pitch - semitone) < 0.6
        reattack = same and len(note[1]) >= 4 and attack > REATTACK * max(trough, SILENCE)
        if reattack:
            out = self._end(self._frame)
            self._begin(self._frame, pitch, dip, rms, attack)
            return out
        if same:
            note[1].append(pitch)
            note[2].append(dip)
            self._change = 0
            return []
        self._change += 1
        if self._change < CHANGE_FRAMES:
            return []
        out = self._end(self._frame - CHANGE_FRAMES + 1)
        if voiced:  # the new pitch's frames so far start the next note
            self._begin(self._frame - CHANGE_FRAMES + 1, pitch, dip, rms, attack)
        return out

    def _begin(self, frame: int, pitch: float, dip: float, rms: float, attack: float) -> None:
        self._note = [frame, [pitch], [dip], rms]
        self._peak = self._trough = attack

    def _end(self, stop: int) -> list[Note]:
        # The note ends before frame `stop`: finished, or held when it is an ornament.
        note, self._note, self._change = self._note, None, 0
        if note is None:
            return []
        onset = _frame_time(note[0]) - _FRAME_SECONDS
        offset = _frame_time(stop) - _FRAME_SECONDS
        pitch = int(round(float(np.median(note[1]))))
        confidence = float(np.clip(1.0 - np.median(note[2]) / VOICED_DIP, 0.0, 1.0))
        ended = Note(onset, offset, pitch, confidence)
        held, self._held = self._held, None
        if offset - onset < MIN_NOTE:  # an ornament: it leads into the next note
            joined = held is not None and abs(held.offset - onset) < 2 * _FRAME_SECONDS
            self._held = held._replace(offset=offset) if joined else ended
            return []
        if held is not None and abs(held.offset - onset) < 2 * _FRAME_SECONDS:
            ended = ended._replace(onset=held.onset)  # the ornament's time is this note's
        return [ended]


def as_json(notes) -> list[dict]:
    """Write notes as the JSON events give them: ``onset``, ``offset`` (s), ``pitch``."""
    return [
        {"onset": round(n.onset, 4), "offset": round(n.offset, 4), "pitch": n.pitch} for n in notes
    ]


def hear(samples, *, block: int = 512, phrases=None) -> tuple[list[Note], list]:
    """Hear a whole signal (22050 Hz, mono) block by block, as the engine's analysis does.

    Returns its notes and, with ``phrases`` (a
    :class:`~listener.transcribe.phrases.PhraseTracker`, asked after each block as the engine
    asks it), the phrases it ended.
    """
    from listener.transcribe.pitch import PitchTracker

    pitch, tracker = PitchTracker(), NoteTracker()
    samples = np.asarray(samples, dtype=np.float64)
    found: list[Note] = []
    calls = []
    for start in range(0, samples.shape[0], block):
        ended = tracker.process(pitch.process(samples[start : start + block]))
        found += ended
        if phrases is not None:
            phrases.add(ended)
            now = min(start + block, samples.shape[0]) / SAMPLE_RATE
            call = phrases.check(now, sounding=tracker.sounding, last_sound=tracker.last_sound)
            if call is not None:
                calls.append(call)
    return found + tracker.flush(), calls


def notes_of(samples, *, block: int = 512) -> list[Note]:
    """Hear the notes of a whole signal (22050 Hz, mono), as a stream is heard (:func:`hear`)."""
    return hear(samples, block=block)[0]

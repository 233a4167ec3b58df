"""Notes from a pitch track, as it comes: where each note starts and stops, and its pitch.

A note is a run of voiced frames (periodic enough, loud enough) around one semitone (a young
note's pitch may settle onto it from the note before), semitones counted from the player's
own tuning, which is followed as the notes come (a player a quarter tone from A440 is heard in
one tuning, not in two). It ends where the pitch moves to another
semitone and stays there (two frames, 23 ms), where the sound stops being voiced (two frames),
or where the level jumps up again (a repeated note tongued or bowed anew: onsets come from
energy as well as from pitch; a tremolo's slower swells do not). A note shorter than
``MIN_NOTE`` seconds (a cut, a tap, a slide into the note) is an ornament: it merges into the
note it leads to, since the vocabulary has no grace notes; one that leads into nothing is a
note. A note begun from silence is dated from where its sound began to rise, not from its
first sure pitch, which a slow-speaking pipe reaches 50 to 90 ms later; a note ends where its
pitch begins to glide toward the next; and the two overlapping, which sound at the period they
share, an octave or more below both, are no note, nor is a pipe's attack heard at a multiple
of the period of the note it starts. Notes come out once they have ended, so a note is final
about 35 ms after its last sound.
"""

from __future__ import annotations

import collections
from typing import NamedTuple

import numpy as np

from listener.config import SAMPLE_RATE
from listener.transcribe.pitch import HOP, WINDOW, PitchFrames

#: A frame is voiced when its YIN dip is below this and its level above ``SILENCE``.
VOICED_DIP = 0.2
SILENCE = 0.003
#: Frames a change (of semitone, or to unvoiced) must last to end a note.
CHANGE_FRAMES = 2
#: A level this many times the lowest since the note's loudest starts a note again (a repeated
#: note: its sound fell, then rose again; a note's own attack, rising all along, is no new note),
#: when it rose from that lowest within RISE_FRAMES (46 ms), as a note tongued, bowed or sung
#: anew does: a singer's tremolo (5-8 swells a second) rises more slowly.
REATTACK = 1.8
RISE_FRAMES = 4
#: Sound is this many times the quietest frame of the last FLOOR_FRAMES (2.3 s): the room.
FLOOR_RATIO = 3.0
FLOOR_FRAMES = 200
#: Notes shorter than this many seconds are ornaments of the note that follows; one that no
#: note follows at once is a note of its own if it lasted LONE_NOTE seconds.
MIN_NOTE = 0.05
LONE_NOTE = 0.03
#: A note of at most BLEND_FRAMES (140 ms) between two different pitches that are both a
#: harmonic interval above it (2 to 8 times its frequency) is the two overlapping, not a note.
BLEND_FRAMES = 12
HARMONICS = frozenset(int(round(12 * np.log2(k))) for k in range(2, 9))
#: A note of at most UNDERTONE_FRAMES pitched frames (46 ms) leading into one a harmonic
#: interval above it is that note's attack: a pipe's breathy onset, periodic at a multiple
#: of the coming note's period before its tone is steady.
UNDERTONE_FRAMES = 4
#: A note ends where its pitch began to glide away (at most GLIDE_FRAMES before the change
#: was sure): frames further from its pitch than GLIDE_SEMITONES, each further than the last,
#: the note keeping GLIDE_KEEPS frames (58 ms: it stays a note, not an ornament). A flute's
#: release tail bends its pitch toward the next note's for 30 to 50 ms.
GLIDE_FRAMES = 4
GLIDE_SEMITONES = 0.12
GLIDE_KEEPS = 5
#: A note begun from silence starts where its attack began: back through the frames before
#: its first voiced one (at most ATTACK_FRAMES, 70 ms) while each is in no note, louder than
#: ATTACK_FLOOR times the room's floor, and no louder than ATTACK_SLACK times the next (a
#: pipe's slow speech, a bow's bite: sound rising before the pitch is sure).
ATTACK_FRAMES = 6
ATTACK_SLACK = 1.1
ATTACK_FLOOR = 1.5
#: A young note's pitch may settle: in its first SETTLE_FRAMES (140 ms), a frame within a
#: semitone of the note and within SETTLE_STEP of the frame before is the note still settling
#: (a voice sliding onto its pitch from the note before), not a change of note.
SETTLE_FRAMES = 12
SETTLE_STEP = 0.25
#: The player's tuning (semitones from A440's equal temperament, within half of one: a flute
#: at A=435, a fiddle tuned sharp, a sound font's samples) is followed note by note: each
#: note of at least TUNING_FRAMES frames moves it toward where that note sat between its
#: semitones, by one part in the notes heard so far (at most TUNING_NOTES) and TUNING_PRIOR
#: more, as if that many notes had sat in tune; a note that sat near halfway (which might as
#: well have had the other name) counts for less, down to nothing at halfway. Pitches are
#: named against it, so that a note played 40 cents sharp with vibrato is not read a
#: semitone up half the time.
TUNING_FRAMES = 4
TUNING_NOTES = 16
TUNING_PRIOR = 1
_FRAME_SECONDS = HOP / SAMPLE_RATE


class Note(NamedTuple):
    """A note heard: onset and offset in seconds, MIDI pitch, and how sure (0 to 1).

    ``tuning``: semitones the player's tuning sat from A440's when the note was named (within
    half of one; 0 for notes that came as MIDI), for an answer in the same tuning.
    """

    onset: float
    offset: float
    pitch: int
    confidence: float
    tuning: float = 0.0


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
        self._trough_frame = 0  # the frame of that quietest
        self._frame = 0
        self._levels_seen: list[float] = []  # recent frames' levels, for the noise floor
        self.last_sound = -1.0  # seconds: the centre of the last frame louder than the floor
        self._held: Note | None = None  # a short note waiting to merge into the next
        self._before = (-1, -10)  # the last note's pitch and the frame it ended before
        # the last frames' (in a note, middle level), the frame before this one's attack last
        self._recent: collections.deque = collections.deque(maxlen=ATTACK_FRAMES + 1)
        self.tuning = 0.0  # semitones the player sits above A440's semitones
        self._tuned_notes = 0.0  # notes the tuning has followed (weighed)

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
        return Note(onset, max(offset, onset), pitch, 1.0, self.tuning)

    def process(self, frames: PitchFrames) -> list[Note]:
        """Take the next frames; return the notes that have ended."""
        out: list[Note] = []
        rows = zip(frames.f0, frames.dip, frames.rms, frames.attack, strict=True)
        for f0, dip, rms, attack in rows:
            out += self._take(float(f0), float(dip), float(rms), float(attack))
            out += self._let_go()
            self._hear_level(float(rms))
            self._recent.append((self._note is not None, float(attack)))
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
        return out + (self._lone(held) if held is not None else [])

    def _take(self, f0: float, dip: float, rms: float, attack: float) -> list[Note]:
        voiced = f0 > 0.0 and dip < VOICED_DIP and rms > SILENCE
        pitch = 69.0 + 12.0 * np.log2(f0 / 440.0) - self.tuning if voiced else None
        trough, trough_frame = self._trough, self._trough_frame
        if attack > self._peak:
            self._peak = self._trough = attack
            self._trough_frame = self._frame
        elif attack < self._trough:
            self._trough, self._trough_frame = attack, self._frame
        note = self._note
        if note is None:
            if voiced:
                self._begin(self._frame - self._attack_frames(attack), pitch, dip, rms, attack)
            return []
        semitone = round(float(np.median(note[1])))
        same = voiced and abs(pitch - semitone) < 0.6
        if voiced and not same and len(note[1]) < SETTLE_FRAMES:
            same = abs(pitch - semitone) < 1.0 and abs(pitch - note[1][-1]) < SETTLE_STEP
        reattack = (
            same
            and len(note[1]) >= 4
            and attack > REATTACK * max(trough, SILENCE)
            and self._frame - trough_frame <= RISE_FRAMES
        )
        if reattack:  # the last note ended at the trough; the new one rose from it
            turn = max(trough_frame, note[0] + 1)
            out = self._end(turn)
            self._begin(turn + 1, pitch, dip, rms, attack)
            return out
        if same:
            note[1].append(pitch)
            note[2].append(dip)
            self._change = 0
            return []
        self._change += 1
        if self._change < CHANGE_FRAMES:
            return []
        if voiced and self._blend(note, round(pitch)):
            # the note so far was two notes sounding at once: the new one's start
            self._note, self._change = None, 0
            self._begin(note[0], pitch, dip, rms, attack)
            return []
        boundary = self._frame - CHANGE_FRAMES + 1
        out = self._end(boundary - self._glide_frames())
        if voiced:  # the new pitch's frames so far start the next note
            self._begin(boundary, pitch, dip, rms, attack)
        return out

    def _blend(self, note: list, new: int) -> bool:
        # whether a short note between two others is their blend: the last note's release
        # over the next one's attack repeats at the period they share, heard as a pitch an
        # octave or more below both (a fifth's blend sounds an octave below the lower note)
        if self._frame - note[0] > BLEND_FRAMES or note[0] - self._before[1] > 1:
            return False
        low = round(float(np.median(note[1])))
        before = self._before[0]
        return before != new and before - low in HARMONICS and new - low in HARMONICS

    def _glide_frames(self) -> int:
        # frames at the note's end that glide away from its pitch, each further than the one
        # before (a release, the slide into the next note): they are not the note's
        pitches = self._note[1]
        centre = float(np.median(pitches))
        away = [abs(p - centre) for p in pitches]
        glide = 0
        while (
            glide < min(GLIDE_FRAMES, len(pitches) - GLIDE_KEEPS)
            and away[-1 - glide] > GLIDE_SEMITONES
            and (glide == 0 or away[-1 - glide] < away[-glide])
        ):
            glide += 1
        return glide

    def _attack_frames(self, attack: float) -> int:
        # frames before this one (the first voiced) that are its attack: not in a note, sound,
        # each no louder than the next (give or take ATTACK_SLACK)
        back, level = 0, attack
        floor = max(SILENCE, ATTACK_FLOOR * min(self._levels_seen, default=0.0))
        for in_note, earlier in reversed(self._recent):
            rose = floor < earlier <= ATTACK_SLACK * level
            if in_note or not rose or back == ATTACK_FRAMES:
                break
            back, level = back + 1, earlier
        return back

    def _begin(self, frame: int, pitch: float, dip: float, rms: float, attack: float) -> None:
        self._note = [frame, [pitch], [dip], rms]
        self._peak = self._trough = attack
        self._trough_frame = frame

    def _end(self, stop: int) -> list[Note]:
        # The note ends before frame `stop`: finished, or held when it is an ornament.
        note, self._note, self._change = self._note, None, 0
        if note is None:
            return []
        onset = _frame_time(note[0]) - _FRAME_SECONDS
        offset = _frame_time(stop) - _FRAME_SECONDS
        middle = float(np.median(note[1]))
        pitch = int(round(middle))
        confidence = float(np.clip(1.0 - np.median(note[2]) / VOICED_DIP, 0.0, 1.0))
        if len(note[1]) >= TUNING_FRAMES:
            self._follow_tuning(middle - pitch)
        ended = Note(onset, offset, pitch, confidence, self.tuning)
        self._before = (pitch, stop)
        held, self._held = self._held, None
        joined = held is not None and abs(held.offset - onset) < 2 * _FRAME_SECONDS
        if joined and held.offset - held.onset >= MIN_NOTE and pitch - held.pitch not in HARMONICS:
            joined = False  # a note of few pitched frames, not this one's attack
        out = self._lone(held) if held is not None and not joined else []
        if offset - onset < MIN_NOTE or len(note[1]) <= UNDERTONE_FRAMES:
            # an ornament, or maybe the next note's attack: it leads into the next note;
            # two in a row: the first led into the second, which leads on with its time
            self._held = ended._replace(onset=held.onset) if joined else ended
            return out
        if joined:
            ended = ended._replace(onset=held.onset)  # the ornament's time is this note's
        return [*out, ended]

    def _follow_tuning(self, off: float) -> None:
        # a note sat `off` semitones above its name: the tuning moves toward it, the less the
        # nearer the note sat to halfway, where it might as well have had the other name
        weight = 1.0 - (2.0 * off) ** 2
        self._tuned_notes = min(self._tuned_notes + weight, TUNING_NOTES)
        moved = self.tuning + weight * off / (self._tuned_notes + TUNING_PRIOR)
        self.tuning = min(max(moved, -0.5), 0.5)

    def _let_go(self) -> list[Note]:
        # a short note held as an ornament that no note followed: it was a note of its own
        held = self._held
        if held is None or self._note is not None:
            return []
        if _frame_time(self._frame) - _FRAME_SECONDS - held.offset < 2 * _FRAME_SECONDS:
            return []
        self._held = None
        return self._lone(held)

    @staticmethod
    def _lone(note: Note) -> list[Note]:
        # a short note that leads into nothing: a note (a staccato, one a breath cut short)
        # when it lasted LONE_NOTE, else a blip
        return [note] if note.offset - note.onset >= LONE_NOTE else []


def as_json(notes) -> list[dict]:
    """Write notes as the JSON events give them: ``onset``, ``offset`` (s), ``pitch``."""
    return [
        {"onset": round(n.onset, 4), "offset": round(n.offset, 4), "pitch": n.pitch} for n in notes
    ]


def hear(
    samples, *, block: int = 512, phrases=None, read_ahead=None, answer=None
) -> tuple[list[Note], list]:
    """Hear a whole signal (22050 Hz, mono) block by block, as the engine's analysis does.

    Returns its notes and, with ``phrases`` (a
    :class:`~listener.transcribe.phrases.PhraseTracker`, asked after each block as the engine
    asks it), the phrases it ended. ``read_ahead(call, now)`` is called with each phrase
    offered ahead and ``answer(call, now)`` with each phrase as it ends, ``now`` the stream
    time (seconds); what they tell the tracker counts from the next block (a
    :class:`~listener.conversation.Conversation` tells it the beat from when its reading is
    done, on a clock that adds the reading's own time, and the bar lines at once).
    """
    from listener.transcribe.pitch import PitchTracker

    pitch, tracker = PitchTracker(), NoteTracker()
    samples = np.asarray(samples, dtype=np.float64)
    found: list[Note] = []
    calls = []
    for start in range(0, samples.shape[0], block):
        ended = tracker.process(pitch.process(samples[start : start + block]))
        found += ended
        if phrases is None:
            continue
        phrases.add(ended)
        now = min(start + block, samples.shape[0]) / SAMPLE_RATE
        heard = {"sounding": tracker.sounding, "last_sound": tracker.last_sound}
        call = phrases.check(now, current=tracker.current(), **heard)
        if call is not None:
            calls.append(call)
            if answer is not None:
                answer(call, now)
        else:  # as the engine asks, so that a call says when it was offered ahead
            offered = phrases.ahead(now, **heard)
            if offered is not None and read_ahead is not None:
                read_ahead(offered, now)
    return found + tracker.flush(), calls


def notes_of(samples, *, block: int = 512) -> list[Note]:
    """Hear the notes of a whole signal (22050 Hz, mono), as a stream is heard (:func:`hear`)."""
    return hear(samples, block=block)[0]

"""Hearing a melody: its pitch frame by frame, its notes, then folk-rnn's tokens for them."""

from __future__ import annotations

from listener.transcribe.notes import Note, NoteTracker, notes_of
from listener.transcribe.pitch import PitchFrames, PitchTracker, track_pitch

__all__ = ["Note", "NoteTracker", "PitchFrames", "PitchTracker", "notes_of", "track_pitch"]

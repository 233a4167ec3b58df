"""Hearing a melody: its pitch frame by frame, then its notes (issue 14's first stage)."""

from __future__ import annotations

from listener.transcribe.notes import Note, NoteTracker
from listener.transcribe.pitch import PitchFrames, PitchTracker, track_pitch

__all__ = ["Note", "NoteTracker", "PitchFrames", "PitchTracker", "track_pitch"]

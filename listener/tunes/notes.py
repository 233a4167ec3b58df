"""What tunes are made of once read: notes in beats, and bars as written."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI pitch, onset and duration in beats (quarter notes) from the tune's start."""

    pitch: int
    onset: Fraction
    duration: Fraction

    @property
    def end(self) -> Fraction:
        """When the note stops, in beats."""
        return self.onset + self.duration


@dataclass(frozen=True)
class Bar:
    """One bar as written (repeats not expanded): its length, closing bar line and meter.

    ``length`` is in eighths (units of L:1/8); ``closing`` is the bar line that ends it (``""``
    for a last bar with none); ``meter`` is the meter token in force where it ends.
    """

    length: Fraction
    closing: str
    meter: str

"""Where a musician's phrase ends: after a rest as long as a beat, or after N bars (trading).

Notes come in as they end (:class:`~listener.transcribe.notes.NoteTracker`); the tracker is
asked, each block, whether the phrase is over:

* **By rest** (the default): no note sounds, and the last note or sound above the room's floor
  ended three quarters of a beat ago, or ``gap`` seconds when the player says. Until a reading
  has said where the beat is, the phrase's running notes (the median inter-onset interval)
  stand for eighths; once one has (:meth:`PhraseTracker.keep_beat`: the phrase read ahead, or
  the one before), the rest is no longer than three quarters of its beat, so that a tune in
  quarter notes (a waltz) does not wait a beat and a half. A breath or a change of bow (tens
  of milliseconds) is far shorter, so it never ends a phrase.
* **By bars** (trading, ``bars=N``): once the machine knows the bar line's place and length
  (:meth:`PhraseTracker.keep_time`), a phrase is the N bars from the bar line nearest its
  first note (a pickup leads into the first of them), whether the player rests or not. It
  is handed over ``LEAD`` seconds before its last bar line, with the note then sounding, so
  that the answer can start on that downbeat. The bar lines are read while the phrase is
  played: every ``OFFER_NOTES`` notes the phrase so far is offered to be read
  (:meth:`PhraseTracker.ahead`), and the bar lines its reading foresees
  (:meth:`PhraseTracker.foresee`) are kept, so that the first phrase too is N bars and the
  cut follows the player's tempo as it is now, not as it was a phrase ago. Until a reading
  of the first phrase has heard ``N - 1`` bars (an early one may take the meter wrong), it
  ends by rest.

A "phrase" of fewer than ``MIN_NOTES`` notes is a stray sound (a cough, a bump) and is dropped.

**Reading ahead.** Once a rest has lasted ``READ_AHEAD`` of the rest that would end the phrase,
:meth:`PhraseTracker.ahead` offers the phrase so far, once, to be read while the rest goes on;
the phrase that then ends with the same notes says when it was offered (``Call.ahead``), and
the answer need not wait for its reading. In trading it offers the phrase while it is played
as well, for its bar lines (``Call.playing``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from listener.transcribe.notes import Note

#: The rest that ends a phrase, in the phrase's running notes (its median inter-onset interval:
#: the eighths of folk tunes): a dotted eighth, three quarters of a beat. A breath or a bow
#: change is a third of that or less.
REST_EIGHTHS = 1.5
#: Once a reading has said the beat (:meth:`PhraseTracker.keep_beat`), the rest that ends a
#: phrase is at most this many of the meter's beats.
REST_BEATS = 0.75
#: Notes a phrase needs; fewer are dropped.
MIN_NOTES = 4
#: The beat by rest, in seconds, is held to this range (a phrase of long notes or fast ones).
SHORTEST_GAP, LONGEST_GAP = 0.25, 1.2
#: A note this close before a bar line belongs to the bar it leads into (seconds).
EARLY = 0.06
#: Trading: seconds before the bar line that ends a phrase at which it is handed over (the
#: answer's work, and a margin).
LEAD = 0.15
#: The share of the rest that ends a phrase after which the phrase so far is offered to be
#: read ahead. The reading with the composer's judgement takes about 95 ms (150 at p95): from
#: a third of the way, 8 of the 209 validation calls were read after their rest had ended, not
#: 34 from halfway, and every answer started within two beats of the last note (99.5% from
#: halfway); no more false phrase ends (a rest ends a phrase, an offer does not).
READ_AHEAD = 0.35
#: Trading: the phrase so far is offered to be read for its bar lines once it has
#: ``2 * OFFER_NOTES`` notes, and again every ``OFFER_NOTES`` more (half a bar of a reel's
#: eighths; a reading takes about 95 ms of the composer's process).
OFFER_NOTES = 4
#: Trading: a reading of the phrase so far that places its bar lines further than this share
#: of a bar from those kept, or whose bar is further than this (log ratio) from theirs, reads
#: another downbeat or tempo (a beat is a quarter of a 4/4 bar, a third of 3/4's): not taken.
AGREE = 0.125


class Call(NamedTuple):
    """A phrase the musician played: its notes, and when (stream seconds) it was over.

    ``ended`` is the time the tracker saw it end: a beat after the last note-off when by
    rest, the bar line when by bars. ``downbeat`` is that bar line (by bars), else None.
    ``bars``: in trading, the bars the player said a phrase is (a phrase that ended by rest
    too), for the reading to weigh; else None. ``ahead``: when (stream seconds) the
    same notes were offered to be read ahead (:meth:`PhraseTracker.ahead`); else None.
    ``playing``: offered while the phrase is still being played (trading), to be read for
    its bar lines (:meth:`PhraseTracker.foresee`); not a phrase to answer.
    """

    notes: list[Note]
    ended: float
    downbeat: float | None
    bars: int | None = None
    ahead: float | None = None
    playing: bool = False


class PhraseTracker:
    """Collect notes; say when the phrase they make is over (see the module doc).

    Parameters
    ----------
    gap : float, optional
        Seconds of rest that end a phrase; one beat of the phrase's pace without it.
    bars : int, optional
        Trading: a phrase is this many bars, once the bar lines are known.
    """

    def __init__(self, *, gap: float | None = None, bars: int | None = None) -> None:
        if gap is not None and not gap > 0:
            raise ValueError(f"gap {gap:g}: seconds of rest, above 0")
        if bars is not None and bars < 1:
            raise ValueError(f"bars {bars}: at least 1")
        self.gap = gap
        self.bars = bars
        self.notes: list[Note] = []
        self._handed = -math.inf  # notes that began before this went with a phrase already
        self._bars_at: tuple[float, float] | None = None  # a bar line (stream s), a bar's s
        self._offered: tuple[int, float] | None = None  # notes offered ahead, and when
        self._offered_played = 0  # notes offered while played (trading)
        self._beat: tuple[float, float] | None = None  # a reading's beat (s), and known since

    def reset(self) -> None:
        """Forget the notes so far (a new stream); where bar lines and beats fall is kept."""
        self.notes, self._offered, self._offered_played = [], None, 0

    def keep_time(self, bar_line: float, bar_seconds: float) -> None:
        """Know where bar lines fall from now on: one at ``bar_line``, every ``bar_seconds``."""
        if not bar_seconds > 0:
            raise ValueError(f"bar of {bar_seconds:g} s: above 0")
        self._bars_at = (float(bar_line), float(bar_seconds))  # at once: another thread reads it

    def foresee(self, bar_line: float, bar_seconds: float, *, bars_heard: int) -> None:
        """Take the bar lines a reading of the phrase so far foresees (trading; else nothing).

        ``bars_heard``: the whole bars that reading heard. The first phrase's bar lines are
        taken once a reading has heard ``bars - 1`` of them (its meter is then sure enough to
        end the phrase by). Once bar lines are kept, a reading brings them up to date where
        it agrees with them within ``AGREE`` of a bar, and its bar within ``AGREE`` of
        theirs: a reading of a few bars may place its bar lines a beat off, which the
        phrases before did not.
        """
        if self.bars is None:
            return
        if self._bars_at is None:
            if bars_heard < max(self.bars - 1, 1):
                return
        else:  # the bar lines kept, brought up to date: not moved a beat, nor another tempo
            kept_line, kept_bar = self._bars_at
            off = (bar_line - kept_line) / kept_bar
            if abs(off - round(off)) > AGREE or abs(math.log(bar_seconds / kept_bar)) > AGREE:
                return
        self.keep_time(bar_line, bar_seconds)

    def keep_beat(self, beat_seconds: float, *, known_at: float) -> None:
        """Know the beat (seconds) from stream time ``known_at`` on (a reading's, done then).

        The rest that ends a phrase is from then on at most ``REST_BEATS`` of it.
        """
        if not beat_seconds > 0:
            raise ValueError(f"beat of {beat_seconds:g} s: above 0")
        self._beat = (float(beat_seconds), float(known_at))

    def add(self, notes: list[Note]) -> None:
        """Take notes that have ended (but those of a phrase already handed over)."""
        self.notes += [n for n in notes if n.onset >= self._handed]

    def rest_needed(self, now: float = math.inf) -> float:
        """Seconds of rest that end the phrase so far, as known at stream time ``now``."""
        if self.gap is not None:
            return self.gap
        onsets = [n.onset for n in self.notes]
        rest = REST_EIGHTHS * float(np.median(np.diff(onsets))) if len(onsets) > 2 else math.inf
        if self._beat is not None and now >= self._beat[1]:
            rest = min(rest, REST_BEATS * self._beat[0])
        return min(max(rest, SHORTEST_GAP), LONGEST_GAP)

    def check(
        self,
        now: float,
        *,
        sounding: bool,
        last_sound: float = -1.0,
        current: Note | None = None,
    ) -> Call | None:
        """Return the phrase if it is over at stream time ``now``; None while it goes on.

        ``sounding``: a note is being played now (not yet ended); ``last_sound``: when sound
        above the room's floor was last heard (a note the tracker could not name is no rest);
        ``current``: the note sounding, as far as it has (trading hands it over with it).
        """
        if self._by_bar_lines:
            return self._by_bars(now, current)
        if not self.notes or self._rest(now, sounding, last_sound) < self.rest_needed(now):
            return None
        return self._take(now, None, before=math.inf)

    def ahead(self, now: float, *, sounding: bool, last_sound: float = -1.0) -> Call | None:
        """Offer the phrase so far to be read ahead, once for its notes; else None.

        It is offered once a rest has lasted ``READ_AHEAD`` of the rest that ends it. In
        trading, it is offered while played too, every ``OFFER_NOTES`` notes
        (``Call.playing``, with no bars told: it is not all played yet); once the bar lines
        are known, only so.
        """
        heard = len(self.notes)
        if self.bars is not None and heard >= max(self._offered_played, OFFER_NOTES) + OFFER_NOTES:
            self._offered_played = heard
            return Call(list(self.notes), now, None, None, playing=True)
        if self._by_bar_lines or heard < MIN_NOTES:
            return None
        if self._offered is not None and self._offered[0] == heard:
            return None
        if self._rest(now, sounding, last_sound) < READ_AHEAD * self.rest_needed(now):
            return None
        self._offered = (len(self.notes), now)
        return Call(list(self.notes), now, None, self.bars)

    @property
    def _by_bar_lines(self) -> bool:
        # trading, once the bar lines are known: phrases end at them, not by rest
        return self.bars is not None and self._bars_at is not None

    def _rest(self, now: float, sounding: bool, last_sound: float) -> float:
        # seconds since the last note or sound above the room's floor; 0 while a note sounds
        if sounding:
            return 0.0
        return now - max(self.notes[-1].offset, last_sound)

    def _by_bars(self, now: float, current: Note | None) -> Call | None:
        heard = self.notes + ([current] if current is not None else [])
        if not heard:
            return None
        bar_line, bar = self._bars_at
        start = bar_line + bar * round((heard[0].onset - bar_line) / bar)
        end = start + self.bars * bar
        if now < end - LEAD:
            return None
        if current is not None and current.onset < end - EARLY:
            self.notes.append(current)  # handed over as far as it has sounded
        self._handed = end - EARLY  # what begins before the bar line went with this phrase
        return self._take(now, end, before=end - EARLY)

    def _take(self, ended: float, downbeat: float | None, *, before: float) -> Call | None:
        notes = [n for n in self.notes if n.onset < before]
        self.notes = [n for n in self.notes if n.onset >= before]
        offered, self._offered, self._offered_played = self._offered, None, 0
        if len(notes) < MIN_NOTES:
            return None
        ahead = offered[1] if offered is not None and offered[0] == len(notes) else None
        return Call(notes, ended, downbeat, self.bars, ahead)

"""What call and response keeps from call to call, and how each phrase is read.

A :class:`Conversation` reads the phrases a player hands over
(:class:`~listener.transcribe.phrases.Call`) as folk-rnn tokens, with the melody profiles and
the composer's judgement: in the meter and key the player fixed, else as the phrase before had
them (tempo, meter and key carry from call to call). A trading phrase, cut at bar lines, is read
in the meter those bar lines were read in: a third of the reading's time, and it must be done
before the downbeat. The conversation tells the phrase tracker what its readings say: the beat
(the rest that ends a phrase is measured in it) and, in trading, where the bar lines fall, while
a phrase is played and once it is read. The composer answers through one; the evaluation times
answers through another, so that both read and tell alike.
"""

from __future__ import annotations

from collections.abc import Callable


class Conversation:
    """The readings of a conversation's phrases, and the phrase tracker they inform.

    Parameters
    ----------
    likelihood : callable, optional
        The composer's judgement of token sequences
        (:meth:`~listener.tunes.lstm.FolkLSTM.likelihood`); without it, the profiles alone.
    profiles : MelodyProfiles, optional
        The reader's profiles; the shipped ones, loaded on first use, without them.
    phrases : PhraseTracker, optional
        Told the beat and the bar lines the readings find (or a stand-in that sends them to
        the tracker in another process).
    """

    def __init__(self, likelihood=None, *, profiles=None, phrases=None) -> None:
        self.likelihood = likelihood
        self.profiles = profiles
        self.phrases = phrases
        self.readings: list = []  # every phrase answered, as read
        self._ahead = None  # a phrase read ahead: what it was read from, the reading, when done
        self._foreseen = None  # trading: the last sure reading of a phrase as it was played

    def load(self) -> None:
        """Load the profiles and compile the reader (about a second, once), before a phrase."""
        from listener.transcribe.notes import Note
        from listener.transcribe.profiles import DEFAULT_PROFILES, MelodyProfiles
        from listener.transcribe.tokens import read_notes

        if self.profiles is None:
            self.profiles = MelodyProfiles.load(DEFAULT_PROFILES)
        read_notes(
            [Note(0.25 * i, 0.25 * i + 0.2, 62 + i % 3, 1.0) for i in range(6)],
            self.profiles,
            likelihood=self.likelihood,
        )

    def read_ahead(self, call, *, clock: Callable[[], float], meter=None, key=None):
        """Read a phrase offered before it is over; tell the tracker what the reading says.

        ``call``: from :meth:`~listener.transcribe.phrases.PhraseTracker.ahead`; ``clock``:
        the stream time now (called once the reading is done). A phrase offered in its rest
        is kept, to be answered from if it ends with the same notes, and the tracker told its
        beat; one offered while played (trading) tells the tracker its bar lines, unless the
        reading is in doubt about its meter. ``meter`` and ``key`` fix them (``M:6/8``,
        ``Dmix``). Returns the reading.
        """
        reading = self._read(call, meter, key)
        read_at = clock()
        if call.playing:
            if "meter" not in reading.ambiguity:  # no bar lines from a meter in doubt
                bar_line, bar_seconds, whole = reading.foreseen_bars()
                if self.phrases is not None:
                    self.phrases.foresee(bar_line, bar_seconds, bars_heard=whole)
                self._foreseen = reading
            return reading
        self._ahead = (self._key(call, meter, key), reading, read_at)
        if self.phrases is not None:  # the rest that ends the phrase is then of its beat
            self.phrases.keep_beat(reading.rest_beat_seconds, known_at=read_at)
        return reading

    def hear(self, call, *, clock: Callable[[], float], meter=None, key=None) -> tuple:
        """Read a phrase handed over to be answered, from its reading ahead where there is one.

        Returns the reading, the stream time it was done, and whether it was read ahead. The
        tracker is told the bar lines the phrase's end foresees and its beat.
        """
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == self._key(call, meter, key):
            reading, read_at, early = ahead[1], ahead[2], True  # read while the rest went on
        else:
            reading = self._read(call, meter, key)
            read_at, early = clock(), False
        self.readings.append(reading)
        if self.phrases is not None:
            bar_line, bar_seconds, _ = reading.foreseen_bars()
            self.phrases.keep_time(bar_line, bar_seconds)
            self.phrases.keep_beat(reading.rest_beat_seconds, known_at=read_at)
        return reading, read_at, early

    def _read(self, call, meter, key):
        # the phrase as folk-rnn tokens; meter and key as fixed, else likeliest as the phrase
        # before had them; in trading, in the meter its bar lines were read in (the phrase
        # before's, or the first phrase's own as it was played)
        from listener.transcribe.tokens import read_notes

        if self.profiles is None:
            self.load()
        last = self.readings[-1] if self.readings else None
        kept = last if last is not None or call.playing else self._foreseen
        if (call.downbeat is not None or call.playing) and meter is None and kept is not None:
            meter = kept.meter
        return read_notes(
            call.notes,
            self.profiles,
            meter=meter,
            key=key,
            carry=last,
            likelihood=self.likelihood,
            bars=call.bars,
        )

    def _key(self, call, meter, key) -> tuple:
        # what a reading depends on: the notes, the phrase before, what was fixed
        return (tuple(call.notes), len(self.readings), meter, key, call.bars)

"""The analysis path, one processor: resampling at the edge, GTZAN vectors, rolling genre.

Every user of the analysis goes through :class:`Analysis`: the live engine (a device, a file as
if live) and ``listener genres classify`` alike, so the same audio gives the same decisions
whichever way it comes in. A block at the source's rate goes in; the 30-dim GTZAN vectors of the
frames it completes (:class:`~listener.features.vector.GenreFeatures`) and the decision events
they cause (:class:`~listener.genres.online.OnlineGenre`) come out.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from listener.audio.guard import AudioGuard
from listener.audio.resampler import StreamResampler
from listener.config import SAMPLE_RATE
from listener.features.vector import GenreFeatures, GenreVectors
from listener.genres.online import OnlineGenre


class Heard(NamedTuple):
    """What one block brought: its GTZAN vectors and decision events, and the frames done.

    Attributes
    ----------
    vectors : GenreVectors
        Of the frames the block completed.
    events : list of dict
        Decision events (see :meth:`OnlineGenre.process <listener.genres.online.OnlineGenre>`).
    frames_before, frames_done : int
        Frames complete before and after the block: the block completed the frames
        ``frames_before .. frames_done - 1``.
    samples : int
        Samples at 22050 Hz the block became.
    notes : list of Note
        The melody's notes that ended in the block (with ``notes=True``; else empty).
    """

    vectors: GenreVectors
    events: list[dict]
    frames_before: int
    frames_done: int
    samples: int
    notes: list


class Analysis:
    """Audio in at any rate; GTZAN vectors and rolling genre decisions out (processor).

    Parameters
    ----------
    model : GenreModel
        The genre model.
    rate : int
        The source's sample rate in Hz; other than ``SAMPLE_RATE`` (22050) it is resampled
        here, by the same :class:`~listener.audio.resampler.StreamResampler` that reads files.
    window, decay, gate_db
        Of the rolling decision (see :class:`~listener.genres.online.OnlineGenre`).
    notes : bool
        Also hear the melody: its pitch (:class:`~listener.transcribe.PitchTracker`) and its
        notes as they end (:class:`~listener.transcribe.NoteTracker`).
    """

    def __init__(
        self,
        model,
        *,
        rate: int = SAMPLE_RATE,
        window: float = 10.0,
        decay: float | None = None,
        gate_db: float | None = -60.0,
        notes: bool = False,
    ) -> None:
        from listener.transcribe import NoteTracker, PitchTracker

        self.rate = rate
        self.features = GenreFeatures()
        self.online = OnlineGenre(model, window=window, decay=decay, gate_db=gate_db)
        self.melody = (PitchTracker(), NoteTracker()) if notes else None
        # a moment of silence now, so that every compiled step is compiled (or loaded from
        # numba's cache) before a stream's first block, not while it waits
        self.reset()
        self.process(np.zeros(4096, dtype=np.float32))
        self.reset()

    @property
    def rate(self) -> int:
        """The source's sample rate in Hz (set it when a device has said which)."""
        return self._rate

    @rate.setter
    def rate(self, rate: int) -> None:
        self._rate = int(rate)
        self.guard = AudioGuard(self._rate)
        self.resampler = StreamResampler(self._rate) if self._rate != SAMPLE_RATE else None

    def reset(self) -> None:
        """Start a new stream: no samples, no frames, no evidence, no decision."""
        if self.resampler is not None:
            self.resampler.reset()
        self.guard.reset()
        self.features.reset()
        self.online.reset()
        if self.melody is not None:
            for tracker in self.melody:
                tracker.reset()
        self.samples = 0  # at 22050 Hz, analysed so far
        self.last_vector: npt.NDArray[np.float64] | None = None

    @property
    def frames_done(self) -> int:
        """Frames complete so far."""
        return self.features.timbral.frames_done

    @property
    def seconds(self) -> float:
        """Stream time: seconds of audio analysed."""
        return self.samples / SAMPLE_RATE

    def resample(self, block: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Bring a block at the source's rate to 22050 Hz (no copy when it is there already).

        Bad samples are counted first (:class:`~listener.audio.guard.AudioGuard`), and
        non-finite ones become silence, so that none reaches the resampler or the features.
        """
        x = self.guard.check(np.asarray(block, dtype=np.float32))
        if self.resampler is None:
            return x
        return self.resampler.process(x)

    def process(self, block: npt.ArrayLike, *, resampled: bool = False) -> Heard:
        """Analyse the next block (any length).

        Parameters
        ----------
        block : array_like
            Mono samples at the source's rate, or at 22050 Hz with ``resampled``.
        resampled : bool
            The block went through :meth:`resample` already (to cut it to a duration first).
        """
        x = np.asarray(block, dtype=np.float32) if resampled else self.resample(block)
        before = self.frames_done
        vectors = self.features.process(x)
        events = self.online.process(vectors)
        self.samples += x.shape[0]
        if vectors.vectors.shape[0]:
            self.last_vector = vectors.vectors[-1]
        notes = []
        if self.melody is not None:
            pitch, tracker = self.melody
            notes = tracker.process(pitch.process(x))
        return Heard(vectors, events, before, self.frames_done, x.shape[0], notes)

"""Rolling genre decisions as the music plays (the ``OnlineGenre`` processor).

Each GTZAN vector (one per 23 ms frame) brings the class log-likelihoods of its texture window.
Consecutive windows overlap by 42 of their 43 frames, so each frame's log-likelihoods count for
1/43: a second of music weighs as one independent window, as in training. The evidence is the
sum over the last ``window`` seconds (or, with ``decay``, an exponentially fading sum), the
posterior its softmax. The decision changes only when another genre's posterior beats the
current one's by ``hysteresis``, so that it does not flicker between two close genres. An event
is emitted when the decision changes or its confidence moves by ``min_change``.

A posterior says which genre fits best, not whether any fits: far from everything the model was
trained on, one genre still takes nearly all of it. So each event also says how ``familiar`` the
music is: the share of the frames in the window whose best log-likelihood reaches that of the
least typical 1% of the training windows (1.0: like what it was taught; near 0: outside it).

Silence is not music of any genre, yet its vector, which leaves loudness out, would still be
decided (digital silence as jazz, faint hiss as metal, at full confidence), and a window that a
pause cuts into describes the cut more than the music. So a window whose quietest frame (see
:class:`~listener.features.vector.GenreVectors`) is below ``gate_db`` brings no evidence: the
decision and the window of evidence hold through pauses between pieces. One event says when
the music stops (``"quiet": true``); the next says when it is back.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import ConfigError
from listener.features.vector import GENRE_COLUMNS, GenreVectors
from listener.genres.base import log_normalise
from listener.genres.model import GenreModel


@nb.njit(
    "int64(float64[:, ::1], float64[:, ::1], float64[::1], float64[::1], int64[::1], "
    "float64[:, ::1], int64[:, ::1])",
    cache=True,
    nogil=True,
)
def _roll(scores, ring, evidence, settings, state, posterior, emitted):  # pragma: no cover
    # Add each row of scores to the rolling evidence and decide; returns how many rows emit an
    # event (their row and decision in emitted, their posteriors in posterior).
    # settings: [fade (1 for a window), hysteresis, min_change, last confidence said]
    # state: [frames seen, current decision (-1 none)]
    size, k = ring.shape
    fade = settings[0]
    events = 0
    p = np.empty(k)
    for r in range(scores.shape[0]):
        count = state[0]
        if fade < 1.0:
            for c in range(k):
                evidence[c] = evidence[c] * fade + scores[r, c]
        else:
            slot = count % size
            if slot == 0 and count >= size:  # the window has turned over: sum it afresh
                for c in range(k):
                    total = 0.0
                    for i in range(size):
                        total += ring[i, c]
                    evidence[c] = total
            for c in range(k):
                if count >= size:
                    evidence[c] -= ring[slot, c]
                evidence[c] += scores[r, c]
                ring[slot, c] = scores[r, c]
        state[0] = count + 1
        top = evidence[0]
        for c in range(1, k):
            top = max(top, evidence[c])
        norm = 0.0
        for c in range(k):
            p[c] = np.exp(evidence[c] - top)
            norm += p[c]
        best = 0
        for c in range(k):
            p[c] /= norm
            if p[c] > p[best]:
                best = c
        current = state[1]
        changed = False
        if current < 0 or (best != current and p[best] - p[current] > settings[1]):
            current = best
            state[1] = best
            changed = True
        if changed or abs(p[current] - settings[3]) >= settings[2]:
            settings[3] = p[current]
            posterior[events] = p
            emitted[events, 0] = r
            emitted[events, 1] = current
            events += 1
    return events


class OnlineGenre:
    """Rolling genre decisions from a stream of GTZAN vectors (processor).

    Parameters
    ----------
    model : GenreModel
        The classifier and its feature set.
    window : float
        Seconds of evidence summed (default 10). Ignored with ``decay``.
    decay : float, optional
        Time constant in seconds of an exponentially fading sum instead of a window.
    hysteresis : float
        Posterior margin another genre needs over the current decision to replace it.
    min_change : float
        Change of confidence that is worth an event.
    gate_db : float or None
        Windows with a frame quieter than this (RMS, dBFS) bring no evidence (default -60; no
        frame of gtzan-mini's 100 clips is below -58). None: every window counts.
    """

    def __init__(
        self,
        model: GenreModel,
        *,
        window: float = 10.0,
        decay: float | None = None,
        hysteresis: float = 0.1,
        min_change: float = 0.05,
        gate_db: float | None = -60.0,
    ) -> None:
        if window <= 0 or (decay is not None and decay <= 0):
            raise ConfigError("window and decay must be positive numbers of seconds")
        self.model = model
        self.gate_db = gate_db
        self.labels = model.labels
        self.hysteresis = hysteresis
        self.min_change = min_change
        self.decay = decay
        self._fade = math.exp(-FRAME / SAMPLE_RATE / decay) if decay else 1.0
        self._size = max(1, int(round(window * SAMPLE_RATE / FRAME)))
        self._ring = np.zeros((self._size, len(self.labels)))
        self.reset()
        # pay the compiled scoring's first-call cost now, not on the first frame of a stream
        self.process(GenreVectors(0, np.zeros((1, len(GENRE_COLUMNS)))))
        self.reset()

    def reset(self) -> None:
        """Forget the evidence and the decision."""
        self._familiar = np.zeros(self._size, dtype=bool)
        self._familiar_count = 0
        self._ring[:] = 0.0
        self._evidence = np.zeros(len(self.labels))
        self._settings = np.array([self._fade, self.hysteresis, self.min_change, -1.0])
        self._state = np.array([0, -1], dtype=np.int64)
        self._quiet = False

    @property
    def decision(self) -> str | None:
        """The current genre, or None before the first vector."""
        return None if self._state[1] < 0 else self.labels[self._state[1]]

    @property
    def familiar(self) -> float:
        """Share of the window's frames that are like the training data (1 before any frame)."""
        heard = min(int(self._state[0]), self._size)
        return self._familiar_count / heard if heard else 1.0

    @property
    def quiet(self) -> bool:
        """Whether the last window was below the gate (the decision is held)."""
        return self._quiet

    @property
    def confidence(self) -> float:
        """The current decision's posterior."""
        return 0.0 if self._state[1] < 0 else self.posterior[self.decision]

    @property
    def posterior(self) -> dict[str, float]:
        """Current posterior of each genre."""
        return dict(zip(self.labels, map(float, self._posterior_now()), strict=True))

    def process(self, vectors: GenreVectors) -> list[dict]:
        """Take new vectors; return the decision events they cause (maybe none).

        Each event: ``{"t": stream seconds, "genre": ..., "confidence": ..., "familiar": ...,
        "quiet": ..., "posterior": {...}}``.
        """
        n = vectors.vectors.shape[0]
        if n == 0:
            return []
        if self.gate_db is None or vectors.levels is None:
            return self._heard(vectors.vectors, vectors.start)
        loud = vectors.levels >= self.gate_db
        if loud.all():  # music going on: the common case, kept quick
            return self._heard(vectors.vectors, vectors.start)
        events = []
        # runs of loud and of quiet windows, in order
        edges = np.flatnonzero(np.diff(loud.astype(np.int8))) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, n], strict=True):
            if loud[lo]:
                events += self._heard(vectors.vectors[lo:hi], vectors.start + int(lo))
            elif not self._quiet:
                self._quiet = True
                if self._state[1] >= 0:
                    frame = vectors.start + int(lo)
                    p = self._posterior_now()
                    events.append(self._event(frame, p, int(self._state[1]), self.familiar))
        return events

    def _posterior_now(self) -> np.ndarray:
        return np.exp(log_normalise(self._evidence))

    def _event(self, frame: int, p: np.ndarray, decided: int, familiar: float) -> dict:
        return {
            "t": round((frame + 1) * FRAME / SAMPLE_RATE, 4),
            "genre": self.labels[decided],
            "confidence": round(float(p[decided]), 4),
            "familiar": round(familiar, 3),
            "quiet": self._quiet,
            "posterior": {g: round(float(v), 4) for g, v in zip(self.labels, p, strict=True)},
        }

    def _heard(self, rows: np.ndarray, start: int) -> list[dict]:
        # windows loud enough to count: their evidence, and the events it causes
        n = rows.shape[0]
        if self._quiet:  # back from a pause: say so with the next decision
            self._quiet = False
            self._settings[3] = -1.0
        log_likelihood = self.model.log_likelihood(rows)
        familiar = self._familiar_share(log_likelihood.max(axis=1))
        scores = log_likelihood * (1.0 / TEXTURE_FRAMES)
        posterior = np.empty((n, len(self.labels)))
        emitted = np.empty((n, 2), dtype=np.int64)
        count = _roll(
            scores, self._ring, self._evidence, self._settings, self._state, posterior, emitted
        )
        return [
            self._event(
                start + int(emitted[e, 0]),
                posterior[e],
                int(emitted[e, 1]),
                float(familiar[emitted[e, 0]]),
            )
            for e in range(count)
        ]

    def _familiar_share(self, best: np.ndarray) -> np.ndarray:
        # share of familiar frames in the window after each of these frames
        floor = self.model.familiar_floor
        flags = best >= (-np.inf if floor is None else floor)
        shares = np.empty(best.size)
        seen = int(self._state[0])
        for i, flag in enumerate(flags):
            slot = (seen + i) % self._size
            if seen + i >= self._size:
                self._familiar_count -= int(self._familiar[slot])
            self._familiar[slot] = flag
            self._familiar_count += int(flag)
            shares[i] = self._familiar_count / min(seen + i + 1, self._size)
        return shares

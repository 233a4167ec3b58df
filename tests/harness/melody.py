"""A melody played by a flute-like voice, and what mir_eval makes of what was heard of it."""

from __future__ import annotations

import numpy as np

from listener.config import SAMPLE_RATE
from tests.harness import need_module


def voice(notes, tempo: float, *, seed: int = 0, breath: float = 0.02) -> np.ndarray:
    """A flute-like voice: five harmonics, soft attack, a breath of silence between notes."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / tempo
    end = max(float(n.end) for n in notes) * beat + 0.5
    out = np.zeros(int(end * SAMPLE_RATE))
    for n in notes:
        start = int(float(n.onset) * beat * SAMPLE_RATE)
        length = int(max(float(n.duration) * beat - breath, 0.03) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        f = 440.0 * 2 ** ((n.pitch - 69) / 12)
        tone = sum(
            a * np.sin(2 * np.pi * k * f * t) for k, a in enumerate((1, 0.5, 0.3, 0.15, 0.1), 1)
        )
        envelope = np.minimum(1.0, t / 0.015) * np.minimum(1.0, (length - np.arange(length)) / 200)
        out[start : start + length] += 0.3 * tone * envelope
    out += 1e-3 * rng.standard_normal(out.size)
    return out.astype(np.float32)


def reference(notes, tempo: float, breath: float = 0.02):
    """The notes as mir_eval takes them: intervals in seconds, pitches in Hz."""
    beat = 60.0 / tempo
    intervals = np.array([[float(n.onset) * beat, float(n.end) * beat - breath] for n in notes])
    hz = np.array([440.0 * 2 ** ((n.pitch - 69) / 12) for n in notes])
    return intervals, hz


def scores(notes, found, tempo: float, breath: float) -> tuple[float, float]:
    """COnP and COnPOff (mir_eval's defaults: onsets 50 ms, pitch 50 cents, offsets 20%)."""
    mir_eval = need_module("mir_eval")
    ref_intervals, ref_hz = reference(notes, tempo, breath)
    est_intervals = np.array([[n.onset, n.offset] for n in found])
    est_hz = np.array([440.0 * 2 ** ((n.pitch - 69) / 12) for n in found])
    score = mir_eval.transcription.precision_recall_f1_overlap
    conp = score(ref_intervals, ref_hz, est_intervals, est_hz, offset_ratio=None)[2]
    return conp, score(ref_intervals, ref_hz, est_intervals, est_hz)[2]

"""A small deterministic synthesiser: the built-in signal of the demo and the benchmark.

It needs no sound card and no data files, and it changes character every few seconds (a plucked
melody, then drums, then a held chord over noise) so that the features have something to show.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.config import SAMPLE_RATE

#: D dorian, two octaves, as MIDI note numbers.
_SCALE = np.array([62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79, 81])
_BEAT = 0.5  # seconds per beat, 120 BPM


def midi_to_hz(note: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Equal-tempered frequency in Hz of MIDI note numbers (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def pluck(freq: float, seconds: float, rate: int = SAMPLE_RATE, decay: float = 4.0):
    """Synthesise a plucked tone: six harmonics, the higher ones dying faster.

    Returns
    -------
    numpy.ndarray
        float64, ``round(seconds * rate)`` samples, peak about 0.5.
    """
    t = np.arange(int(round(seconds * rate))) / rate
    out = np.zeros_like(t)
    for h in range(1, 7):
        if h * freq < rate / 2:
            out += np.sin(2 * np.pi * h * freq * t) * np.exp(-decay * h * t) / h
    return 0.5 * out / 2.45


def _add(target: np.ndarray, start: int, sound: np.ndarray) -> None:
    end = min(target.shape[0], start + sound.shape[0])
    if end > start:
        target[start:end] += sound[: end - start]


def demo_signal(seconds: float = 8.0, seed: int = 0, rate: int = SAMPLE_RATE):
    """Synthesise the built-in performance: melody, then drums, then a chord over noise.

    The sections take a third of ``seconds`` each. The same arguments always give the same samples.

    Parameters
    ----------
    seconds : float
        Length in seconds.
    seed : int
        Seed of the melody and the noise.
    rate : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        float32 mono, ``round(seconds * rate)`` samples within [-1, 1].
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    out = np.zeros(n)
    third = seconds / 3.0
    step = _BEAT / 2  # eighth notes
    t = 0.0
    degree = 4
    while t < 2 * third:  # melody through the first two sections: a random walk on the scale
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, _SCALE.size - 1))
        _add(out, int(t * rate), pluck(midi_to_hz(_SCALE[degree]), 4 * step, rate))
        t += step
    beats = np.arange(third, 2 * third, _BEAT)
    kick_t = np.arange(int(0.15 * rate)) / rate
    kick = 0.6 * np.sin(2 * np.pi * (60 * kick_t + 200 * (1 - np.exp(-kick_t * 30)) / 30))
    kick *= np.exp(-kick_t * 25)
    for b in beats:  # kick on the beat, a bright noise burst between
        _add(out, int(b * rate), kick)
        hat = rng.standard_normal(int(0.05 * rate)) * np.exp(-np.arange(int(0.05 * rate)) / 200)
        _add(out, int((b + _BEAT / 2) * rate), 0.15 * np.diff(hat, prepend=0.0))
    start = int(2 * third * rate)
    if start < n:
        t_chord = np.arange(n - start) / rate
        for note in (50, 57, 62, 65, 69):  # D minor, held
            out[start:] += 0.08 * np.sin(2 * np.pi * midi_to_hz(note) * t_chord)
        out[start:] += 0.02 * rng.standard_normal(n - start)
    out += 1e-4 * rng.standard_normal(n)  # a room's noise floor (-80 dB), as a microphone hears
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def render_notes(
    notes, tempo: float, seconds: float | None = None, rate: int = SAMPLE_RATE, seed: int = 0
) -> npt.NDArray[np.float32]:
    """Play notes (onsets and durations in beats) on the plucked voice, with a kick on the beat.

    Parameters
    ----------
    notes : iterable of NoteEvent
        From :func:`listener.tunes.interpret.interpret`.
    tempo : float
        Quarter notes per minute.
    seconds : float, optional
        Length; the notes' own length (and a second of ring) without it.
    rate : int
        Sample rate in Hz.
    seed : int
        Seed of the noise floor.

    Returns
    -------
    numpy.ndarray
        float32 mono within [-1, 1].
    """
    beat = 60.0 / tempo
    notes = list(notes)
    end = max((float(n.end) for n in notes), default=0.0) * beat + 1.0
    n = int(round((seconds if seconds is not None else end) * rate))
    out = np.zeros(n)
    for note in notes:
        length = min(float(note.duration) * beat + 0.3, 2.0)
        _add(out, int(float(note.onset) * beat * rate), pluck(midi_to_hz(note.pitch), length, rate))
    kick_t = np.arange(int(0.12 * rate)) / rate
    kick = 0.4 * np.sin(2 * np.pi * 55 * kick_t) * np.exp(-kick_t * 30)
    for b in np.arange(0.0, n / rate, beat):
        _add(out, int(b * rate), kick)
    out += 1e-4 * np.random.default_rng(seed).standard_normal(n)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


#: Built-in melodic voices: relative amplitudes of the harmonics, breath noise, attack seconds.
VOICES = {
    "flute": ((1.0, 0.45, 0.2, 0.1, 0.05), 0.03, 0.03),
    "fiddle": (tuple(1.0 / k for k in range(1, 13)), 0.004, 0.05),
    "whistle": ((1.0, 0.12, 0.04), 0.05, 0.015),
    "voice": ((0.5, 1.0, 0.8, 0.3, 0.45, 0.25, 0.1, 0.05), 0.01, 0.06),
}


def render_melody(
    notes,
    *,
    voice: str = "flute",
    vibrato_cents: float = 0.0,
    seed: int = 0,
    rate: int = SAMPLE_RATE,
) -> npt.NDArray[np.float32]:
    """Synthesise a melody: each note ``(onset s, offset s, MIDI pitch)`` in a melodic voice.

    Additive synthesis with a soft attack and release, breath noise in the voice's measure,
    and vibrato of ``vibrato_cents`` at 5.5 Hz (each note at its own phase). Deterministic for
    a seed.
    """
    if voice not in VOICES:
        raise ValueError(f"voice {voice!r} is not one of {', '.join(VOICES)}")
    harmonics, breath, attack = VOICES[voice]
    rng = np.random.default_rng(seed)
    end = max(float(n[1]) for n in notes) + 0.3
    out = np.zeros(int(end * rate))
    for onset, offset, pitch in ((float(n[0]), float(n[1]), n[2]) for n in notes):
        start, length = int(onset * rate), max(int((offset - onset) * rate), 1)
        t = np.arange(length) / rate
        cents = vibrato_cents * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(midi_to_hz(pitch) * 2 ** (cents / 1200)) / rate
        tone = sum(
            a * np.sin(k * phase)
            for k, a in enumerate(harmonics, 1)
            if k * midi_to_hz(pitch) < rate / 2
        )
        tone = tone / sum(harmonics) + breath * rng.standard_normal(length)
        envelope = np.minimum(1.0, t / attack) * np.minimum(
            1.0, (length - np.arange(length)) / (0.01 * rate)
        )
        _add(out, start, 0.4 * tone * envelope)
    return out.astype(np.float32)

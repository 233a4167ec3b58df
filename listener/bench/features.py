"""``listener bench features``: the feature engine, streaming and offline, against its anchors.

It streams a 30 s clip one 512-sample block per call and reports the per-frame cost (frame
features and texture update), the offline path's cost per frame, and, in the same run, the
anchors: the same features in plain numpy one frame per call (what the compiled kernel saves),
and librosa with one STFT shared by all features (when librosa is installed).
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from listener.config import FRAME, N_MELS, N_MFCC, POWER_FLOOR, ROLLOFF, SAMPLE_RATE, SILENCE
from listener.features import FeatureExtractor, extract
from listener.features.filters import bin_frequencies, dct_matrix, hann, mel_filterbank

from .timing import best_seconds, table


def _stream_timings(x: npt.NDArray[np.float32], passes: int) -> tuple[float, npt.NDArray]:
    # Per-call times in microseconds of FeatureExtractor.process on 512-sample blocks, one row
    # per pass over the clip; the very first call of a fresh extractor is returned apart (it
    # must pay no compilation).
    n = x.shape[0] // FRAME
    blocks = [np.ascontiguousarray(x[i * FRAME : (i + 1) * FRAME]) for i in range(n)]
    clock = time.perf_counter_ns
    fx = FeatureExtractor()
    t0 = clock()
    fx.process(blocks[0])
    first = (clock() - t0) / 1e3
    out = np.empty((passes, n))
    for p in range(passes):
        fx.reset()
        for i, block in enumerate(blocks):
            t0 = clock()
            fx.process(block)
            out[p, i] = clock() - t0
    return first, out / 1e3


class _NumpyFrames:
    # The same frame features in plain numpy, one frame per call: the anchor that shows what
    # compiling the frame kernel buys.
    def __init__(self) -> None:
        self.window = hann(FRAME)
        self.freqs = bin_frequencies()
        self.mel = mel_filterbank()
        self.dct = dct_matrix(N_MFCC + 1, N_MELS)[1:]
        self.prev: npt.NDArray | None = None

    def __call__(self, frame: npt.NDArray) -> npt.NDArray:
        x = frame.astype(np.float64)
        zcr = np.count_nonzero(np.diff(x >= 0)) / FRAME
        rms = np.sqrt(np.mean(x * x))
        spec = np.fft.rfft(x * self.window)
        power = spec.real**2 + spec.imag**2
        mag = np.sqrt(power)
        total = mag.sum()
        if total < SILENCE:
            norm = np.zeros_like(mag)
            centroid = rolloff = 0.0
        else:
            norm = mag / total
            centroid = self.freqs @ norm
            rolloff = self.freqs[np.searchsorted(np.cumsum(mag), ROLLOFF * total)]
        flux = 0.0 if self.prev is None else float(((norm - self.prev) ** 2).sum())
        self.prev = norm
        mfcc = self.dct @ (10 * np.log10(np.maximum(self.mel @ power, POWER_FLOOR)))
        return np.r_[zcr, centroid, rolloff, flux, mfcc, rms]


def librosa_features(y: npt.NDArray[np.floating]) -> int:
    """Compute the frame features with librosa, one STFT shared; return the frame count."""
    import librosa

    sr = SAMPLE_RATE
    mag = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=FRAME, window="hann", center=False))
    librosa.feature.spectral_centroid(S=mag, sr=sr, n_fft=FRAME)
    librosa.feature.spectral_rolloff(S=mag, sr=sr, n_fft=FRAME, roll_percent=ROLLOFF)
    norm = mag / np.maximum(mag.sum(axis=0, keepdims=True), SILENCE)
    np.sum(np.diff(norm, axis=1) ** 2, axis=0)
    mel = librosa.feature.melspectrogram(S=mag**2, sr=sr, n_fft=FRAME, n_mels=N_MELS, fmax=sr / 2)
    db = librosa.power_to_db(mel, ref=1.0, amin=POWER_FLOOR, top_db=None)
    librosa.feature.mfcc(S=db, n_mfcc=N_MFCC + 1)
    librosa.feature.zero_crossing_rate(y, frame_length=FRAME, hop_length=FRAME, center=False)
    librosa.feature.rms(y=y, frame_length=FRAME, hop_length=FRAME, center=False)
    return mag.shape[1]


def bench_features(
    samples: npt.NDArray[np.float32], passes: int = 5, repeat: int = 7
) -> dict[str, float | int | str | None]:
    """Measure the feature engine on ``samples`` (mono, 22050 Hz).

    Parameters
    ----------
    samples : numpy.ndarray
        The clip; 30 s gives 1291 frames.
    passes : int
        Passes of the streaming measurement over the clip (each frame timed on each pass).
    repeat : int
        Runs of each offline measurement; the best is reported.

    Returns
    -------
    dict
        ``stream_us_p50``, ``stream_us_p99``, ``stream_us_max``, ``stream_us_first``,
        ``offline_us_per_frame``, ``offline_1thread_us_per_frame``, ``numpy_stream_us_p50``,
        ``librosa_us_per_frame`` and ``speedup_vs_librosa`` (None without librosa), ``frames``,
        ``passes``. On a shared machine other tenants steal time in bursts: the percentiles are
        taken per pass and the median pass reported (the max is over all passes); the offline
        figures, ours and librosa's alike, are the best of ``repeat`` runs.
    """
    x = np.ascontiguousarray(samples, dtype=np.float32)
    n = x.shape[0] // FRAME
    first, stream = _stream_timings(x, passes)
    offline = best_seconds(lambda: extract(x), repeat) / n * 1e6
    offline_1 = best_seconds(lambda: extract(x, threads=1), repeat) / n * 1e6

    numpy_frames = _NumpyFrames()
    clock = time.perf_counter_ns
    numpy_times = np.empty(n)
    for i in range(n):
        t0 = clock()
        numpy_frames(x[i * FRAME : (i + 1) * FRAME])
        numpy_times[i] = clock() - t0

    try:
        import librosa  # noqa: F401
    except ImportError:
        librosa_us = None
    else:
        librosa_features(x)  # its first call sets up caches; not what we compare
        librosa_us = best_seconds(lambda: librosa_features(x), repeat) / n * 1e6
    return {
        "frames": n,
        "passes": passes,
        "stream_us_p50": float(np.median(np.percentile(stream, 50, axis=1))),
        "stream_us_p99": float(np.median(np.percentile(stream, 99, axis=1))),
        "stream_us_max": float(stream.max()),
        "stream_us_first": first,
        "offline_us_per_frame": offline,
        "offline_1thread_us_per_frame": offline_1,
        "numpy_stream_us_p50": float(np.percentile(numpy_times, 50)) / 1e3,
        "librosa_us_per_frame": librosa_us,
        "speedup_vs_librosa": None if librosa_us is None else librosa_us / offline,
    }


def format_report(result: dict, source: str) -> str:
    """Format :func:`bench_features` results as a table beside the targets."""
    budget_us = FRAME / SAMPLE_RATE * 1e6
    lines = [
        f"feature engine on {source}: {result['frames']} frames of {FRAME} samples, "
        f"{result['passes']} streaming passes (percentiles of the median pass; offline figures "
        "the best of 7 runs, ours and librosa's alike)",
    ]
    rows = [
        ("stream p50, us per frame", "stream_us_p50", "<= 6"),
        ("stream p99, us per frame", "stream_us_p99", "<= 20"),
        ("stream max, us per frame", "stream_us_max", ""),
        ("stream first call, us", "stream_us_first", "no JIT"),
        ("offline, us per frame", "offline_us_per_frame", "<= 2"),
        ("offline one thread, us per frame", "offline_1thread_us_per_frame", ""),
        ("anchor: numpy per frame, p50 us", "numpy_stream_us_p50", ""),
        ("anchor: librosa shared STFT, us", "librosa_us_per_frame", ""),
        ("offline speedup vs librosa", "speedup_vs_librosa", ">= 4x"),
    ]
    lines += table(result, rows, width=34)
    p99 = result["stream_us_p99"]
    lines.append(
        f"per-frame budget {budget_us:.0f} us: p99 uses {100 * p99 / budget_us:.3f}% of it"
    )
    return "\n".join(lines)

"""Reading audio files and bringing any audio to float32 mono at ``SAMPLE_RATE``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from listener.audio.resampler import StreamResampler
from listener.config import SAMPLE_RATE
from listener.errors import AudioError, DataError


def to_mono(samples: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Mix audio down to one channel.

    Parameters
    ----------
    samples : array_like
        Shape ``(n,)`` or ``(n, channels)``: frames in rows, as soundfile and sounddevice give them.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n,)``: the mean of the channels.
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        return x.astype(np.float32, copy=False)
    if x.ndim != 2:
        raise AudioError(
            f"audio must have shape (samples,) or (samples, channels), got {x.shape}; "
            "pass one signal at a time"
        )
    if x.shape[1] == 1:
        return x[:, 0].astype(np.float32, copy=True)
    return x.mean(axis=1, dtype=np.float64).astype(np.float32)


def resample(
    samples: npt.ArrayLike, rate_in: int, rate_out: int = SAMPLE_RATE
) -> npt.NDArray[np.float32]:
    """Resample a whole signal with the streaming resampler a live device's blocks go through.

    :class:`~listener.audio.resampler.StreamResampler` fed the signal in pieces gives
    the samples it gives any split of it into blocks, so a file and a live input at the same
    rate give the same features.

    Parameters
    ----------
    samples : array_like
        Mono signal, shape ``(n,)``.
    rate_in, rate_out : int
        Sample rates in Hz; the ratio is reduced by their greatest common divisor.

    Returns
    -------
    numpy.ndarray
        float32, about ``n * rate_out / rate_in`` samples.
    """
    if rate_in <= 0 or rate_out <= 0:
        raise AudioError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    x = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out:
        return x
    resampler = StreamResampler(int(rate_in), int(rate_out))
    step = int(rate_in) // 8  # an eighth of a second at a time: small work arrays
    parts = [resampler.process(x[i : i + step]) for i in range(0, x.shape[0], step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def check_finite(samples: npt.NDArray[np.floating], source: str, rate: int = SAMPLE_RATE) -> None:
    """Raise :class:`AudioError` if any sample is NaN or infinite.

    Parameters
    ----------
    samples : numpy.ndarray
        The audio to check.
    source : str
        What the audio came from (a file name, "array"), quoted in the message.
    rate : int
        Sample rate in Hz, to say where in time the first bad sample lies.
    """
    finite = np.isfinite(samples)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.reshape(len(samples), -1).all(axis=1))
    first = int(bad[0])
    raise AudioError(
        f"{source}: {bad.size} samples are NaN or infinite, the first at sample {first} "
        f"({first / rate:.3f} s); clean the audio (replace or cut them) before analysis"
    )


def load_audio(path: str | Path, rate: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """Read an audio file as float32 mono at ``rate`` Hz.

    Any format libsndfile reads works (wav, au, aiff, flac, ogg, mp3 with libsndfile >= 1.1).
    Channels are averaged; other sample rates are resampled with :func:`resample`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to read.
    rate : int
        Sample rate of the result in Hz (default ``SAMPLE_RATE`` = 22050).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n,)``.

    Raises
    ------
    DataError
        The file is missing, empty, not audio or corrupt.
    AudioError
        The file holds NaN or infinite samples.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise DataError(
            f"{path}: not readable as audio ({exc}); formats libsndfile reads are "
            f"{', '.join(sorted(sf.available_formats()))}"
        ) from exc
    if data.shape[0] == 0:
        raise DataError(f"{path}: holds no samples (a header with no audio)")
    check_finite(data, str(path), file_rate)
    return resample(to_mono(data), file_rate, rate)

"""Labelled collections: finding the clips, extracting their features once, in parallel.

A collection is a folder with one subfolder per label holding audio files of any format
libsndfile reads (the GTZAN layout; a ``genres/`` level is looked through). Each clip becomes
its GTZAN vectors at non-overlapping 1 s texture windows (every 43rd frame: 30 per 30 s clip),
cached on disk under a key made of the file's content and the feature settings, so a second
run, or a renamed copy, costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Imported here, before any worker process is forked, so that the workers inherit the loaded
# compiled kernels instead of loading them again (about a second each).
from listener.audio import load_audio
from listener.config import FRAME, SAMPLE_RATE, TEXTURE_FRAMES
from listener.errors import DataError, ListenerError
from listener.features.vector import genre_vectors

#: Seconds of audio in a batch of files sent to a worker (about a second of work).
BATCH_SECONDS = 60.0
#: Bump when the features change, so that cached vectors of older code are not used.
FEATURE_VERSION = "gtzan30-v1"
#: Frames between the windows a clip contributes: 43 = one texture window (1 s).
WINDOW_STEP = TEXTURE_FRAMES
_AUDIO = {".wav", ".au", ".aif", ".aiff", ".flac", ".ogg", ".mp3", ".opus"}


@dataclass(frozen=True)
class Clip:
    """One labelled audio file of a collection."""

    path: Path
    label: str

    @property
    def name(self) -> str:
        """The file name, e.g. ``blues.00000.wav``."""
        return self.path.name


def find_clips(root: str | Path) -> list[Clip]:
    """List the clips of a folder-per-label collection, sorted by label and name.

    Raises
    ------
    DataError
        The folder is missing, or holds no labelled audio.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; give a folder with one subfolder per label")
    base = root / "genres" if (root / "genres").is_dir() else root
    clips = [
        Clip(path, folder.name)
        for folder in sorted(p for p in base.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in _AUDIO
    ]
    if not clips:
        raise DataError(
            f"{base}: no audio files in subfolders; expected LABEL/clip.wav, one folder per label"
        )
    if len({c.label for c in clips}) < 2:
        raise DataError(f"{base}: only one label ({clips[0].label}); a classifier needs two")
    return clips


def _decode(path: str | Path) -> npt.NDArray[np.float32]:
    x = load_audio(path)
    if x.shape[0] < TEXTURE_FRAMES * FRAME:
        raise DataError(
            f"{path}: {x.shape[0] / SAMPLE_RATE:.2f} s of audio; at least 1 s is needed"
        )
    return x


def _windows(x: npt.NDArray[np.float32], step: int) -> npt.NDArray[np.float64]:
    # GTZAN vectors at every step-th frame (from frame 42), shape (m, 30)
    return genre_vectors(x, threads=1).vectors[::step].copy()


def _default_cache() -> Path:
    base = os.environ.get("LISTENER_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "listener" if base else Path.home() / ".cache" / "listener"


class FeatureCache:
    """Cached clip vectors on disk, one npz per (file content, settings).

    Parameters
    ----------
    folder : path, optional
        Where the files go (default ``$LISTENER_CACHE/listener`` or ``~/.cache/listener``).
        ``None`` with ``enabled=False`` keeps nothing.
    """

    def __init__(self, folder: str | Path | None = None, enabled: bool = True) -> None:
        self.folder = Path(folder) if folder else _default_cache() / "features"
        self.enabled = enabled

    def key(self, path: Path, step: int) -> str:
        """Hash of the file's bytes and the feature settings."""
        digest = hashlib.sha1(f"{FEATURE_VERSION}/{step}/".encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def get(self, key: str) -> npt.NDArray[np.float64] | None:
        """Return the cached vectors for ``key``, or None."""
        if not self.enabled:
            return None
        file = self.folder / f"{key}.npz"
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as data:
                return data["vectors"]
        except (OSError, ValueError, KeyError):
            return None  # a damaged entry is recomputed

    def put(self, key: str, vectors: npt.NDArray[np.float64]) -> None:
        """Store vectors under ``key`` (atomically: a crash leaves no half file)."""
        if not self.enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, vectors=vectors)
        tmp.replace(self.folder / f"{key}.npz")


class Progress:
    """A one-line progress report on stderr (rewritten in place on a terminal)."""

    def __init__(self, total: int, what: str, enabled: bool = True) -> None:
        self.total = total
        self.what = what
        self.enabled = enabled and total > 0
        self.done = 0
        self.start = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._last = -1

    def step(self, n: int = 1, note: str = "") -> None:
        """Count ``n`` more items done; ``note`` (which worker does what) ends the line."""
        self.done += n
        if not self.enabled:
            return
        percent = 100 * self.done // self.total
        if self._tty or percent // 10 != self._last // 10 or self.done == self.total:
            elapsed = time.monotonic() - self.start
            left = elapsed / self.done * (self.total - self.done)
            rate = self.done / max(elapsed, 1e-9)
            line = (
                f"{self.what}: {self.done}/{self.total} ({percent}%), "
                f"{elapsed:.1f} s, {rate:.1f} a second, about {left:.0f} s left"
            ) + (f"; {note}" if note else "")
            print(
                ("\r" if self._tty else "") + line,
                end="" if self._tty else "\n",
                file=sys.stderr,
                flush=True,
            )
            self._last = percent
        if self._tty and self.done == self.total:
            print(file=sys.stderr, flush=True)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().name}"
    except (ImportError, ValueError):  # not on a Dask worker
        return f"pid {os.getpid()}"


def _extract_batch(jobs: list[tuple[str, int]]) -> dict:
    # one task: several files' vectors (a module-level function, imported by a worker, never
    # shipped with compiled code inside); a file that cannot be used is the reason why. With
    # the seconds spent decoding and computing features, and the worker's name.
    out: list[npt.NDArray[np.float64] | str] = []
    decode = features = 0.0
    for path, step in jobs:
        began = time.perf_counter()
        try:
            x = _decode(path)
        except (ListenerError, OSError, RuntimeError, ValueError) as exc:
            out.append(str(exc) or type(exc).__name__)
            continue
        finally:
            decode += time.perf_counter() - began
        began = time.perf_counter()
        try:
            vectors = _windows(x, step)
        except (ListenerError, ValueError) as exc:
            out.append(f"{path}: {exc}")
            continue
        finally:
            features += time.perf_counter() - began
        if not np.isfinite(vectors).all():
            out.append(f"{path}: NaN or infinite values in its features")
        else:
            out.append(vectors)
    return {"vectors": out, "decode_s": decode, "features_s": features, "worker": _worker_name()}


def _batches(paths: list[Path], seconds: float) -> list[list[int]]:
    # consecutive files, each batch at least `seconds` of audio (so a task is worth sending)
    import soundfile

    batches: list[list[int]] = [[]]
    held = 0.0
    for i, path in enumerate(paths):
        try:
            held += soundfile.info(str(path)).duration
        except Exception:  # noqa: BLE001 - unknown length: counted as a 30 s clip
            held += 30.0
        batches[-1].append(i)
        if held >= seconds:
            batches.append([])
            held = 0.0
    return [b for b in batches if b]


def extract_collection(
    clips: list[Clip],
    cache: FeatureCache | None = None,
    workers: int | None = None,
    step: int = WINDOW_STEP,
    progress: bool = True,
    *,
    executor: Executor | None = None,
    errors: list | None = None,
) -> list[npt.NDArray[np.float64]]:
    """Get the window vectors of every clip, from the cache or extracted in parallel.

    Files go out in batches of at least ``BATCH_SECONDS`` of audio; each batch's vectors go
    into the cache as it comes back, so that a run killed and started again recomputes
    nothing it had finished.

    Parameters
    ----------
    clips : list of Clip
        What to extract.
    cache : FeatureCache, optional
        Where computed vectors are kept (default: the user's cache folder).
    workers : int, optional
        Local processes (default: one per core), without ``executor``.
    step : int
        Frames between windows (43: one vector per second).
    progress : bool
        Report progress on stderr.
    executor : concurrent.futures.Executor, optional
        Where the batches run (:func:`listener.genres.executors.open_executor`: local
        processes or a Dask cluster); a pool of ``workers`` local processes without it.
    errors : list, optional
        Where a clip that cannot be used (undecodable, empty, too short, NaN) goes, as
        ``(clip, reason)``, the others going on; without it the first such clip is a
        DataError once the rest are done (and cached).

    Returns
    -------
    list of numpy.ndarray
        One ``(m, 30)`` array per clip, in the order of ``clips`` (less those in ``errors``).
    """
    cache = cache or FeatureCache()
    keys = [cache.key(c.path, step) for c in clips]
    out: list[npt.NDArray[np.float64] | None] = [cache.get(k) for k in keys]
    todo = [i for i, v in enumerate(out) if v is None]
    report = Progress(len(todo), "extracting features", progress)
    if not todo:
        return [v for v in out if v is not None]
    batches = [[todo[j] for j in b] for b in _batches([clips[i].path for i in todo], BATCH_SECONDS)]
    jobs = [[(str(clips[i].path), step) for i in batch] for batch in batches]
    own = None
    bad: list = []  # (index, reason) of each clip that cannot be used
    processes = min(workers or os.cpu_count() or 1, len(batches))
    if executor is None and processes > 1:
        own = executor = ProcessPoolExecutor(max_workers=processes)
    try:
        began = time.monotonic()
        if executor is None:
            results = map(_extract_batch, jobs)
            done = zip(range(len(batches)), results, strict=True)
        else:
            futures = {executor.submit(_extract_batch, job): k for k, job in enumerate(jobs)}
            done = ((futures[f], f.result()) for f in as_completed(futures))
        decode = features = 0.0
        last: dict[str, int] = {}  # the batch each worker finished last
        for k, result in done:
            batch = batches[k]
            decode += result["decode_s"]
            features += result["features_s"]
            last[result["worker"]] = k
            for i, v in zip(batch, result["vectors"], strict=True):
                if isinstance(v, str):
                    bad.append((i, v))
                    continue
                out[i] = v
                cache.put(keys[i], v)
            report.step(len(batch), ", ".join(f"{w}: batch {b + 1}" for w, b in last.items()))
        if progress:
            wall = time.monotonic() - began
            workers = max(len(last), 1)
            print(
                f"{len(todo)} clips in {len(batches)} batches on {len(last)} worker(s): "
                f"{wall:.1f} s; decoding {decode:.1f} s and features {features:.1f} s of work "
                f"in all, waiting and transfer {max(wall - (decode + features) / workers, 0):.1f}"
                " s a worker",
                file=sys.stderr,
            )
    finally:
        if own is not None:
            own.shutdown(cancel_futures=True)
    bad.sort()
    if bad and errors is None:
        listed = "; ".join(reason for _, reason in bad[:5])
        raise DataError(f"{len(bad)} file(s) could not be used: {listed}")
    if errors is not None:
        errors.extend((clips[i], reason) for i, reason in bad)
    return [v for v in out if v is not None]


def load_artists(index: str | Path) -> dict[str, str]:
    """Artist of each file from an index of lines ``file ::: artist ::: title`` (Sturm's).

    Returns
    -------
    dict
        File name (``blues.00000.wav``; ``.au`` names are mapped to ``.wav``) to artist.
    """
    artists = {}
    with open(index, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = [p.strip() for p in line.split(":::")]
            if len(parts) >= 2 and parts[0]:
                name = Path(parts[0]).name.replace(".au", ".wav")
                artists[name] = parts[1] or "unknown"
    if not artists:
        raise DataError(f"{index}: no 'file ::: artist ::: title' lines")
    return artists

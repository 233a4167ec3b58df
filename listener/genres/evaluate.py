"""Honest evaluation: partitions, cross-validation, accuracy +- std, confusion, precision, recall.

Every figure is reported twice: per 1 s window (the real-time "RT" decision) and per clip (the
summed log-likelihood of all its windows). Partitions come from scikit-learn's splitters (a
seeded stratified k-fold, an artist-grouped one with no artist on both sides, a stratified
holdout) or from explicit split lists.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError, DataError
from listener.genres.base import GenreClassifier

Split = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]  # (train indices, test indices)


def _model_selection():
    try:
        from sklearn import model_selection
    except ImportError as exc:
        raise ConfigError(
            "evaluating and training need scikit-learn: pip install 'listener[fit]'"
        ) from exc
    return model_selection


def _splits(splitter, labels: Sequence[str], groups: Sequence[str] | None = None) -> list[Split]:
    y = np.asarray(labels)
    found = splitter.split(np.zeros((y.size, 1)), y, groups)
    return [(np.asarray(train, np.int64), np.asarray(test, np.int64)) for train, test in found]


def stratified_folds(labels: Sequence[str], k: int = 10, seed: int = 0) -> list[Split]:
    """Make k folds with each label spread evenly over them (scikit-learn's StratifiedKFold)."""
    y = np.asarray(labels)
    counts = {label: int(np.sum(y == label)) for label in np.unique(y)}
    if k < 2:
        raise ConfigError(f"--folds must be at least 2, got {k}")
    if min(counts.values()) < k:
        small = min(counts, key=counts.get)
        raise ConfigError(
            f"{k} folds but label {small!r} has only {counts[small]} clips; use fewer folds"
        )
    splitter = _model_selection().StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return _splits(splitter, labels)


def holdout(labels: Sequence[str], test_share: float = 0.2, seed: int = 0) -> list[Split]:
    """One split: ``test_share`` of each label's clips held out (StratifiedShuffleSplit)."""
    if not 0.0 < test_share < 1.0:
        raise ConfigError(f"--holdout must be between 0 and 1, got {test_share}")
    y = np.asarray(labels)
    for label in sorted(set(labels)):
        if np.sum(y == label) < 2:
            raise ConfigError(f"label {label!r} has one clip: nothing left to train on")
    share = max(test_share, len(set(labels)) / y.size)  # at least one clip of each label
    splitter = _model_selection().StratifiedShuffleSplit(
        n_splits=1, test_size=share, random_state=seed
    )
    return [(np.sort(train), np.sort(test)) for train, test in _splits(splitter, labels)]


def grouped_folds(
    labels: Sequence[str], groups: Sequence[str], k: int = 3, seed: int = 0
) -> list[Split]:
    """Make k folds with no group (artist) on both sides, labels spread as evenly as can be.

    scikit-learn's StratifiedGroupKFold, shuffled with ``seed``.
    """
    if len(set(groups)) < k:
        raise ConfigError(f"too few artists ({len(set(groups))}) for {k} grouped folds")
    splitter = _model_selection().StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # "the least populated class has only N members": known
        warnings.simplefilter("ignore", UserWarning)
        folds = _splits(splitter, labels, groups)
    if any(test.size == 0 for _, test in folds):
        raise ConfigError(f"too few artists for {k} grouped folds; use fewer folds")
    return folds


def _clip_name(line: str) -> str:
    # "genre/genre.00012.wav" and "./genre_00012.wav<TAB>genre" both name genre.00012.wav
    name = Path(line.split()[0]).name
    m = re.fullmatch(r"([A-Za-z]+)_(\d+)(\.\w+)", name)
    return f"{m.group(1)}.{m.group(2)}{m.group(3)}" if m else name


def split_lists(names: Sequence[str], folder: str | Path) -> list[Split]:
    """Read splits from lists of files: each ``*train*.txt`` with the ``*test*.txt`` of its name.

    ``train_filtered.txt`` goes with ``test_filtered.txt`` (the fault-filtered split, one
    split), ``f1_train.txt`` with ``f1_test.txt`` and so on (the artist-filtered folds; their
    validation lists are not used). Lines name files as ``genre/genre.00012.wav`` or
    ``./genre_00012.wav`` (anything after the name is ignored). Files of the collection on
    neither list are left out; files listed but not in the collection are ignored (a subset
    such as gtzan-mini holds only some).
    """
    folder = Path(folder)
    index = {name: i for i, name in enumerate(names)}
    splits = []
    for train_file in sorted(folder.glob("*train*.txt")):
        test_file = train_file.with_name(train_file.name.replace("train", "test"))
        if "groups" in train_file.name or not test_file.exists():
            continue
        sides = []
        for file in (train_file, test_file):
            listed = {_clip_name(line) for line in file.read_text().splitlines() if line.strip()}
            sides.append(np.array(sorted(index[n] for n in listed if n in index), dtype=np.int64))
        if sides[0].size and sides[1].size:
            splits.append((sides[0], sides[1]))
    if not splits:
        raise DataError(
            f"{folder}: needs *train*.txt lists with a matching *test*.txt that share files "
            "with the collection"
        )
    return splits


@dataclass
class Report:
    """Figures of one evaluation, per window and per clip."""

    labels: list[str]
    clip_accuracy: list[float] = field(default_factory=list)
    window_accuracy: list[float] = field(default_factory=list)
    clip_confusion: npt.NDArray[np.int64] | None = None
    window_confusion: npt.NDArray[np.int64] | None = None

    @staticmethod
    def _scores(confusion: npt.NDArray[np.int64]) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.diag(confusion) / confusion.sum(axis=0)
            recall = np.diag(confusion) / confusion.sum(axis=1)
        return np.nan_to_num(precision), np.nan_to_num(recall)

    def summary(self, which: str) -> dict:
        """``accuracy_mean``, ``accuracy_std``, ``confusion``, ``precision``, ``recall``."""
        acc = np.array(self.clip_accuracy if which == "clip" else self.window_accuracy)
        confusion = self.clip_confusion if which == "clip" else self.window_confusion
        precision, recall = self._scores(confusion)
        return {
            "accuracy_mean": float(acc.mean()),
            "accuracy_std": float(acc.std()),
            "confusion": confusion.tolist(),
            "precision": dict(zip(self.labels, map(float, precision), strict=True)),
            "recall": dict(zip(self.labels, map(float, recall), strict=True)),
        }

    def to_dict(self) -> dict:
        """Everything, for ``--json``: ``labels``, ``clip``, ``window``, ``folds``."""
        return {
            "labels": self.labels,
            "clip": self.summary("clip"),
            "window": self.summary("window"),
            "folds": [
                {"clip_accuracy": c, "window_accuracy": w}
                for c, w in zip(self.clip_accuracy, self.window_accuracy, strict=True)
            ],
        }


def cross_validate(
    vectors: Sequence[npt.NDArray[np.float64]],
    labels: Sequence[str],
    folds: list[Split],
    make: Callable[[], GenreClassifier] | Sequence[Callable[[], GenreClassifier]],
    columns: slice = slice(None),
    *,
    executor: Executor | None = None,
) -> Report:
    """Train on each fold's training clips, decide its test clips, gather the figures.

    Parameters
    ----------
    vectors : sequence of numpy.ndarray
        Per clip, its window vectors ``(m, 30)``.
    labels : sequence of str
        Per clip, its label.
    folds : list of (train, test) index arrays
        The partitions.
    make : callable or sequence of callables
        Returns a new, unfitted classifier; or one such per fold (settings chosen per fold).
        With an executor it must pickle (a class, or a ``functools.partial`` of one).
    columns : slice
        Which feature columns to use (``TIMBRAL`` for the 19 timbral ones).
    executor : concurrent.futures.Executor, optional
        Where the folds run (local processes or a Dask cluster, see
        :func:`~listener.genres.executors.open_executor`); here, one after the other, if none.
        The figures are the same either way.
    """
    y = np.asarray(labels)
    names = sorted(set(labels))
    at = {name: i for i, name in enumerate(names)}
    k = len(names)
    report = Report(
        names,
        clip_confusion=np.zeros((k, k), np.int64),
        window_confusion=np.zeros((k, k), np.int64),
    )
    tasks = []
    for (train, test), maker in zip(folds, _per_fold(make, len(folds)), strict=True):
        X = np.vstack([vectors[i][:, columns] for i in train])
        Y = np.concatenate([[y[i]] * vectors[i].shape[0] for i in train])
        tests = [vectors[i][:, columns] for i in test]
        if executor is None:
            tasks.append(fold_decisions(maker, X, Y, tests))
        else:
            tasks.append(executor.submit(fold_decisions, maker, X, Y, tests))
    for (_, test), task in zip(folds, tasks, strict=True):
        decided = task if executor is None else task.result()
        clip_right = window_right = windows = 0
        for i, (per_window, clip) in zip(test, decided, strict=True):
            truth = at[y[i]]
            for p in per_window:
                report.window_confusion[truth, at[p]] += 1
            window_right += int(np.sum(per_window == y[i]))
            windows += per_window.size
            report.clip_confusion[truth, at[clip]] += 1
            clip_right += int(clip == y[i])
        report.clip_accuracy.append(clip_right / len(test))
        report.window_accuracy.append(window_right / max(windows, 1))
    return report


def fold_decisions(
    make: Callable[[], GenreClassifier],
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.str_],
    tests: Sequence[npt.NDArray[np.float64]],
) -> list[tuple[npt.NDArray[np.str_], str]]:
    """Fit one fold's classifier and decide its test clips: per clip, its windows' and its own.

    A module-level function of small arguments, so that a fold can run in another process or
    on a Dask worker.
    """
    model = make().fit(X, Y)
    decided = []
    for windows in tests:
        scores = model.log_likelihood(windows)
        decided.append(
            (
                model.classes_[np.argmax(scores, axis=1)],
                str(model.classes_[np.argmax(scores.sum(axis=0))]),
            )
        )
    return decided


def _per_fold(make, n: int) -> list:
    if callable(make):
        return [make] * n
    if len(make) != n:
        raise ConfigError(f"{len(make)} classifiers for {n} folds")
    return list(make)


def format_confusion(confusion: npt.NDArray[np.int64], labels: list[str]) -> str:
    """Format the confusion table: true class in rows, decided class in columns."""
    short = [label[:5] for label in labels]
    width = max(5, len(str(int(confusion.max()))))
    head = "true \\ decided ".ljust(16) + " ".join(s.rjust(width) for s in short)
    rows = [
        f"{label[:15]:<16}" + " ".join(str(int(v)).rjust(width) for v in row)
        for label, row in zip(labels, confusion, strict=True)
    ]
    return "\n".join([head, *rows])


def rolling_agreement(
    paths: Sequence[str | Path],
    vectors: Sequence[npt.NDArray[np.float64]],
    labels: Sequence[str],
    folds: list[Split],
    make: Callable[[], GenreClassifier] | Sequence[Callable[[], GenreClassifier]],
    feature_set: str,
    seconds: float = 10.0,
) -> float:
    """Share of test clips whose rolling decision after ``seconds`` equals their clip decision.

    In each fold a model is trained on the training clips; each test clip's first ``seconds``
    are streamed through the online decision (a window of ``seconds``), and its decision then is
    compared with the same model's decision on the whole clip. ``make`` is as for
    :func:`cross_validate`.
    """
    from listener.audio import load_audio
    from listener.config import SAMPLE_RATE
    from listener.features.vector import genre_vectors
    from listener.genres.features import prepare
    from listener.genres.model import GenreModel
    from listener.genres.online import OnlineGenre

    y = np.asarray(labels)
    agree = total = 0
    for (train, test), maker in zip(folds, _per_fold(make, len(folds)), strict=True):
        X = np.vstack([prepare(vectors[i], feature_set) for i in train])
        Y = np.concatenate([[y[i]] * vectors[i].shape[0] for i in train])
        model = GenreModel(maker().fit(X, Y), feature_set)
        for i in test:
            clip = model.labels[int(np.argmax(model.log_likelihood(vectors[i]).sum(axis=0)))]
            head = load_audio(paths[i])[: int(seconds * SAMPLE_RATE)]
            online = OnlineGenre(model, window=seconds)
            online.process(genre_vectors(head, threads=1))
            agree += int(online.decision == clip)
            total += 1
    return agree / max(total, 1)

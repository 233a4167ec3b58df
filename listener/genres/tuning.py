"""Classifier specs (``gaussian:0.75:0``, ``knn:5`` ...) and choosing their settings honestly.

A spec names a classifier and its settings in one string, so a setting chosen by
cross-validation can be written down, printed and passed on. :func:`tune` picks the best spec of
a grid by cross-validation inside a training set (scikit-learn's ``GridSearchCV``);
:func:`nested_cross_validate` does that inside every training fold, so the test folds never take
part in the choice and the reported accuracy is not flattered by it.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError
from listener.genres.base import GenreClassifier
from listener.genres.evaluate import (
    Report,
    Split,
    cross_validate,
)

#: Pooling and shrinkage a Gaussian is tuned over.
GAUSSIAN_POOLING = (0.0, 0.25, 0.5, 0.75, 1.0)
GAUSSIAN_SHRINKAGE = (0.0, 0.01, 0.05)
#: Neighbours a k-NN is tuned over.
KNN_K = (1, 3, 5, 7, 9)
#: Inner folds of :func:`tune`.
INNER_FOLDS = 5

_SPEC_HELP = "use gaussian[:POOLING:SHRINKAGE], gmm:K[:diag] or knn:K"


def classifier_factory(spec: str) -> Callable[[], GenreClassifier]:
    """Turn a spec into a maker of unfitted classifiers (a class or a partial: it pickles).

    ``gaussian`` (its default settings) or ``gaussian:POOLING:SHRINKAGE`` (each in [0, 1]);
    ``gmm:K`` or ``gmm:K:diag``; ``knn:K``.

    Raises
    ------
    ConfigError
        The spec names no classifier, or a setting is out of range.
    """
    from listener.genres.gaussian import GaussianClassifier
    from listener.genres.gmm import GMMClassifier
    from listener.genres.knn import KNNClassifier

    parts = spec.lower().split(":")
    try:
        if parts[0] == "gaussian" and len(parts) == 1:
            return GaussianClassifier
        if parts[0] == "gaussian" and len(parts) == 3:
            pooling, shrinkage = float(parts[1]), float(parts[2])
            if not (0.0 <= pooling <= 1.0 and 0.0 <= shrinkage <= 1.0):
                raise ConfigError(f"{spec}: pooling and shrinkage are shares in [0, 1]")
            return functools.partial(GaussianClassifier, pooling, shrinkage)
        covariances = ("full", "diag")
        if parts[0] == "gmm" and (len(parts) == 2 or len(parts) == 3 and parts[2] in covariances):
            k = int(parts[1])
            cov = parts[2] if len(parts) == 3 else "full"
            return functools.partial(GMMClassifier, k, cov)
        if parts[0] == "knn" and len(parts) == 2:
            k = int(parts[1])
            return functools.partial(KNNClassifier, k)
    except ValueError:
        pass
    raise ConfigError(f"unknown classifier {spec!r}; {_SPEC_HELP} (K a number)")


def tuning_grid(spec: str) -> list[str]:
    """List the specs :func:`tune` chooses among for a kind of classifier (gaussian, knn)."""
    kind = spec.lower().split(":")[0]
    if kind == "gaussian":
        return [f"gaussian:{p:g}:{s:g}" for p in GAUSSIAN_POOLING for s in GAUSSIAN_SHRINKAGE]
    if kind == "knn":
        return [f"knn:{k}" for k in KNN_K]
    raise ConfigError(f"--tune chooses settings for gaussian and knn, not {spec!r}")


def _params(spec: str) -> dict:
    # the constructor parameters a spec sets (gaussian:0.5:0.01 -> pooling 0.5, shrinkage 0.01)
    return classifier_factory(spec)().get_params()


def tune(
    vectors: Sequence[npt.NDArray[np.float64]],
    labels: Sequence[str],
    specs: Sequence[str],
    folds: int = INNER_FOLDS,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    backend: str | None = None,
) -> tuple[str, list[dict]]:
    """Choose the spec with the best cross-validated accuracy per 1 s window.

    scikit-learn's ``GridSearchCV`` over the windows of the clips, in folds that keep each
    clip (or, with ``groups``, each artist) on one side (``StratifiedGroupKFold``). Per-window
    accuracy decides: it rests on 30 times more decisions than per-clip accuracy, so it is
    steadier. Among equals, the first candidate wins.

    Parameters
    ----------
    vectors : sequence of numpy.ndarray
        Per clip, its prepared window vectors.
    labels : sequence of str
        Per clip, its label.
    specs : sequence of str
        The candidates (see :func:`tuning_grid`), all of one kind.
    folds, seed : int
        The folds of the choice.
    groups : sequence of str, optional
        Per clip, its artist: the folds of the choice then keep each artist on one side, as
        the outer folds of an artist-grouped evaluation do.

    Returns
    -------
    tuple
        The chosen spec, and each candidate's figures (``spec``, ``window``: mean accuracy per
        window over the folds, ``window_std``).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    if groups is not None:
        if len(set(groups)) < 2:
            raise ConfigError("--tune with folds grouped by artist needs 2 artists or more")
        k, by = min(folds, len(set(groups))), list(groups)
    else:
        k = min(folds, min(list(labels).count(label) for label in set(labels)))
        if k < 2:
            raise ConfigError("--tune needs at least 2 training clips of every label")
        by = list(range(len(labels)))  # each clip on one side
    X = np.vstack(vectors)
    y = np.concatenate([[label] * v.shape[0] for label, v in zip(labels, vectors, strict=True)])
    window_groups = np.concatenate([[g] * v.shape[0] for g, v in zip(by, vectors, strict=True)])
    search = GridSearchCV(
        classifier_factory(specs[0])(),
        [{name: [value] for name, value in _params(spec).items()} for spec in specs],
        cv=StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed),
        refit=False,
        error_score="raise",
        n_jobs=None if backend is None else -1,
    )
    with (
        warnings.catch_warnings(),  # "the least populated class has only N members": known
        _joblib_backend(backend),
    ):
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y, groups=window_groups)
    results = search.cv_results_
    scores = [
        {
            "spec": spec,
            "window": float(results["mean_test_score"][i]),
            "window_std": float(results["std_test_score"][i]),
        }
        for i, spec in enumerate(specs)
    ]
    return specs[int(np.argmin(results["rank_test_score"]))], scores


def _joblib_backend(backend: str | None):
    if backend is None:
        return contextlib.nullcontext()
    import joblib

    return joblib.parallel_config(backend=backend)


def nested_cross_validate(
    vectors: Sequence[npt.NDArray[np.float64]],
    labels: Sequence[str],
    folds: list[Split],
    specs: Sequence[str],
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
    groups: Sequence[str] | None = None,
    *,
    executor: Executor | None = None,
) -> tuple[Report, list[str]]:
    """Cross-validate with the settings chosen by :func:`tune` inside each training fold.

    ``progress(fold, folds, spec)``, if given, is called as each fold's choice is made (fold
    counted from 1; with an executor, in the order the choices come back).
    ``groups`` (per clip, its artist) makes the inner folds artist-grouped too. With an
    ``executor`` each fold's choice (and then its test) runs there, the folds side by side;
    the choices and figures are those made here.

    Returns
    -------
    tuple
        The report over the outer folds, and the spec chosen in each.
    """
    tasks = []
    for train, _ in folds:
        inner = None if groups is None else [groups[i] for i in train]
        arguments = ([vectors[i] for i in train], [labels[i] for i in train], specs)
        if executor is None:
            tasks.append(tune(*arguments, seed=seed, groups=inner))
            if progress is not None:
                progress(len(tasks), len(folds), tasks[-1][0])
        else:
            tasks.append(executor.submit(tune, *arguments, seed=seed, groups=inner))
    if executor is not None:
        fold_of = {id(task): f for f, task in enumerate(tasks, 1)}
        for task in as_completed(tasks):
            if progress is not None:
                progress(fold_of[id(task)], len(folds), task.result()[0])
        tasks = [task.result() for task in tasks]
    chosen = [spec for spec, _ in tasks]
    makes = [classifier_factory(spec) for spec in chosen]
    return cross_validate(vectors, labels, folds, makes, executor=executor), chosen

"""What the genre commands report beside their figures: the paper's rows, caveats, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from listener.errors import ConfigError
from listener.genres.dataset import Clip, FeatureCache
from listener.genres.evaluate import Report, Split, cross_validate
from listener.genres.features import prepare

CAVEAT_GTZAN_MINI = (
    "gtzan-mini: within a genre these clips are mostly one artist (blues all John Lee Hooker, "
    "classical all Bach, reggae all Bob Marley, rock all Morphine), so any random split puts the "
    "same artist in training and test and inflates accuracy; see the artist-grouped figures."
)

#: The paper's figures (Tzanetakis & Cook 2002, 10 genres, accuracy % mean +- std).
PAPER_ROWS = [
    ("RT GS", "gaussian", "timbral", "window", (44, 2)),
    ("GS", "gaussian", "full", "clip", (59, 4)),
    ("GMM(2)", "gmm:2", "full", "clip", (60, 4)),
    ("GMM(3)", "gmm:3", "full", "clip", (61, 4)),
    ("GMM(4)", "gmm:4", "full", "clip", (61, 4)),
    ("GMM(5)", "gmm:5", "full", "clip", (61, 4)),
    ("KNN(1)", "knn:1", "full", "clip", (59, 4)),
    ("KNN(3)", "knn:3", "full", "clip", (60, 4)),
    ("KNN(5)", "knn:5", "full", "clip", (56, 3)),
]


def paper_rows(
    vectors: list[np.ndarray],
    labels: list[str],
    folds: list[Split],
    *,
    tune: bool = False,
    groups: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> list[dict]:
    """Evaluate each of the paper's rows (``PAPER_ROWS``) on the same folds, beside its figure.

    With ``tune`` the Gaussian rows choose their settings inside each training fold (the k-NN
    and GMM rows are their K). The folds run on ``executor`` when one is given. Each row:
    ``model``, ``classifier``, ``features``, ``per``, ``accuracy_mean``, ``accuracy_std``,
    ``paper_mean``, ``paper_std``.
    """
    from listener.genres.tuning import classifier_factory, nested_cross_validate, tuning_grid

    rows = []
    for name, spec, feature_set, which, paper in PAPER_ROWS:
        prepared = [prepare(v, feature_set) for v in vectors]
        if tune and spec == "gaussian":
            grid = tuning_grid(spec)
            report, _ = nested_cross_validate(
                prepared, labels, folds, grid, groups=groups, executor=executor
            )
        else:
            report = cross_validate(
                prepared, labels, folds, classifier_factory(spec), executor=executor
            )
        s = report.summary(which)
        rows.append(
            {
                "model": name,
                "classifier": spec,
                "features": feature_set,
                "per": which,
                "accuracy_mean": s["accuracy_mean"],
                "accuracy_std": s["accuracy_std"],
                "paper_mean": paper[0] / 100,
                "paper_std": paper[1] / 100,
            }
        )
        if progress is not None:
            progress(name)
    return rows


def format_paper_rows(rows: list[dict], protocol: str) -> str:
    """Write the paper's rows beside ours as a table of accuracy % mean +- std."""
    lines = [
        f"Tzanetakis & Cook (2002) rows, {protocol}; accuracy % mean +- std",
        f"{'model':<9}{'features':<10}{'per':<8}{'here':>12}{'paper (1000 clips)':>22}",
    ]
    for r in rows:
        here = f"{100 * r['accuracy_mean']:.0f} +- {100 * r['accuracy_std']:.0f}"
        paper = f"{100 * r['paper_mean']:.0f} +- {100 * r['paper_std']:.0f}"
        lines.append(f"{r['model']:<9}{r['features']:<10}{r['per']:<8}{here:>12}{paper:>22}")
    return "\n".join(lines)


def duplicates(clips: list[Clip], vectors: list[np.ndarray], cache: FeatureCache) -> list:
    """Pairs of clips that are identical files or near-identical audio.

    Near-identical: the mean timbral vectors (standardised over the collection) lie closer than
    a hundredth of the typical distance between clips of the same label.
    """
    keys = [cache.key(c.path, 0) for c in clips]
    pairs = []
    by_key: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in by_key:
            pairs.append((by_key[key], i, "identical"))
        by_key.setdefault(key, i)
    means = np.array([prepare(v, "timbral").mean(axis=0) for v in vectors])
    means = (means - means.mean(axis=0)) / (means.std(axis=0) + 1e-12)
    dist = np.sqrt(((means[:, None] - means[None]) ** 2).sum(axis=-1))
    labels = np.array([c.label for c in clips])
    same = labels[:, None] == labels[None]
    typical = np.median(dist[same & ~np.eye(len(clips), dtype=bool)])
    seen = {(a, b) for a, b, _ in pairs}
    for a, b in zip(*np.nonzero(np.triu(dist < typical / 100, 1)), strict=True):
        if (a, b) not in seen:
            pairs.append((int(a), int(b), "near-identical"))
    return pairs


def plot_confusion(report: Report, path: Path, title: str) -> None:
    """Draw the per-clip and per-window confusion tables side by side into a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("--plot needs matplotlib: pip install 'listener[plot]'") from exc
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, which in zip(axes, ("clip", "window"), strict=True):
        conf = np.array(report.summary(which)["confusion"], dtype=float)
        share = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(conf):
            if v:
                ax.text(
                    j,
                    i,
                    int(v),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black",
                )
        s = report.summary(which)
        ax.set_title(f"per {which}: {s['accuracy_mean']:.2f} +- {s['accuracy_std']:.2f}")
        ax.set_xticks(range(len(report.labels)), report.labels, rotation=45, ha="right")
        ax.set_yticks(range(len(report.labels)), report.labels)
        ax.set_xlabel("decided")
        ax.set_ylabel("true")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

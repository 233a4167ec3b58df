"""Genre model files: the classifier's arrays in npz, what it is and where it came from in JSON.

``name.npz`` holds the arrays (loaded with ``allow_pickle=False``); ``name.json`` beside it is the
provenance: the kind of classifier, its feature set, its labels, the data it was trained on,
its evaluated figures, the date. Nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from listener import __version__
from listener.errors import ModelError
from listener.genres.base import GenreClassifier
from listener.genres.features import PREPARATION, prepare

#: Where the shipped default model lies (beside the package, in the repository's models/).
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "genre-gaussian.npz"


def _kinds() -> dict[str, type]:
    from listener.genres.gaussian import GaussianClassifier
    from listener.genres.gmm import GMMClassifier
    from listener.genres.knn import KNNClassifier

    return {"gaussian": GaussianClassifier, "gmm": GMMClassifier, "knn": KNNClassifier}


def kind_of(classifier: GenreClassifier) -> str:
    """Name the classifier's class as a model file does."""
    for name, cls in _kinds().items():
        if isinstance(classifier, cls):
            return name
    raise ModelError(f"{type(classifier).__name__} cannot be saved")


@dataclass
class GenreModel:
    """A fitted classifier with the feature set it reads and its provenance."""

    classifier: GenreClassifier
    feature_set: str
    provenance: dict = field(default_factory=dict)
    #: Best-class log-likelihood of the least typical 1% of the training windows (see
    #: :meth:`calibrate`): a window scoring below it is unlike anything the model was taught.
    familiar_floor: float | None = None

    @property
    def labels(self) -> list[str]:
        """The classes it decides between."""
        return [str(c) for c in self.classifier.classes_]

    def log_likelihood(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Class log scores of GTZAN vectors ``(n, 30)``, shape ``(n, n_classes)``."""
        return self.classifier.log_likelihood(prepare(vectors, self.feature_set))

    def calibrate(self, prepared: npt.NDArray[np.float64], share: float = 0.01) -> None:
        """Set :attr:`familiar_floor` from the training windows (prepared, as fitted)."""
        best = self.classifier.log_likelihood(prepared).max(axis=1)
        self.familiar_floor = float(np.quantile(best, share))

    def familiar(self, vectors: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each GTZAN vector is as typical as 99% of the training windows."""
        best = self.log_likelihood(vectors).max(axis=1)
        return best >= (-np.inf if self.familiar_floor is None else self.familiar_floor)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path`` (.npz) and its provenance (.json); returns both paths."""
        npz = Path(path).with_suffix(".npz")
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = self.classifier.to_arrays()
        np.savez(
            npz,
            kind=np.array(kind_of(self.classifier)),
            feature_set=np.array(self.feature_set),
            preparation=np.array(PREPARATION),
            familiar_floor=np.array(np.nan if self.familiar_floor is None else self.familiar_floor),
            **arrays,
        )
        meta = {
            "kind": kind_of(self.classifier),
            "feature_set": self.feature_set,
            "preparation": PREPARATION,
            "labels": self.labels,
            "listener_version": __version__,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **self.provenance,
        }
        info = npz.with_suffix(".json")
        info.write_text(json.dumps(meta, indent=2) + "\n")
        return npz, info

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL) -> GenreModel:
        """Read a model written by :meth:`save`."""
        npz = Path(path)
        if npz.suffix != ".npz":
            npz = npz.with_suffix(".npz")
        if not npz.exists():
            raise ModelError(
                f"{npz}: no such model; train one with `listener genres train DIR -o {npz}`"
            )
        try:
            with np.load(npz, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{npz}: not a readable model file ({exc})") from exc
        kind = str(arrays.pop("kind", ""))
        kinds = _kinds()
        if kind not in kinds:
            raise ModelError(f"{npz}: unknown kind of model {kind!r}")
        feature_set = str(arrays.pop("feature_set"))
        preparation = str(arrays.pop("preparation", "log-v1"))
        if preparation != PREPARATION:
            raise ModelError(
                f"{npz}: trained on features prepared as {preparation!r}, this version prepares "
                f"them as {PREPARATION!r}; train it again with `listener genres train DIR -o {npz}`"
            )
        floor = float(arrays.pop("familiar_floor", np.nan))
        info = npz.with_suffix(".json")
        provenance = json.loads(info.read_text()) if info.exists() else {}
        model = cls(kinds[kind].from_arrays(arrays), feature_set, provenance)
        model.familiar_floor = None if np.isnan(floor) else floor
        return model

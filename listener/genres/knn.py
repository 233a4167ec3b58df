"""k nearest neighbours on standardised features (the paper's "KNN(k)")."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.genres.base import GenreClassifier


class KNNClassifier(GenreClassifier):
    """Vote of the k nearest training windows, Euclidean on standardised features.

    The log score of a class is the log of its share of the k votes, smoothed by one vote
    spread over the classes (so no class is impossible and clip decisions can sum the scores).
    :meth:`partial_fit` adds examples (of new classes too); the standardisation stays that of
    the first training data.

    Parameters
    ----------
    k : int
        Neighbours that vote (default 3).
    """

    def __init__(self, k: int = 3) -> None:
        self.k = k

    def _partial(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.str_]) -> None:
        if not hasattr(self, "classes_"):
            self.center_ = x.mean(axis=0)
            spread = x.std(axis=0)
            self.scale_ = np.where(spread > 0, spread, 1.0)
            self.examples_ = np.zeros((0, x.shape[1]))
            self.labels_ = np.array([], dtype=str)
        self.examples_ = np.vstack([self.examples_, (x - self.center_) / self.scale_])
        self.labels_ = np.concatenate([self.labels_, y])
        self.classes_ = np.unique(self.labels_)
        self._codes = np.searchsorted(self.classes_, self.labels_)
        self._norms = (self.examples_**2).sum(axis=1)

    def _log_likelihood(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        z = (x - self.center_) / self.scale_
        k = min(self.k, self.examples_.shape[0])
        out = np.empty((z.shape[0], self.classes_.size))
        for start in range(0, z.shape[0], 512):  # bounded memory: 512 rows of distances
            part = z[start : start + 512]
            dist = self._norms[None, :] - 2.0 * part @ self.examples_.T
            nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
            votes = np.zeros((part.shape[0], self.classes_.size))
            np.add.at(
                votes, (np.repeat(np.arange(part.shape[0]), k), self._codes[nearest].ravel()), 1.0
            )
            out[start : start + 512] = np.log((votes + 1.0 / self.classes_.size) / (k + 1.0))
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return what a model file holds: the standardised examples and their labels."""
        return {
            "center": self.center_,
            "scale": self.scale_,
            "examples": self.examples_,
            "labels": self.labels_,
            "settings": np.array([self.k]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> KNNClassifier:
        """Rebuild a fitted classifier from :meth:`to_arrays`."""
        model = cls(int(arrays["settings"][0]))
        model.center_ = arrays["center"]
        model.scale_ = arrays["scale"]
        model.n_features_in_ = model.center_.shape[0]
        model.examples_ = np.zeros((0, model.n_features_in_))
        model.labels_ = np.array([], dtype=str)
        model._partial(
            arrays["examples"] * model.scale_ + model.center_, arrays["labels"].astype(str)
        )
        return model

"""What every genre classifier shares: class bookkeeping, probabilities, clip decisions."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError, ModelError


def log_normalise(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Turn unnormalised log scores (rows) into log probabilities (log-sum-exp per row)."""
    top = scores.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return scores - (top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True)))


class GenreClassifier:
    """Base of the classifiers: scikit-learn conventions, scoring in numpy.

    Subclasses implement ``_partial(X, y)`` (add examples of known or new classes) and
    ``_log_likelihood(X)`` (an ``(n, n_classes)`` array of class log-likelihoods).
    """

    classes_: npt.NDArray[np.str_]

    def _check_X(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise ConfigError(f"features must have shape (n, d), got {x.shape}")
        if not np.isfinite(x).all():
            raise ConfigError("features hold NaN or infinite values; check the extraction")
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and x.shape[1] != expected:
            raise ModelError(
                f"the model was trained on {expected} features, these have {x.shape[1]}; "
                "use the same feature set (timbral: 19, full: 30)"
            )
        return x

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike):
        """Fit from scratch on examples ``X`` (n, d) with labels ``y`` (n,)."""
        for attr in [a for a in vars(self) if a.endswith("_")]:
            delattr(self, attr)
        return self.partial_fit(X, y)

    def partial_fit(self, X: npt.ArrayLike, y: npt.ArrayLike):
        """Add examples, of known classes or of new ones, without refitting from scratch."""
        x = self._check_X(X)
        labels = np.asarray(y).astype(str)
        if labels.shape != (x.shape[0],):
            raise ConfigError(f"{x.shape[0]} examples but {labels.size} labels")
        if x.shape[0] == 0:
            raise ConfigError("no examples to fit")
        self.n_features_in_ = x.shape[1]
        self._partial(x, labels)
        return self

    def _partial(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.str_]) -> None:
        raise NotImplementedError

    def _log_likelihood(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def log_likelihood(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Class log-likelihoods (or log scores) of each example, shape ``(n, n_classes)``."""
        if not hasattr(self, "classes_"):
            raise ModelError("the classifier is not fitted; call fit() or load a model")
        return self._log_likelihood(self._check_X(X))

    def predict_log_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Log posterior of each class for each example (uniform priors)."""
        return log_normalise(self.log_likelihood(X))

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Posterior of each class for each example."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Decide the most likely class of each example (a window: the "RT" decision)."""
        return self.classes_[np.argmax(self.log_likelihood(X), axis=1)]

    def predict_clip(self, X: npt.ArrayLike) -> str:
        """One decision for all windows of a clip: the class with the largest summed log score."""
        return str(self.classes_[np.argmax(self.log_likelihood(X).sum(axis=0))])

"""What every genre classifier shares: class bookkeeping, probabilities, clip decisions.

The classifiers are scikit-learn estimators (``get_params``, ``set_params``, ``clone``,
``score``, model selection) wherever scikit-learn is installed, as it is for training and
evaluating (the ``fit`` extra). Scoring needs none of it, so a lean install that only listens
uses the stand-in below, which keeps the same parameters.
"""

from __future__ import annotations

import inspect

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError, ModelError

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
except ImportError:  # a runtime without the fit extra

    class BaseEstimator:  # type: ignore[no-redef]
        """Parameters as scikit-learn reads them: the constructor's, kept as attributes."""

        def get_params(self, deep: bool = True) -> dict:
            """Return the constructor's parameters and their values."""
            names = inspect.signature(type(self).__init__).parameters
            return {name: getattr(self, name) for name in names if name != "self"}

        def set_params(self, **params):
            """Set constructor parameters; returns the estimator."""
            for name, value in params.items():
                setattr(self, name, value)
            return self

    class ClassifierMixin:  # type: ignore[no-redef]
        """``score``: accuracy, as scikit-learn's classifiers have it."""

        def score(self, X, y) -> float:
            """Share of examples decided right."""
            return float(np.mean(self.predict(X) == np.asarray(y).astype(str)))


def log_normalise(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Turn unnormalised log scores (rows) into log probabilities (log-sum-exp per row)."""
    top = scores.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return scores - (top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True)))


class GenreClassifier(ClassifierMixin, BaseEstimator):
    """Base of the classifiers: scikit-learn estimators, scoring in numpy.

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

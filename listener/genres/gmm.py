"""A Gaussian mixture per class (the paper's "GMM(k)")."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from listener.errors import ConfigError
from listener.genres.base import GenreClassifier

_REG = 1e-4  # added to each variance, in units of the feature's spread


class GMMClassifier(GenreClassifier):
    """k Gaussians per class, full or diagonal covariances, scored in numpy.

    Features are standardised with the spread of the first training data. Fitting runs EM
    (scikit-learn's ``GaussianMixture``, seeded, k-means start); the model keeps each
    component's weight, mean and covariance and the responsibility-weighted statistics behind
    them, so :meth:`partial_fit` adds examples to a class with one more EM step on its
    statistics (incremental EM) and a new class with a mixture of its own, without refitting
    the rest.

    Parameters
    ----------
    k : int
        Components per class (default 3).
    covariance : str
        ``"full"`` or ``"diag"``.
    seed : int
        Seed of the k-means start.
    """

    def __init__(self, k: int = 3, covariance: str = "full", seed: int = 0) -> None:
        if covariance not in {"full", "diag"}:
            raise ConfigError(f"covariance must be 'full' or 'diag', got {covariance!r}")
        self.k = k
        self.covariance = covariance
        self.seed = seed

    def _partial(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.str_]) -> None:
        if not hasattr(self, "classes_"):
            self.center_ = x.mean(axis=0)
            spread = x.std(axis=0)
            self.scale_ = np.where(spread > 0, spread, 1.0)
            self.classes_ = np.array([], dtype=str)
            d = x.shape[1]
            self.stats_n_ = np.zeros((0, self.k))
            self.stats_sum_ = np.zeros((0, self.k, d))
            self.stats_outer_ = np.zeros((0, self.k, d, d))
        z = (x - self.center_) / self.scale_
        for label in np.unique(y):
            batch = z[y == label]
            where = np.flatnonzero(self.classes_ == label)
            if where.size == 0:
                n, s, o = self._fit_new(batch)
                self.classes_ = np.append(self.classes_, label)
                self.stats_n_ = np.vstack([self.stats_n_, n[None]])
                self.stats_sum_ = np.concatenate([self.stats_sum_, s[None]])
                self.stats_outer_ = np.concatenate([self.stats_outer_, o[None]])
            else:
                c = where[0]
                resp = np.exp(self._component_log_density(batch, c))
                resp /= resp.sum(axis=1, keepdims=True)
                self.stats_n_[c] += resp.sum(axis=0)
                self.stats_sum_[c] += resp.T @ batch
                self.stats_outer_[c] += np.einsum("nk,ni,nj->kij", resp, batch, batch)
                self._m_step(c)
        order = np.argsort(self.classes_)
        for name in ("classes_", "stats_n_", "stats_sum_", "stats_outer_"):
            setattr(self, name, getattr(self, name)[order])
        for c in range(self.classes_.size):
            self._m_step(c)

    def _fit_new(self, batch: npt.NDArray[np.float64]):
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError as exc:
            raise ConfigError(
                "fitting a GMM needs scikit-learn: pip install 'listener[fit]'"
            ) from exc

        k = min(self.k, batch.shape[0])
        gm = GaussianMixture(
            k, covariance_type=self.covariance, reg_covar=_REG, random_state=self.seed, max_iter=200
        ).fit(batch)
        # the statistics that give back exactly the fitted parameters in _m_step
        d = batch.shape[1]
        if self.covariance == "full":
            covs = gm.covariances_
        else:
            covs = np.array([np.diag(v) for v in gm.covariances_])
        n = np.zeros(self.k)
        s = np.zeros((self.k, d))
        o = np.zeros((self.k, d, d))
        n[:k] = gm.weights_ * batch.shape[0]
        s[:k] = n[:k, None] * gm.means_
        for j in range(k):
            o[j] = n[j] * (covs[j] - _REG * np.eye(d) + np.outer(gm.means_[j], gm.means_[j]))
        return n, s, o

    def _m_step(self, c: int) -> None:
        # weights, means and covariance factors of class c from its statistics
        d = self.stats_sum_.shape[2]
        if not hasattr(self, "weights_") or self.weights_.shape[0] != self.classes_.size:
            k = self.classes_.size
            self.weights_ = np.zeros((k, self.k))
            self.means_ = np.zeros((k, self.k, d))
            self.inverse_factor_ = np.zeros((k, self.k, d, d))
            self.log_det_ = np.zeros((k, self.k))
        n = self.stats_n_[c]
        self.weights_[c] = n / n.sum()
        for j in range(self.k):
            if n[j] < 1e-9:  # an empty component: never chosen
                self.weights_[c, j] = 0.0
                self.inverse_factor_[c, j] = np.eye(d)
                continue
            mean = self.stats_sum_[c, j] / n[j]
            cov = self.stats_outer_[c, j] / n[j] - np.outer(mean, mean)
            if self.covariance == "diag":
                cov = np.diag(np.diag(cov))
            cov[np.diag_indices(d)] += _REG
            chol = np.linalg.cholesky(cov)
            self.means_[c, j] = mean
            self.inverse_factor_[c, j] = np.linalg.solve(chol, np.eye(d))
            self.log_det_[c, j] = 2.0 * np.log(np.diag(chol)).sum()

    def _component_log_density(self, z: npt.NDArray[np.float64], c: int) -> np.ndarray:
        d = z.shape[1]
        out = np.full((z.shape[0], self.k), -np.inf)
        for j in range(self.k):
            if self.weights_[c, j] <= 0.0:
                continue
            w = (z - self.means_[c, j]) @ self.inverse_factor_[c, j].T
            out[:, j] = np.log(self.weights_[c, j]) - 0.5 * (
                d * np.log(2 * np.pi) + self.log_det_[c, j] + (w * w).sum(axis=1)
            )
        return out

    def _log_likelihood(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        z = (x - self.center_) / self.scale_
        out = np.empty((x.shape[0], self.classes_.size))
        for c in range(self.classes_.size):
            dens = self._component_log_density(z, c)
            top = dens.max(axis=1, keepdims=True)
            out[:, c] = (top + np.log(np.exp(dens - top).sum(axis=1, keepdims=True)))[:, 0]
        return out - np.log(self.scale_).sum()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return what a model file holds."""
        return {
            "classes": self.classes_,
            "center": self.center_,
            "scale": self.scale_,
            "stats_n": self.stats_n_,
            "stats_sum": self.stats_sum_,
            "stats_outer": self.stats_outer_,
            "settings": np.array([self.k, 1 if self.covariance == "full" else 0, self.seed]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GMMClassifier:
        """Rebuild a fitted classifier from :meth:`to_arrays`."""
        k, full, seed = (int(v) for v in arrays["settings"])
        model = cls(k, "full" if full else "diag", seed)
        model.classes_ = arrays["classes"].astype(str)
        model.center_ = arrays["center"]
        model.scale_ = arrays["scale"]
        model.stats_n_ = arrays["stats_n"]
        model.stats_sum_ = arrays["stats_sum"]
        model.stats_outer_ = arrays["stats_outer"]
        model.n_features_in_ = model.center_.shape[0]
        for c in range(model.classes_.size):
            model._m_step(c)
        return model

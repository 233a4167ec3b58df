"""One full-covariance Gaussian per class (the paper's "GS")."""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

from listener.genres.base import GenreClassifier

_LOG_2PI = float(np.log(2.0 * np.pi))


@nb.njit(
    "void(float64[:, ::1], float64[:, ::1], float64[::1], float64[:, :, ::1], float64[::1], "
    "float64[:, ::1])",
    cache=True,
    nogil=True,
)
def gaussian_scores(x, means, scale, inverse_factor, log_det, out):  # pragma: no cover
    """Log-likelihood of each row of ``x`` under each class Gaussian, into ``out`` (n, k).

    ``inverse_factor[c]`` is the inverse of the Cholesky factor of class c's covariance in
    scaled units, so ``z = inverse_factor[c] @ ((x - mean) / scale)`` and the log-likelihood is
    ``-(d log 2 pi + log_det[c] + |z|^2) / 2``. Compiled: a single vector over ten classes of
    30 dimensions costs a few microseconds.
    """
    n, d = x.shape
    k = means.shape[0]
    dev = np.empty(d)
    for r in range(n):
        for c in range(k):
            for j in range(d):
                dev[j] = (x[r, j] - means[c, j]) / scale[j]
            q = 0.0
            for i in range(d):
                z = 0.0
                for j in range(i + 1):  # the inverse of a lower triangular factor is lower
                    z += inverse_factor[c, i, j] * dev[j]
                q += z * z
            out[r, c] = -0.5 * (d * _LOG_2PI + log_det[c] + q)


class GaussianClassifier(GenreClassifier):
    """One full-covariance Gaussian per class, fitted from running sufficient statistics.

    Each class keeps its count, mean and scatter (sum of outer products of deviations), merged
    with the pairwise update of Chan et al. when examples are added, so :meth:`partial_fit`
    adds examples or new classes exactly as a refit on everything would. The covariance is the
    unbiased scatter / (count - 1), first drawn toward the covariance pooled over all classes,
    ``(1 - pooling) S_c + pooling S_pooled`` (Friedman's regularised discriminant analysis: with
    few recordings per class each class's own covariance is noisy, and the pooled one is
    estimated from all of them), then toward its own diagonal,
    ``(1 - shrinkage) S + shrinkage diag(S)``, which keeps it invertible and, unlike shrinking
    toward the identity, does not depend on each feature's unit. ``pooling=0, shrinkage=0`` is
    the paper's plain Gaussian. Scoring uses the Cholesky factor.

    Parameters
    ----------
    pooling : float
        Weight of the pooled covariance in [0, 1] (default 0.75).
    shrinkage : float
        Weight of the diagonal in [0, 1] (default 0).

    Notes
    -----
    The defaults are what ``listener genres train --tune`` chooses on gtzan-mini (see
    docs/design.md).
    """

    def __init__(self, pooling: float = 0.75, shrinkage: float = 0.0) -> None:
        self.pooling = pooling
        self.shrinkage = shrinkage

    def _partial(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.str_]) -> None:
        d = x.shape[1]
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([], dtype=str)
            self.counts_ = np.zeros(0)
            self.means_ = np.zeros((0, d))
            self.scatters_ = np.zeros((0, d, d))
        for label in np.unique(y):
            batch = x[y == label]
            n_b = batch.shape[0]
            mean_b = batch.mean(axis=0)
            dev = batch - mean_b
            scatter_b = dev.T @ dev
            where = np.flatnonzero(self.classes_ == label)
            if where.size == 0:
                self.classes_ = np.append(self.classes_, label)
                self.counts_ = np.append(self.counts_, n_b)
                self.means_ = np.vstack([self.means_, mean_b])
                self.scatters_ = np.concatenate([self.scatters_, scatter_b[None]])
                continue
            c = where[0]
            n_a = self.counts_[c]
            delta = mean_b - self.means_[c]
            n = n_a + n_b
            self.means_[c] += delta * (n_b / n)
            self.scatters_[c] += scatter_b + np.outer(delta, delta) * (n_a * n_b / n)
            self.counts_[c] = n
        order = np.argsort(self.classes_)
        self.classes_ = self.classes_[order]
        self.counts_ = self.counts_[order]
        self.means_ = self.means_[order]
        self.scatters_ = self.scatters_[order]
        self._factor()

    def _factor(self) -> None:
        # Cholesky factors and log determinants of the shrunk covariances, in coordinates where
        # every feature has unit spread over all the training data: the GTZAN features range
        # from 1e-8 (flux variance) to 1e6 (centroid variance), and a covariance spanning 28
        # orders of magnitude cannot be factored in float64. The scaling changes no decision.
        k, d = self.means_.shape
        n = self.counts_.sum()
        grand = (self.counts_[:, None] * self.means_).sum(axis=0) / n
        spread = self.scatters_.sum(axis=0).diagonal() + (
            self.counts_[:, None] * (self.means_ - grand) ** 2
        ).sum(axis=0)
        scale = np.sqrt(spread / max(n - 1.0, 1.0))
        self.scale_ = np.where(scale > 0.0, scale, 1.0)
        self.inverse_factor_ = np.empty((k, d, d))
        self.log_det_ = np.empty(k)
        outer = np.outer(self.scale_, self.scale_)
        pooled = self.scatters_.sum(axis=0) / max(n - k, 1.0) / outer
        for c in range(k):
            cov = self.scatters_[c] / max(self.counts_[c] - 1.0, 1.0) / outer
            cov = (1.0 - self.pooling) * cov + self.pooling * pooled
            cov = (1.0 - self.shrinkage) * cov + self.shrinkage * np.diag(np.diag(cov))
            # features constant or tied within a class (integer-valued ones, a class of one
            # example) leave it singular: a ridge of 1e-6 of the overall spread
            cov[np.diag_indices(d)] += 1e-6
            chol = np.linalg.cholesky(cov)
            self.inverse_factor_[c] = np.linalg.solve(chol, np.eye(d))
            # log det of the covariance in the original units
            self.log_det_[c] = 2.0 * (np.log(np.diag(chol)) + np.log(self.scale_)).sum()

    def _log_likelihood(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.empty((x.shape[0], self.classes_.size))
        gaussian_scores(
            np.ascontiguousarray(x),
            self.means_,
            self.scale_,
            self.inverse_factor_,
            self.log_det_,
            out,
        )
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return what a model file holds: the sufficient statistics and the settings."""
        return {
            "classes": self.classes_,
            "counts": self.counts_,
            "means": self.means_,
            "scatters": self.scatters_,
            "settings": np.array([self.pooling, self.shrinkage]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GaussianClassifier:
        """Rebuild a fitted classifier from :meth:`to_arrays`."""
        pooling, shrinkage = (float(v) for v in arrays["settings"])
        model = cls(pooling, shrinkage)
        model.classes_ = arrays["classes"].astype(str)
        model.counts_ = arrays["counts"].astype(np.float64)
        model.means_ = np.ascontiguousarray(arrays["means"], dtype=np.float64)
        model.scatters_ = np.ascontiguousarray(arrays["scatters"], dtype=np.float64)
        model.n_features_in_ = model.means_.shape[1]
        model._factor()
        return model

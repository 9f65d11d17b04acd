"""A cheap analytic kinetics problem whose true task correlation is known, for fast unit tests.

Task ``t``'s modelled value is a linear model of coregionalization (LMC) over ``Q`` latent
functions,

    z_t(x) = mean_t + scale_t * sum_q A[t, q] u_q(x),

where ``x`` are the normalized model coordinates of the conditions (``space.to_model``) and each
``u_q`` is a fixed, seeded draw of a zero-mean Matern-5/2 GP with its own lengthscale, made by
random Fourier features. The draws are then standardized and decorrelated over a dense reference
design of the space, so that across the space they have zero mean, unit variance and no
correlation with each other: the correlation of ``z`` across the space is then
``D^-1/2 A A^T D^-1/2`` (``D = diag(A A^T)``), the
:attr:`AnalyticKinetics.true_task_correlation`. No trend (e.g. Arrhenius) is added on purpose: it
would change that correlation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems.base import Problem
from mtgp_kinetics.space import Continuous, Space
from mtgp_kinetics.tasks import Task

_MATERN_NU = 2.5

# Default loadings: Cholesky factors of the target correlations, so A A^T has them exactly.
# Tasks (log_k, f_a): correlation 0.8. Three tasks: corr(log_k, k_b) = -0.5, corr(f_a, k_b) = -0.2
# (positive definite; e.g. -0.5 with +0.3 would not be a valid correlation matrix).
_DEFAULT_CORRELATION = {
    2: np.array([[1.0, 0.8], [0.8, 1.0]]),
    3: np.array([[1.0, 0.8, -0.5], [0.8, 1.0, -0.2], [-0.5, -0.2, 1.0]]),
}

_TASKS = (
    Task("log_k", unit="cm3/mol/s", transform="log10", kind="rate"),
    Task("f_a", unit="", transform="logit", kind="mechanism"),
    Task("k_b", unit="1/s", transform="log10", kind="rate"),
)
_DEFAULT_MEANS = (12.0, 0.0, 3.0)
_DEFAULT_SCALES = (1.0, 1.0, 1.0)


class AnalyticKinetics(Problem):
    """Two or three correlated kinetics outputs over temperature and pressure, known correlation.

    Space: ``T`` 600-1200 K (modelled as 1000/T), ``P`` 0.1-10 bar (modelled as ln P). Tasks:
    ``log_k`` [cm3/mol/s] (log10, rate; latent mean 12, scale 1), ``f_a`` (logit, mechanism;
    mean 0, scale 1) and, with ``n_tasks=3``, ``k_b`` [1/s] (log10, rate; mean 3, scale 1).

    Parameters
    ----------
    n_tasks : {2, 3}
        Number of tasks.
    loadings : array-like, optional
        ``t x Q`` loading matrix ``A``. Default: the Cholesky factor of the correlation matrix with
        corr(log_k, f_a) = 0.8 and, for three tasks, corr(log_k, k_b) = -0.5, corr(f_a, k_b) = -0.2.
    lengthscales : sequence of float, optional
        Lengthscale of each latent function in normalized coordinates (length ``Q``); default 0.35
        for each.
    means, scales : sequence of float, optional
        ``mean_t`` and ``scale_t`` (> 0) of each task's modelled value; defaults as above.
    noise : float
        Measurement-noise std for :meth:`sample`, the same for every task, in its modelled space
        (log10 units for rates, logit units for ``f_a``).
    n_features : int
        Random Fourier features per latent function.
    seed : int
        Seed of the latent draws; two instances with the same arguments are identical.
    """

    name = "analytic"

    def __init__(
        self,
        n_tasks: int = 2,
        *,
        loadings: np.ndarray | Sequence[Sequence[float]] | None = None,
        lengthscales: Sequence[float] | None = None,
        means: Sequence[float] | None = None,
        scales: Sequence[float] | None = None,
        noise: float = 0.05,
        n_features: int = 1000,
        seed: int = 0,
    ) -> None:
        if n_tasks not in (2, 3) or isinstance(n_tasks, bool):
            raise InputDataError(f"AnalyticKinetics: n_tasks must be 2 or 3, got {n_tasks!r}")
        if loadings is None:
            A = np.linalg.cholesky(_DEFAULT_CORRELATION[n_tasks])
        else:
            A = np.asarray(loadings, dtype=float)
            if A.ndim != 2 or A.shape[0] != n_tasks or not np.all(np.isfinite(A)):
                raise InputDataError(
                    f"AnalyticKinetics: loadings must be a finite {n_tasks} x Q matrix, got shape {A.shape}"
                )
            if np.any(np.sum(A**2, axis=1) == 0):
                raise InputDataError("AnalyticKinetics: every row of loadings needs a non-zero entry")
        n_latent = A.shape[1]
        ell = self._vector("lengthscales", lengthscales, 0.35, n_latent, positive=True)
        self.means = self._vector("means", means, _DEFAULT_MEANS[:n_tasks], n_tasks)
        self.scales = self._vector("scales", scales, _DEFAULT_SCALES[:n_tasks], n_tasks, positive=True)
        if not (np.isfinite(noise) and noise >= 0):
            raise InputDataError(f"AnalyticKinetics: noise must be a finite number >= 0, got {noise!r}")
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise InputDataError(f"AnalyticKinetics: n_features must be a positive int, got {n_features!r}")
        self.loadings = A
        self.lengthscales = ell
        self.noise = float(noise)
        self.n_features = n_features
        self.seed = int(seed)
        self.space = Space(
            [
                Continuous("T", 600.0, 1200.0, unit="K", transform="inverse"),
                Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
            ]
        )
        self.tasks = list(_TASKS[:n_tasks])
        self._draw_features()

    @staticmethod
    def _vector(
        label: str,
        value: Sequence[float] | None,
        default: float | Sequence[float],
        size: int,
        positive: bool = False,
    ) -> np.ndarray:
        if value is None:
            return np.broadcast_to(np.asarray(default, dtype=float), (size,)).copy()
        arr = np.asarray(value, dtype=float)
        if arr.shape != (size,) or not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
            need = "positive " if positive else ""
            raise InputDataError(
                f"AnalyticKinetics: {label} must hold {size} finite {need}numbers, got {value!r}"
            )
        return arr

    def _draw_features(self) -> None:
        """Draw the random Fourier features and the whitening of the latent functions."""
        rng = np.random.default_rng(self.seed)
        d, m, n_latent = self.space.dim, self.n_features, len(self.lengthscales)
        # The spectral density of a Matern-nu kernel with lengthscale l is a multivariate Student-t
        # with 2 nu degrees of freedom and scale 1/l (Rasmussen & Williams 2006, eq. 4.15), so a
        # frequency is a Gaussian divided by sqrt(chi2_{2nu} / 2nu) (Rahimi & Recht 2007).
        gauss = rng.standard_normal((n_latent, m, d))
        chi2 = rng.chisquare(2 * _MATERN_NU, size=(n_latent, m, 1))
        self._omega = gauss / np.sqrt(chi2 / (2 * _MATERN_NU)) / self.lengthscales[:, None, None]
        self._phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_latent, m))
        # A single draw over a bounded domain has a non-zero spatial mean and is correlated with the
        # other draws; standardize and decorrelate over a dense reference design so the latent
        # functions are exactly uncorrelated with unit variance across the space.
        engine = torch.quasirandom.SobolEngine(d, scramble=True, seed=self.seed)
        reference = engine.draw(4096, dtype=torch.float64).numpy()
        raw = self._raw_latent(reference)
        self._center = raw.mean(axis=0)
        L = np.linalg.cholesky(np.cov(raw, rowvar=False).reshape(n_latent, n_latent))
        self._whiten = np.linalg.inv(L).T

    def _raw_latent(self, x: np.ndarray) -> np.ndarray:
        """``n x Q`` raw random-Fourier-feature draws at normalized inputs ``x`` (``n x d``)."""
        # u(x) = sqrt(2 / M) sum_m cos(omega_m . x + b_m): unit prior variance. Rows are done in
        # blocks so the n x Q x M intermediate stays small (a few MB) for any n.
        out = np.empty((x.shape[0], self._omega.shape[0]))
        for start in range(0, x.shape[0], 256):
            block = x[start : start + 256]
            args = np.einsum("nd,qmd->nqm", block, self._omega) + self._phase[None]
            out[start : start + 256] = np.cos(args).sum(axis=-1)
        return np.sqrt(2.0 / self.n_features) * out

    @property
    def true_task_correlation(self) -> pd.DataFrame:
        """``t x t`` correlation of the modelled task values, ``D^-1/2 A A^T D^-1/2``, labelled."""
        cov = self.loadings @ self.loadings.T
        sd = np.sqrt(np.diag(cov))
        names = self.task_names
        return pd.DataFrame(cov / np.outer(sd, sd), index=names, columns=names)

    @property
    def noise_std(self) -> dict[str, float]:
        """The constructor's ``noise`` for every task, in modelled units."""
        return dict.fromkeys(self.task_names, self.noise)

    def latent(self, conditions: pd.DataFrame) -> np.ndarray:
        """Modelled (transformed) values of the tasks, noise-free.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with columns ``T`` [K] and ``P`` [bar].

        Returns
        -------
        ndarray
            ``n x t``: ``z_t`` in log10 units for rates, logit units for ``f_a``.
        """
        x = self.space.to_model(conditions).numpy()
        u = (self._raw_latent(x) - self._center) @ self._whiten
        return self.means + self.scales * (u @ self.loadings.T)

    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        """Noise-free outputs in physical units.

        Parameters
        ----------
        conditions : DataFrame
            ``n`` rows with columns ``T`` [K] and ``P`` [bar].
        progress : bool or None
            Ignored (evaluation is instantaneous); accepted for the common interface.

        Returns
        -------
        DataFrame
            ``n`` rows, same index: ``T``, ``P``, then one column per task in physical units.
        """
        z = self.latent(conditions)
        out = conditions[self.space.names].apply(pd.to_numeric).astype(float).copy()
        for j, task in enumerate(self.tasks):
            out[task.name] = task.output_transform.inverse(z[:, j])
        return out

"""The hyperparameter uncertainty of a MAP fit, added to its predictive variance (Laplace + delta method).

A MAP fit predicts with one hyperparameter vector. With 10-30 observations the posterior over the
lengthscales, variances and noise is broad, and the predictive variance at the MAP point misses the
part of the uncertainty that comes from not knowing them. By the law of total variance,

    Var[f(x)] = E_theta[ Var(f(x) | theta) ] + Var_theta[ E(f(x) | theta) ]
              ~ V(x; u*) + d(x)^T Sigma d(x),                                              (1)

with ``u`` the optimizer's coordinates of the hyperparameters (``log(theta - b)`` above a lower
bound ``b``, the others as they are: :func:`mtgp_kinetics.fitting._optimizer_coordinates`), ``u*``
the MAP point, ``Sigma = H^-1`` the Laplace approximation of the posterior covariance of ``u``
(``H`` the Hessian of the negative log posterior at ``u*``; MacKay 1992; Rasmussen & Williams 2006,
sec. 5.4) and ``d(x) = d mu(x) / du`` the sensitivity of the posterior mean. (1) is the first-order
part of the "marginal GP" of Garnett, Osborne & Hennig (2014), without its 4/3 factor on ``V`` and
its second-order term in ``dV/du``: the MAP variance is kept as it is and only the spread of the
means over plausible hyperparameters is added. The mean is unchanged.

Computation: ``H`` by central differences (step :data:`STEP`) of the autograd gradient of the MAP
objective; ``Sigma`` from its eigendecomposition ``H = Q diag(lambda) Q^T`` with eigenvalues floored
at :data:`MIN_CURVATURE` (a direction the data and priors leave flat, such as a rotation of an
LMC's loadings, along which the predictions do not move); then with ``s_k = q_k / sqrt(lambda_k)``

    d(x)^T Sigma d(x) = sum_k (D_{s_k} mu(x))^2,    D_s mu = [mu(u* + h s) - mu(u* - h s)] / (2 h),

``2 p`` posterior means for ``p`` hyperparameters. For a joint prediction the same directional
derivatives give the rank-``p`` covariance ``sum_k D_k D_k^T`` over all (condition, task) pairs.

Measured (``docs/default_model.md``, "Session 7"): on H2/O2 and the analytic problem (n = 30, 60,
120, heterotopic, 5 seeds, default model) it moved held-out 95 % coverage towards 95 % and improved
the NLPD of the worst fits most (analytic f_a at n = 30, seed 2: +8.11 -> +6.69; H2/O2 tau_ign at
n = 30, seed 3: -0.06 -> -0.24). It costs up to 0.13 nats where the MAP intervals were already
wide enough, and at 20 H2/O2 conditions (5 observations of the sparse task, which MAP already
over-covers) it made both tasks' median NLPD worse (by 0.012 and 0.055).

References
----------
Garnett, R., Osborne, M. A., Hennig, P. (2014). Active learning of linear embeddings for Gaussian
processes. UAI.
MacKay, D. J. C. (1992). A practical Bayesian framework for backpropagation networks. Neural
Computation 4(3), 448-472.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from mtgp_kinetics.errors import NumericsWarning
from mtgp_kinetics.fitting import _optimizer_coordinates, neg_log_posterior
from mtgp_kinetics.models.dense_covariance import TrainingCovariance
from mtgp_kinetics.models.gp import CoregionalGP

#: Central-difference step in the optimizer's coordinates (log units for bounded hyperparameters).
STEP = 1e-3
#: Smallest curvature (eigenvalue of the Hessian) used: posterior variance at most 100 per direction.
MIN_CURVATURE = 1e-2


class HyperparameterUncertainty:
    """Laplace approximation of a fitted GP's hyperparameter posterior, for the delta method (1).

    Parameters
    ----------
    gp : CoregionalGP
        A fitted model (MAP point). Its parameters are moved during :meth:`mean_sensitivities` and
        restored afterwards, exactly (from a copy, not through the coordinates).

    Attributes
    ----------
    directions : Tensor
        ``p x p``: row ``k`` is ``s_k = q_k / sqrt(lambda_k)``, one posterior standard deviation
        along the ``k``-th principal direction, in optimizer coordinates.
    """

    def __init__(self, gp: CoregionalGP) -> None:
        self.gp = gp
        self._params, lower, use_log = _optimizer_coordinates(gp)
        self._lower = torch.as_tensor(lower, dtype=torch.float64)
        self._use_log = torch.as_tensor(use_log, dtype=torch.bool)
        self._base = self._lower.where(self._use_log, torch.zeros_like(self._lower))
        self._map_values = [p.detach().clone() for p in self._params]
        self.u_star = self.coordinates()
        hessian = self._hessian()
        eigval, eigvec = torch.linalg.eigh(0.5 * (hessian + hessian.T))
        self.directions = (eigvec / eigval.clamp_min(MIN_CURVATURE).sqrt()).T

    # -- coordinates -------------------------------------------------------------------------------
    def coordinates(self) -> torch.Tensor:
        """The GP's current hyperparameters in optimizer coordinates, ``p``."""
        flat = torch.cat([p.detach().reshape(-1) for p in self._params]).to(torch.float64)
        gap = (flat - self._base).clamp_min(1e-300)
        return torch.where(self._use_log, gap.log(), flat)

    def is_current(self) -> bool:
        """Whether the GP still holds the hyperparameters this approximation was computed at."""
        return all(torch.equal(p, value) for p, value in zip(self._params, self._map_values, strict=True))

    def _restore(self) -> None:
        with torch.no_grad():
            for p, value in zip(self._params, self._map_values, strict=True):
                p.copy_(value)
        self.gp.prediction_strategy = None

    def _assign(self, u: torch.Tensor) -> None:
        theta = torch.where(self._use_log, self._base + u.exp(), u)
        start = 0
        with torch.no_grad():
            for p in self._params:
                p.copy_(theta[start : start + p.numel()].view(p.shape))
                start += p.numel()
        self.gp.prediction_strategy = None

    def _gradient(self, u: torch.Tensor, covariance: TrainingCovariance) -> torch.Tensor:
        """Gradient of the negative log posterior (nats, not per observation) in ``u``."""
        self._assign(u)
        n = self.gp.train_targets.shape[-1]
        with torch.enable_grad():
            value = n * neg_log_posterior(self.gp, covariance)
            grads = torch.autograd.grad(value, self._params)
        flat = torch.cat([g.reshape(-1) for g in grads]).to(torch.float64)
        # theta = b + exp(u) for the log coordinates: d/du = (theta - b) d/dtheta.
        return torch.where(self._use_log, flat * u.exp(), flat)

    def _hessian(self) -> torch.Tensor:
        """``p x p`` Hessian of the negative log posterior at the MAP point, central differences."""
        covariance = TrainingCovariance(self.gp.covar_module, self.gp.train_inputs[0])
        p = self.u_star.numel()
        hessian = torch.zeros(p, p, dtype=torch.float64)
        try:
            for i in range(p):
                step = torch.zeros(p, dtype=torch.float64)
                step[i] = STEP
                plus = self._gradient(self.u_star + step, covariance)
                minus = self._gradient(self.u_star - step, covariance)
                hessian[:, i] = (plus - minus) / (2.0 * STEP)
        finally:
            self._restore()
        return hessian

    # -- what predictions use ----------------------------------------------------------------------
    def mean_sensitivities(self, mean_of: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Directional derivatives ``D_k mu`` of a posterior mean, one per principal direction.

        Parameters
        ----------
        mean_of : callable
            Returns the ``N`` posterior means of interest (standardized units) for the GP's
            current hyperparameters; called ``2 p`` times with the GP moved to ``u* +- h s_k``.

        Returns
        -------
        Tensor
            ``p x N``: ``D_k mu``; ``sum_k D_k D_k^T`` is the covariance added by (1), its
            diagonal ``(D ** 2).sum(0)`` the variance. Zeros (with a :class:`NumericsWarning`)
            where a moved GP cannot be evaluated.
        """
        rows = []
        try:
            for direction in self.directions:
                self._assign(self.u_star + STEP * direction)
                plus = mean_of()
                self._assign(self.u_star - STEP * direction)
                minus = mean_of()
                rows.append((plus - minus) / (2.0 * STEP))
        except (torch.linalg.LinAlgError, RuntimeError) as error:
            warnings.warn(
                f"hyperparameter uncertainty left out of the predictive variance: the GP could not be "
                f"evaluated {STEP} away from its MAP point ({error})",
                NumericsWarning,
                stacklevel=4,
            )
            return torch.zeros(0, 0, dtype=torch.float64)
        finally:
            self._restore()
        return torch.stack(rows) if rows else torch.zeros(0, 0, dtype=torch.float64)

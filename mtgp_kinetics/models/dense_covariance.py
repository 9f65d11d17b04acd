"""The training covariance of a coregionalization kernel, from pairwise differences computed once.

A MAP fit evaluates ``K(X, X)`` for the same training inputs hundreds of times. Through gpytorch's
kernel modules every evaluation re-centres and rescales the inputs, recomputes distances and builds
lazy tensors; here the per-dimension squared differences (continuous conditions) and mismatches
(categorical conditions) are computed once, and each evaluation is a few dense tensor operations:

    r_q^2(x, x')  = sum_d (x_d - x'_d)^2 / l_{q,d}^2                 (continuous dims, ARD)
    k_q(x, x')    = Matern_nu(r_q) * exp(-mean_c [x_c != x'_c] / l_{q,c})
    K[(x,t),(x',t')] = sum_q B_q[t, t'] k_q(x, x')

A rotated Matern part (:class:`~mtgp_kinetics.models.rotated_kernel.RotatedMaternKernel`) uses
the differences themselves, ``r_q^2 = |diag(1/l_q) R_q (x - x')|^2``, kept only when such a part
exists. All with exactly the formulas of gpytorch's ``MaternKernel`` and botorch's
``CategoricalKernel`` (a test checks the result against ``CoregionalizationKernel.forward`` to
1e-12). Measured on H2/O2 with n = 75 observations and five latent processes: one objective
evaluation with its gradient went from about 9 ms to under 2 ms.

A latent process that only some tasks load on (a private process, or a shared one that a task opted
out of) has ``B_q`` zero outside those tasks, so ``k_q`` is evaluated only on the ``m x m`` block of
their observations and added into its place: for two equally observed tasks, each private process
costs a quarter of a full ``n x n`` evaluation.
"""

from __future__ import annotations

import math

import torch
from botorch.models.kernels.categorical import CategoricalKernel
from gpytorch.kernels import Kernel, MaternKernel, ProductKernel

from mtgp_kinetics.models.coregionalization import CoregionalizationKernel
from mtgp_kinetics.models.rotated_kernel import RotatedMaternKernel
from mtgp_kinetics.models.task_covariance import LowRankTaskCovariance, SingleTaskVariance


def _parts(kernel: Kernel) -> list[Kernel]:
    return list(kernel.kernels) if isinstance(kernel, ProductKernel) else [kernel]


def _active(kernel: Kernel, d: int) -> tuple[int, ...]:
    dims = kernel.active_dims
    return tuple(range(d)) if dims is None else tuple(int(i) for i in dims)


def _matern(r2: torch.Tensor, nu: float) -> torch.Tensor:
    # clamp as gpytorch's covar_dist does: the diagonal has r = 0, where sqrt has no derivative.
    r = r2.clamp_min(1e-30).sqrt()
    exp_part = torch.exp(-math.sqrt(2.0 * nu) * r)
    if nu == 0.5:
        return exp_part
    if nu == 1.5:
        return (1.0 + math.sqrt(3.0) * r) * exp_part
    if nu == 2.5:
        return (1.0 + math.sqrt(5.0) * r + 5.0 / 3.0 * r2) * exp_part
    raise ValueError(f"Matern smoothness must be 0.5, 1.5 or 2.5, got {nu}")


class TrainingCovariance:
    """Evaluate ``K(X, X)`` (``n x n``, no noise) of a coregionalization kernel quickly.

    Parameters
    ----------
    kernel : CoregionalizationKernel
        The kernel; its current hyperparameters are read at every call, so gradients flow to them.
    X : Tensor
        ``n x (d + 1)`` training inputs, task index in the last column.

    Raises
    ------
    TypeError
        If an input kernel is not a Matern kernel, a categorical kernel or a product of them.
    """

    def __init__(self, kernel: CoregionalizationKernel, X: torch.Tensor) -> None:
        self.kernel = kernel
        conditions = X[..., :-1]
        d = conditions.shape[-1]
        self.tasks = X[..., -1].round().long()
        diff = conditions.unsqueeze(-2) - conditions.unsqueeze(-3)
        self._squared = (diff * diff).detach()  # n x n x d
        self._mismatch = (diff != 0).to(X.dtype).detach()  # n x n x d
        rotated = any(
            isinstance(part, RotatedMaternKernel) for k in kernel.input_kernels for part in _parts(k)
        )
        # The differences themselves only where a rotated part needs them (n x n x d).
        self._difference = diff.detach() if rotated else None
        self._plans: list[list[tuple[str, Kernel, list[int]]]] = []
        # Per latent process: None (every observation's task loads on it) or the observations whose
        # task does, with their squared differences, mismatches and differences (m x m x d).
        self._supports: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None] | None] = []
        for task_cov in kernel.task_covariances:
            self._supports.append(self._support(task_cov))
        for input_kernel in kernel.input_kernels:
            plan = []
            for part in _parts(input_kernel):
                dims = list(_active(part, d))
                if isinstance(part, RotatedMaternKernel):
                    plan.append(("rotated", part, dims))
                elif isinstance(part, MaternKernel):
                    plan.append(("matern", part, dims))
                elif isinstance(part, CategoricalKernel):
                    plan.append(("categorical", part, dims))
                else:
                    raise TypeError(f"TrainingCovariance cannot evaluate {type(part).__name__}")
            self._plans.append(plan)

    def _support(
        self, task_cov: torch.nn.Module
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
        """The observations a latent process reaches, where that is not all of them (2-D inputs)."""
        if self.tasks.dim() != 1:
            return None
        if isinstance(task_cov, SingleTaskVariance):
            loads = self.tasks == task_cov.task
        elif isinstance(task_cov, LowRankTaskCovariance):
            loads = task_cov.members[self.tasks]
        else:
            return None
        if bool(loads.all()):
            return None
        index = torch.nonzero(loads).squeeze(-1)
        block = (index.unsqueeze(-1), index.unsqueeze(-2))
        difference = None if self._difference is None else self._difference[block]
        return index, self._squared[block], self._mismatch[block], difference

    def input_covariance(self, q: int, block: bool = False) -> torch.Tensor:
        """``k_q(X, X)`` of latent process ``q`` (``n x n``).

        With ``block=True``, only over the observations whose task loads on ``q`` (``m x m``, the
        rows of ``self.support(q)``).
        """
        support = self._supports[q] if block else None
        if support is None:
            squared, mismatch, difference = self._squared, self._mismatch, self._difference
        else:
            squared, mismatch, difference = support[1:]
        result: torch.Tensor | None = None
        for kind, part, dims in self._plans[q]:
            lengthscale = part.lengthscale.reshape(-1)
            if kind == "matern":
                r2 = squared[..., dims] @ lengthscale.pow(-2)
                value = _matern(r2, float(part.nu))
            elif kind == "rotated":
                assert difference is not None
                turned = (difference[..., dims] @ part.rotation.T) / lengthscale
                value = _matern((turned * turned).sum(-1), float(part.nu))
            else:
                value = torch.exp(-(mismatch[..., dims] @ lengthscale.reciprocal()) / len(dims))
            result = value if result is None else result * value
        assert result is not None
        return result

    def support(self, q: int) -> torch.Tensor | None:
        """Indices of the observations whose task loads on latent process ``q`` (None: all ``n``)."""
        support = self._supports[q]
        return None if support is None else support[0]

    def __call__(self) -> torch.Tensor:
        """``K(X, X) = sum_q B_q[t, t'] k_q(x, x')`` (``n x n``)."""
        rows, cols = self.tasks.unsqueeze(-1), self.tasks.unsqueeze(-2)
        total: torch.Tensor | None = None
        blocks = []
        for q, task_cov in enumerate(self.kernel.task_covariances):
            index = self.support(q)
            if index is None:
                term = self.input_covariance(q) * task_cov.matrix()[rows, cols]
                total = term if total is None else total + term
            else:
                tasks = self.tasks[index]
                B = task_cov.matrix()[tasks.unsqueeze(-1), tasks.unsqueeze(-2)]
                blocks.append((index, self.input_covariance(q, block=True) * B))
        if total is None:
            n = self.tasks.shape[-1]
            total = torch.zeros(n, n, dtype=self._squared.dtype)
        for index, term in blocks:
            total = total.index_put((index.unsqueeze(-1), index.unsqueeze(-2)), term, accumulate=True)
        return total

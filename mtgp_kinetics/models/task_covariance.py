"""Coregionalization matrices: how much of a latent process each task carries.

Two kinds, both ``t x t`` positive semi-definite matrices over the ``t`` tasks:

* :class:`LowRankTaskCovariance` -- ``B = W W^T + diag(kappa)`` with ``W`` of shape ``t x r``: the
  shared part (rank ``r``) plus a private part per task (``kappa``). Used by ICM (one of them) and
  LMC (one per latent process).
* :class:`SingleTaskVariance` -- ``B = s^2 e_k e_k^T``: the latent process belongs to task ``k``
  alone. ``t`` of them, each with its own input kernel, make independent GPs.
"""

from __future__ import annotations

import math

import torch
from gpytorch.constraints import GreaterThan
from gpytorch.module import Module

from mtgp_kinetics.models.priors import TaskCovariancePrior, outputscale_prior

# Variances are bounds for the optimizer (transform=None), never reaching 0: a softplus constraint
# underflowed to exactly 0.0 on H2/O2 data, where the LogNormal prior is undefined.
MIN_VARIANCE = 1e-6


class LowRankTaskCovariance(Module):
    """``B = W W^T + diag(kappa)``, ``t x t``, with an LKJ x LogNormal prior on ``B``.

    Parameters
    ----------
    num_tasks : int
        ``t``.
    rank : int
        ``r``, columns of ``W`` (1 <= r <= t); ``r = t`` is a full-rank task covariance.
    total_variance : float
        Initial ``B_tt`` (standardized units); ``W`` starts with equal entries so every pair of
        tasks starts at correlation 0.5, which keeps the gradient of ``W`` away from the saddle at 0.
    prior : TaskCovariancePrior or None
        Prior on ``B`` (on its block over the member tasks).
    members : tuple of int, optional
        Tasks that load on this process; the others have zero rows and columns in ``B``.
    """

    def __init__(
        self,
        num_tasks: int,
        rank: int,
        total_variance: float = 1.0,
        prior: TaskCovariancePrior | None = None,
        members: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        mask = torch.zeros(num_tasks, dtype=torch.bool)
        mask[list(range(num_tasks)) if members is None else list(members)] = True
        self.register_buffer("members", mask)
        if not 1 <= rank <= num_tasks:
            raise ValueError(f"rank must be in [1, {num_tasks}], got {rank}")
        self.num_tasks = num_tasks
        self.rank = rank
        shared = 0.5 * total_variance
        self.W = torch.nn.Parameter(torch.full((num_tasks, rank), math.sqrt(shared / rank)))
        self.register_parameter("raw_kappa", torch.nn.Parameter(torch.zeros(num_tasks)))
        self.register_constraint("raw_kappa", GreaterThan(MIN_VARIANCE, transform=None))
        self.kappa = torch.full((num_tasks,), total_variance - shared)
        if prior is not None:
            self.register_prior("task_covariance_prior", prior, lambda m: m.member_block())

    @property
    def kappa(self) -> torch.Tensor:
        """Private variance of each task, shape ``t``."""
        return self.raw_kappa_constraint.transform(self.raw_kappa)

    @kappa.setter
    def kappa(self, value: torch.Tensor) -> None:
        value = torch.as_tensor(value, dtype=self.raw_kappa.dtype)
        self.initialize(raw_kappa=self.raw_kappa_constraint.inverse_transform(value))

    def matrix(self) -> torch.Tensor:
        """The ``t x t`` task covariance ``B`` (zero outside the member tasks)."""
        mask = self.members.to(self.W.dtype)
        W = self.W * mask.unsqueeze(-1)
        return W @ W.transpose(-1, -2) + torch.diag_embed(self.kappa * mask)

    def member_block(self) -> torch.Tensor:
        """``B`` restricted to the member tasks (``m x m``), what the prior sees."""
        idx = torch.nonzero(self.members).squeeze(-1)
        return self.matrix()[idx][:, idx]


class SingleTaskVariance(Module):
    """``B = s^2 e_k e_k^T``: a latent process private to task ``k``.

    Parameters
    ----------
    num_tasks : int
        ``t``.
    task : int
        ``k``, the task that owns the process.
    """

    def __init__(self, num_tasks: int, task: int) -> None:
        super().__init__()
        self.num_tasks = num_tasks
        self.task = task
        self.register_parameter("raw_outputscale", torch.nn.Parameter(torch.tensor(0.0)))
        self.register_constraint("raw_outputscale", GreaterThan(MIN_VARIANCE, transform=None))
        self.register_prior("outputscale_prior", outputscale_prior(), lambda m: m.outputscale)
        self.outputscale = torch.tensor(1.0)

    @property
    def outputscale(self) -> torch.Tensor:
        """Signal variance ``s^2`` of the owning task (scalar)."""
        return self.raw_outputscale_constraint.transform(self.raw_outputscale)

    @outputscale.setter
    def outputscale(self, value: torch.Tensor) -> None:
        value = torch.as_tensor(value, dtype=self.raw_outputscale.dtype)
        self.initialize(raw_outputscale=self.raw_outputscale_constraint.inverse_transform(value))

    def matrix(self) -> torch.Tensor:
        """The ``t x t`` task covariance, zero but for entry ``(k, k)``."""
        onehot = torch.zeros(self.num_tasks, dtype=self.raw_outputscale.dtype)
        onehot[self.task] = 1.0
        return self.outputscale * torch.outer(onehot, onehot)


TaskCovariance = LowRankTaskCovariance | SingleTaskVariance

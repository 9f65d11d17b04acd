"""Coregionalization kernels over (conditions, task): ICM, LMC and independent tasks.

The linear model of coregionalization writes the covariance of task ``t`` at ``x`` and task ``t'`` at
``x'`` as a sum over ``Q`` latent processes,

    k((x, t), (x', t')) = sum_q  B_q[t, t'] k_q(x, x')                  (Alvarez et al. 2012, eq. 17)

with unit-variance input kernels ``k_q`` and ``t x t`` coregionalization matrices ``B_q``.

* ICM: ``Q = 1``, one input kernel shared by all tasks, ``B`` low rank plus diagonal.
* LMC: ``Q > 1``, each latent process with its own lengthscales and its own ``B_q``, so tasks can
  mix smooth and rough structure.
* independent: ``Q = t`` latent processes, ``B_q = s_q^2 e_q e_q^T``: no sharing at all.

Inputs are ``... x n x (d + 1)`` tensors whose last column is the task index.

Reference: Alvarez, M. A., Rosasco, L., Lawrence, N. D. (2012). Kernels for vector-valued functions:
a review. Foundations and Trends in Machine Learning 4(3), 195-266.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from gpytorch.kernels import Kernel
from torch.nn import ModuleList

from mtgp_kinetics.models.task_covariance import TaskCovariance


class CoregionalizationKernel(Kernel):
    """Sum over latent processes of (input kernel) x (task covariance).

    Parameters
    ----------
    input_kernels : sequence of Kernel
        ``Q`` unit-variance kernels over the ``d`` condition columns.
    task_covariances : sequence of TaskCovariance
        ``Q`` modules whose ``matrix()`` is the ``t x t`` matrix ``B_q``.
    """

    def __init__(self, input_kernels: Sequence[Kernel], task_covariances: Sequence[TaskCovariance]):
        super().__init__()
        if len(input_kernels) != len(task_covariances) or not input_kernels:
            raise ValueError("need one task covariance per input kernel, and at least one of each")
        self.input_kernels = ModuleList(input_kernels)
        self.task_covariances = ModuleList(task_covariances)

    @property
    def num_latents(self) -> int:
        """``Q``."""
        return len(self.input_kernels)

    def latent_matrices(self) -> list[torch.Tensor]:
        """The ``Q`` coregionalization matrices ``B_q``, each ``t x t``."""
        return [tc.matrix() for tc in self.task_covariances]

    def task_covariance_at_zero_distance(self) -> torch.Tensor:
        """``sum_q B_q k_q(x, x)``: the ``t x t`` covariance of the tasks at one condition."""
        return torch.stack(self.latent_matrices()).sum(0)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: object
    ) -> torch.Tensor:
        """Covariance ``... x n x m`` (or ``... x n`` with ``diag``) of ``... x n x (d+1)`` inputs."""
        t1 = x1[..., -1].round().long()
        t2 = x2[..., -1].round().long()
        z1, z2 = x1[..., :-1], x2[..., :-1]
        total: torch.Tensor | None = None
        for kernel, task_cov in zip(self.input_kernels, self.task_covariances, strict=True):
            B = task_cov.matrix()
            if diag:
                term = kernel(z1, z2, diag=True) * B[t1, t2]
            else:
                Kx = kernel(z1, z2).to_dense()
                term = Kx * B[t1.unsqueeze(-1), t2.unsqueeze(-2)]
            total = term if total is None else total + term
        assert total is not None
        return total

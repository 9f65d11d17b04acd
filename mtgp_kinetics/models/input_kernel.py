"""The kernel over experimental conditions (without the task).

Matern-5/2 with one lengthscale per continuous condition (ARD) on the normalized transformed inputs
(optionally along learned, rotated axes: :mod:`mtgp_kinetics.models.rotated_kernel`), times a
categorical kernel over the categorical conditions (botorch's ``CategoricalKernel``:
``exp(-mean_i [x_i != x'_i] / l_i)``, an exchangeable correlation between levels, never a distance
between level codes). Unit variance: the signal variance lives in the task covariance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.models.kernels.categorical import CategoricalKernel
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel, MaternKernel, ProductKernel
from torch import Tensor

from mtgp_kinetics.models.priors import (
    MIN_LENGTHSCALE,
    categorical_lengthscale_prior,
    continuous_lengthscale_prior,
)
from mtgp_kinetics.models.rotated_kernel import RotatedMaternKernel


class LevelKernel(CategoricalKernel):
    """botorch's ``CategoricalKernel`` whose diagonal is computed without the full matrix.

    ``CategoricalKernel.forward(x, x, diag=True)`` builds the ``n x n`` matrix and takes its
    diagonal; a campaign asks for the prior variance of every (candidate, task) pair, which for
    3630 pairs made each ``max_variance`` pick take about 0.4 s (session 11). The values are the
    same: ``exp(-mean_i [x_i != x'_i] / l_i)`` of each pair of rows.
    """

    def forward(self, x1: Tensor, x2: Tensor, diag: bool = False, last_dim_is_batch: bool = False) -> Tensor:
        """Kernel matrix ``... x n x m``, or its diagonal ``... x n`` (``diag=True``, ``n = m``)."""
        if not diag or last_dim_is_batch or x1.shape != x2.shape:
            return super().forward(x1, x2, diag=diag, last_dim_is_batch=last_dim_is_batch)
        return torch.exp(-((x1 != x2) / self.lengthscale).mean(-1))


def make_input_kernel(
    continuous_dims: Sequence[int],
    categorical_dims: Sequence[int] = (),
    nu: float = 2.5,
    rotated: bool = False,
) -> Kernel:
    """Build the default unit-variance kernel over conditions.

    Parameters
    ----------
    continuous_dims : sequence of int
        Model columns of continuous conditions (normalized to [0, 1]).
    categorical_dims : sequence of int
        Model columns holding categorical level codes.
    nu : float
        Matern smoothness (0.5, 1.5 or 2.5).
    rotated : bool
        Learn the directions of the ARD axes (:class:`RotatedMaternKernel`); needs at least two
        continuous conditions, and is ignored with fewer.

    Returns
    -------
    Kernel
        Acting on ``n x d`` condition tensors (the task column already removed).
    """
    parts: list[Kernel] = []
    if continuous_dims:
        prior = continuous_lengthscale_prior(len(continuous_dims))
        kind = RotatedMaternKernel if rotated and len(continuous_dims) >= 2 else MaternKernel
        parts.append(
            kind(
                nu=nu,
                ard_num_dims=len(continuous_dims),
                active_dims=tuple(continuous_dims),
                lengthscale_prior=prior,
                lengthscale_constraint=GreaterThan(MIN_LENGTHSCALE, transform=None, initial_value=prior.mode),
            )
        )
    if categorical_dims:
        prior = categorical_lengthscale_prior()
        parts.append(
            LevelKernel(
                ard_num_dims=len(categorical_dims),
                active_dims=tuple(categorical_dims),
                lengthscale_prior=prior,
                lengthscale_constraint=GreaterThan(1e-3, transform=None, initial_value=1.0),
            )
        )
    if not parts:
        raise ValueError("the input kernel needs at least one condition dimension")
    return parts[0] if len(parts) == 1 else ProductKernel(*parts)

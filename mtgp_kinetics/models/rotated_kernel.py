"""A Matern kernel whose ARD axes are learned directions, not the condition axes.

An ARD kernel can only be short along a condition axis. A regime boundary that runs diagonally
across the conditions (the second explosion limit of H2/O2: a line in 1000/T and ln P along which
the ignition delay's slope changes) then needs short lengthscales in both T and P, and the GP
spends its data resolving the whole plane. Rotating the axes first lets one lengthscale be short
across the boundary and another long along it:

    k(x, x') = Matern_nu( || diag(1/l) R (x - x') || ),     R = expm(S),  S = -S^T

``S`` is a skew-symmetric ``d x d`` generator with ``d (d - 1) / 2`` free entries (one angle per
pair of conditions), so ``R`` is a rotation for every value of the parameters and ``S = 0`` is the
ordinary ARD kernel. This is the Mahalanobis (full-metric) kernel of Vivarelli & Williams (1999)
with the metric written as ``R^T diag(1/l^2) R``, which keeps the lengthscales and their prior
meaningful. A Normal(0, :data:`ROTATION_PRIOR_STD`) prior on each generator entry keeps the axes near
the conditions unless the data pay for turning them.

On H2/O2's ignition delay (independent GP, Matern-3/2, 1000 held-out conditions, 5 seeds) it
halved the held-out error at 36-48 observations; ``docs/default_model.md`` ("Session 8") has the
measurements and the rule by which the default model chooses it per task.

References
----------
Vivarelli, F., Williams, C. K. I. (1999). Discovering hidden features with Gaussian process
regression. NeurIPS 11.
"""

from __future__ import annotations

import torch
from gpytorch.kernels import MaternKernel
from gpytorch.priors import NormalPrior

#: Prior std of each generator entry (radians for a single pair of conditions): a turn of 45 degrees
#: is 1.6 standard deviations out, so a diagonal structure is reachable when the data show it.
ROTATION_PRIOR_STD = 0.5


def rotation_matrix(generator: torch.Tensor, d: int) -> torch.Tensor:
    """``expm(S)`` for the skew-symmetric ``S`` whose upper triangle is ``generator``.

    Parameters
    ----------
    generator : Tensor
        ``d (d - 1) / 2`` entries, row-major upper triangle.
    d : int
        Number of conditions.

    Returns
    -------
    Tensor
        ``d x d`` rotation (orthogonal, determinant 1), differentiable in ``generator``.
    """
    rows, cols = torch.triu_indices(d, d, 1)
    upper = torch.zeros(d, d, dtype=generator.dtype).index_put((rows, cols), generator.reshape(-1))
    return torch.linalg.matrix_exp(upper - upper.T)


class RotatedMaternKernel(MaternKernel):
    """Matern ARD kernel on rotated inputs, ``k(x, x') = Matern(|diag(1/l) R (x - x')|)``.

    Parameters
    ----------
    nu : float
        Matern smoothness (0.5, 1.5 or 2.5).
    ard_num_dims : int
        ``d``, the number of (continuous) conditions it acts on.
    **kwargs
        Passed to :class:`gpytorch.kernels.MaternKernel` (lengthscale prior and constraint,
        ``active_dims``).

    Attributes
    ----------
    raw_rotation : Parameter
        ``d (d - 1) / 2`` generator entries; zero is the unrotated ARD kernel.
    """

    def __init__(self, nu: float, ard_num_dims: int, **kwargs) -> None:
        if ard_num_dims < 2:
            raise ValueError("a rotated kernel needs at least two continuous conditions")
        super().__init__(nu=nu, ard_num_dims=ard_num_dims, **kwargs)
        size = ard_num_dims * (ard_num_dims - 1) // 2
        self.register_parameter("raw_rotation", torch.nn.Parameter(torch.zeros(size)))
        self.register_prior(
            "rotation_prior", NormalPrior(0.0, ROTATION_PRIOR_STD, validate_args=False), _rotation_of
        )

    @property
    def rotation(self) -> torch.Tensor:
        """The ``d x d`` rotation ``R``."""
        return rotation_matrix(self.raw_rotation, self.ard_num_dims)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        """Kernel matrix ``n x m`` (or its diagonal) of ``n x d`` and ``m x d`` inputs."""
        R = self.rotation.to(x1.dtype)
        return super().forward(x1 @ R.T, x2 @ R.T, diag=diag, **params)


def _rotation_of(module: RotatedMaternKernel) -> torch.Tensor:
    return module.raw_rotation


def rotated_part(kernel: torch.nn.Module) -> RotatedMaternKernel:
    """The rotated Matern part of an input kernel (raises ``StopIteration`` if it has none)."""
    return next(m for m in kernel.modules() if isinstance(m, RotatedMaternKernel))


def hold_rotations(module: torch.nn.Module) -> None:
    """Hold every rotation inside ``module`` at its current value (no longer a trainable parameter)."""
    for part in module.modules():
        if isinstance(part, RotatedMaternKernel):
            part.raw_rotation.requires_grad_(False)

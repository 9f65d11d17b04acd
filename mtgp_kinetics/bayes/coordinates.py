"""Unconstrained coordinates of a GP's hyperparameters and the potential energy NUTS samples.

The sampler moves in the coordinates MAP optimizes in (:func:`mtgp_kinetics.fitting.fit_map`): a
hyperparameter with a lower bound ``b`` (lengthscales, variances, noise) as ``u = log(theta - b)``,
the others (means) as they are. The one exception is a shared task covariance ``B = W W^T +
diag(kappa)``: its loadings ``W`` and private variances ``kappa`` describe ``B`` many times over (any
rotation of ``W``, any split of the diagonal), which leaves NUTS a posterior of long flat ridges.
For sampling, ``kappa`` is frozen at its bound and ``W`` (over the member tasks, rank = their number)
is the Cholesky factor ``L`` of ``B`` with log-diagonal coordinates: one point per ``B``.

The potential energy is

    U(u) = n * neg_log_posterior(theta(u)) - log |d theta / d u| - log |d(sd, C) / dB|

with ``neg_log_posterior`` the MAP objective itself (log marginal likelihood plus log priors, over
``n``; not a second implementation), under the sampling priors of :func:`use_sampling_priors`. The
Jacobian terms make the sampled prior exactly the documented one: ``exp(u)`` per bounded coordinate;
for a task covariance over ``m`` tasks ``log |dB/du| = sum_i (m - i + 2) u_ii`` (``i = 1..m``; ``B =
L L^T``, ``L_ii = exp(u_ii)``), and, because the LKJ x LogNormal prior is a density over the stds
``sd`` and correlation ``C``, not over ``B``, ``log |d(sd, C) / dB| = -m sum_i log sd_i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from gpytorch.kernels import MaternKernel
from torch.nn.utils.stateless import _reparametrize_module

from mtgp_kinetics.fitting import _optimizer_coordinates, neg_log_posterior
from mtgp_kinetics.models.dense_covariance import TrainingCovariance
from mtgp_kinetics.models.gp import CoregionalGP
from mtgp_kinetics.models.priors import sampling_lengthscale_prior, sampling_noise_prior
from mtgp_kinetics.models.rotated_kernel import hold_rotations
from mtgp_kinetics.models.task_covariance import MIN_VARIANCE, LowRankTaskCovariance


@dataclass
class _CholeskyBlock:
    """Where a task covariance's ``W`` (``t x m``) lives in ``u``: ``m (m + 1) / 2`` coordinates."""

    param: torch.nn.Parameter
    members: torch.Tensor  # m member task indices
    rows: torch.Tensor  # row indices of the lower triangle (m (m + 1) / 2)
    cols: torch.Tensor
    diagonal: torch.Tensor  # which of them are on the diagonal

    @property
    def size(self) -> int:
        return int(self.rows.numel())


def set_cholesky(module: LowRankTaskCovariance, B: torch.Tensor) -> None:
    """Make ``module`` hold ``B`` (``m x m``, its member block) as ``W = chol(B - MIN_VARIANCE I)``.

    ``kappa`` is set to its bound and frozen (no longer a trainable parameter). ``W`` must have as
    many columns as member tasks.
    """
    idx = torch.nonzero(module.members).squeeze(-1)
    if module.W.shape[1] != idx.numel():
        raise ValueError("sampling needs full-rank loadings W (rank = number of member tasks)")
    with torch.no_grad():
        eye = torch.eye(idx.numel(), dtype=B.dtype)
        L = torch.linalg.cholesky(B - MIN_VARIANCE * eye + 1e-10 * eye)
        W = torch.zeros_like(module.W)
        W[idx] = L
        module.W.copy_(W)
        module.kappa = torch.full_like(module.kappa, MIN_VARIANCE)
    module.raw_kappa.requires_grad_(False)


def use_sampling_priors(gp: CoregionalGP) -> None:
    """Give ``gp`` the priors NUTS samples under, where they differ from the MAP fit's.

    The learned noise variances get :func:`~mtgp_kinetics.models.priors.sampling_noise_prior`
    instead of :func:`~mtgp_kinetics.models.priors.noise_prior`, and the continuous (Matern)
    lengthscales :func:`~mtgp_kinetics.models.priors.sampling_lengthscale_prior` instead of
    :func:`~mtgp_kinetics.models.priors.continuous_lengthscale_prior` (see ``docs/bayesian.md``).

    Rotated axes (:class:`~mtgp_kinetics.models.rotated_kernel.RotatedMaternKernel`) are held at
    their MAP values, like the structure and smoothness the MAP fit chose: sampled, the angle and
    the lengthscales along it are strongly correlated, and at 30 H2/O2 observations the chains took
    252 s instead of about 60 (R-hat 1.006; the one angle that mattered had posterior sd 0.13 rad).
    """
    gp.likelihood.noise_covar.set_noise_prior(sampling_noise_prior())
    for module in gp.modules():
        if isinstance(module, MaternKernel) and "lengthscale_prior" in module._priors:
            _, closure, setting_closure = module._priors["lengthscale_prior"]
            module.register_prior("lengthscale_prior", sampling_lengthscale_prior(), closure, setting_closure)
    hold_rotations(gp)


class Coordinates:
    """The map between a GP's trainable parameters and one unconstrained vector ``u`` (``p``).

    Parameters
    ----------
    gp : CoregionalGP
        The model, its task covariances prepared by :func:`set_cholesky`; its parameters are
        read and written in place.
    """

    def __init__(self, gp: CoregionalGP) -> None:
        self.gp = gp
        # The fit's fast K(X, X): it reads the (reparametrized) hyperparameters at every call.
        self.covariance = TrainingCovariance(gp.covar_module, gp.train_inputs[0])
        params, lower, use_log = _optimizer_coordinates(gp)
        blocks: dict[int, _CholeskyBlock] = {}
        for module in gp.modules():
            if isinstance(module, LowRankTaskCovariance):
                members = torch.nonzero(module.members).squeeze(-1)
                rows, cols = torch.tril_indices(members.numel(), members.numel())
                blocks[id(module.W)] = _CholeskyBlock(module.W, members, rows, cols, rows == cols)
        self.params = params
        name_of = {id(p): name for name, p in gp.named_parameters()}
        self.names = [name_of[id(p)] for p in params]
        self.segments: list[tuple[torch.nn.Parameter, _CholeskyBlock | None, slice]] = []
        plain_lower, plain_log = [], []
        offset, element = 0, 0
        for p in params:
            block = blocks.get(id(p))
            size = block.size if block is not None else p.numel()
            self.segments.append((p, block, slice(offset, offset + size)))
            if block is None:
                plain_lower.extend(lower[element : element + size])
                plain_log.extend(use_log[element : element + size])
            else:
                plain_lower.extend([0.0] * size)
                plain_log.extend([False] * size)
            offset += size
            element += p.numel()
        self.dim = offset
        self.lower = torch.as_tensor(np.where(plain_log, plain_lower, 0.0), dtype=torch.float64)
        self.use_log = torch.as_tensor(plain_log, dtype=torch.bool)
        self.evaluations = 0  # potential evaluations so far (one per leapfrog step)

    def _values(self, u: torch.Tensor) -> list[torch.Tensor]:
        """Parameter tensors of coordinates ``u`` (differentiable in ``u``)."""
        plain = torch.where(self.use_log, self.lower + torch.exp(torch.where(self.use_log, u, 0.0)), u)
        values = []
        for p, block, where in self.segments:
            if block is None:
                values.append(plain[where].view(p.shape))
                continue
            entries = torch.where(block.diagonal, torch.exp(u[where]), u[where])
            m = block.members.numel()
            L = torch.zeros(m, m, dtype=torch.float64).index_put((block.rows, block.cols), entries)
            W = torch.zeros(p.shape, dtype=torch.float64)
            W = W.index_copy(0, block.members, L)
            values.append(W)
        return values

    def log_jacobian(self, u: torch.Tensor) -> torch.Tensor:
        """``log |d theta / d u| + log |d(sd, C) / dB|`` (see the module docstring), scalar."""
        total = u[self.use_log].sum()
        for _, block, where in self.segments:
            if block is None:
                continue
            m = block.members.numel()
            log_diag = u[where][block.diagonal]  # u_11 .. u_mm in row order
            i = torch.arange(1, m + 1, dtype=torch.float64)
            total = total + ((m - i + 2) * log_diag).sum()
            L_entries = torch.where(block.diagonal, torch.exp(u[where]), u[where])
            L = torch.zeros(m, m, dtype=torch.float64).index_put((block.rows, block.cols), L_entries)
            sd = torch.sqrt((L * L).sum(-1) + MIN_VARIANCE)
            total = total - m * torch.log(sd).sum()
        return total

    def current(self) -> torch.Tensor:
        """The coordinates ``p`` of the GP's current parameters."""
        parts = []
        for p, block, _ in self.segments:
            if block is None:
                parts.append(p.detach().reshape(-1))
            else:
                L = p.detach()[block.members][:, : block.members.numel()]
                entries = L[block.rows, block.cols]
                parts.append(torch.where(block.diagonal, torch.log(entries.clamp_min(1e-300)), entries))
        flat = torch.cat(parts)
        gap = (flat - self.lower).clamp_min(1e-12)
        return torch.where(self.use_log, torch.log(gap), flat)

    def assign(self, u: torch.Tensor) -> None:
        """Write the parameters of coordinates ``u`` (``p``) into the GP."""
        with torch.no_grad():
            for (p, _, _), value in zip(
                self.segments, self._values(u.detach().to(torch.float64)), strict=True
            ):
                p.copy_(value)

    def value_and_grad(self, u: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Potential energy ``U(u)`` and its gradient (``p``); ``inf`` and zeros where it fails.

        A failed Cholesky or a prior outside its support makes the point impossible: NUTS then
        counts the trajectory as divergent and turns back.
        """
        self.evaluations += 1
        u = u.detach().to(torch.float64).requires_grad_(True)
        failed = math.inf, torch.zeros(self.dim, dtype=torch.float64)
        n = self.gp.train_targets.shape[-1]
        values = self._values(u)
        # The GP reads its parameters as functions of u for this evaluation: one backward pass.
        with _reparametrize_module(self.gp, dict(zip(self.names, values, strict=True))):
            try:
                energy = n * neg_log_posterior(self.gp, self.covariance) - self.log_jacobian(u)
            except (torch.linalg.LinAlgError, ValueError):
                return failed
        if not torch.isfinite(energy):
            return failed
        (grad,) = torch.autograd.grad(energy, u)
        return float(energy.detach()), torch.nan_to_num(grad)

    def potential(self, u: torch.Tensor) -> torch.Tensor:
        """Differentiable ``U(u)`` (scalar) for samplers that call ``torch.autograd.grad``."""
        return _Potential.apply(u, self)


class _Potential(torch.autograd.Function):
    """``U(u)`` with its gradient computed once, in the forward pass."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, u: torch.Tensor, coords: Coordinates
    ) -> torch.Tensor:
        with torch.enable_grad():
            value, grad = coords.value_and_grad(u)
        ctx.save_for_backward(grad)
        return torch.tensor(value, dtype=torch.float64)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_output: torch.Tensor) -> tuple:
        (grad,) = ctx.saved_tensors
        return grad_output * grad, None

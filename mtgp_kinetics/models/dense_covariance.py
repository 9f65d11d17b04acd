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
costs a quarter of a full ``n x n`` evaluation. The observations are put in task order once, so such
a block is contiguous and is padded into place rather than scattered, and ``B_q[t, t']`` over the
observations is ``E B_q E^T`` with the one-hot task matrix ``E`` rather than a gather. Measured on
H2/O2 with 150 observations and a shared+private model: 4.5 to 3.6 ms per evaluation.
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


class _Latent:
    """What one latent process needs at every evaluation, prepared once.

    ``rows`` is ``None`` (every observation's task loads on the process), a ``slice`` (the loading
    observations, contiguous in task order) or an index tensor of them; ``onehot`` is their
    ``m x t`` task indicator; ``parts`` pairs each input-kernel part with its pre-sliced squared
    differences, mismatches or differences (``m x m x d_part``).
    """

    def __init__(
        self,
        task_cov: torch.nn.Module,
        rows: slice | torch.Tensor | None,
        onehot: torch.Tensor,
        parts: list[tuple[str, Kernel, torch.Tensor]],
    ) -> None:
        self.task_cov = task_cov
        self.rows = rows
        self.onehot = onehot
        self.parts = parts

    def input_covariance(self) -> torch.Tensor:
        """``k_q`` over the loading observations (``m x m``)."""
        result: torch.Tensor | None = None
        for kind, part, tensor in self.parts:
            lengthscale = part.lengthscale.reshape(-1)
            if kind == "matern":
                value = _matern(tensor @ lengthscale.pow(-2), float(part.nu))
            elif kind == "rotated":
                turned = (tensor @ part.rotation.T) / lengthscale
                value = _matern((turned * turned).sum(-1), float(part.nu))
            else:
                value = torch.exp(-(tensor @ lengthscale.reciprocal()) / tensor.shape[-1])
            result = value if result is None else result * value
        assert result is not None
        return result

    def term(self) -> torch.Tensor:
        """``B_q[t, t'] k_q(x, x')`` over the loading observations (``m x m``)."""
        if isinstance(self.task_cov, SingleTaskVariance):
            # Every loading observation is of the owning task: B restricted to them is s^2.
            return self.input_covariance() * self.task_cov.outputscale
        E = self.onehot
        return self.input_covariance() * (E @ self.task_cov.matrix() @ E.transpose(-1, -2))


class TrainingCovariance:
    """Evaluate ``K(X, X)`` (``n x n``, no noise) of a coregionalization kernel quickly.

    The observations are put in task order once (:attr:`order`), so the block of a latent process
    that only some tasks load on is usually one contiguous block, added without scattering.
    :meth:`sorted_matrix` is ``K`` in that order (what a MAP objective needs: the log density is
    the same for any consistent ordering); calling the object gives ``K`` in the caller's order.

    Parameters
    ----------
    kernel : CoregionalizationKernel
        The kernel; its current hyperparameters are read at every call, so gradients flow to them.
    X : Tensor
        ``n x (d + 1)`` (or ``batch x n x (d + 1)``) training inputs, task index in the last column.

    Attributes
    ----------
    order : Tensor or None
        ``n`` indices: row ``i`` of :meth:`sorted_matrix` is observation ``order[i]`` of ``X``
        (``None`` for batched inputs, which are not reordered).

    Raises
    ------
    TypeError
        If an input kernel is not a Matern kernel, a categorical kernel or a product of them.
    """

    def __init__(self, kernel: CoregionalizationKernel, X: torch.Tensor) -> None:
        self.kernel = kernel
        tasks = X[..., -1].round().long()
        self.order: torch.Tensor | None = None
        if tasks.dim() == 1:
            self.order = torch.argsort(tasks, stable=True)
            X, tasks = X[self.order], tasks[self.order]
        self._inverse = None if self.order is None else torch.argsort(self.order)
        self.tasks = tasks
        self.num_observations = X.shape[-2]
        self._dtype = X.dtype
        with torch.no_grad():
            num_tasks = kernel.task_covariances[0].matrix().shape[-1]
        onehot = torch.nn.functional.one_hot(tasks, num_tasks).to(X.dtype)
        conditions = X[..., :-1]
        d = conditions.shape[-1]
        diff = (conditions.unsqueeze(-2) - conditions.unsqueeze(-3)).detach()  # n x n x d
        # Each kind's n x n x d base tensor, built only if a kernel part of that kind needs it.
        make_base = {
            "matern": lambda: diff * diff,
            "categorical": lambda: (diff != 0).to(X.dtype),
            "rotated": lambda: diff,
        }
        base: dict[str, torch.Tensor] = {}
        self._latents: list[_Latent] = []
        for input_kernel, task_cov in zip(kernel.input_kernels, kernel.task_covariances, strict=True):
            rows = self._rows(task_cov)
            parts = []
            for part in _parts(input_kernel):
                kind = _kind(part)
                dims = list(_active(part, d))
                if kind not in base:
                    base[kind] = make_base[kind]()
                tensor = _block(base[kind], rows)
                parts.append((kind, part, tensor if dims == list(range(d)) else tensor[..., dims]))
            block_onehot = onehot if rows is None else onehot[..., rows, :]
            self._latents.append(_Latent(task_cov, rows, block_onehot, parts))

    def _rows(self, task_cov: torch.nn.Module) -> slice | torch.Tensor | None:
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
        if index.numel() and int(index[-1] - index[0]) + 1 == index.numel():
            return slice(int(index[0]), int(index[-1]) + 1)
        return index

    def sorted_matrix(self) -> torch.Tensor:
        """``K(X, X) = sum_q B_q[t, t'] k_q(x, x')`` in task order (``n x n``, rows :attr:`order`)."""
        n = self.num_observations
        total: torch.Tensor | None = None
        scattered = []
        for latent in self._latents:
            term = latent.term()
            if isinstance(latent.rows, slice):
                start, stop = latent.rows.start, latent.rows.stop
                term = torch.nn.functional.pad(term, (start, n - stop, start, n - stop))
            elif latent.rows is not None:
                scattered.append((latent.rows, term))
                continue
            total = term if total is None else total + term
        if total is None:
            total = torch.zeros(n, n, dtype=self._dtype)
        for index, term in scattered:
            total = total.index_put((index.unsqueeze(-1), index.unsqueeze(-2)), term, accumulate=True)
        return total

    def __call__(self) -> torch.Tensor:
        """``K(X, X)`` in the order of the inputs given (``n x n``)."""
        K = self.sorted_matrix()
        if self._inverse is None:
            return K
        return K[self._inverse][:, self._inverse]


def _kind(part: Kernel) -> str:
    if isinstance(part, RotatedMaternKernel):
        return "rotated"
    if isinstance(part, MaternKernel):
        return "matern"
    if isinstance(part, CategoricalKernel):
        return "categorical"
    raise TypeError(f"TrainingCovariance cannot evaluate {type(part).__name__}")


def _block(tensor: torch.Tensor, rows: slice | torch.Tensor | None) -> torch.Tensor:
    """Rows and columns ``rows`` of an ``n x n x d`` tensor (a view for a slice)."""
    if rows is None:
        return tensor
    if isinstance(rows, slice):
        return tensor[rows, rows]
    return tensor[rows.unsqueeze(-1), rows.unsqueeze(-2)]


def training_covariance(kernel: CoregionalizationKernel, X: torch.Tensor) -> TrainingCovariance | None:
    """:class:`TrainingCovariance` of ``kernel`` at training inputs ``X`` (``None`` if unsupported)."""
    try:
        return TrainingCovariance(kernel, X)
    except TypeError:
        return None

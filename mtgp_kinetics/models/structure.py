"""Kernel structures by name or object: ICM, LMC, independent, or any mix of shared and private parts.

A :class:`KernelSpec` is a plain, serializable description (it is what a saved model stores); a
:class:`~mtgp_kinetics.models.coregionalization.CoregionalizationKernel` is built from it for a given
space and number of tasks.

* ``KernelSpec.icm(rank)``: one latent process shared by all tasks, task covariance of rank ``rank``
  (default: full rank up to 5 tasks) plus a diagonal.
* ``KernelSpec.lmc(num_latents, rank)``: ``Q`` shared latent processes (default ``Q = t``, at least 2),
  each with its own ARD lengthscales and its own rank-``rank`` + diagonal task covariance.
* ``KernelSpec.independent()``: one private latent process per task; no sharing.
* Mixed: ``KernelSpec("shared+private", (LatentSpec("shared"), LatentSpec(0), LatentSpec(1)))``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from gpytorch.kernels import MaternKernel

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.models.coregionalization import CoregionalizationKernel
from mtgp_kinetics.models.input_kernel import make_input_kernel
from mtgp_kinetics.models.priors import TaskCovariancePrior
from mtgp_kinetics.models.task_covariance import LowRankTaskCovariance, SingleTaskVariance
from mtgp_kinetics.space import Space

KERNEL_NAMES = ("icm", "lmc", "independent", "shared+private")
#: Smoothness values a Matern input kernel supports (gpytorch's MaternKernel).
MATERN_NU = (0.5, 1.5, 2.5)


@dataclass(frozen=True)
class LatentSpec:
    """One latent process.

    Attributes
    ----------
    tasks : "shared" or int
        ``"shared"``: loads on every task through a low-rank + diagonal ``B``; an int ``k``: private
        to task ``k``.
    rank : int or None
        Rank of ``W`` for a shared process (``None``: full rank up to 5 tasks).
    nu : float
        Matern smoothness of its input kernel.
    members : tuple of int or None
        For a shared process: the tasks it loads on (``None``: all). Tasks outside have zero
        loading, so they have "opted out" of this shared structure.
    rotated : bool
        Its ARD axes are learned directions rather than the condition axes
        (:class:`~mtgp_kinetics.models.rotated_kernel.RotatedMaternKernel`).
    """

    tasks: str | int = "shared"
    rank: int | None = None
    nu: float = 2.5
    members: tuple[int, ...] | None = None
    rotated: bool = False

    def __post_init__(self) -> None:
        # Plain Python types whatever the caller passed (numpy bools and ints from a selection
        # table): the spec is written to JSON by save(), which refuses numpy scalars.
        object.__setattr__(self, "rotated", bool(self.rotated))
        object.__setattr__(self, "nu", float(self.nu))
        if not isinstance(self.tasks, str):
            object.__setattr__(self, "tasks", int(self.tasks))
        if self.rank is not None:
            object.__setattr__(self, "rank", int(self.rank))
        if self.members is not None:
            object.__setattr__(self, "members", tuple(int(k) for k in self.members))
        if self.nu not in MATERN_NU:
            raise InputDataError(
                f"LatentSpec nu must be one of the Matern smoothness values {MATERN_NU}, got {self.nu!r}"
            )


@dataclass(frozen=True)
class KernelSpec:
    """A coregionalization structure: a name and its latent processes (``None``: per task count)."""

    name: str
    latents: tuple[LatentSpec, ...] | None = None
    num_latents: int | None = None

    @classmethod
    def icm(cls, rank: int | None = None) -> KernelSpec:
        """Intrinsic coregionalization: one shared input kernel."""
        return cls("icm", (LatentSpec("shared", rank),))

    @classmethod
    def lmc(cls, num_latents: int | None = None, rank: int = 1) -> KernelSpec:
        """Linear model of coregionalization with ``num_latents`` shared processes."""
        if num_latents is None:
            return cls("lmc", (LatentSpec("shared", rank),), num_latents=None)
        return cls("lmc", tuple(LatentSpec("shared", rank) for _ in range(num_latents)), num_latents)

    @classmethod
    def shared_private(cls, num_shared: int = 1, rank: int = 1) -> KernelSpec:
        """``num_shared`` shared processes (rank ``rank`` + diagonal) plus one private process per task.

        A task's private process has its own lengthscales and variance, so a task whose structure
        is not shared keeps its own smoothness: when the shared loadings shrink to zero the model is
        exactly independent GPs.
        """
        return cls("shared+private", (LatentSpec("shared", rank),), num_latents=num_shared)

    @classmethod
    def independent(cls) -> KernelSpec:
        """One private process per task: independent GPs."""
        return cls("independent", None)

    @property
    def shares_tasks(self) -> bool:
        """Whether some latent process loads on more than one task."""
        if self.name == "independent":
            return False
        return self.latents is None or any(
            lat.tasks == "shared" and (lat.members is None or len(lat.members) > 1) for lat in self.latents
        )

    def resolve(self, num_tasks: int) -> tuple[LatentSpec, ...]:
        """The concrete latent processes for ``num_tasks`` tasks."""
        if self.name == "independent" and self.latents is None:
            return tuple(LatentSpec(k) for k in range(num_tasks))
        if self.name == "shared+private" and self.num_latents is not None:
            template = self.latents[0] if self.latents else LatentSpec("shared", 1)
            shared = tuple(template for _ in range(self.num_latents))
            return shared + tuple(LatentSpec(k) for k in range(num_tasks))
        if self.name == "lmc" and self.num_latents is None:
            template = self.latents[0] if self.latents else LatentSpec("shared", 1)
            return tuple(template for _ in range(max(2, num_tasks)))
        if not self.latents:
            raise InputDataError(f"kernel {self.name!r} has no latent processes")
        return self.latents

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "latents": None if self.latents is None else [asdict(lat) for lat in self.latents],
            "num_latents": self.num_latents,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> KernelSpec:
        """Inverse of :meth:`to_dict`."""
        latents = spec.get("latents")
        return cls(
            spec["name"],
            None if latents is None else tuple(_latent_from_dict(lat) for lat in latents),
            spec.get("num_latents"),
        )


def _latent_from_dict(spec: dict[str, Any]) -> LatentSpec:
    members = spec.get("members")
    return LatentSpec(**{**spec, "members": None if members is None else tuple(members)})


def kernel_spec(kernel: str | KernelSpec) -> KernelSpec:
    """Turn a kernel name or spec into a :class:`KernelSpec` (validated)."""
    if isinstance(kernel, KernelSpec):
        return kernel
    if isinstance(kernel, str) and kernel.lower() in KERNEL_NAMES:
        builders = {
            "icm": KernelSpec.icm,
            "lmc": KernelSpec.lmc,
            "independent": KernelSpec.independent,
            "shared+private": KernelSpec.shared_private,
        }
        return builders[kernel.lower()]()
    raise InputDataError(f"kernel must be one of {list(KERNEL_NAMES)} or a KernelSpec, got {kernel!r}")


def build_kernel(spec: KernelSpec, space: Space, num_tasks: int) -> CoregionalizationKernel:
    """Build the coregionalization kernel of ``spec`` for ``space`` and ``num_tasks`` tasks.

    Shared processes get different initial lengthscales (a factor 3 apart) so that the optimizer
    does not start from a symmetric point where all processes stay identical.
    """
    latents = spec.resolve(num_tasks)
    shared = [lat for lat in latents if lat.tasks == "shared"]
    n_shared = max(1, len(shared))
    input_kernels, task_covs = [], []
    shared_index = 0
    for lat in latents:
        kernel = make_input_kernel(
            space.continuous_dims, space.categorical_dims, nu=lat.nu, rotated=lat.rotated
        )
        if lat.tasks == "shared":
            members = tuple(range(num_tasks)) if lat.members is None else tuple(lat.members)
            if not members or any(not 0 <= k < num_tasks for k in members):
                raise InputDataError(
                    f"shared process members must be task indices < {num_tasks}, got {members}"
                )
            rank = lat.rank if lat.rank is not None else min(len(members), 5)
            if not 1 <= rank <= num_tasks:
                raise InputDataError(
                    f"rank must be between 1 and the number of tasks ({num_tasks}), got {rank}"
                )
            prior = TaskCovariancePrior(
                len(members), eta=2.0, sd_loc=math.log(1.0 / math.sqrt(n_shared)), sd_scale=1.0
            )
            task_covs.append(LowRankTaskCovariance(num_tasks, rank, 1.0 / n_shared, prior, members))
            _spread_lengthscale(kernel, shared_index, n_shared)
            shared_index += 1
        elif isinstance(lat.tasks, int) and 0 <= lat.tasks < num_tasks:
            task_covs.append(SingleTaskVariance(num_tasks, lat.tasks))
        else:
            raise InputDataError(
                f"latent process tasks must be 'shared' or a task index < {num_tasks}, got {lat.tasks!r}"
            )
        input_kernels.append(kernel)
    return CoregionalizationKernel(input_kernels, task_covs)


def _spread_lengthscale(kernel: Any, index: int, count: int) -> None:
    factor = 3.0 ** (index - (count - 1) / 2)
    for module in kernel.modules():
        if isinstance(module, MaternKernel):
            module.lengthscale = module.lengthscale * factor

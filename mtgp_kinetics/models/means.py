"""Mean functions per task, read from the task column of ``... x n x (d + 1)`` inputs.

* ``constant``: one constant per task.
* ``linear``: a constant plus a slope per continuous condition, per task, in the model coordinates
  (normalized 1000/T, ln P, ...): ``m_t(x) = a_t + b_t^T x``. In Arrhenius coordinates this is the
  kineticist's first model, ``log k = a + b (1000/T) + c ln P``, and the GP then models the departure
  from it. Slopes have a Normal(0, 1) prior: one standardized unit across the range of a condition.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from gpytorch.means import Mean
from gpytorch.priors import NormalPrior

MEAN_NAMES = ("constant", "linear")


class TaskMean(Mean):
    """Per-task constant, optionally plus per-task slopes over the continuous condition columns.

    Parameters
    ----------
    num_tasks : int
        ``t``.
    slope_dims : sequence of int
        Condition columns with a slope (empty: constant mean).
    """

    def __init__(self, num_tasks: int, slope_dims: Sequence[int] = ()) -> None:
        super().__init__()
        self.slope_dims = list(slope_dims)
        self.register_parameter("raw_constant", torch.nn.Parameter(torch.zeros(num_tasks)))
        # Outputs are standardized per task, so the constant is near 0; without a prior it is only
        # weakly identified against the signal variance with ~10 observations (NUTS then diverges).
        self.register_prior(
            "constant_prior", NormalPrior(0.0, 1.0, validate_args=False), lambda m: m.raw_constant
        )
        if self.slope_dims:
            self.register_parameter(
                "slopes", torch.nn.Parameter(torch.zeros(num_tasks, len(self.slope_dims)))
            )
            self.register_prior("slope_prior", NormalPrior(0.0, 1.0, validate_args=False), lambda m: m.slopes)

    @property
    def constant(self) -> torch.Tensor:
        """Per-task constants, shape ``t``."""
        return self.raw_constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean ``... x n`` of inputs ``... x n x (d + 1)``."""
        task = x[..., -1].round().long()
        mean = self.raw_constant[task]
        if self.slope_dims:
            mean = mean + (x[..., self.slope_dims] * self.slopes[task]).sum(-1)
        return mean


def make_mean(kind: str, num_tasks: int, continuous_dims: Sequence[int]) -> TaskMean:
    """Build the ``constant`` or ``linear`` task mean."""
    if kind == "constant":
        return TaskMean(num_tasks)
    if kind == "linear":
        return TaskMean(num_tasks, continuous_dims)
    raise ValueError(f"mean must be one of {MEAN_NAMES}, got {kind!r}")

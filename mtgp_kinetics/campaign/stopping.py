"""Stopping rules of :meth:`Campaign.run`: objects with ``should_stop(campaign) -> str | None``.

A rule returns ``None`` to go on, or a short reason (``"budget"``, ``"target_std"``) to stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from mtgp_kinetics.errors import InputDataError

if TYPE_CHECKING:
    from mtgp_kinetics.campaign.campaign import Campaign

#: Sobol points at which :class:`TargetStd` checks the predictive std.
CHECK_POINTS = 256


class StoppingRule(Protocol):
    """What every stopping rule provides."""

    def should_stop(self, campaign: Campaign) -> str | None:
        """A reason to stop, or ``None`` to go on."""
        ...


class Budget:
    """Stop once the campaign holds ``max_experiments`` experiments (observed or pending).

    Parameters
    ----------
    max_experiments : int
        Total experiments of the campaign, counting those run before (see
        :attr:`Campaign.n_experiments`).
    """

    def __init__(self, max_experiments: int) -> None:
        if isinstance(max_experiments, bool) or not isinstance(max_experiments, (int, np.integer)):
            raise InputDataError(f"Budget: max_experiments must be an integer, got {max_experiments!r}")
        self.max_experiments = int(max_experiments)

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"budget"`` once the campaign has ``max_experiments`` experiments."""
        return "budget" if campaign.n_experiments >= self.max_experiments else None


class TargetStd:
    """Stop once every named task is predicted to within a target std everywhere.

    The largest physical predictive std (latent, no measurement noise) over :data:`CHECK_POINTS`
    Sobol points of the space is compared with the target. Never stops while the campaign has too
    few observations to fit a model.

    Parameters
    ----------
    max_std : dict of str to float
        Task name -> largest acceptable std, in the task's physical unit.
    seed : int
        Seed of the Sobol check set.
    """

    def __init__(self, max_std: dict[str, float], seed: int = 0) -> None:
        if not isinstance(max_std, dict) or not max_std:
            raise InputDataError(f"TargetStd: max_std must be a non-empty dict task -> std, got {max_std!r}")
        bad = {k: v for k, v in max_std.items() if not (np.isfinite(v) and v > 0)}
        if bad:
            raise InputDataError(f"TargetStd: targets must be finite and > 0, got {bad}")
        self.max_std = {str(k): float(v) for k, v in max_std.items()}
        self.seed = int(seed)

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"target_std"`` once every task's largest std is at most its target."""
        unknown = sorted(set(self.max_std) - set(campaign.store.task_names))
        if unknown:
            raise InputDataError(
                f"TargetStd: unknown task(s) {unknown}; the campaign's tasks are {campaign.store.task_names}"
            )
        if not campaign.can_fit():
            return None
        check = campaign.store.space.sample(CHECK_POINTS, seed=self.seed)
        prediction = campaign.model.predict(check, tasks=list(self.max_std))
        largest = prediction.groupby("task")["std"].max()
        done = all(largest[task] <= target for task, target in self.max_std.items())
        return "target_std" if done else None

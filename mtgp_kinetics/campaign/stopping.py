"""Stopping rules of :meth:`Campaign.run`: objects with ``should_stop(campaign) -> str | None``.

A rule returns ``None`` to go on, or a short reason (``"budget"``, ``"cost"``, ``"target_std"``,
``"stalled"``) to stop; it then also sets ``message``, a sentence saying why (the figures it compared), which
:class:`~mtgp_kinetics.campaign.campaign.StopReport` carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from mtgp_kinetics.campaign.costs import COST_RTOL, pays_for
from mtgp_kinetics.errors import InputDataError, check_integer, check_positive_number

if TYPE_CHECKING:
    from mtgp_kinetics.campaign.campaign import Campaign

#: Points of the campaign's region (:meth:`Campaign.region`) at which the rules check the std.
CHECK_POINTS = 256


class StoppingRule(Protocol):
    """What every stopping rule provides (and ``message``: why it stopped, once it has)."""

    message: str

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
        self.message = ""

    def progress(self, campaign: Campaign) -> str:
        """Where the campaign stands against the rule, e.g. ``"budget: 21 of 30 experiments"``."""
        return f"budget: {campaign.n_experiments} of {self.max_experiments} experiments (run or pending)"

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"budget"`` once the campaign has ``max_experiments`` experiments."""
        n = campaign.n_experiments
        if n < self.max_experiments:
            return None
        self.message = f"budget: the campaign has {n} experiments, the budget allows {self.max_experiments}"
        if n > self.max_experiments:
            # run() never suggests past its budget: the rest came from another process's
            # suggestions or results recorded meanwhile (seen by a first user as an overshoot).
            self.message += (
                f"; {n - self.max_experiments} more were suggested or recorded outside the budget's "
                "count (by hand, or by another process meanwhile)"
            )
        return "budget"


class CostBudget:
    """Stop once the measurements recorded or pending cost ``max_cost`` in all (``Task.cost`` each).

    For campaigns whose outputs cost differently (``integrated_variance_per_cost``): a budget in
    money or instrument hours rather than in experiments. Every recorded observation (corrections
    included: they were paid for) and every pending (suggestion, task) pair counts its task's cost.

    Parameters
    ----------
    max_cost : float
        Total cost allowed, counting measurements made before.
    """

    def __init__(self, max_cost: float) -> None:
        self.max_cost = check_positive_number(max_cost, "CostBudget: max_cost")
        self.message = ""

    def progress(self, campaign: Campaign) -> str:
        """Where the campaign stands against the rule, e.g. ``"cost: 46 of 60"``."""
        return f"cost: {campaign.cost_spent():.10g} of {self.max_cost:.10g} (measurements made and pending)"

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"cost"`` once what is left of ``max_cost`` cannot pay for the next suggestion.

        That is, once the measurements made and asked for cost ``max_cost``, or so nearly that the
        cheapest next suggestion (:meth:`Campaign.measurement_cost
        <mtgp_kinetics.campaign.Campaign.measurement_cost>`) would overshoot it.
        """
        spent = campaign.cost_spent()
        if spent >= self.max_cost * (1.0 - COST_RTOL):
            self.message = (
                f"cost: the measurements made and pending cost {spent:.10g}, the budget allows "
                f"{self.max_cost:.10g}"
            )
            return "cost"
        cheapest = campaign.measurement_cost()
        if not pays_for(self.max_cost - spent, cheapest):
            self.message = (
                f"cost: the measurements made and pending cost {spent:.10g} of {self.max_cost:.10g}; the "
                f"{self.max_cost - spent:.10g} left does not pay for the next suggestion ({cheapest:.10g})"
            )
            return "cost"
        return None


class TargetStd:
    """Stop once every named task is predicted to within a target std everywhere.

    The largest physical predictive std (latent, no measurement noise) over :data:`CHECK_POINTS`
    points of the campaign's region (pool rows, feasible or plain Sobol points) is compared with
    the target. Never stops while the campaign has too few observations to fit a model.

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
        self.message = ""
        # (model, its largest stds): progress() and should_stop() on the same fit predict once.
        self._last: tuple[object, pd.Series] | None = None

    def _largest(self, campaign: Campaign) -> pd.Series | None:
        """Largest latent std per named task over the check points (None: no model yet)."""
        unknown = sorted(set(self.max_std) - set(campaign.store.task_names))
        if unknown:
            raise InputDataError(
                f"TargetStd: unknown task(s) {unknown}; the campaign's tasks are {campaign.store.task_names}"
            )
        if not campaign.can_fit():
            return None
        model = campaign.model
        if self._last is not None and self._last[0] is model:
            return self._last[1]
        check = campaign.region(CHECK_POINTS, seed=self.seed)
        largest = model.predict(check, tasks=list(self.max_std)).groupby("task")["std"].max()
        self._last = (model, largest)
        return largest

    def progress(self, campaign: Campaign) -> str:
        """Each task's largest std against its target, e.g. ``"target std: tau 3.1e-4 (target 2e-4)"``."""
        largest = self._largest(campaign)
        if largest is None:
            return "target std: too few observations to fit a model yet"
        figures = ", ".join(
            f"{task} {largest[task]:.3g} (target {t:.3g}: {'met' if largest[task] <= t else 'not yet'})"
            for task, t in self.max_std.items()
        )
        return f"target std (largest latent std, physical units): {figures}"

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"target_std"`` once every task's largest std is at most its target."""
        largest = self._largest(campaign)
        if largest is None:
            return None
        done = all(largest[task] <= target for task, target in self.max_std.items())
        if not done:
            return None
        figures = ", ".join(f"{task} {largest[task]:.3g} <= {t:.3g}" for task, t in self.max_std.items())
        self.message = (
            f"target_std: every task's largest predictive std over {CHECK_POINTS} points of the "
            f"campaign's region is within its target ({figures}, physical units)"
        )
        return "target_std"


def uncertainty_summary(campaign: Campaign, points: pd.DataFrame) -> pd.DataFrame:
    """Largest and mean predictive std per task at ``points`` (latent, no measurement noise).

    Parameters
    ----------
    campaign : Campaign
        A campaign that can fit a model.
    points : DataFrame
        ``n`` conditions (physical units).

    Returns
    -------
    DataFrame
        Index ``task``; columns ``max_std``, ``mean_std`` (physical units) and
        ``mean_transformed_std`` (modelled units, e.g. log10 s).
    """
    prediction = campaign.model.predict(points, observation_noise=False)
    grouped = prediction.groupby("task", sort=False)
    return pd.DataFrame(
        {
            "max_std": grouped["std"].max(),
            "mean_std": grouped["std"].mean(),
            "mean_transformed_std": grouped["transformed_std"].mean(),
        }
    )


class Stalled:
    """Stop once the mean predictive std of every task has stopped improving.

    After each batch the mean latent predictive std of each task over :data:`CHECK_POINTS` points of the
    campaign's region (pool rows, feasible or plain Sobol points) is recorded, in modelled units (log10
    s, logit...: a relative change there means the same everywhere in the space, unlike a physical std
    of a log-modelled task). The campaign has stalled when, for every task, the best value of the last
    ``patience`` records is less than ``rel_tol`` (relative) below the best value before them. Never
    stops while the campaign has too few observations to fit a model, nor before ``patience + 1``
    records.

    Parameters
    ----------
    patience : int
        Batches without improvement (>= 1).
    rel_tol : float
        Smallest relative improvement that counts, in [0, 1).
    seed : int
        Seed of the Sobol check set.
    """

    def __init__(self, patience: int = 5, rel_tol: float = 0.02, seed: int = 0) -> None:
        patience = check_integer(patience, "patience", 1, "Stalled")
        if not (isinstance(rel_tol, (int, float)) and 0.0 <= float(rel_tol) < 1.0):
            raise InputDataError(f"Stalled: rel_tol must be in [0, 1), got {rel_tol!r}")
        self.patience = int(patience)
        self.rel_tol = float(rel_tol)
        self.seed = int(seed)
        self.message = ""
        #: Experiments -> mean modelled std per task, one entry per check.
        self.history: dict[int, pd.Series] = {}

    def should_stop(self, campaign: Campaign) -> str | None:
        """``"stalled"`` once no task's mean predictive std improved over ``patience`` checks."""
        if not campaign.can_fit():
            return None
        n = campaign.n_experiments
        if n not in self.history:
            points = campaign.region(CHECK_POINTS, seed=self.seed)
            self.history[n] = uncertainty_summary(campaign, points)["mean_transformed_std"]
        if len(self.history) <= self.patience:
            return None
        table = pd.DataFrame([self.history[k] for k in sorted(self.history)])
        before = table.iloc[: -self.patience].min()
        recent = table.iloc[-self.patience :].min()
        improvement = (before - recent) / before
        if (improvement >= self.rel_tol).any():
            return None
        figures = ", ".join(
            f"{task} {'fell' if value >= 0 else 'rose'} {100 * abs(value):.1f}%"
            for task, value in improvement.items()
        )
        self.message = (
            f"stalled: over the last {self.patience} batches no task's mean predictive std (modelled "
            f"units, {CHECK_POINTS} points of the campaign's region) fell by {100 * self.rel_tol:.1f}% "
            f"or more ({figures})"
        )
        return "stalled"


#: Keys of a stored stopping-rule description (``Campaign.create(stop=...)``, TOML ``[stop]``).
STOP_KEYS = ("max_experiments", "max_cost", "target_std")


def rules_from_description(
    description: Mapping[str, Any] | None, seed: int = 0, task_names: Sequence[str] | None = None
) -> list[StoppingRule]:
    """The stopping rules a campaign keeps in its settings, built from their description.

    Parameters
    ----------
    description : mapping, optional
        Any of ``max_experiments`` (:class:`Budget`), ``max_cost`` (:class:`CostBudget`) and
        ``target_std`` (task -> std, :class:`TargetStd`). ``None`` or empty: no rules.
    seed : int
        Seed of :class:`TargetStd`'s check points.
    task_names : sequence of str, optional
        The campaign's tasks: a target for any other task is refused.

    Returns
    -------
    list of StoppingRule
        In the order target, cost, budget (the order :meth:`Campaign.run` checks them in).

    Raises
    ------
    InputDataError
        For an unknown key or a bad value, naming it.
    """
    description = dict(description or {})
    unknown = sorted(set(description) - set(STOP_KEYS))
    if unknown:
        raise InputDataError(f"stop: unknown key(s) {unknown}; the allowed keys are {list(STOP_KEYS)}")
    rules: list[StoppingRule] = []
    if "target_std" in description:
        targets = description["target_std"]
        if not isinstance(targets, Mapping):
            raise InputDataError(f"stop.target_std must be a table of task = std, got {targets!r}")
        unknown_tasks = [] if task_names is None else sorted(set(targets) - set(task_names))
        if unknown_tasks:
            raise InputDataError(
                f"stop.target_std names unknown task(s) {unknown_tasks}; the tasks are {list(task_names)}"
            )
        rules.append(TargetStd(dict(targets), seed=seed))
    if "max_cost" in description:
        rules.append(CostBudget(description["max_cost"]))
    if "max_experiments" in description:
        value = description["max_experiments"]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputDataError(f"stop.max_experiments must be an integer >= 1, got {value!r}")
        rules.append(Budget(value))
    return rules

"""An active-learning campaign: a :class:`CampaignStore` plus a model fitted on its observations.

Ask/tell for the lab (:meth:`Campaign.suggest`, :meth:`Campaign.observe`) and a closed loop for
simulators (:meth:`Campaign.run`). Everything the campaign needs to resume (strategy, kernel, seed,
task weights, candidate pool, minimum distance) lives in the store's settings, so
``Campaign.open(path)`` continues where the last process stopped.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from mtgp_kinetics.api import fit, sampler_options
from mtgp_kinetics.campaign.acquisition import (
    MC_POINTS,
    SOBOL_CANDIDATES,
    Bounds,
    Pool,
    distances,
    get_strategy,
    nearest_distance,
)
from mtgp_kinetics.campaign.costs import how_many, pays_for
from mtgp_kinetics.campaign.errors import CostBudgetSpent, PoolExhausted, SuggestionConflict
from mtgp_kinetics.campaign.feasibility import Feasibility
from mtgp_kinetics.campaign.results import SUGGESTION_ID, parse_results, result_columns
from mtgp_kinetics.campaign.stopping import Budget, CostBudget, StoppingRule, rules_from_description
from mtgp_kinetics.campaign.store import CampaignStore
from mtgp_kinetics.errors import (
    DataWarning,
    FewObservationsWarning,
    InputDataError,
    OutlierWarning,
    check_integer,
    check_positive_number,
)
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.space import Categorical, Space
from mtgp_kinetics.tasks import Task

#: Default minimum distance (normalized model coordinates) between a suggestion and any used point.
MIN_DISTANCE = 1e-3
#: A model is fitted once every task has this many observations ...
MIN_PER_TASK = 2
#: ... and there are this many observations in all; before that, suggestions are Sobol points.
MIN_TOTAL = 3
#: Times :meth:`Campaign.suggest` chooses again when another process added suggestions meanwhile.
SUGGEST_ATTEMPTS = 5
#: Feasible Sobol candidates searched in bounds mode when fixed values or constraints are set.
FEASIBLE_CANDIDATES = SOBOL_CANDIDATES


#: Columns of an exported campaign (``export_csv``, wide) that say where a result came from in *that*
#: campaign; an initial design read from such a file drops them (its rows are unsolicited here).
EXPORT_PROVENANCE = (SUGGESTION_ID, "source", "recorded_at")


#: Settings :meth:`Campaign.update_settings` may change (the pool and the seed stay).
CHANGEABLE_SETTINGS = (
    "strategy",
    "strategy_options",
    "fit_options",
    "kernel",
    "restarts",
    "task_weights",
    "min_distance",
    "fixed",
    "constraints",
    "stop",
)


def as_initial_design(initial: pd.DataFrame) -> pd.DataFrame:
    """``initial`` without another campaign's provenance columns (an export can seed a new campaign)."""
    if not isinstance(initial, pd.DataFrame):
        raise InputDataError(f"initial must be a DataFrame of experiments, got {type(initial).__name__}")
    return initial.drop(columns=[c for c in EXPORT_PROVENANCE if c in initial.columns])


@dataclass(frozen=True)
class StopReport:
    """Why :meth:`Campaign.run` stopped.

    Attributes
    ----------
    reason : str
        The stopping rule's reason, e.g. ``"budget"``, ``"target_std"`` or ``"stalled"``.
    experiments : int
        Experiments run by this call.
    total_experiments : int
        Experiments of the campaign when it stopped.
    message : str
        The rule's sentence saying why it stopped (the figures it compared).
    """

    reason: str
    experiments: int
    total_experiments: int
    message: str = ""


def _exact_conditions(
    frame: pd.DataFrame,
    X: torch.Tensor,
    pool: pd.DataFrame | None,
    pool_X: torch.Tensor | None,
    fixed: Mapping[str, Any],
) -> pd.DataFrame:
    """Suggested conditions with the pool's own values and the fixed values exactly as given.

    ``frame`` is ``space.from_model(X)``: a round trip through the model coordinates turns a pool's
    5 bar into 4.999999999999999 (``exp(log(5))``), which a lab sheet would show. Rows of ``X`` that
    are pool rows (``pool_X``, ``m x d``) take that row of ``pool``; fixed conditions take their
    value.
    """
    frame = frame.copy()
    if pool is not None and pool_X is not None and len(frame):
        distance, row = torch.cdist(X.to(torch.float64), pool_X.to(torch.float64)).min(dim=1)
        exact = (distance <= 1e-9).numpy()
        rows = row.numpy()[exact]
        for name in frame.columns:
            values = frame[name].to_numpy(copy=True)
            values[exact] = pool[name].to_numpy()[rows]
            frame[name] = values
    for name, value in fixed.items():
        frame[name] = value
    return frame


class Campaign:
    """An active-learning campaign; build one with :meth:`create` or :meth:`open`.

    Parameters
    ----------
    store : CampaignStore
        The campaign's record; its settings hold the campaign's options.
    """

    def __init__(self, store: CampaignStore) -> None:
        self.store = store
        self._model: KineticsModel | None = None
        self._model_key: tuple[int, int, str] | None = None

    # -- creating and opening --------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        space: Space,
        tasks: Sequence[Task],
        strategy: str = "integrated_variance",
        pool: pd.DataFrame | None = None,
        initial: pd.DataFrame | None = None,
        seed: int = 0,
        kernel: str | None = None,
        task_weights: dict[str, float] | None = None,
        *,
        min_distance: float = MIN_DISTANCE,
        restarts: int = 4,
        strategy_options: dict[str, Any] | None = None,
        fit_options: dict[str, Any] | None = None,
        fixed: dict[str, Any] | None = None,
        constraints: Sequence[str] | None = None,
        stop: Mapping[str, Any] | None = None,
    ) -> Campaign:
        """Start a campaign in a new store at ``path``.

        Parameters
        ----------
        path : str or PathLike
            The new SQLite file (never overwritten).
        space : Space
            The conditions.
        tasks : sequence of Task
            The outputs.
        strategy : str
            Acquisition strategy (see :data:`~mtgp_kinetics.campaign.acquisition.STRATEGIES`).
        pool : DataFrame, optional
            Candidate conditions (physical units, one column per variable); suggestions are then
            rows of it. Stored in the settings. ``None``: anywhere in the space.
        initial : DataFrame, optional
            Experiments already run, wide form (conditions and one column per task), recorded
            with source ``"initial"``.
        seed : int
            Seed of fitting and acquisition.
        kernel : str, optional
            Kernel passed to :func:`mtgp_kinetics.fit` (``None``: the default model).
        task_weights : dict of str to float, optional
            Task name -> weight (>= 0) in the acquisition; unnamed tasks weigh 1.
        min_distance : float
            No suggestion within this distance (normalized model coordinates) of an observed or
            pending condition.
        restarts : int
            MAP starts per fit.
        strategy_options : dict, optional
            Passed to the strategy's constructor (e.g. ``{"raw_samples": 64}``).
        fit_options : dict, optional
            Extra keywords of :func:`mtgp_kinetics.fit`, e.g. ``{"method": "nuts"}`` with
            ``num_warmup``/``num_samples``/``num_chains``. Strategy ``"bald"`` needs posterior draws:
            without a ``method`` it fits by NUTS (``method="nuts"``, the default sampler settings).
        fixed : dict, optional
            Condition name -> value every suggestion has (a number in a continuous condition's
            bounds, or a level of a categorical one), e.g. ``{"P": 1.0}``.
        constraints : sequence of str, optional
            Linear constraints on continuous conditions in physical units, e.g.
            ``["F_H2 + F_CO <= 60"]`` (:mod:`~mtgp_kinetics.campaign.feasibility`). With fixed values
            or constraints, suggestions are chosen among feasible candidates (Sobol points of the
            box that obey them, or the pool rows that do) and the variance is integrated over
            feasible points.
        stop : mapping, optional
            The campaign's own stopping rules, kept in its settings: ``max_experiments`` (a
            :class:`~mtgp_kinetics.campaign.stopping.Budget` on the campaign's total),
            ``max_cost`` (:class:`~mtgp_kinetics.campaign.stopping.CostBudget`) and
            ``target_std`` (task -> std in physical units,
            :class:`~mtgp_kinetics.campaign.stopping.TargetStd`). :meth:`run` checks them, and
            the command line's ``status`` and ``suggest`` report them.

        Returns
        -------
        Campaign
            The new campaign.
        """
        tasks = list(tasks)
        if initial is not None:
            initial = as_initial_design(initial)
            parse_results(initial, space, tasks)  # a bad initial design: fail before creating the file
        settings: dict[str, Any] = _checked_settings(
            space,
            [t.name for t in tasks],
            pool=pool,
            strategy=strategy,
            strategy_options=strategy_options,
            fit_options=fit_options,
            kernel=kernel,
            seed=seed,
            restarts=restarts,
            task_weights=task_weights,
            min_distance=min_distance,
            fixed=fixed,
            constraints=constraints,
            stop=stop,
        )
        store = CampaignStore.create(path, space, tasks, settings)
        campaign = cls(store)
        if initial is not None:
            try:
                store.record(initial, source="initial")
            except Exception:
                # Nothing of this campaign exists yet: leave no half-made file behind.
                store.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{os.fspath(path)}{suffix}").unlink(missing_ok=True)
                raise
        return campaign

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Campaign:
        """Open the campaign stored at ``path``."""
        return cls(CampaignStore.open(path))

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # -- state -----------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The campaign's settings (from the store)."""
        return self.store.settings

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change settings of a running campaign, checked as :meth:`create` checks them.

        A lab screens at a fixed diluent and then opens it, tightens ``min_distance`` or moves to
        another strategy: the next :meth:`suggest` uses the new settings, the results so far stay,
        and the store logs the change with its time (``store.settings_history()``).

        Parameters
        ----------
        **changes
            Any of ``strategy``, ``strategy_options``, ``fit_options``, ``kernel``, ``restarts``,
            ``task_weights``, ``min_distance``, ``fixed``, ``constraints`` and ``stop``, as in
            :meth:`create`; ``fixed={}`` releases every fixed value, ``constraints=[]`` every
            constraint. A new ``strategy`` given without ``strategy_options`` or ``fit_options``
            starts from that strategy's defaults (options belong to the strategy they were given
            for; NUTS for ``"bald"``, MAP otherwise). The pool and the seed stay: a new pool is a
            new campaign.

        Returns
        -------
        dict
            The new settings.

        Raises
        ------
        InputDataError
            For an unknown or unchangeable key, or a value :meth:`create` would refuse; nothing
            changes then.

        Warns
        -----
        DataWarning
            Naming pending suggestions that break the new fixed values or constraints: they stay
            pending (and :meth:`run` measures them first) until measured or abandoned.
        """
        unknown = sorted(set(changes) - set(CHANGEABLE_SETTINGS))
        if unknown:
            raise InputDataError(
                f"update_settings: {unknown} cannot be changed; the changeable settings are "
                f"{list(CHANGEABLE_SETTINGS)}. A new pool or seed is a new campaign: export the "
                f"results and start one from them (Python: Campaign.create(..., initial=export); "
                f'TOML: initial = "export.csv")'
            )
        current = self.settings
        given = {key: current.get(key) for key in CHANGEABLE_SETTINGS}
        if "strategy" in changes and changes["strategy"] != current.get("strategy"):
            # Options belong to the strategy they were given for (target_std to the per-cost one).
            given["strategy_options"] = None
            given["fit_options"] = None  # the new strategy's own (NUTS for "bald")
        given.update(changes)
        checked = _checked_settings(
            self.store.space, self.store.task_names, pool=current.get("pool"), seed=current["seed"], **given
        )
        new = {key: checked[key] for key in CHANGEABLE_SETTINGS if checked[key] != current.get(key)}
        if not new:
            return current
        settings = self.store.update_settings(new)
        if "fixed" in new or "constraints" in new:
            self._warn_pending_outside_the_rules()
        return settings

    def _warn_pending_outside_the_rules(self) -> None:
        """A :class:`DataWarning` naming pending suggestions that break the current rules."""
        pending = self.store.pending()
        feasibility = self.feasibility
        if pending.empty or not feasibility.active:
            return
        breaking = pending.loc[~feasibility.mask(pending[self.store.space.names].reset_index(drop=True))]
        if breaking.empty:
            return
        ids = breaking["suggestion_id"].tolist()
        warnings.warn(
            f"pending suggestion(s) {ids} break the new rules {feasibility.rules()}: they stay pending, "
            "and run() measures them first. Abandon them (Python: store.abandon(ids); CLI: "
            "mtgp-kinetics abandon ...) if they should not be run",
            DataWarning,
            stacklevel=3,
        )

    def stopping_rules(self) -> list[StoppingRule]:
        """The campaign's own stopping rules (``stop`` of :meth:`create`; none if it set none)."""
        return rules_from_description(self.settings.get("stop"), seed=int(self.settings["seed"]))

    def should_stop(self, rules: Sequence[StoppingRule] | None = None) -> StopReport | None:
        """Whether one of the campaign's own stopping rules says stop (first in :meth:`stopping_rules`).

        Parameters
        ----------
        rules : sequence of StoppingRule, optional
            The rules to ask, e.g. those whose ``progress`` was just shown (a rule keeps what it
            computed for the current model); default the campaign's own, built afresh.

        Returns
        -------
        StopReport or None
            The rule's reason and message, or None (also for a campaign without rules).
        """
        return self._first_stop(self.stopping_rules() if rules is None else rules, 0)

    def _first_stop(self, rules: Sequence[StoppingRule], done: int) -> StopReport | None:
        """The report of the first of ``rules`` that says stop (``done``: experiments run), or None."""
        for rule in rules:
            reason = rule.should_stop(self)
            if reason is not None:
                return StopReport(reason, done, self.n_experiments, getattr(rule, "message", "") or reason)
        return None

    def cost_spent(self) -> float:
        """Cost of every measurement recorded (superseded ones included) or pending (``Task.cost``)."""
        counts = self.store.counts()
        measured = counts["observations"] + counts["superseded"] + counts["awaited"]
        return float(sum(float(task.cost) * float(measured[task.name]) for task in self.store.tasks))

    def cost_left(self, rules: Sequence[StoppingRule] | None = None) -> float | None:
        """What the tightest cost budget still allows (``Task.cost`` units), or None without one.

        Parameters
        ----------
        rules : sequence of StoppingRule, optional
            Where to look for :class:`~mtgp_kinetics.campaign.stopping.CostBudget` rules; default
            the campaign's own (:meth:`stopping_rules`).
        """
        rules = self.stopping_rules() if rules is None else rules
        caps = [rule.max_cost for rule in rules if isinstance(rule, CostBudget)]
        return min(caps) - self.cost_spent() if caps else None

    def measurement_cost(self) -> float:
        """Cost of the cheapest next suggestion: one task's (per-task strategy) or every task's.

        A per-task strategy (``integrated_variance_per_cost``) measures one task per suggestion once a
        model can be fitted; otherwise a suggestion measures every task.
        """
        strategy = get_strategy(self.settings["strategy"], **self.settings["strategy_options"])
        return self._measurement_cost(bool(getattr(strategy, "per_task", False)) and self.can_fit())

    def _measurement_cost(self, per_task: bool) -> float:
        """Every task's cost summed, or (``per_task``) the cheapest task's that has a weight."""
        weights = self.settings["task_weights"]
        if per_task:
            return min(float(t.cost) for t in self.store.tasks if weights.get(t.name, 1.0) > 0)
        return sum(float(t.cost) for t in self.store.tasks)

    def region(self, n: int, seed: int = 0) -> pd.DataFrame:
        """``n`` conditions spread over where this campaign's experiments may be run (physical units).

        The pool's rows that obey the fixed values and constraints (a seeded subset of ``n`` when
        there are more), else ``n`` feasible Sobol points of the space, else ``n`` Sobol points of
        the space. The stopping rules and ``mtgp-kinetics status`` / ``report`` summarize the
        uncertainty over it: an infeasible corner of the box is never where the model is judged.
        """
        feasibility = self.feasibility
        frame = self._feasible_pool(feasibility)
        if frame is not None:
            if len(frame) > n:
                rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
                frame = frame.iloc[rows].reset_index(drop=True)
            return frame
        if feasibility.active:
            return feasibility.region(n, seed)
        return self.store.space.sample(n, seed=seed)

    def _feasible_pool(self, feasibility: Feasibility) -> pd.DataFrame | None:
        """The pool's rows that obey ``feasibility`` (physical units), or ``None`` without a pool."""
        records = self.settings["pool"]
        if records is None:
            return None
        frame = pd.DataFrame.from_records(records)
        if feasibility.active:
            frame = frame[feasibility.mask(frame)].reset_index(drop=True)
        return frame

    @property
    def feasibility(self) -> Feasibility:
        """The campaign's fixed values and linear constraints (none for a campaign without them)."""
        settings = self.settings
        return Feasibility(self.store.space, settings.get("fixed") or {}, settings.get("constraints") or ())

    def observations(self) -> pd.DataFrame:
        """The current observations (see :meth:`CampaignStore.observations`)."""
        return self.store.observations()

    @property
    def n_experiments(self) -> int:
        """Experiments of the campaign, run or pending.

        Suggestions not abandoned, abandoned ones that have a result all the same (it is kept and
        fitted), and unsolicited experiments.
        """
        suggestions = self.store.suggestions()
        obs = self.store.observations()
        unsolicited = obs[obs[SUGGESTION_ID].isna()]
        n_unsolicited = len(unsolicited[["record_id", "source_row"]].drop_duplicates())
        answered = set(obs[SUGGESTION_ID].dropna().astype(int))
        counted = (suggestions["status"] != "abandoned") | suggestions["suggestion_id"].isin(answered)
        return int(counted.sum()) + n_unsolicited

    def can_fit(self) -> bool:
        """Whether there are enough observations to fit a model (2 per task, 3 in all)."""
        counts = self.store.counts()["observations"]
        return bool((counts >= MIN_PER_TASK).all() and counts.sum() >= MIN_TOTAL)

    @property
    def model(self) -> KineticsModel:
        """The model fitted on the current observations (refitted lazily after new ones).

        Raises
        ------
        InputDataError
            If there are too few observations (see :meth:`can_fit`).
        """
        obs = self.store.observations()
        settings = self.settings
        fitted_by = json.dumps([settings["kernel"], settings["restarts"], settings.get("fit_options", {})])
        key = (len(obs), int(obs["observation_id"].max()) if len(obs) else 0, fitted_by)
        if self._model is None or self._model_key != key:
            if not self.can_fit():
                counts = self.store.counts()["observations"].to_dict()
                raise InputDataError(
                    f"too few observations to fit a model ({counts}); each task needs {MIN_PER_TASK} "
                    f"and {MIN_TOTAL} in all: observe more, or suggest() Sobol points first"
                )
            options = dict(settings.get("fit_options", {}))
            if options.get("method") == "nuts":
                # NUTS's progress bars are for a terminal; piped into a log they are noise.
                options.setdefault("progress", sys.stderr.isatty())
            with warnings.catch_warnings():
                # A campaign fits from MIN_PER_TASK observations per task on purpose: its first
                # models only steer the next experiments.
                warnings.simplefilter("ignore", FewObservationsWarning)
                # Refitted after every result: `status` lists outlying results once, by id.
                warnings.simplefilter("ignore", OutlierWarning)
                self._model = fit(
                    self.store.dataset(),
                    kernel=settings["kernel"],
                    restarts=settings["restarts"],
                    seed=settings["seed"],
                    **options,
                )
            self._model_key = key
        return self._model

    # -- ask / tell ------------------------------------------------------------------------------
    def suggest(self, q: int = 1, *, max_cost: float | None = None) -> pd.DataFrame:
        """Suggest ``q`` experiments and record them as pending.

        With too few observations to fit a model (see :meth:`can_fit`), the suggestions are
        space-filling Sobol points (``strategy`` says so). No suggestion lies within the
        ``min_distance`` setting of an observed or pending condition (pool rows that do are
        dropped).

        Parameters
        ----------
        q : int
            Batch size.
        max_cost : float, optional
            Most the batch may cost (``Task.cost`` of every measurement it asks for): the batch is
            cut to what that pays for, so a cost budget is not overshot. If another process
            records suggestions meanwhile, what they cost comes off it too. At least one
            measurement must fit in it (else :class:`~mtgp_kinetics.campaign.errors.CostBudgetSpent`).

        Returns
        -------
        DataFrame
            At most ``q`` rows: ``suggestion_id``, ``batch_id``, the conditions (physical units), ``tasks``
            (task names to measure), ``strategy`` and ``acquisition_value`` (NaN if none).

        Notes
        -----
        A per-task strategy (``per_task = True``, e.g. ``"integrated_variance_per_cost"``) picks
        (condition, task) pairs: each row's ``tasks`` then holds the one task to measure (the same
        condition may appear twice in a batch, for different tasks), the strategy gets the pending
        (condition, task) pairs still missing and each task's ``Task.cost`` (``costs``). Before a
        model can be fitted, suggestions are Sobol points for every task, as for any strategy.
        """
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise InputDataError(f"suggest: q must be a positive integer, got {q!r}")
        # As a cap on the total, so that a retry after another process's suggestions sees what
        # those cost (a budget read before the race would be overshot).
        cost_cap = None
        if max_cost is not None:
            cost_cap = self.cost_spent() + check_positive_number(max_cost, "suggest: max_cost")
        for attempt in range(SUGGEST_ATTEMPTS):
            try:
                return self._suggest_once(q, cost_cap)
            except SuggestionConflict:
                # Another process recorded suggestions meanwhile: choose again with them pending.
                if attempt == SUGGEST_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _suggest_once(self, q: int, cost_cap: float | None = None) -> pd.DataFrame:
        """One attempt of :meth:`suggest`; raises :class:`SuggestionConflict` if it raced another.

        ``cost_cap``: the most the campaign may have cost once this batch is recorded.
        """
        based_on = len(self.store.suggestions())
        max_cost = None if cost_cap is None else cost_cap - self.cost_spent()
        settings = self.settings
        space = self.store.space
        pending_X = self._conditions_X(self.store.pending())
        used_X = torch.cat([pending_X, self._conditions_X(self.store.observations())])
        min_distance = settings["min_distance"]
        feasibility = self.feasibility
        rng = np.random.default_rng([settings["seed"], based_on])
        pool_X = None
        # With rules, the variance is integrated over feasible Sobol points of the box. Not over
        # the pool's own rows: integration points that are also candidates credit a candidate with
        # its own variance, and integrating over half the pool cost the H2/O2 benchmark campaigns
        # (5 seeds: target reached at 2 seeds instead of 4; session 11).
        region = feasibility.candidates(MC_POINTS, settings["seed"]) if feasibility.active else None
        pool_frame = self._feasible_pool(feasibility)
        if pool_frame is not None:
            pool_X = space.to_model(pool_frame)
        elif feasibility.active:
            # The feasible part of the box, as candidates.
            pool_X = feasibility.candidates(FEASIBLE_CANDIDATES, int(rng.integers(2**31)))
        domain: Pool | Bounds = Bounds.of(space) if pool_X is None else Pool(pool_X, region)
        tasks_to_measure: list[list[str]] | None = None  # None: every task
        name = settings["strategy"]
        strategy = get_strategy(name, **settings["strategy_options"]) if self.can_fit() else None
        per_task = bool(getattr(strategy, "per_task", False))
        if max_cost is not None:
            cheapest = self._measurement_cost(per_task)
            if not pays_for(max_cost, cheapest):
                raise CostBudgetSpent(
                    f"suggest: the cost allowed ({max_cost:.10g} left of max_cost) does not pay for one "
                    f"measurement (the cheapest next suggestion costs {cheapest:.10g})"
                )
            if not per_task:
                # Every suggestion measures every task: as many as the budget pays for.
                q = min(q, how_many(max_cost, cheapest))
        if pool_X is not None and not per_task:
            free = nearest_distance(pool_X, used_X) >= min_distance
            _check_enough_free(int(free.sum()), len(free), q, min_distance, pool_frame is not None)
            domain = Pool(pool_X[free], region)
        if strategy is not None:
            # Model-free strategies (random, Sobol) need no fit; they avoid every used condition.
            needs_model = bool(getattr(strategy, "needs_model", True))
            model: KineticsModel | None = self.model if needs_model else None
            weights = torch.tensor([settings["task_weights"][t] for t in self.store.task_names])
            pending: torch.Tensor = pending_X if needs_model else used_X
            options: dict[str, Any] = {}
            if per_task:
                # Per-task strategies see the pending (condition, task) pairs and the task costs;
                # a candidate is blocked only for the tasks measured or pending near it, so another
                # task can still be measured at a condition already run.
                pending = self._pending_pairs()
                options["costs"] = torch.tensor([t.cost for t in self.store.tasks], dtype=torch.float64)
                if isinstance(domain, Bounds):
                    n_candidates = int(getattr(strategy, "n_candidates", SOBOL_CANDIDATES))
                    domain = Pool(domain.sobol(n_candidates, int(rng.integers(2**31))))
                options["blocked"] = self._blocked_pairs(domain.X, pending, min_distance)
                if max_cost is not None:
                    options["max_cost"] = float(max_cost)
            X, values = strategy.suggest(model, domain, q, pending, weights, rng, **options)
            if not per_task and isinstance(domain, Bounds) and _too_close(X, used_X, min_distance):
                # A bounds-mode optimum on top of a used point (rare): search a Sobol set without them.
                candidates = domain.sobol(4096, settings["seed"])
                free = nearest_distance(candidates, used_X) >= min_distance
                _check_enough_free(int(free.sum()), len(free), q, min_distance, False)
                X, values = strategy.suggest(
                    model, Pool(candidates[free]), q, pending, weights, rng, **options
                )
            if per_task:
                names = self.store.task_names
                tasks_to_measure = [[names[int(i)]] for i in X[:, -1].tolist()]
                X = X[:, :-1]
            label = name
        else:
            sobol = get_strategy("sobol", seed=settings["seed"], min_distance=min_distance)
            X, values = sobol.suggest(None, domain, q, used_X, None, rng)
            label = "sobol (too few observations for a model)"
        frame = _exact_conditions(space.from_model(X), X, pool_frame, pool_X, feasibility.fixed)
        out = self.store.add_suggestions(frame, tasks_to_measure, label, values.numpy(), based_on=based_on)
        out["strategy"] = label
        out["acquisition_value"] = values.numpy()
        return out

    def observe(
        self,
        results: pd.DataFrame,
        *,
        replace: bool = False,
        as_run: bool = False,
        duplicates: str = "error",
    ) -> int:
        """Record results (wide form; see :meth:`CampaignStore.record`) with source ``"observe"``.

        The frame :meth:`suggest` returned may come back with its task columns filled in (its
        ``batch_id``, ``tasks``, ``strategy`` and ``acquisition_value`` columns are ignored).

        Parameters
        ----------
        results : DataFrame
            The results.
        replace : bool
            Correct results already recorded (the old ones are kept, marked as superseded).
        as_run : bool
            Condition cells that differ from their suggestion's are the conditions the experiment
            was actually run at; the result is recorded there (see :meth:`CampaignStore.record
            <mtgp_kinetics.campaign.store.CampaignStore.record>`).
        duplicates : {"error", "skip", "record"}
            Values that repeat a recorded observation exactly: refuse the frame, leave them out,
            or record them anyway (true replicates); see :meth:`CampaignStore.record
            <mtgp_kinetics.campaign.store.CampaignStore.record>`.

        Returns
        -------
        int
            Number of observations recorded.

        Warns
        -----
        DataWarning
            Where ``results`` holds no value at all (every task cell empty, e.g. the sheet
            ``suggest`` returned, not yet filled in, or values lost in parsing): nothing is
            recorded and every suggestion stays pending.
        """
        recorded = self.store.record(
            results, source="observe", replace=replace, as_run=as_run, duplicates=duplicates
        )
        names = [t.name for t in self.store.tasks if t.name in results]  # record() took a frame
        if recorded == 0 and names and all(results[n].isna().all() for n in names):
            warnings.warn(
                f"the results hold no value (every cell of {names} is empty): nothing was recorded "
                "and the suggestions stay pending; fill in the measured values and observe again",
                DataWarning,
                stacklevel=2,
            )
        return recorded

    # -- closed loop -------------------------------------------------------------------------------
    def run(
        self,
        oracle: Callable[[pd.DataFrame], pd.DataFrame],
        budget: int,
        q: int = 1,
        progress: bool | None = None,
        stop: Sequence[StoppingRule] = (),
        executor: Executor | None = None,
        resume_pending: bool = True,
    ) -> StopReport:
        """Suggest, measure with ``oracle`` and observe, until a stopping rule fires.

        Suggestions still pending when it starts (an earlier ``run`` killed mid-batch) are
        measured first; they were counted as experiments when suggested, so they do not use this
        call's budget. A pool with fewer candidates left than a batch needs stops the run
        (reason ``"pool_exhausted"``).

        Parameters
        ----------
        oracle : callable
            ``oracle(conditions)`` with ``n`` rows of conditions (physical units) returns ``n``
            rows (same order) with a column per measured task, e.g.
            :meth:`Problem.evaluate <mtgp_kinetics.problems.base.Problem.evaluate>`. Only the
            tasks each suggestion asked for are recorded (see ``tasks`` in :meth:`suggest`).
        budget : int
            Experiments to run in this call (a :class:`~mtgp_kinetics.campaign.stopping.Budget`).
        q : int
            Batch size (the last batch is cut to the budget).
        progress : bool, optional
            Show a tqdm progress bar: ``None`` (default) only when stderr is a terminal, so a log
            file or a pipe gets no carriage-return noise; ``True`` always, ``False`` never.
        stop : sequence of StoppingRule
            Further rules (e.g. :class:`~mtgp_kinetics.campaign.stopping.TargetStd`,
            :class:`~mtgp_kinetics.campaign.stopping.Stalled`), checked before each batch, before
            the campaign's own rules (:meth:`stopping_rules`) and the budget.
        executor : concurrent.futures.Executor, optional
            Evaluate the experiments of a batch in parallel: one ``executor.submit(oracle, row)``
            per suggestion (a one-row DataFrame), each result recorded the moment its future
            completes, so a crash loses only experiments still running. Any
            ``concurrent.futures.Executor`` works: a ``ThreadPoolExecutor``, a
            ``ProcessPoolExecutor`` (``oracle`` must then be picklable, e.g. a module-level
            function or a problem's bound ``evaluate``), or a Dask cluster's
            ``distributed.Client(...).get_executor()`` to spread expensive simulations over many
            machines. ``None``: one ``oracle`` call per batch, in this process.
        resume_pending : bool
            Measure the suggestions left pending first (default). ``False`` leaves them pending,
            for a campaign whose pending experiments run elsewhere (a lab).

        Returns
        -------
        StopReport
            Why it stopped (``reason`` and the rule's ``message``) and how many experiments it ran.

        Raises
        ------
        Exception
            Whatever ``oracle`` raised; with an executor, after every other experiment of the batch
            has finished and been recorded (the failed one stays pending).
        """
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise InputDataError(f"run: budget must be an integer >= 0, got {budget!r}")
        start = self.n_experiments
        rules = [*stop, *self.stopping_rules(), Budget(start + budget)]
        done = 0
        show = sys.stderr.isatty() if progress is None else bool(progress)
        with tqdm(total=budget, disable=not show, desc="campaign", unit="exp") as bar:
            left = self.store.pending()
            if resume_pending and len(left):
                left = left.assign(tasks=left["missing"])  # what each still waits for
                if executor is None:
                    self._measure(oracle, left)
                else:
                    self._measure_in_parallel(oracle, left, executor, tqdm(disable=True))
            while True:
                report = self._first_stop(rules, done)
                if report is not None:
                    return report
                left = self.cost_left(rules)
                try:
                    suggestions = self.suggest(min(q, budget - done), max_cost=left)
                except CostBudgetSpent as err:  # another process spent the rest meanwhile
                    return StopReport("cost", done, self.n_experiments, f"cost: {err}")
                except PoolExhausted as err:
                    return StopReport("pool_exhausted", done, self.n_experiments, f"pool_exhausted: {err}")
                if executor is None:
                    self._measure(oracle, suggestions)
                else:
                    self._measure_in_parallel(oracle, suggestions, executor, bar)
                done += len(suggestions)
                if executor is None:
                    bar.update(len(suggestions))

    def _measure(self, oracle: Callable[[pd.DataFrame], pd.DataFrame], suggestions: pd.DataFrame) -> None:
        """Evaluate ``suggestions`` with one oracle call and record the results."""
        names = self.store.space.names
        results = oracle(suggestions[names].reset_index(drop=True))
        self._record_results(results, suggestions)

    def _measure_in_parallel(
        self,
        oracle: Callable[[pd.DataFrame], pd.DataFrame],
        suggestions: pd.DataFrame,
        executor: Executor,
        bar: tqdm,
    ) -> None:
        """Submit one oracle call per suggestion; record each result as its future completes."""
        names = self.store.space.names
        rows = suggestions.reset_index(drop=True)
        futures = {
            executor.submit(oracle, rows.loc[[i], names].reset_index(drop=True)): i for i in rows.index
        }
        failure: BaseException | None = None
        for future in as_completed(futures):
            i = futures[future]
            try:
                results = future.result()
            except Exception as error:  # recorded results stay; the failed experiment stays pending
                failure = failure or error
                continue
            self._record_results(results, rows.loc[[i]])
            bar.update(1)
        if failure is not None:
            raise failure

    def _record_results(self, results: pd.DataFrame, suggestions: pd.DataFrame) -> None:
        """Record an oracle's ``results`` (one row per suggestion, same order) under their ids."""
        if not isinstance(results, pd.DataFrame) or len(results) != len(suggestions):
            length = len(results) if hasattr(results, "__len__") else "?"
            raise InputDataError(
                f"run: the oracle must return a DataFrame with one row per condition "
                f"({len(suggestions)}), got {type(results).__name__} of length {length}"
            )
        suggestions = suggestions.reset_index(drop=True)
        known = result_columns(self.store.space, self.store.tasks)
        extra = [c for c in results.columns if c not in known]
        if extra:
            # A simulator's bookkeeping (a run time, a log path) must not cost the measured values.
            warnings.warn(
                f"run: the oracle's column(s) {extra} are not conditions, tasks or noise columns; "
                "they were not recorded",
                DataWarning,
                stacklevel=3,
            )
            results = results.drop(columns=extra)
        results = self._only_asked_tasks(results.reset_index(drop=True), suggestions)
        results[SUGGESTION_ID] = suggestions[SUGGESTION_ID].to_numpy()
        self.store.record(results, source="observe")  # an empty answer is _warn_unanswered's to name
        self._warn_unanswered(results, suggestions)

    def _warn_unanswered(self, results: pd.DataFrame, suggestions: pd.DataFrame) -> None:
        """Warn where the oracle left an asked-for output empty (a failed simulation, a NaN).

        Such a suggestion stays pending: the run goes on and its budget counts it, and the next
        ``run`` measures it again first (``resume_pending``). Said, because a stop message about
        the budget alone hid three such experiments from a first user.
        """
        unanswered = []
        for i, asked in enumerate(suggestions["tasks"]):
            missing = [t for t in asked if t not in results.columns or pd.isna(results[t].iloc[i])]
            if missing:
                unanswered.append(f"{int(suggestions[SUGGESTION_ID].iloc[i])} ({', '.join(missing)})")
        if unanswered:
            warnings.warn(
                f"run: the oracle returned no value for suggestion(s) {'; '.join(unanswered)}: they "
                "stay pending, and the next run measures them again first (or abandon them)",
                DataWarning,
                stacklevel=4,
            )

    # -- helpers ---------------------------------------------------------------------------------
    def _only_asked_tasks(self, results: pd.DataFrame, suggestions: pd.DataFrame) -> pd.DataFrame:
        """Blank the outputs a suggestion did not ask for (and their noise columns).

        A simulator returns every output; a lab measures what it was asked to. Recording only the
        asked tasks keeps a per-task, cost-aware campaign honest about what it paid for.
        """
        asked = [set(tasks) for tasks in suggestions["tasks"]]
        for task in self.store.tasks:
            not_asked = np.array([task.name not in a for a in asked])
            for column in (task.name, task.noise_column):
                if column is not None and column in results.columns and not_asked.any():
                    results[column] = results[column].astype(float).where(~not_asked)
        return results

    def _blocked_pairs(
        self, candidates: torch.Tensor, pending: torch.Tensor, min_distance: float
    ) -> torch.Tensor:
        """``n x t`` mask: candidate ``i`` (``n x d``) is near a condition where task ``j`` is used.

        Used: observed, or pending in ``pending`` (``m x (d + 1)`` pairs, task index last); near:
        closer than ``min_distance`` (model coordinates).
        """
        names = self.store.task_names
        obs = self.store.observations()
        blocked = torch.zeros(candidates.shape[0], len(names), dtype=torch.bool)
        for j, task in enumerate(names):
            rows = obs[obs["task"] == task]
            used = [pending[pending[:, -1].round() == j, :-1]]
            if len(rows):
                used.append(self.store.space.to_model(rows, validate=False))
            blocked[:, j] = nearest_distance(candidates, torch.cat(used)) < min_distance
        return blocked

    def _pending_pairs(self) -> torch.Tensor:
        """Pending (condition, task) pairs still missing (``m x (d + 1)``, task index last)."""
        space, names = self.store.space, self.store.task_names
        pending = self.store.pending()
        rows, tasks = [], []
        for position, missing in enumerate(pending["missing"]):
            for task in missing:
                rows.append(position)
                tasks.append(float(names.index(task)))
        if not rows:
            return torch.zeros(0, space.dim + 1, dtype=torch.float64)
        X = space.to_model(pending.iloc[rows], validate=False)
        return torch.cat([X, torch.tensor(tasks, dtype=torch.float64).unsqueeze(-1)], dim=-1)

    def _conditions_X(self, frame: pd.DataFrame) -> torch.Tensor:
        """Distinct conditions of ``frame`` (``m x d`` model coordinates)."""
        space = self.store.space
        if len(frame) == 0:
            return torch.zeros(0, space.dim, dtype=torch.float64)
        return torch.unique(space.to_model(frame, validate=False), dim=0)


#: Keywords of :func:`mtgp_kinetics.fit` the campaign sets from its own settings.
CAMPAIGN_FIT_KEYWORDS = ("data", "kernel", "restarts", "seed")


def _checked_settings(
    space: Space,
    names: Sequence[str],
    *,
    pool: pd.DataFrame | list[dict[str, Any]] | None,
    strategy: str,
    strategy_options: dict[str, Any] | None,
    fit_options: dict[str, Any] | None,
    kernel: str | None,
    seed: int,
    restarts: int,
    task_weights: Mapping[str, float] | None,
    min_distance: float,
    fixed: Mapping[str, Any] | None,
    constraints: Sequence[str] | None,
    stop: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A campaign's settings, each checked, as the store keeps them (:meth:`Campaign.create`).

    Raises
    ------
    InputDataError
        Naming the setting at fault.
    """
    strategy_options = dict(strategy_options or {})
    get_strategy(strategy, **strategy_options)  # an unknown strategy or option fails here
    targets = strategy_options.get("target_std") or {}
    unknown_targets = sorted(set(targets) - set(names)) if isinstance(targets, dict) else []
    if unknown_targets:
        raise InputDataError(
            f"strategy_options.target_std names unknown task(s) {unknown_targets}; the tasks are "
            f"{list(names)}"
        )
    weights = {n: 1.0 for n in names}
    for name, weight in (task_weights or {}).items():
        if name not in weights:
            raise InputDataError(f"task_weights: unknown task {name!r}; the tasks are {list(names)}")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not (np.isfinite(weight) and weight >= 0)
        ):
            raise InputDataError(f"task_weights[{name!r}] must be finite and >= 0, got {weight!r}")
        weights[name] = float(weight)
    if (
        isinstance(min_distance, bool)
        or not isinstance(min_distance, numbers.Real)
        or not (np.isfinite(min_distance) and min_distance >= 0)
    ):
        raise InputDataError(f"min_distance must be finite and >= 0, got {min_distance!r}")
    restarts = check_integer(restarts, "restarts", 1)
    feasibility = Feasibility(space, dict(fixed or {}), list(constraints or ()))
    records = None
    if pool is not None:
        records = pool if isinstance(pool, list) else _pool_records(pool, space)
        if feasibility.active and not feasibility.mask(pd.DataFrame(records)[space.names]).any():
            raise InputDataError("no row of the pool obeys the fixed values and constraints")
    return {
        "strategy": strategy,
        "strategy_options": strategy_options,
        "fit_options": _fit_options(strategy, fit_options),
        "kernel": kernel,
        "seed": int(seed),
        "restarts": int(restarts),
        "task_weights": weights,
        "min_distance": float(min_distance),
        "pool": records,
        **feasibility.settings(),
        "stop": _stop_description(stop, names),
    }


def _fit_options(strategy: str, fit_options: dict[str, Any] | None) -> dict[str, Any]:
    """The campaign's keywords of :func:`mtgp_kinetics.fit`, checked; BALD fits by NUTS unless told otherwise.

    Raises
    ------
    InputDataError
        Naming a key :func:`~mtgp_kinetics.fit` does not take, one the campaign sets itself, or a
        bad value (checked here, so a campaign is never stored with options its first fit refuses).
    """
    if fit_options is not None and not isinstance(fit_options, dict):
        raise InputDataError(f"fit_options must be a dict of mtgp_kinetics.fit keywords, got {fit_options!r}")
    options = dict(fit_options or {})
    own = sorted(set(options) & set(CAMPAIGN_FIT_KEYWORDS))
    if own:
        raise InputDataError(
            f"fit_options {own}: the campaign sets these itself; pass them to Campaign.create "
            f"directly (kernel=, restarts=, seed=)"
        )
    allowed = [name for name in inspect.signature(fit).parameters if name not in CAMPAIGN_FIT_KEYWORDS]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputDataError(
            f"fit_options {unknown} are not keywords of mtgp_kinetics.fit; allowed: {allowed}"
        )
    if strategy == "bald":
        options.setdefault("method", "nuts")
    sampler = sampler_options(
        options.get("method", "map"),
        {k: options.get(k) for k in ("num_warmup", "num_samples", "num_chains")},
        where="fit_options",
    )
    if sampler:
        from mtgp_kinetics.bayes import NutsSettings

        NutsSettings(**sampler).validate()
    return options


def _check_enough_free(free: int, candidates: int, q: int, min_distance: float, user_pool: bool) -> None:
    """Raise :class:`PoolExhausted` saying why fewer than ``q`` candidates are left.

    ``free`` of ``candidates`` lie at least ``min_distance`` from every observed or pending
    condition; ``user_pool`` says whether they are the user's pool or points sampled in the box.
    """
    if free >= q:
        return
    near = (
        f"{candidates - free} of {candidates} lie within min_distance={min_distance:g} (normalized "
        f"model coordinates: the box is [0, 1] on each axis) of an observed or pending condition"
    )
    if user_pool:
        raise PoolExhausted(
            f"the candidate pool has {free} usable row(s), fewer than q={q} ({near}); add "
            f"candidates, ask for fewer or lower min_distance"
        )
    raise PoolExhausted(
        f"{free} usable point(s) in the feasible box (bounds, fixed values, constraints), fewer than "
        f"q={q}: of points sampled there, {near}. Lower min_distance (TOML key min_distance), "
        f"release a fixed value or ask for fewer"
    )


def _too_close(X: torch.Tensor, used_X: torch.Tensor, min_distance: float) -> bool:
    """Whether some row of ``X`` is within ``min_distance`` of ``used_X`` or of another row."""
    within = distances(X, X).masked_fill(torch.eye(X.shape[0], dtype=torch.bool), float("inf"))
    return bool((nearest_distance(X, used_X) < min_distance).any() or (within < min_distance).any())


def _pool_records(pool: pd.DataFrame, space: Space) -> list[dict[str, Any]]:
    """Pool frame -> JSON records of plain floats and level names (validated)."""
    if not isinstance(pool, pd.DataFrame) or len(pool) == 0:
        raise InputDataError("pool must be a non-empty DataFrame of conditions, one column per variable")
    space.validate(pool)
    records = []
    for _, row in pool.iterrows():
        records.append(
            {
                v.name: str(row[v.name]) if isinstance(v, Categorical) else float(row[v.name])
                for v in space.variables
            }
        )
    return records


def _stop_description(stop: Mapping[str, Any] | None, task_names: Sequence[str]) -> dict[str, Any] | None:
    """``stop`` of :meth:`Campaign.create` checked (rules built, tasks known) and made JSON-ready."""
    if stop is None:
        return None
    if not isinstance(stop, Mapping):
        raise InputDataError(f"stop must be a mapping of rule -> value, got {stop!r}")
    rules_from_description(stop, task_names=task_names)  # bad keys, values, tasks: fail before the file
    out = dict(stop)
    if "target_std" in out:
        out["target_std"] = {str(k): float(v) for k, v in out["target_std"].items()}
    if "max_cost" in out:
        out["max_cost"] = float(out["max_cost"])
    if "max_experiments" in out:
        out["max_experiments"] = int(out["max_experiments"])
    return out

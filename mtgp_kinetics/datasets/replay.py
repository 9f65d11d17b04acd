"""Pool-based active-learning replay on measured data: would a design strategy have needed fewer rows.

A replay takes a data set that was measured already and pretends it was not: it holds out a fixed
test split of the experiments (source rows), starts from a few rows of the rest (the *pool*), and
adds pool rows one at a time, either in the order an acquisition strategy chooses or in random
order, refitting the model at checkpoints and scoring it on the test split. The question it answers
is the one a lab asks: how many of the measured rows would the strategy have needed to reach the
accuracy that all of them give (in random order, every row is used in the end, so that accuracy is
the model fitted on the whole pool)?

Strategy (``"integrated_variance"`` with ``criterion="trace"``, the campaign's default): the next
row is the pool row whose measured (condition, task) pairs most reduce the integrated trace of the
posterior covariance, the sum over tasks of each standardized task's own integrated variance,

    IV = mean_z sum_t Var[f_t(z)],   reduction(r) = mean_z sum_t a_rt(z)^T S_r^{-1} a_rt(z),

with ``a_rt(z) = Cov(f_t(z), y_r)`` (covariances with the row's pairs ``r``) and
``S_r = Cov(y_r) + noise`` (the noise of a new measurement of each task), the exact variance
reduction of conditioning a GP on ``y_r`` (R&W eq. 2.24: it does not depend on the measured values).
This is the quantity a :class:`~mtgp_kinetics.campaign.Campaign`'s default strategy scores
(:func:`~mtgp_kinetics.campaign.variance_reduction.task_variance_reductions`), evaluated here for
each row's own pairs, so a row that measured one task is not credited with the others.
``criterion="sum"`` scores the variance of the sum of the standardized outputs instead
(``a_r(z) = Cov(sum_t f_t(z), y_r)``, botorch's ``qNegIntegratedPosteriorVariance`` with a summing
``ScalarizedPosteriorTransform``; the replay's strategy before session 18), which for anti-correlated
tasks cancels uncertainty a measurement removes. For independent tasks the two are the same.
Between checkpoints the model's hyperparameters stay fixed and the joint covariance is
updated exactly after each pick (a Schur complement); at each checkpoint the model is refitted on the
rows chosen so far (never on test rows).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.api import fit
from mtgp_kinetics.dataset import Dataset
from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.model import KineticsModel

ORDERS = ("strategy", "random")


@dataclass(frozen=True)
class ReplayResult:
    """What a replay measured.

    Attributes
    ----------
    curves : DataFrame
        One row per (order, repeat, checkpoint, task): ``order`` (``"strategy"``, ``"random"``),
        ``repeat`` (random permutation number; 0 for the strategy), ``rows`` (pool rows used),
        ``task``, ``rmse`` (test split, modelled space: log10, logit...), ``nlpd``.
    needed : DataFrame
        One row per (order, task): ``target_rmse`` (with every pool row), ``rows_needed`` (fewest
        checkpoint rows whose RMSE is within ``tolerance`` of the target; median over repeats for
        random order), ``pool_rows`` and ``fraction`` (``rows_needed / pool_rows``).
    picks : list of int
        Source-row labels in the order the strategy chose them (start rows first).
    seconds : float
        Wall time of the replay.
    """

    curves: pd.DataFrame
    needed: pd.DataFrame
    picks: list[Any]
    seconds: float


def row_labels(data: Dataset) -> np.ndarray:
    """Source-row label of each observation (``n``): an experiment's observations share one."""
    return data.observations["row"].to_numpy()


def split_rows(
    data: Dataset, test_fraction: float, n_start: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the source rows into test rows, start rows and the rest of the pool (seeded).

    The test split takes whole conditions: source rows at identical conditions (repeated
    experiments) are all test rows or all pool rows, so a test measurement is never predicted from
    its own repeat (what ``cross_validate`` does too). It holds at least one row of every task that
    has a row to spare (a task measured at a few conditions only is not silently left unscored);
    a task it cannot hold is warned about (:class:`~mtgp_kinetics.errors.DataWarning`). The start
    rows hold at least two observations of every task (so every task can be fitted from the first
    checkpoint), then random pool rows up to ``n_start``.

    Returns
    -------
    test, start, rest : ndarray
        Row labels.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputDataError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    labels = row_labels(data)
    obs = data.observations
    tasks = obs["task"].to_numpy()
    rows = pd.unique(labels)
    # Condition group of each source row, numbered in order of first appearance: without repeats
    # group i is row i, and the permutation below is the one the split has always used.
    first = obs.groupby("row", sort=False)[data.space.names].first().loc[rows]
    group_of_row = first.groupby(data.space.names, sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(group_of_row.max()) + 1
    permuted = rng.permutation(n_groups)
    n_test = max(1, round(test_fraction * len(rows)))
    members = {g: rows[group_of_row == g] for g in range(n_groups)}
    task_rows = {name: set(labels[tasks == name]) for name in data.task_names}
    test_groups: list[Any] = []
    taken = 0
    for g in permuted:
        if taken >= n_test:
            break
        test_groups.append(g)
        taken += len(members[g])
    for name in data.task_names:
        in_test = any(r in task_rows[name] for g in test_groups for r in members[g])
        if in_test:
            continue
        # Move the first pool condition that measured the task, if the pool keeps two rows of it.
        for g in permuted:
            if g in test_groups or not any(r in task_rows[name] for r in members[g]):
                continue
            left = len(task_rows[name]) - sum(r in task_rows[name] for r in members[g])
            if left >= 2:
                test_groups.append(g)
                break
        else:
            warnings.warn(
                f"replay: task {name!r} has too few rows to hold one out for scoring; it is not scored",
                DataWarning,
                stacklevel=3,
            )
    test = np.concatenate([members[g] for g in permuted if g in test_groups])
    pool = np.concatenate([members[g] for g in permuted if g not in test_groups])
    start: list[Any] = []
    for name in data.task_names:
        having = [r for r in pool if r not in start and (tasks[labels == r] == name).any()]
        start.extend(having[: max(0, 2 - sum(tasks[np.isin(labels, start)] == name))])
    for r in pool:
        if len(start) >= n_start:
            break
        if r not in start:
            start.append(r)
    rest = np.array([r for r in pool if r not in start], dtype=pool.dtype)
    return test, np.array(start, dtype=pool.dtype), rest


def _rows_subset(data: Dataset, rows: Sequence[Any]) -> Dataset:
    return data.subset(np.isin(row_labels(data), np.asarray(rows)))


def _scores(model: KineticsModel, test: Dataset) -> pd.DataFrame:
    """Per-task RMSE and NLPD of new measurements on ``test`` (modelled space)."""
    obs = test.observations
    z = test.train_targets().numpy()
    out = []
    for name in model.task_names:
        mask = (obs["task"] == name).to_numpy()
        if not mask.any():
            continue
        frame = obs.loc[mask, model.space.names].reset_index(drop=True)
        pred = model.predict(frame, observation_noise=True, tasks=[name])
        mu = pred["transformed_mean"].to_numpy()
        s = pred["transformed_std"].to_numpy()
        zk = z[mask]
        nlpd = np.mean(0.5 * np.log(2 * np.pi * s**2) + 0.5 * ((zk - mu) / s) ** 2)
        out.append({"task": name, "rmse": float(np.sqrt(np.mean((zk - mu) ** 2))), "nlpd": float(nlpd)})
    return pd.DataFrame(out)


def _pairs(data: Dataset) -> torch.Tensor:
    """``n x (d + 1)`` model inputs of the observations (task index last)."""
    return data.train_inputs()


class _VarianceState:
    """Joint posterior covariance of integration pairs and candidate pairs, updated after each pick."""

    def __init__(
        self, model: KineticsModel, candidates: torch.Tensor, mc_points: torch.Tensor, criterion: str
    ) -> None:
        t = model.num_tasks
        m = mc_points.shape[0]
        mc_pairs = model.gp.all_tasks_inputs(mc_points)  # (t m) x (d + 1), task-major
        X = torch.cat([mc_pairs, candidates])
        model.gp.prediction_strategy = None
        with torch.no_grad():
            cov = model.gp.posterior(X).mvn.covariance_matrix
            noise = model.gp.likelihood.noise_covar.per_task_variance()
        self.cov = cov.numpy().astype(np.float64)
        # Weights of the summed output at each integration point: the t pairs of point j.
        self.n_mc = t * m
        self.m = m
        self.task_of_candidate = candidates[:, -1].round().long().numpy()
        self.noise = noise.numpy()[self.task_of_candidate]
        self.t = t
        self.criterion = criterion

    def _integrated(self) -> np.ndarray:
        """Covariances of the integrated quantities with the candidate pairs.

        ``(t m) x c`` for ``"trace"`` (each task at each point), ``m x c`` for ``"sum"`` (the
        summed output at each point).
        """
        block = self.cov[: self.n_mc, self.n_mc :]
        if self.criterion == "trace":
            return block
        return block.reshape(self.t, self.m, -1).sum(axis=0)

    def reduction(self, groups: list[np.ndarray]) -> np.ndarray:
        """Integrated-variance reduction of observing each group of candidate pairs."""
        a = self._integrated()
        out = np.empty(len(groups))
        for g, idx in enumerate(groups):
            c = self.n_mc + idx
            S = self.cov[np.ix_(c, c)] + np.diag(self.noise[idx])
            A = a[:, idx]
            out[g] = np.einsum("ji,ji->", A, np.linalg.solve(S, A.T).T) / self.m
        return out

    def condition(self, idx: np.ndarray) -> None:
        """Condition on noisy observations of candidate pairs ``idx`` (Schur complement)."""
        c = self.n_mc + idx
        S = self.cov[np.ix_(c, c)] + np.diag(self.noise[idx])
        B = self.cov[:, c]
        self.cov = self.cov - B @ np.linalg.solve(S, B.T)


def _select(
    model: KineticsModel,
    data: Dataset,
    rows: list[Any],
    k: int,
    mc_points: torch.Tensor,
    criterion: str = "trace",
) -> list[Any]:
    """Greedily pick ``k`` of ``rows`` by integrated-variance reduction (hyperparameters fixed)."""
    candidates = _rows_subset(data, rows)
    labels = row_labels(candidates)
    state = _VarianceState(model, _pairs(candidates), mc_points, criterion)
    groups = [np.flatnonzero(labels == r) for r in rows]
    free = list(range(len(rows)))
    picks = []
    for _ in range(min(k, len(rows))):
        scores = state.reduction([groups[i] for i in free])
        best = free[int(np.argmax(scores))]
        picks.append(rows[best])
        state.condition(groups[best])
        free.remove(best)
    return picks


def checkpoints(n_start: int, n_pool: int, steps: int) -> list[int]:
    """Pool sizes at which the model is refitted and scored: ``n_start``, then ``steps`` even steps."""
    sizes = np.linspace(n_start, n_pool, steps + 1).round().astype(int)
    return sorted(set(int(s) for s in sizes))


def replay(
    data: Dataset,
    *,
    test_fraction: float = 0.25,
    n_start: int = 10,
    steps: int = 10,
    n_random: int = 1,
    kernel: str | None = None,
    restarts: int = 2,
    max_iter: int = 300,
    n_mc_points: int = 64,
    integrate_over: str = "pool",
    tolerance: float = 0.0,
    criterion: str = "trace",
    seed: int = 0,
) -> ReplayResult:
    """Replay a measured data set in the strategy's order and in random order.

    Parameters
    ----------
    data : Dataset
        The measurements; a source row (an experiment, possibly several tasks) is the unit chosen.
    test_fraction : float
        Share of the source rows held out for scoring (seeded).
    n_start : int
        Rows to start from (both orders), at least two observations of every task.
    steps : int
        Checkpoints after the start, evenly spaced up to the whole pool.
    n_random : int
        Random permutations to average over (median of rows needed).
    kernel : str, optional
        Passed to :func:`mtgp_kinetics.fit` at each checkpoint (``None``: the default model).
    restarts, max_iter : int
        MAP settings of each fit.
    n_mc_points : int
        Integration points of the integrated variance.
    integrate_over : {"pool", "space"}
        ``"pool"``: the conditions of the pool and test rows (where the experiments are);
        ``"space"``: Sobol points of the whole space, as a campaign does.
    tolerance : float
        A checkpoint reaches the target when its RMSE is at most ``(1 + tolerance)`` times the
        whole-pool RMSE.
    criterion : {"trace", "sum"}
        What the strategy's integrated variance is of (see the module docstring): each task's own
        (the campaign's default) or the sum of the outputs'.
    seed : int
        Seed of the split, the start rows, the random orders, the fits and the Sobol points.

    Returns
    -------
    ReplayResult
        Curves, rows needed per order and task, the strategy's picks and the wall time.
    """
    if integrate_over not in ("pool", "space"):
        raise InputDataError(f"integrate_over must be 'pool' or 'space', got {integrate_over!r}")
    if criterion not in ("trace", "sum"):
        raise InputDataError(f"criterion must be 'trace' or 'sum', got {criterion!r}")
    began = time.perf_counter()
    _warn_if_rows_are_single_observations(data)
    test_rows, start, rest = split_rows(data, test_fraction, n_start, seed)
    if len(rest) == 0:
        raise InputDataError(
            f"replay: after holding out {len(test_rows)} test row(s) the pool has {len(start)} row(s), "
            f"all of them start rows (n_start={n_start}): there is nothing to choose; use a smaller "
            "n_start or more data"
        )
    test = _rows_subset(data, test_rows)
    n_pool = len(start) + len(rest)
    sizes = checkpoints(len(start), n_pool, steps)
    if integrate_over == "pool":
        frame = data.observations[data.space.names].drop_duplicates()
        pick = np.random.default_rng(seed).permutation(len(frame))[:n_mc_points]
        mc_points = data.space.to_model(frame.iloc[pick], validate=False)
    else:
        mc_points = data.space.to_model(data.space.sample(n_mc_points, seed=seed), validate=False)

    def fitted(rows: Sequence[Any]) -> KineticsModel:
        with warnings.catch_warnings():
            # Checkpoint fits are measured, not inspected: their warnings are not the replay's.
            warnings.simplefilter("ignore")
            return fit(
                _rows_subset(data, rows), kernel=kernel, restarts=restarts, max_iter=max_iter, seed=seed
            )

    records: list[dict[str, Any]] = []

    def score(order: str, repeat: int, rows: Sequence[Any], model: KineticsModel) -> None:
        for rec in _scores(model, test).to_dict("records"):
            records.append({"order": order, "repeat": repeat, "rows": len(rows), **rec})

    full = fitted(list(start) + list(rest))
    # Strategy order.
    chosen = list(start)
    remaining = list(rest)
    model = model_at_start = fitted(chosen)
    score("strategy", 0, chosen, model)
    for size in sizes[1:]:
        picks = _select(model, data, remaining, size - len(chosen), mc_points, criterion)
        chosen.extend(picks)
        remaining = [r for r in remaining if r not in picks]
        model = full if size == n_pool else fitted(chosen)
        score("strategy", 0, chosen, model)
    # Random orders (the whole-pool fit is shared: every order ends with the same rows).
    for repeat in range(n_random):
        order = list(start) + list(np.random.default_rng(seed + 1 + repeat).permutation(rest))
        score("random", repeat, start, model_at_start)
        for size in sizes[1:]:
            score("random", repeat, order[:size], full if size == n_pool else fitted(order[:size]))
    curves = pd.DataFrame(records)
    return ReplayResult(curves, _needed(curves, n_pool, tolerance), chosen, time.perf_counter() - began)


def _warn_if_rows_are_single_observations(data: Dataset) -> None:
    """Warn when the source rows are single measurements of experiments that measured several tasks.

    The replay chooses source rows. From a long-form file (one row per measurement) it would then
    choose single measurements, and an experiment's other tasks would stay in the pool.
    """
    obs = data.observations
    if len(data.task_names) < 2 or obs["row"].duplicated().any():
        return
    tasks_per_condition = obs.groupby(data.space.names, sort=False, dropna=False)["task"].nunique()
    if (tasks_per_condition > 1).any():
        warnings.warn(
            "replay: every source row holds one measurement, but some conditions have several tasks "
            "(long form?): the replay will choose single measurements, not experiments; give the "
            "data in wide form (one row per experiment, a column per task) to replay experiments",
            DataWarning,
            stacklevel=3,
        )


def _needed(curves: pd.DataFrame, n_pool: int, tolerance: float) -> pd.DataFrame:
    """Rows needed per order and task to reach the whole-pool RMSE (within ``tolerance``)."""
    target = curves[curves["rows"] == n_pool].groupby("task", sort=False)["rmse"].first()
    out = []
    for (order, task), group in curves.groupby(["order", "task"], sort=False):
        per_repeat = []
        for _, g in group.groupby("repeat"):
            reached = g[g["rmse"] <= (1.0 + tolerance) * target[task]]
            per_repeat.append(int(reached["rows"].min()))
        needed = float(np.median(per_repeat))
        out.append(
            {
                "order": order,
                "task": task,
                "target_rmse": float(target[task]),
                "rows_needed": needed,
                "pool_rows": n_pool,
                "fraction": needed / n_pool,
            }
        )
    return pd.DataFrame(out)

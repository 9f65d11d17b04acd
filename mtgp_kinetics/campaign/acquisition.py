"""Acquisition strategies: which conditions to run next, chosen by name.

Every strategy is a small class with one method,
``suggest(model, domain, q, pending_X, task_weights, rng) -> (X, values)``:

* ``model`` is a fitted :class:`~mtgp_kinetics.KineticsModel` (``None`` is allowed for the
  model-free strategies ``"random"`` and ``"sobol"``);
* ``domain`` is a :class:`Pool` (choose rows of a fixed candidate set) or :class:`Bounds` (choose
  anywhere in a box), both in normalized model coordinates;
* ``pending_X`` (``m x d``) are conditions suggested but not yet observed. Model-based strategies
  condition on them (a fantasy at the posterior mean: the posterior variance does not depend on the
  observed values); model-free strategies avoid them (the campaign passes observed conditions too
  when there is no model);
* ``task_weights`` (``t``) weight the tasks; ``None`` weighs them equally;
* the result is ``q x d`` model coordinates and ``q`` acquisition values (NaN where a strategy has
  none).

Strategies: ``"random"``, ``"sobol"``, ``"max_variance"``, ``"integrated_variance"`` (the default of
a campaign), ``"integrated_variance_per_cost"``; ``"bald"`` (mutual information with the hyperparameters,
for a model fitted with ``method="nuts"``).
See :data:`STRATEGIES`.

Per-task strategies (``per_task = True``, so far ``"integrated_variance_per_cost"``) choose
(condition, task) pairs for outputs measured separately: their ``suggest`` takes a keyword
``costs`` (``t`` relative task costs), accepts ``pending_X`` as ``m x d`` (all tasks pending) or
``m x (d + 1)`` (task index in the last column), and returns ``q x (d + 1)``: the conditions and
the index of the task to measure there in the last column (as float).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.models.model import Model
from botorch.optim import optimize_acqf

from mtgp_kinetics.campaign.costs import COST_RTOL
from mtgp_kinetics.campaign.errors import PoolExhausted
from mtgp_kinetics.campaign.variance_reduction import (
    all_tasks_variance_reductions,
    error_weights,
    integrated_variance,
    integrated_variance_reduction,
    posterior_variances,
    task_variance_reductions,
)
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.models.gp import CoregionalGP

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel
    from mtgp_kinetics.space import Space

#: Candidates scored per batch in pool mode (bounds memory of the fantasy models).
POOL_CHUNK = 256
#: Size of the Sobol candidate set used instead of gradient optimization (categorical spaces).
SOBOL_CANDIDATES = 1024
#: Sobol points over which ``"integrated_variance"`` integrates the posterior variance.
MC_POINTS = 256
#: What ``"integrated_variance"`` integrates (see :class:`IntegratedVarianceStrategy`).
CRITERIA = ("trace", "sum", "relative")


def _check_criterion(criterion: str) -> None:
    """Raise ``InputDataError`` naming ``criterion`` unless it is one of :data:`CRITERIA`."""
    if criterion not in CRITERIA:
        raise InputDataError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


@dataclass(frozen=True)
class Pool:
    """A fixed candidate set: strategies return some of its rows.

    Parameters
    ----------
    X : Tensor
        ``n x d`` candidates in model coordinates.
    region : Tensor, optional
        ``m x d`` points spread over the region where predictions matter (the feasible part of
        the space, :mod:`~mtgp_kinetics.campaign.feasibility`): integrated-variance strategies
        integrate over up to their ``n_mc_points`` of them instead of Sobol points of the box.
    """

    X: torch.Tensor
    region: torch.Tensor | None = None


@dataclass(frozen=True)
class Bounds:
    """A box of model coordinates: strategies may return any point inside it.

    Parameters
    ----------
    bounds : Tensor
        ``2 x d`` lower and upper bounds (model coordinates).
    categorical_dims : tuple of int
        Columns holding categorical level codes (integers ``0 .. levels - 1``).
    """

    bounds: torch.Tensor
    categorical_dims: tuple[int, ...] = field(default=())

    @classmethod
    def of(cls, space: Space) -> Bounds:
        """The whole space, in model coordinates."""
        return cls(space.model_bounds(), tuple(space.categorical_dims))

    def sobol(self, n: int, seed: int) -> torch.Tensor:
        """``n x d`` scrambled Sobol points in the box, categorical columns as level codes."""
        lower, upper = self.bounds
        engine = torch.quasirandom.SobolEngine(lower.shape[0], scramble=True, seed=seed)
        U = engine.draw(n, dtype=torch.float64)
        X = lower + U * (upper - lower)
        for i in self.categorical_dims:
            levels = round(float(upper[i] - lower[i])) + 1
            X[:, i] = lower[i] + torch.clamp(torch.floor(U[:, i] * levels), max=levels - 1)
        return X


Domain = Pool | Bounds


def integration_points(domain: Domain, model: KineticsModel, seed: int, n: int) -> torch.Tensor:
    """``n x d`` points to integrate a variance over: the pool's ``region`` if it has one, else Sobol.

    From a region of more than ``n`` points a seeded subset of ``n`` is taken.
    """
    region = domain.region if isinstance(domain, Pool) else None
    if region is None:
        return IntegratedVarianceStrategy.mc_points(model, seed, n)
    if region.shape[0] <= n:
        return region.to(torch.float64)
    rows = np.random.default_rng(seed).choice(region.shape[0], size=n, replace=False)
    return region[torch.as_tensor(np.sort(rows))].to(torch.float64)


class Strategy(Protocol):
    """What every acquisition strategy provides."""

    name: str

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``q x d`` model coordinates and ``q`` acquisition values."""
        ...


# -- helpers ---------------------------------------------------------------------------------------
def _check_q(q: int, domain: Domain) -> None:
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise InputDataError(f"q must be a positive integer, got {q!r}")
    if isinstance(domain, Pool) and domain.X.shape[0] < q:
        raise PoolExhausted(
            f"the candidate pool has {domain.X.shape[0]} usable row(s), fewer than q={q}; "
            f"add candidates or ask for fewer"
        )


def _weights(model: KineticsModel, task_weights: torch.Tensor | None) -> torch.Tensor:
    t = model.num_tasks
    if task_weights is None:
        return torch.ones(t, dtype=torch.float64)
    w = torch.as_tensor(task_weights, dtype=torch.float64)
    if w.shape != (t,) or not torch.isfinite(w).all() or (w < 0).any():
        raise InputDataError(f"task_weights must be {t} finite numbers >= 0, got {w.tolist()}")
    return w


def _require_model(model: KineticsModel | None, name: str) -> KineticsModel:
    if model is None:
        raise InputDataError(f"strategy {name!r} needs a fitted model; use 'sobol' or 'random' without one")
    return model


def _fantasize(gp: Model, X: torch.Tensor) -> Model:
    """``gp`` conditioned on observations at ``X`` at its posterior mean.

    ``X`` is ``(batch x) m x d`` (every task at each condition) or ``(batch x) m x (d + 1)``
    ((condition, task) pairs, task index last). The posterior variance of a GP does not depend on
    the observed values (R&W eq. 2.24), so the mean fantasy gives exactly the variances the model
    will have once ``X`` is measured (with the same hyperparameters).
    """
    if X.shape[-2] == 0:
        return gp
    with torch.no_grad():
        mean = gp.posterior(X).mean
    return gp.condition_on_observations(X, mean)


def _fantasize_together(gps: list[Model], X: torch.Tensor) -> list[Model]:
    """Every GP of ``gps`` (posterior draws) conditioned on one common fantasy at ``X``: their mean mean.

    ``X`` as in :func:`_fantasize`. One experiment gives one value, which every hyperparameter
    draw must then explain; a draw conditioned on its own mean would keep its disagreement with the
    others at ``X``, however often ``X`` were measured.
    """
    if X.shape[-2] == 0:
        return gps
    with torch.no_grad():
        common = torch.stack([gp.posterior(X).mean for gp in gps]).mean(0)
    return [gp.condition_on_observations(X, common) for gp in gps]


def distances(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``n x m`` Euclidean distances between rows of ``A`` (``n x d``) and ``B`` (``m x d``)."""
    if A.shape[0] == 0 or B.shape[0] == 0:
        return torch.full((A.shape[0], B.shape[0]), float("inf"), dtype=torch.float64)
    return torch.cdist(A.to(torch.float64), B.to(torch.float64))


def nearest_distance(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``n`` distances from each row of ``A`` to the nearest row of ``B`` (inf if ``B`` is empty)."""
    if B.shape[0] == 0:
        return torch.full((A.shape[0],), float("inf"), dtype=torch.float64)
    return distances(A, B).min(dim=1).values


def _greedy(
    gp: Model,
    score: Callable[[Model], AcquisitionFunction],
    domain: Domain,
    q: int,
    seed: int,
    optimizer: OptimizerSettings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``q`` points one at a time, conditioning ``gp`` on each pick (mean fantasy).

    ``score(gp)`` builds the acquisition function (``batch x 1 x d -> batch``) for the current
    model. Pool mode scores every row (in chunks) and takes the best unused row; bounds mode runs
    ``optimize_acqf`` with ``optimizer``'s settings, or, with categorical columns, scores a Sobol
    candidate set of :data:`SOBOL_CANDIDATES` points like a pool.
    """
    if isinstance(domain, Bounds) and domain.categorical_dims:
        domain = Pool(domain.sobol(SOBOL_CANDIDATES, seed))
    picks, values = [], []
    used = torch.zeros(domain.X.shape[0], dtype=torch.bool) if isinstance(domain, Pool) else None
    for _ in range(q):
        acqf = score(gp)
        if isinstance(domain, Pool):
            with torch.no_grad():
                if isinstance(acqf, _WeightedVariance) and isinstance(gp, CoregionalGP):
                    # Closed form for all rows at once: no batch of posteriors.
                    scores = posterior_variances(gp, domain.X) @ acqf.weights.to(torch.float64)
                else:
                    scores = torch.cat(
                        [acqf(block.unsqueeze(-2)) for block in domain.X.split(POOL_CHUNK)]
                    ).reshape(-1)
            scores = scores.masked_fill(used, float("-inf"))
            best = int(torch.argmax(scores))
            used[best] = True
            x, value = domain.X[best : best + 1], scores[best]
        else:
            x, value = optimize_acqf(
                acqf,
                bounds=domain.bounds,
                q=1,
                num_restarts=optimizer.num_restarts,
                raw_samples=optimizer.raw_samples,
                options={"maxiter": optimizer.maxiter, "seed": seed},
            )
            x = x.detach()
        picks.append(x)
        values.append(value.detach().reshape(()))
        gp = _fantasize(gp, x)
    return torch.cat(picks), torch.stack(values)


@dataclass(frozen=True)
class OptimizerSettings:
    """Settings of ``botorch.optim.optimize_acqf`` in bounds mode (fewer: faster, rougher).

    Parameters
    ----------
    num_restarts : int
        L-BFGS-B starts.
    raw_samples : int
        Random points from which the starts are chosen.
    maxiter : int
        L-BFGS-B iterations per start.
    """

    num_restarts: int = 4
    raw_samples: int = 128
    maxiter: int = 200


class _WeightedVariance(AcquisitionFunction):
    """Task-weighted sum of standardized posterior variances at single points (``q = 1``)."""

    def __init__(self, model: Model, weights: torch.Tensor) -> None:
        super().__init__(model)
        self.weights = weights

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``batch x 1 x d`` -> ``batch``."""
        variance = self.model.posterior(X).variance  # batch x 1 x t
        return (variance * self.weights).sum(-1).squeeze(-1)


# -- strategies ------------------------------------------------------------------------------------
class RandomStrategy:
    """Uniform draws in the box, or distinct random rows of the pool."""

    name = "random"
    #: Model-free: a campaign does not fit a model to suggest with it.
    needs_model = False

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`Strategy`; ``pending_X`` is not used."""
        _check_q(q, domain)
        rng = np.random.default_rng() if rng is None else rng
        nan = torch.full((q,), float("nan"), dtype=torch.float64)
        if isinstance(domain, Pool):
            rows = rng.choice(domain.X.shape[0], size=q, replace=False)
            return domain.X[torch.as_tensor(rows)], nan
        X = domain.sobol(q, int(rng.integers(2**31)))  # a fresh scramble: a random design
        lower, upper = domain.bounds
        U = torch.as_tensor(rng.random(X.shape), dtype=torch.float64)
        continuous = [i for i in range(X.shape[1]) if i not in domain.categorical_dims]
        X[:, continuous] = (lower + U * (upper - lower))[:, continuous]
        return X, nan


class SobolStrategy:
    """Space filling: the next unused points of a scrambled Sobol sequence, or maximin pool rows.

    Bounds mode walks a fixed Sobol sequence (``seed``) and skips every point within
    ``min_distance`` of ``pending_X`` (and of the model's training conditions, if a model is given),
    so successive calls continue the sequence. Pool mode picks, one at a time, the row farthest from
    everything used so far (maximin).

    Parameters
    ----------
    seed : int
        Scramble of the Sobol sequence.
    min_distance : float
        Points closer than this (model coordinates) to a used point count as used.
    """

    name = "sobol"
    #: Model-free: a campaign does not fit a model to suggest with it.
    needs_model = False

    def __init__(self, seed: int = 0, min_distance: float = 1e-3) -> None:
        self.seed = int(seed)
        self.min_distance = float(min_distance)

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`Strategy`; ``pending_X`` are points to avoid."""
        _check_q(q, domain)
        d = domain.X.shape[1] if isinstance(domain, Pool) else domain.bounds.shape[1]
        used = [torch.zeros(0, d, dtype=torch.float64)]
        if pending_X is not None:
            used.append(pending_X.to(torch.float64))
        if model is not None:
            used.append(model.train_inputs[:, :-1])
        used_X = torch.cat(used)
        nan = torch.full((q,), float("nan"), dtype=torch.float64)
        if isinstance(domain, Bounds):
            n = SOBOL_CANDIDATES
            while True:
                candidates = domain.sobol(n, self.seed)
                free = nearest_distance(candidates, used_X) >= self.min_distance
                if int(free.sum()) >= q:
                    return candidates[free][:q], nan
                n *= 2
        picks: list[int] = []
        nearest = nearest_distance(domain.X, used_X)
        for _ in range(q):
            # Nothing used yet: every distance is inf, and argmax takes the first row.
            best = int(torch.argmax(nearest))
            picks.append(best)
            nearest = torch.minimum(nearest, distances(domain.X, domain.X[best : best + 1])[:, 0])
            nearest[best] = float("-inf")
        return domain.X[torch.as_tensor(picks)], nan


class MaxVarianceStrategy:
    """Largest task-weighted sum of standardized posterior variances (uncertainty sampling).

    Batches (``q > 1``) are built greedily: after each pick the model is conditioned on a fantasy
    observation there, which lowers the variance around it, so the batch spreads out. Pending
    points are conditioned on first, so they are not suggested again.

    Parameters
    ----------
    num_restarts, raw_samples, maxiter : int
        Bounds-mode optimizer settings (see :class:`OptimizerSettings`).
    """

    name = "max_variance"

    def __init__(self, num_restarts: int = 4, raw_samples: int = 128, maxiter: int = 200) -> None:
        self.optimizer = OptimizerSettings(num_restarts, raw_samples, maxiter)

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`Strategy`; values are the weighted variances at the picks (standardized)."""
        model = _require_model(model, self.name)
        _check_q(q, domain)
        weights = _weights(model, task_weights)
        gp = _fantasize(model.gp, _pending(pending_X, model))
        seed = 0 if rng is None else int(rng.integers(2**31))
        return _greedy(gp, lambda g: _WeightedVariance(g, weights), domain, q, seed, self.optimizer)


class _NegIntegratedTrace(qNegIntegratedPosteriorVariance):
    """``-mean_z sum_j w_j Var[f(z, j)]`` after a fantasy at ``X`` (``batch x 1 x d -> batch``).

    botorch's ``qNegIntegratedPosteriorVariance`` needs a posterior transform for a multi-output
    model (the variance of one scalarized output); this is its per-task-weighted trace.
    """

    def __init__(self, model: Model, mc_points: torch.Tensor, weights: torch.Tensor) -> None:
        super().__init__(model, mc_points=mc_points)
        self.register_buffer("task_weights", weights.to(mc_points))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``batch x 1 x d`` candidates -> ``batch`` values."""
        fantasy = self.model.fantasize(X=X, sampler=self.sampler)
        points = self.mc_points.view(-1, *(1 for _ in X.shape[:-2]), 1, X.size(-1))
        variance = fantasy.posterior(points).variance  # m x batch x fantasies x 1 x t
        return -(variance @ self.task_weights).mean(dim=0).reshape(X.shape[:-2])


class IntegratedVarianceStrategy:
    """Largest reduction of the integrated posterior variance (botorch ``qNegIntegratedPosteriorVariance``).

    By default (``criterion="trace"``) the quantity reduced is ``sum_j w_j Var[f(z, j)]``, each
    task's own posterior variance (standardized units) weighted by its task weight and averaged over
    :data:`MC_POINTS` Sobol points ``z`` of the space (the same distribution as a held-out Sobol
    test set): the integrated trace, which is what per-task prediction errors measure.
    ``criterion="sum"`` reduces instead the variance of the task-weighted *sum* of outputs
    (botorch's ``ScalarizedPosteriorTransform``), which for anti-correlated tasks (a slow ignition
    where chain branching is weak) cancels the shared uncertainty it should remove and under-credits
    experiments that inform both; for independent tasks the two coincide. ``criterion="relative"``
    scores ``sum_j w_j r_j / IV_j``, each task's reduction relative to its current integrated
    variance. Pool mode scores every row
    in closed form (:mod:`~mtgp_kinetics.campaign.variance_reduction`: the same numbers as botorch's
    criterion, without a fantasy model per candidate) and is greedy for ``q > 1`` (fantasy at each
    pick). Bounds mode scores a scrambled Sobol set of ``n_candidates`` points of the box the same
    way (``search="candidates"``, the default: fast, and as good as a gradient search in a few
    dimensions: 1024 Sobol points leave no gap wider than a few per cent of a range in 3-D), or
    runs ``optimize_acqf`` one point at a time on the fantasy-model form of the criterion
    (``qNegIntegratedPosteriorVariance`` or its per-task trace; ``search="gradient"``; a space with
    categorical variables is then still searched as a Sobol set, as ``optimize_acqf`` would treat
    level codes as continuous). Pending points are conditioned on first.

    Parameters
    ----------
    num_restarts, raw_samples, maxiter : int
        Gradient-search settings (see :class:`OptimizerSettings`).
    n_mc_points : int
        Sobol points over which the variance is integrated.
    search : {"candidates", "gradient"}
        How bounds mode searches the box.
    n_candidates : int
        Size of the Sobol candidate set of ``search="candidates"``.
    relative : bool
        Same as ``criterion="relative"`` (kept for stored campaign settings).
    criterion : {"trace", "sum", "relative"}
        What is integrated (see above); ``"relative"`` needs a pool or the candidate search.
    """

    name = "integrated_variance"

    def __init__(
        self,
        num_restarts: int = 4,
        raw_samples: int = 128,
        maxiter: int = 200,
        n_mc_points: int = MC_POINTS,
        search: str = "candidates",
        n_candidates: int = SOBOL_CANDIDATES,
        relative: bool = False,
        criterion: str = "trace",
        error_weighting: bool = False,
    ) -> None:
        if search not in ("candidates", "gradient"):
            raise InputDataError(f"search must be 'candidates' or 'gradient', got {search!r}")
        _check_criterion(criterion)
        self.optimizer = OptimizerSettings(num_restarts, raw_samples, maxiter)
        self.n_mc_points = int(n_mc_points)
        self.search = search
        self.n_candidates = int(n_candidates)
        self.criterion = "relative" if relative else criterion
        self.error_weighting = bool(error_weighting)

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`Strategy`; values are the acquisition values (negative integrated variance)."""
        model = _require_model(model, self.name)
        _check_q(q, domain)
        transform = ScalarizedPosteriorTransform(_weights(model, task_weights))
        seed = 0 if rng is None else int(rng.integers(2**31))
        mc_points = integration_points(domain, model, seed, self.n_mc_points)
        gp = _fantasize(model.gp, _pending(pending_X, model))
        if isinstance(domain, Bounds) and (self.search == "candidates" or domain.categorical_dims):
            # optimize_acqf would treat level codes as continuous: search a Sobol set instead.
            domain = Pool(domain.sobol(self.n_candidates, seed))
        if isinstance(domain, Pool):
            weighted = self.error_weighting and self.criterion != "sum"
            point_weights = error_weights(model.gp, mc_points) if weighted else None
            return _greedy_pool_iv(
                gp, domain.X, q, mc_points, transform.weights, self.criterion, point_weights
            )
        if self.criterion == "relative":
            raise InputDataError("criterion='relative' needs search='candidates' or a pool")

        def score(g: Model) -> AcquisitionFunction:
            if self.criterion == "trace":
                return _NegIntegratedTrace(g, mc_points, transform.weights)
            return qNegIntegratedPosteriorVariance(g, mc_points=mc_points, posterior_transform=transform)

        return _greedy(gp, score, domain, q, seed, self.optimizer)

    @staticmethod
    def mc_points(model: KineticsModel, seed: int, n: int = MC_POINTS) -> torch.Tensor:
        """``n x d`` Sobol points of the model's space, in model coordinates."""
        return model.space.to_model(model.space.sample(n, seed=seed), validate=False)


class IntegratedVariancePerCostStrategy:
    """Largest reduction of the integrated variance per unit cost, for one (condition, task) pair.

    For outputs measured separately at different costs (a cheap ignition delay, an expensive
    speciation), the value of measuring task ``t`` at ``x`` is

        ``value(x, t) = [IV_now - IV_after(x, t)] / cost_t``,

    with ``IV`` the task-weighted sum of the tasks' own posterior variances (standardized units;
    ``criterion="sum"``: the variance of the task-weighted sum of outputs, see
    :class:`IntegratedVarianceStrategy`) averaged over :data:`MC_POINTS` Sobol points of the space, and
    ``IV_after(x, t)`` the same after observing task ``t`` at ``x`` (a fantasy at the posterior
    mean: variances do not depend on the observed values, R&W eq. 2.24), computed in closed form for
    all pairs at once (:mod:`~mtgp_kinetics.campaign.variance_reduction`). Pool mode scores every
    (row, task) pair; bounds mode scores a fixed Sobol
    candidate set of ``n_candidates`` points the same way (no gradient search: simple, robust, and
    categorical variables need no special care). Batches (``q > 1``) are greedy: the model is
    conditioned on each pick before the next; the same condition may come back for another task
    (measure the other output there too), never the same pair. Pending pairs are conditioned on
    first.

    This is a per-task strategy (``per_task = True``): ``suggest`` returns ``q x (d + 1)``, the
    task index in the last column, and takes the task costs as the keyword ``costs``
    (:class:`~mtgp_kinetics.campaign.Campaign` passes each task's ``Task.cost``).

    Parameters
    ----------
    n_mc_points : int
        Sobol points over which the variance is integrated.
    n_candidates : int
        Size of the Sobol candidate set in bounds mode.
    criterion : {"trace", "sum", "relative"}
        What is integrated (see above and :class:`IntegratedVarianceStrategy`).
    target_std : dict of str to float, optional
        Task name -> the accuracy wanted for that task: a latent std in the task's *modelled* unit
        (log10 s for a delay, logit for a fraction), read as a root-mean-square over the space.
        With targets the value of a pair counts only the integrated variance still *above* each
        task's target, ``sum_j w_j [e_j(now) - e_j(after)] / cost`` with ``e_j = max(IV_j - s_j^2,
        0)``: once a task is predicted to its target, measuring it more is worth nothing and the
        budget goes to the tasks that are not. Without this a cheap task keeps winning on reduction
        per unit cost long after it is good enough (measured on H2/O2: the delay driven to 0.04
        log10 units while the branching fraction lagged, ``docs/campaign.md``). Tasks without a
        target have ``s_j = 0``; when every task is at its target the plain reduction is used.
        Only with ``criterion="trace"``.
    error_weighting : bool
        Weigh each task's variance at each integration point by how much larger than predicted
        that task's leave-one-out errors are nearby
        (:func:`~mtgp_kinetics.campaign.variance_reduction.error_weights`, as in
        :class:`IntegratedVarianceStrategy`): a task measured alone is then sent to where its
        own model errs, e.g. across a regime change its stationary kernel smooths over. Only with
        ``criterion="trace"``.
    """

    name = "integrated_variance_per_cost"
    per_task = True

    def __init__(
        self,
        n_mc_points: int = MC_POINTS,
        n_candidates: int = SOBOL_CANDIDATES,
        criterion: str = "trace",
        target_std: dict[str, float] | None = None,
        error_weighting: bool = False,
    ) -> None:
        _check_criterion(criterion)
        self.n_mc_points = int(n_mc_points)
        self.n_candidates = int(n_candidates)
        self.criterion = criterion
        self.target_std = _check_targets(target_std, criterion)
        if error_weighting and criterion != "trace":
            raise InputDataError(f"error_weighting needs criterion='trace', got criterion={criterion!r}")
        self.error_weighting = bool(error_weighting)

    def _target_variances(self, model: KineticsModel) -> torch.Tensor | None:
        """``t`` squared targets in standardized units (0 for a task without one), or ``None``."""
        if not self.target_std:
            return None
        unknown = sorted(set(self.target_std) - set(model.task_names))
        if unknown:
            raise InputDataError(
                f"target_std names unknown task(s) {unknown}; the model's tasks are {model.task_names}"
            )
        target = torch.tensor(
            [self.target_std.get(name, 0.0) for name in model.task_names], dtype=torch.float64
        )
        return (target / model.y_std.to(torch.float64)) ** 2

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
        *,
        costs: torch.Tensor | None = None,
        blocked: torch.Tensor | None = None,
        max_cost: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``q x (d + 1)`` picks (task index last) and their ``q`` values (reduction / cost).

        Parameters
        ----------
        model, domain, q, task_weights, rng
            See :class:`Strategy`.
        pending_X : Tensor, optional
            ``m x d`` conditions pending for all tasks, or ``m x (d + 1)`` pending pairs.
        costs : Tensor, optional
            ``t`` relative costs (> 0) of one measurement of each task; ``None``: all 1.
        blocked : Tensor, optional
            ``n x t`` booleans over the candidates (pool rows, or the Sobol candidate set drawn
            with ``rng``) and tasks: pairs never to pick, e.g. a task already measured or pending
            at that condition (another task may still be measured there).
        max_cost : float, optional
            Most the picks may cost together: a pair costing more than what is left is skipped,
            and the batch ends early (fewer than ``q`` picks) once nothing affordable is left.
        """
        model = _require_model(model, self.name)
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise InputDataError(f"q must be a positive integer, got {q!r}")
        t = model.num_tasks
        cost = _costs(costs, t)
        transform = ScalarizedPosteriorTransform(_weights(model, task_weights))
        seed = 0 if rng is None else int(rng.integers(2**31))
        mc_points = integration_points(domain, model, seed, self.n_mc_points)
        candidates = domain.X if isinstance(domain, Pool) else domain.sobol(self.n_candidates, seed)
        n = candidates.shape[0]
        if n * t < q:
            raise PoolExhausted(
                f"the candidate pool has {n} usable row(s) and {t} task(s), fewer than q={q} pairs; "
                f"add candidates or ask for fewer"
            )
        # Row-major pairs: pair i is candidate i // t, task i % t.
        tasks = torch.arange(t, dtype=torch.float64).repeat(n).unsqueeze(-1)
        pairs = torch.cat([candidates.to(torch.float64).repeat_interleave(t, dim=0), tasks], dim=-1)
        pair_cost = cost.repeat(n)
        gp = _fantasize(model.gp, _pending_pairs(pending_X, model))
        used = torch.zeros(n * t, dtype=torch.bool)
        if blocked is not None:
            if blocked.shape != (n, t):
                raise InputDataError(
                    f"blocked must be {n} x {t} (candidates x tasks), got {tuple(blocked.shape)}"
                )
            used |= blocked.reshape(-1)
        # A task weighted 0 teaches nothing the campaign asked for: never spend on it.
        used |= (transform.weights == 0).repeat(n)
        if int((~used).sum()) < q:
            raise PoolExhausted(
                f"only {int((~used).sum())} (condition, task) pair(s) are free of earlier or pending "
                f"ones (and of tasks weighted 0), fewer than q={q}; add candidates or ask for fewer"
            )
        target_var = self._target_variances(model)
        point_weights = error_weights(model.gp, mc_points) if self.error_weighting else None
        picks, values = [], []
        left = math.inf if max_cost is None else float(max_cost)
        for _ in range(q):
            affordable = pair_cost * (1.0 - COST_RTOL) <= left
            if not bool((affordable & ~used).any()):
                break  # the budget pays for nothing more
            # Closed form (variance_reduction), identical to one mean fantasy per pair.
            groups = pairs.unsqueeze(-2)
            if self.criterion == "sum":
                reduction = integrated_variance_reduction(gp, groups, mc_points, transform.weights)
            elif self.criterion == "relative":
                iv_now = posterior_variances(gp, mc_points).mean(0).clamp_min(1e-300)  # t
                reduction = task_variance_reductions(gp, groups, mc_points) @ (transform.weights / iv_now)
            elif target_var is not None:
                reduction = _excess_reduction(
                    gp, groups, mc_points, transform.weights, target_var, point_weights
                )
            else:
                reduction = task_variance_reductions(gp, groups, mc_points, point_weights) @ transform.weights
            scores = (reduction / pair_cost).masked_fill(used | ~affordable, float("-inf"))
            best = int(torch.argmax(scores))
            used[best] = True
            left -= float(pair_cost[best])
            picks.append(pairs[best])
            values.append(scores[best])
            gp = _fantasize(gp, pairs[best : best + 1])
        if not picks:
            raise PoolExhausted(f"max_cost={max_cost!r} pays for no (condition, task) pair")
        return torch.stack(picks), torch.stack(values)


def _greedy_pool_iv(
    gp: Model,
    X: torch.Tensor,
    q: int,
    mc_points: torch.Tensor,
    weights: torch.Tensor,
    criterion: str = "trace",
    point_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy integrated-variance picks from the ``n x d`` pool ``X``, every task measured at each.

    Each step scores every row in closed form (:mod:`~mtgp_kinetics.campaign.variance_reduction`;
    no fantasy model per candidate), takes the best unused row and conditions ``gp`` on it.
    ``criterion`` (see :class:`IntegratedVarianceStrategy`): ``"trace"`` scores ``sum_j w_j r_j``
    (``r_j`` the reduction of task ``j``'s own integrated variance), ``"sum"`` the reduction of the
    integrated variance of ``sum_j w_j f_j``, ``"relative"`` ``sum_j w_j r_j / IV_j``. Values are the
    negative integrated criterion after the pick (as ``qNegIntegratedPosteriorVariance``), or the
    relative reduction.
    """
    if criterion == "sum":
        groups = gp.all_tasks_inputs(X.to(torch.float64).unsqueeze(-2))  # n x t x (d + 1)
    used = torch.zeros(X.shape[0], dtype=torch.bool)
    picks, values = [], []
    for _ in range(q):
        if criterion == "sum":
            iv_now = integrated_variance(gp, mc_points, weights)
            scores = integrated_variance_reduction(gp, groups, mc_points, weights) - iv_now
        else:
            now = posterior_variances(gp, mc_points).T  # t x m
            iv_now = (now if point_weights is None else now * point_weights).mean(-1)  # t
            reductions = all_tasks_variance_reductions(gp, X, mc_points, point_weights)  # n x t
            if criterion == "relative":
                scores = reductions @ (weights / iv_now.clamp_min(1e-300))
            else:
                scores = reductions @ weights - iv_now @ weights
        scores = scores.masked_fill(used, float("-inf"))
        best = int(torch.argmax(scores))
        used[best] = True
        picks.append(X[best : best + 1])
        values.append(scores[best])
        gp = _fantasize(gp, X[best : best + 1])
    return torch.cat(picks), torch.stack(values)


def _check_targets(target_std: dict[str, float] | None, criterion: str) -> dict[str, float] | None:
    """Validate ``target_std`` (task -> std > 0, modelled units); ``None`` or ``{}``: no targets."""
    if not target_std:
        return None
    if not isinstance(target_std, dict):
        raise InputDataError(f"target_std must be a dict task -> std, got {target_std!r}")
    if criterion != "trace":
        raise InputDataError(f"target_std needs criterion='trace', got criterion={criterion!r}")
    bad = {
        k: v
        for k, v in target_std.items()
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0)
    }
    if bad:
        raise InputDataError(f"target_std: every target must be a finite number > 0, got {bad}")
    return {str(k): float(v) for k, v in target_std.items()}


def _excess_reduction(
    gp: Model,
    groups: torch.Tensor,
    mc_points: torch.Tensor,
    weights: torch.Tensor,
    target_var: torch.Tensor,
    point_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted reduction of each task's integrated variance *above its target*, per group.

    ``sum_j w_j [max(IV_j - s_j^2, 0) - max(IV_j - r_j - s_j^2, 0)]`` with ``IV_j`` task ``j``'s
    integrated variance now (mean over the ``m`` ``mc_points``), ``r_j`` its reduction by the group
    (:func:`~mtgp_kinetics.campaign.variance_reduction.task_variance_reductions`) and ``s_j^2`` the
    ``t`` squared targets; all standardized. Where no group reduces any excess (every task at its
    target) the plain reduction ``sum_j w_j r_j`` is returned instead, so the picks stay informative.

    Returns
    -------
    Tensor
        ``n`` values for the ``n x k x (d + 1)`` ``groups``.
    """
    reductions = task_variance_reductions(gp, groups, mc_points, point_weights)  # n x t
    now = posterior_variances(gp, mc_points)  # m x t
    iv_now = (now if point_weights is None else now * point_weights.T).mean(0)  # t
    excess_now = (iv_now - target_var).clamp_min(0.0)
    excess_after = (iv_now - reductions - target_var).clamp_min(0.0)
    gain = (excess_now - excess_after) @ weights
    if float(gain.max()) <= 0.0:
        return reductions @ weights
    return gain


def _costs(costs: torch.Tensor | None, t: int) -> torch.Tensor:
    if costs is None:
        return torch.ones(t, dtype=torch.float64)
    c = torch.as_tensor(costs, dtype=torch.float64)
    if c.shape != (t,) or not torch.isfinite(c).all() or (c <= 0).any():
        raise InputDataError(f"costs must be {t} finite numbers > 0, got {c.tolist()}")
    return c


def _integrated_variance(
    gp: Model, mc_points: torch.Tensor, transform: ScalarizedPosteriorTransform
) -> torch.Tensor:
    """Mean over ``mc_points`` (``m x d``) of the variance of the weighted task sum.

    ``gp`` may carry a batch of fantasies (``b``); the result then has shape ``b``, else ``()``.
    One point per posterior (as botorch's ``qNegIntegratedPosteriorVariance``): only the ``t x t``
    covariance at each point is needed, not the joint one over all points.
    """
    batch = gp.train_inputs[0].shape[:-2]
    points = mc_points.view(-1, *(1 for _ in batch), 1, mc_points.shape[-1])
    with torch.no_grad():
        variance = gp.posterior(points, posterior_transform=transform).variance  # m x batch x 1 x 1
    return variance.mean(dim=0).reshape(batch)


def _pending_pairs(pending_X: torch.Tensor | None, model: KineticsModel) -> torch.Tensor:
    """Pending conditions (``m x d``, all tasks) or pairs (``m x (d + 1)``) -> pairs."""
    d, t = model.space.dim, model.num_tasks
    if pending_X is None:
        return torch.zeros(0, d + 1, dtype=torch.float64)
    pending_X = torch.as_tensor(pending_X, dtype=torch.float64)
    if pending_X.dim() == 2 and pending_X.shape[1] == d:
        return model.gp.all_tasks_inputs(pending_X)
    if pending_X.dim() != 2 or pending_X.shape[1] != d + 1:
        raise InputDataError(
            f"pending_X must be m x {d} conditions or m x {d + 1} (condition, task) pairs, "
            f"got shape {tuple(pending_X.shape)}"
        )
    task = pending_X[:, -1]
    if ((task != task.round()) | (task < 0) | (task >= t)).any():
        raise InputDataError(f"pending_X: the task column must hold task indices 0 .. {t - 1}")
    return pending_X


class BaldStrategy:
    """Mutual information with the hyperparameters (BALD) plus posterior-averaged variance reduction.

    Needs a model fitted with ``method="nuts"`` (:class:`~mtgp_kinetics.bayes.BayesianKineticsModel`).
    For each candidate ``x`` the score is

        ``sum_t w_t I(y_t; theta | x) + variance_weight * mean_k [IV_k - IV_k(x)] / mean_k IV_k``

    with ``I`` the mutual information between a measurement of task ``t`` at ``x`` and the
    hyperparameters (:func:`mtgp_kinetics.bayes.bald.mutual_information`, nats) over ``n_draws``
    posterior draws, and ``IV_k`` the integrated variance of the task-weighted sum of outputs
    under draw ``k`` (as ``"integrated_variance"``) before and after measuring every task at ``x``:
    the first term prefers experiments that discriminate between hyperparameter draws (where
    lengthscales or the task correlation disagree), the second, relative, term the ones that
    reduce the predictive uncertainty on average over the draws. Pool mode scores every row; bounds
    mode scores ``n_candidates`` Sobol points. Batches are greedy: after each pick (and first on
    the pending points) every draw's GP is conditioned on one common fantasy, the mixture's mean
    there. A measurement gives one value that every draw must then explain, so the draws' disagreement
    near a pick falls. (Each draw conditioned on its own mean, as until session 20, keeps the
    disagreement while shrinking each draw's variance, which *raises* the mutual information beside
    a pick: a helper's batches came out as near-duplicates, the second scoring above the first.)

    Parameters
    ----------
    n_draws : int
        Posterior draws used (evenly spaced among the model's predictive draws).
    variance_weight : float
        Weight of the relative variance-reduction term (0: pure BALD).
    n_mc_points : int
        Sobol points over which the variance is integrated.
    n_candidates : int
        Sobol candidates in bounds mode.
    """

    name = "bald"

    def __init__(
        self,
        n_draws: int = 16,
        variance_weight: float = 1.0,
        n_mc_points: int = 64,
        n_candidates: int = 256,
    ) -> None:
        self.n_draws = int(n_draws)
        self.variance_weight = float(variance_weight)
        self.n_mc_points = int(n_mc_points)
        self.n_candidates = int(n_candidates)

    def suggest(
        self,
        model: KineticsModel | None,
        domain: Domain,
        q: int,
        pending_X: torch.Tensor | None = None,
        task_weights: torch.Tensor | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """See :class:`Strategy`; values are the scores of the picks."""
        import copy

        from mtgp_kinetics.bayes.bald import mutual_information
        from mtgp_kinetics.fitting import single_threaded

        model = _require_model(model, self.name)
        if not hasattr(model, "predictive_draws"):
            raise InputDataError(
                "strategy 'bald' needs a Bayesian fit (posterior draws of the hyperparameters): fit the "
                "model with method='nuts' (Campaign.create(..., fit_options={'method': 'nuts'}))"
            )
        _check_q(q, domain)
        weights = _weights(model, task_weights)
        transform = ScalarizedPosteriorTransform(weights)
        seed = 0 if rng is None else int(rng.integers(2**31))
        mc_points = integration_points(domain, model, seed, self.n_mc_points)
        candidates = domain.X if isinstance(domain, Pool) else domain.sobol(self.n_candidates, seed)
        all_draws = model.predictive_draws()
        index = np.unique(np.linspace(0, len(all_draws) - 1, min(self.n_draws, len(all_draws))).round())
        pending = _pending(pending_X, model)
        gps = []
        for u in all_draws[index.astype(int)]:
            with model.at_draw(u) as base:
                gps.append(copy.deepcopy(base.gp))
        gps = _fantasize_together(gps, pending)
        used = torch.zeros(candidates.shape[0], dtype=torch.bool)
        picks, values = [], []
        with single_threaded():
            for _ in range(q):
                scores = self._scores(gps, candidates, weights, transform, mc_points, mutual_information)
                scores = scores.masked_fill(used, float("-inf"))
                best = int(torch.argmax(scores))
                used[best] = True
                picks.append(candidates[best])
                values.append(scores[best])
                gps = _fantasize_together(gps, candidates[best : best + 1])
        return torch.stack(picks), torch.stack(values)

    def _scores(
        self,
        gps: list[Model],
        candidates: torch.Tensor,
        weights: torch.Tensor,
        transform: ScalarizedPosteriorTransform,
        mc_points: torch.Tensor,
        mutual_information: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> torch.Tensor:
        """``n`` scores of the candidates (``n x d``) under the draws' GPs."""
        means, stds = [], []
        with torch.no_grad():
            for gp in gps:
                posterior = gp.posterior(candidates.unsqueeze(-2), observation_noise=True)
                means.append(posterior.mean.squeeze(-2))  # n x t
                stds.append(posterior.variance.squeeze(-2).clamp_min(0.0).sqrt())
        mu = torch.stack(means).numpy()  # K x n x t
        sd = torch.stack(stds).numpy()
        K, n, t = mu.shape
        info = mutual_information(mu.reshape(K, n * t), sd.reshape(K, n * t)).reshape(n, t)
        score = torch.as_tensor(info, dtype=torch.float64) @ weights
        if self.variance_weight:
            now = torch.stack([_integrated_variance(gp, mc_points, transform) for gp in gps])
            groups = gps[0].all_tasks_inputs(candidates.unsqueeze(-2))  # n x t x (d + 1)
            reductions = torch.stack(
                [integrated_variance_reduction(gp, groups, mc_points, weights) for gp in gps]
            )  # K x n
            reduction = reductions.mean(0) / now.mean().clamp_min(1e-300)
            score = score + self.variance_weight * reduction
        return score


def _pending(pending_X: torch.Tensor | None, model: KineticsModel) -> torch.Tensor:
    d = model.space.dim
    if pending_X is None:
        return torch.zeros(0, d, dtype=torch.float64)
    pending_X = torch.as_tensor(pending_X, dtype=torch.float64)
    if pending_X.dim() != 2 or pending_X.shape[1] != d:
        raise InputDataError(
            f"pending_X must be m x {d} model coordinates, got shape {tuple(pending_X.shape)}"
        )
    return pending_X


#: Strategy classes by name.
STRATEGIES: dict[str, type] = {
    "random": RandomStrategy,
    "sobol": SobolStrategy,
    "max_variance": MaxVarianceStrategy,
    "integrated_variance": IntegratedVarianceStrategy,
    "integrated_variance_per_cost": IntegratedVariancePerCostStrategy,
    "bald": BaldStrategy,
}


def get_strategy(name: str, **options: Any) -> Strategy:
    """The strategy called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGIES`.
    **options
        Passed to the strategy's constructor (e.g. ``seed`` and ``min_distance`` for ``"sobol"``).

    Returns
    -------
    Strategy
        A new instance.

    Raises
    ------
    InputDataError
        For an unknown name or option; the message lists the choices.
    """
    if not isinstance(name, str) or name not in STRATEGIES:
        raise InputDataError(f"unknown acquisition strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputDataError(
            f"strategy_options: unknown option(s) {unknown} of strategy {name!r}; it takes {accepted}"
        )
    return cls(**options)

"""Acquisition strategies on a tiny analytic data set (pool and bounds modes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.objective import ScalarizedPosteriorTransform

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import STRATEGIES, get_strategy
from mtgp_kinetics.campaign.acquisition import Bounds, IntegratedVarianceStrategy, Pool
from mtgp_kinetics.problems import AnalyticKinetics

FAST = {"num_restarts": 1, "raw_samples": 16, "maxiter": 20}


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


@pytest.fixture(scope="module")
def model(problem: AnalyticKinetics) -> mk.KineticsModel:
    data = mk.Dataset.from_frame(problem.sample(10, seed=1), problem.space, problem.tasks)
    return mk.fit(data, kernel="independent", restarts=1)


@pytest.fixture(scope="module")
def pool(problem: AnalyticKinetics) -> Pool:
    return Pool(problem.space.to_model(problem.space.sample(32, seed=3)))


def _weighted_variance(model: mk.KineticsModel, X: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.gp.posterior(X.unsqueeze(-2)).variance.sum(-1).reshape(-1)


def test_max_variance_picks_the_most_uncertain_pool_row(model, pool):
    X, values = get_strategy("max_variance").suggest(model, pool, 1)
    variances = _weighted_variance(model, pool.X)
    # Same float64 computation for the pick and the candidates: equal up to rounding.
    assert float(_weighted_variance(model, X)[0]) >= float(variances.max()) - 1e-12
    assert float(values[0]) == pytest.approx(float(variances.max()), rel=1e-9)


def test_max_variance_batch_spreads_out(model, pool):
    X, values = get_strategy("max_variance").suggest(model, pool, 3)
    assert X.shape == (3, 2)
    assert len(torch.unique(X, dim=0)) == 3
    assert torch.isfinite(values).all()


def test_max_variance_does_not_resuggest_a_pending_point(model, pool):
    first, _ = get_strategy("max_variance").suggest(model, pool, 1)
    again, _ = get_strategy("max_variance").suggest(model, pool, 1, pending_X=first)
    assert not torch.equal(first, again)


def test_integrated_variance_pool_returns_the_best_row(model, pool):
    strategy = IntegratedVarianceStrategy(n_mc_points=32)
    X, values = strategy.suggest(model, pool, 1, rng=np.random.default_rng(0))
    # Rebuild the acquisition function exactly as the strategy does (same seed draw for mc_points).
    seed = int(np.random.default_rng(0).integers(2**31))
    acqf = qNegIntegratedPosteriorVariance(
        model.gp,
        mc_points=IntegratedVarianceStrategy.mc_points(model, seed, 32),
        posterior_transform=ScalarizedPosteriorTransform(torch.ones(2, dtype=torch.float64)),
    )
    with torch.no_grad():
        scores = acqf(pool.X.unsqueeze(-2))
    best = int(torch.argmax(scores))
    torch.testing.assert_close(X[0], pool.X[best])
    assert float(values[0]) == pytest.approx(float(scores[best]), rel=1e-9)


def test_integrated_variance_bounds_mode_stays_inside(model, problem):
    bounds = Bounds.of(problem.space)
    X, values = IntegratedVarianceStrategy(n_mc_points=32, **FAST).suggest(model, bounds, 1)
    assert X.shape == (1, 2)
    assert ((X >= bounds.bounds[0]) & (X <= bounds.bounds[1])).all()
    assert torch.isfinite(values).all()


@pytest.mark.parametrize("name", ["random", "sobol"])
def test_model_free_strategies(name, problem, pool):
    strategy = get_strategy(name)
    X, values = strategy.suggest(None, pool, 3, pending_X=pool.X[:1], rng=np.random.default_rng(0))
    assert len(torch.unique(X, dim=0)) == 3
    assert torch.isnan(values).all()
    bounds = Bounds.of(problem.space)
    X, _ = strategy.suggest(None, bounds, 4, rng=np.random.default_rng(0))
    assert ((X >= bounds.bounds[0]) & (X <= bounds.bounds[1])).all()


def test_sobol_skips_used_points(problem):
    bounds = Bounds.of(problem.space)
    first, _ = get_strategy("sobol").suggest(None, bounds, 2)
    nxt, _ = get_strategy("sobol").suggest(None, bounds, 2, pending_X=first)
    assert torch.cdist(nxt, first).min() > 1e-3


def test_unknown_strategy_names_the_choices():
    with pytest.raises(mk.InputDataError, match=r"integrated_variance.*max_variance"):
        get_strategy("ucb")
    assert set(STRATEGIES) >= {"random", "sobol", "max_variance", "integrated_variance", "bald"}


def test_bald_is_reserved(model, pool):
    with pytest.raises(mk.MtgpError, match="Bayesian"):
        get_strategy("bald").suggest(model, pool, 1)

"""Closed-form variances and variance reductions agree with botorch's fantasy-model computations."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.objective import ScalarizedPosteriorTransform

import mtgp_kinetics as mk
from mtgp_kinetics.campaign.acquisition import IntegratedVarianceStrategy
from mtgp_kinetics.campaign.variance_reduction import (
    integrated_variance,
    integrated_variance_reduction,
    posterior_variances,
)
from mtgp_kinetics.problems import AnalyticKinetics

# float64, variances of order 1, exact formulas computed two ways: agreement to ~1e-12.
TOL = {"rtol": 1e-9, "atol": 1e-12}


@pytest.fixture(scope="module", params=["independent", "icm"])
def setting(request):
    problem = AnalyticKinetics(n_tasks=2)
    data = mk.Dataset.from_frame(problem.sample(12, seed=1), problem.space, problem.tasks)
    model = mk.fit(data, kernel=request.param, restarts=1, check_transfer=False)
    X = problem.space.to_model(problem.space.sample(9, seed=3))
    mc = problem.space.to_model(problem.space.sample(32, seed=4))
    weights = torch.tensor([1.0, 2.0], dtype=torch.float64)
    return model.gp, X, mc, weights


def test_posterior_variances(setting):
    gp, X, _, _ = setting
    with torch.no_grad():
        reference = gp.posterior(X.unsqueeze(-2)).variance.squeeze(-2)
    torch.testing.assert_close(posterior_variances(gp, X), reference, **TOL)


def test_integrated_variance_and_its_reduction_for_all_tasks(setting):
    gp, X, mc, weights = setting
    transform = ScalarizedPosteriorTransform(weights)
    with torch.no_grad():
        now = gp.posterior(mc.unsqueeze(-2), posterior_transform=transform).variance.mean()
        after = -qNegIntegratedPosteriorVariance(gp, mc_points=mc, posterior_transform=transform)(
            X.unsqueeze(-2)
        )
    torch.testing.assert_close(integrated_variance(gp, mc, weights), now, **TOL)
    reduction = integrated_variance_reduction(gp, gp.all_tasks_inputs(X.unsqueeze(-2)), mc, weights)
    torch.testing.assert_close(reduction, now - after, **TOL)
    assert (reduction > 0).all()


def test_reduction_of_single_pairs(setting):
    gp, X, mc, weights = setting
    transform = ScalarizedPosteriorTransform(weights)
    pairs = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], dim=-1).unsqueeze(-2)
    with torch.no_grad():
        now = gp.posterior(mc.unsqueeze(-2), posterior_transform=transform).variance.mean()
        reference = []
        for pair in pairs:
            fantasy = gp.condition_on_observations(pair, gp.posterior(pair).mean)
            reference.append(
                now - fantasy.posterior(mc.unsqueeze(-2), posterior_transform=transform).variance.mean()
            )
    torch.testing.assert_close(
        integrated_variance_reduction(gp, pairs, mc, weights), torch.stack(reference), **TOL
    )


def test_relative_option_picks_the_largest_sum_of_relative_reductions(setting):
    gp, X, mc, _ = setting
    from mtgp_kinetics.campaign.acquisition import _greedy_pool_iv

    weights = torch.tensor([1.0, 1.0], dtype=torch.float64)
    expected = torch.zeros(len(X), dtype=torch.float64)
    for j in range(2):
        unit = torch.zeros(2, dtype=torch.float64)
        unit[j] = 1.0
        transform = ScalarizedPosteriorTransform(unit)
        with torch.no_grad():
            now = gp.posterior(mc.unsqueeze(-2), posterior_transform=transform).variance.mean()
            after = -qNegIntegratedPosteriorVariance(gp, mc_points=mc, posterior_transform=transform)(
                X.unsqueeze(-2)
            )
        expected += (now - after) / now
    picks, values = _greedy_pool_iv(gp, X, 1, mc, weights, relative=True)
    best = int(torch.argmax(expected))
    torch.testing.assert_close(picks[0], X[best])
    torch.testing.assert_close(values[0], expected[best], **TOL)


def test_unknown_search_is_named():
    with pytest.raises(mk.InputDataError, match="search must be"):
        IntegratedVarianceStrategy(search="lbfgs")

"""Closed-form variances and variance reductions agree with botorch's fantasy-model computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition.active_learning import qNegIntegratedPosteriorVariance
from botorch.acquisition.objective import ScalarizedPosteriorTransform

import mtgp_kinetics as mk
from mtgp_kinetics.campaign.acquisition import IntegratedVarianceStrategy
from mtgp_kinetics.campaign.variance_reduction import (
    all_tasks_variance_reductions,
    error_weights,
    integrated_variance,
    integrated_variance_reduction,
    posterior_variances,
    task_variance_reductions,
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
    picks, values = _greedy_pool_iv(gp, X, 1, mc, weights, criterion="relative")
    best = int(torch.argmax(expected))
    torch.testing.assert_close(picks[0], X[best])
    torch.testing.assert_close(values[0], expected[best], **TOL)


def _per_task_reference(gp, groups, mc):
    """Per-task integrated variance reductions by one botorch mean fantasy per group (``n x t``)."""
    rows = []
    with torch.no_grad():
        now = gp.posterior(mc.unsqueeze(-2)).variance.squeeze(-2).mean(0)
        for group in groups:
            fantasy = gp.condition_on_observations(group, gp.posterior(group).mean)
            rows.append(now - fantasy.posterior(mc.unsqueeze(-2)).variance.squeeze(-2).mean(0))
    return torch.stack(rows)


def test_task_variance_reductions_for_all_tasks_and_single_pairs(setting):
    gp, X, mc, _ = setting
    groups = gp.all_tasks_inputs(X.unsqueeze(-2))
    pairs = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], dim=-1).unsqueeze(-2)
    for g in (groups, pairs):
        reduction = task_variance_reductions(gp, g, mc)
        torch.testing.assert_close(reduction, _per_task_reference(gp, g, mc), **TOL)
        assert (reduction > -1e-12).all()


def test_all_tasks_variance_reductions_match_the_per_pair_form(setting):
    gp, X, mc, _ = setting
    reference = _per_task_reference(gp, gp.all_tasks_inputs(X.unsqueeze(-2)), mc)
    torch.testing.assert_close(all_tasks_variance_reductions(gp, X, mc), reference, **TOL)


def test_trace_criterion_is_the_weighted_sum_of_task_reductions(setting):
    gp, X, mc, weights = setting
    from mtgp_kinetics.campaign.acquisition import _greedy_pool_iv

    reference = _per_task_reference(gp, gp.all_tasks_inputs(X.unsqueeze(-2)), mc) @ weights
    with torch.no_grad():
        now = gp.posterior(mc.unsqueeze(-2)).variance.squeeze(-2).mean(0) @ weights
    picks, values = _greedy_pool_iv(gp, X, 1, mc, weights, criterion="trace")
    best = int(torch.argmax(reference))
    torch.testing.assert_close(picks[0], X[best])
    torch.testing.assert_close(values[0], reference[best] - now, **TOL)


def test_gradient_search_trace_matches_the_closed_form(setting):
    gp, X, mc, weights = setting
    from mtgp_kinetics.campaign.acquisition import _NegIntegratedTrace

    with torch.no_grad():
        now = gp.posterior(mc.unsqueeze(-2)).variance.squeeze(-2).mean(0) @ weights
        values = _NegIntegratedTrace(gp, mc, weights)(X.unsqueeze(-2))
    reduction = task_variance_reductions(gp, gp.all_tasks_inputs(X.unsqueeze(-2)), mc) @ weights
    torch.testing.assert_close(values, reduction - now, **TOL)


def test_unknown_criterion_is_named():
    from mtgp_kinetics.campaign.acquisition import IntegratedVariancePerCostStrategy

    for strategy in (IntegratedVarianceStrategy, IntegratedVariancePerCostStrategy):
        with pytest.raises(mk.InputDataError, match="criterion must be"):
            strategy(criterion="max")


def test_unknown_search_is_named():
    with pytest.raises(mk.InputDataError, match="search must be"):
        IntegratedVarianceStrategy(search="lbfgs")


def test_error_weights_smooth_the_leave_one_out_calibration_ratios():
    problem = AnalyticKinetics(n_tasks=2)
    data = mk.Dataset.from_frame(problem.sample(14, seed=5), problem.space, problem.tasks)
    model = mk.fit(data, kernel="icm", restarts=1, check_transfer=False)
    mc = problem.space.to_model(problem.space.sample(16, seed=6))
    points = model.held_out_predictions(by="observation")
    ratio = torch.as_tensor(((points["observed"] - points["mean"]) / points["std"]).to_numpy() ** 2)
    gp = model.gp
    X, tasks = gp.train_inputs[0][:, :-1], gp.train_inputs[0][:, -1].round().long()
    expected = []
    for j in range(2):
        diag = [B[j, j] for B in gp.covar_module.latent_matrices()]
        kernels = gp.covar_module.input_kernels
        with torch.no_grad():
            rho = sum(b * k(mc, X[tasks == j]).to_dense() for b, k in zip(diag, kernels, strict=True))
        rho = rho / sum(diag)
        expected.append((1 + rho @ ratio[(tasks == j).numpy()]) / (1 + rho.sum(-1)))
    torch.testing.assert_close(error_weights(gp, mc), torch.stack(expected), **TOL)


def test_error_weights_are_larger_where_the_model_is_wrong():
    # One task's observations in the low-temperature half get an offset the smooth fit cannot follow.
    problem = AnalyticKinetics(n_tasks=2)
    frame = problem.sample(24, seed=7)
    X = problem.space.to_model(frame)
    bad = (X[:, 0] > 0.6).numpy()
    frame.loc[bad, "log_k"] = frame.loc[bad, "log_k"] * 10.0 ** (0.8 * np.sin(40 * X[bad, 1].numpy()))
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
    model = mk.fit(data, kernel="independent", restarts=1)
    mc = problem.space.to_model(problem.space.sample(64, seed=8))
    weights = error_weights(model.gp, mc)
    assert weights.shape == (2, 64) and (weights > 0).all()
    rough = mc[:, 0] > 0.6
    assert weights[0, rough].mean() > weights[0, ~rough].mean()

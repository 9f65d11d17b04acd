"""benchmarks/design_bound.py: posterior stds at fixed hyperparameters, and the greedy design's bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtgp_kinetics.problems import get_problem


@pytest.fixture(scope="module")
def bound(load_benchmark):
    return load_benchmark("design_bound")


@pytest.fixture(scope="module")
def problem():
    return get_problem("analytic")


@pytest.fixture(scope="module")
def reference(bound, problem):
    return bound.reference_model(problem, 30)


def test_std_on_the_reference_design_is_the_models_own(bound, problem, reference):
    """On the reference fit's own conditions the std is what the fitted model predicts (MAP point)."""
    fixed = bound.FixedHyperparameters(reference)
    frame = problem.sample(30, seed=77)  # reference_model's design
    design = problem.space.to_model(frame[problem.space.names], validate=False).to(torch.float64)
    test_frame = problem.space.sample(40, seed=3)
    test = problem.space.to_model(test_frame, validate=False).to(torch.float64)
    _, _, covariance = reference.predict_joint(test_frame, hyperparameter_uncertainty=False)
    variance = np.diag(covariance).reshape(40, reference.num_tasks)  # condition-major
    expected = np.sqrt(variance.mean(0))
    np.testing.assert_allclose(fixed.rms_std(design, test), expected, rtol=1e-6)


def test_greedy_design_shrinks_the_std_and_beats_random(bound, problem, reference):
    """More greedy picks never raise the std (a GP's variance only falls with data), and the greedy
    design, which integrates over the held-out conditions themselves, ends below random designs of
    the same size on the sum of standardized variances it minimizes."""
    fixed = bound.FixedHyperparameters(reference)
    setup = bound.make_bound_setup(problem, seed=0, n_pool=128, n_initial=6, n_test=60)
    stds = fixed.greedy(setup, [6, 10, 14, 18])
    for small, large in [(6, 10), (10, 14), (14, 18)]:
        assert np.all(stds[large] <= stds[small] + 1e-12)
    random = fixed.random(setup, 18, draws=5, seed=0)
    y_std = fixed.y_std.numpy()
    assert np.sum((stds[18] / y_std) ** 2) < np.sum((random / y_std) ** 2)


def test_bound_table_reports_the_size_needed(bound, problem, reference):
    table = bound.bound_table(
        problem, reference, seeds=1, n_pool=128, n_initial=6, steps=10, n_test=60, random_draws=3
    )
    assert list(table["task"]) == reference.task_names
    needed = table["greedy size needed"].to_numpy()
    assert np.all((needed >= 6) & (needed <= 16) | np.isinf(needed))
    finite = np.isfinite(needed)
    np.testing.assert_allclose(table["ratio"].to_numpy()[finite], needed[finite] / 16)


def test_per_cost_design_stops_at_the_targets_or_the_cap(bound, problem, reference):
    """The pair-at-a-time design pays for its initial experiments, stops once every task's std is
    at its target (finite cost within the cap), and reports ``inf`` for a target no design reaches."""
    fixed = bound.FixedHyperparameters(reference)
    setup = bound.make_bound_setup(problem, seed=0, n_pool=64, n_initial=6, n_test=40)
    costs = np.array([1.0, 5.0])
    reachable = fixed.random(setup, 14, draws=3, seed=0)  # 8 random experiments more reach this
    initial_cost = 6 * costs.sum()
    cost = fixed.greedy_per_cost(setup, reachable, costs, max_cost=initial_cost + 40 * costs.sum())
    assert initial_cost < cost <= initial_cost + 40 * costs.sum()
    assert np.isinf(fixed.greedy_per_cost(setup, reachable * 1e-3, costs, max_cost=initial_cost + 12))

"""Cost-aware per-task acquisition: ``"integrated_variance_per_cost"`` picks (condition, task) pairs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import STRATEGIES, Campaign, get_strategy
from mtgp_kinetics.campaign.acquisition import (
    Bounds,
    IntegratedVariancePerCostStrategy,
    IntegratedVarianceStrategy,
    Pool,
)
from mtgp_kinetics.problems import AnalyticKinetics

N_MC = 32


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


@pytest.fixture(scope="module")
def model(problem: AnalyticKinetics) -> mk.KineticsModel:
    # Both tasks observed at the same 12 conditions: similarly uncertain (standardized units).
    data = mk.Dataset.from_frame(problem.sample(12, seed=1), problem.space, problem.tasks)
    return mk.fit(data, kernel="independent", restarts=1)


@pytest.fixture(scope="module")
def pool(problem: AnalyticKinetics) -> Pool:
    return Pool(problem.space.to_model(problem.space.sample(24, seed=3)))


def _reference_iv(gp, mc_points: torch.Tensor) -> torch.Tensor:
    """Integrated variance of the unweighted task sum: mean over points of ``1^T Sigma_x 1``."""
    with torch.no_grad():
        cov = gp.posterior(mc_points.unsqueeze(-2)).mvn.covariance_matrix  # m x t x t
    return cov.sum((-1, -2)).mean()


def _reference_values(model: mk.KineticsModel, X: torch.Tensor, mc_points: torch.Tensor) -> torch.Tensor:
    """``n x t`` reductions IV_now - IV_after, one direct fantasy per (row, task)."""
    gp = model.gp
    now = _reference_iv(gp, mc_points)
    out = torch.empty(X.shape[0], model.num_tasks, dtype=torch.float64)
    for i in range(X.shape[0]):
        for task in range(model.num_tasks):
            pair = torch.cat([X[i], torch.tensor([float(task)], dtype=torch.float64)]).unsqueeze(0)
            with torch.no_grad():
                fantasy = gp.condition_on_observations(pair, gp.posterior(pair).mean)
            out[i, task] = now - _reference_iv(fantasy, mc_points)
    return out


def test_registered_and_per_task():
    assert STRATEGIES["integrated_variance_per_cost"] is IntegratedVariancePerCostStrategy
    assert get_strategy("integrated_variance_per_cost").per_task is True


def test_equal_costs_pick_the_largest_reduction(model, pool):
    strategy = IntegratedVariancePerCostStrategy(n_mc_points=N_MC)
    X, values = strategy.suggest(model, pool, 1, rng=np.random.default_rng(0))
    assert X.shape == (1, pool.X.shape[1] + 1)
    seed = int(np.random.default_rng(0).integers(2**31))
    reference = _reference_values(model, pool.X, IntegratedVarianceStrategy.mc_points(model, seed, N_MC))
    best = int(torch.argmax(reference))
    row, task = divmod(best, model.num_tasks)
    # float64 variances of order 1 from two different but exact computations: agree to ~1e-10.
    assert float(values[0]) == pytest.approx(float(reference.max()), rel=1e-8, abs=1e-10)
    torch.testing.assert_close(X[0, :-1], pool.X[row])
    assert int(X[0, -1]) == task


def test_expensive_task_is_avoided(model, pool):
    strategy = IntegratedVariancePerCostStrategy(n_mc_points=N_MC)
    rng_seed = 0
    seed = int(np.random.default_rng(rng_seed).integers(2**31))
    reference = _reference_values(model, pool.X, IntegratedVarianceStrategy.mc_points(model, seed, N_MC))
    # Clear-cut: per unit cost the best log_k (task 0) beats the best f_a by far (at equal costs
    # the two are within a factor 2 here: similarly uncertain tasks).
    assert reference[:, 0].max() > 10 * reference[:, 1].max() / 100
    costs = torch.tensor([1.0, 100.0], dtype=torch.float64)
    X, values = strategy.suggest(model, pool, 1, rng=np.random.default_rng(rng_seed), costs=costs)
    assert int(X[0, -1]) == 0
    assert float(values[0]) == pytest.approx(float(reference[:, 0].max()), rel=1e-8, abs=1e-10)
    # And the other way round (f_a alone is the best pair at equal costs here, so this one is easy).
    assert reference[:, 1].max() > 10 * reference[:, 0].max() / 100
    X, _ = strategy.suggest(model, pool, 1, rng=np.random.default_rng(rng_seed), costs=costs.flip(0))
    assert int(X[0, -1]) == 1


def test_greedy_batch_has_distinct_pairs(model, pool):
    X, values = IntegratedVariancePerCostStrategy(n_mc_points=N_MC).suggest(model, pool, 3)
    assert X.shape == (3, pool.X.shape[1] + 1)
    assert len(torch.unique(X, dim=0)) == 3
    assert torch.isfinite(values).all() and (values > 0).all()


def test_pending_pair_is_not_suggested_again(model, pool):
    strategy = IntegratedVariancePerCostStrategy(n_mc_points=N_MC)
    first, _ = strategy.suggest(model, pool, 1)
    again, _ = strategy.suggest(model, pool, 1, pending_X=first)
    assert not torch.equal(first, again)
    # All tasks pending at that condition (m x d): neither pair comes back.
    both, _ = strategy.suggest(model, pool, 1, pending_X=first[:, :-1])
    assert not torch.equal(both[:, :-1], first[:, :-1])


def test_bounds_mode_scores_a_sobol_set(model, problem):
    bounds = Bounds.of(problem.space)
    strategy = IntegratedVariancePerCostStrategy(n_mc_points=N_MC, n_candidates=64)
    X, values = strategy.suggest(model, bounds, 2)
    lower, upper = bounds.bounds
    assert ((X[:, :-1] >= lower) & (X[:, :-1] <= upper)).all()
    assert set(X[:, -1].tolist()) <= {0.0, 1.0}
    assert torch.isfinite(values).all()


def test_bad_costs_are_named(model, pool):
    with pytest.raises(mk.InputDataError, match=r"costs must be 2 finite numbers > 0"):
        IntegratedVariancePerCostStrategy().suggest(model, pool, 1, costs=torch.tensor([1.0, 0.0]))


def per_cost_campaign(path, problem, pool_seed: int) -> Campaign:
    """A per-task campaign on the analytic problem, f_a five times as costly as log_k."""
    log_k, f_a = problem.tasks
    tasks = [dataclasses.replace(log_k, cost=1.0), dataclasses.replace(f_a, cost=5.0)]
    return Campaign.create(
        path,
        problem.space,
        tasks,
        strategy="integrated_variance_per_cost",
        pool=problem.space.sample(24, seed=pool_seed),
        initial=problem.sample(10, seed=1),
        kernel="independent",
        restarts=1,
        strategy_options={"n_mc_points": N_MC},
    )


def test_campaign_suggests_one_task_per_row(tmp_path, problem):
    campaign = per_cost_campaign(tmp_path / "c.db", problem, pool_seed=3)
    suggestions = campaign.suggest(2)
    assert len(suggestions) == 2
    assert all(len(t) == 1 for t in suggestions["tasks"])
    pending = campaign.store.pending()
    assert [list(m) for m in pending["missing"]] == [list(t) for t in suggestions["tasks"]]
    first = suggestions.iloc[[0]].reset_index(drop=True)
    task = first["tasks"][0][0]
    results = problem.evaluate(first[problem.space.names])[[*problem.space.names, task]]
    results["suggestion_id"] = first["suggestion_id"]
    campaign.observe(results)
    status = campaign.store.suggestions().set_index("suggestion_id")["status"]
    assert status[int(first["suggestion_id"][0])] == "completed"
    assert len(campaign.store.pending()) == 1
    campaign.close()


def test_run_records_only_the_asked_task(tmp_path, problem):
    """A simulator returns every output; a per-task campaign records (and pays for) only the asked one."""
    campaign = per_cost_campaign(tmp_path / "run.db", problem, pool_seed=4)
    before = len(campaign.observations())
    report = campaign.run(problem.evaluate, budget=3, progress=False)
    assert report.reason == "budget"
    # One observation per experiment: the task each suggestion asked for, nothing else.
    assert len(campaign.observations()) == before + 3
    assert len(campaign.store.pending()) == 0
    campaign.close()


def test_another_task_can_be_measured_where_one_was(tmp_path, problem):
    """The minimum distance blocks the same task at a used condition, never a different task."""
    pool = problem.space.sample(3, seed=7)
    log_k_there = problem.evaluate(pool).assign(f_a=np.nan)  # log_k measured at every pool row
    elsewhere = problem.sample(6, seed=8)
    log_k, f_a = problem.tasks
    campaign = Campaign.create(
        tmp_path / "c.db",
        problem.space,
        [log_k, dataclasses.replace(f_a, cost=5.0)],
        strategy="integrated_variance_per_cost",
        pool=pool,
        initial=pd.concat([log_k_there, elsewhere], ignore_index=True),
        kernel="independent",
        restarts=1,
        strategy_options={"n_mc_points": N_MC},
    )
    suggestions = campaign.suggest(3)
    # Every pool row is used for log_k, so the only free pairs are f_a at each row.
    assert [list(t) for t in suggestions["tasks"]] == [["f_a"]] * 3
    chosen = problem.space.to_model(suggestions)
    assert torch.cdist(chosen, problem.space.to_model(pool)).min(dim=1).values.max() < 1e-9
    # Now every pair is used or pending: nothing is left to suggest.
    with pytest.raises(mk.InputDataError, match=r"only 0 \(condition, task\) pair"):
        campaign.suggest(1)
    campaign.close()


def _integrated_std(model: mk.KineticsModel, mc_points: torch.Tensor) -> torch.Tensor:
    """``t`` root-mean-square latent stds over ``mc_points``, modelled units (the target's unit)."""
    with torch.no_grad():
        variance = model.gp.posterior(mc_points).variance  # m x t, standardized
    return variance.mean(0).sqrt() * model.y_std


def test_a_task_at_its_target_is_not_measured_again(model, pool):
    """Costs favour log_k (task 0); once log_k is at its target the budget goes to f_a instead."""
    costs = torch.tensor([1.0, 100.0], dtype=torch.float64)
    rng_seed = 0
    plain, _ = IntegratedVariancePerCostStrategy(n_mc_points=N_MC).suggest(
        model, pool, 1, rng=np.random.default_rng(rng_seed), costs=costs
    )
    assert int(plain[0, -1]) == 0  # as in test_expensive_task_is_avoided
    seed = int(np.random.default_rng(rng_seed).integers(2**31))
    mc_points = IntegratedVarianceStrategy.mc_points(model, seed, N_MC)
    now = _integrated_std(model, mc_points)
    log_k, f_a = model.task_names
    met = {log_k: 1.01 * float(now[0]), f_a: 0.5 * float(now[1])}
    targeted = IntegratedVariancePerCostStrategy(n_mc_points=N_MC, target_std=met)
    X, values = targeted.suggest(model, pool, 1, rng=np.random.default_rng(rng_seed), costs=costs)
    assert int(X[0, -1]) == 1
    # The value is f_a's excess reduction per unit cost: its plain reduction, capped at its excess.
    reference = _reference_values(model, pool.X, mc_points)  # n x t, standardized
    excess = float(now[1] ** 2 - met[f_a] ** 2) / float(model.y_std[1]) ** 2
    expected = min(float(reference[:, 1].max()), excess) / 100.0
    assert float(values[0]) == pytest.approx(expected, rel=1e-6)


def test_every_task_at_its_target_falls_back_to_the_plain_reduction(model, pool):
    costs = torch.tensor([1.0, 100.0], dtype=torch.float64)
    plain_X, plain_values = IntegratedVariancePerCostStrategy(n_mc_points=N_MC).suggest(
        model, pool, 2, rng=np.random.default_rng(0), costs=costs
    )
    loose = {name: 1e3 for name in model.task_names}
    X, values = IntegratedVariancePerCostStrategy(n_mc_points=N_MC, target_std=loose).suggest(
        model, pool, 2, rng=np.random.default_rng(0), costs=costs
    )
    torch.testing.assert_close(X, plain_X)
    torch.testing.assert_close(values, plain_values)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_std": {"log_k": -1.0}}, r"target_std: every target must be a finite number > 0"),
        ({"target_std": {"log_k": 0.1}, "criterion": "sum"}, r"target_std needs criterion='trace'"),
    ],
)
def test_bad_targets_are_named(options, message):
    with pytest.raises(mk.InputDataError, match=message):
        IntegratedVariancePerCostStrategy(**options)


def test_unknown_target_task_is_named(model, pool):
    strategy = IntegratedVariancePerCostStrategy(n_mc_points=N_MC, target_std={"delay": 0.1})
    with pytest.raises(mk.InputDataError, match=r"target_std names unknown task\(s\) \['delay'\]"):
        strategy.suggest(model, pool, 1)


def test_error_weighting_weighs_each_task_by_its_own_leave_one_out_errors(model, pool, monkeypatch):
    """Weights of 1 change nothing; weights that count only some integration points move the picks there."""
    import mtgp_kinetics.campaign.acquisition as acquisition

    costs = torch.tensor([1.0, 3.0], dtype=torch.float64)
    plain_X, plain_values = IntegratedVariancePerCostStrategy(n_mc_points=N_MC).suggest(
        model, pool, 2, rng=np.random.default_rng(0), costs=costs
    )
    weighted = IntegratedVariancePerCostStrategy(n_mc_points=N_MC, error_weighting=True)
    monkeypatch.setattr(
        acquisition, "error_weights", lambda gp, z: torch.ones(2, z.shape[0], dtype=torch.float64)
    )
    X, values = weighted.suggest(model, pool, 2, rng=np.random.default_rng(0), costs=costs)
    torch.testing.assert_close(X, plain_X)
    torch.testing.assert_close(values, plain_values)

    # Only integration points with a first coordinate below 0.2 count: the pick moves towards them
    # (unweighted it lies at the other end of that coordinate).
    def corner(gp, z):
        return (z[:, 0] < 0.2).to(torch.float64).expand(2, -1).clone()

    monkeypatch.setattr(acquisition, "error_weights", corner)
    X, _ = weighted.suggest(model, pool, 1, rng=np.random.default_rng(0), costs=costs)
    assert float(X[0, 0]) < 0.4 < float(plain_X[0, 0])


def test_error_weighting_needs_the_trace_criterion():
    with pytest.raises(mk.InputDataError, match="error_weighting needs criterion='trace'"):
        IntegratedVariancePerCostStrategy(criterion="sum", error_weighting=True)

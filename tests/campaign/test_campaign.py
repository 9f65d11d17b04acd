"""Campaign: create, suggest, observe, reopen, run and stop, on the analytic problem."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign, TargetStd
from mtgp_kinetics.campaign.errors import PoolExhausted
from mtgp_kinetics.problems import AnalyticKinetics

FAST = {"num_restarts": 1, "raw_samples": 16, "maxiter": 20, "n_mc_points": 32}


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


def _create(tmp_path, problem, name="c.db", **kwargs) -> Campaign:
    options = {"initial": problem.sample(8, seed=1), "kernel": "independent", "restarts": 1}
    options.update(kwargs)
    if options.get("strategy", "integrated_variance") == "integrated_variance":
        options.setdefault("strategy_options", FAST)
    return Campaign.create(tmp_path / name, problem.space, problem.tasks, **options)


def _results(problem: AnalyticKinetics, suggestions: pd.DataFrame) -> pd.DataFrame:
    results = problem.evaluate(suggestions[problem.space.names])
    results["suggestion_id"] = suggestions["suggestion_id"]
    return results


def test_suggest_observe_and_reopen(tmp_path, problem):
    campaign = _create(tmp_path, problem)
    suggestions = campaign.suggest(2)
    assert len(suggestions) == 2
    assert list(suggestions["tasks"].iloc[0]) == ["log_k", "f_a"]
    assert (suggestions["strategy"] == "integrated_variance").all()
    problem.space.validate(suggestions)
    assert campaign.observe(_results(problem, suggestions)) == 4
    campaign.close()

    reopened = Campaign.open(tmp_path / "c.db")
    assert reopened.store.counts()["observations"].tolist() == [10, 10]
    assert (reopened.store.suggestions()["status"] == "completed").all()
    assert reopened.settings["kernel"] == "independent"
    assert reopened.model.train_inputs.shape[0] == 20


def test_run_spends_the_budget(tmp_path, problem):
    campaign = _create(tmp_path, problem, strategy="max_variance")
    report = campaign.run(problem.evaluate, budget=4, q=3, progress=False)
    assert report.reason == "budget"
    assert report.experiments == 4
    assert campaign.store.counts()["observations"].tolist() == [12, 12]
    assert len(campaign.store.pending()) == 0


def test_run_measures_what_an_interrupted_run_left_pending(tmp_path, problem):
    """A run killed mid-batch leaves suggestions pending; the next run measures them first."""
    campaign = _create(tmp_path, problem, strategy="max_variance")
    campaign.suggest(2)  # as if the process had died before measuring them
    campaign.close()
    reopened = Campaign.open(tmp_path / "c.db")
    report = reopened.run(problem.evaluate, budget=1, progress=False)
    assert report.reason == "budget" and report.experiments == 1
    assert len(reopened.store.pending()) == 0
    assert reopened.store.counts()["observations"].tolist() == [11, 11]  # 8 + 2 resumed + 1
    # A lab's pending experiments can be left alone.
    reopened.suggest(1)
    reopened.run(problem.evaluate, budget=1, progress=False, resume_pending=False)
    assert len(reopened.store.pending()) == 1


def test_observing_a_sheet_with_no_value_warns_and_records_nothing(tmp_path, problem):
    campaign = _create(tmp_path, problem, strategy="sobol")
    sheet = campaign.suggest(2)  # returned as is, task columns not filled in
    with pytest.warns(
        mk.DataWarning, match=r"the results hold no value \(every cell of \['log_k', 'f_a'\] is empty"
    ):
        assert campaign.observe(sheet.assign(log_k=float("nan"), f_a=float("nan"))) == 0
    assert len(campaign.store.pending()) == 2


def test_settings_change_mid_campaign_checked_and_logged(tmp_path, problem):
    """Screen at a fixed pressure, then release it: the next batch moves in P too."""
    campaign = _create(tmp_path, problem, strategy="max_variance", fixed={"P": 1.0})
    assert (campaign.suggest(2)["P"] == 1.0).all()
    before = campaign.settings
    with pytest.raises(mk.InputDataError, match=r"\['seed'\] cannot be changed"):
        campaign.update_settings(seed=1)
    with pytest.raises(mk.InputDataError, match="min_distance must be finite and >= 0"):
        campaign.update_settings(fixed={}, min_distance=-1.0)
    with pytest.raises(mk.InputDataError, match="task_weights: unknown task 'k'"):
        campaign.update_settings(task_weights={"k": 2.0})
    assert campaign.settings == before  # nothing changed by a refused call
    new = campaign.update_settings(fixed={}, min_distance=0.01, task_weights={"f_a": 2.0})
    assert new["fixed"] == {} and new["min_distance"] == 0.01
    assert new["task_weights"] == {"log_k": 1.0, "f_a": 2.0}
    assert (campaign.suggest(2)["P"] != 1.0).all()
    assert len(campaign.store.settings_history()) == 2
    assert len(campaign.store.pending()) == 4  # the screening batch is still pending
    # Rules that pending suggestions break are named (they stay pending; run() measures them first).
    with pytest.warns(
        mk.DataWarning, match=r"pending suggestion\(s\) \[1, 2, 3, 4\] break the new rules \['P = 2.0'\]"
    ):
        campaign.update_settings(fixed={"P": 2.0})
    # A strategy's options stay with it: switching away from the per-cost strategy drops target_std.
    campaign.update_settings(
        strategy="integrated_variance_per_cost", strategy_options={"target_std": {"f_a": 0.1}}
    )
    switched = campaign.update_settings(strategy="max_variance")
    assert switched["strategy"] == "max_variance" and switched["strategy_options"] == {}


def test_a_min_distance_nothing_in_the_feasible_box_meets_is_named(tmp_path, problem):
    """Bounds with a fixed value and no pool: the message names min_distance, not a pool."""
    campaign = _create(tmp_path, problem, strategy="max_variance", fixed={"P": 1.0}, min_distance=0.9)
    with pytest.raises(
        PoolExhausted,
        match=r"usable point\(s\) in the feasible box .*fewer than q=2: .*within "
        r"min_distance=0.9 .*Lower min_distance \(TOML key min_distance\)",
    ):
        campaign.suggest(2)
    assert len(campaign.store.suggestions()) == 0


def test_run_stops_when_the_pool_is_used_up(tmp_path, problem):
    pool = problem.space.sample(5, seed=7)
    campaign = _create(tmp_path, problem, strategy="max_variance", pool=pool)
    report = campaign.run(problem.evaluate, budget=20, q=2, progress=False)
    assert report.reason == "pool_exhausted" and report.experiments == 4
    assert (
        "the candidate pool has 1 usable row(s), fewer than q=2 (4 of 5 lie within min_distance"
        in report.message
    )
    assert len(campaign.store.pending()) == 0


def test_target_std_stops_at_a_huge_threshold(tmp_path, problem):
    campaign = _create(tmp_path, problem, strategy="max_variance")
    report = campaign.run(problem.evaluate, budget=4, progress=False, stop=[TargetStd({"log_k": 1e300})])
    assert report.reason == "target_std"
    assert report.experiments == 0


def test_the_campaigns_own_stopping_rules_are_kept_and_checked(tmp_path, problem):
    """``stop`` of create is stored: a reopened campaign's run stops on it, and says where it stands."""
    _create(tmp_path, problem, strategy="max_variance", stop={"max_experiments": 10, "max_cost": 1e6}).close()
    campaign = Campaign.open(tmp_path / "c.db")
    assert campaign.settings["stop"] == {"max_experiments": 10, "max_cost": 1e6}
    assert campaign.should_stop() is None
    report = campaign.run(problem.evaluate, budget=5, q=1, progress=False)
    assert report.reason == "budget" and report.experiments == 2 and campaign.n_experiments == 10
    assert "the campaign has 10 experiments, the budget allows 10" in report.message
    assert campaign.should_stop().reason == "budget"
    assert [rule.progress(campaign) for rule in campaign.stopping_rules()] == [
        "cost: 20 of 1000000 (measurements made and pending)",  # 2 tasks x 10 experiments, cost 1 each
        "budget: 10 of 10 experiments (run or pending)",
    ]


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        ({"max_runs": 3}, r"stop: unknown key\(s\) \['max_runs'\]"),
        ({"max_experiments": 0}, "max_experiments must be an integer >= 1"),
        ({"max_cost": -1}, "max_cost must be a finite number > 0"),
        ({"target_std": {"nope": 1.0}}, r"unknown task\(s\) \['nope'\]"),
        ({"target_std": {"log_k": 0.0}}, "targets must be finite and > 0"),
    ],
)
def test_bad_stopping_rules_are_refused_before_the_file_exists(tmp_path, problem, stop, message):
    with pytest.raises(mk.InputDataError, match=message):
        _create(tmp_path, problem, stop=stop)
    assert not (tmp_path / "c.db").exists()


def test_too_few_observations_give_sobol_points(tmp_path, problem):
    campaign = _create(tmp_path, problem, initial=None)
    first = campaign.suggest(2)
    assert first["strategy"].str.startswith("sobol").all()
    second = campaign.suggest(2)  # the pending points are skipped
    X1 = problem.space.to_model(first)
    X2 = problem.space.to_model(second)
    assert torch.cdist(X1, X2).min() > 1e-3


def test_pool_mode_never_resuggests_a_used_row(tmp_path, problem):
    pool = problem.space.sample(12, seed=5)
    initial = problem.evaluate(pool.iloc[:4])
    campaign = _create(tmp_path, problem, strategy="max_variance", pool=pool, initial=initial)
    suggestions = campaign.suggest(3)
    chosen = problem.space.to_model(suggestions)
    used = problem.space.to_model(pool.iloc[:4])
    assert torch.cdist(chosen, used).min() > 1e-3
    assert len(torch.unique(chosen, dim=0)) == 3
    again = campaign.suggest(2)
    assert torch.cdist(problem.space.to_model(again), chosen).min() > 1e-3


def test_unknown_strategy_names_the_choices(tmp_path, problem):
    with pytest.raises(mk.InputDataError, match=r"choose one of .*integrated_variance"):
        _create(tmp_path, problem, strategy="ucb")
    assert not (tmp_path / "c.db").exists()


def test_unknown_task_weight_is_named(tmp_path, problem):
    with pytest.raises(mk.InputDataError, match="task_weights: unknown task 'k_x'"):
        _create(tmp_path, problem, task_weights={"k_x": 1.0})


def test_experiments_count_what_was_run_or_is_pending(tmp_path, problem):
    camp = Campaign.create(tmp_path / "c.db", problem.space, problem.tasks, initial=problem.sample(4, seed=0))
    assert camp.n_experiments == 4
    batch = camp.suggest(q=3)
    assert camp.n_experiments == 7  # pending suggestions are planned experiments
    first, second = (int(i) for i in batch["suggestion_id"].iloc[:2])
    camp.observe(pd.DataFrame({"suggestion_id": [first], "log_k": [1.0]}))
    camp.store.abandon([first, second])  # first was run (one task measured), second never was
    # The abandoned suggestion that has a result still counts: its result is kept and fitted.
    assert camp.n_experiments == 6

"""What a lab does that a simulation does not: typos in settings, sheets sent back, extra columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign, get_strategy
from mtgp_kinetics.campaign.errors import CostBudgetSpent

SPACE = mk.Space([mk.Continuous("T", 600.0, 1200.0, unit="K", transform="inverse")])
TASKS = [mk.Task("k", unit="1/s", transform="log10", kind="rate")]


def lab(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[["T"]].copy()
    out["k"] = 10.0 ** (13.0 - 9000.0 / frame["T"].to_numpy(dtype=float))
    return out


def initial(n: int = 5) -> pd.DataFrame:
    return lab(SPACE.sample(n, seed=0))


def test_a_mistyped_strategy_option_is_named_with_the_accepted_ones(tmp_path):
    with pytest.raises(mk.InputDataError, match=r"\['n_mc_point'\].*'n_mc_points'"):
        get_strategy("integrated_variance", n_mc_point=64)
    with pytest.raises(mk.InputDataError, match="n_mc_point"):
        Campaign.create(tmp_path / "c.db", SPACE, TASKS, strategy_options={"n_mc_point": 64})
    assert not (tmp_path / "c.db").exists()


def test_a_target_for_an_unknown_task_is_refused_at_create(tmp_path):
    with pytest.raises(mk.InputDataError, match=r"unknown task\(s\) \['kk'\]"):
        Campaign.create(
            tmp_path / "c.db",
            SPACE,
            TASKS,
            strategy="integrated_variance_per_cost",
            strategy_options={"target_std": {"kk": 0.1}},
        )
    assert not (tmp_path / "c.db").exists()


def test_a_rejected_initial_design_leaves_no_file_behind(tmp_path):
    bad = initial()
    bad.loc[2, "k"] = -1.0
    with pytest.raises(mk.InputDataError, match="row"):
        Campaign.create(tmp_path / "c.db", SPACE, TASKS, initial=bad)
    assert not list(tmp_path.iterdir())
    Campaign.create(tmp_path / "c.db", SPACE, TASKS, initial=initial()).close()  # the retry works


def test_the_suggestion_frame_comes_back_filled_in_and_can_be_corrected(tmp_path):
    campaign = Campaign.create(tmp_path / "c.db", SPACE, TASKS, initial=initial(), restarts=1)
    sheet = campaign.suggest(q=2)
    assert {"batch_id", "tasks", "strategy", "acquisition_value"} <= set(sheet.columns)
    sheet["k"] = lab(sheet)["k"].to_numpy()
    assert campaign.observe(sheet) == 2
    fix = sheet[["suggestion_id"]].assign(k=sheet["k"].to_numpy() * 1.01)
    with pytest.raises(mk.InputDataError, match="replace=True"):
        campaign.observe(fix)
    assert campaign.observe(fix, replace=True) == 2
    current = campaign.observations()
    assert len(current) == 5 + 2
    answered = current[current["suggestion_id"].isin(sheet["suggestion_id"])].sort_values("suggestion_id")
    np.testing.assert_allclose(answered["value"].to_numpy(), fix.sort_values("suggestion_id")["k"].to_numpy())
    campaign.close()


def test_an_oracles_extra_columns_are_dropped_with_a_warning_and_nothing_is_lost(tmp_path):
    campaign = Campaign.create(tmp_path / "c.db", SPACE, TASKS, initial=initial(), restarts=1)

    def simulator(frame: pd.DataFrame) -> pd.DataFrame:
        return lab(frame).assign(duration_s=3.2)

    with pytest.warns(mk.DataWarning, match="duration_s"):
        campaign.run(simulator, budget=2, progress=False)
    assert len(campaign.observations()) == 5 + 2
    assert (campaign.store.suggestions()["status"] == "completed").all()
    campaign.close()


def test_an_oracle_that_returns_no_value_is_named_and_its_experiment_measured_again(tmp_path):
    campaign = Campaign.create(tmp_path / "c.db", SPACE, TASKS, initial=initial(), restarts=1)
    failed: list[float] = []

    def flaky(frame: pd.DataFrame) -> pd.DataFrame:
        out = lab(frame)
        if not failed:  # the first simulation fails, the rest succeed
            failed.append(float(out["T"].iloc[0]))
            out["k"] = np.nan
        return out

    with pytest.warns(mk.DataWarning, match=r"no value for suggestion\(s\) 1 \(k\): they stay pending"):
        campaign.run(flaky, budget=2, q=1, progress=False)
    assert campaign.store.pending()["suggestion_id"].tolist() == [1]
    campaign.run(flaky, budget=1, q=1, progress=False)  # measures suggestion 1 again first
    status = campaign.store.suggestions().set_index("suggestion_id")["status"]
    assert status[1] == "completed" and len(campaign.store.pending()) == 0
    campaign.close()


def test_two_processes_asking_at_once_never_get_the_same_experiment(tmp_path):
    """B records a suggestion while A is choosing: A's batch is refused and chosen again."""
    path = tmp_path / "c.db"
    Campaign.create(path, SPACE, TASKS, initial=initial(), restarts=1).close()
    a, b = Campaign.open(path), Campaign.open(path)
    record = a.store.add_suggestions
    calls = []

    def racing(*args, **kwargs):
        if not calls:
            b.suggest(q=1)  # lands between A's read of the pending list and A's write
        calls.append(kwargs.get("based_on"))
        return record(*args, **kwargs)

    a.store.add_suggestions = racing
    mine = a.suggest(q=1)
    assert calls == [0, 1]  # the first attempt was based on 0 suggestions and refused
    pending = a.store.pending()
    assert len(pending) == 2
    assert float(mine["T"].iloc[0]) != float(pending["T"].iloc[0])  # not B's experiment again
    a.close()
    b.close()


def test_a_cost_budget_stops_a_per_task_campaign_by_what_was_spent(tmp_path):
    from mtgp_kinetics.campaign import CostBudget

    problem, tasks, options = _costed((1.0, 5.0), strategy="integrated_variance_per_cost")
    campaign = Campaign.create(
        tmp_path / "c.db", problem.space, tasks, initial=problem.sample(6, seed=0), **options
    )
    assert campaign.cost_spent() == 6 * (1.0 + 5.0)
    report = campaign.run(problem.evaluate, budget=30, q=3, stop=[CostBudget(45.0)], progress=False)
    assert report.reason == "cost"
    # Never past the budget: a batch holds what is left of it (before session 16 the last batch
    # could overshoot by a task's cost); with 1-cost measurements it is spent to the last unit.
    assert campaign.cost_spent() == 45.0
    assert "budget allows 45" in report.message
    campaign.close()
    with pytest.raises(mk.InputDataError, match="max_cost"):
        CostBudget(0)


def test_a_cost_budget_cuts_the_batch_when_every_task_is_measured(tmp_path):
    """Each experiment measures both tasks (cost 6): a budget leaving 14 pays for two, not four."""
    from mtgp_kinetics.campaign import CostBudget

    problem, tasks, options = _costed((1.0, 5.0))
    campaign = Campaign.create(
        tmp_path / "c.db", problem.space, tasks, initial=problem.sample(6, seed=0), **options
    )
    report = campaign.run(problem.evaluate, budget=10, q=4, stop=[CostBudget(50.0)], progress=False)
    assert campaign.cost_spent() == 48.0 and report.experiments == 2
    assert report.reason == "cost" and "the 2 left does not pay for the next suggestion (6)" in report.message
    with pytest.raises(
        CostBudgetSpent, match=r"cost allowed \(3 left of max_cost\) does not pay .*costs 6\)"
    ):
        campaign.suggest(q=1, max_cost=3)
    for bad in ("5", True, float("nan"), float("inf"), 0, -1.0):
        with pytest.raises(mk.InputDataError, match=r"suggest: max_cost must be a finite number > 0"):
            campaign.suggest(q=1, max_cost=bad)
    assert len(campaign.suggest(q=1, max_cost=np.int64(7))) == 1  # numpy numbers are numbers
    campaign.close()
    with pytest.raises(mk.InputDataError, match="CostBudget: max_cost must be a finite number"):
        CostBudget(float("inf"))


def _costed(costs, weights=None, strategy="integrated_variance"):
    """AnalyticKinetics with the given task costs, and Campaign.create options for a fast fit."""
    from mtgp_kinetics.problems import AnalyticKinetics

    problem = AnalyticKinetics(n_tasks=len(costs))
    tasks = [
        mk.Task(t.name, unit=t.unit, transform=t.transform, kind=t.kind, cost=c)
        for t, c in zip(problem.tasks, costs, strict=True)
    ]
    return problem, tasks, dict(strategy=strategy, kernel="independent", restarts=1, task_weights=weights)


def test_a_cost_budget_forgives_float_rounding(tmp_path):
    """0.1 + 0.2 is 0.30000000000000004: a budget of 0.3 must still pay for one experiment."""
    from mtgp_kinetics.campaign import CostBudget

    problem, tasks, options = _costed((0.1, 0.2))
    campaign = Campaign.create(tmp_path / "c.db", problem.space, tasks, **options)  # Sobol first
    report = campaign.run(problem.evaluate, budget=10, q=2, stop=[CostBudget(0.9)], progress=False)
    assert report.experiments == 3 and report.reason == "cost"
    assert campaign.cost_spent() == pytest.approx(0.9)
    campaign.close()


def test_per_task_mode_spends_the_rest_on_the_cheap_task_and_never_on_a_weightless_one(tmp_path):
    from mtgp_kinetics.campaign import CostBudget

    problem, tasks, options = _costed(
        (1.0, 5.0, 0.3), weights={"k_b": 0.0}, strategy="integrated_variance_per_cost"
    )
    campaign = Campaign.create(
        tmp_path / "c.db", problem.space, tasks, initial=problem.sample(5, seed=0), **options
    )
    spent = campaign.cost_spent()  # 5 x 6.3
    report = campaign.run(problem.evaluate, budget=20, q=3, stop=[CostBudget(spent + 7.0)], progress=False)
    asked = campaign.store.suggestions()["tasks"].iloc[5:].tolist()
    assert report.reason == "cost" and campaign.cost_spent() <= spent + 7.0 * (1 + 1e-12)
    assert not any("k_b" in t for t in asked)  # weighted 0: nothing the campaign asked for
    assert campaign.measurement_cost() == 1.0  # the cheapest task that has a weight
    campaign.close()


def test_two_processes_share_one_cost_budget(tmp_path):
    """B records a batch while A is choosing: A's batch, chosen again, holds what B left over."""
    problem, tasks, options = _costed((1.0, 1.0))
    path = tmp_path / "c.db"
    Campaign.create(path, problem.space, tasks, initial=problem.sample(5, seed=0), **options).close()
    a, b = Campaign.open(path), Campaign.open(path)
    record = a.store.add_suggestions
    calls = []

    def racing(*args, **kwargs):
        if not calls:
            b.suggest(q=1, max_cost=2.0)  # spends 2 of the 5 A was told it may spend
        calls.append(kwargs.get("based_on"))
        return record(*args, **kwargs)

    a.store.add_suggestions = racing
    spent = a.cost_spent()
    mine = a.suggest(q=2, max_cost=5.0)
    assert calls == [0, 1]  # A's first batch (two experiments, 4) was refused and chosen again
    assert len(mine) == 1 and a.cost_spent() == spent + 4.0  # 2 (B) + 2 (A): within the 5
    calls.clear()
    with pytest.raises(CostBudgetSpent, match="does not pay"):
        a.suggest(q=1, max_cost=3.0)  # B takes 2 more meanwhile: the 1 left pays for nothing
    a.close()
    b.close()


def test_an_export_seeds_a_new_campaign(tmp_path):
    old = Campaign.create(tmp_path / "old.db", SPACE, TASKS, initial=initial(), restarts=1)
    sheet = old.suggest(q=2)
    sheet["k"] = lab(sheet)["k"].to_numpy()
    old.observe(sheet)
    exported = tmp_path / "old.csv"
    old.store.export_csv(exported)
    old.close()
    frame = pd.read_csv(exported)
    assert {"suggestion_id", "source", "recorded_at"} <= set(frame.columns)
    new = Campaign.create(tmp_path / "new.db", SPACE, TASKS, initial=frame)
    assert len(new.observations()) == 7 and new.observations()["suggestion_id"].isna().all()
    new.close()

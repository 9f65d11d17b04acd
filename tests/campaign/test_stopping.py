"""Stopping rules: each stops for its reason and says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign, Stalled, TargetStd
from mtgp_kinetics.problems import AnalyticKinetics

FAST = {"num_restarts": 1, "raw_samples": 16, "maxiter": 20}


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics(n_tasks=2)


def _campaign(tmp_path, problem: AnalyticKinetics, n_initial: int = 8) -> Campaign:
    return Campaign.create(
        tmp_path / "c.db",
        problem.space,
        problem.tasks,
        strategy="max_variance",
        strategy_options=FAST,
        initial=problem.sample(n_initial, seed=1),
        kernel="independent",
        restarts=1,
    )


def test_budget_says_why(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    report = campaign.run(problem.evaluate, budget=1, progress=False)
    assert report.reason == "budget"
    assert report.message == "budget: the campaign has 9 experiments, the budget allows 9"


def test_target_std_says_why(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    report = campaign.run(problem.evaluate, budget=2, progress=False, stop=[TargetStd({"f_a": 1e6})])
    assert report.reason == "target_std"
    assert report.message.startswith("target_std: every task's largest predictive std")
    assert "f_a" in report.message


def test_target_std_predicts_once_per_fit(tmp_path, problem, monkeypatch):
    campaign = _campaign(tmp_path, problem)
    rule = TargetStd({"f_a": 1e-9})
    model = campaign.model
    calls = []
    original = model.predict
    monkeypatch.setattr(model, "predict", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert "not yet" in rule.progress(campaign)
    assert rule.should_stop(campaign) is None
    assert campaign.should_stop([rule]) is None  # as `status` asks, with the rules it showed
    assert len(calls) == 1  # status shows progress and asks should_stop: one prediction
    campaign.observe(problem.evaluate(problem.sample(1, seed=9)))
    rule.should_stop(campaign)  # a new fit: its own prediction, not the old one's
    assert campaign.model is not model and rule._last[0] is campaign.model


def test_stalled_needs_patience_plus_one_checks(tmp_path, problem):
    campaign = _campaign(tmp_path, problem)
    # rel_tol close to 1: no realistic batch lowers the mean std that much, so it stalls as soon
    # as it has patience + 1 records: after 2 experiments with patience 2.
    rule = Stalled(patience=2, rel_tol=0.99)
    report = campaign.run(problem.evaluate, budget=6, progress=False, stop=[rule])
    assert report.reason == "stalled"
    assert report.experiments == 2
    assert "over the last 2 batches" in report.message and "log_k" in report.message


def _first_stall(history: pd.DataFrame, patience: int, rel_tol: float) -> int | None:
    """Index (row count) at which the recorded mean stds first stall, computed independently."""
    for end in range(patience + 1, len(history) + 1):
        rows = history.iloc[:end].to_numpy()
        best_before = rows[:-patience].min(axis=0)
        best_recent = rows[-patience:].min(axis=0)
        if np.all(best_recent > best_before * (1 - rel_tol)):
            return end
    return None


def test_stalled_stops_at_the_first_stall_of_its_history(tmp_path, problem):
    campaign = _campaign(tmp_path, problem, n_initial=4)
    rule = Stalled(patience=2, rel_tol=0.05)
    report = campaign.run(problem.evaluate, budget=8, progress=False, stop=[rule])
    history = pd.DataFrame([rule.history[n] for n in sorted(rule.history)])
    assert list(history.columns) == ["log_k", "f_a"]
    expected = _first_stall(history, 2, 0.05)
    if report.reason == "stalled":
        assert expected == len(history)  # stopped at the first stall, not later
    else:
        assert report.reason == "budget" and expected is None
    assert len(history) == report.experiments + 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"rel_tol": 1.0}, r"rel_tol must be in \[0, 1\)"),
    ],
)
def test_stalled_rejects_bad_settings(kwargs, match):
    with pytest.raises(mk.InputDataError, match=match):
        Stalled(**kwargs)

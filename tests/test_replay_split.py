"""The replay's test split (whole conditions, every task scored where it can be) and its strategy's scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.datasets.replay import replay, split_rows
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems import get_problem


def repeated_data(n_conditions: int = 20, repeats: int = 3, sparse_rows: int = 4) -> mk.Dataset:
    """Each condition measured ``repeats`` times (task ``a``); task ``b`` at ``sparse_rows`` rows only."""
    space = mk.Space([mk.Continuous("T", 300.0, 400.0, unit="K")])
    T = np.repeat(np.linspace(300.0, 400.0, n_conditions), repeats)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"T": T, "a": np.sin(T / 20.0) + 0.01 * rng.standard_normal(len(T)), "b": np.nan})
    frame.loc[rng.choice(len(T), sparse_rows, replace=False), "b"] = np.linspace(0.4, 0.6, sparse_rows)
    return mk.Dataset.from_frame(frame, space, [mk.Task("a"), mk.Task("b")])


@pytest.mark.parametrize("seed", range(6))
def test_repeats_stay_on_one_side_and_the_sparse_task_is_scored(seed):
    data = repeated_data()
    test, start, rest = split_rows(data, 0.25, 6, seed)
    obs = data.observations.set_index("row")
    conditions = obs.groupby(level=0)["T"].first()
    assert not set(conditions.loc[test]) & set(conditions.loc[np.concatenate([start, rest])])
    assert (obs.loc[test, "task"] == "b").any()  # 4 rows of b: one held out, two to start from
    assert (obs.loc[start, "task"] == "b").sum() >= 2
    assert len(set(test) | set(start) | set(rest)) == len(conditions)


def test_a_task_too_sparse_to_score_is_warned_about():
    data = repeated_data(sparse_rows=2)  # both rows of b are needed to start from
    with pytest.warns(mk.DataWarning, match="'b'"):
        test, _, _ = split_rows(data, 0.25, 6, seed=0)
    assert not (data.observations.set_index("row").loc[test, "task"] == "b").any()


def test_a_pool_of_start_rows_only_is_refused_before_any_fit():
    data = repeated_data(n_conditions=4, repeats=3)  # 12 rows, 3 held out: 9 left for 10 start rows
    with pytest.raises(InputDataError, match="nothing to choose"):
        replay(data, n_start=10)


def test_an_unknown_criterion_is_named_before_any_fit():
    with pytest.raises(InputDataError, match="criterion must be 'trace' or 'sum', got 'variance'"):
        replay(repeated_data(), criterion="variance")


def test_long_form_rows_are_warned_about_before_the_replay_chooses_single_measurements():
    data = repeated_data(n_conditions=4, repeats=1, sparse_rows=4)
    long = data.to_frame("long")[["T", "task", "value"]]
    reread = mk.Dataset.from_frame(long, data.space, list(data.tasks), form="long")
    with pytest.warns(mk.DataWarning, match="long form"), pytest.raises(InputDataError):
        replay(reread, n_start=10)  # warned first, then refused: 8 measurements, 10 start rows


@pytest.mark.parametrize("criterion", ["trace", "sum"])
def test_the_replays_reductions_are_the_campaigns(criterion):
    """The replay scores a row as a campaign's strategy of the same criterion scores its pairs.

    A row measuring one task and a row measuring both, on a shared (ICM) model, whose tasks are
    correlated so that the two criteria differ.
    """
    import torch

    from mtgp_kinetics.campaign.variance_reduction import (
        integrated_variance_reduction,
        task_variance_reductions,
    )
    from mtgp_kinetics.datasets.replay import _VarianceState

    problem = get_problem("analytic")
    frame = problem.sample(20, seed=4)
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
    model = mk.fit(data, kernel="icm", restarts=1, check_transfer=False)
    mc_points = problem.space.to_model(problem.space.sample(16, seed=1), validate=False)
    conditions = problem.space.to_model(problem.space.sample(2, seed=2), validate=False).to(torch.float64)
    candidates = torch.cat(
        [
            torch.cat([conditions[:1], torch.zeros(1, 1, dtype=torch.float64)], -1),  # row 0: task 0
            model.gp.all_tasks_inputs(conditions[1:]),  # row 1: both tasks
        ]
    )
    state = _VarianceState(model, candidates, mc_points, criterion)
    replayed = state.reduction([np.array([0]), np.array([1, 2])])
    groups = [candidates[:1].unsqueeze(0), candidates[1:].unsqueeze(0)]
    ones = torch.ones(model.num_tasks, dtype=torch.float64)
    if criterion == "trace":
        expected = [float(task_variance_reductions(model.gp, g, mc_points).sum()) for g in groups]
    else:
        expected = [float(integrated_variance_reduction(model.gp, g, mc_points, ones)) for g in groups]
    np.testing.assert_allclose(replayed, expected, rtol=1e-6)

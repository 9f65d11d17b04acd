"""The replay's test split: whole conditions, and every task scored where it can be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.datasets.replay import replay, split_rows
from mtgp_kinetics.errors import InputDataError


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


def test_long_form_rows_are_warned_about_before_the_replay_chooses_single_measurements():
    data = repeated_data(n_conditions=4, repeats=1, sparse_rows=4)
    long = data.to_frame("long")[["T", "task", "value"]]
    reread = mk.Dataset.from_frame(long, data.space, list(data.tasks), form="long")
    with pytest.warns(mk.DataWarning, match="long form"), pytest.raises(InputDataError):
        replay(reread, n_start=10)  # warned first, then refused: 8 measurements, 10 start rows

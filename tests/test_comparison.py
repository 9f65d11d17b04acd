"""compare() and the negative-transfer warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.comparison import transfer_report


def unrelated_tasks_data(seed: int = 0) -> mk.Dataset:
    """Two tasks with nothing in common: a smooth trend in T and an unrelated wiggle in P."""
    space = mk.Space(
        [
            mk.Continuous("T", 600, 1200, unit="K", transform="inverse"),
            mk.Continuous("P", 0.1, 10, transform="log"),
        ]
    )
    tasks = [mk.Task("a", kind="rate"), mk.Task("b", kind="mechanism")]
    frame = space.sample(40, seed=seed)
    u = space.to_model(frame).numpy()
    rng = np.random.default_rng(seed)
    frame["a"] = 2.0 * u[:, 0] + 0.05 * rng.standard_normal(40)
    frame["b"] = np.sin(9.0 * u[:, 1] + 1.0) + 0.05 * rng.standard_normal(40)
    frame.loc[frame.index[::2], "b"] = np.nan
    return mk.Dataset.from_frame(frame, space, tasks)


def test_compare_returns_one_row_per_kernel_and_task(analytic_data):
    table = mk.compare(analytic_data, kernels=["icm", "independent"], restarts=1)
    assert list(table.columns) == [
        "kernel",
        "task",
        "n",
        "rmse",
        "nlpd",
        "coverage",
        "nlpd_vs_independent",
        "se",
    ]
    assert table[["kernel", "task"]].values.tolist() == [
        ["icm", "log_k"],
        ["icm", "f_a"],
        ["independent", "log_k"],
        ["independent", "f_a"],
    ]
    ref = table[table["kernel"] == "independent"]
    assert (ref["nlpd_vs_independent"] == 0).all()


def test_compare_accepts_fitted_models(analytic_data, fitted):
    table = mk.compare(analytic_data, kernels=[], models={"mine": fitted["lmc"]}, restarts=1)
    assert set(table["kernel"]) == {"mine", "independent"}


def test_forced_icm_on_unrelated_tasks_warns_and_names_the_task():
    data = unrelated_tasks_data()
    with pytest.warns(mk.NegativeTransferWarning, match="'icm'") as record:
        icm = mk.fit(data, kernel="icm", restarts=2)
    message = str(record[0].message)
    report = transfer_report(icm, mk.fit(data, kernel="independent", restarts=2))
    hurt = set(report.loc[report["hurts"], "task"])
    assert hurt, "a forced ICM on unrelated tasks must hurt at least one task"
    for task in ("a", "b"):
        assert (f"'{task}'" in message) == (task in hurt)
    assert "kernel='independent'" in message


def test_independent_kernel_never_warns(analytic_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mk.NegativeTransferWarning)
        mk.fit(analytic_data, kernel="independent", restarts=1)


def test_shared_model_on_truly_shared_tasks_does_not_warn(analytic_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mk.NegativeTransferWarning)
        model = mk.fit(analytic_data, kernel="icm", restarts=2)
    table = mk.compare(analytic_data, kernels=[], models={"icm": model}, restarts=2)
    icm = table[table["kernel"] == "icm"].set_index("task")
    # The analytic tasks share one latent structure (correlation 0.8): no task is hurt beyond noise.
    assert (icm["nlpd_vs_independent"] < 2 * icm["se"] + 0.02).all()

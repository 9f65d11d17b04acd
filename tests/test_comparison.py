"""compare() and the negative-transfer warning."""

from __future__ import annotations

import warnings

import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.comparison import transfer_report
from mtgp_kinetics.errors import InputDataError


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


def test_forced_icm_on_unrelated_tasks_warns_and_names_the_task(unrelated_data):
    data = unrelated_data
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


def test_fit_and_compare_ask_for_a_dataset_not_the_frame_it_came_from(analytic_problem):
    frame = analytic_problem.sample(10, seed=0)
    for call, where in ((lambda: mk.fit(frame), "fit"), (lambda: mk.compare(frame), "compare")):
        with pytest.raises(
            InputDataError, match=rf"^{where}: data must be an mk.Dataset, got DataFrame; .*from_frame"
        ):
            call()

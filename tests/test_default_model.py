"""The default model: never worse than independent GPs where tasks are unrelated; shares where they are."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.default_model import shared_private_spec
from mtgp_kinetics.problems import AnalyticKinetics


def held_out_nlpd(model: mk.KineticsModel, truth_frame, tasks) -> dict[str, float]:
    pred = model.predict(truth_frame)
    scores = {}
    for task in tasks:
        rows = pred[pred["task"] == task]
        z = truth_frame[task].to_numpy()
        mu, s = rows["transformed_mean"].to_numpy(), rows["transformed_std"].to_numpy()
        scores[task] = float(np.mean(0.5 * np.log(2 * np.pi * s**2) + 0.5 * ((z - mu) / s) ** 2))
    return scores


def test_default_on_unrelated_tasks_is_no_worse_than_independent(unrelated_data):
    data = unrelated_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", mk.NegativeTransferWarning)  # the default never warns about itself
        default = mk.fit(data, restarts=2)
    independent = mk.fit(data, kernel="independent", restarts=2)
    test = data.space.sample(300, seed=99)
    u = data.space.to_model(test).numpy()
    test["a"] = 2.0 * u[:, 0]
    test["b"] = np.sin(9.0 * u[:, 1] + 1.0)
    ours, theirs = held_out_nlpd(default, test, ["a", "b"]), held_out_nlpd(independent, test, ["a", "b"])
    for task in ("a", "b"):
        # The default either is the independent model or kept sharing that did not hurt in
        # cross-validation; 0.02 nats is the "no worse" tolerance.
        assert ours[task] <= theirs[task] + 0.02
    assert default.selection_.rounds, "the default must record its comparison with independent GPs"


def test_default_records_its_selection_and_round_trips(tmp_path, analytic_data):
    model = mk.fit(analytic_data, restarts=2)
    selection = model.selection_
    assert selection.kernel == model.kernel
    first = selection.rounds[0]
    assert list(first["task"]) == ["log_k", "f_a"]
    assert set(first.columns) >= {"nlpd_vs_independent", "se", "hurts", "member"}
    model.save(tmp_path / "d.mtgp")
    assert mk.load(tmp_path / "d.mtgp").kernel == model.kernel


def test_opted_out_task_has_no_shared_loading(analytic_data):
    spec = shared_private_spec((0,), num_tasks=2)
    model = mk.KineticsModel.from_dataset(analytic_data, spec)
    B = model.gp.covar_module.task_covariances[0].matrix().detach()
    assert B[1].abs().max() == 0 and B[:, 1].abs().max() == 0
    assert not spec.shares_tasks


@pytest.mark.slow
def test_default_is_never_worse_where_tasks_share():
    """Analytic tasks with correlation 0.8, the second observed at 40 % of 40 conditions."""
    gains = []
    for seed in range(3):
        problem = AnalyticKinetics(n_tasks=2, seed=seed)
        frame = problem.sample(40, seed=seed, observed_fraction={"f_a": 0.4})
        data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
        test = problem.space.sample(300, seed=1000 + seed)
        latent = problem.latent(test)
        test["log_k"], test["f_a"] = latent[:, 0], latent[:, 1]
        default = held_out_nlpd(mk.fit(data, restarts=2), test, ["log_k", "f_a"])
        independent = held_out_nlpd(mk.fit(data, kernel="independent", restarts=2), test, ["log_k", "f_a"])
        gains.append(independent["f_a"] - default["f_a"])
    # The design's promise is "never worse than independent GPs" (0.02 nats, the tolerance).
    # Measured gains here: -0.003, 0.0, +0.25 nats; the conservative opt-out rule gives up most of
    # what sharing could gain (docs/default_model.md), which is the open part of the design.
    assert min(gains) > -0.02

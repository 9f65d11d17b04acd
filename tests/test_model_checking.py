"""Exact cross-validation agrees with brute-force refits at fixed hyperparameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.model_checking import condition_groups, held_out_physical


def brute_force(model: mk.KineticsModel, held_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Condition on the other observations with the same hyperparameters, predict the held-out ones."""
    gp = model.gp
    X = gp.train_inputs[0]
    with torch.no_grad():
        K = gp.covar_module.forward(X, X).numpy()
        noise = gp.likelihood.noise_covar(X).diagonal().numpy()
        m = gp.mean_module(X).numpy()
    y = gp.train_targets.numpy()
    keep = np.setdiff1d(np.arange(len(y)), held_out)
    Ky = K[np.ix_(keep, keep)] + np.diag(noise[keep])
    cross = K[np.ix_(held_out, keep)]
    mean = m[held_out] + cross @ np.linalg.solve(Ky, y[keep] - m[keep])
    cov = K[np.ix_(held_out, held_out)] + np.diag(noise[held_out]) - cross @ np.linalg.solve(Ky, cross.T)
    scale = model.y_std.numpy()[X[held_out, -1].long().numpy()]
    offset = model.y_mean.numpy()[X[held_out, -1].long().numpy()]
    return mean * scale + offset, np.sqrt(np.diag(cov)) * scale


@pytest.mark.parametrize("kernel", ["icm", "lmc", "independent"])
def test_loo_by_observation_matches_refits(fitted, kernel):
    model = fitted[kernel]
    points = model.held_out_predictions(by="observation")
    for i in range(0, len(points), 5):
        mean, std = brute_force(model, np.array([i]))
        # Closed form vs direct solves in float64: differences ~1e-12; the contract is 1e-6.
        assert abs(points["mean"].iloc[i] - mean[0]) < 1e-6
        assert abs(points["std"].iloc[i] - std[0]) < 1e-6


@pytest.mark.parametrize("kernel", ["icm", "lmc"])
def test_leave_one_condition_out_matches_refits(fitted, kernel):
    model = fitted[kernel]
    points = model.held_out_predictions(by="condition")
    groups = condition_groups(model.train_inputs)
    for label in np.unique(groups)[:6]:
        idx = np.flatnonzero(groups == label)
        mean, std = brute_force(model, idx)
        np.testing.assert_allclose(points["mean"].to_numpy()[idx], mean, atol=1e-6)
        np.testing.assert_allclose(points["std"].to_numpy()[idx], std, atol=1e-6)


def test_kfold_holds_whole_conditions_out_together(fitted):
    model = fitted["lmc"]
    cv = model.cross_validate(folds=4, seed=1)
    assert list(cv["task"]) == ["log_k", "f_a"]
    assert cv["n"].tolist() == model.data.counts().tolist()
    assert ((cv["coverage"] >= 0) & (cv["coverage"] <= 1)).all()
    with pytest.raises(mk.InputDataError, match="folds"):
        model.cross_validate(folds=1)


def test_loo_table_summarizes_pointwise_scores(fitted):
    model = fitted["icm"]
    table = model.loo(level=0.9)
    points = model.held_out_predictions(level=0.9)
    for row in table.itertuples():
        p = points[points["task"] == row.task]
        assert row.n == len(p)
        assert row.nlpd == pytest.approx(-p["log_density"].mean(), rel=1e-12)
        assert row.rmse == pytest.approx(np.sqrt(((p["observed"] - p["mean"]) ** 2).mean()), rel=1e-12)
        assert row.coverage == pytest.approx(p["inside"].mean())
    # Independent tasks: holding out a condition is the same as holding out an observation.
    ind = fitted["independent"]
    pd.testing.assert_frame_equal(ind.loo(by="observation"), ind.loo(by="condition"), atol=1e-9)
    with pytest.raises(mk.InputDataError, match="by"):
        model.loo(by="row")


def test_held_out_physical_back_transforms_the_cross_validated_predictive(fitted):
    model = fitted["icm"]
    points = model.held_out_predictions(by="condition", folds=4)
    frame = held_out_physical(model, by="condition", folds=4)
    assert len(frame) == len(points)
    for task in model.tasks:
        rows, ours = points[points["task"] == task.name], frame[frame["task"] == task.name]
        transform = task.output_transform
        for column in ("observed", "mean"):
            back = transform.forward(ours[column].to_numpy())
            np.testing.assert_allclose(back, rows[column], rtol=1e-10)
        # The 95 % interval is mean -/+ 1.96 std in the modelled space, mapped back monotonically.
        upper = transform.forward(ours["upper"].to_numpy())
        np.testing.assert_allclose(upper, rows["mean"] + 1.959964 * rows["std"], rtol=1e-6)
        assert (ours["lower"] < ours["mean"]).all() and (ours["mean"] < ours["upper"]).all()

"""Exact cross-validation agrees with brute-force refits at fixed hyperparameters."""

from __future__ import annotations

import warnings

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
        model.loo(by="laboratory")  # not a column of the observations


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


def study_data(n_studies: int = 6, per_study: int = 6) -> mk.Dataset:
    """A rate-constant compilation: each study (column ``study``) has its own systematic offset."""
    rng = np.random.default_rng(3)
    space = mk.Space([mk.Continuous("T", 300.0, 1500.0, unit="K", transform="inverse")])
    frames = []
    for s in range(n_studies):
        T = np.exp(rng.uniform(np.log(300.0), np.log(1500.0), per_study))
        log10_k = -10.0 - 1500.0 / T + rng.normal(0.0, 0.2) + rng.normal(0.0, 0.02, per_study)
        frames.append(pd.DataFrame({"T": T, "k": 10.0**log10_k, "study": f"S{s}"}))
    frame = pd.concat(frames, ignore_index=True)
    return mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="cm3/molecule/s", transform="log10")])


def test_leave_studies_out_holds_each_study_out_together():
    data = study_data()
    model = mk.fit(data, restarts=1)
    by_study = model.held_out_predictions(by="study")
    labels = pd.factorize(data.observations["study"])[0]
    # Each study's predictions equal a brute-force refit without that study.
    for label in (0, 3):
        held = np.flatnonzero(labels == label)
        mean, std = brute_force(model, held)
        np.testing.assert_allclose(by_study["mean"].to_numpy()[held], mean, atol=1e-6)
        np.testing.assert_allclose(by_study["std"].to_numpy()[held], std, atol=1e-6)
    # A study's offset cannot be read from its own other points: leaving studies out is the harder test.
    assert model.loo(by="study")["rmse"].iloc[0] > model.loo(by="condition")["rmse"].iloc[0]
    folds = model.cross_validate(folds=3, by="study")
    assert folds["n"].iloc[0] == len(labels)
    # Three studies and the default folds: one fold per study (it asked for 5 and failed before).
    three = mk.fit(study_data(n_studies=3), restarts=1)
    pd.testing.assert_frame_equal(three.cross_validate(by="study"), three.loo(by="study"))


def test_grouping_errors_name_the_column():
    data = study_data()
    model = mk.fit(data, restarts=1)
    with pytest.raises(mk.InputDataError, match="'lab'"):
        model.loo(by="lab")
    with pytest.raises(mk.InputDataError, match="number of groups"):
        model.cross_validate(folds=7, by="study")  # 6 studies
    with pytest.raises(mk.InputDataError, match="loo"):
        model.cross_validate(by="observation")


def test_outliers_flag_a_mistyped_measurement_and_fit_warns():
    space = mk.Space([mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse")])
    frame = space.sample(30, seed=0)
    rng = np.random.default_rng(0)
    frame["tau"] = 10.0 ** (-8.0 + 6000.0 / frame["T"] + rng.normal(0.0, 0.03, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error", mk.OutlierWarning)
        clean = mk.fit(mk.Dataset.from_frame(frame, space, [mk.Task("tau", unit="s", transform="log10")]))
    assert clean.outliers().empty
    frame.loc[7, "tau"] *= 10.0  # one value entered a decade off
    data = mk.Dataset.from_frame(frame, space, [mk.Task("tau", unit="s", transform="log10")])
    with pytest.warns(mk.OutlierWarning, match="row 7"):
        model = mk.fit(data)
    flagged = model.outliers()
    assert flagged["row"].tolist() == [7]
    assert flagged["z"].iloc[0] > 4.0
    assert len(model.data.observations) == 30  # kept, not dropped


def test_refits_unmask_a_typo_that_inflated_the_noise():
    """15 points of a smooth rate, one entered a decade off: its own fit hides it (noise 0.03 -> 0.28)."""
    space = mk.Space([mk.Continuous("T", 500.0, 1200.0, unit="K", transform="inverse")])
    frame = space.sample(15, seed=0)
    frame["k"] = 10.0 ** (13.0 - 9000.0 / frame["T"] + np.random.default_rng(0).normal(0.0, 0.03, 15))
    frame.loc[6, "k"] *= 10.0
    task = mk.Task("k", unit="1/s", transform="log10", kind="rate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.OutlierWarning)
        model = mk.fit(mk.Dataset.from_frame(frame, space, [task]))
    assert model.outliers().empty  # leave-one-out at the fitted hyperparameters: z = 3.3
    flagged = model.outliers(refit=3)
    assert flagged["row"].tolist() == [6]
    assert flagged["z"].iloc[0] > 10.0  # measured 17.6


def test_refits_do_not_flag_the_clean_neighbour_of_a_typo():
    """A typo left in a neighbour's refit pulls that neighbour's prediction (masking, z = -10.7)."""
    space = mk.Space(
        [
            mk.Continuous("T", 900.0, 1500.0, unit="K", transform="inverse"),
            mk.Continuous("P", 0.5, 20.0, unit="atm", transform="log"),
        ]
    )
    rng = np.random.default_rng(0)
    T = rng.uniform(900.0, 1500.0, 25)
    P = np.exp(rng.uniform(np.log(0.5), np.log(20.0), 25))
    tau = 1e-8 * np.exp(12000.0 / T) * 10.0 ** rng.normal(0.0, 0.02, 25)
    tau[7] *= 10.0  # one value a decade off
    task = mk.Task("tau_ign", unit="s", transform="log10", kind="rate")
    data = mk.Dataset.from_frame(pd.DataFrame({"T": T, "P": P, "tau_ign": tau}), space, [task])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.OutlierWarning)
        # One start: the fit with the lower noise (0.049), where the old refits flagged row 23.
        model = mk.fit(data, kernel="independent", restarts=1)
    assert model.outliers(refit=3)["row"].tolist() == [7]


@pytest.mark.parametrize("seed", [0, 10])
def test_the_fit_warning_names_the_typo_not_its_clean_neighbours(seed):
    """Known 10-30 % stds and one value 30x off: leave-one-out alone also flags clean neighbours
    (seed 0: row 38 at z = -11; seed 10: rows 0, 23, 15), whose predictions the typo pulls."""
    space = mk.Space([mk.Continuous("T", 200.0, 2000.0, unit="K", transform="inverse")])
    task = mk.Task("k", unit="cm3/s", transform="log10", kind="rate", noise_column="k_sd")
    rng = np.random.default_rng(seed)
    T = np.exp(rng.uniform(np.log(200.0), np.log(2000.0), 40))
    rel = rng.choice([0.1, 0.2, 0.3], 40)
    k = 2e-11 * (T / 298.0) ** 0.5 * np.exp(-4.0 / (8.314e-3 * T)) * np.exp(rng.normal(0.0, rel))
    frame = pd.DataFrame({"T": T, "k": k, "k_sd": rel * k})
    frame.loc[9, "k"] *= 30.0
    data = mk.Dataset.from_frame(frame, space, [task])
    with pytest.warns(mk.OutlierWarning, match=r"^1 observation\(s\) .*: row 9 \(k, z = \+"):
        model = mk.fit(data)
    assert len(model.outliers()) > 1  # what the warning said before the refits

"""Importance-sampled hyperparameter averaging (mtgp_kinetics.bayes.importance) and its use in predict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import digamma, polygamma

import mtgp_kinetics as mk
from mtgp_kinetics import default_model
from mtgp_kinetics.bayes import importance
from mtgp_kinetics.bayes.importance import HyperparameterMixture, _systematic_resample, importance_draws
from mtgp_kinetics.default_model import thin_shared_tasks
from mtgp_kinetics.problems import AnalyticKinetics


class _KnownPosterior:
    """A target with known moments in the interface of ``Coordinates``: ``u = (log x, y)`` with
    ``x ~ Gamma(3, 1)`` (skewed in ``u``: the Laplace proposal alone is wrong) and ``y ~ N(1, 0.5^2)``."""

    def __init__(self) -> None:
        self.u = torch.tensor([0.0, 0.0], dtype=torch.float64)

    def current(self) -> torch.Tensor:
        return self.u.clone()

    def assign(self, u: torch.Tensor) -> None:
        self.u = u.detach().clone()

    def value_and_grad(self, u: torch.Tensor) -> tuple[float, torch.Tensor]:
        u = u.detach().clone().requires_grad_(True)
        # -log density of u1 = log x for x ~ Gamma(3, 1): -(3 u1 - exp(u1)); of y ~ N(1, 0.25).
        energy = -(3.0 * u[0] - torch.exp(u[0])) + 0.5 * ((u[1] - 1.0) / 0.5) ** 2
        (grad,) = torch.autograd.grad(energy, u)
        return float(energy.detach()), grad


def test_importance_sampling_recovers_the_moments_of_a_skewed_posterior():
    target = _KnownPosterior()
    draws = importance_draws(target, proposals=4000, draws=2000, seed=0)
    assert draws.reliable
    assert draws.u.shape == (2000, 2)
    # Exact: E[log x] = digamma(3), Var[log x] = trigamma(3). With an effective sample size of
    # several hundred the Monte Carlo sd of the mean is about 0.03 and of the variance about 7 %.
    assert draws.effective_sample_size > 500
    assert abs(draws.u[:, 0].mean() - digamma(3.0)) < 0.1
    assert abs(draws.u[:, 0].var() / polygamma(1, 3.0) - 1.0) < 0.25
    assert abs(draws.u[:, 1].mean() - 1.0) < 0.1
    assert abs(draws.u[:, 1].std() - 0.5) < 0.1
    # The coordinates are left where they were.
    assert torch.equal(target.current(), torch.zeros(2, dtype=torch.float64))


def test_adapted_proposal_has_the_weighted_moments_blended_with_laplace():
    u = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    first = importance._Round(u, np.array([0.5, 0.25, 0.25]), 0.9)
    laplace = np.diag([1.0, 2.0])
    center, root = importance._adapted(first, laplace)
    np.testing.assert_allclose(center, [0.5, 1.0])
    deviation = u - center
    weighted = deviation.T @ (deviation * first.weights[:, None])
    np.testing.assert_allclose(root @ root.T, importance.SCALE * (0.5 * weighted + 0.5 * laplace), atol=1e-12)


def test_unreliable_first_round_is_retried_with_an_adapted_proposal(monkeypatch):
    calls = []
    original = importance._round
    monkeypatch.setattr(importance, "_round", lambda *a: calls.append(a[3]) or original(*a))
    monkeypatch.setattr(importance, "MAX_PARETO_K", -math.inf)  # every first round is "unreliable"
    draws = importance_draws(_KnownPosterior(), proposals=1000, draws=1000, seed=1)
    assert calls == [1000, importance.ADAPTED_PROPOSALS_FACTOR * 1000]
    # Whichever round is kept, the draws still have the target's moments (tolerances as above).
    assert abs(draws.u[:, 0].mean() - digamma(3.0)) < 0.1
    assert abs(draws.u[:, 1].mean() - 1.0) < 0.1


def test_systematic_resampling_keeps_the_frequencies_of_the_weights():
    weights = np.array([0.5, 0.25, 0.125, 0.125])
    index = _systematic_resample(weights, 64, np.random.default_rng(0))
    # Systematic resampling is exact up to one count per weight.
    assert np.all(np.abs(np.bincount(index, minlength=4) - 64 * weights) <= 1)


@pytest.fixture(scope="module")
def averaged_icm(analytic_data: mk.Dataset) -> mk.KineticsModel:
    """ICM on the analytic data (f_a observed 12 times), its sparse task averaged."""
    model = mk.fit(analytic_data, "icm", restarts=2, check_transfer=False)
    assert thin_shared_tasks(model) == ("log_k", "f_a")  # 24 and 12 observations, both below 40
    model.averaged_tasks_ = ("f_a",)
    return model


def test_averaged_task_mixes_draws_and_the_others_keep_the_map_prediction(averaged_icm, analytic_problem):
    model = averaged_icm
    test = analytic_problem.space.sample(50, seed=5)
    averaged = model.predict(test)
    mixture = model.hyperparameter_mixture()
    assert isinstance(mixture, HyperparameterMixture) and mixture.draws.reliable
    assert model.hyperparameter_mixture() is mixture  # computed once per fit
    model.averaged_tasks_ = ()
    try:
        plain = model.predict(test)
    finally:
        model.averaged_tasks_ = ("f_a",)
    dense, sparse = averaged["task"] == "log_k", averaged["task"] == "f_a"
    assert np.array_equal(averaged[dense].to_numpy(), plain[dense].to_numpy())
    assert not np.allclose(averaged.loc[sparse, "transformed_std"], plain.loc[sparse, "transformed_std"])
    # The mixture's interval holds its median, and the modelled-space moments are those of the draws.
    rows = averaged[sparse]
    assert np.all((rows["lower"] <= rows["mean"]) & (rows["mean"] <= rows["upper"]))
    draws = mixture.bayesian._per_draw(
        lambda m: m.predict(test, tasks=["f_a"], hyperparameter_uncertainty=False)[
            "transformed_mean"
        ].to_numpy()
    )
    np.testing.assert_allclose(rows["transformed_mean"], np.mean(draws, axis=0), rtol=0, atol=1e-10)
    # hyperparameter_uncertainty=False is the MAP point for every task.
    map_only = model.predict(test, hyperparameter_uncertainty=False)
    model.averaged_tasks_ = ()
    try:
        np.testing.assert_array_equal(
            map_only.to_numpy(), model.predict(test, hyperparameter_uncertainty=False).to_numpy()
        )
    finally:
        model.averaged_tasks_ = ("f_a",)


def test_mixture_is_recomputed_after_a_refit(analytic_data):
    model = mk.fit(analytic_data, "icm", restarts=1, check_transfer=False)
    model.averaged_tasks_ = ("f_a",)
    first = model.hyperparameter_mixture()
    with torch.no_grad():
        next(iter(model.gp.parameters())).add_(0.01)
    assert model.hyperparameter_mixture() is not first


def test_unreliable_weights_fall_back_to_the_delta_method_with_one_warning(
    analytic_data, analytic_problem, monkeypatch
):
    model = mk.fit(analytic_data, "icm", restarts=1, check_transfer=False)
    test = analytic_problem.space.sample(10, seed=6)
    expected = model.predict(test)
    model.averaged_tasks_ = ("f_a",)
    monkeypatch.setattr(importance, "MAX_PARETO_K", -math.inf)  # no weights are ever trusted
    with pytest.warns(
        mk.NumericsWarning,
        match=r"could not be importance-sampled: .*Pareto shape.*\['f_a'\] use the delta-method",
    ) as caught:
        fallback = model.predict(test)
    assert caught[0].filename == __file__  # attributed to the line that called predict
    np.testing.assert_array_equal(fallback.to_numpy(), expected.to_numpy())
    model.predict(test)  # the failure is remembered for this fit: no second warning (errors here)


def test_an_unsampled_posterior_says_the_correlation_has_no_interval(analytic_data, monkeypatch):
    model = mk.fit(analytic_data, "icm", restarts=1, check_transfer=False)
    monkeypatch.setattr(importance, "MAX_PARETO_K", -math.inf)
    with pytest.warns(
        mk.NumericsWarning, match=r"could not be importance-sampled: .*\. So task_correlation_summary"
    ):
        summary = model.task_correlation_summary()
    assert summary["lower"].isna().all() and summary["map"].notna().all()


def test_averaged_tasks_survive_save_and_load(averaged_icm, analytic_problem, tmp_path):
    test = analytic_problem.space.sample(20, seed=7)
    averaged_icm.save(tmp_path / "m.mtgp")
    loaded = mk.load(tmp_path / "m.mtgp")
    assert loaded.averaged_tasks_ == ("f_a",)
    before, after = averaged_icm.predict(test), loaded.predict(test)
    # The draws are recomputed from the same hyperparameters and seed; only rounding differs.
    np.testing.assert_allclose(
        after["transformed_std"].to_numpy(), before["transformed_std"].to_numpy(), rtol=1e-6
    )


def test_averaged_tasks_are_checked_and_kept_in_model_order(analytic_data):
    model = mk.KineticsModel.from_dataset(analytic_data, mk.KernelSpec.icm())
    model.averaged_tasks_ = "f_a"  # one name, not its letters
    assert model.averaged_tasks_ == ("f_a",)
    model.averaged_tasks_ = ["f_a", "log_k", "f_a"]
    assert model.averaged_tasks_ == ("log_k", "f_a")
    with pytest.raises(mk.InputDataError, match=r"unknown task\(s\) \['kb'\]"):
        model.averaged_tasks_ = ("kb",)
    assert model.averaged_tasks_ == ("log_k", "f_a")  # unchanged by the refused value


def test_averaged_tasks_are_averaged_at_any_data_size(averaged_icm, analytic_problem, monkeypatch):
    import mtgp_kinetics.model as model_module

    test = analytic_problem.space.sample(5, seed=8)
    averaged = averaged_icm.predict(test, tasks=["f_a"])
    # As if the model had more observations than the delta-method term is computed for.
    monkeypatch.setattr(model_module, "HYPERPARAMETER_UNCERTAINTY_BELOW", 1)
    np.testing.assert_array_equal(averaged_icm.predict(test, tasks=["f_a"]).to_numpy(), averaged.to_numpy())


def test_thin_shared_tasks_are_members_of_a_shared_process_only(fitted, monkeypatch):
    assert thin_shared_tasks(fitted["independent"]) == ()
    assert thin_shared_tasks(fitted["icm"]) == ("log_k", "f_a")  # 24 and 12 observations
    # The threshold applies per task: log_k's 24 observations are enough at a threshold of 20.
    monkeypatch.setattr(default_model, "AVERAGE_BELOW_OBSERVATIONS", 20)
    assert thin_shared_tasks(fitted["icm"]) == ("f_a",)


@pytest.mark.slow
def test_averaging_a_thin_shared_task_restores_its_coverage():
    """ICM on 30 conditions of an analytic problem nothing was tuned on, the mechanism task measured
    at 9 of them, 4 seeds, 400 held-out conditions. Measured (session 17): MAP ICM's 95 % intervals
    covered 0.90, 0.93, 0.81, 0.91 of the held-out points, averaged 0.98, 0.99, 0.99, 0.92; held-out
    NLPD changed by -0.001, +0.025, -0.276, +0.081 (mean -0.043)."""
    coverage_map, coverage_averaged, change = [], [], []
    for seed in range(4):
        problem = AnalyticKinetics(n_tasks=2, seed=11)
        frame = problem.sample(30, seed=seed, observed_fraction={"f_a": 0.3})
        data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
        test = problem.space.sample(400, seed=1000 + seed)
        truth = problem.latent(test)[:, 1]
        model = mk.fit(data, "icm", restarts=1, check_transfer=False)
        scores = []
        for averaged in ((), ("f_a",)):
            model.averaged_tasks_ = averaged
            rows = model.predict(test, tasks=["f_a"])
            mu, s = rows["transformed_mean"].to_numpy(), rows["transformed_std"].to_numpy()
            z = (truth - mu) / s
            scores.append((np.mean(0.5 * np.log(2 * np.pi * s**2) + 0.5 * z**2), np.mean(np.abs(z) < 1.96)))
        change.append(scores[1][0] - scores[0][0])
        coverage_map.append(scores[0][1])
        coverage_averaged.append(scores[1][1])
    # MAP under-covers (mean 0.89); averaging brings it to at least 0.92 without costing NLPD on
    # average (0.05 nats is the noise of four 400-point scores, whose per-run spread is 0.1-0.3).
    assert np.mean(coverage_map) < 0.92 <= np.mean(coverage_averaged)
    assert np.mean(change) < 0.05


def test_a_map_model_summarizes_its_task_correlation_over_the_posterior_draws(averaged_icm, fitted):
    summary = averaged_icm.task_correlation_summary(level=0.9)
    assert list(summary.columns) == [
        "task",
        "task_",
        "map",
        "mean",
        "median",
        "lower",
        "upper",
        "prob_positive",
        "shared",
    ]
    assert summary[["task", "task_"]].values.tolist() == [["log_k", "f_a"]]
    assert bool(summary["shared"].iloc[0])
    row = summary.iloc[0]
    assert row["map"] == pytest.approx(averaged_icm.task_correlation().loc["log_k", "f_a"])
    # The draws the averaged predictions mix, summarized as a NUTS model's would be.
    draws = averaged_icm.hyperparameter_mixture().bayesian.task_correlation_summary(level=0.9).iloc[0]
    for column in ("mean", "median", "lower", "upper", "prob_positive"):
        assert row[column] == draws[column]
    assert -1.0 <= row["lower"] < row["median"] < row["upper"] <= 1.0  # 64 draws, not one point
    # Independent GPs share nothing: 0 throughout, without sampling anything.
    independent = fitted["independent"].task_correlation_summary()
    assert (independent.iloc[0, 2:-1] == 0.0).all() and not independent["shared"].iloc[0]
    with pytest.raises(mk.InputDataError, match="level must be a probability"):
        averaged_icm.task_correlation_summary(level=95)


def test_derived_quantities_of_an_averaged_task_summarize_the_mixture(averaged_icm, analytic_problem):
    """probability_above, level_crossing and the derivatives of an averaged task use the mixture's
    draws (so they agree with predict's band); a task at the MAP point keeps the exact Gaussian."""
    model = averaged_icm
    test = analytic_problem.space.sample(6, seed=4)
    mixture = model.hyperparameter_mixture().bayesian
    for level in (0.3, 0.5):
        pd.testing.assert_frame_equal(
            mk.probability_above(model, test, "f_a", level, seed=3),
            mk.probability_above(mixture, test, "f_a", level, seed=3),
        )
    # "auto" is the exact Gaussian for a task at the MAP point: the same as asking for it.
    pd.testing.assert_frame_equal(
        mk.probability_above(model, test, "log_k", 1e10),
        mk.probability_above(model, test, "log_k", 1e10, method="gaussian"),
    )
    pd.testing.assert_frame_equal(
        mk.exponent(model, test, "f_a", "P", seed=2), mk.exponent(mixture, test, "f_a", "P", seed=2)
    )
    model.averaged_tasks_ = ()
    try:  # at the MAP point the answer differs: the mixture was used above
        plain = mk.probability_above(model, test, "f_a", 0.5, seed=3)
    finally:
        model.averaged_tasks_ = ("f_a",)
    assert not np.allclose(
        plain["probability"], mk.probability_above(model, test, "f_a", 0.5, seed=3)["probability"]
    )


def test_a_task_outside_the_shared_process_is_marked_not_shared():
    """A pair no latent process couples is 0 by construction: ``shared`` says so."""
    from mtgp_kinetics.default_model import shared_private_spec
    from mtgp_kinetics.problems import AnalyticKinetics

    problem = AnalyticKinetics(n_tasks=3)
    data = mk.Dataset.from_frame(problem.sample(24, seed=3), problem.space, problem.tasks)
    spec = shared_private_spec((0, 1), 3, [2.5] * 3)  # k_b keeps to itself
    model = mk.fit(data, kernel=spec, restarts=1, check_transfer=False)
    summary = model.task_correlation_summary().set_index(["task", "task_"])
    assert summary["shared"].to_dict() == {
        ("log_k", "f_a"): True,
        ("log_k", "k_b"): False,
        ("f_a", "k_b"): False,
    }
    assert (summary.loc[("log_k", "k_b"), ["map", "lower", "upper"]] == 0.0).all()

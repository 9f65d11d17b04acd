"""The default model: never worse than independent GPs where tasks are unrelated; shares where they are."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.default_model import (
    ICM_MIN_EVIDENCE,
    ICM_TOLERANCE,
    _fitted,
    _icm_pays,
    independent_spec,
    shared_private_spec,
    task_log_marginal_likelihood,
    thin_shared_tasks,
    use_independent_fit_for,
)
from mtgp_kinetics.fitting import neg_log_posterior
from mtgp_kinetics.problems import AnalyticKinetics, H2O2Ignition
from mtgp_kinetics.task_by_task import copy_task_parameters


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
    selection = default.selection_
    assert selection.log_posterior_gains, "the default must record its comparison with independent GPs"
    # Either the shared candidate was rejected by its log posterior, or it was cross-validated.
    assert selection.log_posterior_gains[0] <= 0 or selection.rounds


def test_default_records_its_selection_and_round_trips(tmp_path, analytic_data):
    model = mk.fit(analytic_data, restarts=2)
    selection = model.selection_
    assert selection.kernel == model.kernel
    assert model.averaged_tasks_ == thin_shared_tasks(model)
    assert list(selection.icm["task"]) == ["log_k", "f_a"]
    # ICM is kept exactly when the rule says so; otherwise the shared+private candidate was fitted.
    icm_kept = _icm_pays(selection.icm) and selection.icm_log_posterior_gain >= ICM_MIN_EVIDENCE
    assert (model.kernel.name == "icm") == icm_kept
    if model.kernel.name != "icm":
        assert len(selection.log_posterior_gains) >= 1
    for first in selection.rounds[:1]:
        assert list(first["task"]) == ["log_k", "f_a"]
        assert set(first.columns) >= {"nlpd_vs_independent", "se", "hurts", "member"}
    model.save(tmp_path / "d.mtgp")
    loaded = mk.load(tmp_path / "d.mtgp")
    assert loaded.kernel == model.kernel
    assert loaded.averaged_tasks_ == model.averaged_tasks_


@pytest.mark.parametrize(
    ("differences", "kept"),
    [
        ([-0.30, 0.0], True),  # a gain on one task, the other unchanged
        ([-0.30, ICM_TOLERANCE], True),  # a loss within the tolerance
        ([-0.30, ICM_TOLERANCE + 1e-3], False),  # one task loses beyond the tolerance
        ([0.004, 0.004], False),  # no loss beyond tolerance, but no gain either
    ],
)
def test_icm_is_kept_only_when_it_pays_and_hurts_no_task(differences, kept):
    report = pd.DataFrame({"task": ["a", "b"], "nlpd_vs_independent": differences, "se": [0.05, 0.004]})
    assert _icm_pays(report) is kept


@pytest.mark.parametrize(
    ("se_of_loss", "kept"),
    [
        (0.082, True),  # +0.033 cannot be told from zero: the sparse task's 2.2-nat gain decides
        (0.020, True),  # 1.65 standard errors: still within the comparison's noise
        (0.012, False),  # 2.75 standard errors: a real loss vetoes ICM
    ],
)
def test_icm_loss_within_two_standard_errors_does_not_veto(se_of_loss, kept):
    report = pd.DataFrame(
        {"task": ["dense", "rare"], "nlpd_vs_independent": [0.033, -2.2], "se": [se_of_loss, 0.4]}
    )
    assert _icm_pays(report) is kept


@pytest.mark.parametrize(
    ("loss", "se_of_loss", "kept"),
    [
        (0.086, 0.059, True),  # CH3 + OH n = 30 seed 3: ICM gains both tasks held out
        (0.127, 0.156, False),  # an unseen problem's rough task: 1.96 nats worse held out under ICM
    ],
)
def test_a_large_loss_vetoes_icm_however_noisy_its_comparison(loss, se_of_loss, kept):
    report = pd.DataFrame(
        {"task": ["dense", "rare"], "nlpd_vs_independent": [loss, -1.5], "se": [se_of_loss, 0.17]}
    )
    assert _icm_pays(report) is kept


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
    # Measured gains here (session 4): -0.003 (shared+private kept), +0.53 and +0.25 (ICM kept).
    assert min(gains) > -0.02


def test_task_log_marginal_likelihoods_sum_to_the_independent_models_evidence(fitted):
    model = fitted["independent"]
    gp = model.gp
    X, y = gp.train_inputs[0], gp.train_targets
    with torch.no_grad():
        prior = gp.likelihood(gp.forward(X), X)
        total = torch.distributions.MultivariateNormal(prior.mean, prior.covariance_matrix).log_prob(y)
    per_task = task_log_marginal_likelihood(model)
    assert per_task.shape == (2,)
    # Block-diagonal covariance: the joint Gaussian density factorizes exactly (up to rounding).
    assert float(per_task.sum()) == pytest.approx(float(total), abs=1e-8)


def test_mixed_smoothness_model_keeps_each_tasks_fitted_parameters(analytic_data):
    """Copying task k's private process, noise and mean reproduces that task's evidence exactly."""
    sources = {
        nu: mk.fit(analytic_data, kernel=independent_spec([nu, nu]), restarts=1, check_transfer=False)
        for nu in (2.5, 1.5)
    }
    combined = mk.KineticsModel.from_dataset(analytic_data, independent_spec([1.5, 2.5]))
    copy_task_parameters(combined, {0: sources[1.5], 1: sources[2.5]})
    evidence = task_log_marginal_likelihood(combined)
    assert float(evidence[0]) == pytest.approx(float(task_log_marginal_likelihood(sources[1.5])[0]), abs=1e-9)
    assert float(evidence[1]) == pytest.approx(float(task_log_marginal_likelihood(sources[2.5])[1]), abs=1e-9)


def test_default_gives_each_task_the_smoothness_its_data_prefer(unrelated_data):
    # Unrelated tasks, so that the default keeps a private process per task (on correlated ones it
    # may keep ICM, whose one shared process has one smoothness).
    model = mk.fit(unrelated_data)
    table = model.selection_.smoothness
    assert list(table["task"]) == unrelated_data.task_names
    better = np.where(table["nu=1.5"] > table["nu=2.5"], 1.5, 2.5)
    assert list(table["chosen"]) == list(better)
    private = [lat for lat in model.kernel.resolve(2) if lat.tasks != "shared"]
    assert [lat.nu for lat in private] == list(table["chosen"])


@pytest.mark.slow
def test_ignition_delay_across_the_explosion_limit_is_rougher_than_matern_five_halves():
    """H2/O2, 120 rows: the delay's apparent activation energy jumps near the second explosion limit.

    Measured (5 seeds, 120 rows): the delay's log marginal likelihood is 0.8-5.3 nats higher under
    Matern-3/2 in every seed, and its held-out NLPD 0.03-0.12 nats better; the branching fraction
    prefers 5/2 in every seed. Seed 0 is checked here (5.3 and -3.0 nats).
    """
    problem = H2O2Ignition()
    frame = problem.sample(120, seed=0, observed_fraction={"f_branch": 0.25})
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
    model = mk.fit(data)
    table = model.selection_.smoothness
    chosen = dict(zip(table["task"], table["chosen"], strict=True))
    assert chosen == {"tau_ign": 1.5, "f_branch": 2.5}


def test_opted_out_task_takes_the_independent_fit_exactly():
    """A task outside the shared process predicts exactly as its independent GP; the others unchanged."""

    problem = AnalyticKinetics(n_tasks=3, seed=1)
    frame = problem.sample(24, seed=1)
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
    independent = _fitted(data, independent_spec([2.5, 2.5, 2.5]), 1, 300, 0)
    shared = _fitted(data, shared_private_spec((0, 1), 3), 1, 300, 0, warm_start=independent)
    test = problem.space.sample(40, seed=5)
    before = shared.predict(test)
    use_independent_fit_for(shared, independent, [2])
    after, reference = shared.predict(test), independent.predict(test)
    names = [task.name for task in problem.tasks]
    columns = ["transformed_mean", "transformed_std"]
    out = after["task"] == names[2]
    # Same parameters, same data, same formulas: equal up to rounding.
    alone = reference.loc[reference["task"] == names[2], columns]
    np.testing.assert_allclose(after.loc[out, columns], alone, atol=1e-9)
    # The member tasks' likelihood does not involve the opted-out task's parameters.
    np.testing.assert_allclose(after.loc[~out, columns], before.loc[~out, columns], atol=1e-9)
    with torch.no_grad():
        assert shared.fit_result_.neg_log_posterior == pytest.approx(float(neg_log_posterior(shared.gp)))


def test_default_shares_when_a_sparse_task_follows_the_dense_ones_function():
    """One function behind both tasks, the second measured at 6 of 25 conditions (seed where the
    dense task's leave-one-condition-out "loss" under ICM is +0.039 +- 0.020 nats): the default
    shares, and the sparse task is predicted far better than by independent GPs (0.028 against
    0.29 held-out RMSE when measured)."""
    space = mk.Space(
        [mk.Continuous("T", 700, 1200, transform="inverse"), mk.Continuous("P", 0.5, 20, transform="log")]
    )
    tasks = [mk.Task("a", transform="log10"), mk.Task("b", transform="log10")]

    def latent(frame: pd.DataFrame) -> np.ndarray:
        return np.sin(4 * 1000 / frame["T"].to_numpy()) + 0.3 * np.log(frame["P"].to_numpy())

    rng = np.random.default_rng(0)
    frame = space.sample(25, seed=0, method="uniform")
    g = latent(frame)
    frame["a"] = 10 ** (3 + g + rng.normal(0, 0.03, 25))
    frame["b"] = 10 ** (1 + g + rng.normal(0, 0.03, 25))
    frame.loc[frame.index[6:], "b"] = np.nan
    data = mk.Dataset.from_frame(frame, space, tasks)
    test = space.sample(300, seed=9)
    truth = latent(test) + 1

    def sparse_rmse(model: mk.KineticsModel) -> float:
        mean = model.predict(test, tasks=["b"])["transformed_mean"].to_numpy()
        return float(np.sqrt(np.mean((mean - truth) ** 2)))

    model = mk.fit(data)
    independent = mk.fit(data, kernel="independent")
    assert model.kernel.name != "independent"
    # The measured gap is tenfold; a factor of 3 leaves room for optimizer differences.
    assert sparse_rmse(model) < sparse_rmse(independent) / 3


def test_borrowed_axes_are_kept_only_if_left_out_conditions_are_predicted_no_worse(fitted):
    """The check behind the borrowing veto: the recipient's leave-one-condition-out NLPD with the
    borrowed fit against its own. The same parameters tie (kept); lengthscales shrunk 20-fold, a
    kernel that explains every point by itself, predict left-out conditions worse (vetoed)."""
    from mtgp_kinetics.default_model import _borrowing_holds_out
    from mtgp_kinetics.task_by_task import task_model

    own = fitted["independent"]
    for k in range(own.num_tasks):
        same = task_model(own, k)
        same.fit_result_ = own.fit_result_
        assert _borrowing_holds_out(same, own, k)
        rough = task_model(own, k)
        rough.fit_result_ = own.fit_result_
        kernel = rough.gp.covar_module.input_kernels[k]
        with torch.no_grad():
            kernel.lengthscale = kernel.lengthscale / 20.0
        assert not _borrowing_holds_out(rough, own, k)

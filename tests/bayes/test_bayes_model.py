"""The Bayesian model: mixture predictions, ArviZ data, diagnostics, files."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.bayes import BayesianKineticsModel, arviz_io
from mtgp_kinetics.bayes.mixture import mixture_cdf
from mtgp_kinetics.bayes.model import convergence_problems
from mtgp_kinetics.models.priors import sampling_noise_prior


@pytest.fixture(scope="module")
def conditions(analytic_problem) -> pd.DataFrame:
    return analytic_problem.space.sample(6, seed=3)


def test_predictions_are_the_average_over_draws(nuts_model: BayesianKineticsModel, conditions) -> None:
    pred = nuts_model.predict(conditions, level=0.9)
    per_draw = []
    for u in nuts_model.predictive_draws():
        with nuts_model.at_draw(u) as model:
            # at the draw's own hyperparameters: no Laplace term, as the mixture uses them
            per_draw.append(model.predict(conditions, hyperparameter_uncertainty=False))
    mu = np.stack([f["transformed_mean"].to_numpy() for f in per_draw])
    s = np.stack([f["transformed_std"].to_numpy() for f in per_draw])
    assert len(per_draw) == 16 and mu.std(0).max() > 0  # the draws differ
    np.testing.assert_allclose(pred["transformed_mean"], mu.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        pred["transformed_std"] ** 2, (s**2 + mu**2).mean(0) - mu.mean(0) ** 2, rtol=1e-10
    )
    # Interval ends are the mixture's 5 % and 95 % quantiles, mapped to physical units.
    for task in nuts_model.tasks:
        rows = (pred["task"] == task.name).to_numpy()
        low = task.output_transform.forward(pred.loc[rows, "lower"].to_numpy())
        high = task.output_transform.forward(pred.loc[rows, "upper"].to_numpy())
        np.testing.assert_allclose(mixture_cdf(low, mu[:, rows], s[:, rows]), 0.05, atol=1e-7)
        np.testing.assert_allclose(mixture_cdf(high, mu[:, rows], s[:, rows]), 0.95, atol=1e-7)
    # The model is left at the MAP point after predicting.
    np.testing.assert_array_equal(nuts_model.coords.current().numpy(), nuts_model._map_u.numpy())


def test_mixture_is_wider_than_one_draw_where_draws_disagree(nuts_model, conditions) -> None:
    pred = nuts_model.predict(conditions)
    _, _, s = nuts_model.predict_draws(conditions)
    assert np.all(pred["transformed_std"].to_numpy() >= np.sqrt((s**2).mean(0)) - 1e-12)


def test_joint_samples(nuts_model: BayesianKineticsModel, conditions) -> None:
    a = nuts_model.sample(conditions, n_samples=400, seed=1, physical=False)
    b = nuts_model.sample(conditions, n_samples=400, seed=1, physical=False)
    assert a.shape == (400, len(conditions), nuts_model.num_tasks)
    np.testing.assert_array_equal(a, b)
    _, mean, cov = nuts_model.predict_joint(conditions)
    # Sample mean within 5 standard errors of the mixture mean (400 samples).
    se = np.sqrt(np.diag(cov)) / np.sqrt(400)
    assert np.all(np.abs(a.reshape(400, -1).mean(0) - mean) < 5 * se)
    # And their spread is the mixture's (draws carry the hyperparameter uncertainty; no MAP Laplace
    # term on top, which had made it 1.1-2.5 times too wide). The sample variance of 400 draws has a
    # relative standard error of about sqrt(2 / 400) = 7 % for a Gaussian, more for a mixture: 35 %.
    ratio = a.reshape(400, -1).var(0) / np.diag(cov)
    assert np.all((ratio > 0.65) & (ratio < 1.35)), ratio


def test_task_correlation_posterior(nuts_model: BayesianKineticsModel) -> None:
    corr = nuts_model.task_correlation()
    assert corr.shape == (2, 2) and np.allclose(np.diag(corr), 1.0)
    summary = nuts_model.task_correlation_summary(level=0.9)
    row = summary.iloc[0]
    assert (row["task"], row["task_"]) == tuple(nuts_model.task_names)
    assert -1 <= row["lower"] <= row["median"] <= row["upper"] <= 1
    assert row["mean"] == pytest.approx(corr.iloc[0, 1])


def test_inference_data(nuts_model: BayesianKineticsModel) -> None:
    idata = nuts_model.inference_data
    assert {"posterior", "sample_stats", "observed_data", "constant_data"} <= set(idata.groups())
    corr = idata.posterior["task_correlation"]
    assert corr.dims == ("chain", "draw", "task", "task_")
    assert corr.shape == (2, 30, 2, 2)
    assert list(corr.coords["task"].values) == nuts_model.task_names
    assert idata.posterior["lengthscale"].dims == ("chain", "draw", "latent", "dim")
    assert idata.posterior["noise_std"].dims == ("chain", "draw", "task")
    for stat in ("diverging", "tree_depth", "energy", "lp"):
        assert idata.sample_stats[stat].shape == (2, 30)
    assert idata.observed_data["y"].shape == (nuts_model.train_inputs.shape[0],)
    for group in idata.groups():  # the sampler settings travel with every group
        attrs = idata[group].attrs
        assert (attrs["num_chains"], attrs["num_samples"], attrs["num_warmup"]) == (2, 30, 30), group
        assert attrs["kernel"] == "icm" and attrs["sampler"] == "pyro NUTS"


def test_diagnostics_table(nuts_model: BayesianKineticsModel) -> None:
    table = nuts_model.diagnostics(warn=False)
    assert list(table.columns[:1]) == ["parameter"]
    assert {"r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)
    assert "task_correlation[log_k, f_a]" in set(table["parameter"])
    assert "task_correlation[log_k, log_k]" not in set(table["parameter"])  # constant diagonal
    assert isinstance(table.attrs["divergences"], int) and len(table.attrs["bfmi"]) == 2


def test_convergence_rules() -> None:
    good = pd.DataFrame(
        {"parameter": ["a", "b"], "r_hat": [1.001, 1.0], "ess_bulk": [900.0, 800], "ess_tail": [700.0, 900]}
    )
    good.attrs.update(divergences=0, bfmi=[0.9, 1.0], draws=(4, 500))
    assert convergence_problems(good) == []
    bad = good.copy()
    bad.attrs.update(divergences=3, bfmi=[0.9, 0.1], draws=(4, 500))
    bad.loc[1, "r_hat"] = 1.05
    bad.loc[0, "ess_tail"] = 50.0
    problems = "; ".join(convergence_problems(bad))
    assert "R-hat > 1.01 for b" in problems and "ESS < 400 for a" in problems
    assert "3 divergent" in problems and "BFMI < 0.3 in 1 chain" in problems


def test_netcdf_round_trip(nuts_model: BayesianKineticsModel, tmp_path) -> None:
    path = tmp_path / "posterior.nc"
    arviz_io.to_netcdf(nuts_model.inference_data, path)
    back = arviz_io.from_netcdf(path)
    for group in ("posterior", "sample_stats", "observed_data"):
        assert getattr(back, group).equals(getattr(nuts_model.inference_data, group))


def test_save_load_keeps_the_draws(nuts_model: BayesianKineticsModel, conditions, tmp_path) -> None:
    path = tmp_path / "bayes.mtgp"
    nuts_model.save(path)
    loaded = mk.load(path)
    assert isinstance(loaded, BayesianKineticsModel)
    np.testing.assert_array_equal(loaded.draws.z, nuts_model.draws.z)
    assert loaded.inference_data.posterior.equals(nuts_model.inference_data.posterior)
    assert loaded.inference_data.sample_stats.equals(nuts_model.inference_data.sample_stats)
    probe = torch.tensor([1e-4, 1e-2])  # the sampling prior, not the MAP fit's, as before saving
    torch.testing.assert_close(
        loaded.base.gp.likelihood.noise_covar.noise_prior.log_prob(probe),
        sampling_noise_prior().log_prob(probe),
    )
    loaded.max_predictive_draws = nuts_model.max_predictive_draws
    pd.testing.assert_frame_equal(loaded.predict(conditions), nuts_model.predict(conditions))


def test_loo_of_the_mixture(nuts_model: BayesianKineticsModel) -> None:
    table = nuts_model.loo()
    assert list(table["task"]) == nuts_model.task_names
    assert np.all(np.isfinite(table["nlpd"])) and np.all((table["coverage"] >= 0) & (table["coverage"] <= 1))


def test_bad_settings_name_the_setting(analytic_data: mk.Dataset) -> None:
    with pytest.raises(mk.InputDataError, match="num_chains"):
        mk.fit(analytic_data, "icm", method="nuts", num_chains=0)
    with pytest.raises(mk.InputDataError, match="method='nuts' only"):
        mk.fit(analytic_data, "icm", num_samples=10)
    with pytest.raises(mk.InputDataError, match="'map' or 'nuts'"):
        mk.fit(analytic_data, "icm", method="hmc")


def test_level_is_checked(nuts_model, conditions) -> None:
    with pytest.raises(mk.InputDataError, match="level"):
        nuts_model.predict(conditions, level=1.5)


def test_test_scores_use_the_mixture_density(nuts_model: BayesianKineticsModel, analytic_problem) -> None:
    from mtgp_kinetics.bayes.mixture import mixture_logpdf
    from mtgp_kinetics.model_checking import held_out_scores

    test = analytic_problem.space.sample(12, seed=5)
    truth = analytic_problem.evaluate(test)
    scores = nuts_model.test_scores(test, truth, level=0.95)
    index, mu, s = nuts_model.predict_draws(test)
    moments = held_out_scores(nuts_model.predict(test, level=0.95), truth, nuts_model.tasks, 0.95)
    for task in nuts_model.tasks:
        rows = (index["task"] == task.name).to_numpy()
        z = task.output_transform.forward(truth[task.name].to_numpy(dtype=float))
        expected = -np.mean(mixture_logpdf(z, mu[:, rows], s[:, rows]))
        np.testing.assert_allclose(scores.loc[task.name, "nlpd"], expected, rtol=1e-12)
        # Same interval as predict() (monotone transforms: the same points fall inside).
        assert scores.loc[task.name, "coverage"] == moments.loc[task.name, "coverage"]
        np.testing.assert_allclose(scores.loc[task.name, "rmse"], moments.loc[task.name, "rmse"], rtol=1e-10)


def test_convergence_rules_single_chain_says_rhat_needs_chains() -> None:
    """One chain: R-hat is NaN, which is "unchecked", not "too high" for every parameter."""
    single = pd.DataFrame(
        {
            "parameter": ["a", "b"],
            "r_hat": [np.nan, np.nan],
            "ess_bulk": [900.0, 800],
            "ess_tail": [700.0, 900],
        }
    )
    single.attrs.update(divergences=0, bfmi=[0.9], draws=(1, 2000))
    problems = "; ".join(convergence_problems(single))
    assert "num_chains >= 2" in problems
    assert "R-hat > " not in problems


def test_model_gp_stays_at_the_map_point(nuts_model: BayesianKineticsModel, conditions) -> None:
    """Per-draw predictions must not leave a draw's cached solve in model.gp (the MAP point)."""
    gp = nuts_model.gp
    X = gp.all_tasks_inputs(nuts_model.space.to_model(conditions))

    def map_mean() -> torch.Tensor:
        gp.eval()
        with torch.no_grad():
            return gp(X).mean.clone()

    before = map_mean()
    nuts_model.sample(conditions, n_samples=4, seed=0)
    nuts_model.predict_joint(conditions)
    torch.testing.assert_close(map_mean(), before, rtol=0, atol=1e-10)


def test_the_map_model_api_a_campaign_and_the_cli_use(nuts_model: BayesianKineticsModel) -> None:
    assert nuts_model.data is not None and nuts_model.data.n_observations == len(nuts_model.train_targets)
    torch.testing.assert_close(nuts_model.y_mean, nuts_model.base.y_mean)
    flagged = nuts_model.outliers(threshold=0.5)  # low threshold: some rows, with their context
    assert {"row", "task", "observed", "mean", "std", "z"} <= set(flagged.columns)
    assert (flagged["z"].abs() > 0.5).all() and len(flagged) > 0
    covariances = nuts_model.latent_task_covariances()
    assert len(covariances) == 1 and covariances[0].shape == (2, 2)
    assert np.all(np.linalg.eigvalsh(covariances[0].to_numpy()) > 0)
    with pytest.raises(mk.InputDataError, match="loo\\(by='condition'\\)"):
        nuts_model.cross_validate(folds=3)
    with pytest.raises(mk.InputDataError, match="already average"):
        nuts_model.hyperparameter_uncertainty()


def test_nuts_fit_gives_the_data_warnings_map_gives(analytic_data: mk.Dataset) -> None:
    few = analytic_data.subset(
        (analytic_data.task_indices() == 0) | (np.cumsum(analytic_data.task_indices() == 1) <= 2)
    )
    with pytest.warns(mk.ConvergenceWarning), pytest.warns(mk.FewObservationsWarning, match="'f_a' \\(2\\)"):
        mk.fit(
            few,
            "independent",
            method="nuts",
            restarts=1,
            num_warmup=10,
            num_samples=10,
            num_chains=1,
            progress=False,
        )


def test_bad_arguments_name_the_argument(nuts_model: BayesianKineticsModel, conditions, tmp_path) -> None:
    with pytest.raises(mk.InputDataError, match=r"level must be a probability .*give 0.95 for 95 %"):
        nuts_model.task_correlation_summary(level=95)
    with pytest.raises(mk.InputDataError, match="level must be a probability"):
        nuts_model.plot_task_correlation(level=0)
    with pytest.raises(mk.InputDataError, match=r"var_names \['nope'\] are not posterior variables"):
        nuts_model.plot_trace(var_names=["nope"])
    with pytest.raises(mk.InputDataError, match="n_samples must be an integer >= 1"):
        nuts_model.sample(conditions, n_samples=0)
    with pytest.raises(mk.InputDataError, match="one row per condition"):
        nuts_model.test_scores(conditions, pd.DataFrame({"log_k": [1.0]}))
    # numpy scalars are numbers too
    assert len(nuts_model.predict(conditions, level=np.float32(0.9))) == 2 * len(conditions)


def test_correlation_plot_shows_the_summary_interval(nuts_model: BayesianKineticsModel) -> None:
    import matplotlib.pyplot as plt

    axes = np.atleast_1d(nuts_model.plot_task_correlation(level=0.9)).ravel()
    row = nuts_model.task_correlation_summary(level=0.9).iloc[0]
    title = axes[0].get_title()
    assert f"90% interval (bar) [{row['lower']:.2f}, {row['upper']:.2f}]" in title
    assert f"P(corr > 0) = {row['prob_positive']:.2f}" in title
    assert not axes[0].texts  # nothing written over the density
    plt.close("all")


def test_trace_plot_draws_each_distinct_parameter_once(nuts_model: BayesianKineticsModel) -> None:
    import matplotlib.pyplot as plt

    axes = nuts_model.plot_trace()
    titles = [ax.get_title() for ax in axes[:, 0]]
    assert titles == list(nuts_model.diagnostics(warn=False)["parameter"])  # repeats listed once
    plt.close("all")


def test_map_keywords_are_accepted_by_the_mixture(nuts_model, conditions) -> None:
    """Code written for a MAP model runs on a NUTS one: the mixture already is that uncertainty."""
    plain = nuts_model.predict(conditions)
    pd.testing.assert_frame_equal(nuts_model.predict(conditions, hyperparameter_uncertainty=False), plain)
    _, mean, _ = nuts_model.predict_joint(conditions, hyperparameter_uncertainty=True)
    np.testing.assert_allclose(mean, nuts_model.predict_joint(conditions)[1])


def test_thinning_that_keeps_too_few_draws_is_refused() -> None:
    from mtgp_kinetics.bayes import NutsSettings

    with pytest.raises(mk.InputDataError, match=r"thin=20 keeps 1 of num_samples=10 draws per chain"):
        NutsSettings(num_samples=10, thin=20).validate()
    NutsSettings(num_samples=12, thin=3).validate()  # 4 kept


def test_diagnostics_list_each_set_of_draws_once(nuts_model) -> None:
    """ICM's task variances B[t, t] are its latent variances: listed once, not twice in each warning."""
    table = nuts_model.diagnostics(warn=False)
    assert not table.duplicated(subset=["mean", "sd", "r_hat", "ess_bulk"]).any(), table
    names = list(table["parameter"])
    assert any(n.startswith("latent_variance") for n in names)
    diagonal = [n for n in names if n.startswith("task_covariance") and len(set(n[16:-1].split(", "))) == 1]
    assert not diagonal, names


def test_nuts_on_unrelated_tasks_warns_of_negative_transfer():
    """A yield that follows P while the rate ignores it: the shared P lengthscale, set by the rate,
    leaves the yield's dependence on P as noise under ICM, however the draws average (a helper's
    sweep: NLPD +4 nats against independent GPs, coverage 0.29, and no warning before)."""
    space = mk.Space(
        [
            mk.Continuous("T", 600.0, 1800.0, unit="K", transform="inverse"),
            mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
        ]
    )
    tasks = [mk.Task("k", unit="1/s", transform="log10", kind="rate"), mk.Task("y", transform="logit")]
    frame = space.sample(30, seed=1)
    rng = np.random.default_rng(1)
    x, lp = 1000.0 / frame["T"].to_numpy(), np.log10(frame["P"].to_numpy())
    frame["k"] = 10.0 ** (13.0 - 7.0 * x + 0.08 * lp + rng.normal(0.0, 0.05, 30))
    logit_y = 1.2 * np.sin(2.2 * lp + 0.4) + 0.35 * (x - 1.0) - 0.3 + rng.normal(0.0, 0.15, 30)
    frame["y"] = np.where(np.arange(30) % 4 == 0, 1.0 / (1.0 + np.exp(-logit_y)), np.nan)
    data = mk.Dataset.from_frame(frame, space, tasks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mk.fit(data, "icm", method="nuts", num_chains=2, num_warmup=100, num_samples=100, progress=False)
    transfer = [str(w.message) for w in caught if issubclass(w.category, mk.NegativeTransferWarning)]
    assert transfer and "'y'" in transfer[0] and "'icm'" in transfer[0]

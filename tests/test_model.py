"""Predictions of KineticsModel: consistency of marginals, joint covariance, samples and units."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import mtgp_kinetics as mk

KERNELS = ("icm", "lmc", "independent")


@pytest.fixture(scope="module")
def grid(analytic_problem) -> pd.DataFrame:
    return analytic_problem.space.sample(7, seed=11)


@pytest.mark.parametrize("kernel", KERNELS)
def test_std_is_sqrt_of_joint_covariance_diagonal(fitted, grid, kernel):
    model = fitted[kernel]
    pred = model.predict(grid)
    index, mean, cov = model.predict_joint(grid)
    assert list(index["task"]) == list(pred["task"])
    # Both paths evaluate the same float64 posterior; only summation order differs (~1e-12).
    np.testing.assert_allclose(pred["transformed_mean"], mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pred["transformed_std"], np.sqrt(np.diag(cov)), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("kernel", KERNELS)
def test_intervals_are_back_transformed_endpoints(fitted, grid, kernel):
    model = fitted[kernel]
    level = 0.9
    pred = model.predict(grid, level=level)
    z = norm.ppf(0.5 + level / 2)
    for task in model.tasks:
        rows = pred[pred["task"] == task.name]
        mu, s = rows["transformed_mean"].to_numpy(), rows["transformed_std"].to_numpy()
        tf = task.output_transform
        # Exact up to float64 rounding of the inverse transform.
        np.testing.assert_allclose(rows["lower"], tf.inverse(mu - z * s), rtol=1e-12)
        np.testing.assert_allclose(rows["upper"], tf.inverse(mu + z * s), rtol=1e-12)
        np.testing.assert_allclose(rows["mean"], tf.inverse(mu), rtol=1e-12)
        assert (rows["lower"] < rows["mean"]).all() and (rows["mean"] < rows["upper"]).all()


def test_physical_std_of_log10_task_is_lognormal_std(fitted, grid):
    pred = fitted["lmc"].predict(grid)
    rows = pred[pred["task"] == "log_k"]
    ln10 = np.log(10.0)
    m, v = rows["transformed_mean"] * ln10, (rows["transformed_std"] * ln10) ** 2
    expected = np.sqrt(np.expm1(v)) * np.exp(m + v / 2)
    np.testing.assert_allclose(rows["std"], expected, rtol=1e-12)


def test_physical_std_of_logit_task_matches_monte_carlo(fitted, grid):
    pred = fitted["lmc"].predict(grid)
    rows = pred[pred["task"] == "f_a"]
    rng = np.random.default_rng(0)
    z = rows["transformed_mean"].to_numpy() + rows["transformed_std"].to_numpy() * rng.standard_normal(
        (200_000, len(rows))
    )
    mc_std = (1 / (1 + np.exp(-z))).std(axis=0)
    # Monte Carlo error of a std with 2e5 draws is ~0.2 %; 1 % leaves room.
    np.testing.assert_allclose(rows["std"], mc_std, rtol=1e-2)


@pytest.mark.parametrize("kernel", ("icm", "lmc"))
def test_joint_samples_reproduce_mean_and_covariance(fitted, kernel):
    model = fitted[kernel]
    conditions = model.space.sample(3, seed=5)
    _, mean, cov = model.predict_joint(conditions)
    draws = model.sample(conditions, n_samples=40_000, seed=1, physical=False)
    assert draws.shape == (40_000, 3, model.num_tasks)
    flat = draws.reshape(40_000, -1)  # condition-major, as predict_joint
    sd = np.sqrt(np.diag(cov))
    # Standard error of a sample mean is sd/sqrt(N) = 0.005 sd; 5 standard errors.
    np.testing.assert_allclose(flat.mean(0), mean, atol=float(5 * sd.max() / np.sqrt(40_000)))
    # Sample covariance error ~ sd_i sd_j sqrt(2/N) = 0.007 sd_i sd_j; allow 0.035.
    np.testing.assert_allclose(np.cov(flat.T), cov, atol=float(0.035 * sd.max() ** 2))
    # Cross-task correlation is present and reproduced (not just the marginals).
    corr = cov / np.outer(sd, sd)
    np.testing.assert_allclose(np.corrcoef(flat.T), corr, atol=0.03)


def test_samples_in_physical_units_are_transformed_draws(fitted):
    model = fitted["lmc"]
    conditions = model.space.sample(2, seed=3)
    latent = model.sample(conditions, n_samples=5, seed=9, physical=False)
    physical = model.sample(conditions, n_samples=5, seed=9)
    np.testing.assert_allclose(physical[..., 0], 10.0 ** latent[..., 0], rtol=1e-12)
    np.testing.assert_allclose(physical[..., 1], 1 / (1 + np.exp(-latent[..., 1])), rtol=1e-12)


def test_samples_of_one_task_have_its_marginal(fitted):
    """sample(tasks=[...]) factorizes only that task's covariance; its draws follow its own marginal."""
    model = fitted["icm"]
    conditions = model.space.sample(3, seed=4)
    draws = model.sample(conditions, n_samples=4000, seed=1, physical=False, tasks=["f_a"])
    assert draws.shape == (4000, 3, 1)
    pred = model.predict(conditions, tasks=["f_a"])
    # 4000 draws: the sample mean is within 4 standard errors (std / sqrt(4000)) of the mean.
    err = np.abs(draws[..., 0].mean(0) - pred["transformed_mean"].to_numpy())
    assert np.all(err < 4 * pred["transformed_std"].to_numpy() / np.sqrt(4000))
    np.testing.assert_allclose(draws[..., 0].std(0), pred["transformed_std"].to_numpy(), rtol=0.06)


def test_one_task_name_or_none_is_refused_clearly(fitted):
    model = fitted["icm"]
    conditions = model.space.sample(2, seed=4)
    assert model.sample(conditions, n_samples=3, seed=0, tasks="f_a").shape == (3, 2, 1)
    with pytest.raises(mk.InputDataError, match="tasks is empty"):
        model.sample(conditions, n_samples=3, tasks=[])


def test_observation_noise_widens_by_the_task_noise(fitted, grid):
    model = fitted["lmc"]
    latent = model.predict(grid)
    noisy = model.predict(grid, observation_noise=True)
    noise = model.noise_std()
    for task in model.task_names:
        a = latent[latent["task"] == task]["transformed_std"].to_numpy()
        b = noisy[noisy["task"] == task]["transformed_std"].to_numpy()
        np.testing.assert_allclose(b**2, a**2 + noise[task] ** 2, rtol=1e-8)


def test_predict_keeps_conditions_and_orders_rows(fitted, grid):
    pred = fitted["icm"].predict(grid)
    assert list(pred.columns[:3]) == ["T", "P", "task"]
    assert len(pred) == 2 * len(grid)
    np.testing.assert_array_equal(pred["T"].to_numpy()[::2], grid["T"].to_numpy())
    assert list(pred["task"][:2]) == ["log_k", "f_a"]
    sub = fitted["icm"].predict(grid, tasks=["f_a"])
    assert set(sub["task"]) == {"f_a"} and len(sub) == len(grid)


def test_prediction_errors_name_the_culprit(fitted, grid):
    model = fitted["icm"]
    with pytest.raises(mk.InputDataError, match="level"):
        model.predict(grid, level=1.5)
    with pytest.raises(mk.InputDataError, match="nope"):
        model.predict(grid, tasks=["nope"])
    bad = grid.copy()
    bad.loc[bad.index[2], "T"] = -5.0  # no 1000 / T of it
    with pytest.raises(mk.InputDataError, match=r"column 'T': row 2: -5 <= 0, which its 'inverse' transform"):
        model.predict(bad)
    bad["T"] = bad["T"].astype(object)
    bad.loc[bad.index[2], "T"] = "hot"
    with pytest.raises(mk.InputDataError, match=r"column 'T': non-numeric value\(s\) at row\(s\) 2"):
        model.predict(bad)


def test_prediction_outside_the_bounds_warns_and_widens(fitted, grid):
    """Extrapolation is allowed with a DataWarning naming the rows; the interval widens with distance."""
    model = fitted["icm"]
    T_hi = next(v.upper for v in model.space.variables if v.name == "T")
    away = pd.DataFrame(
        {"T": [T_hi, 1.2 * T_hi, 2.0 * T_hi], "P": grid["P"].iloc[0]}, index=["in", "near", "far"]
    )
    with pytest.warns(
        mk.DataWarning, match=r"column 'T': row near: .*, row far: .* outside the bounds .*extrapolate"
    ):
        pred = model.predict(away, tasks="log_k")
    assert list(pred["row"]) == ["in", "near", "far"]
    std = pred["transformed_std"].to_numpy()
    assert np.all(np.isfinite(std)) and std[0] < std[1] < std[2]


def test_prediction_rows_carry_the_callers_labels(fitted, grid):
    runs = grid.iloc[:3].set_axis(["run a", "run b", "run a2"])
    pred = fitted["icm"].predict(runs)
    assert list(pred["row"]) == ["run a", "run a", "run b", "run b", "run a2", "run a2"]
    assert list(pred["task"]) == ["log_k", "f_a"] * 3


def test_unfitted_model_refuses_to_predict(analytic_data, grid):
    model = mk.KineticsModel.from_dataset(analytic_data, mk.KernelSpec.icm())
    with pytest.raises(mk.NotFittedError):
        model.predict(grid)


def test_task_structure_is_labelled_and_consistent(fitted):
    for kernel in KERNELS:
        model = fitted[kernel]
        corr = model.task_correlation()
        assert list(corr.index) == ["log_k", "f_a"] and list(corr.columns) == ["log_k", "f_a"]
        np.testing.assert_allclose(np.diag(corr), 1.0)
        np.testing.assert_allclose(corr.to_numpy(), corr.to_numpy().T, atol=1e-12)
        latents = model.latent_task_covariances()
        np.testing.assert_allclose(sum(b.to_numpy() for b in latents), model.task_covariance(), atol=1e-12)
    assert fitted["independent"].task_correlation().loc["log_k", "f_a"] == 0.0
    assert len(fitted["lmc"].latent_task_covariances()) == 2


def test_categorical_conditions_fit_and_predict():
    space = mk.Space(
        [mk.Continuous("T", 900, 1500, unit="K", transform="inverse"), mk.Categorical("bath", ["Ar", "N2"])]
    )
    tasks = [mk.Task("k", transform="log10", kind="rate"), mk.Task("f", transform="logit", kind="mechanism")]
    rng = np.random.default_rng(0)
    T = rng.uniform(900, 1500, 20)
    bath = np.array(["Ar", "N2"] * 10)
    shift = np.where(bath == "N2", 0.3, 0.0)
    frame = pd.DataFrame(
        {
            "T": T,
            "bath": bath,
            "k": 10 ** (13 - 2.0 * 1000 / T + shift),
            "f": 1 / (1 + np.exp(-(T - 1200) / 200)),
        }
    )
    frame.loc[::3, "f"] = np.nan
    model = mk.fit(mk.Dataset.from_frame(frame, space, tasks), kernel="icm", restarts=1, check_transfer=False)
    pred = model.predict(pd.DataFrame({"T": [1000.0, 1000.0], "bath": ["Ar", "N2"]}), tasks=["k"])
    # The bath gas shifts log10 k by 0.3 in the data; the model must tell the levels apart.
    delta = pred["transformed_mean"].iloc[1] - pred["transformed_mean"].iloc[0]
    assert 0.15 < delta < 0.45


def test_latent_spec_rejects_a_smoothness_matern_kernels_do_not_have():
    from mtgp_kinetics.models.structure import LatentSpec

    with pytest.raises(mk.InputDataError, match=r"nu must be one of .*0\.7"):
        LatentSpec("shared", nu=0.7)


def test_fit_warns_about_a_task_with_too_few_observations_to_calibrate(analytic_problem):
    """Two observations of a task: its MAP intervals are too narrow, and fit says so by name."""
    frame = analytic_problem.sample(12, seed=2)
    frame.loc[frame.index[2:], "f_a"] = np.nan
    data = mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)
    with pytest.warns(mk.FewObservationsWarning, match=r"'f_a' \(2\)"):
        mk.fit(data, kernel="independent", restarts=1)
    frame = analytic_problem.sample(12, seed=2)
    frame.loc[frame.index[3:], "f_a"] = np.nan
    data = mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)
    with pytest.warns(mk.FewObservationsWarning, match=r"'f_a' \(3\) have fewer than 4"):
        mk.fit(data, kernel="independent", restarts=1)  # three: 76-80 % coverage in a sweep
    frame = analytic_problem.sample(12, seed=2)
    frame.loc[frame.index[4:], "f_a"] = np.nan
    data = mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)
    mk.fit(data, kernel="independent", restarts=1)  # four: no warning (warnings are errors here)


def test_fit_warns_about_a_task_whose_values_are_all_equal(analytic_problem):
    """A constant column (a placeholder, a saturated detector) has nothing to learn; fit names it."""
    frame = analytic_problem.sample(12, seed=2)
    frame["f_a"] = 0.25
    with pytest.warns(
        mk.DataWarning, match=r"'f_a' \(12 x 0.25\) have the same value .* intervals that mean"
    ):
        data = mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)
    model = mk.fit(data, kernel="independent", restarts=1)  # said once, when the data were read
    assert np.isfinite(model.predict(frame.iloc[:3])["std"]).all()


def test_saturated_fractions_are_pointed_out_when_read(analytic_problem):
    """Conversions clipped at one bound are taken as measured: intervals near them are too narrow."""
    frame = analytic_problem.sample(12, seed=2)
    frame.loc[frame.index[:4], "f_a"] = 0.99
    with pytest.warns(mk.DataWarning, match=r"'f_a': 4 x 0.99 \(the largest value\)"):
        mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)
    frame.loc[frame.index[2:4], "f_a"] = 0.5
    mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)  # 2 x 0.99: not yet


def test_repeated_mid_range_fractions_are_not_called_saturated(analytic_problem):
    """Exact repeats of a mid-range yield (set by a categorical condition alone) are not clips."""
    frame = analytic_problem.sample(12, seed=2)
    frame["f_a"] = np.tile([0.4, 0.5, 0.6], 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mk.Dataset.from_frame(frame, analytic_problem.space, analytic_problem.tasks)

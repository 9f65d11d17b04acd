"""Derived quantities: activation energy, exponents, level crossings and pathway probabilities."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

import mtgp_kinetics as mk
from mtgp_kinetics.derived import R_KJ_PER_MOL_K as R
from mtgp_kinetics.derived import derivative_posterior

EA, ORDER, LN_A = 150.0, 0.7, float(np.log(1e13))  # kJ/mol, pressure exponent, ln(1/s)


def arrhenius_data(t_transform: str = "inverse", y_transform: str = "log10", n: int = 25) -> mk.Dataset:
    """Noisy ``k = A exp(-Ea / R T) P^n`` (5 % lognormal scatter) on a seeded Sobol design."""
    space = mk.Space(
        [
            mk.Continuous("T", 700.0, 1400.0, unit="K", transform=t_transform),
            mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
        ]
    )
    frame = space.sample(n, seed=0)
    ln_k = LN_A - EA / (R * frame["T"]) + ORDER * np.log(frame["P"])
    frame["k"] = np.exp(ln_k + 0.05 * np.random.default_rng(0).standard_normal(n))
    return mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform=y_transform, kind="rate")])


@pytest.fixture(scope="module")
def arrhenius_model() -> mk.KineticsModel:
    return mk.fit(arrhenius_data(), restarts=1)


@pytest.fixture(scope="module")
def test_conditions() -> pd.DataFrame:
    """Sobol points plus the four corners, where the stencil is one-sided."""
    space = arrhenius_data().space
    corners = pd.DataFrame({"T": [700.0, 700.0, 1400.0, 1400.0], "P": [0.1, 10.0, 0.1, 10.0]})
    return pd.concat([space.sample(16, seed=3), corners], ignore_index=True)


def transformed_mean(model: mk.KineticsModel, frame: pd.DataFrame) -> np.ndarray:
    return model.predict(frame)["transformed_mean"].to_numpy()


def finite_difference(model: mk.KineticsModel, frame: pd.DataFrame, column: str, coordinate, inverse):
    """d(posterior mean of ln k)/d(coordinate) by second-order differences in physical coordinates,
    one-sided where a central step would leave the space (independent of the stencil in derived.py)."""
    var = model.space[column]
    c = coordinate(frame[column].to_numpy())
    h = 1e-5 * abs(coordinate(np.array([var.upper]))[0] - coordinate(np.array([var.lower]))[0])
    lo_c, hi_c = sorted(coordinate(np.array([var.lower, var.upper])))
    offsets = np.tile([-1.0, 0.0, 1.0], (len(frame), 1))
    weights = np.tile([-0.5, 0.0, 0.5], (len(frame), 1))
    low, high = c - h < lo_c, c + h > hi_c
    offsets[low], weights[low] = [0.0, 1.0, 2.0], [-1.5, 2.0, -0.5]
    offsets[high], weights[high] = [-2.0, -1.0, 0.0], [0.5, -2.0, 1.5]
    rows = frame.iloc[np.repeat(np.arange(len(frame)), 3)].copy()
    rows[column] = np.clip(inverse((c[:, None] + h * offsets).ravel()), var.lower, var.upper)
    result = (weights * transformed_mean(model, rows).reshape(-1, 3)).sum(axis=1) / h
    return result * np.log(10.0)  # log10 task -> ln


def test_activation_energy_is_the_derivative_of_the_posterior_mean(arrhenius_model, test_conditions):
    ea = mk.activation_energy(arrhenius_model, test_conditions, "k")
    fd = -R * finite_difference(arrhenius_model, test_conditions, "T", lambda t: 1.0 / t, lambda v: 1.0 / v)
    # Both are second-order differences of the same smooth mean (steps 1e-3 and 1e-5 of the range):
    # they agree to ~1e-6 relative; 1e-4 leaves room for rounding at the one-sided corners.
    np.testing.assert_allclose(ea["mean"], fd, rtol=1e-4)
    assert list(ea.columns) == ["T", "P", "task", "mean", "std", "lower", "upper"]
    assert (ea["std"] > 0).all() and (ea["lower"] < ea["mean"]).all() and (ea["mean"] < ea["upper"]).all()


def test_exponent_is_the_derivative_of_the_posterior_mean(arrhenius_model, test_conditions):
    order = mk.exponent(arrhenius_model, test_conditions, "k", "P")
    fd = finite_difference(arrhenius_model, test_conditions, "P", np.log, np.exp)
    np.testing.assert_allclose(order["mean"], fd, rtol=1e-4, atol=1e-6)


def test_gaussian_interval_is_mean_plus_minus_z_std(arrhenius_model, test_conditions):
    ea = mk.activation_energy(arrhenius_model, test_conditions, "k", level=0.9)
    z = norm.ppf(0.95)
    np.testing.assert_allclose(ea["upper"] - ea["mean"], z * ea["std"], rtol=1e-12)
    np.testing.assert_allclose(ea["mean"] - ea["lower"], z * ea["std"], rtol=1e-12)


def test_sampled_interval_agrees_with_the_gaussian_one(arrhenius_model, test_conditions):
    exact = mk.activation_energy(arrhenius_model, test_conditions, "k")
    sampled = mk.activation_energy(arrhenius_model, test_conditions, "k", method="samples", n_samples=4000)
    np.testing.assert_allclose(sampled["mean"], exact["mean"], rtol=1e-12)  # moments from predict_joint
    # 2.5 % quantile of 4000 draws: Monte Carlo std about 0.04 std of the quantity; allow 0.2.
    assert np.all(np.abs(sampled["lower"] - exact["lower"]) < 0.2 * exact["std"])
    assert np.all(np.abs(sampled["upper"] - exact["upper"]) < 0.2 * exact["std"])


def test_derivative_draws_have_the_posterior_moments(arrhenius_model, test_conditions):
    post = derivative_posterior(arrhenius_model, test_conditions, "k", "T", n_samples=4000, seed=1)
    se = post.dz_std / np.sqrt(4000)
    assert np.all(np.abs(post.dz_draws.mean(0) - post.dz_mean) < 5 * se)
    np.testing.assert_allclose(post.dz_draws.std(0), post.dz_std, rtol=0.1)
    np.testing.assert_allclose(post.z_mean, transformed_mean(arrhenius_model, test_conditions), rtol=1e-10)


def test_delay_sign_convention(arrhenius_model, test_conditions):
    rate = mk.activation_energy(arrhenius_model, test_conditions, "k")
    delay = mk.activation_energy(arrhenius_model, test_conditions, "k", kind="delay")
    np.testing.assert_allclose(delay["mean"], -rate["mean"])
    np.testing.assert_allclose(delay["lower"], -rate["upper"])


@pytest.mark.slow
@pytest.mark.parametrize("t_transform", ["inverse", "log", "none"])
@pytest.mark.parametrize("y_transform", ["log10", "log"])
def test_known_activation_energy_and_order_lie_in_their_intervals(t_transform, y_transform):
    model = mk.fit(arrhenius_data(t_transform, y_transform), restarts=1)
    test = model.space.sample(20, seed=7)
    ea = mk.activation_energy(model, test, "k")
    order = mk.exponent(model, test, "k", "P")
    assert ((ea["lower"] <= EA) & (EA <= ea["upper"])).mean() >= 0.9
    assert ((order["lower"] <= ORDER) & (ORDER <= order["upper"])).mean() >= 0.9
    # ... and informative: the typical 95 % interval is narrower than +-15 % of Ea.
    assert (ea["upper"] - ea["lower"]).median() < 0.3 * EA


def logistic_switch_data(n: int = 40) -> tuple[mk.Dataset, float, float, float]:
    """A fraction ``f = expit(b (1000/T - c0 - s ln P))``: switch at ``1000/T = c0 + s ln P``."""
    b, c0, s = 6.0, 1.1, 0.08
    space = mk.Space(
        [
            mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse"),
            mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
        ]
    )
    frame = space.sample(n, seed=2)
    z = b * (1000.0 / frame["T"] - c0 - s * np.log(frame["P"]))
    frame["f"] = expit(z + 0.02 * np.random.default_rng(2).standard_normal(n))
    data = mk.Dataset.from_frame(frame, space, [mk.Task("f", transform="logit", kind="mechanism")])
    return data, b, c0, s


@pytest.fixture(scope="module")
def switch():
    data, b, c0, s = logistic_switch_data()
    return mk.fit(data, restarts=1), b, c0, s


@pytest.mark.slow
def test_activation_energy_of_a_logit_task_by_draws(switch):
    model, b, c0, s = switch
    test = model.space.sample(20, seed=4)
    f = expit(b * (1000.0 / test["T"] - c0 - s * np.log(test["P"])))
    truth = -R * 1000.0 * b * (1.0 - f)  # -R d ln f / d(1/T), f = expit(b (1000/T - c))
    with pytest.warns(mk.DataWarning, match="'f' is a mechanism task"):
        ea = mk.activation_energy(model, test, "f", n_samples=2000)
    assert ((ea["lower"] <= truth) & (truth <= ea["upper"])).mean() >= 0.9
    assert np.all(ea["std"] > 0)


def test_level_crossing_finds_the_mechanism_switch(switch):
    model, _, c0, s = switch
    at = pd.DataFrame({"P": [0.3, 1.0, 3.0]})
    cross = mk.level_crossing(model, "f", 0.5, along="T", at=at, n_samples=300)
    truth = 1000.0 / (c0 + s * np.log(at["P"]))
    assert list(cross.columns) == [
        "P",
        "task",
        "mean",
        "median",
        "lower",
        "upper",
        "probability",
        "mean_crossings",
    ]
    assert (cross["mean_crossings"] == 1).all()
    assert ((cross["lower"] <= truth) & (truth <= cross["upper"])).all()
    np.testing.assert_allclose(cross["mean"], truth, rtol=0.01)
    assert (cross["lower"] < cross["upper"]).all() and (cross["probability"] > 0.99).all()
    # An at row outside the bounds is named by its own label, not a row of the internal grid.
    with pytest.raises(mk.InputDataError, match=r"level_crossing: at: column 'P': row high: \S+ outside"):
        mk.level_crossing(
            model, "f", 0.5, along="T", at=pd.DataFrame({"P": [1.0, 50.0]}, index=["ok", "high"])
        )
    # A level the fraction never reaches inside the space is never crossed.
    never = mk.level_crossing(model, "f", 0.999999, along="T", at=at.iloc[:1], n_samples=50)
    assert never["probability"].iloc[0] == 0.0 and np.isnan(never["mean"].iloc[0])


def test_level_crossing_counts_the_mean_curves_crossings():
    """A fraction that peaks inside the range crosses 0.5 twice: the row says so."""
    space = mk.Space([mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse")])
    frame = space.sample(30, seed=4)
    x = 1000.0 / frame["T"] - 1.0  # 0 at 1000 K
    frame["f"] = expit(1.5 - 40.0 * x**2 + 0.02 * np.random.default_rng(4).standard_normal(30))
    model = mk.fit(mk.Dataset.from_frame(frame, space, [mk.Task("f", transform="logit")]), restarts=1)
    cross = mk.level_crossing(model, "f", 0.5, along="T", n_samples=100)
    assert cross["mean_crossings"].iloc[0] == 2


def test_probability_above_is_exact_and_matches_draws(switch):
    model, *_ = switch
    test = model.space.sample(12, seed=5)
    exact = mk.probability_above(model, test, "f", 0.5)
    pred = model.predict(test)
    np.testing.assert_allclose(
        exact["probability"], norm.sf(-pred["transformed_mean"] / pred["transformed_std"])
    )
    sampled = mk.probability_above(model, test, "f", 0.5, method="samples", n_samples=4000)
    assert np.all(np.abs(sampled["probability"] - exact["probability"]) < 0.04)  # 5 MC std at p = 0.5


def test_errors_name_the_culprit(arrhenius_model, test_conditions):
    with pytest.raises(mk.InputDataError, match="unknown task 'x'"):
        mk.activation_energy(arrhenius_model, test_conditions, "x")
    with pytest.raises(mk.InputDataError, match="unknown condition 'Temp'"):
        mk.activation_energy(arrhenius_model, test_conditions, "k", temperature="Temp")
    with pytest.raises(mk.InputDataError, match="column 'T'"):
        mk.activation_energy(arrhenius_model, test_conditions.assign(T=-20.0), "k")
    with pytest.warns(mk.DataWarning, match="column 'T'.*outside the bounds.*extrapolate"):
        mk.activation_energy(arrhenius_model, test_conditions.assign(T=2000.0), "k")
    with pytest.raises(mk.InputDataError, match="level must be a probability"):
        mk.exponent(arrhenius_model, test_conditions, "k", level=95)
    with pytest.raises(mk.InputDataError, match="kind must be"):
        mk.activation_energy(arrhenius_model, test_conditions, "k", kind="fast")
    with pytest.raises(mk.InputDataError, match="method must be"):
        mk.activation_energy(arrhenius_model, test_conditions, "k", method="mcmc")
    with pytest.raises(mk.InputDataError, match="outside the domain"):
        mk.probability_above(arrhenius_model, test_conditions, "k", -1.0)
    lacks = r"at lacks condition column\(s\) \['P'\]; it has \['Q'\], and needs every condition but 'T'"
    with pytest.raises(mk.InputDataError, match=lacks):
        mk.level_crossing(arrhenius_model, "k", 1.0, along="T", at=pd.DataFrame({"Q": [1.0]}))


def test_the_temperature_is_found_whatever_its_name():
    # A lab file's temperature column is rarely called "T": the condition modelled as 1000/T is it.
    space = mk.Space(
        [
            mk.Continuous("P_bar", 1.0, 10.0, unit="bar", transform="log"),
            mk.Continuous("T5_K", 800.0, 1200.0, unit="K", transform="inverse"),
        ]
    )
    frame = space.sample(12, seed=0)
    frame["k"] = 1e13 * np.exp(-150e3 / (8.314462618 * frame["T5_K"]))
    model = mk.fit(mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform="log10")]))
    at = pd.DataFrame({"P_bar": [3.0], "T5_K": [1000.0]})
    named = mk.activation_energy(model, at, "k", temperature="T5_K")
    found = mk.activation_energy(model, at, "k")
    pd.testing.assert_frame_equal(found, named)
    assert found["lower"].iloc[0] < 150.0 < found["upper"].iloc[0]


@pytest.mark.slow
def test_h2o2_global_activation_energy_agrees_with_cantera():
    """The benchmark's protocol (benchmarks/derived.py, docs/derived.md) at one seed, 80 rows.

    The benchmark's figures are 0.93 / 0.96 coverage of the 95 % intervals at 40 / 80 training rows
    (3 seeds, 100 test conditions). The hard part is near the second explosion limit, where Ea rises
    from ~100 to ~900 kJ/mol within 0.05 of 1000/T: with a Matern-5/2 delay (the default before it
    chose smoothness per task) coverage at 80 rows fell to 0.85. The issue's goal, 0.9, is asserted
    (0.925 measured here: 37 of 40 test conditions).
    """
    from mtgp_kinetics.problems import H2O2Ignition

    problem = H2O2Ignition()
    frame = problem.sample(80, seed=0, observed_fraction={"f_branch": 0.3})
    model = mk.fit(mk.Dataset.from_frame(frame, problem.space, problem.tasks), restarts=2)
    # Test conditions one difference step inside the bounds; the half-step 0.004 in 1000/T is small
    # for the curvature of ln tau and large against the integrator's rounding of tau.
    step = 0.004
    inner = mk.Space(
        [
            mk.Continuous(
                "T", 1000.0 / (1000.0 / 900.0 - 0.005), 1000.0 / (1000.0 / 1500.0 + 0.005), "K", "inverse"
            ),
            problem.space["P"],
            problem.space["phi"],
        ]
    )
    test = inner.sample(40, seed=1000)
    inv = 1000.0 / test["T"].to_numpy()
    up, down = test.assign(T=1000.0 / (inv + step)), test.assign(T=1000.0 / (inv - step))
    ln_tau = [np.log(problem.evaluate(f, progress=False)["tau_ign"].to_numpy()) for f in (up, down)]
    truth = R * 1000.0 * (ln_tau[0] - ln_tau[1]) / (2 * step)
    ea = mk.activation_energy(model, test, "tau_ign")
    coverage = ((ea["lower"] <= truth) & (truth <= ea["upper"])).mean()
    assert coverage >= 0.9, coverage


@pytest.mark.slow
def test_bayesian_model_gets_intervals_from_its_mixture_draws():
    from mtgp_kinetics.bayes import NutsSettings, fit_nuts

    data = arrhenius_data()
    # Two short chains: enough for a mixture of 32 hyperparameter draws; the diagnostics may warn.
    # (One chain of 30 + 30 covered 8 of 10 conditions once the samples stopped adding the MAP
    # Laplace term on top of the draws; two chains of 60 + 60 cover 28 of these 30, 6 s.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.ConvergenceWarning)
        model = fit_nuts(
            data,
            restarts=1,
            settings=NutsSettings(num_warmup=60, num_samples=60, num_chains=2),
            progress=False,
            max_predictive_draws=32,
        )
    test = model.space.sample(30, seed=7)
    ea = mk.activation_energy(model, test, "k", n_samples=1000)  # method="auto": mixture draws
    fd = -R * finite_difference(model, test, "T", lambda t: 1.0 / t, lambda v: 1.0 / v)
    np.testing.assert_allclose(ea["mean"], fd, rtol=1e-4)  # the mixture mean's derivative
    assert ((ea["lower"] <= EA) & (EA <= ea["upper"])).mean() >= 0.9
    # The mixture's interval is not the Gaussian one built from its first two moments.
    gaussian = mk.activation_energy(model, test, "k", method="gaussian")
    assert not np.allclose(ea["lower"], gaussian["lower"], rtol=1e-3)


@pytest.mark.parametrize(
    ("unit", "kind"),
    [
        ("ms", "delay"),
        ("sec", "delay"),
        ("Seconds", "delay"),
        ("microseconds", "delay"),
        ("µsec", "delay"),
        ("min", "delay"),
        ("days", "delay"),  # shelf-life and stability studies
        ("yr", "delay"),
        ("fs", "delay"),
        ("1/s", "rate"),
        ("cm3/molecule/s", "rate"),
        ("", "rate"),
    ],
)
def test_auto_kind_reads_common_spellings_of_time_units(unit, kind):
    from mtgp_kinetics.derived import _delay_sign

    sign = _delay_sign(mk.Task("y", unit=unit, transform="log10"), "auto", "test")
    assert sign == _delay_sign(mk.Task("y", unit=unit, transform="log10"), kind, "test")
    assert _delay_sign(mk.Task("y", unit="ms"), "delay", "test") != _delay_sign(mk.Task("y"), "rate", "test")


def test_temperature_in_celsius_is_converted_to_kelvin(test_conditions):
    """The same data with T in degrees Celsius (modelled linearly) give the same Ea as in kelvin.

    Fitted separately the two models differ slightly (another input transform), so the check is on
    the truth: the known Ea must lie in the Celsius model's intervals, as it does in kelvin. Read
    as kelvin, the Celsius values would give Ea scaled by (T_C / T_K)^2, 0.3-0.7 here.
    """
    space = mk.Space(
        [
            mk.Continuous("T_C", 700.0 - 273.15, 1400.0 - 273.15, unit="degC"),
            mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
        ]
    )
    raw = arrhenius_data(t_transform="none").space.sample(25, seed=0)
    ln_k = LN_A - EA / (R * raw["T"]) + ORDER * np.log(raw["P"])
    frame = pd.DataFrame(
        {
            "T_C": raw["T"] - 273.15,
            "P": raw["P"],
            "k": np.exp(ln_k + 0.05 * np.random.default_rng(0).standard_normal(25)),
        }
    )
    data = mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform="log10", kind="rate")])
    model = mk.fit(data, restarts=1)
    test = test_conditions.assign(T_C=test_conditions["T"] - 273.15).drop(columns="T")
    ea = mk.activation_energy(model, test, "k", temperature="T_C")
    assert ((ea["lower"] <= EA) & (EA <= ea["upper"])).mean() >= 0.9
    fd = -R * finite_difference(model, test, "T_C", lambda t: 1.0 / (t + 273.15), lambda v: 1.0 / v - 273.15)
    np.testing.assert_allclose(ea["mean"], fd, rtol=1e-3)


def test_a_temperature_unit_it_does_not_know_is_refused():
    """'oC' read as kelvin gave Ea off by (T_C / T_K)^2 without a word; a pressure is no temperature."""
    from mtgp_kinetics.space import kelvin_offset

    assert kelvin_offset(mk.Continuous("T", 400.0, 500.0, unit="oC"), "x") == 273.15
    assert kelvin_offset(mk.Continuous("T", 400.0, 500.0, unit="Cel"), "x") == 273.15
    assert kelvin_offset(mk.Continuous("T", 400.0, 500.0, unit=""), "x") == 0.0
    for unit in ("bar", "degrees", "°"):
        with pytest.raises(
            mk.InputDataError, match=rf"condition 'T' has unit '{unit}', not a temperature unit"
        ):
            kelvin_offset(mk.Continuous("T", 400.0, 500.0, unit=unit), "activation_energy")


def test_numpy_levels_are_numbers(arrhenius_model, test_conditions):
    model = arrhenius_model
    task = model.task_names[0]
    level = float(np.median(model.predict(test_conditions)["mean"]))
    a = mk.probability_above(model, test_conditions, task, level=np.float32(level))
    b = mk.probability_above(model, test_conditions, task, level=float(np.float32(level)))
    np.testing.assert_allclose(a["probability"], b["probability"])


def test_fahrenheit_temperature_is_rejected():
    space = mk.Space([mk.Continuous("T_F", 800.0, 2000.0, unit="degF")])
    frame = pd.DataFrame({"T_F": np.linspace(800.0, 2000.0, 8), "k": np.linspace(1.0, 9.0, 8)})
    data = mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform="log10")])
    model = mk.fit(data, restarts=1)
    with pytest.raises(mk.InputDataError, match="T_F"):
        mk.activation_energy(model, frame[["T_F"]], "k", temperature="T_F")


def test_draws_at_or_below_zero_of_a_linear_task_are_named_in_a_warning():
    # A rate modelled linearly near zero: at 300 K some posterior draws are negative, where
    # ln k (hence Ea) is undefined. The summary is over the defined draws, and the warning says so.
    rng = np.random.default_rng(0)
    space = mk.Space([mk.Continuous("T", 300.0, 600.0, "K", "inverse")])
    T = np.linspace(300.0, 600.0, 12)
    frame = pd.DataFrame({"T": T, "k": 50.0 * np.exp(-2000.0 / T) + 0.05 * rng.standard_normal(12)})
    data = mk.Dataset.from_frame(frame, space, [mk.Task("k", "1/s", None, "rate")])
    model = mk.fit(data, "independent", progress=False)
    at = pd.DataFrame({"T": [300.0, 450.0, 600.0]})
    undefined = r"at 1 of 3 condition\(s\) some posterior draws are <= 0"
    with pytest.warns(mk.NumericsWarning, match=undefined) as caught:
        ea = mk.activation_energy(model, at, "k", seed=0)
    assert caught[0].filename == __file__  # points at the call, not inside the package
    assert np.isfinite(ea[["mean", "std", "lower", "upper"]].to_numpy()).all()
    # Away from zero every draw is positive: the activation energy is about R * 2000 K.
    assert ea.loc[2, "lower"] < R * 2000.0 < ea.loc[2, "upper"]


def test_draw_counts_and_levels_are_checked_by_the_function_called(arrhenius_model):
    model = arrhenius_model
    at = pd.DataFrame({"T": [800.0, 1000.0], "P": 1.0})
    for bad in (0, 1, -3, 2.5, True):
        with pytest.raises(mk.InputDataError, match=r"^probability_above: n_samples must be an integer >= 2"):
            mk.probability_above(model, at, "k", 1e3, method="samples", n_samples=bad)
        with pytest.raises(mk.InputDataError, match=r"^level_crossing: n_samples must be an integer >= 2"):
            mk.level_crossing(model, "k", 1e3, along="T", at=at[["P"]], n_samples=bad)
        with pytest.raises(mk.InputDataError, match=r"^exponent: n_samples must be an integer >= 2"):
            mk.exponent(model, at, "k", "T", n_samples=bad)
    with pytest.raises(mk.InputDataError, match=r"^activation_energy: step must be in \(0, 0\.1\]"):
        mk.activation_energy(model, at, "k", step=0.5)
    with pytest.raises(mk.InputDataError, match=r"^activation_energy: conditions: column 'T'"):
        mk.activation_energy(model, pd.DataFrame({"T": [0.0], "P": 1.0}), "k")
    with pytest.raises(mk.InputDataError, match="physical unit, not its log"):
        mk.probability_above(model, at, "k", -10.0)


def test_results_keep_the_callers_row_labels_and_at_may_not_hold_the_crossed_condition(arrhenius_model):
    runs = pd.DataFrame({"T": [800.0, 1000.0, 1200.0], "P": 1.0}, index=[101, 102, 103])
    ea = mk.activation_energy(arrhenius_model, runs, "k")
    assert list(ea.index) == [101, 102, 103]
    runs["Ea"] = ea["mean"]  # the usual assignment lines up
    assert runs["Ea"].notna().all()
    assert list(mk.exponent(arrhenius_model, runs, "k", "P").index) == [101, 102, 103]
    assert list(mk.probability_above(arrhenius_model, runs, "k", 1e3).index) == [101, 102, 103]
    with pytest.raises(
        mk.InputDataError, match="at has a column 'T', the condition the crossing is searched along"
    ):
        mk.level_crossing(arrhenius_model, "k", 1e3, along="T", at=runs[["T", "P"]])
    crossing = mk.level_crossing(arrhenius_model, "k", 1e3, along="T", at=runs[["P"]].iloc[:1], n_samples=20)
    assert list(crossing.index) == [101]


def celsius_delay_model() -> tuple[mk.KineticsModel, float, float]:
    """A delay ``tau = A exp(Ea / R T_K) P^n`` with T in degrees Celsius, and a yield in per cent."""
    ea, order = 120.0, -0.8
    space = mk.Space(
        [
            mk.Continuous("T", 600.0, 1000.0, unit="degC", transform="none"),
            mk.Continuous("P", 1.0, 10.0, unit="bar", transform="log"),
        ]
    )
    frame = space.sample(25, seed=0)
    frame["tau"] = 1e-6 * np.exp(ea / (R * (frame["T"] + 273.15))) * frame["P"] ** order
    frame["y"] = 100.0 / (1.0 + np.exp(-(frame["T"] - 800.0) / 40.0))
    tasks = [
        mk.Task("tau", unit="ms", transform="log10", kind="rate"),
        mk.Task("y", unit="%", transform="logit", kind="mechanism"),
    ]
    return mk.fit(mk.Dataset.from_frame(frame, space, tasks), restarts=1), ea, order


@pytest.fixture(scope="module")
def celsius_delay():
    return celsius_delay_model()


def test_the_exponent_along_a_celsius_temperature_is_taken_in_kelvin(celsius_delay):
    """``d ln tau / d ln T`` means T in kelvin (``k ~ T^b``); ln of a Celsius value is no exponent.

    For ``tau ~ exp(Ea / R T_K)`` it is ``-Ea / (R T_K)``: -13.45 at 800 degC, where reading the
    Celsius value gives -10.0.
    """
    model, ea, _ = celsius_delay
    at = pd.DataFrame({"T": [700.0, 800.0, 900.0], "P": 5.0})
    found = mk.exponent(model, at, "tau", "T")
    truth = -ea / (R * (at["T"] + 273.15))
    assert ((found["lower"] <= truth) & (truth <= found["upper"])).all(), found
    np.testing.assert_allclose(found["mean"], truth, rtol=0.02)


def test_activation_energy_of_a_mechanism_task_warns_what_it_is(celsius_delay):
    model, _, _ = celsius_delay
    at = pd.DataFrame({"T": [800.0], "P": 5.0})
    with pytest.warns(mk.DataWarning, match="'y' is a mechanism task .* level_crossing"):
        mk.activation_energy(model, at, "y")


def test_a_fraction_given_as_level_of_a_percent_task_is_pointed_out(celsius_delay):
    """``level=0.5`` on a yield in per cent is 0.5 %, a valid level: answered, with a warning."""
    model, _, _ = celsius_delay
    at = pd.DataFrame({"T": [800.0], "P": 5.0})
    with pytest.warns(mk.DataWarning, match=r"level=0.5 is read as 0.5 %; .* give level=50"):
        low = mk.probability_above(model, at, "y", 0.5)
    assert low["probability"].iloc[0] > 0.99
    half = mk.probability_above(model, at, "y", 50.0)  # no warning: pytest turns one into an error
    assert 0.05 < half["probability"].iloc[0] < 0.95


def test_a_fahrenheit_temperature_is_named_when_none_is_given():
    space = mk.Space([mk.Continuous("T", 800.0, 2000.0, unit="degF")])
    frame = pd.DataFrame({"T": np.linspace(800.0, 2000.0, 8), "k": np.linspace(1.0, 9.0, 8)})
    model = mk.fit(mk.Dataset.from_frame(frame, space, [mk.Task("k", unit="1/s", transform="log10")]))
    with pytest.raises(mk.InputDataError, match="'T' has unit 'degF', a temperature unit this package"):
        mk.activation_energy(model, frame[["T"]], "k")


def test_a_crossing_along_a_categorical_condition_says_what_it_needs():
    space = mk.Space(
        [
            mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse"),
            mk.Categorical("gas", ["Ar", "N2"]),
        ]
    )
    frame = space.sample(10, seed=0)
    frame["f"] = np.linspace(0.2, 0.8, 10)
    model = mk.fit(mk.Dataset.from_frame(frame, space, [mk.Task("f", transform="logit", kind="mechanism")]))
    with pytest.raises(mk.InputDataError, match="'gas' is categorical; a crossing along it needs"):
        mk.level_crossing(model, "f", 0.5, along="gas", at=pd.DataFrame({"T": [1000.0]}))

"""Tests of mtgp_kinetics.plotting: every figure shows what the model and the data say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless; plotting itself never touches pyplot

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import mtgp_kinetics as mk
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.models.structure import kernel_spec
from mtgp_kinetics.plotting import (
    _LOGIT_MIN_GAP,
    arrhenius_plot,
    default_conditions,
    learning_curve,
    parity_plot,
    task_correlation_heatmap,
    temperature_variable,
)
from mtgp_kinetics.problems import AnalyticKinetics
from mtgp_kinetics.space import Categorical, Continuous, Space
from mtgp_kinetics.tasks import Task

# Plotted coordinates are the float64 predictions passed through matplotlib unchanged; 1000/T is
# recomputed here, a few ulps apart.
RTOL = 1e-10


@pytest.fixture(scope="module")
def problem() -> AnalyticKinetics:
    return AnalyticKinetics()


@pytest.fixture(scope="module")
def model(problem) -> KineticsModel:
    frame = problem.sample(15, seed=0, observed_fraction={"f_a": 0.5})
    return mk.fit(mk.Dataset.from_frame(frame, problem.space, problem.tasks), kernel="lmc", restarts=1)


@pytest.fixture(scope="module")
def held_out(problem, model) -> pd.DataFrame:
    """Predictions at 12 new conditions with the true values as ``observed``."""
    conditions = problem.space.sample(12, seed=7)
    truth = problem.evaluate(conditions)
    pred = model.predict(conditions)
    pred["observed"] = truth[problem.task_names].to_numpy().reshape(-1)  # condition-major, like pred
    return pred


def _grid(model: KineticsModel, n_points: int, **fixed: float) -> pd.DataFrame:
    temperature = model.space["T"]
    grid = pd.DataFrame({"T": temperature.from_unit_interval(np.linspace(0.0, 1.0, n_points))})
    grid["P"] = fixed.get("P", np.sqrt(0.1 * 10.0))  # geometric mean of the P bounds: 1 bar
    return grid


def _contains_points(vertices: np.ndarray, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether every point (x_i, y_i) is one of the polygon's vertices."""
    dx = np.isclose(vertices[:, None, 0], x[None, :], rtol=RTOL)
    dy = np.isclose(vertices[:, None, 1], y[None, :], rtol=RTOL)
    return bool((dx & dy).any(axis=0).all())


# -- arrhenius_plot ------------------------------------------------------------------------------
def test_arrhenius_plot_draws_the_model_prediction_and_band(model, tmp_path):
    fig = arrhenius_plot(model, "log_k", n_points=25)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    pred = model.predict(_grid(model, 25), tasks=["log_k"])
    x = 1000.0 / _grid(model, 25)["T"].to_numpy()

    [line] = ax.lines
    np.testing.assert_allclose(line.get_xdata(), x, rtol=RTOL)
    np.testing.assert_allclose(line.get_ydata(), pred["mean"], rtol=RTOL)
    band = ax.collections[0]
    vertices = band.get_paths()[0].vertices
    assert _contains_points(vertices, x, pred["lower"].to_numpy())
    assert _contains_points(vertices, x, pred["upper"].to_numpy())
    assert np.all(pred["lower"] < pred["mean"]) and np.all(pred["mean"] < pred["upper"])

    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "1000 / T [1/K]"
    assert ax.get_ylabel() == "log_k [cm3/mol/s]"
    assert "P = 1 bar" in ax.get_title()

    path = tmp_path / "arrhenius.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_arrhenius_plot_overlays_the_task_observations(model):
    fig = arrhenius_plot(model, "f_a", fixed={"P": 2.0}, near=0.2)
    ax = fig.axes[0]
    # band, observations near P = 2 bar, the other observations
    assert len(ax.collections) == 3
    near, other = ax.collections[1], ax.collections[2]
    obs = model.data.observations
    obs = obs[obs["task"] == "f_a"]
    shown = np.concatenate([near.get_offsets(), other.get_offsets()])
    assert len(shown) == len(obs) == model.data.counts()["f_a"]
    expected = np.column_stack([1000.0 / obs["T"], obs["value"]])
    assert _contains_points(shown, expected[:, 0], expected[:, 1])
    # "near": within 0.2 of the ln P range of the fixed P
    u = (np.log(obs["P"].to_numpy()) - np.log(0.1)) / (np.log(10.0) - np.log(0.1))
    u_fixed = (np.log(2.0) - np.log(0.1)) / (np.log(10.0) - np.log(0.1))
    assert len(near.get_offsets()) == int((np.abs(u - u_fixed) <= 0.2).sum())
    assert ax.get_yscale() == "linear"  # logit task: fractions on a plain axis
    assert "P = 2 bar" in ax.get_title()


def test_arrhenius_plot_without_data_and_on_given_axes(model):
    fig = Figure()
    axes = fig.subplots(1, 2)
    returned = arrhenius_plot(model, "log_k", data=False, ax=axes[1], n_points=10)
    assert returned is fig
    assert len(axes[1].collections) == 1 and len(axes[1].lines) == 1
    assert not axes[0].has_data()


def test_arrhenius_plot_rejects_bad_arguments(model):
    with pytest.raises(InputDataError, match=r"unknown task 'nope'.*\['log_k', 'f_a'\]"):
        arrhenius_plot(model, "nope")
    with pytest.raises(InputDataError, match=r"unknown condition\(s\) \['Q'\]"):
        arrhenius_plot(model, "log_k", fixed={"Q": 1.0})
    with pytest.raises(InputDataError, match="'T' is the x axis"):
        arrhenius_plot(model, "log_k", fixed={"T": 800.0})
    with pytest.raises(InputDataError, match=r"column 'P'.*outside the bounds"):
        arrhenius_plot(model, "log_k", fixed={"P": 50.0})
    with pytest.raises(InputDataError, match="n_points"):
        arrhenius_plot(model, "log_k", n_points=1)
    with pytest.raises(InputDataError, match=r"variable 'P' as temperature.*P \(log\)"):
        arrhenius_plot(model, "log_k", temperature="P")


def test_arrhenius_plot_needs_a_temperature():
    space = Space([Continuous("T", 600.0, 1200.0, "", transform="none"), Continuous("x", 0.0, 1.0)])
    task = Task("k", unit="1/s", transform="log10")
    frame = pd.DataFrame({"T": [700.0, 900.0, 1100.0], "x": [0.1, 0.5, 0.9], "k": [1.0, 10.0, 100.0]})
    unfitted = KineticsModel.from_dataset(mk.Dataset.from_frame(frame, space, [task]), kernel_spec("icm"))
    # The check comes before any prediction, so the model need not be fitted.
    with pytest.raises(InputDataError, match=r"transform='inverse'.*'K' or 'degC'.*T \(none\), x \(none\)"):
        arrhenius_plot(unfitted, "k")


def test_arrhenius_plot_of_a_celsius_temperature_is_against_1000_over_kelvin():
    """A campaign in degrees Celsius (modelled linearly) gets its Arrhenius plot in 1000 / T_K."""
    model = _celsius_rate_model()
    fig = arrhenius_plot(model, "k", fixed={"P": 1.0}, n_points=6)
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    celsius = 1000.0 / np.asarray(line.get_xdata()) - 273.15
    assert celsius.min() == pytest.approx(model.space["T_C"].lower)
    assert celsius.max() == pytest.approx(model.space["T_C"].upper)
    expected = model.predict(pd.DataFrame({"T_C": celsius, "P": 1.0}), tasks=["k"])["mean"]
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-8)
    data_x = ax.collections[1].get_offsets()[:, 0]  # the observations near P = 1 bar
    observed = model.data.observations["T_C"].to_numpy() + 273.15
    assert np.isin(np.round(1000.0 / data_x, 6), np.round(observed, 6)).all()
    assert ax.get_xlabel() == "1000 / T_K [1/K], T_K = T_C [degC] + 273.15"
    # The grid is even in 1000 / T_K (as for a temperature modelled as 1000 / T), not in T_C.
    steps = np.diff(line.get_xdata())
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


def test_arrhenius_plot_legend_and_top_ticks_of_a_narrow_range():
    """A 295-305 K range still gets several distinct top-axis temperatures; the legend lists only
    the kinds of observation drawn."""
    space = Space([Continuous("T", 295.0, 305.0, unit="K", transform="inverse")])
    frame = space.sample(8, seed=0)
    frame["k"] = np.exp(30.0 - 9000.0 / frame["T"])
    data = mk.Dataset.from_frame(frame, space, [Task("k", unit="1/s", transform="log10")])
    fig = arrhenius_plot(mk.fit(data, restarts=1), "k")
    ax = fig.axes[0]
    top = ax.child_axes[0]
    ticks = top.get_xticks()
    assert len(ticks) >= 4 and len(set(np.round(ticks, 6))) == len(ticks)
    assert all(295.0 <= t <= 305.0 for t in ticks)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "observed elsewhere" not in labels and "observed near these conditions" in labels


def test_logit_axis_ticks_never_crowd():
    """Over 0.001-0.999 the fraction ticks keep _LOGIT_MIN_GAP of the axis apart (no "0.30.40.5")."""
    task = Task("f", transform="logit")
    frame = pd.DataFrame(
        {
            "observed": [0.001, 0.5, 0.999],
            "mean": [0.002, 0.5, 0.998],
            "lower": [0.001, 0.4, 0.99],
            "upper": [0.01, 0.6, 0.999],
        }
    )
    fig = parity_plot(frame, task=task)
    ticks = np.asarray(fig.axes[0].get_xticks())
    z = np.log(ticks / (1.0 - ticks))
    low, high = (np.log(v / (1.0 - v)) for v in sorted(fig.axes[0].get_xlim()))
    assert len(ticks) >= 3 and np.diff(np.sort(z)).min() >= _LOGIT_MIN_GAP * (high - low) - 1e-12
    assert 0.5 in ticks


def test_default_conditions_and_temperature_variable():
    space = Space(
        [
            Continuous("P", 1.0, 100.0, "bar", "log"),
            Continuous("T", 700.0, 1400.0, "K", "inverse"),
            Continuous("phi", 0.5, 2.0),
            Categorical("gas", ("Ar", "N2")),
        ]
    )
    assert default_conditions(space) == {"P": pytest.approx(10.0), "T": 1050.0, "phi": 1.25, "gas": "Ar"}
    assert temperature_variable(space).name == "T"


# -- parity_plot ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("task_index", "scale"), [(0, "log"), (1, "logit")])
def test_parity_plot_shows_predictions_against_observations(model, held_out, task_index, scale, tmp_path):
    task = model.tasks[task_index]
    rows = held_out[held_out["task"] == task.name]
    # The whole long frame is given; only the rows of `task` are drawn.
    fig = parity_plot(held_out, task=task)
    ax = fig.axes[0]
    markers, identity = ax.lines
    np.testing.assert_allclose(markers.get_xdata(), rows["observed"], rtol=RTOL)
    np.testing.assert_allclose(markers.get_ydata(), rows["mean"], rtol=RTOL)
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    [bars] = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = np.array(bars.get_segments())  # n x 2 x 2: (observed, lower) to (observed, upper)
    np.testing.assert_allclose(segments[:, 0, 1], rows["lower"], rtol=RTOL)
    np.testing.assert_allclose(segments[:, 1, 1], rows["upper"], rtol=RTOL)
    inside = int(((rows["observed"] >= rows["lower"]) & (rows["observed"] <= rows["upper"])).sum())
    assert [t.get_text() for t in ax.texts] == [f"{inside} of {len(rows)} inside the interval"]
    assert ax.get_xscale() == ax.get_yscale() == scale
    fig.savefig(tmp_path / "parity.png")
    assert (tmp_path / "parity.png").stat().st_size > 0


def test_parity_plot_rejects_bad_frames(model, held_out):
    task = model.tasks[0]
    with pytest.raises(InputDataError, match=r"missing column\(s\) \['observed'\]"):
        parity_plot(held_out.drop(columns="observed"), task=task)
    with pytest.raises(InputDataError, match="no rows for task 'other'"):
        parity_plot(held_out, task=Task("other", transform="log10"))
    bad = held_out[held_out["task"] == "log_k"].copy()
    bad.loc[bad.index[2], "observed"] = -1.0
    with pytest.raises(InputDataError, match=r"'observed' has value\(s\) \[-1.0\] at row\(s\) 4 outside"):
        parity_plot(bad, task=task)
    with pytest.raises(InputDataError, match="must be a Task"):
        parity_plot(held_out, task="log_k")
    swapped = held_out.rename(columns={"lower": "upper", "upper": "lower"})
    with pytest.raises(InputDataError, match=r"'lower' is above 'upper' at row\(s\) .*swapped"):
        parity_plot(swapped, task=task)


def test_parity_plot_of_a_per_cent_task_has_logit_axes_in_per_cent(tmp_path):
    task = Task("yield", "%", "logit", "mechanism")
    frame = pd.DataFrame(
        {
            "observed": [2.0, 30.0, 75.0, 99.0],
            "mean": [3.0, 28.0, 80.0, 98.5],
            "lower": [1.0, 20.0, 70.0, 97.0],
        }
    ).assign(upper=[6.0, 37.0, 88.0, 99.5])
    ax = parity_plot(frame, task=task).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "function"
    # The scale is logit(y / 100): 50 % in the middle of 10 % and 90 %, ticks labelled in per cent.
    to_axis = ax.yaxis.get_transform().transform
    np.testing.assert_allclose(to_axis(np.array([10.0, 50.0, 90.0])), np.log([1 / 9, 1.0, 9.0]), rtol=1e-12)
    assert {"1", "50", "99"} <= {label.get_text() for label in ax.get_yticklabels()}
    ax.figure.savefig(tmp_path / "parity_percent.png")


# -- task_correlation_heatmap ---------------------------------------------------------------------
def test_task_correlation_heatmap_shows_the_matrix(model, tmp_path):
    corr = model.task_correlation()
    fig = task_correlation_heatmap(corr)
    ax = fig.axes[0]
    [image] = ax.images
    np.testing.assert_allclose(image.get_array(), corr.to_numpy())
    assert image.get_clim() == (-1.0, 1.0)
    assert image.get_cmap().name == "RdBu_r"
    assert len(fig.axes) == 2  # the matrix and its colour bar
    expected = [f"{v:.2f}" for v in corr.to_numpy().ravel()]
    assert [t.get_text() for t in ax.texts] == expected
    assert [t.get_text() for t in ax.get_xticklabels()] == ["log_k", "f_a"]
    fig.savefig(tmp_path / "corr.png")

    plain = task_correlation_heatmap(corr, annotate=False, title="posterior mean task correlation")
    assert len(plain.axes[0].texts) == 0
    assert ax.get_title() == "task correlation"
    assert plain.axes[0].get_title() == "posterior mean task correlation"
    # A fitted model is taken too, like every other plot takes one.
    np.testing.assert_allclose(task_correlation_heatmap(model).axes[0].images[0].get_array(), corr.to_numpy())
    with pytest.raises(InputDataError, match="or a fitted model, got list"):
        task_correlation_heatmap([[1.0]])


def test_task_correlation_heatmap_rejects_non_correlations():
    with pytest.raises(InputDataError, match="square"):
        task_correlation_heatmap(pd.DataFrame([[1.0, 0.5]], index=["a"], columns=["a", "b"]))
    with pytest.raises(InputDataError, match=r"outside \[-1, 1\]"):
        task_correlation_heatmap(pd.DataFrame([[1.0, 1.5], [1.5, 1.0]], index=["a", "b"], columns=["a", "b"]))


# -- learning_curve -----------------------------------------------------------------------------
def test_learning_curve_draws_one_mean_line_per_group(tmp_path):
    frame = pd.DataFrame(
        {
            "n_observations": [5, 10, 5, 10, 5, 10],
            "value": [1.0, 0.5, 3.0, 1.5, 2.0, 2.0],
            "strategy": ["random", "random", "random", "random", "ei", "ei"],
        }
    )
    fig = learning_curve(frame)
    ax = fig.axes[0]
    random, ei = ax.lines
    assert random.get_label() == "random" and ei.get_label() == "ei"
    np.testing.assert_allclose(random.get_ydata(), [2.0, 1.0])  # means of two repeats
    np.testing.assert_allclose(ei.get_ydata(), [2.0, 2.0])
    assert len(ax.collections) == 1  # a spread band only where there are repeats
    fig.savefig(tmp_path / "curve.png")

    single = learning_curve(frame, hue=None).axes[0]
    assert len(single.lines) == 1
    with pytest.raises(InputDataError, match=r"missing column\(s\) \['budget'\]"):
        learning_curve(frame, x="budget")


def _celsius_rate_model() -> KineticsModel:
    """A rate over a temperature in degrees Celsius, modelled linearly (1000/T needs kelvin)."""
    space = Space(
        [
            Continuous("T_C", 430.0, 1130.0, unit="degC"),
            Continuous("P", 0.5, 5.0, unit="bar", transform="log"),
        ]
    )
    frame = space.sample(20, seed=0)
    frame["k"] = np.exp(20.0 - 15000.0 / (frame["T_C"] + 273.15))
    return mk.fit(mk.Dataset.from_frame(frame, space, [Task("k", unit="1/s", transform="log10")]), restarts=1)


def test_activation_energy_plot_draws_what_activation_energy_says():
    from mtgp_kinetics.plotting import activation_energy_plot

    model = _celsius_rate_model()
    fig = activation_energy_plot(model, "k", fixed={"P": "1.0"}, n_points=5)  # text from a form
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    grid = pd.DataFrame({"T_C": line.get_xdata(), "P": 1.0})
    ea = mk.activation_energy(model, grid, "k", temperature="T_C")
    np.testing.assert_allclose(line.get_ydata(), ea["mean"], rtol=1e-8)
    assert "T_C" in ax.get_xlabel() and "kJ/mol" in ax.get_ylabel()
    no_temperature = Space([Continuous("x", 0.0, 1.0), Continuous("P", 0.5, 5.0, unit="bar")])
    frame = no_temperature.sample(8, seed=1).assign(k=np.linspace(1.0, 2.0, 8))
    other = mk.fit(mk.Dataset.from_frame(frame, no_temperature, [Task("k", transform="log10")]), restarts=1)
    with pytest.raises(InputDataError, match=r"no temperature among \['x', 'P'\]"):
        activation_energy_plot(other, "k")

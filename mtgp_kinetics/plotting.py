"""Figures of fitted models and campaigns: Arrhenius plots, parity plots, task correlations, learning curves.

Every function draws on the ``ax`` it is given, or on a new :class:`~matplotlib.figure.Figure` made
without :mod:`matplotlib.pyplot` (no GUI backend, no global figure list to close), and returns the
figure, so it works the same in scripts, headless CI and notebooks::

    fig = arrhenius_plot(model, "tau_ign", fixed={"P": 10.0, "phi": 1.0})
    fig.savefig("tau_ign.png", dpi=150)

All values are in physical units; axes of log-modelled tasks are logarithmic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator, NullLocator

from mtgp_kinetics.errors import InputDataError, check_integer
from mtgp_kinetics.space import (
    Categorical,
    Continuous,
    Space,
    _rows,
    kelvin_offset,
    temperature_candidates,
    temperature_condition,
)
from mtgp_kinetics.tasks import Task

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel

#: Colours of the model (line and band) and of the data.
MODEL_COLOR = "C0"
DATA_COLOR = "black"
OTHER_DATA_COLOR = "0.6"

_LOG_TRANSFORMS = ("log", "log10")
#: Tick candidates of a logit (fraction) axis, in the order they are offered a place.
_LOGIT_TICKS = (0.5, 0.1, 0.9, 0.01, 0.99, 0.001, 0.999, 0.3, 0.7, 0.05, 0.95, 0.2, 0.8, 0.4, 0.6)
#: Smallest gap between two logit-axis ticks, as a fraction of the axis length (about 30 pixels in
#: the report's figures, room for a label such as "0.95").
_LOGIT_MIN_GAP = 0.07


class _SpacedLogitLocator(Locator):
    """Ticks of a logit axis from :data:`_LOGIT_TICKS`, never closer than :data:`_LOGIT_MIN_GAP`.

    A fixed list (0.3, 0.4, 0.5, ...) crowds into one run of digits ("0.30.40.5") when the axis
    spans 0.001-0.999; here each candidate, in order of preference, is kept only if it lies inside
    the view and far enough (in logit units, relative to the view) from the ticks kept before it.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale  # 1 for fractions, 100 for per cent

    def __call__(self) -> list[float]:
        low, high = sorted(self.axis.get_view_interval())
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        def logit(v: float) -> float:
            p = min(max(v / self.scale, 1e-12), 1.0 - 1e-12)
            return float(np.log(p / (1.0 - p)))

        low, high = logit(min(vmin, vmax)), logit(max(vmin, vmax))
        gap = _LOGIT_MIN_GAP * max(high - low, 1e-12)
        kept: list[float] = []
        for fraction in _LOGIT_TICKS:
            z = logit(self.scale * fraction)
            if low <= z <= high and all(abs(z - logit(k)) >= gap for k in kept):
                kept.append(self.scale * fraction)
        return sorted(kept)


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The root figure of ``ax``, or a new figure with one axes (no pyplot involved)."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    root: Any = ax.figure
    while not isinstance(root, Figure):  # an axes inside a SubFigure
        root = root.figure
    return root, ax


def _inverse_1000(values: np.ndarray) -> np.ndarray:
    """``1000 / x``, elementwise; matplotlib probes secondary axes at 0, which maps to inf quietly."""
    with np.errstate(divide="ignore"):
        return 1000.0 / np.asarray(values, dtype=float)


def _model_task(model: KineticsModel, task: str, where: str) -> Task:
    if task not in model.task_names:
        raise InputDataError(f"{where}: unknown task {task!r}; the model's tasks are {model.task_names}")
    return model.tasks[model.task_names.index(task)]


def temperature_variable(space: Space, name: str | None = None, where: str = "plot") -> Continuous:
    """The temperature of a space for an Arrhenius plot.

    The continuous variable modelled as ``1000 / T``; without one, a temperature in kelvin or
    degrees Celsius modelled otherwise (the plot's axis is then ``1000 / T_K`` all the same).

    Parameters
    ----------
    space : Space
        The conditions.
    name : str, optional
        Pick this variable; default the first Continuous with ``transform="inverse"``, else the
        first in kelvin or degrees Celsius.
    where : str
        Caller name for error messages.

    Returns
    -------
    Continuous
        The temperature variable.

    Raises
    ------
    InputDataError
        If there is no such variable, or ``name`` is not one.
    """
    candidates = temperature_candidates(space)
    if name is not None:
        candidates = [v for v in candidates if v.name == name]
    if not candidates:
        described = ", ".join(
            f"{v.name} ({v.transform})" if isinstance(v, Continuous) else f"{v.name} (categorical)"
            for v in space.variables
        )
        wanted = f"variable {name!r} as" if name is not None else "a variable as"
        raise InputDataError(
            f"{where}: needs {wanted} temperature: a Continuous modelled as 1000/T "
            f"(transform='inverse'), or one in kelvin or degrees Celsius (unit 'K' or 'degC'); the "
            f"space has {described}"
        )
    return candidates[0]


def default_conditions(space: Space) -> dict[str, Any]:
    """A central condition of a space: the default values of the variables an Arrhenius plot fixes.

    Returns
    -------
    dict
        Per variable: the geometric mean of the bounds for ``log`` variables (the middle in the
        modelled coordinate), the arithmetic mid-point for others, the first level of categoricals.
    """
    values: dict[str, Any] = {}
    for v in space.variables:
        if isinstance(v, Categorical):
            values[v.name] = v.levels[0]
        elif v.transform == "log":
            values[v.name] = float(np.sqrt(v.lower * v.upper))
        else:
            values[v.name] = 0.5 * (v.lower + v.upper)
    return values


def _describe(values: Mapping[str, Any], space: Space) -> str:
    parts = []
    for name, value in values.items():
        v = space[name]
        if isinstance(v, Continuous):
            parts.append(f"{name} = {float(value):.3g} {v.unit}".rstrip())  # "1.0" from a form is a number
        else:
            parts.append(f"{name} = {value}")
    return ", ".join(parts)


def _near(observations: pd.DataFrame, fixed: Mapping[str, Any], space: Space, tolerance: float) -> np.ndarray:
    """Boolean mask of observations whose fixed conditions lie within ``tolerance`` of ``fixed``.

    Continuous distances are measured in normalized modelled coordinates (a fraction of the range
    in ln P, 1000/T...); categorical conditions must match exactly.
    """
    mask = np.ones(len(observations), dtype=bool)
    for name, value in fixed.items():
        v = space[name]
        if isinstance(v, Categorical):
            mask &= (observations[name].astype(str) == str(value)).to_numpy()
        else:
            u_obs = v.to_unit_interval(observations[name].to_numpy(dtype=float))
            u_fix = v.to_unit_interval(np.array([float(value)]))
            mask &= np.abs(u_obs - u_fix) <= tolerance
    return mask


def arrhenius_plot(
    model: KineticsModel,
    task: str,
    *,
    fixed: Mapping[str, Any] | None = None,
    data: bool = True,
    level: float = 0.95,
    n_points: int = 100,
    near: float = 0.15,
    temperature: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Prediction of one task against ``1000 / T``, with its credible band and the data.

    Parameters
    ----------
    model : KineticsModel
        A fitted model whose space has a temperature (see :func:`temperature_variable`: a
        Continuous modelled as ``1000 / T``, or else one in kelvin or degrees Celsius).
    task : str
        Task name.
    fixed : mapping of str to value, optional
        Values [physical units] of the other conditions. Unnamed ones default to
        :func:`default_conditions` (geometric mean of the bounds for ``log`` variables, mid-point
        for others, first level for categoricals).
    data : bool
        Overlay the task's observations (``model.data``; skipped when the model has none). Those
        within ``near`` of the fixed conditions are drawn filled, the others as grey rings: all
        are drawn at their own temperature, whatever their other conditions.
    level : float
        Probability of the central credible band, in (0, 1).
    n_points : int
        Grid points, evenly spaced in ``1000 / T`` over the temperature bounds (>= 2).
    near : float
        Tolerance of "near", in normalized modelled coordinates (fraction of the range of ln P,
        of a linear variable...); categoricals must match.
    temperature : str, optional
        Name of the temperature variable when the space has several inverse-transformed ones.
    ax : Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    Figure
        Mean (the median for log/logit tasks) as a line, the band as a filled polygon, data as
        scatter collections; bottom axis ``1000 / T [1/K]``, top axis ``T [K]``, log y axis for
        log-modelled tasks.

    Raises
    ------
    InputDataError
        For an unknown task, a space without temperature, unknown or out-of-bounds ``fixed``
        values, or a bad ``n_points``/``level``.
    """
    where = "arrhenius_plot"
    task_obj = _model_task(model, task, where)
    space = model.space
    t_var = temperature_variable(space, temperature, where)
    offset = kelvin_offset(t_var, where)  # 273.15 for degrees Celsius: the x axis is 1000 / T_K
    n_points = check_integer(n_points, "n_points", 2, where)
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(space.names))
    if unknown:
        raise InputDataError(
            f"{where}: fixed names unknown condition(s) {unknown}; the space has {space.names}"
        )
    if t_var.name in fixed:
        raise InputDataError(f"{where}: {t_var.name!r} is the x axis and cannot be fixed")
    values = {k: v for k, v in default_conditions(space).items() if k != t_var.name}
    values.update(fixed)
    try:
        space.validate(pd.DataFrame({**{t_var.name: [t_var.lower]}, **{k: [v] for k, v in values.items()}}))
    except InputDataError as err:
        raise InputDataError(f"{where}: bad fixed conditions: {err}") from None

    # Even in 1000 / T_K whatever the modelled coordinate (a Celsius or linear temperature too).
    inverse = np.linspace(1000.0 / (t_var.upper + offset), 1000.0 / (t_var.lower + offset), int(n_points))
    temperatures = np.clip(1000.0 / inverse - offset, t_var.lower, t_var.upper)
    grid = pd.DataFrame({name: [values[name]] * len(temperatures) for name in values})
    grid[t_var.name] = temperatures
    pred = model.predict(grid[space.names], level=level, tasks=[task])
    x = _inverse_1000(temperatures + offset)

    fig, ax = _figure_and_axes(ax, (6.0, 4.5))
    central = "median" if task_obj.transform != "none" else "mean"
    ax.fill_between(
        x,
        pred["lower"].to_numpy(),
        pred["upper"].to_numpy(),
        color=MODEL_COLOR,
        alpha=0.25,
        linewidth=0,
        label=f"{level:.0%} credible band",
    )
    ax.plot(x, pred["mean"].to_numpy(), color=MODEL_COLOR, label=f"posterior {central}")
    if data and model.data is not None:
        obs = model.data.observations
        obs = obs[obs["task"] == task]
        close = _near(obs, values, space, near)
        obs_x = _inverse_1000(obs[t_var.name].to_numpy(dtype=float) + offset)
        obs_y = obs["value"].to_numpy(dtype=float)
        # clip_on=False: an experiment at a temperature bound sits on the axis edge, drawn whole.
        if close.any():
            ax.scatter(
                obs_x[close],
                obs_y[close],
                s=18,
                color=DATA_COLOR,
                zorder=3,
                clip_on=False,
                label="observed near these conditions",
            )
        if (~close).any():
            ax.scatter(
                obs_x[~close],
                obs_y[~close],
                s=18,
                facecolors="none",
                edgecolors=OTHER_DATA_COLOR,
                zorder=2,
                clip_on=False,
                label="observed elsewhere",
            )
    if task_obj.transform in _LOG_TRANSFORMS:
        ax.set_yscale("log")
    ax.set_xlim(float(np.min(x)), float(np.max(x)))  # the bounds: no top-axis tick beyond them
    if offset:
        ax.set_xlabel(f"1000 / T_K [1/K], T_K = {t_var.label} + {offset:g}")
    else:
        ax.set_xlabel(f"1000 / {t_var.name} [1/{t_var.unit or 'K'}]")
    ax.set_ylabel(task_obj.label)
    top = ax.secondary_xaxis(
        "top",
        functions=(lambda v: _inverse_1000(v) - offset, lambda t: _inverse_1000(np.asarray(t) + offset)),
    )
    steps = _inverse_1000(np.linspace(float(np.min(x)), float(np.max(x)), 6)) - offset
    top.set_xticks(_temperature_ticks(steps))
    top.set_xlabel(t_var.label)
    ax.set_title(_describe(values, space) if values else task_obj.label, fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    return fig


def _temperature_ticks(steps: np.ndarray) -> list[float]:
    """Round temperatures (even steps of 1000/T) to the fewest significant digits that keep them apart.

    Even steps of 1000/T, not matplotlib's even steps of T, which crowd together at the hot end.
    Two digits serve a wide range (900-1500 K); a narrow one (295-305 K) needs three or four,
    where two would merge every tick into one.
    """
    for digits in range(2, 7):
        ticks = sorted({float(f"{t:.{digits}g}") for t in steps})
        if len(ticks) == len(steps):
            return ticks
    return sorted(float(t) for t in steps)


def _column(frame: pd.DataFrame, name: str, where: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputDataError(
            f"{where}: column {name!r} has missing or non-numeric values at row(s) {_rows(frame.index[bad])}"
        )
    return values


def _set_task_scale(ax: Axes, task: Task, both: bool) -> None:
    """Log axes for log-modelled tasks, logit axes (labelled as plain decimals) for logit ones.

    A per-cent task (``logit_percent``) gets the same logit axis over 0-100 %, ticks in per cent.
    """
    name = task.output_transform.name
    if name in _LOG_TRANSFORMS:
        scale: dict = {"value": "log"}
    elif name == "logit":
        scale = {"value": "logit"}
    elif name == "logit_percent":
        tf = task.output_transform

        def forward(v: np.ndarray) -> np.ndarray:
            # The task's own logit(y / 100), clipped just inside (0, 100): finite axis limits.
            return tf.forward(np.clip(np.asarray(v, dtype=float), 1e-10, 100.0 - 1e-10))

        scale = {"value": "function", "functions": (forward, tf.inverse)}
    else:
        return
    ax.set_yscale(**scale)
    if both:
        ax.set_xscale(**scale)
    if name in ("logit", "logit_percent"):
        top = 100.0 if name == "logit_percent" else 1.0
        for axis in (ax.xaxis, ax.yaxis) if both else (ax.yaxis,):
            # The default logit ticks (0.1, 0.5, 0.9 labelled "1/2", "1 - 10^-1") are sparse and
            # unusual for a fraction: label plain decimals, as dense as the labels allow.
            axis.set_major_locator(_SpacedLogitLocator(top))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_locator(NullLocator())


def parity_plot(
    frame: pd.DataFrame,
    *,
    task: Task,
    observed_label: str = "observed",
    predicted_label: str = "predicted",
    ax: Axes | None = None,
) -> Figure:
    """Predicted against observed values of one task, with credible intervals as error bars.

    Parameters
    ----------
    frame : DataFrame
        ``n`` rows with columns ``observed``, ``mean``, ``lower``, ``upper`` (physical units), e.g.
        ``model.predict(test)`` with the measured values added as ``observed``, or
        :func:`~mtgp_kinetics.model_checking.held_out_physical` (leave-one-out). When it has a
        ``task`` column only the rows of ``task`` are drawn.
    task : Task
        The task: sets the labels and the axis scale (log for log-modelled tasks, logit for logit
        ones, so the intervals look as they do to the model).
    observed_label : str
        What the ``observed`` values are, for the x label (e.g. ``"true"`` for noise-free values).
    predicted_label : str
        What the predictions are, for the y label (e.g. ``"leave-one-out predicted"``).
    ax : Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    Figure
        Error bars (markers at the mean), the line ``y = x`` and a text saying how many observed
        values lie inside their interval.

    Raises
    ------
    InputDataError
        If a column is missing, holds non-finite values, values lie outside the task's domain, or
        no row belongs to ``task``.
    """
    where = "parity_plot"
    if not isinstance(task, Task):
        raise InputDataError(f"{where}: task must be a Task (e.g. model.tasks[0]), got {task!r}")
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"{where}: frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("observed", "mean", "lower", "upper") if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{where}: missing column(s) {missing}; the frame has {list(frame.columns)}. Give "
            "physical-unit predictions with the measured values as 'observed': "
            "mtgp_kinetics.model_checking.held_out_physical(model) for leave-one-out ones (not "
            "model.held_out_predictions(), which is in modelled units), or model.predict(test) "
            "with an 'observed' column added"
        )
    if "task" in frame.columns:
        frame = frame[frame["task"] == task.name]
    if frame.empty:
        raise InputDataError(f"{where}: no rows for task {task.name!r}")
    observed, mean, lower, upper = (_column(frame, c, where) for c in ("observed", "mean", "lower", "upper"))
    allowed = task.output_transform.is_valid
    for name, values in (("observed", observed), ("mean", mean), ("lower", lower), ("upper", upper)):
        outside = ~np.asarray(allowed(values), dtype=bool)
        if outside.any():
            raise InputDataError(
                f"{where}: column {name!r} has value(s) {values[outside][:5].tolist()} at row(s) "
                f"{_rows(frame.index[outside])} outside the domain of task {task.name!r} "
                f"({task.output_transform.domain}), which its axis cannot show"
            )
    swapped = lower > upper
    if swapped.any():
        raise InputDataError(
            f"{where}: 'lower' is above 'upper' at row(s) {_rows(frame.index[swapped])}; are the two "
            "columns swapped?"
        )

    fig, ax = _figure_and_axes(ax, (4.8, 4.5))
    ax.errorbar(
        observed,
        mean,
        yerr=np.stack([np.clip(mean - lower, 0.0, None), np.clip(upper - mean, 0.0, None)]),
        fmt="o",
        markersize=3,
        color=MODEL_COLOR,
        ecolor=MODEL_COLOR,
        alpha=0.7,
        elinewidth=0.8,
        label="prediction and interval",
    )
    lo = float(min(observed.min(), lower.min()))
    hi = float(max(observed.max(), upper.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1.0, linestyle="--", label="y = x")
    _set_task_scale(ax, task, both=True)
    inside = int(((observed >= lower) & (observed <= upper)).sum())
    ax.text(
        0.03,
        0.97,
        f"{inside} of {len(observed)} inside the interval",
        transform=ax.transAxes,
        va="top",
        fontsize="small",
    )
    ax.set_xlabel(f"{observed_label} {task.label}")
    ax.set_ylabel(f"{predicted_label} {task.label}")
    ax.set_title(task.name, fontsize="medium")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def task_correlation_heatmap(
    corr: pd.DataFrame | Any, ax: Axes | None = None, annotate: bool = True, title: str = "task correlation"
) -> Figure:
    """Heat map of a task correlation matrix on a diverging colour scale fixed to [-1, 1].

    Parameters
    ----------
    corr : DataFrame or model
        ``t x t`` correlation matrix labelled by task on both axes, e.g.
        ``model.task_correlation()``; or a fitted model, whose ``task_correlation()`` is drawn.
    ax : Axes, optional
        Where to draw; default a new figure.
    annotate : bool
        Write each value in its cell.
    title : str
        Axes title: say what the matrix is, e.g. ``"task correlation (MAP)"`` or ``"posterior mean
        task correlation"`` for a NUTS model's :meth:`task_correlation`.

    Returns
    -------
    Figure
        One image (``RdBu_r``, blue negative, red positive), a colour bar and, with ``annotate``,
        ``t * t`` texts.

    Raises
    ------
    InputDataError
        If ``corr`` is not square with the same labels on both axes, or has values outside [-1, 1].
    """
    where = "task_correlation_heatmap"
    if not isinstance(corr, pd.DataFrame) and callable(getattr(corr, "task_correlation", None)):
        corr = corr.task_correlation()  # a fitted model, like every other plot takes
    if not isinstance(corr, pd.DataFrame):
        raise InputDataError(
            f"{where}: corr must be a pandas DataFrame (e.g. model.task_correlation()) or a fitted "
            f"model, got {type(corr).__name__}"
        )
    rows, cols = [str(r) for r in corr.index], [str(c) for c in corr.columns]
    if rows != cols or not rows:
        raise InputDataError(
            f"{where}: corr must be square with the same task labels on both axes, got rows {rows} and "
            f"columns {cols}"
        )
    values = corr.to_numpy(dtype=float)
    # A correlation computed in floating point may overshoot 1 by a few ulps.
    if not (np.isfinite(values).all() and (np.abs(values) <= 1.0 + 1e-9).all()):
        raise InputDataError(f"{where}: corr has values outside [-1, 1] or non-finite values")

    size = 1.2 + 0.9 * len(rows)
    fig, ax = _figure_and_axes(ax, (size + 1.2, size))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="correlation")
    ticks = np.arange(len(rows))
    ax.set_xticks(ticks, labels=rows, rotation=30, ha="right")
    ax.set_yticks(ticks, labels=rows)
    if annotate:
        for i in range(len(rows)):
            for j in range(len(cols)):
                # Dark cells (strong correlation) get white text.
                color = "white" if abs(values[i, j]) > 0.6 else "black"
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", color=color)
    ax.set_title(title, fontsize="medium")
    return fig


def learning_curve(
    frame: pd.DataFrame,
    *,
    x: str = "n_observations",
    y: str = "value",
    hue: str | None = "strategy",
    ax: Axes | None = None,
) -> Figure:
    """One line per group of a metric against the amount of data (campaign comparisons).

    Parameters
    ----------
    frame : DataFrame
        Long form: a row per (group, x, repeat) with columns ``x``, ``y`` and ``hue``.
    x, y : str
        Columns of the horizontal and vertical values.
    hue : str or None
        Column naming the group (one line each, in order of first appearance); ``None``: one line.
    ax : Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    Figure
        Per group a line through the mean of ``y`` at each ``x`` and, where some ``x`` has several
        rows (repeats), a band of +- one standard deviation.

    Raises
    ------
    InputDataError
        If a column is missing or ``x``/``y`` are not finite numbers.
    """
    where = "learning_curve"
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"{where}: frame must be a pandas DataFrame, got {type(frame).__name__}")
    needed = [c for c in (x, y, hue) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputDataError(f"{where}: missing column(s) {missing}; the frame has {list(frame.columns)}")
    if frame.empty:
        raise InputDataError(f"{where}: the frame has no rows")
    table = pd.DataFrame({"x": _column(frame, x, where), "y": _column(frame, y, where)})
    table["group"] = frame[hue].astype(str).to_numpy() if hue is not None else y

    fig, ax = _figure_and_axes(ax, (6.0, 4.0))
    for k, (name, rows) in enumerate(table.groupby("group", sort=False)):
        stats = rows.groupby("x")["y"].agg(["mean", "std", "count"]).sort_index()
        color = f"C{k % 10}"
        ax.plot(stats.index, stats["mean"], marker="o", markersize=3, color=color, label=str(name))
        if (stats["count"] > 1).any():
            spread = stats["std"].fillna(0.0)
            ax.fill_between(
                stats.index,
                stats["mean"] - spread,
                stats["mean"] + spread,
                color=color,
                alpha=0.2,
                linewidth=0,
            )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if hue is not None:
        ax.legend(title=hue, fontsize="small")
    return fig


def activation_energy_plot(
    model: KineticsModel,
    task: str,
    *,
    fixed: Mapping[str, Any] | None = None,
    level: float = 0.95,
    n_points: int = 60,
    kind: str = "auto",
    temperature: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Apparent activation energy of a task against temperature, with its credible band.

    Computed by :func:`mtgp_kinetics.derived.activation_energy` on a grid evenly spaced in
    ``1000 / T``, at fixed values of the other conditions.

    Parameters
    ----------
    model : KineticsModel
        A fitted model whose space has a temperature: a Continuous modelled as ``1000 / T``, or
        one in kelvin or degrees Celsius (unit ``"K"`` or ``"degC"``) modelled otherwise.
    task : str
        Task name.
    fixed : mapping of str to value, optional
        Values [physical units] of the other conditions; unnamed ones default to
        :func:`default_conditions`.
    level : float
        Probability of the central credible band, in (0, 1).
    n_points : int
        Grid points (>= 2).
    kind : {"auto", "rate", "delay"}
        Sign convention (see :func:`~mtgp_kinetics.derived.activation_energy`).
    temperature : str, optional
        Name of the temperature condition (default: the one modelled as ``1000 / T``, else the
        first in kelvin or degrees Celsius).
    ax : Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    Figure
        Posterior mean of ``Ea`` [kJ/mol] as a line and its band as a filled polygon against ``T``.

    Raises
    ------
    InputDataError
        For an unknown task, a space without temperature, unknown or out-of-bounds ``fixed``
        values, or a bad ``n_points``/``level``/``kind``.
    """
    from mtgp_kinetics.derived import activation_energy

    where = "activation_energy_plot"
    task_obj = _model_task(model, task, where)
    space = model.space
    t_var = temperature_condition(space, temperature, where)
    n_points = check_integer(n_points, "n_points", 2, where)
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(space.names) | ({t_var.name} & set(fixed)))
    if unknown:
        raise InputDataError(
            f"{where}: fixed names {unknown}, which are not conditions other than the temperature "
            f"{t_var.name!r}; the space has {space.names}"
        )
    values = {k: v for k, v in default_conditions(space).items() if k != t_var.name}
    values.update(fixed)
    try:
        space.validate(pd.DataFrame({**{t_var.name: [t_var.lower]}, **{k: [v] for k, v in values.items()}}))
    except InputDataError as err:
        raise InputDataError(f"{where}: bad fixed conditions: {err}") from None
    temperatures = t_var.from_unit_interval(np.linspace(0.0, 1.0, int(n_points)))
    grid = pd.DataFrame({name: [values[name]] * len(temperatures) for name in values})
    grid[t_var.name] = temperatures
    ea = activation_energy(model, grid[space.names], task, t_var.name, level, kind=kind)

    fig, ax = _figure_and_axes(ax, (6.0, 4.5))
    ax.fill_between(
        temperatures,
        ea["lower"].to_numpy(),
        ea["upper"].to_numpy(),
        color=MODEL_COLOR,
        alpha=0.25,
        linewidth=0,
        label=f"{level:.0%} credible band",
    )
    ax.plot(temperatures, ea["mean"].to_numpy(), color=MODEL_COLOR, label="posterior mean")
    ax.set_xlabel(t_var.label)
    ax.set_ylabel(f"Ea of {task_obj.name} [kJ/mol]")
    ax.set_title(_describe(values, space) if values else task_obj.label, fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    return fig

"""Derived kinetic quantities with credible intervals: activation energy, exponents, mechanism switches.

A fitted model gives the posterior of each task's modelled value ``z(x)`` (e.g. ``log10 tau``). The
numbers a kineticist publishes are derivatives of it or level sets of it:

* the apparent activation energy of a rate constant, ``Ea = -R d ln k / d(1/T)``, and the global
  activation energy of a delay, ``Ea = +R d ln tau / d(1/T)`` (:func:`activation_energy`);
* the exponent with respect to a condition, ``d ln y / d ln x`` (pressure exponent, reaction order;
  :func:`exponent`);
* where a mechanism output crosses a level (the branching fraction's 0.5 contour, the mechanism
  switch; :func:`level_crossing`) and the probability that it is above one (:func:`probability_above`).

**Derivative posterior.** The derivative of a GP is a GP, and any linear functional of the posterior
is Gaussian under a Gaussian posterior. Each derivative is taken in the model's normalized coordinate
``u`` of the condition by a second-order difference stencil of half-width ``step`` (central inside
[0, 1], one-sided at a bound) applied to the *joint* posterior of ``z`` at the stencil points
(``model.predict_joint``): ``dz/du ~ N(D m, D S D^T)``. With ``step = 1e-3`` the stencil differs from
the exact derivative GP by ``O(step^2 / l^2)`` (about ``1e-5`` relative for a lengthscale ``l = 0.3``),
far below any credible interval; the Matern-5/2 kernel makes the posterior twice mean-square
differentiable, so the limit exists. Physical derivatives follow by the chain rule:

    d ln y / d v = h(z) * dz/du * du/dv,   h(z) = d ln g^{-1}(z) / dz,

with ``g`` the task's output transform (``h = ln 10`` for ``log10``, 1 for ``log``, ``1 - y`` for
``logit``, ``1 / y`` for none) and ``du/dv`` from the condition's transform (``1000/T``, ``ln x`` or
none) and its normalization: ``u = (c(x) - c_lo) / (c_hi - c_lo)``.

**Two ways to summarize** (``method``):

``"gaussian"``
    mean, std and the central interval of the Gaussian above; exact for a MAP
    :class:`~mtgp_kinetics.model.KineticsModel` (Gaussian posterior at fixed hyperparameters).
``"samples"``
    ``n_samples`` joint draws from ``model.sample(..., physical=False)`` at the stencil points; the
    interval is the draws' central quantiles. Use it for a fully Bayesian model, whose predictive is a
    mixture over hyperparameter draws. Mean and std of a quantity linear in ``z`` (log/log10 tasks)
    still come from ``predict_joint``'s moments, which are exact for a mixture too.
``"auto"`` (default)
    ``"gaussian"`` for a :class:`~mtgp_kinetics.model.KineticsModel` itself, ``"samples"`` for any
    other model class.

A quantity nonlinear in ``z`` (a derivative of ``ln y`` for a ``logit`` or untransformed task) is always
summarized by draws (from the Gaussian, or from ``model.sample``). Only the public model API is used:
``space``, ``tasks``, ``predict_joint(conditions)`` and ``sample(conditions, n_samples, seed,
physical=False)``, so any model exposing it works.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from mtgp_kinetics.errors import (
    DataWarning,
    InputDataError,
    NumericsWarning,
    check_integer,
    check_probability,
)
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.space import (
    Continuous,
    Space,
    condition_text,
    is_celsius,
    kelvin_offset,
    temperature_condition,
    unit_key,
)
from mtgp_kinetics.tasks import Task

#: Gas constant [kJ/(mol K)] (CODATA 2018, exact).
R_KJ_PER_MOL_K = 8.314462618e-3

#: Time units read by ``activation_energy(kind="auto")`` (compared in lower case, spaces removed,
#: with or without an SI prefix of :data:`TIME_PREFIXES`): such a task is a delay.
TIME_UNITS = (
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "d",
    "day",
    "days",
    "wk",
    "week",
    "weeks",
    "yr",
    "yrs",
    "year",
    "years",
)

#: SI prefixes a time unit may carry (``ms``, ``µs``, ``microseconds``, ``nsec``...).
TIME_PREFIXES = ("m", "milli", "u", "µ", "μ", "micro", "n", "nano", "p", "pico", "f", "femto", "k", "kilo")


def is_time_unit(unit: str) -> bool:
    """Whether ``unit`` is a time (``"s"``, ``"ms"``, ``"us"``, ``"µsec"``, ``"microseconds"``...)."""
    key = unit_key(unit)
    return key in TIME_UNITS or any(
        key.startswith(prefix) and key[len(prefix) :] in TIME_UNITS for prefix in TIME_PREFIXES
    )


METHODS = ("auto", "gaussian", "samples")

_LN10 = math.log(10.0)


class PosteriorModel(Protocol):
    """What the functions of this module need from a fitted model (a :class:`KineticsModel` has it)."""

    space: Space
    tasks: tuple[Task, ...]

    def predict_joint(
        self, conditions: pd.DataFrame, observation_noise: bool = ..., tasks: Sequence[str] | None = ...
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """``index`` (``N`` rows with ``task``), ``N`` means and ``N x N`` covariance, modelled space."""
        ...

    def sample(
        self,
        conditions: pd.DataFrame,
        n_samples: int = ...,
        seed: int | None = ...,
        observation_noise: bool = ...,
        physical: bool = ...,
        tasks: Sequence[str] | None = ...,
    ) -> np.ndarray:
        """``s x n x t`` joint posterior draws (``t``: the tasks asked for, all by default)."""
        ...


# -- argument checks ------------------------------------------------------------------------------
def _task(model: PosteriorModel, task: str | None, where: str) -> tuple[int, Task]:
    names = [t.name for t in model.tasks]
    if task is None:
        if len(names) != 1:
            raise InputDataError(f"{where}: the model has tasks {names}; name one with task=...")
        task = names[0]
    if task not in names:
        raise InputDataError(f"{where}: unknown task {task!r}; the model's tasks are {names}")
    k = names.index(task)
    return k, model.tasks[k]


def _posterior_for(model: PosteriorModel, task: Task) -> PosteriorModel:
    """The model whose posterior a derived quantity of ``task`` summarizes.

    A MAP model predicts the tasks in its ``averaged_tasks_`` (thinly observed members of a shared
    process) as a mixture over hyperparameter draws; their derived quantities summarize the same
    mixture, as the Bayesian model its draws make up, so that a crossing or a probability agrees
    with ``predict``'s band. Measured on a user's data (10 observations of a branching fraction,
    session 19): at the MAP point ``P(f > 0.5)`` was 5e-4 where the truth was above 0.5, and NUTS
    gave 0.05. Where the mixture could not be computed (a warning said so), the MAP model.
    """
    if isinstance(model, KineticsModel) and task.name in model.averaged_tasks_:
        mixture = model.hyperparameter_mixture()
        if mixture is not None:
            return mixture.bayesian
    return model


def _continuous(space: Space, name: str, where: str, needs: str = "a derivative") -> Continuous:
    if name not in space.names:
        raise InputDataError(f"{where}: unknown condition {name!r}; the space has {space.names}")
    variable = space[name]
    if not isinstance(variable, Continuous):
        raise InputDataError(f"{where}: condition {name!r} is categorical; {needs} needs a continuous one")
    return variable


def _probability(value: float, name: str, where: str) -> float:
    return check_probability(value, name, where)


def _method(model: PosteriorModel, method: str, where: str) -> str:
    if method not in METHODS:
        raise InputDataError(f"{where}: method must be one of {list(METHODS)}, got {method!r}")
    if method == "auto":
        # Only the MAP model class is known to have a Gaussian posterior; subclasses and other
        # models (e.g. fully Bayesian ones) may be mixtures, summarized by their own draws.
        return "gaussian" if type(model) is KineticsModel else "samples"
    return method


def _frame(conditions: pd.DataFrame, space: Space, where: str) -> pd.DataFrame:
    if not isinstance(conditions, pd.DataFrame):
        raise InputDataError(
            f"{where}: conditions must be a pandas DataFrame, got {type(conditions).__name__}"
        )
    if len(conditions) == 0:
        raise InputDataError(f"{where}: conditions has no rows")
    try:
        space.validate(conditions, outside="warn")  # extrapolation warns, as in predict
    except InputDataError as err:
        raise InputDataError(f"{where}: conditions: {err}") from None
    return conditions[space.names].reset_index(drop=True)


def _check_n_samples(n_samples: Any, where: str) -> int:
    """``n_samples`` as an int >= 2 (a quantile of fewer draws is no interval), else a clear error."""
    return check_integer(n_samples, "n_samples", 2, where)


def _check_step(step: Any, where: str) -> float:
    """``step`` as a float in (0, 0.1], else a clear error."""
    if isinstance(step, bool) or not (isinstance(step, (int, float)) and 0.0 < float(step) <= 0.1):
        raise InputDataError(f"{where}: step must be in (0, 0.1], got {step!r}")
    return float(step)


# -- transforms and the chain rule ----------------------------------------------------------------
def dlog_output_dz(
    transform_name: str, inverse: Callable[[np.ndarray], np.ndarray], z: np.ndarray
) -> np.ndarray:
    """``h(z) = d ln g^{-1}(z) / dz``: converts a derivative of the modelled value to one of ``ln y``.

    Parameters
    ----------
    transform_name : str
        The output transform's name (``"log10"``, ``"log"``, ``"logit"``, ``"none"``).
    inverse : callable
        ``g^{-1}``, used by a central difference for a transform not listed above.
    z : ndarray
        Modelled values, any shape.

    Returns
    -------
    ndarray
        ``h(z)``, the shape of ``z`` (NaN where ``g^{-1}(z) <= 0``: ``ln y`` is undefined).
    """
    z = np.asarray(z, dtype=float)
    if transform_name == "log10":
        return np.full_like(z, _LN10)
    if transform_name == "log":
        return np.ones_like(z)
    if transform_name in ("logit", "logit_percent"):
        return 1.0 - expit(z)  # d ln(c expit z) / dz = 1 - expit(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform_name == "none":
            return np.where(z > 0, 1.0 / np.where(z > 0, z, 1.0), np.nan)
        eps = 1e-6 * np.maximum(1.0, np.abs(z))
        lo, hi = inverse(z - eps), inverse(z + eps)
        ok = (lo > 0) & (hi > 0)
        return np.where(
            ok, (np.log(np.where(ok, hi, 1.0)) - np.log(np.where(ok, lo, 1.0))) / (2 * eps), np.nan
        )


def _is_log_linear(task: Task) -> bool:
    """``ln y`` is linear in the modelled value (log, log10 tasks): the Gaussian summary is exact."""
    return task.output_transform.name in ("log", "log10")


def du_dx(variable: Continuous, x: np.ndarray) -> np.ndarray:
    """``du/dx``: normalized model coordinate per physical unit of a continuous condition.

    Parameters
    ----------
    variable : Continuous
        The condition; ``u = (c(x) - c_lo) / (c_hi - c_lo)`` with ``c`` its transform.
    x : ndarray
        ``n`` physical values.

    Returns
    -------
    ndarray
        ``n`` derivatives (negative for ``inverse``: ``u`` grows as ``T`` falls).
    """
    x = np.asarray(x, dtype=float)
    lo, hi = variable.model_bounds
    name = variable.transform
    if name == "none":
        dc = np.ones_like(x)
    elif name == "log":
        dc = 1.0 / x
    elif name == "inverse":
        dc = -1000.0 / x**2
    else:  # a transform added later: central difference of its forward map
        forward = _forward(variable)
        eps = 1e-6 * np.maximum(1.0, np.abs(x))
        dc = (forward(x + eps) - forward(x - eps)) / (2 * eps)
    return dc / (hi - lo)


def _forward(variable: Continuous) -> Callable[[np.ndarray], np.ndarray]:
    """The forward map ``c(x)`` of a continuous condition (before normalization)."""
    lo, hi = variable.model_bounds
    return lambda x: lo + (hi - lo) * variable.to_unit_interval(np.asarray(x, dtype=float))


# -- the derivative posterior ---------------------------------------------------------------------
@dataclass(frozen=True)
class DerivativePosterior:
    """Posterior of a task's modelled value and its derivative along one normalized coordinate.

    Attributes
    ----------
    conditions : DataFrame
        The ``n`` conditions (space columns only, index 0..n-1).
    z_mean, dz_mean : ndarray
        ``n`` posterior means of ``z`` and ``dz/du``.
    dz_std : ndarray
        ``n`` posterior stds of ``dz/du``.
    z_draws, dz_draws : ndarray
        ``s x n`` joint draws of ``z`` and ``dz/du`` (correlated within a draw).
    """

    conditions: pd.DataFrame
    z_mean: np.ndarray
    dz_mean: np.ndarray
    dz_std: np.ndarray
    z_draws: np.ndarray
    dz_draws: np.ndarray


def _stencil(
    conditions: pd.DataFrame, variable: Continuous, step: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Three stencil points per condition and the matrices that read value and derivative from them.

    Returns
    -------
    frame : DataFrame
        ``3 n`` conditions (condition-major), only ``variable`` moved.
    value : ndarray
        ``n x 3 n`` selection of the centre points.
    derivative : ndarray
        ``n x 3 n`` second-order difference weights, ``d/du``.
    """
    n = len(conditions)
    u = variable.to_unit_interval(pd.to_numeric(conditions[variable.name]).to_numpy(dtype=float))
    offsets = np.tile(np.array([-1.0, 0.0, 1.0]), (n, 1))
    weights = np.tile(np.array([-1.0, 0.0, 1.0]) / (2 * step), (n, 1))
    centre = np.ones(n, dtype=int)
    low, high = u - step < 0.0, u + step > 1.0
    # One-sided second-order stencils at the bounds (the space refuses points outside them).
    offsets[low] = [0.0, 1.0, 2.0]
    weights[low] = np.array([-3.0, 4.0, -1.0]) / (2 * step)
    centre[low] = 0
    offsets[high] = [-2.0, -1.0, 0.0]
    weights[high] = np.array([1.0, -4.0, 3.0]) / (2 * step)
    centre[high] = 2
    points = np.clip(u[:, None] + step * offsets, 0.0, 1.0)
    frame = conditions.iloc[np.repeat(np.arange(n), 3)].reset_index(drop=True)
    frame[variable.name] = variable.from_unit_interval(points.ravel())
    rows = np.arange(n)
    value = np.zeros((n, 3 * n))
    value[rows, 3 * rows + centre] = 1.0
    derivative = np.zeros((n, 3 * n))
    for j in range(3):
        derivative[rows, 3 * rows + j] = weights[:, j]
    return frame, value, derivative


def _gaussian_draws(mean: np.ndarray, cov: np.ndarray, n_samples: int, seed: int | None) -> np.ndarray:
    """``s x N`` draws of ``N(mean, cov)`` by eigendecomposition (cov may be singular)."""
    eigval, eigvec = np.linalg.eigh(0.5 * (cov + cov.T))
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    rng = np.random.default_rng(seed)
    return mean + rng.standard_normal((n_samples, mean.size)) @ root.T


def _task_draws(
    model: PosteriorModel, frame: pd.DataFrame, task: Task, n_samples: int, seed: int | None
) -> np.ndarray:
    """``s x n`` joint draws of one task's modelled value at ``frame``'s rows (that task only)."""
    return np.asarray(model.sample(frame, n_samples, seed, physical=False, tasks=[task.name]))[..., 0]


def _task_moments(model: PosteriorModel, frame: pd.DataFrame, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Joint mean (``N``) and covariance (``N x N``) of one task's modelled value at ``frame``'s rows."""
    index, mean, cov = model.predict_joint(frame, tasks=[task.name])
    rows = np.flatnonzero(index["task"].to_numpy() == task.name)
    return np.asarray(mean)[rows], np.asarray(cov)[np.ix_(rows, rows)]


def derivative_posterior(
    model: PosteriorModel,
    conditions: pd.DataFrame,
    task: str | None = None,
    condition: str = "T",
    *,
    method: str = "auto",
    n_samples: int = 2000,
    seed: int | None = 0,
    step: float = 1e-3,
) -> DerivativePosterior:
    """Joint posterior of ``z`` and ``dz/du`` for one task along one condition's normalized coordinate.

    Parameters
    ----------
    model : KineticsModel or any model with the same ``predict_joint``/``sample`` API
        A fitted model.
    conditions : DataFrame
        ``n`` conditions, physical units, inside the space's bounds.
    task : str, optional
        Task name (may be omitted for a one-task model).
    condition : str
        The continuous condition to differentiate along.
    method : {"auto", "gaussian", "samples"}
        Where the draws come from (see the module docstring).
    n_samples : int
        ``s``, number of joint draws.
    seed : int, optional
        Seed of the draws.
    step : float
        Half-width of the difference stencil in the normalized coordinate, in (0, 0.1].

    Returns
    -------
    DerivativePosterior
        Means, std and ``s x n`` joint draws.
    """
    where = "derivative_posterior"
    _, task_ = _task(model, task, where)
    model = _posterior_for(model, task_)
    variable = _continuous(model.space, condition, where)
    method = _method(model, method, where)
    n_samples = _check_n_samples(n_samples, where)
    step = _check_step(step, where)
    frame = _frame(conditions, model.space, where)
    stencil, value, derivative = _stencil(frame, variable, step)
    mean, cov = _task_moments(model, stencil, task_)
    dz_mean = derivative @ mean
    dz_std = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", derivative, cov, derivative), 0.0, None))
    if method == "gaussian":
        both = np.vstack([value, derivative])
        draws = _gaussian_draws(both @ mean, both @ cov @ both.T, int(n_samples), seed)
        z_draws, dz_draws = draws[:, : len(frame)], draws[:, len(frame) :]
    else:
        stencil_draws = _task_draws(model, stencil, task_, int(n_samples), seed)
        z_draws, dz_draws = stencil_draws @ value.T, stencil_draws @ derivative.T
    return DerivativePosterior(frame, value @ mean, dz_mean, dz_std, z_draws, dz_draws)


def _summary(
    frame: pd.DataFrame,
    task: Task,
    factor: np.ndarray,
    post: DerivativePosterior,
    level: float,
    gaussian: bool,
) -> pd.DataFrame:
    """Mean, std and central interval of ``factor * h(z) * dz/du`` per condition."""
    out = frame.copy()
    out["task"] = task.name
    tf = task.output_transform
    q = 0.5 - level / 2.0
    if _is_log_linear(task):
        h = float(dlog_output_dz(tf.name, tf.inverse, np.zeros(1))[0])
        mean = factor * h * post.dz_mean
        std = np.abs(factor) * h * post.dz_std
        if gaussian:
            half = norm.ppf(1.0 - q) * std
            lower, upper = mean - half, mean + half
        else:
            draws = factor * h * post.dz_draws
            lower, upper = np.quantile(draws, q, axis=0), np.quantile(draws, 1.0 - q, axis=0)
    else:
        draws = factor * dlog_output_dz(tf.name, tf.inverse, post.z_draws) * post.dz_draws
        undefined = np.isnan(draws).mean(axis=0)
        _warn_undefined_log(task, frame, undefined)
        usable = undefined < 1.0
        mean, std, lower, upper = (np.full(len(frame), np.nan) for _ in range(4))
        if usable.any():
            kept = draws[:, usable]
            mean[usable] = np.nanmean(kept, axis=0)
            std[usable] = np.nanstd(kept, axis=0, ddof=1) if len(kept) > 1 else np.nan
            lower[usable] = np.nanquantile(kept, q, axis=0)
            upper[usable] = np.nanquantile(kept, 1.0 - q, axis=0)
    out["mean"], out["std"], out["lower"], out["upper"] = mean, std, lower, upper
    return out


def _warn_undefined_log(task: Task, frame: pd.DataFrame, undefined: np.ndarray) -> None:
    """Warn where posterior draws of ``task`` are <= 0, so that ``ln y`` (and the quantity) is undefined.

    ``undefined`` is the fraction of such draws per condition of ``frame``; the summary there is
    over the other draws (NaN where none is left).
    """
    bad = np.flatnonzero(undefined > 0.0)
    if not len(bad):
        return
    worst = int(bad[np.argmax(undefined[bad])])
    where = condition_text(frame.iloc[worst], list(frame.columns))
    warnings.warn(
        f"task {task.name!r} (transform {task.output_transform.name!r}): at {len(bad)} of {len(frame)} "
        f"condition(s) some posterior draws are <= 0, where ln {task.name} is undefined (up to "
        f"{undefined[worst]:.0%} of them, at {where}); the summaries there use the other draws (NaN "
        f"where none is left). Model a positive rate with transform='log10', which keeps every draw "
        f"positive",
        NumericsWarning,
        stacklevel=5,  # _summary, _blockwise, activation_energy or exponent, the caller
    )


#: Conditions per block in :func:`activation_energy` and :func:`exponent`: the joint covariance of a
#: block's stencil is ``(3 b t) x (3 b t)``, so blocks bound memory on large grids.
BLOCK = 200


def _blockwise(
    model: PosteriorModel,
    frame: pd.DataFrame,
    task: Task,
    variable: Continuous,
    factor: Callable[[np.ndarray], np.ndarray],
    level: float,
    method: str,
    n_samples: int,
    seed: int | None,
    step: float,
) -> pd.DataFrame:
    """``factor(x) * d ln y / du`` summarized per condition, ``BLOCK`` conditions at a time.

    ``method`` is already resolved (``"gaussian"`` or ``"samples"``).

    Draws are joint within a block; block ``b`` uses seed ``seed + b``. Every summary is per
    condition, so blocks change nothing but memory.
    """
    parts = []
    for b, start in enumerate(range(0, len(frame), BLOCK)):
        block = frame.iloc[start : start + BLOCK].reset_index(drop=True)
        post = derivative_posterior(
            model,
            block,
            task.name,
            variable.name,
            method=method,
            n_samples=n_samples,
            seed=None if seed is None else seed + b,
            step=step,
        )
        x = block[variable.name].to_numpy(dtype=float)
        parts.append(_summary(block, task, factor(x), post, level, method == "gaussian"))
    return pd.concat(parts, ignore_index=True)


# -- public quantities ----------------------------------------------------------------------------
def _delay_sign(task: Task, kind: str, where: str) -> float:
    if kind == "auto":
        kind = "delay" if is_time_unit(task.unit) else "rate"
    if kind == "rate":
        return -1.0
    if kind == "delay":
        return 1.0
    raise InputDataError(f"{where}: kind must be 'auto', 'rate' or 'delay', got {kind!r}")


def activation_energy(
    model: PosteriorModel,
    conditions: pd.DataFrame,
    task: str | None = None,
    temperature: str | None = None,
    level: float = 0.95,
    *,
    kind: str = "auto",
    method: str = "auto",
    n_samples: int = 2000,
    seed: int | None = 0,
    step: float = 1e-3,
) -> pd.DataFrame:
    """Apparent activation energy [kJ/mol] of a rate task at each condition, with its credible interval.

    ``Ea = -R d ln k / d(1/T)`` for a rate constant (or any quantity that grows with ``T``), and the
    global activation energy ``Ea = +R d ln tau / d(1/T)`` for a delay, both positive for ordinary
    Arrhenius behaviour. ``ln`` is the natural log whatever the task's transform (a ``log10`` task
    contributes the factor ``ln 10``); ``1/T`` in 1/K whatever the temperature's transform (the chain
    rule goes through the model's normalized coordinate; see the module docstring).

    Parameters
    ----------
    model : KineticsModel or any model with the same ``predict_joint``/``sample`` API
        A fitted model whose space has the continuous condition ``temperature`` [K].
    conditions : DataFrame
        ``n`` conditions, physical units, inside the space's bounds.
    task : str, optional
        The task (may be omitted for a one-task model).
    temperature : str, optional
        Name of the temperature condition, in kelvin or degrees Celsius (unit ``"degC"``, ``"°C"``...:
        converted to kelvin here). Default: the condition modelled as ``1000 / T``, else the first in
        kelvin or degrees Celsius (:func:`~mtgp_kinetics.space.temperature_condition`).
    level : float
        Probability of the central credible interval ``[lower, upper]``.
    kind : {"auto", "rate", "delay"}
        Sign convention. ``"auto"``: a task whose unit is a time (``s``, ``ms``, ``us``, ...) is a
        delay, anything else a rate.
    method : {"auto", "gaussian", "samples"}
        How the interval is computed (module docstring).
    n_samples : int
        Joint draws, for ``method="samples"`` or a task whose ``ln y`` is not linear in its modelled
        value (``logit``, none).
    seed : int, optional
        Seed of the draws.
    step : float
        Half-width of the difference stencil in the normalized coordinate.

    Returns
    -------
    DataFrame
        ``n`` rows, with the row labels of ``conditions``: the condition columns, ``task``, ``mean``,
        ``std``, ``lower``, ``upper`` [kJ/mol].

    Raises
    ------
    InputDataError
        For an unknown task or condition, a categorical ``temperature``, out-of-bounds conditions or
        a bad argument; the message names it.
    """
    where = "activation_energy"
    level = _probability(level, "level", where)
    _, task_ = _task(model, task, where)
    model = _posterior_for(model, task_)
    sign = _delay_sign(task_, kind, where)
    if task_.kind == "mechanism":
        warnings.warn(
            f"{where}: task {task_.name!r} is a mechanism task (a fraction or yield); what is returned "
            f"is -R d ln y / d(1/T) of that output, not the activation energy of a rate. For where "
            f"the mechanism switches use level_crossing or probability_above",
            DataWarning,
            stacklevel=2,
        )
    variable = (
        temperature_condition(model.space, None, where)
        if temperature is None
        else _continuous(model.space, temperature, where)
    )
    method = _method(model, method, where)
    n_samples, step = _check_n_samples(n_samples, where), _check_step(step, where)
    frame = _frame(conditions, model.space, where)

    offset = kelvin_offset(variable, where)  # a temperature in degrees Celsius: T_K = T + 273.15

    def factor(T: np.ndarray) -> np.ndarray:
        # d/d(1/T_K) = dT_K/d(1/T_K) d/dT_K = -T_K^2 d/dT, and d/dT = du/dT d/du.
        return sign * R_KJ_PER_MOL_K * (-((T + offset) ** 2)) * du_dx(variable, T)

    out = _blockwise(model, frame, task_, variable, factor, level, method, n_samples, seed, step)
    return out.set_axis(conditions.index)  # one row per condition: the caller's row labels


def exponent(
    model: PosteriorModel,
    conditions: pd.DataFrame,
    task: str | None = None,
    condition: str = "P",
    level: float = 0.95,
    *,
    method: str = "auto",
    n_samples: int = 2000,
    seed: int | None = 0,
    step: float = 1e-3,
) -> pd.DataFrame:
    """Exponent ``d ln y / d ln x`` of a task with respect to a condition, with its credible interval.

    The pressure exponent of a delay (``tau ~ P^n``) with ``condition="P"``, a reaction order
    (``r ~ c^n``) with a concentration. Dimensionless; any task and condition transform is handled by
    the chain rule (module docstring). A temperature in degrees Celsius is taken in kelvin (the
    temperature exponent ``d ln y / d ln T_K``, as in ``k ~ T^b``).

    Parameters
    ----------
    model : KineticsModel or any model with the same ``predict_joint``/``sample`` API
        A fitted model.
    conditions : DataFrame
        ``n`` conditions, physical units, inside the space's bounds (``x > 0``).
    task : str, optional
        The task (may be omitted for a one-task model).
    condition : str
        The continuous condition ``x``.
    level : float
        Probability of the central credible interval.
    method : {"auto", "gaussian", "samples"}
        How the interval is computed.
    n_samples : int
        Joint draws (see :func:`activation_energy`).
    seed : int, optional
        Seed of the draws.
    step : float
        Half-width of the difference stencil in the normalized coordinate.

    Returns
    -------
    DataFrame
        ``n`` rows, with the row labels of ``conditions``: the condition columns, ``task``, ``mean``,
        ``std``, ``lower``, ``upper``.

    Raises
    ------
    InputDataError
        As :func:`activation_energy`, or if the condition can be <= 0 (no logarithm).
    """
    where = "exponent"
    level = _probability(level, "level", where)
    _, task_ = _task(model, task, where)
    model = _posterior_for(model, task_)
    variable = _continuous(model.space, condition, where)
    offset = kelvin_offset(variable, where) if is_celsius(variable.unit) else 0.0
    if variable.lower + offset <= 0:
        raise InputDataError(
            f"{where}: condition {condition!r} has lower bound {variable.lower} <= 0; ln x is undefined"
        )
    method = _method(model, method, where)
    n_samples, step = _check_n_samples(n_samples, where), _check_step(step, where)
    frame = _frame(conditions, model.space, where)

    def factor(x: np.ndarray) -> np.ndarray:
        return (x + offset) * du_dx(variable, x)  # d/d ln x = x d/dx (x in kelvin for degrees C)

    out = _blockwise(model, frame, task_, variable, factor, level, method, n_samples, seed, step)
    return out.set_axis(conditions.index)  # one row per condition: the caller's row labels


def probability_above(
    model: PosteriorModel,
    conditions: pd.DataFrame,
    task: str | None = None,
    level: float = 0.5,
    *,
    method: str = "auto",
    n_samples: int = 4000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Posterior probability that a task's (latent, noise-free) value exceeds ``level`` at each condition.

    For a branching fraction and ``level=0.5``: the probability that the branching pathway dominates.
    Every output transform is increasing, so ``P(y > level) = P(z > g(level))``: exact
    ``Phi((m - g(level)) / s)`` with ``method="gaussian"``, the share of joint draws above it with
    ``"samples"``.

    Parameters
    ----------
    model : KineticsModel or any model with the same ``predict_joint``/``sample`` API
        A fitted model.
    conditions : DataFrame
        ``n`` conditions, physical units.
    task : str, optional
        The task (may be omitted for a one-task model).
    level : float
        Threshold in the task's physical unit, inside its transform's domain.
    method : {"auto", "gaussian", "samples"}
        Exact Gaussian or Monte Carlo over ``model.sample`` draws.
    n_samples : int
        Draws for ``"samples"``.
    seed : int, optional
        Seed of the draws.

    Returns
    -------
    DataFrame
        ``n`` rows, with the row labels of ``conditions``: the condition columns, ``task``,
        ``probability``.
    """
    where = "probability_above"
    _, task_ = _task(model, task, where)
    model = _posterior_for(model, task_)
    threshold = _threshold(task_, level, where)
    method = _method(model, method, where)
    n_samples = _check_n_samples(n_samples, where)
    frame = _frame(conditions, model.space, where)
    if method == "gaussian":
        mean, cov = _task_moments(model, frame, task_)
        std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            probability = np.where(
                std > 0, norm.sf((threshold - mean) / np.where(std > 0, std, 1.0)), mean > threshold
            )
    else:
        draws = _task_draws(model, frame, task_, int(n_samples), seed)
        probability = np.mean(draws > threshold, axis=0)
    out = frame.copy()
    out["task"] = task_.name
    out["probability"] = np.asarray(probability, dtype=float)
    return out.set_axis(conditions.index)  # one row per condition: the caller's row labels


def _threshold(task: Task, level: float, where: str) -> float:
    tf = task.output_transform
    numeric = isinstance(level, numbers.Real) and not isinstance(level, bool)
    value = np.array([float(level)], dtype=float) if numeric else np.array([np.nan])
    if isinstance(level, bool) or not bool(tf.is_valid(value)[0]):
        hint = ""
        if tf.name == "logit" and numeric and 1.0 < float(level) < 100.0:
            hint = f"; the task is a fraction: for {float(level):g} % give level={float(level) / 100:g}"
        elif tf.name in ("log", "log10") and numeric:
            hint = "; the level is in the task's physical unit, not its log"
        raise InputDataError(
            f"{where}: level {level!r} is outside the domain of task {task.name!r} ({tf.domain}){hint}"
        )
    if tf.name == "logit_percent" and float(level) <= 1.0:
        warnings.warn(
            f"{where}: task {task.name!r} is in per cent ({task.unit!r}), so level={float(level):g} is "
            f"read as {float(level):g} %; for a fraction of {float(level):g} give "
            f"level={100 * float(level):g}",
            DataWarning,
            stacklevel=3,
        )
    return float(tf.forward(value)[0])


def _crossings(u: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """Per row of ``values`` (``s x m`` over grid ``u``), the ``u`` where it changes sign (linear interp.)."""
    out = []
    for row in values:
        i = np.flatnonzero(np.sign(row[:-1]) * np.sign(row[1:]) < 0)
        exact = np.flatnonzero(row == 0.0)
        t = row[i] / (row[i] - row[i + 1])
        out.append(np.sort(np.concatenate([u[i] + t * (u[i + 1] - u[i]), u[exact]])))
    return out


def level_crossing(
    model: PosteriorModel,
    task: str | None = None,
    level: float = 0.5,
    along: str = "T",
    at: pd.DataFrame | None = None,
    *,
    credible_level: float = 0.95,
    n_grid: int = 60,
    n_samples: int = 1000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Where a task crosses ``level`` along one condition, with a credible band, at each of ``at``'s rows.

    For a branching fraction, ``level=0.5`` and ``along="T"`` give the temperature of the mechanism
    switch at each pressure. The task's modelled value is evaluated on a grid of ``n_grid`` points
    evenly spaced in the condition's model coordinate over its bounds (``1000/T`` for a temperature),
    and each joint posterior draw (``model.sample``) is located where it crosses ``level`` (linear
    interpolation between grid points). A draw that crosses several times counts the crossing nearest
    to that of the posterior mean curve (the first one in the model coordinate if the mean does not
    cross). Where the mean curve itself crosses more than once (a fraction that rises and falls
    again), the row reports its first crossing in the model coordinate and ``mean_crossings`` says
    how many there are: search again over part of the range (a narrower :class:`Space`) for the
    others.

    Parameters
    ----------
    model : KineticsModel or any model with the same ``predict_joint``/``sample`` API
        A fitted model.
    task : str, optional
        The task (may be omitted for a one-task model).
    level : float
        Level in the task's physical unit, inside its transform's domain.
    along : str
        The continuous condition to search along.
    at : DataFrame, optional
        One row per curve: values of every other condition (physical units). May be omitted when
        ``along`` is the only condition.
    credible_level : float
        Probability of the central band ``[lower, upper]``.
    n_grid : int
        Grid points along the condition (>= 5).
    n_samples : int
        Joint draws per curve.
    seed : int, optional
        Seed of the draws (curve ``i`` uses ``seed + i``).

    Returns
    -------
    DataFrame
        One row per row of ``at``, with ``at``'s row labels: its condition columns, ``task``,
        ``mean`` (where the posterior mean of the modelled value crosses; for a log or logit task
        also where the posterior median of the physical value crosses; NaN if it does not),
        ``median``, ``lower``, ``upper`` (quantiles of the draws' crossings, among the draws that
        cross) and ``probability`` (share of draws that cross ``level`` inside the bounds), all in
        ``along``'s physical unit, and ``mean_crossings`` (how many times the posterior mean curve
        crosses ``level``; more than 1: see above).
    """
    where = "level_crossing"
    _, task_ = _task(model, task, where)
    model = _posterior_for(model, task_)
    threshold = _threshold(task_, level, where)
    variable = _continuous(model.space, along, where, needs="a crossing along it")
    credible_level = _probability(credible_level, "credible_level", where)
    n_samples = _check_n_samples(n_samples, where)
    n_grid = check_integer(n_grid, "n_grid", 5, where)
    others = [name for name in model.space.names if name != along]
    if at is None:
        if others:
            raise InputDataError(
                f"{where}: give the other conditions {others} as the columns of at=DataFrame"
            )
        at = pd.DataFrame(index=[0])
    if not isinstance(at, pd.DataFrame) or len(at) == 0:
        raise InputDataError(f"{where}: at must be a DataFrame with at least one row")
    if along in at.columns:
        raise InputDataError(
            f"{where}: at has a column {along!r}, the condition the crossing is searched along "
            f"(over its whole range); remove it from at"
        )
    missing = [name for name in others if name not in at.columns]
    if missing:
        raise InputDataError(
            f"{where}: at lacks condition column(s) {missing}; it has {list(map(str, at.columns))}, and "
            f"needs every condition but {along!r}: {others} (names are case-sensitive)"
        )
    try:  # named by at's own row labels, not the grid's
        model.space.validate(at[others].assign(**{along: variable.lower})[model.space.names])
    except InputDataError as err:
        raise InputDataError(f"{where}: at: {err}") from None
    labels = at.index  # the result keeps at's row labels, as the other derived functions do
    at = at[others].reset_index(drop=True)
    u = np.linspace(0.0, 1.0, int(n_grid))
    grid_values = variable.from_unit_interval(u)
    q = 0.5 - credible_level / 2.0
    rows: list[dict[str, Any]] = []
    for i in range(len(at)):
        frame = at.iloc[np.full(len(u), i)].reset_index(drop=True)
        frame[along] = grid_values
        frame = frame[model.space.names]
        model.space.validate(frame)
        mean, _ = _task_moments(model, frame, task_)
        mean_cross = _crossings(u, (mean - threshold)[None, :])[0]
        draws = _task_draws(model, frame, task_, int(n_samples), None if seed is None else seed + i)
        crossings = _crossings(u, draws - threshold)
        anchor = mean_cross[0] if mean_cross.size else None
        chosen = np.array(
            [c[np.argmin(np.abs(c - anchor))] if anchor is not None else c[0] for c in crossings if c.size]
        )
        row: dict[str, Any] = dict(at.iloc[i])
        row["task"] = task_.name
        row["mean"] = float(variable.from_unit_interval(mean_cross[:1])[0]) if mean_cross.size else math.nan
        if chosen.size:
            lo, med, hi = np.quantile(chosen, [q, 0.5, 1.0 - q])
            row["median"], row["lower"], row["upper"] = (
                float(v) for v in variable.from_unit_interval(np.array([med, lo, hi]))
            )
        else:
            row["median"] = row["lower"] = row["upper"] = math.nan
        row["probability"] = chosen.size / len(crossings)
        row["mean_crossings"] = int(mean_cross.size)
        rows.append(row)
    out = pd.DataFrame(rows, index=labels)
    # Quantiles in u map to quantiles of the physical value, but a decreasing transform (1000/T)
    # swaps their order: keep lower <= upper in physical units.
    lower, upper = out["lower"].to_numpy(copy=True), out["upper"].to_numpy(copy=True)
    out["lower"], out["upper"] = np.fmin(lower, upper), np.fmax(lower, upper)
    return out

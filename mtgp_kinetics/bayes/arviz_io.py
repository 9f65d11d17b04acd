"""Every use of ArviZ in mtgp_kinetics, in one module (a move to ArviZ 1.x changes this file only).

* :func:`to_inference_data` -- posterior quantities, sampler statistics and observed data as an
  ``arviz.InferenceData``;
* :func:`diagnostics` -- R-hat, bulk and tail ESS per scalar parameter, divergences and BFMI;
* :func:`pareto_smoothed_log_weights` -- PSIS of importance weights, with the Pareto shape ``k``;
* :func:`to_netcdf` / :func:`from_netcdf` -- files;
* :func:`plot_trace`, :func:`plot_rank`, :func:`plot_task_correlation` -- figures.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from matplotlib import MatplotlibDeprecationWarning

from mtgp_kinetics.errors import InputDataError

#: Quantities whose ``[i, j]`` and ``[j, i]`` entries are the same number (reported once).
SYMMETRIC = ("task_covariance", "task_correlation")


def to_inference_data(
    posterior: dict[str, np.ndarray],
    dims: dict[str, Sequence[str]],
    coords: dict[str, Sequence[Any]],
    sample_stats: dict[str, np.ndarray],
    observed: dict[str, np.ndarray],
    constant: dict[str, np.ndarray],
    attrs: dict[str, Any] | None = None,
) -> az.InferenceData:
    """Build the ``InferenceData``.

    Parameters
    ----------
    posterior : dict of str to ndarray
        Quantity -> ``chains x draws x ...`` values.
    dims : dict of str to sequence of str
        Quantity (and observed variable) -> its dimension names after ``chain``, ``draw``.
    coords : dict of str to sequence
        Dimension -> labels.
    sample_stats : dict of str to ndarray
        ``diverging``, ``tree_depth``, ``n_steps``, ``energy``, ``lp``, ``step_size``: ``chains x draws``.
    observed : dict of str to ndarray
        E.g. ``y``: the ``n`` observations in transformed units (dimension ``observation``).
    constant : dict of str to ndarray
        E.g. the task of each observation.
    attrs : dict, optional
        Stored on every group (numbers and strings only, for netCDF).
    """
    used = {d for name in (*posterior, *observed, *constant) for d in dims.get(name, ())}
    idata = az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        observed_data=observed,
        constant_data=constant,
        coords={k: list(v) for k, v in coords.items() if k in used},
        dims={k: list(v) for k, v in dims.items()},
    )
    # from_dict puts attrs on some groups only; netCDF attributes take numbers and strings.
    plain = {k: int(v) if isinstance(v, bool) else v for k, v in (attrs or {}).items() if v is not None}
    for group in idata.groups():
        idata[group].attrs.update(plain)
    return idata


def _entries(idata: az.InferenceData) -> list[tuple[str, str, dict[str, Any]]]:
    """Scalar parameters worth diagnosing: (variable, display name, selection).

    Constant entries (a correlation's diagonal, structural zeros, a fixed noise level) have no
    R-hat and are left out, as is the lower triangle of symmetric matrices.
    """
    out = []
    posterior = idata.posterior
    for var in posterior.data_vars:
        values = posterior[var]
        extra = [d for d in values.dims if d not in ("chain", "draw")]
        labels = [values.coords[d].values.tolist() for d in extra]
        for combo in itertools.product(*(range(len(lab)) for lab in labels)):
            if var in SYMMETRIC and combo[0] > combo[1]:
                continue
            selection = dict(zip(extra, combo, strict=True))
            entry = values.isel(selection).values
            if np.ptp(entry) <= 1e-12 * max(1.0, float(np.abs(entry).max())):
                continue
            label = ", ".join(str(lab[i]) for lab, i in zip(labels, combo, strict=True))
            out.append((var, f"{var}[{label}]" if label else var, selection))
    return out


def _distinct_entries(idata: az.InferenceData) -> list[tuple[str, str, dict[str, Any]]]:
    """:func:`_entries` without repeats: the same draws under two names are kept under the first.

    With one latent process ICM's task variance ``B[t, t]`` is its latent variance; a repeat only
    lengthens warnings and draws the same trace twice.
    """
    out, seen = [], []
    for var, name, selection in _entries(idata):
        values = idata.posterior[var].isel(selection).values
        if any(values.shape == other.shape and np.array_equal(values, other) for other in seen):
            continue
        seen.append(values)
        out.append((var, name, selection))
    return out


def diagnostics(idata: az.InferenceData) -> pd.DataFrame:
    """Convergence summary, one row per scalar parameter (draws that repeat another's are left out).

    Returns
    -------
    DataFrame
        Columns ``parameter``, ``mean``, ``sd``, ``r_hat`` (rank-normalized split R-hat),
        ``ess_bulk``, ``ess_tail``; ``attrs`` hold ``divergences`` (post-warm-up, all chains),
        ``bfmi`` (per chain) and ``draws`` (chains x draws).
    """
    # Constant entries (left out below) make ArviZ divide 0 by 0; those results are not used.
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(idata)
        ess_bulk = az.ess(idata, method="bulk")
        ess_tail = az.ess(idata, method="tail")
    rows = []
    for var, name, selection in _distinct_entries(idata):
        values = idata.posterior[var].isel(selection).values
        rows.append(
            {
                "parameter": name,
                "mean": float(values.mean()),
                "sd": float(values.std()),
                "r_hat": float(rhat[var].isel(selection)),
                "ess_bulk": float(ess_bulk[var].isel(selection)),
                "ess_tail": float(ess_tail[var].isel(selection)),
            }
        )
    frame = pd.DataFrame(rows, columns=["parameter", "mean", "sd", "r_hat", "ess_bulk", "ess_tail"])
    stats = idata.sample_stats
    frame.attrs["divergences"] = int(stats["diverging"].values.sum())
    frame.attrs["bfmi"] = [float(b) for b in np.atleast_1d(az.bfmi(idata))]
    frame.attrs["draws"] = (int(stats.sizes["chain"]), int(stats.sizes["draw"]))
    return frame


def pareto_smoothed_log_weights(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed importance log weights (PSIS, Vehtari et al. 2024), via ``arviz.psislw``.

    Parameters
    ----------
    log_weights : ndarray
        ``m`` finite log importance weights (unnormalized).

    Returns
    -------
    smoothed : ndarray
        ``m`` smoothed log weights, normalized (``logsumexp = 0``).
    pareto_k : float
        Estimated shape of the weights' tail: below 0.7 the importance-sampling estimate is
        reliable; above, the proposal misses part of the target.
    """
    smoothed, pareto_k = az.psislw(np.asarray(log_weights, dtype=float))
    return np.asarray(smoothed, dtype=float), float(pareto_k)


def to_netcdf(idata: az.InferenceData, path: str | os.PathLike[str]) -> None:
    """Write ``idata`` to a netCDF file."""
    idata.to_netcdf(str(path))


def from_netcdf(path: str | os.PathLike[str]) -> az.InferenceData:
    """Read an ``InferenceData`` written by :func:`to_netcdf` (loaded into memory, file closed)."""
    idata = az.from_netcdf(str(path))
    idata.load()
    return idata


def _scalars(idata: az.InferenceData, var_names: Sequence[str] | None) -> dict[str, np.ndarray]:
    """Non-constant scalar entries of the chosen quantities, ``chains x draws`` each, by display name.

    Raises
    ------
    InputDataError
        If a name is not a posterior variable, or none of the chosen ones varies over the draws.
    """
    if isinstance(var_names, str):
        var_names = [var_names]
    chosen = None if var_names is None else set(var_names)
    unknown = sorted(chosen - set(idata.posterior.data_vars)) if chosen is not None else []
    if unknown:
        raise InputDataError(
            f"var_names {unknown} are not posterior variables; known: {sorted(idata.posterior.data_vars)}"
        )
    out = {
        name: idata.posterior[var].isel(selection).values
        for var, name, selection in _distinct_entries(idata)
        if chosen is None or var in chosen
    }
    if not out:
        raise InputDataError(
            f"nothing to plot: {sorted(chosen or [])} do not vary over the draws (e.g. the task "
            f"correlation of a structure that shares nothing is 0 in every draw)"
        )
    return out


@contextmanager
def _quiet_matplotlib() -> Iterator[None]:
    """ArviZ 0.23 calls a matplotlib API deprecated in 3.11; that warning is not ours to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatplotlibDeprecationWarning)
        yield


def plot_trace(idata: az.InferenceData, var_names: Sequence[str] | None = None) -> Any:
    """Trace plot (per-chain densities and traces) of each non-constant entry; returns the axes."""
    with _quiet_matplotlib():
        axes = az.plot_trace(_scalars(idata, var_names), compact=False)
    _tidy(axes)
    return axes


def plot_rank(idata: az.InferenceData, var_names: Sequence[str] | None = None) -> Any:
    """Rank plot (uniform ranks per chain mean mixed chains) of each non-constant entry; returns the axes."""
    with _quiet_matplotlib():
        axes = az.plot_rank(_scalars(idata, var_names))
    _tidy(axes)
    return axes


def _tidy(axes: Any) -> None:
    """Lay out ArviZ's grid of panels so no title sits on the tick labels of the panel above."""
    figure = np.atleast_1d(axes).ravel()[0].figure
    figure.tight_layout()


def plot_task_correlation(idata: az.InferenceData, level: float = 0.95) -> Any:
    """Posterior densities of each pair's task correlation with its equal-tailed ``level`` interval.

    The interval is the one :meth:`~mtgp_kinetics.bayes.model.BayesianKineticsModel.task_correlation_summary`
    reports (central quantiles), drawn as a bar under the density with its ends written out.

    Raises
    ------
    InputDataError
        With one task, or if the structure shares nothing (every correlation is 0 in every draw).
    """
    tasks = idata.posterior["task_correlation"].coords["task"].values.tolist()
    pairs = [(a, b) for i, a in enumerate(tasks) for b in tasks[i + 1 :]]
    if not pairs:
        raise InputDataError("the task correlation needs at least two tasks")
    stacked = {
        f"{a} ~ {b}": idata.posterior["task_correlation"].sel(task=a, task_=b).values for a, b in pairs
    }
    if all(np.ptp(values) == 0 for values in stacked.values()):
        raise InputDataError(
            "every task correlation is the same in all draws (a structure without a shared process: "
            "the tasks are independent, correlation 0); there is no posterior to plot"
        )
    with _quiet_matplotlib():
        # ArviZ's own texts (point estimate, reference split) are drawn over the density; the
        # figures go into each panel's title instead.
        axes = az.plot_posterior(stacked, hdi_prob="hide", point_estimate=None)
    for ax, (pair, values) in zip(np.atleast_1d(axes).ravel(), stacked.items(), strict=False):
        low, high = np.quantile(values, [0.5 - level / 2, 0.5 + level / 2])
        bottom = ax.get_ylim()[0]
        ax.plot([low, high], [bottom, bottom], color="black", linewidth=4, solid_capstyle="butt")
        ax.axvline(0.0, color="tab:orange", linewidth=1, linestyle="--")
        ax.set_title(
            f"{pair}\nmedian {np.median(values):.2f}, {level:.0%} interval (bar) [{low:.2f}, {high:.2f}], "
            f"P(corr > 0) = {np.mean(values > 0):.2f}",
            fontsize=10,
        )
    _tidy(axes)
    return axes

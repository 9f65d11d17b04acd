"""How a campaign's uncertainty (and, against a known truth, its error) fell, experiment by experiment.

The learning curve is recomputed from the store rather than logged: for every prefix of the
campaign's experiments (in the order they were recorded), the posterior of the *final* model's
hyperparameters given only the observations of that prefix, at a fixed set of conditions. With the
hyperparameters held fixed the posterior has a closed form (Rasmussen & Williams 2006, eq. 2.23-2.24),
so a curve over a hundred experiments costs a hundred small Cholesky factorizations and no refit.
It shows what the data bought, separated from how the hyperparameters moved; the model the
campaign used at a given step had hyperparameters fitted to that step's data instead.

Noise: each observation gets its task's noise variance of a new measurement (the learned one, or
the median known variance of a fixed-noise task).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from mtgp_kinetics.back_transform import physical_std
from mtgp_kinetics.campaign.results import SUGGESTION_ID
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.model import KineticsModel


def experiment_numbers(observations: pd.DataFrame) -> np.ndarray:
    """Experiment number (1, 2, ...) of each observation, in order of each experiment's first result.

    An experiment is a suggestion (``suggestion_id``) or, for results recorded without one, a row
    of a recorded frame (``record_id``, ``source_row``).

    Parameters
    ----------
    observations : DataFrame
        ``n`` rows as :meth:`CampaignStore.observations` returns them (oldest first).

    Returns
    -------
    ndarray
        ``n`` integers.
    """
    keys = [
        f"s{int(sid)}" if not pd.isna(sid) else f"r{rid}:{row}"
        for sid, rid, row in zip(
            observations[SUGGESTION_ID], observations["record_id"], observations["source_row"], strict=True
        )
    ]
    first: dict[str, int] = {}
    for key in keys:
        first.setdefault(key, len(first) + 1)
    return np.array([first[k] for k in keys], dtype=np.int64)


def learning_history(
    model: KineticsModel,
    observations: pd.DataFrame,
    points: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    start: int = 1,
) -> pd.DataFrame:
    """Predictive uncertainty (and error) at ``points`` after each prefix of the experiments.

    Parameters
    ----------
    model : KineticsModel
        The fitted model whose hyperparameters (and standardization) are used for every prefix.
        The figures are those of ``model.predict(..., hyperparameter_uncertainty=False)``: the
        predictive at these hyperparameters, without the Laplace term for their uncertainty.
    observations : DataFrame
        The campaign's observations (:meth:`CampaignStore.observations`), oldest first.
    points : DataFrame
        ``m`` conditions (physical units) at which the predictive is summarized, e.g. Sobol points.
    truth : DataFrame, optional
        ``m`` rows, one column per task: true (noise-free) values at ``points``, physical units.
        Adds ``rmse`` and ``nlpd`` (modelled units, latent predictive).
    start : int
        First prefix length (experiments).

    Returns
    -------
    DataFrame
        One row per (prefix, task): ``experiments``, ``task``, ``n_observations`` (of that task),
        ``max_std`` and ``mean_std`` (latent predictive std, physical units), ``max_transformed_std``
        and ``mean_transformed_std`` (modelled units, e.g. log10 s) and, with ``truth``, ``rmse`` and
        ``nlpd``.
    """
    if len(observations) == 0:
        raise InputDataError("learning_history: the campaign has no observations")
    space, tasks = model.space, model.tasks
    names = [t.name for t in tasks]
    unknown = sorted(set(observations["task"]) - set(names))
    if unknown:
        raise InputDataError(f"learning_history: observations of unknown task(s) {unknown}")
    gp = model.gp
    t_idx = np.array([names.index(t) for t in observations["task"]])
    task_col = torch.as_tensor(t_idx, dtype=torch.float64).unsqueeze(-1)
    X = torch.cat([space.to_model(observations, validate=False), task_col], dim=-1)
    z = np.empty(len(observations))
    for j, task in enumerate(tasks):
        rows = t_idx == j
        z[rows] = task.output_transform.forward(observations["value"].to_numpy(dtype=float)[rows])
    index = torch.as_tensor(t_idx)
    y = (torch.as_tensor(z) - model.y_mean[index]) / model.y_std[index]
    Z = gp.all_tasks_inputs(space.to_model(points, validate=False))  # (t m) x (d + 1), task-major
    m = len(points)
    with torch.no_grad():
        noise = gp.likelihood.noise_covar.per_task_variance()[index] + gp.likelihood.noise_covar.jitter
        K = gp.covar_module.forward(X, X) + torch.diag(noise)
        K_XZ = gp.covar_module.forward(X, Z)
        prior_var = gp.covar_module.forward(Z, Z, diag=True)
        residual = y - gp.mean_module(X)
        prior_mean = gp.mean_module(Z)
    experiment = experiment_numbers(observations)
    z_true = None
    if truth is not None:
        missing = [n for n in names if n not in truth.columns]
        if missing or len(truth) != m:
            raise InputDataError(f"learning_history: truth needs {m} rows and the task columns {names}")
        z_true = [task.output_transform.forward(truth[task.name].to_numpy(dtype=float)) for task in tasks]
    rows_out = []
    for k in range(max(1, int(start)), int(experiment.max()) + 1):
        keep = torch.as_tensor(experiment <= k)
        with torch.no_grad():
            L = torch.linalg.cholesky(K[keep][:, keep])
            V = torch.linalg.solve_triangular(L, K_XZ[keep], upper=False)
            # m(Z) + K_ZX K^-1 (y - m(X)) = m(Z) + V^T L^-1 r with V = L^-1 K_XZ (eq. 2.23)
            white = torch.linalg.solve_triangular(L, residual[keep].unsqueeze(-1), upper=False)
            mean = prior_mean + (V.T @ white)[:, 0]
            var = (prior_var - (V**2).sum(0)).clamp_min(1e-12)  # eq. 2.24
        for j, task in enumerate(tasks):
            block = slice(j * m, (j + 1) * m)
            mu = (mean[block] * model.y_std[j] + model.y_mean[j]).numpy()
            s = (var[block].sqrt() * model.y_std[j]).numpy()
            std = physical_std(task.output_transform, mu, s)
            row = {
                "experiments": k,
                "task": task.name,
                "n_observations": int(((t_idx == j) & (experiment <= k)).sum()),
                "max_std": float(std.max()),
                "mean_std": float(std.mean()),
                "max_transformed_std": float(s.max()),
                "mean_transformed_std": float(s.mean()),
            }
            if z_true is not None:
                err = mu - z_true[j]
                row["rmse"] = float(np.sqrt(np.mean(err**2)))
                row["nlpd"] = float(-np.mean(norm.logpdf(z_true[j], loc=mu, scale=s)))
            rows_out.append(row)
    return pd.DataFrame(rows_out)

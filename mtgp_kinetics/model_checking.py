"""Exact cross-validation of a fitted GP without refitting: leave-one-out and leave-conditions-out.

With hyperparameters held fixed, the predictive of held-out observations ``I`` given the rest has a
closed form in the inverse of the joint training covariance ``K_y = K + Sigma`` (noise included) and
``alpha = K_y^{-1} (y - m)``:

    Sigma_I = ([K_y^{-1}]_II)^{-1},   mu_I = y_I - Sigma_I alpha_I

(Rasmussen & Williams 2006, eq. 5.12 for a single observation; the block form follows from the
partitioned inverse, Sundararajan & Keerthi 2001). The predictive is that of a new *measurement*
(its noise included), so NLPD and coverage are scored against the observed values.

Two ways to hold out:

* by observation (``loo``): each observation alone; other tasks measured at the same condition stay
  in, which is what predicting a missing output of a heterotopic data set looks like;
* by condition (``leave-one-condition-out`` or k folds of conditions): every observation at the same
  conditions (all tasks and replicates of an experiment) leaves together, which is what predicting a
  new experiment looks like and what a fair "does sharing help" check needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from mtgp_kinetics.back_transform import central_interval
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.models.gp import CoregionalGP
from mtgp_kinetics.tasks import Task

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel


@dataclass(frozen=True)
class HeldOutPredictive:
    """Predictive of each training observation when held out (standardized units).

    Attributes
    ----------
    mean, variance : ndarray
        ``n`` predictive means and variances of the held-out measurements.
    target : ndarray
        ``n`` observed (standardized) values.
    task : ndarray
        ``n`` task indices.
    """

    mean: np.ndarray
    variance: np.ndarray
    target: np.ndarray
    task: np.ndarray


def _training_system(gp: CoregionalGP) -> tuple[torch.Tensor, torch.Tensor]:
    """``K_y^{-1}`` (``n x n``) and ``alpha = K_y^{-1} (y - m)`` (``n``) at the fitted hyperparameters."""
    X = gp.train_inputs[0]
    with torch.no_grad():
        L = torch.linalg.cholesky(gp.training_system())
        K_inv = torch.cholesky_inverse(L)
        alpha = K_inv @ (gp.train_targets - gp.mean_module(X))
    return K_inv, alpha


def condition_groups(train_inputs: torch.Tensor) -> np.ndarray:
    """Group label per observation (``n``): observations at identical conditions share a label."""
    conditions = np.round(train_inputs[:, :-1].numpy(), 12)
    _, labels = np.unique(conditions, axis=0, return_inverse=True)
    return labels.reshape(-1)


def held_out_predictive(gp: CoregionalGP, groups: np.ndarray | None = None) -> HeldOutPredictive:
    """Exact held-out predictive of every training observation, hyperparameters fixed.

    Parameters
    ----------
    gp : CoregionalGP
        A fitted model.
    groups : ndarray, optional
        ``n`` labels; observations sharing a label are held out together. ``None``: one at a time.

    Returns
    -------
    HeldOutPredictive
        Marginal predictive of each observation given all observations outside its group.
    """
    K_inv, alpha = _training_system(gp)
    n = alpha.shape[0]
    X = gp.train_inputs[0]
    target = gp.train_targets.detach().numpy()
    tasks = X[:, -1].round().long().numpy()
    if groups is None:
        variance = 1.0 / torch.diagonal(K_inv)  # R&W eq. 5.12
        mean = gp.train_targets - alpha * variance
        return HeldOutPredictive(mean.numpy(), variance.numpy(), target, tasks)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise InputDataError(f"groups must have one label per observation ({n}), got shape {groups.shape}")
    mean = np.empty(n)
    variance = np.empty(n)
    for label in np.unique(groups):
        idx = torch.as_tensor(np.flatnonzero(groups == label))
        block = K_inv[idx][:, idx]
        cov = torch.linalg.inv(block)
        mean[idx.numpy()] = (gp.train_targets[idx] - cov @ alpha[idx]).numpy()
        variance[idx.numpy()] = torch.diagonal(cov).numpy()
    return HeldOutPredictive(mean, variance, target, tasks)


def kfold_of(groups: np.ndarray, folds: int, seed: int = 0, what: str = "groups") -> np.ndarray:
    """Fold label per observation: the ``n`` group labels ``0..G-1`` assigned to ``folds`` folds (seeded).

    A group (a condition, a study) never straddles two folds; fold sizes differ by at most one group.
    """
    groups = np.asarray(groups)
    n_groups = int(groups.max()) + 1 if groups.size else 0
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not 2 <= folds <= n_groups:
        raise InputDataError(f"folds must be between 2 and the number of {what} ({n_groups}), got {folds!r}")
    order = np.random.default_rng(seed).permutation(n_groups)
    fold_of_group = np.empty(n_groups, dtype=int)
    fold_of_group[order] = np.arange(n_groups) % folds
    return fold_of_group[groups]


def pointwise_scores(
    predictive: HeldOutPredictive, y_mean: torch.Tensor, y_std: torch.Tensor, level: float = 0.95
) -> pd.DataFrame:
    """Per-observation scores in the model's output space (transformed, not standardized).

    Returns
    -------
    DataFrame
        ``n`` rows: ``task`` (index), ``observed``, ``mean``, ``std``, ``log_density``, ``inside``.
    """
    t = predictive.task
    scale = y_std.numpy()[t]
    offset = y_mean.numpy()[t]
    observed = predictive.target * scale + offset
    mean = predictive.mean * scale + offset
    std = np.sqrt(np.clip(predictive.variance, 1e-300, None)) * scale
    z = norm.ppf(0.5 + level / 2.0)
    return pd.DataFrame(
        {
            "task_index": t,
            "observed": observed,
            "mean": mean,
            "std": std,
            "log_density": norm.logpdf(observed, loc=mean, scale=std),
            "inside": np.abs(observed - mean) <= z * std,
        }
    )


def summarize(points: pd.DataFrame, task_names: list[str]) -> pd.DataFrame:
    """Per-task RMSE, mean NLPD and interval coverage of :func:`pointwise_scores` rows."""
    rows = []
    for k, name in enumerate(task_names):
        p = points[points["task_index"] == k]
        rows.append(
            {
                "task": name,
                "n": len(p),
                "rmse": float(np.sqrt(np.mean((p["observed"] - p["mean"]) ** 2))) if len(p) else np.nan,
                "nlpd": float(-p["log_density"].mean()) if len(p) else np.nan,
                "coverage": float(p["inside"].mean()) if len(p) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def held_out_scores(
    prediction: pd.DataFrame, truth: pd.DataFrame, tasks: Sequence[Task], level: float
) -> pd.DataFrame:
    """Accuracy and calibration of latent predictions against noise-free true values (a test set).

    Parameters
    ----------
    prediction : DataFrame
        ``model.predict(conditions, level=level)`` of ``n`` conditions (``n t`` rows, condition-major).
    truth : DataFrame
        ``n`` rows, one column per task: the true values in physical units, same condition order.
    tasks : sequence of Task
        The tasks to score.
    level : float
        Probability of the ``[lower, upper]`` intervals in ``prediction``.

    Returns
    -------
    DataFrame
        One row per task (index ``task``): ``rmse`` and ``nlpd`` in modelled units (log10 s,
        logit...), ``coverage`` (share of true values inside ``[lower, upper]``).
    """
    rows = []
    for task in tasks:
        pred = prediction[prediction["task"] == task.name]
        y = truth[task.name].to_numpy(dtype=float)
        z = task.output_transform.forward(y)
        mu = pred["transformed_mean"].to_numpy(dtype=float)
        s = pred["transformed_std"].to_numpy(dtype=float)
        # Gaussian negative log density of z under N(mu, s^2), averaged over the conditions.
        nlpd = np.mean(0.5 * np.log(2.0 * np.pi * s**2) + 0.5 * ((z - mu) / s) ** 2)
        inside = (y >= pred["lower"].to_numpy()) & (y <= pred["upper"].to_numpy())
        rows.append(
            {
                "task": task.name,
                "rmse": float(np.sqrt(np.mean((z - mu) ** 2))),
                "nlpd": float(nlpd),
                "coverage": float(inside.mean()),
            }
        )
    return pd.DataFrame(rows).set_index("task")


def held_out_physical(
    model: KineticsModel, by: str = "observation", folds: int | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Cross-validated predictions of every observation in physical units (for a parity plot).

    Parameters
    ----------
    model : KineticsModel
        A fitted model.
    by, folds
        As :meth:`mtgp_kinetics.model.KineticsModel.held_out_predictions`: one observation at a
        time, or by condition (one experiment at a time, or ``folds`` folds of experiments).
    level : float
        Probability of the ``[lower, upper]`` intervals.

    Returns
    -------
    DataFrame
        One row per observation: ``task``, ``observed``, ``mean``, ``lower``, ``upper`` in physical
        units (the predictive of a new measurement given the observations not held out; ``mean`` is
        the back-transformed median for log and logit tasks), ready for
        :func:`mtgp_kinetics.plotting.parity_plot`.
    """
    points = model.held_out_predictions(by=by, folds=folds, level=level)
    frames = []
    for task in model.tasks:
        rows = points[points["task"] == task.name]
        transform = task.output_transform
        mu, s = rows["mean"].to_numpy(dtype=float), rows["std"].to_numpy(dtype=float)
        lower, upper = central_interval(transform, mu, s, level)
        frames.append(
            pd.DataFrame(
                {
                    "task": task.name,
                    "observed": transform.inverse(rows["observed"].to_numpy(dtype=float)),
                    "mean": transform.inverse(mu),
                    "lower": lower,
                    "upper": upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)

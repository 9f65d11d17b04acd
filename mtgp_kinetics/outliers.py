"""Observations a fitted model cannot explain: leave-one-out residuals, optionally with refits.

The exact leave-one-out predictive of observation ``i`` (R&W eq. 5.12, hyperparameters fixed) gives
``z_i = (y_i - mu_-i) / s_-i``, standard normal for a correct model. A gross error (a value typed a
decade off) also pulls the hyperparameters, above all the noise level: with 15 observations of a
smooth rate, a 10x typo raised the fitted noise std from 0.03 to 0.28 log10 units and its own ``z``
fell to 3.3 (session 11). ``refit`` therefore refits the hyperparameters without each of the most
suspicious observations (warm-started from the fit, so a fraction of a fit each) and scores the
observation against that model: the typo's ``z`` becomes what a model that never saw it says.
Suspects are taken in order of ``|z|``, and each refit also leaves out those already confirmed,
so a typo does not make its clean neighbour look wrong (session 16: one decade off beside a clean
point gave that point ``z = -10.7`` when the typo stayed in its refit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.frame_parsing import RESERVED_COLUMNS

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel

#: Leave-one-out ``|z|`` from which an observation is refitted without (``refit`` > 0).
REFIT_FROM = 2.5

#: Optimizer iterations of a refit without one observation (warm start).
REFIT_MAX_ITER = 100


def outlier_table(model: KineticsModel, threshold: float, refit: int = 0) -> pd.DataFrame:
    """See :meth:`KineticsModel.outliers <mtgp_kinetics.model.KineticsModel.outliers>`."""
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not threshold > 0:
        raise InputDataError(f"threshold must be a number > 0, got {threshold!r}")
    if isinstance(refit, bool) or not isinstance(refit, int) or refit < 0:
        raise InputDataError(f"refit must be an integer >= 0, got {refit!r}")
    points = model.held_out_predictions(by="observation")
    z = ((points["observed"] - points["mean"]) / points["std"]).to_numpy()
    table = points[["task", "observed", "mean", "std"]].assign(z=z)
    if refit and model.data is not None:
        suspects = [int(i) for i in np.argsort(-np.abs(z)) if abs(z[i]) >= REFIT_FROM][:refit]
        confirmed: list[int] = []
        for i in suspects:
            # Also without the suspects already confirmed: a typo left in the fit pulls its
            # neighbours' predictions and would make a clean one look wrong (masking).
            mean, std = _refitted_predictive(model, [*confirmed, i])
            score = (table.loc[i, "observed"] - mean) / std
            table.loc[i, ["mean", "std", "z"]] = [mean, std, score]
            if abs(score) > threshold:
                confirmed.append(i)
    observations = None if model.data is None else model.data.observations
    if observations is not None and len(observations) == len(table):
        reserved = {*RESERVED_COLUMNS, *model.space.names}
        extras = [c for c in observations.columns if c not in reserved]  # a study, a campaign id
        context = observations[["row", *model.space.names, *extras]].reset_index(drop=True)
        table = pd.concat([context, table.reset_index(drop=True)], axis=1)
    flagged = table[np.abs(table["z"].to_numpy()) > threshold]
    order = np.argsort(-np.abs(flagged["z"].to_numpy()), kind="stable")
    return flagged.iloc[order].reset_index(drop=True)


def _refitted_predictive(model: KineticsModel, without_rows: list[int]) -> tuple[float, float]:
    """Mean and std (model output space, noise included) of the last of ``without_rows``.

    From a refit without every observation in ``without_rows`` (positions in the observations).
    """
    from mtgp_kinetics.model import KineticsModel
    from mtgp_kinetics.task_by_task import copy_held, copy_hyperparameters, fit_model

    data = model.data
    keep = np.ones(data.n_observations, dtype=bool)
    keep[without_rows] = False
    index = without_rows[-1]
    without = KineticsModel.from_dataset(data.subset(keep), model.kernel, model.mean)
    copy_hyperparameters(without, model)
    copy_held(without, model)  # a borrowed rotation stays held
    fit_model(without, restarts=1, max_iter=REFIT_MAX_ITER)
    row = data.observations.iloc[[index]]
    task = str(row["task"].iloc[0])
    prediction = without.predict(
        row[model.space.names].reset_index(drop=True), observation_noise=True, tasks=[task]
    )
    return float(prediction["transformed_mean"].iloc[0]), float(prediction["transformed_std"].iloc[0])

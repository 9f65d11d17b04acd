"""Does sharing help on my data? Cross-validated comparison of kernels and the negative-transfer check.

Both work on exact held-out predictives (:mod:`mtgp_kinetics.model_checking`), by default leaving out
whole conditions, so a multi-task model cannot score by reading the other tasks of the same
experiment. Differences to independent GPs come with the paired standard error over observations,
so "worse" means worse by more than the noise of the comparison.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError, MtgpWarning, relayed_warnings

if TYPE_CHECKING:
    from mtgp_kinetics.dataset import Dataset
    from mtgp_kinetics.model import KineticsModel
    from mtgp_kinetics.models.structure import KernelSpec

#: A shared model is flagged when it is worse than independent GPs on a task by more than this many
#: nats of mean NLPD *and* by more than two paired standard errors.
TRANSFER_MARGIN = 0.02


class NegativeTransferWarning(MtgpWarning):
    """A multi-task model predicts some task worse than independent GPs would."""


def paired_difference(
    points: pd.DataFrame, reference: pd.DataFrame, task_names: Sequence[str]
) -> pd.DataFrame:
    """Per task: mean NLPD of ``points`` minus that of ``reference`` and its paired standard error.

    Both frames come from :meth:`KineticsModel.held_out_predictions` on the same data, same order.
    """
    rows = []
    for task in task_names:
        mask = (points["task"] == task).to_numpy()
        d = reference["log_density"].to_numpy()[mask] - points["log_density"].to_numpy()[mask]
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else np.inf
        rows.append({"task": task, "nlpd_vs_independent": float(d.mean()), "se": se})
    return pd.DataFrame(rows)


def transfer_report(shared: KineticsModel, independent: KineticsModel, by: str = "condition") -> pd.DataFrame:
    """Per-task comparison of a shared model with independent GPs fitted to the same data.

    Returns
    -------
    DataFrame
        ``task``, ``nlpd_vs_independent`` (positive: sharing is worse, nats), ``se``, ``hurts``.
    """
    a = shared.held_out_predictions(by=by)
    b = independent.held_out_predictions(by=by)
    report = paired_difference(a, b, shared.task_names)
    report["hurts"] = (report["nlpd_vs_independent"] > TRANSFER_MARGIN) & (
        report["nlpd_vs_independent"] > 2 * report["se"]
    )
    return report


def warn_negative_transfer(report: pd.DataFrame, kernel_name: str, stacklevel: int = 2) -> None:
    """Issue a :class:`NegativeTransferWarning` naming every task that sharing hurts."""
    hurt = report[report["hurts"]]
    if hurt.empty:
        return
    details = "; ".join(
        f"{row.task!r}: {row.nlpd_vs_independent:+.2f} ± {row.se:.2f} nats" for row in hurt.itertuples()
    )
    warnings.warn(
        f"negative transfer: the {kernel_name!r} model predicts held-out conditions worse than "
        f"independent GPs on {details} (mean NLPD difference, leave-one-condition-out). These tasks do "
        "not share structure the way this kernel assumes. Use mtgp_kinetics.fit(data) (the default lets "
        "a task opt out of sharing) or kernel='independent'; mk.compare(data) shows the full table.",
        NegativeTransferWarning,
        stacklevel=stacklevel,
    )


def compare(
    data: Dataset,
    kernels: Sequence[str | KernelSpec] = ("icm", "lmc", "independent"),
    *,
    models: Mapping[str, KineticsModel] | None = None,
    by: str = "condition",
    level: float = 0.95,
    restarts: int = 4,
    seed: int = 0,
    max_iter: int = 300,
) -> pd.DataFrame:
    """Fit (or take) several models of the same data and compare them per task by cross-validation.

    Parameters
    ----------
    data : Dataset
        The data every model is fitted to.
    kernels : sequence of str or KernelSpec
        Structures to fit (``None`` entries mean the default model).
    models : mapping of str to KineticsModel, optional
        Already fitted models to include under the given names (must be fitted to ``data``).
    by : {"condition", "observation"}
        Leave out whole conditions (default, fair to multi-task models) or single observations.
    level : float
        Central interval probability for ``coverage``.
    restarts, seed, max_iter : int
        MAP settings for the models fitted here (see :func:`mtgp_kinetics.fit`). A warning of a
        fit is issued once, prefixed with the kernel it came from.

    Returns
    -------
    DataFrame
        One row per model and task: ``kernel``, ``task``, ``n``, ``rmse``, ``nlpd``, ``coverage``
        (model output space), ``nlpd_vs_independent`` (positive: worse than independent GPs) and its
        paired standard error ``se``. Independent GPs are fitted as the reference if not listed.
    """
    from mtgp_kinetics.api import fit
    from mtgp_kinetics.dataset import require_dataset

    require_dataset(data, "compare")
    fitted: dict[str, KineticsModel] = {}
    settings = {"restarts": restarts, "seed": seed, "max_iter": max_iter}
    for kernel in kernels:
        name = "default" if kernel is None else (kernel if isinstance(kernel, str) else kernel.name)
        with relayed_warnings(f"compare, kernel {name!r}: "):
            fitted[name] = fit(data, kernel=kernel, check_transfer=False, **settings)
    for name, model in (models or {}).items():
        if model.train_inputs.shape[0] != data.n_observations:
            raise InputDataError(f"model {name!r} was not fitted to this data set")
        fitted[name] = model
    if "independent" not in fitted:
        with relayed_warnings("compare, kernel 'independent': "):
            fitted["independent"] = fit(data, kernel="independent", **settings)
    reference = fitted["independent"].held_out_predictions(by=by, level=level)
    tables = []
    for name, model in fitted.items():
        points = model.held_out_predictions(by=by, level=level)
        table = model._summarize(points)
        diff = paired_difference(points, reference, model.task_names)
        table = table.merge(diff, on="task")
        table.insert(0, "kernel", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)

"""Reading the arguments of a batch of suggestions: the tasks to measure and acquisition values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.space import _rows


def parse_tasks_to_measure(
    frame: pd.DataFrame,
    tasks_to_measure: Sequence[Sequence[str]] | Sequence[str] | None,
    names: Sequence[str],
) -> list[list[str]]:
    """The tasks to measure at each of the ``q`` rows of ``frame``, each list in task order.

    Parameters
    ----------
    frame : DataFrame
        The ``q`` suggested conditions (only the index is used, for messages).
    tasks_to_measure : list of list of str, list of str or None
        One list per row, one list for every row, or None for every task.
    names : sequence of str
        The campaign's task names, in task order.

    Returns
    -------
    list of list of str
        ``q`` non-empty lists of distinct task names.
    """
    q = len(frame)
    if tasks_to_measure is None:
        return [list(names) for _ in range(q)]
    if isinstance(tasks_to_measure, str):
        tasks_to_measure = [tasks_to_measure]
    items = list(tasks_to_measure)
    if items and all(isinstance(x, str) for x in items):
        items = [items for _ in range(q)]
    if len(items) != q:
        raise InputDataError(
            f"tasks_to_measure has {len(items)} entries but the frame has {q} rows; give one list of "
            f"task names per row, one list for all rows, or None for every task"
        )
    out = []
    for label, entry in zip(frame.index, items, strict=True):
        if isinstance(entry, str) or not all(isinstance(x, str) for x in entry):
            raise InputDataError(f"tasks_to_measure at row {label}: {entry!r} is not a list of task names")
        entry = list(entry)
        unknown = [x for x in entry if x not in names]
        if not entry or unknown or len(set(entry)) != len(entry):
            raise InputDataError(
                f"tasks_to_measure at row {label}: {entry!r} must be distinct task names, at least "
                f"one, out of {list(names)}"
            )
        out.append([n for n in names if n in entry])
    return out


def parse_acquisition_values(
    frame: pd.DataFrame, acquisition_values: Sequence[float] | np.ndarray | None
) -> list[float | None]:
    """``q`` acquisition values (None where not given or NaN) for the rows of ``frame``.

    Parameters
    ----------
    frame : DataFrame
        The ``q`` suggested conditions (only the index is used, for messages).
    acquisition_values : sequence of float, array or tensor, optional
        ``q`` values; NaN means none.

    Returns
    -------
    list of float or None
        ``q`` entries.
    """
    q = len(frame)
    if acquisition_values is None:
        return [None] * q
    if hasattr(acquisition_values, "detach"):  # a torch tensor
        acquisition_values = acquisition_values.detach().cpu().numpy()
    try:
        values = np.asarray(acquisition_values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"acquisition_values must be numbers: {err}") from err
    if values.shape != (q,):
        raise InputDataError(
            f"acquisition_values has {values.size} entries but the frame has {q} rows; give one per row"
        )
    infinite = np.isinf(values)
    if infinite.any():
        rows = _rows(frame.index[infinite])
        raise InputDataError(f"acquisition_values: infinite value(s) at row(s) {rows}; give finite numbers")
    return [None if math.isnan(v) else float(v) for v in values]

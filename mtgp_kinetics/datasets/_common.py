"""What every real-data loader shares: the result type, reading the file, fractions at their bounds."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mtgp_kinetics.dataset import SATURATION_WARNING, Dataset
from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task

#: Default clipping of measured fractions before a logit: a yield of 0.1 % (a detection floor) or
#: 103 % (a calibration overshoot) would otherwise sit 3-7 logit units away from its neighbours.
FRACTION_BOUNDS = (0.01, 0.99)


@dataclass(frozen=True)
class LoadedData:
    """A real data set read by one of the loaders.

    Attributes
    ----------
    data : Dataset
        The validated observations, ready for :func:`mtgp_kinetics.fit`.
    frame : DataFrame
        The wide frame the dataset was built from (``m`` rows: the rows kept, after the set's
        quirks were handled; conditions and task columns in the units of the space and tasks).
    raw : DataFrame
        The file as read, unchanged (every row, every column).
    notes : list of str
        What the loader did to the source rows (rows left out, values clipped), one sentence each;
        each was also issued as a :class:`~mtgp_kinetics.DataWarning`.
    """

    data: Dataset
    frame: pd.DataFrame
    raw: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def data_file(folder: str | Path) -> Path:
    """``folder/data.csv``, or an :class:`InputDataError` saying what is missing."""
    folder = Path(folder)
    path = folder / "data.csv" if folder.is_dir() else folder
    if not path.is_file():
        raise InputDataError(
            f"no data file at {str(path)!r}; pass the folder of the data set (holding data.csv)"
        )
    return path


def read_raw(folder: str | Path, required: list[str]) -> pd.DataFrame:
    """Read ``data.csv`` of a data-set folder and check that ``required`` columns are there."""
    raw = pd.read_csv(data_file(folder))
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputDataError(f"{str(folder)!r}: missing column(s) {missing}; found {list(raw.columns)}")
    return raw


def note(notes: list[str], message: str, stacklevel: int = 3) -> None:
    """Record ``message`` and issue it as a :class:`DataWarning`."""
    notes.append(message)
    warnings.warn(message, DataWarning, stacklevel=stacklevel + 1)


def clip_fraction(values: pd.Series, name: str, bounds: tuple[float, float], notes: list[str]) -> pd.Series:
    """Clip measured fractions into ``bounds`` (for a logit), noting how many values moved.

    Parameters
    ----------
    values : Series
        ``m`` fractions (NaN: not measured).
    name : str
        Column name, for the note.
    bounds : (float, float)
        ``0 < low < high < 1``.
    notes : list of str
        Appended to (and warned) when a value is clipped.

    Returns
    -------
    Series
        A new series; NaN stays NaN.
    """
    low, high = bounds
    if not 0.0 < low < high < 1.0:
        raise InputDataError(f"fraction bounds must satisfy 0 < low < high < 1, got {bounds}")
    v = pd.to_numeric(values, errors="coerce").astype(float)
    n_low, n_high = int((v < low).sum()), int((v > high).sum())
    if n_low or n_high:
        note(
            notes,
            f"{name}: {n_low} value(s) below {low} and {n_high} above {high} clipped to those bounds "
            f"(detection floors and values at or over 100 % cannot enter a logit); a model takes the "
            f"clipped values as measured, so its intervals near them are too narrow",
            stacklevel=3,
        )
    return v.clip(low, high).where(v.notna(), np.nan)


def clipped_dataset(frame: pd.DataFrame, space: Space, tasks: Sequence[Task]) -> Dataset:
    """``Dataset.from_frame(frame, ..., form="wide")`` of a frame whose fractions were clipped.

    :func:`clip_fraction` has already said which values it clipped and what that means, so the
    dataset's own warning about values on one bound (``SATURATION_WARNING``) is not repeated.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=re.escape(SATURATION_WARNING), category=DataWarning)
        return Dataset.from_frame(frame, space, list(tasks), form="wide")

"""Measured data: observations of several tasks at experimental conditions, checked at the boundary.

A :class:`Dataset` is read from a wide frame (one column per task) or a long frame (one row per
measured value), validated once, and then holds ``n`` observations in long form. Heterotopic data
(not every task at every condition) is the normal case and repeated conditions are replicates, all
kept. The model-facing views are ``n x (d + 1)`` inputs whose last column is the task index,
``n`` targets in each task's modelled space and ``n`` known noise variances in that space.

Row labels in error messages are the frame's index labels; :meth:`Dataset.from_csv` labels rows by
their line in the file, as a spreadsheet numbers them (line 1 is the header, so "row 5" is the
fourth data row).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.csv_files import read_csv
from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.frame_parsing import RESERVED_COLUMNS, check_definitions, parse, stack
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task

#: Fewest values of a per-cent task, none above 1, for :class:`Dataset` to warn that they may be
#: fractions: a handful of trace yields below 1 % is plausible, a whole column of them less so.
FRACTION_CHECK_MIN = 5


def _warn_fractions_given_as_percent(observations: pd.DataFrame, tasks: Sequence[Task]) -> None:
    """Warn for each per-cent task whose values all lie in [0, 1] (fractions in a per-cent column?)."""
    for task in tasks:
        if task.output_transform.name != "logit_percent":
            continue
        values = observations.loc[observations["task"] == task.name, "value"].to_numpy(dtype=float)
        if len(values) >= FRACTION_CHECK_MIN and float(values.max()) <= 1.0:
            warnings.warn(
                f"task {task.name!r} is in per cent (unit {task.unit!r}), but all its {len(values)} "
                f"values are at most 1 (largest {values.max():g}): if they are fractions, give the task "
                f"unit='' (a fraction, modelled as logit(y)) or multiply them by 100; as they are, "
                f"{values.max():g} means {values.max():g} %",
                DataWarning,
                stacklevel=3,
            )


#: Observations of a fraction task exactly on its smallest or largest value that make it "saturated".
SATURATION_MIN_COUNT = 3
#: How close to 0 or 1 (as a fraction) that value must lie to read as a clip or saturation, not as
#: exact repeats of a mid-range value (a yield set by a categorical condition alone, say 0.4).
SATURATION_MARGIN = 0.05
#: How the saturation warning starts (a loader that clipped, and said so, filters it by this).
SATURATION_WARNING = "fraction task(s) with several values exactly on one bound"


def _warn_repeated_rows(frame: pd.DataFrame) -> None:
    """Warn (:class:`~mtgp_kinetics.errors.DataWarning`) about rows equal to an earlier row in every cell.

    A row pasted twice counts as two measurements and makes the model more confident at its
    conditions than one measurement warrants. Replicates (same conditions, their own values) differ
    in some cell and are not named. Both rows are kept: deleting data is the user's call.
    """
    if not isinstance(frame, pd.DataFrame) or len(frame) < 2 or not len(frame.columns):
        return
    try:
        keys = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells (lists): no such check
        return
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    first = {}
    for label, key in zip(frame.index, keys, strict=True):
        first.setdefault(key, label)
    copies = zip(frame.index[repeated], keys[repeated], strict=True)
    pairs = [f"{label} = {first[key]}" for label, key in copies]
    shown = ", ".join(pairs[:8]) + (f" (and {len(pairs) - 8} more)" if len(pairs) > 8 else "")
    warnings.warn(
        f"{len(pairs)} row(s) repeat an earlier row in every cell (row = earlier row: {shown}): a "
        "row pasted twice? Both copies are kept and count as two measurements, which narrows the "
        "intervals at those conditions; delete the copy if it is one (replicates with their own "
        "measured values are fine and not listed here)",
        DataWarning,
        stacklevel=3,
    )


def _warn_constant_or_saturated(observations: pd.DataFrame, tasks: Sequence[Task]) -> None:
    """Warn (:class:`~mtgp_kinetics.errors.DataWarning`) about constant and saturated tasks.

    A task whose observations are all equal has no spread to learn a variance from: a MAP fit puts
    its signal and noise at their floors and predicts the value with near-zero intervals. A
    fraction task with at least :data:`SATURATION_MIN_COUNT` values exactly on its smallest or
    largest value, within :data:`SATURATION_MARGIN` of 0 or 1, holds clipped or saturated
    measurements, which a model takes as exact: its intervals near saturation are too narrow (a
    helper's flow-reactor set with twelve conversions clipped to 99 %: 6 of 15 held-out truths
    inside the 95 % intervals, every miss saturated).
    """
    constant, saturated = [], []
    for task in tasks:
        values = observations.loc[observations["task"] == task.name, "value"].to_numpy(dtype=float)
        if len(values) >= 2 and np.all(values == values[0]):
            constant.append(f"{task.name!r} ({len(values)} x {values[0]:g})")
            continue
        if task.output_transform.name not in ("logit", "logit_percent") or len(values) < SATURATION_MIN_COUNT:
            continue
        scale = 100.0 if task.output_transform.name == "logit_percent" else 1.0
        for bound, what in ((values.min(), "smallest"), (values.max(), "largest")):
            count = int(np.sum(values == bound))
            near_limit = min(bound / scale, 1.0 - bound / scale) <= SATURATION_MARGIN
            if count >= SATURATION_MIN_COUNT and near_limit:
                saturated.append(f"{task.name!r}: {count} x {bound:g} (the {what} value)")
    if constant:
        warnings.warn(
            f"task(s) {', '.join(constant)} have the same value at every observation: there is no "
            "spread to learn a variance from, so a model predicts that value with intervals that "
            "mean nothing (near zero width). Check for a placeholder, a saturated or clipped "
            "measurement, or a column filled by mistake, and leave the task out until it varies.",
            DataWarning,
            stacklevel=3,
        )
    if saturated:
        warnings.warn(
            f"{SATURATION_WARNING}, {'; '.join(saturated)}: "
            "clipped or saturated measurements are taken as measured values, so predictions near "
            "saturation come with intervals too narrow for what is known there (a value clipped at "
            "99 % may be 100 %). Treat those intervals with caution, or leave such rows out.",
            DataWarning,
            stacklevel=3,
        )


class Dataset:
    """Observations of several tasks at experimental conditions, validated at construction.

    Build one with :meth:`from_frame` or :meth:`from_csv`; methods return new datasets and never
    modify this one or the user's frames.

    Parameters
    ----------
    space : Space
        The conditions.
    tasks : sequence of Task
        The outputs; a task's position is its index in :meth:`train_inputs`.
    observations : DataFrame
        Already validated long-form observations, see :attr:`observations`.
    unmeasured : DataFrame
        Source rows without any measured value.
    groups : ndarray of int, optional
        ``n`` source-row group ids; observations of a group came from one source row. Default: each
        observation its own group.

    Attributes
    ----------
    space : Space
        The conditions.
    tasks : tuple of Task
        The outputs.
    """

    def __init__(
        self,
        space: Space,
        tasks: Sequence[Task],
        observations: pd.DataFrame,
        unmeasured: pd.DataFrame,
        groups: np.ndarray | None = None,
    ) -> None:
        self.space = space
        self.tasks: tuple[Task, ...] = tuple(tasks)
        self._observations = observations.reset_index(drop=True)
        self._unmeasured = unmeasured
        n = len(self._observations)
        self._groups = np.arange(n) if groups is None else np.asarray(groups, dtype=np.int64)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        space: Space,
        tasks: Sequence[Task],
        *,
        form: str = "auto",
        task_column: str = "task",
        value_column: str = "value",
        noise_column: str = "noise",
    ) -> Dataset:
        """Read and validate a wide or long frame of measurements.

        Parameters
        ----------
        frame : DataFrame
            ``m`` rows. **Wide form**: a column per condition (``space.names``, physical units), a
            column per task named ``task.name`` (empty/NaN where not measured) and, for a task with
            ``noise_column``, that column holding the known measurement std in physical units.
            **Long form**: the condition columns, ``task_column`` (task names), ``value_column``
            and optionally ``noise_column`` (measurement std, physical units). A task with
            ``noise_column`` set needs the std on each of its rows in either form. Other columns
            (ids, notes, sources) are carried along in :attr:`observations`. The frame is never
            modified.
        space : Space
            The conditions.
        tasks : sequence of Task
            The outputs, with distinct names that are not condition names.
        form : {"auto", "wide", "long"}
            ``"auto"`` reads long form when ``task_column`` and ``value_column`` are both columns
            and no task name is a column, else wide form.
        task_column, value_column, noise_column : str
            Column names of a long frame.

        Returns
        -------
        Dataset
            One observation per measured value, in source-row order (wide: then task order).

        Raises
        ------
        InputDataError
            On any bad input, naming the column and the row label(s) (the frame's index labels) and
            saying how to fix it: missing columns, non-numeric or non-finite numbers, conditions out
            of bounds or unknown levels, values outside a task's transform domain, missing or
            non-positive known noise, unknown task names, a task without any observation.

        Warns
        -----
        DataWarning
            For rows without any measured value; they are kept, unchanged, in :attr:`unmeasured`
            (their conditions are not checked) and not used for training. And for a per-cent task
            (``logit_percent``) with at least :data:`FRACTION_CHECK_MIN` values, none above 1:
            fractions given as per cent would be modelled a hundred times too small.
        """
        tasks = check_definitions(space, tasks)
        observations, unmeasured, groups = parse(
            frame, space, tasks, form, task_column, value_column, noise_column
        )
        empty = [t.name for t in tasks if not (observations["task"] == t.name).any()]
        if empty:
            raise InputDataError(
                f"task(s) {empty} have no observation at all; every task needs at least one "
                f"measured value: add data for it or leave it out of `tasks` (a TOML file: its "
                f"[[tasks]] entry)"
            )
        _warn_repeated_rows(frame)
        _warn_fractions_given_as_percent(observations, tasks)
        _warn_constant_or_saturated(observations, tasks)
        return cls(space, tasks, observations, unmeasured, groups)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        space: Space,
        tasks: Sequence[Task],
        *,
        form: str = "auto",
        task_column: str = "task",
        value_column: str = "value",
        noise_column: str = "noise",
    ) -> Dataset:
        """Read a CSV file with pandas and pass it to :meth:`from_frame` (same keywords).

        Categorical condition columns are read as text, so levels such as ``"None"`` or ``"01"``
        survive; in other columns empty cells and the usual NA spellings mean "not measured". Rows
        are labelled by their line in the file (line 1 = header), in messages and in the
        observations' ``row`` column, so "row 5" is row 5 of the file in a spreadsheet.

        Parameters
        ----------
        path : str or Path
            The CSV file.
        space, tasks, form, task_column, value_column, noise_column
            As in :meth:`from_frame`.

        Returns
        -------
        Dataset
            The validated data.
        """
        return cls.from_frame(
            read_csv(path, space, line_numbers=True),
            space,
            tasks,
            form=form,
            task_column=task_column,
            value_column=value_column,
            noise_column=noise_column,
        )

    # -- structure -------------------------------------------------------------------------------
    @property
    def task_names(self) -> list[str]:
        """Task names, in task-index order."""
        return [t.name for t in self.tasks]

    @property
    def observations(self) -> pd.DataFrame:
        """Copy of the ``n`` observations, one row each, index ``0..n-1``.

        Columns: the conditions (physical units; categorical levels as str), ``task`` (str),
        ``value`` (float, physical units), ``noise`` (known measurement std, physical units, or
        NaN), ``row`` (label of the source row), then the carried extra columns.
        """
        return self._observations.copy()

    @property
    def unmeasured(self) -> pd.DataFrame:
        """Copy of the source rows without any measured value, unchanged (possibly empty)."""
        return self._unmeasured.copy()

    @property
    def n_observations(self) -> int:
        """Number of observations ``n``."""
        return len(self._observations)

    def __len__(self) -> int:
        return self.n_observations

    def counts(self) -> pd.Series:
        """Observations per task (index: every task name, in task order)."""
        counts = self._observations["task"].value_counts()
        return pd.Series(
            [int(counts.get(name, 0)) for name in self.task_names],
            index=pd.Index(self.task_names, name="task"),
            name="observations",
            dtype=np.int64,
        )

    def __repr__(self) -> str:
        per_task = ", ".join(f"{name}: {c}" for name, c in self.counts().items())
        text = (
            f"Dataset({self.n_observations} observations of {len(self.tasks)} task(s) over "
            f"{self.space.names} ({per_task})"
        )
        if len(self.tasks) > 1 and self.n_observations:
            obs = self._observations
            tasks_at = obs.groupby(self.space.names, sort=False, dropna=False)["task"].nunique()
            complete = int((tasks_at == len(self.tasks)).sum())
            text += f"; {len(tasks_at)} conditions, {complete} with every task"
        if len(self._unmeasured):
            text += f"; {len(self._unmeasured)} unmeasured row(s)"
        return text + ")"

    # -- model-facing views ----------------------------------------------------------------------
    def task_indices(self) -> np.ndarray:
        """Task index (position in :attr:`tasks`) of each observation, ``n`` int."""
        position = {name: i for i, name in enumerate(self.task_names)}
        return np.array([position[name] for name in self._observations["task"]], dtype=np.int64)

    def train_inputs(self) -> torch.Tensor:
        """Model inputs of the observations.

        Returns
        -------
        Tensor
            ``n x (d + 1)`` float64: ``space.to_model`` of the conditions, then the task index.
        """
        X = self.space.to_model(self._observations[self.space.names], validate=False)
        index = torch.as_tensor(self.task_indices(), dtype=torch.float64).reshape(-1, 1)
        return torch.cat([X.reshape(len(index), self.space.dim), index], dim=-1)

    def train_targets(self) -> torch.Tensor:
        """Observed values in each task's modelled space (e.g. ``log10`` of a delay), ``n`` float64.

        Returns
        -------
        Tensor
            ``n`` float64: ``task.output_transform.forward`` of each value.
        """
        y = self._observations["value"].to_numpy(dtype=float)
        z = np.empty_like(y)
        index = self.task_indices()
        for i, task in enumerate(self.tasks):
            mask = index == i
            z[mask] = task.output_transform.forward(y[mask])
        return torch.as_tensor(z, dtype=torch.float64)

    def train_noise_variance(self) -> torch.Tensor:
        """Known measurement variance in each task's modelled space, ``n`` float64 (NaN: unknown).

        A std ``s`` of value ``y`` in physical units becomes ``(|dz/dy| * s)^2`` with
        ``z = forward(y)``, the first-order delta method ``Var f(Y) ~ f'(y)^2 Var Y``.
        """
        y = self._observations["value"].to_numpy(dtype=float)
        std = self._observations["noise"].to_numpy(dtype=float)
        variance = np.full_like(y, np.nan)
        index = self.task_indices()
        for i, task in enumerate(self.tasks):
            mask = (index == i) & ~np.isnan(std)
            slope = np.abs(task.output_transform.derivative(y[mask]))
            variance[mask] = (slope * std[mask]) ** 2
        return torch.as_tensor(variance, dtype=torch.float64)

    # -- conversion and derived datasets -------------------------------------------------------
    def to_frame(self, form: str = "wide") -> pd.DataFrame:
        """Return the observations as a new frame.

        Parameters
        ----------
        form : {"wide", "long"}
            ``"long"``: a copy of :attr:`observations`. ``"wide"``: one row per source row (the
            observations that came from one row are grouped back together), indexed by the source
            row label, with the conditions, one column per task (NaN where not measured), each
            task's ``noise_column`` right after it, then the extra columns. Rows in
            :attr:`unmeasured` are not included; known noise of a task without ``noise_column``
            (possible in long input) only appears in long form.

        Returns
        -------
        DataFrame
            The frame.
        """
        if form == "long":
            return self.observations
        if form != "wide":
            raise InputDataError(f"to_frame: form must be 'wide' or 'long', got {form!r}")
        obs = self._observations
        first = ~pd.Series(self._groups).duplicated().to_numpy()
        extras = [c for c in obs.columns if c not in [*self.space.names, *RESERVED_COLUMNS]]
        base = obs.loc[first, self.space.names]
        slot = {g: i for i, g in enumerate(self._groups[first])}
        where = np.array([slot[g] for g in self._groups], dtype=np.int64)
        columns: dict[str, Any] = {name: base[name].to_numpy() for name in self.space.names}
        for task in self.tasks:
            mask = (obs["task"] == task.name).to_numpy()
            values = np.full(len(base), np.nan)
            values[where[mask]] = obs["value"].to_numpy(dtype=float)[mask]
            columns[task.name] = values
            if task.noise_column is not None:
                noise = np.full(len(base), np.nan)
                noise[where[mask]] = obs["noise"].to_numpy(dtype=float)[mask]
                columns[task.noise_column] = noise
        wide = pd.DataFrame(columns, index=pd.Index(obs.loc[first, "row"].to_numpy()))
        for name in extras:
            wide[name] = obs.loc[first, name].to_numpy()
        return wide

    def subset(self, selection: Any) -> Dataset:
        """Return a dataset of the observations picked by ``selection`` (k-fold, held-out splits).

        Parameters
        ----------
        selection : array-like of bool (``n``) or of int
            A boolean mask over the observations or distinct observation positions (negative
            positions count from the end). Numpy arrays, lists, Series (by position) and tensors
            are accepted.

        Returns
        -------
        Dataset
            A new dataset with those observations in the given order and the same
            :attr:`unmeasured` rows. It may lack a task entirely.
        """
        if isinstance(selection, torch.Tensor):
            selection = selection.detach().cpu().numpy()
        picked = np.asarray(selection)
        n = self.n_observations
        if picked.dtype == bool:
            if picked.shape != (n,):
                raise InputDataError(
                    f"subset: a boolean mask needs shape ({n},), one entry per observation, got "
                    f"{picked.shape}"
                )
            positions = np.flatnonzero(picked)
        elif picked.size == 0 or np.issubdtype(picked.dtype, np.integer):
            positions = picked.astype(np.int64).reshape(-1)
            outside = (positions < -n) | (positions >= n)
            if outside.any():
                raise InputDataError(
                    f"subset: position(s) {positions[outside][:8].tolist()} out of range for {n} observations"
                )
            positions = np.where(positions < 0, positions + n, positions)
            if len(np.unique(positions)) != len(positions):
                raise InputDataError("subset: positions must be distinct")
        else:
            raise InputDataError(
                f"subset: expected a boolean mask or integer positions, got dtype {picked.dtype}"
            )
        return Dataset(
            self.space,
            self.tasks,
            self._observations.iloc[positions],
            self._unmeasured,
            self._groups[positions],
        )

    def concat(self, other: Dataset) -> Dataset:
        """Return a new dataset of these observations followed by those of ``other``.

        Parameters
        ----------
        other : Dataset
            More observations of the same tasks over the same space.

        Returns
        -------
        Dataset
            ``n + n_other`` observations; unmeasured rows of both; extra columns of both (NaN
            where a side lacks one).
        """
        if not isinstance(other, Dataset):
            raise InputDataError(f"concat: expected a Dataset, got {type(other).__name__}")
        if other.space != self.space:
            raise InputDataError(
                f"concat: the datasets have different spaces: {self.space!r} vs {other.space!r}"
            )
        if other.tasks != self.tasks:
            raise InputDataError(
                f"concat: the datasets have different tasks: {list(self.tasks)!r} vs {list(other.tasks)!r}"
            )
        observations = stack([self._observations, other._observations])
        offset = int(self._groups.max()) + 1 if len(self._groups) else 0
        groups = np.concatenate([self._groups, other._groups + offset])
        unmeasured = stack([self._unmeasured, other._unmeasured])
        return Dataset(self.space, self.tasks, observations, unmeasured, groups)

    def append(
        self,
        frame: pd.DataFrame,
        *,
        form: str = "auto",
        task_column: str = "task",
        value_column: str = "value",
        noise_column: str = "noise",
    ) -> Dataset:
        """Return a new dataset with the rows of ``frame`` added (validated as by ``from_frame``).

        Unlike :meth:`from_frame`, ``frame`` need not measure every task (a campaign usually
        adds one measurement at a time).

        Parameters
        ----------
        frame : DataFrame
            New measurements, wide or long form (see :meth:`from_frame`); never modified.
        form, task_column, value_column, noise_column
            As in :meth:`from_frame`.

        Returns
        -------
        Dataset
            The combined data.
        """
        observations, unmeasured, groups = parse(
            frame, self.space, self.tasks, form, task_column, value_column, noise_column
        )
        return self.concat(Dataset(self.space, self.tasks, observations, unmeasured, groups))


def require_dataset(data: object, where: str) -> Dataset:
    """``data`` if it is a :class:`Dataset`, else an :class:`InputDataError` saying how to build one.

    A user's first call is often ``mk.fit(frame)`` with the DataFrame they just read; the model
    needs the space and tasks (bounds, units, transforms) that only a Dataset carries.
    """
    if isinstance(data, Dataset):
        return data
    raise InputDataError(
        f"{where}: data must be an mk.Dataset, got {type(data).__name__}; build one with "
        "mk.Dataset.from_frame(frame, space, tasks) or mk.Dataset.from_csv(path, space, tasks), "
        "which also check every value against the conditions' bounds and the tasks' transforms"
    )

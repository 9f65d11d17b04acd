"""Measured data: observations of several tasks at experimental conditions, checked at the boundary.

A :class:`Dataset` is read from a wide frame (one column per task) or a long frame (one row per
measured value), validated once, and then holds ``n`` observations in long form. Heterotopic data
(not every task at every condition) is the normal case and repeated conditions are replicates, all
kept. The model-facing views are ``n x (d + 1)`` inputs whose last column is the task index,
``n`` targets in each task's modelled space and ``n`` known noise variances in that space.

Row labels in error messages are the frame's index labels; for a frame read by
:meth:`Dataset.from_csv` (default ``RangeIndex``) "row 3" is the fourth data row, 0-based, which is
line 5 of the file when line 1 is the header.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.space import Categorical, Space, _rows
from mtgp_kinetics.tasks import Task

#: Columns of :attr:`Dataset.observations` after the conditions; no other column may use them.
RESERVED_COLUMNS = ("task", "value", "noise", "row")

# Text read as "not measured" by from_csv in every column but the categorical conditions, where
# a level may legitimately be called "None" or "NA" (see _read_csv).
_NA_TEXT = ["", "NA", "N/A", "n/a", "<NA>", "#N/A", "NaN", "nan", "-nan", "-NaN", "NULL", "null", "None"]


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
            (their conditions are not checked) and not used for training.
        """
        tasks = _check_definitions(space, tasks)
        observations, unmeasured, groups = _parse(
            frame, space, tasks, form, task_column, value_column, noise_column
        )
        empty = [t.name for t in tasks if not (observations["task"] == t.name).any()]
        if empty:
            raise InputDataError(
                f"task(s) {empty} have no observation at all; every task needs at least one "
                f"measured value: add data for it or leave it out of `tasks`"
            )
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
        survive; in other columns empty cells and the usual NA spellings mean "not measured". Row
        labels in messages are 0-based data rows: "row 3" is line 5 of the file (line 1 = header).

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
            _read_csv(path, space),
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
        observations = _stack([self._observations, other._observations])
        offset = int(self._groups.max()) + 1 if len(self._groups) else 0
        groups = np.concatenate([self._groups, other._groups + offset])
        unmeasured = _stack([self._unmeasured, other._unmeasured])
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
        observations, unmeasured, groups = _parse(
            frame, self.space, self.tasks, form, task_column, value_column, noise_column
        )
        return self.concat(Dataset(self.space, self.tasks, observations, unmeasured, groups))


# -- reading and validation (module-private) ----------------------------------------------------
def _read_csv(path: str | Path, space: Space) -> pd.DataFrame:
    """Read ``path``, keeping categorical condition columns as text (see Dataset.from_csv)."""
    try:
        header = pd.read_csv(path, nrows=0).columns
        categorical = {v.name for v in space.variables if isinstance(v, Categorical)}
        na_values = {c: ([""] if c in categorical else _NA_TEXT) for c in header}
        return pd.read_csv(
            path,
            dtype={c: str for c in categorical if c in header},
            keep_default_na=False,
            na_values=na_values,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputDataError(f"cannot read {str(path)!r} as CSV: {err}") from err


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames by column name, skipping empty ones (index 0..n-1 if any rows)."""
    kept = [f for f in frames if len(f)]
    if not kept:
        return frames[0].iloc[0:0].copy()
    if len(kept) == 1:
        return kept[0].copy()
    return pd.concat(kept, ignore_index=True, sort=False)


def _check_definitions(space: Space, tasks: Sequence[Task] | Task) -> list[Task]:
    """Check the space and tasks themselves (before looking at any frame); return the tasks."""
    if not isinstance(space, Space):
        raise InputDataError(f"space must be a Space, got {type(space).__name__}")
    tasks = list(tasks) if not isinstance(tasks, Task) else [tasks]
    if not tasks:
        raise InputDataError("tasks is empty; give at least one Task")
    for task in tasks:
        if not isinstance(task, Task):
            raise InputDataError(f"tasks must be Task objects, got {task!r}")
    names = [t.name for t in tasks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputDataError(f"duplicated task name(s) {duplicated}; task names must be distinct")
    reserved = [n for n in space.names if n in RESERVED_COLUMNS]
    if reserved:
        raise InputDataError(
            f"condition name(s) {reserved} are reserved for Dataset.observations columns "
            f"{list(RESERVED_COLUMNS)}; rename the condition(s)"
        )
    clash = [n for n in names if n in space.names]
    if clash:
        raise InputDataError(
            f"task name(s) {clash} equal condition name(s); rename the task(s) or condition(s)"
        )
    noise = [t.noise_column for t in tasks if t.noise_column is not None]
    bad_noise = sorted({c for c in noise if noise.count(c) > 1 or c in names or c in space.names})
    if bad_noise:
        raise InputDataError(
            f"noise_column(s) {bad_noise} are shared by several tasks or equal a task or condition "
            f"name; give each task its own noise column"
        )
    return tasks


def _to_float(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Column as float (NaN: empty); raise naming the column and rows of non-numeric entries."""
    col = frame[column]
    blank = col.map(lambda x: isinstance(x, str) and not x.strip()).to_numpy(dtype=bool)
    numeric = pd.to_numeric(col.mask(blank), errors="coerce")
    bad = (col.notna().to_numpy(dtype=bool) & ~blank) & numeric.isna().to_numpy(dtype=bool)
    if bad.any():
        raise InputDataError(
            f"column {column!r}: non-numeric value(s) {list(col[bad].head(5))} at row(s) "
            f"{_rows(frame.index[bad])}; {what} must be plain numbers (leave the cell empty where "
            f"there is none)"
        )
    return numeric.to_numpy(dtype=float, na_value=np.nan)


def _check_task_values(
    task: Task,
    values: np.ndarray,
    labels: pd.Index,
    column: str,
) -> None:
    """Check the measured values (``k``, none NaN) of one task; ``labels`` are their rows."""
    where = f"column {column!r}" + ("" if column == task.name else f" (task {task.name!r})")
    infinite = np.isinf(values)
    if infinite.any():
        raise InputDataError(
            f"{where}: infinite value(s) at row(s) {_rows(labels[infinite])}; task values must be "
            f"finite numbers: correct them, or leave the cell empty where not measured"
        )
    tf = task.output_transform
    invalid = ~np.asarray(tf.is_valid(values), dtype=bool)
    if invalid.any():
        raise InputDataError(
            f"{where}: value(s) {values[invalid][:5].tolist()} at row(s) {_rows(labels[invalid])} "
            f"cannot be modelled with the {tf.name!r} transform of task {task.name!r}, which needs "
            f"values {tf.domain}; correct or remove these rows, or give the task another transform"
        )


def _check_noise(
    task: Task,
    noise: np.ndarray,
    labels: pd.Index,
    column: str,
) -> None:
    """Check known measurement stds (``k``, NaN: not given) where ``task`` is measured."""
    given = ~np.isnan(noise)
    if task.noise_column is not None and not given.all():
        raise InputDataError(
            f"column {column!r}: the measurement std of task {task.name!r} is missing at row(s) "
            f"{_rows(labels[~given])} where {task.name!r} is measured; task {task.name!r} has "
            f"known noise (noise_column={task.noise_column!r}), so give the std in physical units "
            f"for every measured value"
        )
    bad = given & ~(np.isfinite(noise) & (noise > 0))
    if bad.any():
        raise InputDataError(
            f"column {column!r}: measurement std(s) {noise[bad][:5].tolist()} of task "
            f"{task.name!r} at row(s) {_rows(labels[bad])} are not finite numbers > 0; give the "
            f"std in physical units"
        )


def _resolve_form(
    frame: pd.DataFrame, tasks: Sequence[Task], form: str, task_column: str, value_column: str
) -> str:
    """``"wide"`` or ``"long"`` (see Dataset.from_frame)."""
    if form not in ("auto", "wide", "long"):
        raise InputDataError(f"form must be 'auto', 'wide' or 'long', got {form!r}")
    if form != "auto":
        return form
    columns = set(frame.columns)
    long = task_column in columns and value_column in columns
    return "long" if long and not any(t.name in columns for t in tasks) else "wide"


def _parse(
    frame: pd.DataFrame,
    space: Space,
    tasks: Sequence[Task],
    form: str,
    task_column: str,
    value_column: str,
    noise_column: str,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Validate ``frame``; never modify it.

    Returns
    -------
    observations : DataFrame
        ``k`` observations (see Dataset.observations).
    unmeasured : DataFrame
        The rows of ``frame`` without any measured value.
    groups : ndarray
        ``k`` int: position in ``frame`` of each observation's source row.
    """
    tasks = _check_definitions(space, tasks)
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise InputDataError(f"column(s) {duplicated} appear more than once; rename them")
    frame = frame.copy()  # deep copy: nothing below can reach the caller's frame
    missing = [n for n in space.names if n not in frame.columns]
    if missing:
        raise InputDataError(
            f"missing condition column(s) {missing}; the frame has columns {list(frame.columns)}"
        )
    if _resolve_form(frame, tasks, form, task_column, value_column) == "wide":
        return _parse_wide(frame, space, tasks)
    return _parse_long(frame, space, tasks, task_column, value_column, noise_column)


def _observations(
    frame: pd.DataFrame,
    space: Space,
    positions: np.ndarray,
    task: list[str],
    value: np.ndarray,
    noise: np.ndarray,
    extras: list[str],
) -> pd.DataFrame:
    """Assemble observations from source ``positions`` (``k``) and per-observation data (``k``)."""
    source = frame.iloc[positions]
    data: dict[str, Any] = {}
    for v in space.variables:
        if isinstance(v, Categorical):
            data[v.name] = np.array([str(x) for x in source[v.name]], dtype=object)
        else:
            data[v.name] = pd.to_numeric(source[v.name]).to_numpy(dtype=float)
    data["task"] = np.array(task, dtype=object)
    data["value"] = np.asarray(value, dtype=float)
    data["noise"] = np.asarray(noise, dtype=float)
    data["row"] = source.index.to_numpy()
    observations = pd.DataFrame(data)
    for name in extras:
        observations[name] = source[name].to_numpy()
    return observations


def _warn_unmeasured(frame: pd.DataFrame, unmeasured: np.ndarray, what: str) -> None:
    if unmeasured.any():
        warnings.warn(
            f"row(s) {_rows(frame.index[unmeasured])} have no measured value ({what}); they are "
            f"kept in Dataset.unmeasured and not used for training: fill them in, or drop them "
            f"before loading",
            DataWarning,
            stacklevel=5,
        )


def _check_reserved(extras: list[str], hint: str) -> None:
    clash = [c for c in extras if c in RESERVED_COLUMNS]
    if clash:
        raise InputDataError(
            f"column(s) {clash} are neither conditions nor {hint}, and the name(s) are reserved "
            f"for Dataset.observations; rename them"
        )


def _parse_wide(
    frame: pd.DataFrame, space: Space, tasks: list[Task]
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Wide form: a column per task (NaN where not measured) and optional noise columns."""
    names = [t.name for t in tasks]
    absent = [n for n in names if n not in frame.columns]
    if len(absent) == len(names):
        raise InputDataError(
            f"none of the task columns {names} is in the frame (columns: {list(frame.columns)}); "
            f"in wide form add one column per task named after it, or for long form give "
            f"task_column= and value_column= naming the columns with task names and values"
        )
    if absent:
        raise InputDataError(
            f"missing task column(s) {absent}; add them (empty where not measured) or leave the "
            f"task(s) out of `tasks`"
        )
    for task in tasks:
        if task.noise_column is not None and task.noise_column not in frame.columns:
            raise InputDataError(
                f"task {task.name!r} has noise_column={task.noise_column!r}, but the frame has no "
                f"column {task.noise_column!r}; add it with the measurement std in physical units, "
                f"or set noise_column=None to learn the noise"
            )
    noise_columns = [t.noise_column for t in tasks if t.noise_column is not None]
    used = {*space.names, *names, *noise_columns}
    extras = [c for c in frame.columns if c not in used]
    _check_reserved(extras, "task columns or task noise columns")

    values = np.column_stack([_to_float(frame, n, "task values") for n in names])
    noise = np.full_like(values, np.nan)
    for j, task in enumerate(tasks):
        if task.noise_column is not None:
            noise[:, j] = _to_float(frame, task.noise_column, "measurement stds")
    measured = ~np.isnan(values)
    unmeasured = ~measured.any(axis=1)
    _warn_unmeasured(frame, unmeasured, f"all of the task columns {names} are empty")

    space.validate(frame.iloc[np.flatnonzero(~unmeasured)][space.names])
    for j, task in enumerate(tasks):
        rows = np.flatnonzero(measured[:, j])
        labels = frame.index[rows]
        _check_task_values(task, values[rows, j], labels, task.name)
        if task.noise_column is not None:
            _check_noise(task, noise[rows, j], labels, task.noise_column)

    positions, which = np.nonzero(measured)  # row-major: source row order, then task order
    observations = _observations(
        frame,
        space,
        positions,
        [names[j] for j in which],
        values[positions, which],
        noise[positions, which],
        extras,
    )
    return observations, frame.iloc[np.flatnonzero(unmeasured)], positions


def _parse_long(
    frame: pd.DataFrame,
    space: Space,
    tasks: list[Task],
    task_column: str,
    value_column: str,
    noise_column: str,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Long form: one row per value, task names in ``task_column``, optional ``noise_column``."""
    for role, column in (("task_column", task_column), ("value_column", value_column)):
        if column not in frame.columns:
            raise InputDataError(
                f"long form needs a column {column!r} ({role}), but the frame has columns "
                f"{list(frame.columns)}; pass {role}= naming the right column, or form='wide'"
            )
    roles = [task_column, value_column, noise_column]
    if len(set(roles)) < 3 or set(roles) & set(space.names):
        raise InputDataError(
            f"task_column={task_column!r}, value_column={value_column!r} and "
            f"noise_column={noise_column!r} must be distinct and differ from the condition names"
        )
    has_noise = noise_column in frame.columns
    used = {*space.names, task_column, value_column, noise_column}
    extras = [c for c in frame.columns if c not in used]
    _check_reserved(extras, f"the {task_column!r}/{value_column!r}/{noise_column!r} columns")

    names = [t.name for t in tasks]
    label_col = frame[task_column]
    given = label_col.notna().to_numpy(dtype=bool)
    task_of = np.array([str(x) if g else "" for x, g in zip(label_col, given, strict=True)], dtype=object)
    unknown = given & ~np.isin(task_of, names)
    if unknown.any():
        raise InputDataError(
            f"column {task_column!r}: unknown task name(s) {sorted(set(task_of[unknown]))} at "
            f"row(s) {_rows(frame.index[unknown])}; known tasks are {names}: fix the names or add "
            f"the task(s) to `tasks`"
        )
    values = _to_float(frame, value_column, "task values")
    noise = _to_float(frame, noise_column, "measurement stds") if has_noise else np.full(len(frame), np.nan)
    measured = ~np.isnan(values)
    nameless = measured & ~given
    if nameless.any():
        raise InputDataError(
            f"column {task_column!r}: missing task name at row(s) {_rows(frame.index[nameless])} "
            f"that have a value; give the task name ({names})"
        )
    needs_noise = np.isin(task_of, [t.name for t in tasks if t.noise_column is not None])
    if not has_noise and (needs_noise & measured).any():
        raise InputDataError(
            f"row(s) {_rows(frame.index[needs_noise & measured])} measure task(s) "
            f"{sorted(set(task_of[needs_noise & measured]))} with known noise (noise_column set), "
            f"but the long frame has no noise column {noise_column!r}; add it with the measurement "
            f"std in physical units, or pass noise_column= naming it"
        )
    _warn_unmeasured(frame, ~measured, f"column {value_column!r} is empty")

    space.validate(frame.iloc[np.flatnonzero(measured)][space.names])
    for task in tasks:
        rows = np.flatnonzero(measured & (task_of == task.name))
        labels = frame.index[rows]
        _check_task_values(task, values[rows], labels, value_column)
        _check_noise(task, noise[rows], labels, noise_column)

    positions = np.flatnonzero(measured)
    observations = _observations(
        frame,
        space,
        positions,
        list(task_of[positions]),
        values[positions],
        noise[positions],
        extras,
    )
    return observations, frame.iloc[np.flatnonzero(~measured)], positions

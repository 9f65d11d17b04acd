"""Reading user frames into observations, with every validation the data boundary needs.

Used by :class:`mtgp_kinetics.dataset.Dataset`; the functions here turn a wide or long frame (or a
CSV file) into the long table of observations, raising :class:`InputDataError` that names the column
and row labels of any culprit, and never modifying the caller's frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.space import Categorical, Space, _rows, _values_at_rows, bool_cells, near_matches
from mtgp_kinetics.tasks import Task

#: Columns of :attr:`Dataset.observations` after the conditions; no other column may use them.
RESERVED_COLUMNS = ("task", "value", "noise", "row")


def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames by column name, skipping empty ones (index 0..n-1 if any rows)."""
    kept = [f for f in frames if len(f)]
    if not kept:
        return frames[0].iloc[0:0].copy()
    if len(kept) == 1:
        return kept[0].copy()
    return pd.concat(kept, ignore_index=True, sort=False)


def check_definitions(space: Space, tasks: Sequence[Task] | Task) -> list[Task]:
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
            f"name; give each task its own noise column (a wide frame: one std column per task). "
            f"A long frame needs no noise_column: its 'noise' column holds the std of each row's "
            f"value, whatever its task"
        )
    return tasks


#: Cell text that lab exports write for "not measured" besides an empty cell: a lone dash
#: (hyphen, en dash or em dash).
NOT_MEASURED_MARKS = ("-", "\u2013", "\u2014")


def blank_cells(col: pd.Series) -> np.ndarray:
    """Mask of the empty cells of ``col``: NaN, None, whitespace-only text or a lone dash (``"-"``)."""
    text = col.map(lambda x: isinstance(x, str) and x.strip() in ("", *NOT_MEASURED_MARKS))
    return col.isna().to_numpy(dtype=bool) | text.to_numpy(dtype=bool)


def _to_float(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Column as float (NaN: empty); raise naming the column and rows of non-numeric entries."""
    return _floats_of_columns(frame, [column], what)[0]


def _floats_of_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> list[np.ndarray]:
    """Each column as float (NaN: empty); one error naming every column with non-numeric entries."""
    values, problems = [], []
    for column in columns:
        col = frame[column]
        blank = blank_cells(col)
        numeric = pd.to_numeric(col.mask(blank), errors="coerce")
        bad = (~blank & numeric.isna().to_numpy(dtype=bool)) | bool_cells(col)
        if bad.any():
            problems.append(
                f"column {column!r}: non-numeric value(s) {list(col[bad].head(5))} at row(s) "
                f"{_rows(frame.index[bad])}"
            )
        values.append(numeric.to_numpy(dtype=float, na_value=np.nan))
    if problems:
        raise InputDataError(
            "; ".join(problems) + f"; {what} must be plain numbers (leave the cell empty where there is none)"
        )
    return values


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
            f"{where}: {_values_at_rows(values[invalid], labels[invalid])} "
            f"cannot be modelled with the {tf.name!r} transform of task {task.name!r}, which needs "
            f"values {tf.domain}; correct or remove these rows, or give the task another transform"
            + _fraction_hint(tf.name, values, invalid)
        )


def _fraction_hint(transform: str, values: np.ndarray, invalid: np.ndarray) -> str:
    """What to do about fractions a logit cannot take: per cent values, or exact bounds."""
    if transform not in ("logit", "logit_percent"):
        return ""
    top = 100.0 if transform == "logit_percent" else 1.0
    bad = values[invalid]
    hints = []
    if transform == "logit" and 1.05 < np.nanmax(values) <= 100.0:  # just above 1: an overshoot
        hints.append("the values look like per cent: give the task unit='%' (modelled as logit(y / 100))")
    overshoot = bad[(bad > top) & (bad <= 1.05 * top)]
    if overshoot.size and not (transform == "logit" and np.nanmax(values) > 1.05):
        hints.append(
            f"{overshoot.size} value(s) just above {top:g} (at most 5 % over) look like an instrument's "
            f"or a calibration's overshoot: clip them below {top:g} (the data set loaders clip to "
            f"{0.99 * top:g}) if the true value is at the top of the range, or check them"
        )
    if np.any((bad == 0.0) | (bad == top)):
        inside = values[(values > 0.0) & (values < top)]
        nearest = []
        if inside.size and np.any(bad == 0.0):
            nearest.append(f"the smallest value inside is {inside.min():g}")
        if inside.size and np.any(bad == top):
            nearest.append(f"the largest value inside is {inside.max():g}")
        smallest = "".join(f"; {text}" for text in nearest)
        hints.append(
            f"a measured 0 or {top:g} is outside the logit's open interval: replace it by the "
            f"detection limit of the measurement (the data set loaders clip to {0.01 * top:g} and "
            f"{0.99 * top:g}, which says 'at most about 1 %'){smallest}. A computed value printed "
            f"as 0 needs more digits, not a clip. Clipped values are treated as measured: intervals "
            f"near them will be too narrow"
        )
    return "".join(f". Hint: {h}" for h in hints)


def _check_noise(
    task: Task,
    noise: np.ndarray,
    labels: pd.Index,
    column: str,
    values: np.ndarray,
) -> None:
    """Check known measurement stds (``k``, NaN: not given) where ``task`` is measured.

    Stds given at some of a task's rows but not all (a long frame) are allowed, with a
    :class:`~mtgp_kinetics.errors.DataWarning`: the rows without one share a learned noise level,
    which new measurements are then predicted with. A std at least as large as the
    value of a log-modelled task (half a decade or more of noise) is almost always a relative std
    ("±20 %" written as 0.2): a :class:`~mtgp_kinetics.errors.DataWarning` says so.
    """
    given = ~np.isnan(noise)
    bad = given & ~(np.isfinite(noise) & (noise > 0))
    if bad.any():
        zero = bool(np.any(noise[bad] == 0))
        raise InputDataError(
            f"column {column!r}: measurement std(s) {noise[bad][:5].tolist()} of task "
            f"{task.name!r} at row(s) {_rows(labels[bad])} are not finite numbers > 0; give the "
            f"std in physical units"
            + (
                " (computed values are not exact either: give the solver's tolerance, e.g. 1e-6 "
                "of the value, rather than 0)"
                if zero
                else ""
            )
        )
    if task.noise_column is not None and not given.all():
        raise InputDataError(
            f"column {column!r}: the measurement std of task {task.name!r} is missing at row(s) "
            f"{_rows(labels[~given])} where {task.name!r} is measured; task {task.name!r} has "
            f"known noise (noise_column={task.noise_column!r}), so give the std in physical units "
            f"for every measured value"
        )
    if given.any() and not given.all():
        # A long frame may mix known and learned noise within a task; say what that means.
        warnings.warn(
            f"column {column!r}: task {task.name!r} has a measurement std at {int(given.sum())} of "
            f"its rows but not at row(s) {_rows(labels[~given])}. Those rows get a learned noise "
            f"level, estimated from them alone, and so does every prediction of a new measurement "
            f"of {task.name!r}; fill in the missing stds if they are known.",
            DataWarning,
            stacklevel=5,
        )
    if task.output_transform.name in ("log", "log10"):
        relative = given & (noise >= np.abs(values))
        if relative.any():
            first = int(np.flatnonzero(relative)[0])
            warnings.warn(
                f"column {column!r}: measurement std(s) of task {task.name!r} as large as the value "
                f"itself or larger at {int(relative.sum())} row(s) ({_rows(labels[relative])}; e.g. "
                f"{noise[first]:g} for a value of {values[first]:g}). Is it a relative std (±20 % "
                f"written as 0.2 or 20)? The column needs the absolute std in the task's unit "
                f"(value x 0.2); as given, the model learns next to nothing from these rows.",
                DataWarning,
                stacklevel=5,
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


def parse(
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
    tasks = check_definitions(space, tasks)
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise InputDataError(f"column(s) {duplicated} appear more than once; rename them")
    frame = frame.copy()  # deep copy: nothing below can reach the caller's frame
    space.check_columns(frame)
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
            + near_matches(names, list(frame.columns))
        )
    if absent:
        raise InputDataError(
            f"missing task column(s) {absent}; add them (empty where not measured) or leave the "
            f"task(s) out of `tasks` (a TOML file: their [[tasks]] entries)"
            + near_matches(absent, list(frame.columns))
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

    values = np.column_stack(_floats_of_columns(frame, names, "task values"))
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
            _check_noise(task, noise[rows, j], labels, task.noise_column, values[rows, j])

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
        _check_noise(task, noise[rows], labels, noise_column, values[rows])

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

"""Reading a wide frame of lab results into rows to record, with every check that needs no database.

A results frame has one row per experiment, in wide form: the condition columns (physical units),
one column per task holding the measured value (empty/NaN: not measured), each task's
``noise_column`` holding the known measurement std (physical units), and optionally
``suggestion_id`` (empty for an unsolicited experiment) and ``note``. :func:`parse_results` checks
everything that can be checked from the frame alone; the store then checks the rest (suggestion ids,
statuses, conditions against the suggestions, results already recorded) under its write lock. Row
labels in messages are the frame's index labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.frame_parsing import _check_noise, _check_task_values, _to_float, blank_cells
from mtgp_kinetics.space import Categorical, Space, _rows, is_kelvin
from mtgp_kinetics.tasks import Task

#: Column naming the suggestion a result answers; empty for an unsolicited experiment.
SUGGESTION_ID = "suggestion_id"

#: Optional columns besides conditions, tasks, noise and ``suggestion_id``: a free-text note per row.
EXTRA_COLUMNS = ("note",)

#: Columns of ``Campaign.suggest``'s frame that a results frame may carry back unchanged; ignored.
SUGGESTION_COLUMNS = ("batch_id", "tasks", "strategy", "acquisition_value")

#: What the store may do with a value that repeats a current observation: refuse the frame, leave
#: the value out, or record it anyway (``CampaignStore.record``'s ``duplicates``).
DUPLICATE_POLICIES = ("error", "skip", "record")

#: Bookkeeping columns of ``CampaignStore.export_csv`` that a results frame may carry; ignored (the
#: store writes its own source and time).
EXPORT_COLUMNS = ("source", "recorded_at")

#: Every column a campaign's sheets (suggestions, results, exports) use besides conditions and tasks;
#: no condition or task may take one of these names.
SHEET_COLUMNS = (SUGGESTION_ID, *EXTRA_COLUMNS, *SUGGESTION_COLUMNS, *EXPORT_COLUMNS)

#: Relative tolerance of the match between given conditions and a suggestion's (float round trips
#: through CSV files and spreadsheets are exact or off by a few ulps; a typo is off by far more).
CONDITION_RTOL = 1e-9

#: Largest half unit of the last digit, relative to the value, of a condition that may stand for a
#: suggestion's rounded value (1043 for 1042.9 K, 0.255 for 0.2549; not 20 for 20.3).
ROUNDING_RTOL = 0.005

Condition = float | str


@dataclass(frozen=True)
class ResultRow:
    """One row of a results frame with at least one measured value.

    Attributes
    ----------
    label : Any
        The row's index label.
    suggestion_id : int or None
        The suggestion answered, or None for an unsolicited experiment.
    conditions : dict
        Unsolicited: every condition (validated). With a suggestion: only the cells given in the
        frame, to be compared with the suggestion's conditions.
    values : dict
        Task name -> (value, known std or None), physical units, in task order.
    note : str or None
        The row's note.
    """

    label: Any
    suggestion_id: int | None
    conditions: dict[str, Condition]
    values: dict[str, tuple[float, float | None]]
    note: str | None


@dataclass(frozen=True)
class ParsedResults:
    """A checked results frame.

    Attributes
    ----------
    rows : list of ResultRow
        Rows with a measured value, in frame order.
    referenced : dict
        Every suggestion id in the frame (rows without any value included, so a mistyped id is still
        caught) -> the labels of its rows.
    """

    rows: list[ResultRow]
    referenced: dict[int, list[Any]] = field(default_factory=dict)


def conditions_json(space: Space, frame: pd.DataFrame) -> list[dict[str, Condition]]:
    """Conditions of the rows of an already validated ``frame`` as JSON-ready dicts (physical units).

    Continuous values are floats, categorical levels strings, in the order of ``space.names``.
    """
    columns: dict[str, list[Condition]] = {}
    for v in space.variables:
        if isinstance(v, Categorical):
            columns[v.name] = [str(x) for x in frame[v.name]]
        else:
            columns[v.name] = [float(x) for x in pd.to_numeric(frame[v.name]).to_numpy(dtype=float)]
    return [{name: columns[name][i] for name in space.names} for i in range(len(frame))]


def same_number(a: float, b: float) -> bool:
    """Whether two numbers are the same value, up to a float round trip (:data:`CONDITION_RTOL`)."""
    return math.isclose(float(a), float(b), rel_tol=CONDITION_RTOL, abs_tol=0.0)


def mismatched(space: Space, given: dict[str, Condition], suggested: dict[str, Condition]) -> list[str]:
    """Names of the ``given`` conditions that differ from the ``suggested`` ones.

    Levels match exactly. A continuous value matches within :data:`CONDITION_RTOL` relative, or if
    it is the suggested value rounded to the decimals it is written with (a sheet formatted to
    show 1043.3 for 1043.2871, or 1043 for 1042.9): see :func:`is_rounding_of`.
    """
    out = []
    for name, value in given.items():
        if isinstance(space[name], Categorical):
            same = str(value) == str(suggested[name])
        else:
            exact = float(suggested[name])
            same = same_number(value, exact) or is_rounding_of(float(value), exact)
        if not same:
            out.append(name)
    return out


def celsius_slip(space: Space, name: str, given: Condition, suggested: Condition) -> str:
    """A hint where ``given`` is the suggested kelvin temperature in degrees Celsius, else ``""``.

    ``given + 273.15`` within 1 K (or 0.1 %) of ``suggested`` for a kelvin condition: the
    lab typed the furnace reading in degrees Celsius into the sheet.
    """
    variable = space[name]
    if isinstance(variable, Categorical) or not is_kelvin(variable.unit):
        return ""
    try:
        kelvin, exact = float(given) + 273.15, float(suggested)
    except (TypeError, ValueError):
        return ""
    if abs(kelvin - exact) <= max(1.0, 1e-3 * exact):
        return f"; {given!r} + 273.15 = {kelvin:.6g} K is the suggestion's: given in degrees Celsius?"
    return ""


def is_rounding_of(shown: float, exact: float) -> bool:
    """Whether ``shown`` is ``exact`` rounded to the last digit ``shown`` is written with.

    The digits are those of the shortest text that reads back as ``shown`` (``repr``): 1043.3 has
    one decimal, 1043.0 and 1043 none, 1.2e-05 its last digit at 1e-06. Within half a unit of that
    digit (and a relative 1e-9 for the float round trip) ``exact`` rounds to ``shown``. Only a
    rounding to a half unit of at most :data:`ROUNDING_RTOL` of the value counts (about three
    significant digits): "2" for 2.4 bar may as well be an experiment run at 2 bar, and the
    sheet must then say which (the exact value, or the one run with ``as_run``).
    """
    if not (math.isfinite(shown) and math.isfinite(exact)):
        return False
    if shown == 0.0:
        return False  # "0" says nothing about the digits meant
    last_digit = 0 if shown.is_integer() else Decimal(repr(shown)).as_tuple().exponent
    if not isinstance(last_digit, int):
        return False
    half_unit = 0.5 * 10.0**last_digit
    return half_unit <= ROUNDING_RTOL * abs(shown) and abs(shown - exact) <= half_unit * (1 + 1e-9)


def _suggestion_ids(frame: pd.DataFrame) -> list[int | None]:
    """The ``suggestion_id`` column as ints (None where empty); raise naming bad rows."""
    if SUGGESTION_ID not in frame.columns:
        return [None] * len(frame)
    ids = _to_float(frame, SUGGESTION_ID, "suggestion ids")
    given = ~np.isnan(ids)
    bad = given & ~(np.isfinite(ids) & (np.mod(ids, 1.0) == 0) & (ids >= 1))
    if bad.any():
        raise InputDataError(
            f"column {SUGGESTION_ID!r}: {ids[bad][:5].tolist()} at row(s) {_rows(frame.index[bad])} are "
            f"not suggestion ids (whole numbers >= 1); copy the ids from store.pending() (CLI: "
            f"mtgp-kinetics pending), or leave the cell empty for an unsolicited experiment"
        )
    return [int(x) if g else None for x, g in zip(ids, given, strict=True)]


def result_columns(space: Space, tasks: Sequence[Task]) -> list[str]:
    """Columns that carry a result: the conditions, the tasks, their noise columns and ``note``."""
    noise_columns = [t.noise_column for t in tasks if t.noise_column is not None]
    return [*space.names, *(t.name for t in tasks), *noise_columns, *EXTRA_COLUMNS]


def _check_columns(frame: pd.DataFrame, space: Space, tasks: Sequence[Task]) -> list[Task]:
    """Check the column names; return the tasks that have a column."""
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise InputDataError(f"column(s) {duplicated} appear more than once; rename them")
    names = [t.name for t in tasks]
    noise_columns = [t.noise_column for t in tasks if t.noise_column is not None]
    allowed = [*result_columns(space, tasks), SUGGESTION_ID, *SUGGESTION_COLUMNS, *EXPORT_COLUMNS]
    unknown = [c for c in frame.columns if c not in allowed]
    if unknown:
        raise InputDataError(
            f"unknown column(s) {unknown}: a results frame may only have the condition columns "
            f"{space.names}, the task columns {names}, the tasks' noise columns {noise_columns}, "
            f"{SUGGESTION_ID!r}, a free-text {EXTRA_COLUMNS[0]!r} column (kept with each result), and "
            f"the columns suggest() and export write ({[*SUGGESTION_COLUMNS, *EXPORT_COLUMNS]}, "
            f"ignored); rename the column(s) (a typo in a task name? a comment column: call it "
            f"{EXTRA_COLUMNS[0]!r}) or remove them"
        )
    present = [t for t in tasks if t.name in frame.columns]
    if not present:
        raise InputDataError(
            f"none of the task columns {names} is in the frame (columns: {list(frame.columns)}); give "
            f"one column per measured task, named after it"
        )
    for task in tasks:
        if task.noise_column in frame.columns and task.name not in frame.columns:
            raise InputDataError(
                f"column {task.noise_column!r} holds the measurement std of task {task.name!r}, but the "
                f"frame has no column {task.name!r}; add the values or remove the std column"
            )
    return present


def _given_conditions(frame: pd.DataFrame, space: Space, positions: np.ndarray) -> list[dict[str, Condition]]:
    """Condition cells given on the rows at ``positions`` (rows with a suggestion id)."""
    out: list[dict[str, Condition]] = [{} for _ in positions]
    sub = frame.iloc[positions]
    for v in space.variables:
        if v.name not in frame.columns:
            continue
        col = sub[v.name]
        given = ~blank_cells(col)
        if isinstance(v, Categorical):
            cells: list[Condition] = [str(x).strip() for x in col]
        else:
            cells = [float(x) for x in _to_float(sub, v.name, "conditions")]
        for i in np.flatnonzero(given):
            out[i][v.name] = cells[i]
    return out


def parse_results(frame: pd.DataFrame, space: Space, tasks: Sequence[Task]) -> ParsedResults:
    """Check a wide results frame and turn it into rows to record; never modify it.

    Parameters
    ----------
    frame : DataFrame
        ``m`` rows, see the module docstring.
    space : Space
        The campaign's conditions.
    tasks : sequence of Task
        The campaign's tasks.

    Returns
    -------
    ParsedResults
        The rows with a measured value and every suggestion id referenced.

    Raises
    ------
    InputDataError
        Naming the column and row label(s): unknown or duplicated columns, non-numeric values,
        values a task's transform cannot take, missing or non-positive known stds, a std without a
        value, bad suggestion ids, two rows giving the same task for one suggestion, missing or
        out-of-bounds conditions of an unsolicited row, a row with neither a suggestion id nor a value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputDataError(f"results must be a pandas DataFrame, got {type(frame).__name__}")
    present = _check_columns(frame, space, tasks)
    n = len(frame)
    ids = _suggestion_ids(frame)
    keyed = np.array([i is not None for i in ids], dtype=bool)

    values = {t.name: _to_float(frame, t.name, "task values") for t in present}
    noise: dict[str, np.ndarray] = {}
    for task in present:
        has_column = task.noise_column is not None and task.noise_column in frame.columns
        noise[task.name] = (
            _to_float(frame, task.noise_column, "measurement stds") if has_column else np.full(n, np.nan)
        )
    measured = np.column_stack([~np.isnan(values[t.name]) for t in present])
    has_value = measured.any(axis=1)

    for j, task in enumerate(present):
        rows = np.flatnonzero(measured[:, j])
        labels = frame.index[rows]
        _check_task_values(task, values[task.name][rows], labels, task.name)
        if task.noise_column is None:
            continue
        if task.noise_column not in frame.columns:
            if len(rows):
                raise InputDataError(
                    f"task {task.name!r} has known noise (noise_column={task.noise_column!r}) but the "
                    f"frame has no column {task.noise_column!r}; add it with the measurement std in "
                    f"physical units of every value of {task.name!r}"
                )
            continue
        _check_noise(task, noise[task.name][rows], labels, task.noise_column, values[task.name][rows])
        orphan = ~np.isnan(noise[task.name]) & ~measured[:, j]
        if orphan.any():
            raise InputDataError(
                f"column {task.noise_column!r}: a measurement std is given at row(s) "
                f"{_rows(frame.index[orphan])} where {task.name!r} has no value; fill in the value or "
                f"clear the std"
            )

    unsolicited = ~keyed
    empty = unsolicited & ~has_value
    if empty.any():
        raise InputDataError(
            f"row(s) {_rows(frame.index[empty])} have neither a {SUGGESTION_ID!r} nor a measured value "
            f"in the task columns {[t.name for t in present]}; fill them in or remove them"
        )
    if unsolicited.any():
        missing = [name for name in space.names if name not in frame.columns]
        if missing:
            raise InputDataError(
                f"row(s) {_rows(frame.index[unsolicited])} have no {SUGGESTION_ID!r}, so they are "
                f"unsolicited experiments and need every condition column, but {missing} are missing; "
                f"add the condition column(s), or give the suggestion id of each row"
            )
        space.validate(frame.iloc[np.flatnonzero(unsolicited)][space.names])

    # Two rows giving the same task of one suggestion: which one is right is not ours to guess.
    for j, task in enumerate(present):
        seen: dict[int, Any] = {}
        for pos in np.flatnonzero(keyed & measured[:, j]):
            sid = ids[pos]
            if sid in seen:
                raise InputDataError(
                    f"rows {seen[sid]} and {frame.index[pos]} both give task {task.name!r} of suggestion "
                    f"{sid}; keep one of them"
                )
            seen[sid] = frame.index[pos]

    rows_to_record = np.flatnonzero(has_value)
    keyed_positions = np.flatnonzero(keyed & has_value)
    given = dict(zip(keyed_positions, _given_conditions(frame, space, keyed_positions), strict=True))
    full: dict[int, dict[str, Condition]] = {}
    if unsolicited.any():
        unsolicited_positions = np.flatnonzero(unsolicited)
        conditions = conditions_json(space, frame.iloc[unsolicited_positions])
        full = dict(zip(unsolicited_positions, conditions, strict=True))
    notes: list[str | None] = [None] * n
    if "note" in frame.columns:
        blank = blank_cells(frame["note"])
        notes = [None if b else str(x) for x, b in zip(frame["note"], blank, strict=True)]

    rows = []
    for pos in rows_to_record:
        row_values = {}
        for j, task in enumerate(present):
            if measured[pos, j]:
                std = noise[task.name][pos]
                row_values[task.name] = (float(values[task.name][pos]), None if np.isnan(std) else float(std))
        rows.append(
            ResultRow(
                label=frame.index[pos],
                suggestion_id=ids[pos],
                conditions=given[pos] if keyed[pos] else full[pos],
                values=row_values,
                note=notes[pos],
            )
        )
    referenced: dict[int, list[Any]] = {}
    for pos in np.flatnonzero(keyed):
        referenced.setdefault(ids[pos], []).append(frame.index[pos])
    return ParsedResults(rows=rows, referenced=referenced)

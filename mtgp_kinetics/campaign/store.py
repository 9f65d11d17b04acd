"""The crash-safe record of an active-learning campaign: suggestions made and results measured.

A :class:`CampaignStore` is one SQLite file (``campaign.db`` by convention) holding the design space,
the tasks, the model settings, every suggestion the campaign made and every result the lab reported.
It is built for campaigns that run for months: results arrive late, in batches, out of order and for
only some tasks; laptops reboot; two scripts may write at the same time.

* Every write is one SQLite transaction, committed before the method returns, in WAL journal mode
  with ``synchronous=FULL``: a result the store accepted survives a killed process and a power cut.
* A results frame is checked as a whole before anything is written, and written in one
  transaction: a typo anywhere rejects the whole frame, with an :class:`InputDataError` naming the
  row(s) and column, and leaves the store exactly as it was.
* Nothing recorded is lost: results are never deleted or overwritten; a corrected result
  (``record(..., replace=True)``) marks the old one as superseded, and the database's triggers refuse
  deletes and rewrites even from other programs.

Keep the file on a local disk: SQLite's WAL mode needs shared memory, which network file systems do
not provide reliably. To copy a campaign while it is in use, copy it with SQLite's backup (``sqlite3
campaign.db ".backup copy.db"``) or copy ``campaign.db`` together with ``campaign.db-wal``.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mtgp_kinetics.campaign.connection import (
    busy_message,
    configure,
    connect,
    fsync_directory,
    installed_version,
    is_busy,
    scalar,
)
from mtgp_kinetics.campaign.errors import CampaignBusyError, CampaignStoreError, SuggestionConflict
from mtgp_kinetics.campaign.export import wide_results
from mtgp_kinetics.campaign.feasibility import Feasibility
from mtgp_kinetics.campaign.results import (
    CONDITION_RTOL,
    DUPLICATE_POLICIES,
    SHEET_COLUMNS,
    SUGGESTION_ID,
    Condition,
    ParsedResults,
    ResultRow,
    celsius_slip,
    conditions_json,
    mismatched,
    parse_results,
    same_number,
)
from mtgp_kinetics.campaign.schema import (
    APPLICATION_ID,
    FORMAT_NAME,
    SCHEMA,
    SCHEMA_VERSION,
    STATUSES,
    check_version,
)
from mtgp_kinetics.campaign.suggestions import parse_acquisition_values, parse_tasks_to_measure
from mtgp_kinetics.csv_files import read_csv
from mtgp_kinetics.dataset import Dataset
from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.frame_parsing import check_definitions
from mtgp_kinetics.space import Categorical, Space, _rows
from mtgp_kinetics.tasks import Task

#: Seconds a write waits for another process's write lock before :class:`CampaignBusyError`.
DEFAULT_BUSY_TIMEOUT = 5.0


def _close(a: Any, b: Any) -> bool:
    """Equal text, or :func:`same_number` (both missing counts as equal)."""
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return same_number(a, b)


def _same_place(given: dict[str, Any], stored: dict[str, Any], names: Iterable[str]) -> bool:
    """Whether the conditions ``names`` of ``given`` match those ``stored`` (see :func:`_close`)."""
    return all(_close(given.get(name), stored.get(name)) for name in names)


def _same_value(measured: tuple[float, float | None], stored: tuple[float, float | None]) -> bool:
    """Whether a (value, known std) pair repeats a stored one."""
    return _close(measured[0], stored[0]) and _close(measured[1], stored[1])


def _without(row: ResultRow, tasks: Iterable[str]) -> ResultRow:
    """``row`` without the values of ``tasks``."""
    drop = set(tasks)
    if not drop:
        return row
    return dataclasses.replace(row, values={t: v for t, v in row.values.items() if t not in drop})


def _repeated_observation(
    conditions: dict[str, Any],
    measured: tuple[float, float | None],
    stored: Sequence[tuple[int, dict[str, Any], float, float | None]],
) -> int | None:
    """Id of a stored (id, conditions, value, noise) that ``measured`` at ``conditions`` repeats, if any.

    ``stored`` is sorted by value: only the entries within :data:`CONDITION_RTOL` of the value are
    compared (a bisection), so checking a frame against a large store stays fast.
    """
    v = float(measured[0])
    window = 2.0 * CONDITION_RTOL * abs(v)
    lo = bisect.bisect_left(stored, v - window, key=lambda entry: entry[2])
    hi = bisect.bisect_right(stored, v + window, key=lambda entry: entry[2])
    for oid, where, value, noise in stored[lo:hi]:
        if _same_value(measured, (value, noise)) and _same_place(conditions, where, where):
            return oid
    return None


def _now() -> str:
    """UTC time stamp, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(obj: Any, what: str) -> str:
    """Strict JSON (no NaN/inf), raising :class:`InputDataError` naming ``what``."""
    try:
        return json.dumps(obj, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InputDataError(
            f"{what} must be JSON: plain dicts, lists, str, int, finite float, bool or None ({err})"
        ) from err


def _check_sheet_names(space: Space, tasks: Sequence[Task]) -> None:
    """Refuse condition, task and noise-column names that the campaign's sheets use themselves.

    A task called ``suggestion_id`` would blank the ids of every results sheet (its results then
    look unsolicited and the suggestions stay pending); one called ``tasks`` breaks ``suggest``.
    """
    names = [*space.names, *(t.name for t in tasks), *(t.noise_column for t in tasks if t.noise_column)]
    taken = [n for n in names if n in SHEET_COLUMNS]
    if taken:
        raise InputDataError(
            f"name(s) {taken} are columns of the campaign's own sheets ({list(SHEET_COLUMNS)}); "
            f"rename the condition(s) or task(s)"
        )


def _as_ids(ids: int | Iterable[int], what: str) -> list[int]:
    """Suggestion or observation ids as a list of ints, raising naming the bad entries."""
    items = [ids] if isinstance(ids, (int, np.integer)) else list(ids)
    bad = [x for x in items if isinstance(x, bool) or not isinstance(x, (int, np.integer))]
    if bad:
        raise InputDataError(f"{what}: ids must be integers, got {bad[:5]}")
    return list(dict.fromkeys(int(x) for x in items))  # each id once, in the order given


class CampaignStore:
    """The record of one campaign in an SQLite file; build one with :meth:`create` or :meth:`open`.

    Results come in as wide frames (see :meth:`record`); suggestions, observations and the
    :class:`~mtgp_kinetics.Dataset` for fitting come out as frames in physical units. Each instance
    holds one connection; several instances, in one process or many, can use the same file.

    Parameters
    ----------
    conn : sqlite3.Connection
        An open, configured connection (internal; use :meth:`create` or :meth:`open`).
    path : Path
        The file.
    meta : dict
        The decoded ``meta`` table.
    busy_timeout : float
        Seconds a write waits for another process's write lock.
    """

    def __init__(
        self, conn: sqlite3.Connection, path: Path, meta: dict[str, Any], busy_timeout: float
    ) -> None:
        self._conn = conn
        self._path = path
        self._closed = False
        try:
            self._space = Space.from_dict(meta["space"])
            self._tasks = tuple(Task.from_dict(t) for t in meta["tasks"])
        except (KeyError, TypeError, ValueError) as err:
            raise CampaignStoreError(
                f"{str(path)!r}: the space or tasks in the meta table cannot be read ({err})"
            ) from err
        self._busy_timeout = busy_timeout
        self._created_at: str = meta["created_at"]
        self._package_version: str = meta["package_version"]

    # -- creating and opening ------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        space: Space,
        tasks: Sequence[Task],
        settings: dict[str, Any] | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> CampaignStore:
        """Create a new campaign database at ``path``; never overwrites a file.

        Parameters
        ----------
        path : str or PathLike
            The new file (``campaign.db`` by convention), on a local disk.
        space : Space
            The campaign's conditions.
        tasks : sequence of Task
            The campaign's outputs.
        settings : dict, optional
            Model and loop settings (kernel, strategy name, q, seeds...): any JSON object.
        busy_timeout : float
            Seconds a write waits for another process's write lock (see :class:`CampaignBusyError`).

        Returns
        -------
        CampaignStore
            The open store.

        Raises
        ------
        InputDataError
            If ``path`` exists, its folder does not, or space, tasks or settings are invalid.
        """
        path = Path(path)
        tasks = check_definitions(space, tasks)
        _check_sheet_names(space, tasks)
        settings = {} if settings is None else settings
        if not isinstance(settings, dict):
            raise InputDataError(f"settings must be a dict, got {type(settings).__name__}")
        settings_json = _dumps(settings, "settings")
        if not path.parent.is_dir():
            raise InputDataError(f"cannot create {str(path)!r}: folder {str(path.parent)!r} does not exist")
        try:
            # O_EXCL: refusing to overwrite is atomic, even against another process creating it now.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise InputDataError(
                f"{str(path)!r} already exists; CampaignStore.create never overwrites a file: open it "
                f"with CampaignStore.open({str(path)!r}) or choose another path"
            ) from None
        now = _now()
        meta = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "space": space.to_dict(),
            "tasks": [t.to_dict() for t in tasks],
            "settings": settings,
            "created_at": now,
            "package_version": installed_version(),
        }
        conn = None
        try:
            conn = connect(path, busy_timeout)
            configure(conn, str(path))
            # The whole schema in one transaction: an interrupted create leaves an empty database,
            # which open() reports as such, never half a schema.
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in meta.items()],
            )
            conn.execute(
                "INSERT INTO settings_log (changed_at, changes, settings) VALUES (?, ?, ?)",
                (now, settings_json, settings_json),
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn is not None:
                conn.close()
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise
        fsync_directory(path)
        return cls(conn, path, meta, busy_timeout)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> CampaignStore:
        """Open an existing campaign database.

        Parameters
        ----------
        path : str or PathLike
            A file made by :meth:`create`.
        busy_timeout : float
            Seconds a write waits for another process's write lock (see :class:`CampaignBusyError`).

        Returns
        -------
        CampaignStore
            The open store.

        Raises
        ------
        CampaignStoreError
            If the file is missing, not a campaign database, or of another schema version.
        """
        path = Path(path)
        where = str(path)
        if not path.is_file():
            raise CampaignStoreError(
                f"no campaign database at {where!r}; check the path, or start a campaign with "
                f"Campaign.create (CLI: mtgp-kinetics init campaign.toml --db {where})"
            )
        try:
            conn = connect(path, busy_timeout)
        except sqlite3.Error as err:
            raise CampaignStoreError(f"cannot open {where!r}: {err}") from err
        try:
            meta = check_version(conn, where)
            configure(conn, where)
            return cls(conn, path, meta, busy_timeout)
        except BaseException as err:
            conn.close()
            if isinstance(err, sqlite3.Error):
                if is_busy(err):
                    raise CampaignBusyError(busy_message(path, busy_timeout)) from err
                raise CampaignStoreError(f"cannot open {where!r}: {err}") from err
            raise

    def close(self) -> None:
        """Close the connection (everything is already committed)."""
        self._closed = True
        self._conn.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate SQLite errors into the store's errors."""
        try:
            yield
        except sqlite3.Error as err:
            if self._closed:
                raise CampaignStoreError(
                    f"the store of {str(self._path)!r} was closed; open it again with CampaignStore.open"
                ) from err
            if is_busy(err):
                raise CampaignBusyError(busy_message(self._path, self._busy_timeout)) from err
            raise CampaignStoreError(f"{str(self._path)!r}: {err}") from err

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success and rolled back on any error.

        BEGIN IMMEDIATE takes the write lock before the first read, so the checks that read the
        store (ids, statuses, results already recorded) and the writes that depend on them see the
        same state, even with other processes writing (the ``with conn:`` idiom would begin a
        deferred transaction only at the first write).
        """
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several SELECTs see one consistent snapshot."""
        with self._errors():
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.rollback()

    # -- description -------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def space(self) -> Space:
        """The campaign's conditions."""
        return self._space

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The campaign's tasks."""
        return self._tasks

    @property
    def task_names(self) -> list[str]:
        """Task names, in task order."""
        return [t.name for t in self._tasks]

    @property
    def created_at(self) -> str:
        """UTC time the campaign was created (ISO 8601)."""
        return self._created_at

    @property
    def package_version(self) -> str:
        """Version of mtgp_kinetics that created the campaign."""
        return self._package_version

    @property
    def schema_version(self) -> int:
        """Schema version of the file."""
        return SCHEMA_VERSION

    @property
    def settings(self) -> dict[str, Any]:
        """The current settings (a copy; change them with :meth:`update_settings`)."""
        with self._errors():
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return json.loads(row[0])

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the settings and log the change with a time stamp.

        Parameters
        ----------
        changes : dict
            Keys to add or overwrite (JSON values).

        Returns
        -------
        dict
            The new settings.
        """
        if not isinstance(changes, dict):
            raise InputDataError(f"update_settings: changes must be a dict, got {type(changes).__name__}")
        changes_json = _dumps(changes, "settings changes")
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
            settings = {**json.loads(row[0]), **json.loads(changes_json)}
            settings_json = json.dumps(settings)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'settings'", (settings_json,))
            conn.execute(
                "INSERT INTO settings_log (changed_at, changes, settings) VALUES (?, ?, ?)",
                (_now(), changes_json, settings_json),
            )
        return settings

    def settings_history(self) -> pd.DataFrame:
        """Every settings change, oldest first (the first row is the creation).

        Returns
        -------
        DataFrame
            Columns ``changed_at`` (UTC, ISO 8601), ``changes`` and ``settings`` (dicts).
        """
        with self._errors():
            rows = self._conn.execute("SELECT changed_at, changes, settings FROM settings_log ORDER BY id")
            data = [(at, json.loads(c), json.loads(s)) for at, c, s in rows]
        return pd.DataFrame(data, columns=["changed_at", "changes", "settings"])

    def __repr__(self) -> str:
        if self._closed:
            return f"CampaignStore({str(self._path)!r}, closed)"
        with self._errors():
            statuses = dict(self._conn.execute("SELECT status, count(*) FROM suggestions GROUP BY status"))
            n_obs = self._conn.execute(
                "SELECT count(*) FROM observations WHERE superseded_by IS NULL"
            ).fetchone()[0]
        shown = ", ".join(f"{statuses.get(s, 0)} {s}" for s in STATUSES)
        return (
            f"CampaignStore({str(self._path)!r}: {sum(statuses.values())} suggestions ({shown}), "
            f"{n_obs} observations of {len(self._tasks)} task(s))"
        )

    # -- suggestions -----------------------------------------------------------------------------
    def add_suggestions(
        self,
        frame: pd.DataFrame,
        tasks_to_measure: Sequence[Sequence[str]] | Sequence[str] | None,
        strategy: str,
        acquisition_values: Sequence[float] | np.ndarray | None = None,
        *,
        note: str | None = None,
        based_on: int | None = None,
    ) -> pd.DataFrame:
        """Record a batch of suggested experiments as pending.

        Parameters
        ----------
        frame : DataFrame
            ``q`` rows of conditions (physical units), one column per condition; other columns are
            ignored. Validated with :meth:`Space.validate`.
        tasks_to_measure : list of list of str, list of str or None
            The tasks to measure at each suggestion (``q`` lists), one list for all of them, or
            None for every task; stored in task order.
        strategy : str
            Name of the strategy that made the suggestions (e.g. ``"qNEI"``, ``"sobol"``, ``"manual"``).
        acquisition_values : sequence of float, optional
            ``q`` acquisition values (NaN: none).
        note : str, optional
            A note stored with every suggestion of the batch.
        based_on : int, optional
            The number of suggestions in the store when the batch was chosen. If another process
            has added suggestions since, nothing is recorded and :class:`SuggestionConflict` is
            raised: the batch ignored them as pending experiments and may repeat them.

        Returns
        -------
        DataFrame
            ``q`` rows, index of ``frame``: ``suggestion_id``, ``batch_id``, the conditions and
            ``tasks`` (list of task names).
        """
        if not isinstance(frame, pd.DataFrame):
            raise InputDataError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        self._space.validate(frame)
        q = len(frame)
        asked = parse_tasks_to_measure(frame, tasks_to_measure, self.task_names)
        if not isinstance(strategy, str) or not strategy:
            raise InputDataError(f"strategy must be a non-empty string naming the strategy, got {strategy!r}")
        if note is not None and not isinstance(note, str):
            raise InputDataError(f"note must be a string or None, got {type(note).__name__}")
        acquisition = parse_acquisition_values(frame, acquisition_values)
        conditions = conditions_json(self._space, frame)
        if q == 0:
            ids: list[int] = []
            batch_id = 0
        else:
            created_at = _now()
            with self._write() as conn:
                if based_on is not None:
                    now = scalar(conn, "SELECT count(*) FROM suggestions")
                    if now != based_on:
                        raise SuggestionConflict(
                            f"{now - based_on} suggestion(s) were added by another process while this "
                            "batch was chosen; choose again"
                        )
                batch_id = scalar(conn, "SELECT coalesce(max(batch_id), 0) + 1 FROM suggestions")
                ids = []
                for cond, tasks, value in zip(conditions, asked, acquisition, strict=True):
                    cursor = conn.execute(
                        "INSERT INTO suggestions (batch_id, created_at, conditions, tasks, strategy, "
                        "acquisition_value, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (batch_id, created_at, json.dumps(cond), json.dumps(tasks), strategy, value, note),
                    )
                    ids.append(int(cursor.lastrowid))
        out = pd.DataFrame({SUGGESTION_ID: np.asarray(ids, dtype=np.int64)}, index=frame.index)
        out["batch_id"] = np.full(q, batch_id, dtype=np.int64)
        for name, column in self._condition_columns(conditions).items():
            out[name] = column
        out["tasks"] = pd.Series(asked, index=frame.index, dtype=object)
        return out

    def _condition_columns(self, conditions: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Condition dicts -> one array per condition (float, or object holding str)."""
        out = {}
        for v in self._space.variables:
            if isinstance(v, Categorical):
                out[v.name] = np.array([c[v.name] for c in conditions], dtype=object)
            else:
                out[v.name] = np.array([c[v.name] for c in conditions], dtype=float)
        return out

    def suggestions(self, status: str | None = None) -> pd.DataFrame:
        """The suggestions, oldest first, optionally only those of one status.

        Parameters
        ----------
        status : {"pending", "completed", "abandoned"} or None
            Filter; None returns all.

        Returns
        -------
        DataFrame
            One row per suggestion: ``suggestion_id``, ``batch_id``, ``status``, the conditions
            (physical units, categorical levels as str), ``tasks`` (the tasks asked for),
            ``missing`` (the asked tasks without a result yet), ``strategy``, ``acquisition_value``
            (NaN if none), ``note``, ``created_at`` and ``status_changed_at`` (UTC, ISO 8601; None
            while pending).
        """
        if status is not None and status not in STATUSES:
            raise InputDataError(f"status must be one of {list(STATUSES)} or None, got {status!r}")
        where = "" if status is None else "WHERE status = ?"
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, batch_id, status, conditions, tasks, strategy, acquisition_value, note, "
                f"created_at, status_changed_at FROM suggestions {where} ORDER BY id",
                () if status is None else (status,),
            ).fetchall()
            done = set(
                conn.execute(
                    "SELECT suggestion_id, task FROM observations "
                    "WHERE superseded_by IS NULL AND suggestion_id IS NOT NULL"
                ).fetchall()
            )
        conditions = [json.loads(r[3]) for r in rows]
        asked = [json.loads(r[4]) for r in rows]
        out = pd.DataFrame(
            {
                SUGGESTION_ID: np.array([r[0] for r in rows], dtype=np.int64),
                "batch_id": np.array([r[1] for r in rows], dtype=np.int64),
                "status": np.array([r[2] for r in rows], dtype=object),
            }
        )
        for name, column in self._condition_columns(conditions).items():
            out[name] = column
        out["tasks"] = pd.Series(asked, dtype=object)
        out["missing"] = pd.Series(
            [[t for t in tasks if (r[0], t) not in done] for r, tasks in zip(rows, asked, strict=True)],
            dtype=object,
        )
        out["strategy"] = np.array([r[5] for r in rows], dtype=object)
        out["acquisition_value"] = np.array([np.nan if r[6] is None else r[6] for r in rows], dtype=float)
        for position, name in ((7, "note"), (8, "created_at"), (9, "status_changed_at")):
            out[name] = np.array([r[position] for r in rows], dtype=object)
        return out

    def pending(self) -> pd.DataFrame:
        """The pending suggestions, with the tasks still ``missing`` (see :meth:`suggestions`)."""
        return self.suggestions("pending")

    def abandon(self, ids: int | Iterable[int]) -> int:
        """Mark pending suggestions as abandoned (their results so far are kept).

        Parameters
        ----------
        ids : int or iterable of int
            Suggestion ids. Already abandoned ones are left as they are.

        Returns
        -------
        int
            Number of suggestions newly abandoned.

        Raises
        ------
        InputDataError
            For an unknown id or a completed suggestion; nothing is changed then.
        """
        wanted = _as_ids(ids, "abandon")
        with self._write() as conn:
            status = dict(
                conn.execute(
                    "SELECT id, status FROM suggestions WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            )
            unknown = sorted({i for i in wanted if i not in status})
            if unknown:
                raise InputDataError(
                    f"abandon: unknown suggestion id(s) {unknown}; see mtgp-kinetics pending "
                    f"(Python: store.suggestions())"
                )
            completed = sorted({i for i in wanted if status[i] == "completed"})
            if completed:
                raise InputDataError(
                    f"abandon: suggestion(s) {completed} are completed (every task asked for has a result) "
                    f"and cannot be abandoned"
                )
            pending = sorted({i for i in wanted if status[i] == "pending"})
            conn.execute(
                "UPDATE suggestions SET status = 'abandoned', status_changed_at = ? "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (_now(), json.dumps(pending)),
            )
        return len(pending)

    # -- results -----------------------------------------------------------------------------------
    def record(
        self,
        results: pd.DataFrame,
        source: str,
        *,
        replace: bool = False,
        as_run: bool = False,
        duplicates: str = "error",
    ) -> int:
        """Record lab results, all or nothing.

        Parameters
        ----------
        results : DataFrame
            Wide form, one row per experiment: a column per task with the measured value in physical
            units (empty/NaN: not measured), each task's ``noise_column`` with the known measurement
            std (required where a task with ``noise_column`` is measured), and optionally a ``note``
            column. A row answering a suggestion gives its ``suggestion_id``; its conditions are the
            suggestion's, and condition cells given on the row must match them (within 1e-9
            relative, or as their rounding to three or more significant digits:
            :func:`~mtgp_kinetics.campaign.results.is_rounding_of`; empty cells are fine) unless
            ``as_run``. A row without ``suggestion_id`` is an
            unsolicited experiment and needs every condition column. Rows with a suggestion id but
            no value are skipped (the suggestion stays pending; the id must still exist), so a sheet
            of pending suggestions can come back partly filled. A suggestion may get results for tasks it did
            not ask for.
        source : str
            Where the results come from, e.g. ``"oracle"``, ``"initial"``, ``"import:run12.csv"``.
        replace : bool
            Correct results already recorded: a result for a (suggestion, task) pair that has one,
            or an unsolicited result at the conditions of a current unsolicited result of the same
            task (refused where several replicates lie there), supersedes it; the old observation is
            kept, marked as superseded. Values equal to the current ones are left alone.
        as_run : bool
            The condition cells of a row answering a suggestion are the conditions the experiment
            was actually run at (a furnace that settled at 1203 K instead of the 1200 K suggested):
            where they differ from the suggestion's, the observation is recorded at the given
            conditions (which must lie within the space's bounds), and it still answers the
            suggestion. Empty cells, and cells that match (also as a spreadsheet's rounding),
            take the suggestion's exact values. The suggestion keeps the conditions it
            suggested; :meth:`observations` holds those run.
        duplicates : {"error", "skip", "record"}
            What to do with a value that repeats a current observation exactly: the same task and
            value (and known std), at the same conditions (within 1e-9 relative), unsolicited or
            for the same suggestion. ``"error"`` (default): refuse the frame, naming the rows; a
            sheet imported twice would otherwise count every experiment twice and make the model
            overconfident. ``"skip"``: leave those values out and record the rest (a lab sheet
            re-imported with new rows added, or a campaign's own export). ``"record"``: record
            them anyway (true replicates that gave the same number).

        Returns
        -------
        int
            Number of observations recorded (one per measured value; skipped duplicates not counted).

        Raises
        ------
        InputDataError
            Naming the row label(s) and column, for any problem in the frame (see
            :func:`~mtgp_kinetics.campaign.results.parse_results`), an unknown or abandoned
            suggestion id, conditions that differ from the suggestion's, a result already
            recorded for a (suggestion, task) pair without ``replace=True``, or a duplicate (see
            ``duplicates``). Nothing is written then.
        CampaignBusyError
            If another process held the write lock longer than the busy timeout; nothing is written.
        """
        if not isinstance(source, str) or not source.strip():
            raise InputDataError(f"source must be a non-empty string such as 'oracle', got {source!r}")
        if duplicates not in DUPLICATE_POLICIES:
            raise InputDataError(f"duplicates must be one of {list(DUPLICATE_POLICIES)}, got {duplicates!r}")
        parsed = parse_results(results, self._space, self._tasks)
        if not parsed.referenced and not parsed.rows:
            return 0
        recorded_at = _now()
        with self._write() as conn:
            plan = self._plan(conn, parsed, replace, as_run, duplicates)
            at_pending = self._unsolicited_at_pending(conn, plan)
            next_id = scalar(conn, "SELECT coalesce(max(id), 0) + 1 FROM observations")
            record_id = scalar(conn, "SELECT coalesce(max(record_id), 0) + 1 FROM observations")
            touched: set[int] = set()
            for row, conditions, replaced in plan:
                for task, (value, noise) in row.values.items():
                    old = replaced.get(task)
                    if old is not None:
                        # superseded_by's foreign key is deferred: the new row follows right away.
                        conn.execute("UPDATE observations SET superseded_by = ? WHERE id = ?", (next_id, old))
                    conn.execute(
                        "INSERT INTO observations (id, suggestion_id, task, value, noise, conditions, "
                        "recorded_at, source, note, record_id, source_row) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            next_id,
                            row.suggestion_id,
                            task,
                            value,
                            noise,
                            conditions,
                            recorded_at,
                            source,
                            row.note,
                            record_id,
                            str(row.label),
                        ),
                    )
                    next_id += 1
                if row.suggestion_id is not None:
                    touched.add(row.suggestion_id)
            # A suggestion is completed once every task it asked for has a current result.
            conn.execute(
                """UPDATE suggestions SET status = 'completed', status_changed_at = ?
                WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?))
                AND NOT EXISTS (
                    SELECT 1 FROM json_each(suggestions.tasks) AS asked WHERE NOT EXISTS (
                        SELECT 1 FROM observations AS o WHERE o.suggestion_id = suggestions.id
                        AND o.task = asked.value AND o.superseded_by IS NULL))""",
                (recorded_at, json.dumps(sorted(touched))),
            )
        if at_pending:
            listed = _listed([f"row {label} at suggestion {sid}'s conditions" for label, sid in at_pending])
            warnings.warn(
                f"recorded {len(at_pending)} row(s) without a {SUGGESTION_ID!r} as unsolicited "
                f"experiments although they lie exactly at a pending suggestion's conditions "
                f"({listed}); those suggestions stay pending and count as experiments of their "
                f"own. If a row is that suggestion's result, abandon the suggestion, or next time "
                f"give its {SUGGESTION_ID!r}",
                DataWarning,
                stacklevel=2,
            )
        return sum(len(row.values) for row, _, _ in plan)

    def _unsolicited_at_pending(
        self, conn: sqlite3.Connection, plan: list[tuple[ResultRow, str, dict[str, int]]]
    ) -> list[tuple[Any, int]]:
        """(row label, suggestion id) for each planned unsolicited row at a pending suggestion's conditions.

        A user who records a suggested experiment by its conditions, without the id, has left the
        suggestion open (a later run would measure it again): seen in a first user's campaign.
        """
        rows = [row for row, _, _ in plan if row.suggestion_id is None]
        if not rows:
            return []
        pending = [
            (sid, json.loads(conditions))
            for sid, conditions in conn.execute(
                "SELECT id, conditions FROM suggestions WHERE status = 'pending'"
            )
        ]
        return [
            (row.label, sid)
            for row in rows
            for sid, conditions in pending
            if not mismatched(self._space, row.conditions, conditions)
        ]

    def _plan(
        self,
        conn: sqlite3.Connection,
        parsed: ParsedResults,
        replace: bool,
        as_run: bool,
        duplicates: str = "error",
    ) -> list[tuple[ResultRow, str, dict[str, int]]]:
        """Check ``parsed`` against the store (inside the write transaction).

        Returns
        -------
        list
            Per row to record: the row (values that repeat a current observation left out with
            ``duplicates="skip"``), its conditions as JSON, and task -> id of the current
            observation it replaces.
        """
        ids = json.dumps(sorted(parsed.referenced))
        suggestion = {
            sid: (status, json.loads(conditions), json.loads(tasks))
            for sid, status, conditions, tasks in conn.execute(
                "SELECT id, status, conditions, tasks FROM suggestions "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (ids,),
            )
        }
        unknown = [sid for sid in parsed.referenced if sid not in suggestion]
        if unknown:
            labels = [label for sid in unknown for label in parsed.referenced[sid]]
            raise InputDataError(
                f"column {SUGGESTION_ID!r}: unknown suggestion id(s) {unknown} at row(s) {_rows(labels)}; "
                f"see mtgp-kinetics pending (Python: store.suggestions()) for the ids, or leave the cell "
                f"empty for an unsolicited "
                f"experiment (results exported from another campaign: remove the {SUGGESTION_ID!r} "
                f"column, and they are recorded as unsolicited experiments)"
            )
        current: dict[tuple[int, str], tuple[int, float, float | None, str, str, dict[str, Any]]] = {
            (sid, task): (oid, value, noise, source, at, json.loads(where))
            for oid, sid, task, value, noise, source, at, where in conn.execute(
                "SELECT id, suggestion_id, task, value, noise, source, recorded_at, conditions "
                "FROM observations WHERE superseded_by IS NULL "
                "AND suggestion_id IN (SELECT value FROM json_each(?))",
                (ids,),
            )
        }
        # A value equal to the current result is reported (the frame is refused), dropped (skipped,
        # or with replace: nothing to correct) or kept (a replicate).
        on_repeat = {"error": "report", "skip": "drop", "record": "keep"}[duplicates]
        if replace:
            on_repeat = "drop"
        unsolicited = self._current_unsolicited(conn) if on_repeat != "keep" else {}
        repeats: list[str] = []
        conflicts: list[str] = []
        mismatches: list[str] = []
        slips = False  # a temperature given in degrees Celsius among the mismatches
        plan = []
        for row in parsed.rows:
            sid = row.suggestion_id
            if sid is None:
                repeated = {
                    task: oid
                    for task, measured in row.values.items()
                    if (oid := _repeated_observation(row.conditions, measured, unsolicited.get(task, [])))
                    is not None
                }
                if repeated and on_repeat == "report":
                    repeats += [f"row {row.label} {t!r} repeats observation {o}" for t, o in repeated.items()]
                    continue  # reported below, with every other repeat
                row = _without(row, repeated)  # none to drop where repeats are kept
                replaced = self._unsolicited_replaced(row, unsolicited) if replace else {}
                if row.values:
                    plan.append((row, json.dumps(row.conditions), replaced))
                continue
            status, conditions, _ = suggestion[sid]
            if status == "abandoned":
                raise InputDataError(
                    f"row {row.label}: suggestion {sid} was abandoned, so it takes no results; if the "
                    f"experiment was run after all, record the row without {SUGGESTION_ID!r} (as an "
                    f"unsolicited experiment, with the condition columns)"
                )
            differ = mismatched(self._space, row.conditions, conditions)
            # A result recorded as run, read again (an edited export): its conditions are the
            # recorded ones, not the suggestion's.
            recorded_as_run = bool(differ) and all(
                (sid, task) in current and _same_place(row.conditions, current[(sid, task)][5], differ)
                for task in row.values
            )
            if differ and recorded_as_run:
                conditions = {**conditions, **{n: row.conditions[n] for n in differ}}
            elif differ and as_run:
                conditions = self._as_run(row, conditions, differ, sid)
            elif differ:
                hints = [celsius_slip(self._space, n, row.conditions[n], conditions[n]) for n in differ]
                slips = slips or any(hints)
                detail = ", ".join(
                    f"{n}: given {row.conditions[n]!r}, suggested {conditions[n]!r}{hint}"
                    for n, hint in zip(differ, hints, strict=True)
                )
                mismatches.append(f"row {row.label}, column(s) {differ}, suggestion {sid} ({detail})")
                continue
            repeated_tasks = [
                task
                for task, measured in row.values.items()
                if (sid, task) in current and _same_value(measured, current[(sid, task)][1:3])
            ]
            if repeated_tasks and on_repeat == "report":
                repeats += [
                    f"row {row.label} {t!r}: suggestion {sid} already has this value (observation "
                    f"{current[(sid, t)][0]})"
                    for t in repeated_tasks
                ]
            if on_repeat != "keep":  # reported below with every other repeat, or dropped
                row = _without(row, repeated_tasks)
                if not row.values:
                    continue
            replaced = {}
            for task in row.values:
                if (sid, task) in current:
                    oid, value, _, source, at, _ = current[(sid, task)]
                    if not replace:
                        conflicts.append(
                            f"row {row.label}, column {task!r}: suggestion {sid} already has a result for "
                            f"task {task!r} (observation {oid}: {value!r} from {source!r}, recorded {at})"
                        )
                    replaced[task] = oid
            plan.append((row, json.dumps(conditions), replaced))
        if mismatches:
            raise InputDataError(_mismatch_refusal(mismatches, slips))
        if conflicts or repeats:
            raise InputDataError(_refusal(conflicts, repeats))
        return plan

    @staticmethod
    def _unsolicited_replaced(
        row: ResultRow, unsolicited: dict[str, list[tuple[int, dict[str, Any], float, float | None]]]
    ) -> dict[str, int]:
        """Task -> id of the one current unsolicited observation at ``row``'s conditions it corrects.

        Raises
        ------
        InputDataError
            If several current results of a task lie at those conditions (replicates): the row
            cannot say which one it corrects.
        """
        replaced = {}
        for task in row.values:
            same_place = [
                oid
                for oid, where, _, _ in unsolicited.get(task, [])
                if _same_place(row.conditions, where, where)
            ]
            if len(same_place) > 1:
                raise InputDataError(
                    f"row {row.label}, column {task!r}: replace=True, but {len(same_place)} current "
                    f"results of {task!r} were recorded at these conditions (observations "
                    f"{same_place}, replicates); a row cannot say which one it corrects. Record it "
                    f"without replace to add a replicate"
                )
            if same_place:
                replaced[task] = same_place[0]
        return replaced

    def _current_unsolicited(
        self, conn: sqlite3.Connection
    ) -> dict[str, list[tuple[int, dict[str, Any], float, float | None]]]:
        """Current unsolicited observations by task: (id, conditions, value, noise), sorted by value."""
        out: dict[str, list[tuple[int, dict[str, Any], float, float | None]]] = {}
        for oid, task, value, noise, conditions in conn.execute(
            "SELECT id, task, value, noise, conditions FROM observations "
            "WHERE superseded_by IS NULL AND suggestion_id IS NULL ORDER BY value, id"
        ):
            out.setdefault(task, []).append((oid, json.loads(conditions), value, noise))
        return out

    def _as_run(
        self, row: ResultRow, suggested: dict[str, Condition], differ: list[str], sid: int
    ) -> dict[str, Condition]:
        """The conditions a row answering a suggestion was run at: its ``differ`` cells over ``suggested``.

        Cells that match the suggestion (exactly, or as its rounding) keep the suggested value, as
        without ``as_run``.

        Raises
        ------
        InputDataError
            Naming the row and column, if a given condition is outside the space.

        Warns
        -----
        DataWarning
            Where a given temperature is the suggested kelvin value minus 273.15 (degrees Celsius
            typed into a kelvin column), or the conditions run break the campaign's fixed values or
            constraints (recorded all the same: they are where the experiment ran).
        """
        ran = {name: row.conditions[name] for name in differ}
        merged = pd.DataFrame([{**suggested, **ran}], index=[row.label])[self._space.names]
        self._space.validate(merged)
        slips = [celsius_slip(self._space, n, ran[n], suggested[n]) for n in differ]
        if any(slips):
            warnings.warn(
                f"row {row.label}: recorded as run at {', '.join(f'{n}={ran[n]!r}' for n in differ)} "
                f"for suggestion {sid}{''.join(slips)}. If so, correct it with replace=True and the "
                f"temperature in kelvin (CLI: observe --replace --as-run)",
                DataWarning,
                stacklevel=5,
            )
        broken = self._broken_rules(merged)
        if broken:
            warnings.warn(
                f"row {row.label}: the conditions run for suggestion {sid} break the campaign's "
                f"rule(s) {broken}; recorded where it ran, as as_run asks",
                DataWarning,
                stacklevel=5,
            )
        return conditions_json(self._space, merged)[0]

    def _broken_rules(self, frame: pd.DataFrame) -> list[str]:
        """The campaign's fixed values and constraints (settings) that the one row of ``frame`` breaks."""
        settings = self.settings
        fixed, constraints = settings.get("fixed") or {}, settings.get("constraints") or ()
        if not fixed and not constraints:
            return []
        return Feasibility(self._space, fixed, constraints).broken(frame.reset_index(drop=True))

    def import_csv(
        self,
        path: str | os.PathLike[str],
        *,
        replace: bool = False,
        as_run: bool = False,
        duplicates: str = "error",
    ) -> int:
        """Read a CSV file of results and :meth:`record` it with source ``"import:<file name>"``.

        The file has the columns of a results frame (see :meth:`record`); the ``source`` and
        ``recorded_at`` columns of :meth:`export_csv` are ignored, so an export can be edited and
        imported again (with ``replace=True`` to correct values, ``duplicates="skip"`` to leave
        the unchanged ones alone). Categorical condition
        columns are read as text; in the other columns empty cells and the usual NA spellings mean
        "not measured". Rows are labelled by their line in the file, as a spreadsheet numbers
        them: "row 5" in a message is line 5 (line 1 = header), and the stored ``source_row``
        is that line.

        Parameters
        ----------
        path : str or PathLike
            The CSV file.
        replace, as_run : bool
            As in :meth:`record`.
        duplicates : {"error", "skip", "record"}
            As in :meth:`record`.

        Returns
        -------
        int
            Number of observations recorded.
        """
        path = Path(path)
        if not path.is_file():
            raise InputDataError(f"no CSV file at {str(path)!r}")
        return self.record(
            read_csv(path, self._space, line_numbers=True),
            source=f"import:{path.name}",
            replace=replace,
            as_run=as_run,
            duplicates=duplicates,
        )

    # -- reading back ------------------------------------------------------------------------------
    def observations(self, include_superseded: bool = False) -> pd.DataFrame:
        """The recorded results, one row per experiment and task, oldest first.

        Parameters
        ----------
        include_superseded : bool
            Also return results replaced by a correction (their ``superseded_by`` is set).

        Returns
        -------
        DataFrame
            Columns ``observation_id``, ``suggestion_id`` (nullable int; <NA> for unsolicited
            experiments), the conditions (physical units, categorical levels as str), ``task``,
            ``value`` (physical units), ``noise`` (known std, physical units, NaN if none),
            ``source``, ``recorded_at`` (UTC, ISO 8601), ``note``, ``record_id`` (one per
            :meth:`record` call), ``source_row`` (row label in the recorded frame, as str) and
            ``superseded_by`` (nullable int).
        """
        where = "" if include_superseded else "WHERE superseded_by IS NULL"
        with self._errors():
            rows = self._conn.execute(
                "SELECT id, suggestion_id, conditions, task, value, noise, source, recorded_at, note, "
                f"record_id, source_row, superseded_by FROM observations {where} ORDER BY id"
            ).fetchall()
        out = pd.DataFrame({"observation_id": np.array([r[0] for r in rows], dtype=np.int64)})
        out[SUGGESTION_ID] = pd.array([r[1] for r in rows], dtype="Int64")
        for name, column in self._condition_columns([json.loads(r[2]) for r in rows]).items():
            out[name] = column
        out["task"] = np.array([r[3] for r in rows], dtype=object)
        out["value"] = np.array([r[4] for r in rows], dtype=float)
        out["noise"] = np.array([np.nan if r[5] is None else r[5] for r in rows], dtype=float)
        for position, name in ((6, "source"), (7, "recorded_at"), (8, "note")):
            out[name] = np.array([r[position] for r in rows], dtype=object)
        out["record_id"] = np.array([r[9] for r in rows], dtype=np.int64)
        out["source_row"] = np.array([r[10] for r in rows], dtype=object)
        out["superseded_by"] = pd.array([r[11] for r in rows], dtype="Int64")
        return out

    def dataset(self) -> Dataset:
        """The current observations as a :class:`~mtgp_kinetics.Dataset` for fitting.

        Returns
        -------
        Dataset
            Long form; the provenance columns of :meth:`observations` are carried along.

        Raises
        ------
        InputDataError
            From :meth:`Dataset.from_frame`, e.g. if a task has no observation yet.
        """
        frame = self.observations().drop(columns=["superseded_by"])
        return Dataset.from_frame(frame, self._space, self._tasks, form="long")

    def counts(self) -> pd.DataFrame:
        """Observations per task.

        Returns
        -------
        DataFrame
            Index: task names, in task order. Columns ``observations`` (current results),
            ``superseded`` (replaced by a correction) and ``awaited`` (pending suggestions still
            missing the task).
        """
        with self._read() as conn:
            current = dict(
                conn.execute(
                    "SELECT task, count(*) FROM observations WHERE superseded_by IS NULL GROUP BY task"
                )
            )
            superseded = dict(
                conn.execute(
                    "SELECT task, count(*) FROM observations WHERE superseded_by IS NOT NULL GROUP BY task"
                )
            )
            awaited = dict(
                conn.execute(
                    """SELECT asked.value, count(*) FROM suggestions AS s, json_each(s.tasks) AS asked
                    WHERE s.status = 'pending' AND NOT EXISTS (
                        SELECT 1 FROM observations AS o WHERE o.suggestion_id = s.id
                        AND o.task = asked.value AND o.superseded_by IS NULL)
                    GROUP BY asked.value"""
                )
            )
        names = self.task_names
        return pd.DataFrame(
            {
                "observations": [int(current.get(n, 0)) for n in names],
                "superseded": [int(superseded.get(n, 0)) for n in names],
                "awaited": [int(awaited.get(n, 0)) for n in names],
            },
            index=pd.Index(names, name="task"),
            dtype=np.int64,
        )

    def export_csv(self, path: str | os.PathLike[str], form: str = "wide") -> int:
        """Write the current observations to a CSV file (replaced atomically); return its data rows.

        Parameters
        ----------
        path : str or PathLike
            The CSV file; overwritten.
        form : {"wide", "long"}
            ``"wide"``: one row per experiment (all current results of a suggestion, or the results
            of one unsolicited row), first-recorded first, with columns ``suggestion_id`` (empty for
            unsolicited experiments), the conditions, per task its value and, for a task with
            ``noise_column``, that column right after it (empty where not measured), then
            ``source``, ``recorded_at`` (the latest) and ``note`` (distinct sources and notes of the
            row's results joined by ``"; "``). :meth:`Dataset.from_csv` reads it as is.
            ``"long"``: :meth:`observations`, every column, one row per result.

        Returns
        -------
        int
            Rows written (the header not counted).
        """
        if form not in ("wide", "long"):
            raise InputDataError(f"export_csv: form must be 'wide' or 'long', got {form!r}")
        obs = self.observations()
        frame = obs if form == "long" else wide_results(obs, self._space, self._tasks)
        path = Path(path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            frame.to_csv(temporary, index=False)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        return len(frame)


def _listed(items: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` items joined by ``"; "``, and how many more."""
    more = len(items) - limit
    return "; ".join(items[:limit]) + (f"; and {more} more" if more > 0 else "")


def _mismatch_refusal(mismatches: Sequence[str], slips: bool) -> str:
    """One message for every row whose conditions differ from its suggestion's."""
    fix = (
        "correct the suggestion id or the conditions, clear the condition cells to use the "
        "suggestion's, or, if the experiments were run at the given conditions, record with "
        "as_run=True (CLI: observe --as-run)"
    )
    if slips:
        fix = "convert temperatures typed in degrees Celsius to kelvin (+ 273.15); otherwise " + fix
    return (
        f"{len(mismatches)} row(s) give conditions that differ from their suggestion's: "
        f"{_listed(mismatches)}; {fix}"
    )


def _refusal(conflicts: Sequence[str], repeats: Sequence[str]) -> str:
    """One message for every result that differs from a recorded one and every repeated value."""
    parts = []
    if conflicts:
        parts.append(
            f"{len(conflicts)} value(s) differ from results already recorded: {_listed(conflicts)}. To "
            f"correct them, record again with replace=True (CLI: observe --replace), which keeps the "
            f"old values marked as superseded"
        )
    if repeats:
        parts.append(
            f"{len(repeats)} value(s) repeat results already recorded: {_listed(repeats)}. Recording them "
            f"again would count those experiments twice. Pass duplicates='skip' to record only the new "
            f"values (a sheet imported again with rows added; CLI: observe --duplicates skip), or "
            f"duplicates='record' if they are true replicates that gave the same number"
        )
    return ". ".join(parts)

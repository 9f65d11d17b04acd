"""The SQLite schema of a campaign database, and the version check applied when one is opened.

A campaign database is an ordinary SQLite file. Its schema version is written twice, in
``PRAGMA user_version`` (readable without knowing the schema) and in the ``meta`` table, and its
type in ``PRAGMA application_id``; :func:`check_version` reads both when a file is opened. The
tables enforce what the store promises even against a writer that bypasses
:class:`~mtgp_kinetics.campaign.store.CampaignStore` (a hand-written SQL statement): statuses, units
and JSON shapes are checked by ``CHECK`` constraints, and triggers make the record append-only, so
nothing recorded is ever deleted or rewritten; a corrected result supersedes the old one
(``observations.superseded_by``), which stays.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mtgp_kinetics.campaign.errors import CampaignStoreError

#: Version of the schema this module creates; :func:`check_version` refuses any other.
SCHEMA_VERSION = 1

#: ``PRAGMA application_id`` of a campaign database: the bytes ``b"MTGC"`` as a big-endian int.
APPLICATION_ID = int.from_bytes(b"MTGC", "big")

#: Value of the ``format`` key in ``meta``.
FORMAT_NAME = "mtgp_kinetics-campaign"

#: Statuses of a suggestion: waiting for results, every asked task measured, given up.
STATUSES = ("pending", "completed", "abandoned")

# Largest finite double: SQLite stores inf as a REAL, so finiteness is checked against it.
_DBL_MAX = "1.7976931348623157e308"

#: The CREATE statements, in order; run inside the creating transaction.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL CHECK (json_valid(value))  -- every value is JSON text
) WITHOUT ROWID""",
    """CREATE TABLE settings_log (
    id         INTEGER PRIMARY KEY,
    changed_at TEXT NOT NULL,
    changes    TEXT NOT NULL CHECK (json_valid(changes) AND json_type(changes) = 'object'),
    settings   TEXT NOT NULL CHECK (json_valid(settings) AND json_type(settings) = 'object')
)""",
    f"""CREATE TABLE suggestions (
    id                INTEGER PRIMARY KEY,
    batch_id          INTEGER NOT NULL CHECK (batch_id >= 1),
    created_at        TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'completed', 'abandoned')),
    status_changed_at TEXT CHECK ((status = 'pending') = (status_changed_at IS NULL)),
    conditions        TEXT NOT NULL CHECK (json_valid(conditions) AND json_type(conditions) = 'object'),
    tasks             TEXT NOT NULL CHECK (json_valid(tasks) AND json_type(tasks) = 'array'
                                           AND json_array_length(tasks) > 0),
    strategy          TEXT NOT NULL CHECK (length(strategy) > 0),
    acquisition_value REAL CHECK (acquisition_value IS NULL OR abs(acquisition_value) <= {_DBL_MAX}),
    note              TEXT
)""",
    "CREATE INDEX suggestions_by_status ON suggestions (status)",
    f"""CREATE TABLE observations (
    id            INTEGER PRIMARY KEY,
    suggestion_id INTEGER REFERENCES suggestions (id),
    task          TEXT NOT NULL,
    value         REAL NOT NULL CHECK (typeof(value) = 'real' AND abs(value) <= {_DBL_MAX}),
    noise         REAL CHECK (noise IS NULL OR (typeof(noise) = 'real' AND noise > 0
                                                AND noise <= {_DBL_MAX})),
    conditions    TEXT NOT NULL CHECK (json_valid(conditions) AND json_type(conditions) = 'object'),
    recorded_at   TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (length(source) > 0),
    note          TEXT,
    record_id     INTEGER NOT NULL CHECK (record_id >= 1),
    source_row    TEXT NOT NULL,
    superseded_by INTEGER REFERENCES observations (id) DEFERRABLE INITIALLY DEFERRED
                  CHECK (superseded_by IS NULL OR superseded_by > id)
)""",
    # One current result per (suggestion, task); replicates of unsolicited experiments are free.
    """CREATE UNIQUE INDEX one_current_result ON observations (suggestion_id, task)
    WHERE superseded_by IS NULL AND suggestion_id IS NOT NULL""",
    "CREATE INDEX observations_by_suggestion ON observations (suggestion_id)",
    # The task of an observation must be one of the campaign's tasks (stored in meta).
    """CREATE TRIGGER observations_known_task BEFORE INSERT ON observations
WHEN NEW.task NOT IN (SELECT json_extract(t.value, '$.name')
                      FROM meta, json_each(meta.value) AS t WHERE meta.key = 'tasks')
BEGIN SELECT RAISE(ABORT, 'observation of a task that is not a task of this campaign'); END""",
    # Append-only: results are never deleted or rewritten; only superseded_by may be set, once.
    """CREATE TRIGGER observations_never_deleted BEFORE DELETE ON observations
BEGIN SELECT RAISE(ABORT, 'observations are never deleted; record a replacement instead'); END""",
    """CREATE TRIGGER observations_immutable
BEFORE UPDATE OF id, suggestion_id, task, value, noise, conditions, recorded_at, source, note,
    record_id, source_row ON observations
BEGIN SELECT RAISE(ABORT, 'observations are never modified; record a replacement instead'); END""",
    """CREATE TRIGGER observations_superseded_once BEFORE UPDATE OF superseded_by ON observations
WHEN OLD.superseded_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'an observation is superseded at most once'); END""",
    """CREATE TRIGGER suggestions_never_deleted BEFORE DELETE ON suggestions
BEGIN SELECT RAISE(ABORT, 'suggestions are never deleted; abandon them instead'); END""",
    """CREATE TRIGGER suggestions_immutable
BEFORE UPDATE OF id, batch_id, created_at, conditions, tasks, strategy, acquisition_value, note
    ON suggestions
BEGIN SELECT RAISE(ABORT, 'suggestions are never modified, only their status'); END""",
    """CREATE TRIGGER suggestions_status_final BEFORE UPDATE OF status ON suggestions
WHEN OLD.status <> 'pending' AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'only a pending suggestion can change its status'); END""",
)


def check_version(conn: sqlite3.Connection, where: str) -> dict[str, Any]:
    """Check that ``conn`` holds a campaign database of this schema version; return its meta.

    Parameters
    ----------
    conn : sqlite3.Connection
        An open connection; only read.
    where : str
        The file's path, for messages.

    Returns
    -------
    dict
        The ``meta`` table, values decoded from JSON.

    Raises
    ------
    CampaignStoreError
        If the file is not an SQLite database, not a campaign database, or of another schema version.
    """
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_meta = conn.execute(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'"
        ).fetchone()[0]
        rows = conn.execute("SELECT key, value FROM meta").fetchall() if has_meta else []
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        ]
    except sqlite3.DatabaseError as err:
        raise CampaignStoreError(
            f"{where!r} is not a campaign database (SQLite cannot read it: {err}); pass the path of a "
            f"file made by 'mtgp-kinetics init' or Campaign.create"
        ) from err
    try:
        meta = {key: json.loads(value) for key, value in rows}
    except ValueError as err:
        raise CampaignStoreError(f"{where!r}: the meta table is corrupted ({err})") from err
    if application_id != APPLICATION_ID or meta.get("format") != FORMAT_NAME:
        if not tables and user_version == 0:
            hint = (
                " (an empty database: perhaps creating the campaign was interrupted; delete it and "
                "create the campaign again)"
            )
        else:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            hint = f" (it holds the table(s) {shown}: another program's database; leave it as it is)"
        raise CampaignStoreError(
            f"{where!r} is an SQLite database but not a campaign database{hint}; pass the path of a file "
            f"made by 'mtgp-kinetics init' or Campaign.create"
        )
    if user_version > SCHEMA_VERSION:
        raise CampaignStoreError(
            f"{where!r} has campaign schema version {user_version}, written by a newer mtgp_kinetics "
            f"(this one reads version {SCHEMA_VERSION}); upgrade mtgp_kinetics to open it"
        )
    if user_version != SCHEMA_VERSION or meta.get("schema_version") != user_version:
        raise CampaignStoreError(
            f"{where!r} has an unknown campaign schema version (user_version {user_version}, meta "
            f"schema_version {meta.get('schema_version')!r}; this mtgp_kinetics reads version "
            f"{SCHEMA_VERSION}); the file was not written by a released mtgp_kinetics"
        )
    missing = [k for k in ("space", "tasks", "settings", "created_at", "package_version") if k not in meta]
    if missing:
        raise CampaignStoreError(f"{where!r}: the meta table lacks {missing}; the file is corrupted")
    return meta

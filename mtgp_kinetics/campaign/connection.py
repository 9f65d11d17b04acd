"""SQLite connections of the campaign store: durable settings, and what a busy database looks like."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mtgp_kinetics.campaign.errors import CampaignStoreError


def installed_version() -> str:
    """Installed version of mtgp_kinetics."""
    try:
        return version("mtgp_kinetics")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


def scalar(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The single value a query returns."""
    return conn.execute(sql, params).fetchone()[0]


def is_busy(err: sqlite3.Error) -> bool:
    """Whether ``err`` means another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (
            sqlite3.SQLITE_BUSY,
            sqlite3.SQLITE_LOCKED,
        )  # primary code of an extended one
    return "locked" in str(err) or "busy" in str(err)


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Connect to an existing file (``mode=rw``: never creates one) in autocommit mode."""
    uri = f"{path.absolute().as_uri()}?mode=rw"
    # isolation_level=None: the store issues BEGIN IMMEDIATE / COMMIT itself (see CampaignStore._write).
    return sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)


def configure(conn: sqlite3.Connection, where: str) -> None:
    """Per-connection settings; the journal mode is stored in the file."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise CampaignStoreError(
            f"{where!r}: SQLite could not switch to WAL journal mode (got {mode!r}); keep the campaign "
            f"on a local disk"
        )
    # Durability across power loss is the point of the store: with synchronous=FULL the WAL is
    # fsync'ed at every commit, so a committed result is on disk when record() returns. (NORMAL
    # survives a killed process but may lose the last commits on a power cut.)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def fsync_directory(path: Path) -> None:
    """Make a new file's directory entry durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def busy_message(path: Path, busy_timeout: float) -> str:
    """Message of :class:`~mtgp_kinetics.campaign.errors.CampaignBusyError`."""
    return (
        f"{path.name} is busy: another process is writing to it and held the write lock longer than "
        f"the busy timeout ({busy_timeout:g} s); nothing was written, try again (or open the store "
        f"with a longer busy_timeout)"
    )

"""A tiny on-disk key-value cache for expensive problem evaluations (Cantera runs).

Results live in one SQLite file in the user's cache directory, never inside the package:
``$MTGP_KINETICS_CACHE`` if set, else ``$XDG_CACHE_HOME/mtgp_kinetics``, else
``~/.cache/mtgp_kinetics``. A key is a hash of the problem's settings (mechanism fingerprint,
dilution, integration settings, Cantera version, a format version) and of the condition values
rounded to 12 significant digits; a value is a JSON object of outputs.

Two processes may share the file: it is opened in WAL mode (readers never block the writer) with a
busy timeout. When the directory cannot be created or written, the cache turns itself off with one
:class:`CacheWarning` and the problem simply recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mtgp_kinetics.errors import MtgpWarning

#: Bump when the layout of keys or values changes, so old entries are never misread.
CACHE_FORMAT_VERSION = 1

_FILE_NAME = "problems.sqlite"

# Directories already warned about in this process: many problem instances pointing at the same
# unwritable directory should produce one warning, not one per instance.
_WARNED: set[str] = set()


class CacheWarning(MtgpWarning):
    """The on-disk cache could not be used; results are recomputed instead of cached."""


def default_cache_dir() -> Path:
    """Directory of the on-disk cache.

    Returns
    -------
    Path
        ``$MTGP_KINETICS_CACHE`` if set and non-empty, else ``$XDG_CACHE_HOME/mtgp_kinetics``,
        else ``~/.cache/mtgp_kinetics``. The directory is not created here.
    """
    explicit = os.environ.get("MTGP_KINETICS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mtgp_kinetics"


def settings_digest(settings: Mapping[str, Any]) -> str:
    """Stable hash of a JSON-serializable settings mapping (order of keys does not matter)."""
    text = json.dumps({"format": CACHE_FORMAT_VERSION, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def condition_key(digest: str, values: Sequence[float]) -> str:
    """Cache key of one condition.

    Parameters
    ----------
    digest : str
        :func:`settings_digest` of the problem.
    values : sequence of float
        The condition values, in the space's variable order.

    Returns
    -------
    str
        Hex digest. Values are rounded to 12 significant digits so that a condition that went
        through a unit conversion round trip (e.g. 1000/(1000/T)) finds its entry.
    """
    rounded = ",".join(_round12(v) for v in values)
    return hashlib.sha256(f"{digest}|{rounded}".encode()).hexdigest()


def _round12(value: float) -> str:
    value = float(value)
    # -0.0 and 0.0 must find the same entry; "g" formatting would keep the sign.
    return "0" if value == 0.0 else f"{value:.12g}"


class ResultCache:
    """SQLite-backed mapping ``key -> dict of floats``, safe for concurrent processes.

    Parameters
    ----------
    directory : path-like or None
        Where the database file lives; ``None`` uses :func:`default_cache_dir` (read when the cache
        is first used, so a changed environment variable is honoured).
    timeout : float
        Seconds a writer waits for another process's lock before giving up (then the entry is
        simply not stored, with a warning).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
        self._directory = None if directory is None else Path(directory)
        self.timeout = float(timeout)
        self._disabled = False

    @property
    def path(self) -> Path:
        """Path of the SQLite file."""
        directory = self._directory if self._directory is not None else default_cache_dir()
        return directory / _FILE_NAME

    @property
    def enabled(self) -> bool:
        """False once the cache has given up after an I/O error."""
        return not self._disabled

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=self.timeout)
        try:
            # WAL lets readers proceed while another process writes; NORMAL sync is durable enough
            # for a cache (the worst case after a power loss is recomputing a few entries).
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except BaseException:
            con.close()
            raise
        return con

    def _disable(self, error: BaseException) -> None:
        self._disabled = True
        where = str(self.path.parent)
        if where not in _WARNED:
            _WARNED.add(where)
            warnings.warn(
                f"the result cache in {where!r} cannot be used ({error}); results will be "
                "recomputed. Set MTGP_KINETICS_CACHE to a writable directory, or pass cache=False.",
                CacheWarning,
                stacklevel=3,
            )

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, float]]:
        """Look up several keys; missing keys are absent from the result."""
        keys = list(keys)
        if self._disabled or not keys:
            return {}
        found: dict[str, dict[str, float]] = {}
        try:
            con = self._connect()
            try:
                # Chunks stay below SQLite's limit on the number of bound parameters.
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"SELECT key, value FROM results WHERE key IN ({marks})", chunk
                    ).fetchall()
                    found.update((k, json.loads(v)) for k, v in rows)
            finally:
                con.close()
        except (OSError, sqlite3.Error) as error:
            self._disable(error)
            return {}
        return found

    def put_many(self, items: Mapping[str, Mapping[str, float]]) -> None:
        """Store several entries (one transaction); existing keys are overwritten."""
        if self._disabled or not items:
            return
        rows = [(k, json.dumps({n: float(x) for n, x in v.items()})) for k, v in items.items()]
        try:
            con = self._connect()
            try:
                with con:
                    con.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", rows)
            finally:
                con.close()
        except (OSError, sqlite3.Error) as error:
            self._disable(error)

    def clear(self) -> None:
        """Delete every entry (of every problem) in this cache file."""
        if self._disabled:
            return
        try:
            con = self._connect()
            try:
                with con:
                    con.execute("DELETE FROM results")
            finally:
                con.close()
        except (OSError, sqlite3.Error) as error:
            self._disable(error)

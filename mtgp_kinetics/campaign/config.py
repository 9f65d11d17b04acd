"""A campaign described in a TOML file: the conditions, the tasks and the campaign's settings.

:data:`EXAMPLE_TOML` shows every section (``mtgp-kinetics init --help`` prints it).
:func:`load_campaign_config` turns such a file into the arguments of
:meth:`Campaign.create <mtgp_kinetics.campaign.campaign.Campaign.create>`; every error names the
TOML key at fault.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from mtgp_kinetics.campaign.campaign import MIN_DISTANCE, as_initial_design
from mtgp_kinetics.campaign.feasibility import Feasibility
from mtgp_kinetics.campaign.results import parse_results
from mtgp_kinetics.campaign.stopping import rules_from_description
from mtgp_kinetics.csv_files import read_csv
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.models.structure import KERNEL_NAMES
from mtgp_kinetics.space import Categorical, Continuous, Space, Variable
from mtgp_kinetics.tasks import Task

#: A complete campaign description; the commented keys are optional.
EXAMPLE_TOML = """\
[campaign]
strategy = "integrated_variance"   # optional
seed = 0                           # optional
kernel = "independent"             # optional; omit (or "default") for the default model
restarts = 2                       # optional (default 4)
# min_distance = 0.05              # optional: closest a suggestion may come to an observed or
#                                  #   pending condition (normalized coordinates, each axis [0, 1])
# task_weights = { tau_ign = 1.0 } # optional: weight of each task in the criterion (default 1)
# strategy_options = { criterion = "trace" }   # optional: options of the strategy (docs/campaign.md)
# pool = "pool.csv"                # optional: candidate conditions (path relative to this file)
# fixed = { bath = "Ar" }           # optional: conditions every suggestion has
# constraints = ["T <= 1400"]       # optional: linear constraints, physical units
# initial = "initial.csv"          # optional: experiments already run (path relative to this file)

[[conditions]]
name = "T"
lower = 900
upper = 1500
unit = "K"
transform = "inverse"

[[conditions]]
name = "bath"
levels = ["Ar", "N2"]

[[tasks]]
name = "tau_ign"
unit = "s"
transform = "log10"
kind = "rate"
cost = 1
# noise_column = "tau_sd"          # optional: known measurement stds (physical units) in this column
# excess_noise = true              # optional: also learn scatter beyond the stated stds

# [stop]                           # optional: when the campaign is done (status and suggest say)
# max_experiments = 40             #   experiments in all, run or pending
# max_cost = 200                   #   sum of the tasks' costs of every measurement
# target_std = { tau_ign = 2e-4 }  #   largest predictive std per task, physical units
"""

#: Keys of the ``[campaign]`` table.
CAMPAIGN_KEYS = (
    "strategy",
    "strategy_options",
    "seed",
    "kernel",
    "restarts",
    "min_distance",
    "task_weights",
    "pool",
    "initial",
    "fixed",
    "constraints",
)
#: Keys of a ``[[conditions]]`` entry: continuous (bounds) or categorical (levels).
CONTINUOUS_KEYS = ("name", "lower", "upper", "unit", "transform")
CATEGORICAL_KEYS = ("name", "levels")
#: Keys of a ``[[tasks]]`` entry.
TASK_KEYS = ("name", "unit", "transform", "kind", "noise_column", "cost", "excess_noise")
#: Top-level keys.
TOP_KEYS = ("campaign", "conditions", "tasks", "stop")

#: Restarts per fit when ``[campaign]`` does not say (Campaign.create's default).
DEFAULT_RESTARTS = 4


def load_campaign_config(path: str | os.PathLike[str]) -> tuple[Space, list[Task], dict[str, Any]]:
    """Read a campaign description from a TOML file.

    Parameters
    ----------
    path : str or PathLike
        The TOML file (see the module docstring for its layout).

    Returns
    -------
    space : Space
        The conditions, in file order.
    tasks : list of Task
        The tasks, in file order.
    settings : dict
        Keyword arguments of :meth:`Campaign.create` besides path, space and tasks: ``strategy``,
        ``strategy_options``, ``seed``, ``kernel`` (None: the default model), ``restarts``,
        ``min_distance``, ``task_weights``, ``pool`` and ``initial`` (DataFrames read from the CSV
        files named, paths relative to the TOML file, or None), ``fixed``, ``constraints`` and
        ``stop`` (the ``[stop]`` table, or None).

    Raises
    ------
    InputDataError
        If the file is missing or not TOML, or a key is missing, unknown or has a bad value; the
        message names the key (e.g. ``conditions[1].lower``).
    """
    path = Path(path)
    doc = _read_toml(path)
    where = path.name
    space, tasks = _space_and_tasks(doc, where)
    settings = _settings(doc.get("campaign", {}), where, path.parent, space, tasks)
    settings["stop"] = _stop(doc.get("stop"), where, tasks)
    return space, tasks, settings


def _stop(table: Any, where: str, tasks: list[Task]) -> dict[str, Any] | None:
    """The ``[stop]`` table, checked (the rules it describes are built), or None."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise InputDataError(f"{where}: 'stop' must be a table ([stop])")
    try:
        rules_from_description(table, task_names=[t.name for t in tasks])
    except InputDataError as err:
        raise InputDataError(f"{where}: [stop]: {err}") from None
    return dict(table)


def load_space_and_tasks(path: str | os.PathLike[str]) -> tuple[Space, list[Task]]:
    """Read only the conditions and tasks of a campaign-format TOML file.

    For describing a data set (``benchmarks/real_data.py --config``): a ``[campaign]`` table, if
    present, is not read, so its pool or initial files need not exist or match.

    Parameters
    ----------
    path : str or PathLike
        The TOML file: ``[[conditions]]`` and ``[[tasks]]`` tables as in :data:`EXAMPLE_TOML`.

    Returns
    -------
    space : Space
        The conditions, in file order.
    tasks : list of Task
        The tasks, in file order.

    Raises
    ------
    InputDataError
        As :func:`load_campaign_config`, for the file and those two tables.
    """
    path = Path(path)
    return _space_and_tasks(_read_toml(path), path.name)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputDataError(f"no campaign file at {str(path)!r}")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise InputDataError(f"{path.name}: not valid TOML: {err}") from None
    except OSError as err:
        raise InputDataError(f"cannot read {str(path)!r}: {err.strerror}") from None


def _space_and_tasks(doc: dict[str, Any], where: str) -> tuple[Space, list[Task]]:
    _no_unknown(doc, TOP_KEYS, where, "top-level key")
    return Space(_conditions(doc.get("conditions"), where)), _tasks(doc.get("tasks"), where)


# -- sections ----------------------------------------------------------------------------------------
def _named_tables(
    entries: Any, section: str, noun: str, example: str, where: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Walk an array of tables whose ``name`` keys must be unique: yields ``(key, name, entry)``.

    ``key`` (e.g. ``"tasks[1] ('f_branch')"``) is how error messages name the entry.
    """
    if entries is None:
        raise InputDataError(f"{where}: no [[{section}]]: give at least one, e.g. {example}")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise InputDataError(f"{where}: '{section}' must be a non-empty array of tables ([[{section}]])")
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        key = f"{section}[{i}]"
        name = _name(entry, key, where)
        key = f"{key} ({name!r})"
        if name in seen:
            raise InputDataError(f"{where}: {key}.name: the {noun} {name!r} appears twice")
        seen.add(name)
        yield key, name, entry


def _conditions(entries: Any, where: str) -> list[Variable]:
    """The ``[[conditions]]`` array -> variables."""
    example = '[[conditions]] name = "T", lower = 900, upper = 1500, unit = "K"'
    variables: list[Variable] = []
    for key, name, entry in _named_tables(entries, "conditions", "condition", example, where):
        has_levels = "levels" in entry
        has_bounds = "lower" in entry or "upper" in entry
        if has_levels and has_bounds:
            raise InputDataError(
                f"{where}: {key}: give either 'levels' (a categorical condition) or 'lower' and "
                f"'upper' (a continuous one), not both"
            )
        try:
            if has_levels:
                _no_unknown(entry, CATEGORICAL_KEYS, where, f"key of {key} (a categorical condition)")
                levels = entry["levels"]
                if not isinstance(levels, list) or not levels or not all(isinstance(v, str) for v in levels):
                    raise InputDataError(
                        f"{where}: {key}.levels must be a non-empty array of strings, got {levels!r}"
                    )
                variables.append(Categorical(name, tuple(levels)))
            else:
                _no_unknown(entry, CONTINUOUS_KEYS, where, f"key of {key} (a continuous condition)")
                for bound in ("lower", "upper"):
                    if bound not in entry:
                        raise InputDataError(
                            f"{where}: {key}.{bound} is missing: a continuous condition needs 'lower' "
                            f"and 'upper' (or give 'levels' for a categorical one)"
                        )
                    value = entry[bound]
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise InputDataError(f"{where}: {key}.{bound} must be a number, got {value!r}")
                unit = _optional_str(entry, "unit", key, where) or ""
                transform = _optional_str(entry, "transform", key, where)
                variables.append(
                    Continuous(name, entry["lower"], entry["upper"], unit=unit, transform=transform)
                )
        except InputDataError as err:
            if str(err).startswith(f"{where}: "):
                raise
            raise InputDataError(f"{where}: {key}: {err}") from None
    return variables


def _tasks(entries: Any, where: str) -> list[Task]:
    """The ``[[tasks]]`` array -> tasks."""
    example = '[[tasks]] name = "tau_ign", unit = "s", transform = "log10"'
    tasks: list[Task] = []
    for key, name, entry in _named_tables(entries, "tasks", "task", example, where):
        _no_unknown(entry, TASK_KEYS, where, f"key of {key}")
        kwargs: dict[str, Any] = {}
        for field in ("unit", "transform", "kind", "noise_column"):
            value = _optional_str(entry, field, key, where)
            if value is not None:
                kwargs[field] = value
        if "cost" in entry:
            cost = entry["cost"]
            if isinstance(cost, bool) or not isinstance(cost, (int, float)):
                raise InputDataError(f"{where}: {key}.cost must be a number > 0, got {cost!r}")
            kwargs["cost"] = float(cost)
        if "excess_noise" in entry:
            excess = entry["excess_noise"]
            if not isinstance(excess, bool):
                raise InputDataError(f"{where}: {key}.excess_noise must be true or false, got {excess!r}")
            kwargs["excess_noise"] = excess
        try:
            tasks.append(Task(name, **kwargs))
        except InputDataError as err:
            raise InputDataError(f"{where}: {key}: {err}") from None
    return tasks


def _settings(table: Any, where: str, folder: Path, space: Space, tasks: list[Task]) -> dict[str, Any]:
    """The ``[campaign]`` table -> keyword arguments of Campaign.create."""
    if not isinstance(table, dict):
        raise InputDataError(f"{where}: 'campaign' must be a table ([campaign])")
    _no_unknown(table, CAMPAIGN_KEYS, where, "key of [campaign]")
    strategy = _optional_str(table, "strategy", "campaign", where) or "integrated_variance"
    options = table.get("strategy_options", {})
    if not isinstance(options, dict):
        raise InputDataError(f"{where}: campaign.strategy_options must be a table, got {options!r}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputDataError(f"{where}: campaign.seed must be an integer >= 0, got {seed!r}")
    kernel = _optional_str(table, "kernel", "campaign", where)
    if kernel == "default":
        kernel = None
    if kernel is not None and kernel not in KERNEL_NAMES:
        raise InputDataError(
            f"{where}: campaign.kernel must be 'default' or one of {list(KERNEL_NAMES)}, got {kernel!r}"
        )
    restarts = table.get("restarts", DEFAULT_RESTARTS)
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise InputDataError(f"{where}: campaign.restarts must be an integer >= 1, got {restarts!r}")
    min_distance = table.get("min_distance", MIN_DISTANCE)
    if (
        isinstance(min_distance, bool)
        or not isinstance(min_distance, (int, float))
        or not math.isfinite(min_distance)
        or min_distance < 0
    ):
        raise InputDataError(f"{where}: campaign.min_distance must be a number >= 0, got {min_distance!r}")
    weights = table.get("task_weights", {})
    if not isinstance(weights, dict):
        raise InputDataError(f"{where}: campaign.task_weights must be a table of task = weight")
    names = [t.name for t in tasks]
    for name, weight in weights.items():
        if name not in names:
            raise InputDataError(
                f"{where}: campaign.task_weights.{name}: unknown task; the tasks are {names}"
            )
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise InputDataError(
                f"{where}: campaign.task_weights.{name} must be a number >= 0, got {weight!r}"
            )
    pool = _csv(table, "pool", where, folder, space)
    if pool is not None:
        try:
            space.validate(pool)
        except InputDataError as err:
            raise InputDataError(f"{where}: campaign.pool ({table['pool']}): {err}") from None
    initial = _csv(table, "initial", where, folder, space)
    if initial is not None:
        initial = as_initial_design(initial)  # an export of another campaign is a fine start
        try:
            parse_results(initial, space, tasks)
        except InputDataError as err:
            raise InputDataError(f"{where}: campaign.initial ({table['initial']}): {err}") from None
    fixed = table.get("fixed", {})
    if not isinstance(fixed, dict):
        raise InputDataError(f"{where}: campaign.fixed must be a table of condition = value")
    constraints = table.get("constraints", [])
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise InputDataError(
            f'{where}: campaign.constraints must be a list of text such as ["F_H2 + F_CO <= 60"]'
        )
    try:
        Feasibility(space, fixed, constraints)
    except InputDataError as err:
        raise InputDataError(f"{where}: campaign: {err}") from None
    return {
        "strategy": strategy,
        "strategy_options": dict(options),
        "seed": seed,
        "kernel": kernel,
        "restarts": restarts,
        "min_distance": float(min_distance),
        "task_weights": {k: float(v) for k, v in weights.items()},
        "pool": pool,
        "initial": initial,
        "fixed": dict(fixed),
        "constraints": list(constraints),
    }


# -- helpers -------------------------------------------------------------------------------------------
def _no_unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    """Raise naming the first key of ``table`` not in ``allowed``."""
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise InputDataError(f"{where}: unknown {what} {unknown[0]!r}; the allowed keys are {list(allowed)}")


def _name(entry: dict[str, Any], key: str, where: str) -> str:
    """The entry's ``name`` (required, non-empty string)."""
    name = entry.get("name")
    if name is None:
        raise InputDataError(f"{where}: {key}.name is missing")
    if not isinstance(name, str) or not name:
        raise InputDataError(f"{where}: {key}.name must be a non-empty string, got {name!r}")
    return name


def _optional_str(entry: dict[str, Any], field: str, key: str, where: str) -> str | None:
    """An optional string key (None when absent)."""
    value = entry.get(field)
    if value is not None and not isinstance(value, str):
        raise InputDataError(f"{where}: {key}.{field} must be a string, got {value!r}")
    return value


def _csv(table: dict[str, Any], field: str, where: str, folder: Path, space: Space) -> pd.DataFrame | None:
    """Read the CSV named by ``campaign.<field>`` (relative to the TOML file), or None."""
    name = _optional_str(table, field, "campaign", where)
    if name is None:
        return None
    csv_path = folder / name
    if not csv_path.is_file():
        raise InputDataError(f"{where}: campaign.{field}: no CSV file at {str(csv_path)!r}")
    try:
        return read_csv(csv_path, space, line_numbers=True)
    except InputDataError as err:
        raise InputDataError(f"{where}: campaign.{field}: {err}") from None

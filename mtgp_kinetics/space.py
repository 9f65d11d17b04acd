"""The design space: named experimental conditions and their modelling coordinates.

A :class:`Space` turns a frame of physical conditions (``n`` rows) into the ``n x d`` float64 tensor the
GP works on, one column per variable in the order given: continuous variables are transformed
(``inverse``: 1000/T, ``log``: ln x) and scaled to [0, 1] by their transformed bounds; categorical
variables become their level index (0, 1, ...), read by a categorical kernel, never as a number.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.transforms import ConditionTransform, condition_transform


def condition_text(row: Mapping[str, Any], names: Sequence[str]) -> str:
    """``"T=1050, P=2.5, gas=N2"``: conditions ``names`` of ``row`` for a message, numbers to 6 digits."""
    return ", ".join(f"{n}={row[n]:.6g}" if isinstance(row[n], float) else f"{n}={row[n]}" for n in names)


def _header_key(name: Any) -> str:
    """A header reduced to its letters and digits, lower case: ``"T5 (K)"`` and ``"t5 [K]"`` alike."""
    return "".join(ch for ch in str(name).casefold() if ch.isalnum())


def near_matches(missing: Sequence[str], columns: Sequence[Any]) -> str:
    """The end of a missing-column message: present columns that differ only in spacing, case or punctuation.

    ``"T5 [K]"`` for ``"T5 (K)"``, ``"tau_us "`` for ``"tau_us"``:
    ``" (the frame has 'tau_us ' for 'tau_us': ...)"``, or ``""`` when none does.
    """
    found, with_unit = [], False
    for name in missing:
        key = _header_key(name)
        for c in columns:
            if key and _header_key(c) == key:
                found.append(f"{str(c)!r} for {name!r}")
            elif key and _header_key(_UNIT_SUFFIX.sub("", str(c))) == key:
                found.append(f"{str(c)!r} for {name!r}")
                with_unit = True
    if not found:
        return ""
    if with_unit:
        return (
            f" (the frame has {', '.join(found)}: rename the column(s) to the variable and task names; "
            f"units belong on the Continuous or Task, e.g. unit='K', not in the header)"
        )
    return f" (the frame has {', '.join(found)}: a stray space, a change of case or other brackets?)"


#: A unit at the end of a spreadsheet header: ``"T [K]"``, ``"P (bar)"``, ``"tau {us}"``.
_UNIT_SUFFIX = re.compile(r"\s*[\[({][^\])}]*[\])}]\s*$")


def bool_cells(col: pd.Series) -> np.ndarray:
    """Mask of the cells of ``col`` that hold a boolean.

    pandas reads a column whose only values are ``TRUE``/``False`` spellings as booleans, which
    :func:`pandas.to_numeric` turns into 1.0 and 0.0: a lone ``TRUE`` in a rate column would be
    recorded as a rate of 1 (the same cell beside a number is refused as text).
    """
    return col.map(lambda x: isinstance(x, (bool, np.bool_))).to_numpy(dtype=bool)


def _rows(labels: Sequence[Any], limit: int = 8) -> str:
    """Format row labels for an error message, truncated after ``limit``."""
    shown = ", ".join(str(r) for r in list(labels)[:limit])
    more = len(labels) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown


def _values_at_rows(values: np.ndarray, labels: Sequence[Any], limit: int = 5) -> str:
    """``"row 3: 480.35, row 7: 370.05 (and 4 more)"``: each value beside its row label."""
    shown = ", ".join(f"row {r}: {x:.6g}" for r, x in zip(list(labels)[:limit], values[:limit], strict=True))
    more = len(labels) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown


def _level_hint(given: Sequence[str], levels: Sequence[str]) -> str:
    """``". Did you mean ...?"`` for levels that differ from a known one by case or surrounding spaces."""
    known = {str(level).strip().casefold(): level for level in levels}
    near = {g: known[g.strip().casefold()] for g in given if g.strip().casefold() in known}
    if not near:
        return ""
    pairs = ", ".join(f"{g!r} -> {level!r}" for g, level in near.items())
    return f". Did you mean {pairs}? Levels must match exactly (case and spaces count)"


def _celsius_hint(variable: Continuous, values: np.ndarray) -> str:
    """A hint where kelvin bounds refuse values that are all in range once read as degrees Celsius."""
    if not is_kelvin(variable.unit):
        return ""
    kelvin = values + 273.15
    if np.all((kelvin >= variable.lower) & (kelvin <= variable.upper)):
        hint = (
            ". Hint: every value is in bounds once read as degrees Celsius: convert the column to "
            "kelvin (+ 273.15)"
        )
        if variable.transform == "inverse":
            # 1000 / T needs kelvin: a degC variable could not keep this transform.
            return hint + " (1000 / T needs an absolute temperature)"
        return hint + ", or declare the variable with unit='degC' and bounds in degC"
    return ""


def _warn_extrapolation(variable: Continuous, values: np.ndarray, message: str, labels: pd.Index) -> None:
    """Warn that conditions lie outside ``variable``'s bounds; raise where its transform cannot go.

    A GP predicts outside the conditions it was fitted on by reverting towards its mean, with
    intervals that widen with the distance: a usable, honest answer a little way out, not an error.
    """
    if variable._transform.needs_positive:
        invalid = values <= 0
        if invalid.any():
            raise InputDataError(
                f"column {variable.name!r}: {_values_at_rows(values[invalid], labels[invalid])} <= 0, "
                f"which its {variable.transform!r} transform cannot take"
            )
    zero = -273.15 if is_celsius(variable.unit) else 0.0 if is_kelvin(variable.unit) else None
    if zero is not None and (values < zero).any():
        below = values < zero
        raise InputDataError(
            f"column {variable.name!r}: {_values_at_rows(values[below], labels[below])} below absolute "
            f"zero ({zero:g} {variable.unit})"
        )
    warnings.warn(
        f"{message}: these predictions extrapolate beyond the conditions the model was fitted within "
        f"(the GP reverts towards its mean and its intervals widen with the distance). Widen the "
        f"Space's bounds and refit if such conditions belong to the study" + _celsius_hint(variable, values),
        DataWarning,
        stacklevel=4,
    )


#: Units read as degrees Celsius (compared in lower case, spaces removed): a temperature in them is
#: converted to kelvin (``+ 273.15``) wherever absolute temperature matters (activation energies), and
#: cannot be modelled as ``1000 / x``.
CELSIUS_UNITS = ("degc", "°c", "℃", "c", "celsius", "degreesc", "degreescelsius", "deg.c", "oc", "ºc", "cel")

#: Units read as kelvin where absolute temperature matters (an empty unit is taken as kelvin too).
KELVIN_UNITS = ("k", "kelvin", "degk", "°k")

#: Degrees Fahrenheit: like Celsius, no Arrhenius coordinate (``1000 / x``) can be made of them.
FAHRENHEIT_UNITS = ("degf", "°f", "℉", "fahrenheit")

#: Temperature units with an offset or scale this package does not convert: rejected where absolute
#: temperature matters.
UNSUPPORTED_TEMPERATURE_UNITS = (*FAHRENHEIT_UNITS, "f", "degr", "°r", "rankine")


def unit_key(unit: str) -> str:
    """``unit`` as units are compared here: lower case, spaces removed."""
    return unit.strip().lower().replace(" ", "")


def is_celsius(unit: str) -> bool:
    """Whether ``unit`` is degrees Celsius (``"degC"``, ``"°C"``, ``"C"``, ``"celsius"``...)."""
    return unit_key(unit) in CELSIUS_UNITS


def is_kelvin(unit: str) -> bool:
    """Whether ``unit`` names kelvin (``"K"``, ``"kelvin"``...; an empty unit does not)."""
    return unit_key(unit) in KELVIN_UNITS


def kelvin_offset(variable: Continuous, where: str) -> float:
    """What to add to ``variable``'s values to get kelvin: 273.15 for Celsius, else 0.

    Raises
    ------
    InputDataError
        For a Fahrenheit or Rankine unit; the message names the condition.
    """
    key = unit_key(variable.unit)
    if key in CELSIUS_UNITS:
        return 273.15
    if key in KELVIN_UNITS or key == "":
        return 0.0
    what = (
        "a temperature unit this package does not convert"
        if key in UNSUPPORTED_TEMPERATURE_UNITS
        else ("not a temperature unit it knows")
    )
    raise InputDataError(
        f"{where}: condition {variable.name!r} has unit {variable.unit!r}, {what}; an absolute "
        f"temperature is needed: give the condition in kelvin (unit 'K') or degrees Celsius "
        f"(unit 'degC'), or name the temperature condition if this is not it"
    )


def temperature_candidates(space: Space) -> list[Continuous]:
    """The conditions that can be a space's temperature, in order of preference.

    Those modelled as ``1000 / T`` (``transform="inverse"``) first, then the others in kelvin or
    degrees Celsius; each list in the order of the space.
    """
    continuous = [v for v in space.variables if isinstance(v, Continuous)]
    inverse = [v for v in continuous if v.transform == "inverse"]
    return inverse + [v for v in continuous if v not in inverse and (is_celsius(v.unit) or is_kelvin(v.unit))]


def temperature_condition(space: Space, name: str | None = None, where: str = "temperature") -> Continuous:
    """The temperature condition of a space, for activation energies and Arrhenius plots.

    Parameters
    ----------
    space : Space
        The conditions.
    name : str, optional
        Any continuous condition, by name (its unit is checked where absolute temperature
        matters, :func:`kelvin_offset`). Default: the condition modelled as ``1000 / T``
        (``transform="inverse"``), else the first one whose unit is kelvin or degrees Celsius.
    where : str
        Caller name for error messages.

    Returns
    -------
    Continuous
        The temperature condition.

    Raises
    ------
    InputDataError
        If ``name`` is not a continuous condition, or no condition looks like a temperature.
    """
    if name is not None:
        if name not in space.names or not isinstance(space[name], Continuous):
            raise InputDataError(
                f"{where}: temperature {name!r} is not a continuous condition of {space.names}"
            )
        return space[name]
    candidates = temperature_candidates(space)
    if candidates:
        return candidates[0]
    continuous = [v for v in space.variables if isinstance(v, Continuous)]
    unsupported = [v for v in continuous if unit_key(v.unit) in UNSUPPORTED_TEMPERATURE_UNITS]
    if unsupported:
        v = unsupported[0]
        raise InputDataError(
            f"{where}: condition {v.name!r} has unit {v.unit!r}, a temperature unit this package does "
            f"not convert; give the temperature in kelvin (unit 'K') or degrees Celsius (unit 'degC')"
        )
    raise InputDataError(
        f"{where}: no temperature among {space.names}: name it (temperature=...), or give the "
        f"temperature condition the unit 'K' or 'degC'"
    )


@dataclass(frozen=True)
class Continuous:
    """A continuous condition with bounds, unit and modelling transform.

    Parameters
    ----------
    name : str
        Column name in the user's frames.
    lower, upper : float
        Physical bounds (inclusive), ``lower < upper``.
    unit : str
        Physical unit, e.g. ``"K"``.
    transform : {"inverse", "log", "none"} or None
        ``inverse`` models ``1000 / x`` (temperature in Arrhenius coordinates), ``log`` models ``ln x``.
    """

    name: str
    lower: float
    upper: float
    unit: str = ""
    transform: str | None = None
    _transform: ConditionTransform = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputDataError(f"Continuous name must be a non-empty string, got {self.name!r}")
        for bound in ("lower", "upper"):
            value = getattr(self, bound)
            if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
                raise InputDataError(
                    f"Continuous {self.name!r}: {bound} must be a finite number, got {value!r}"
                )
            object.__setattr__(self, bound, float(value))
        if not self.lower < self.upper:
            raise InputDataError(
                f"Continuous {self.name!r}: lower ({self.lower}) must be < upper ({self.upper})"
            )
        tf = condition_transform(self.transform)
        if tf.name == "inverse" and (is_celsius(self.unit) or unit_key(self.unit) in FAHRENHEIT_UNITS):
            raise InputDataError(
                f"Continuous {self.name!r}: transform 'inverse' (1000 / x) needs an absolute "
                f"temperature, but the unit is {self.unit!r}: give the temperature in kelvin "
                f"(T_K = T_C + 273.15, unit='K') to model it in Arrhenius coordinates, or keep "
                f"degrees Celsius with transform='none'"
            )
        absolute_zero = -273.15 if is_celsius(self.unit) else 0.0 if is_kelvin(self.unit) else None
        if absolute_zero is not None and self.lower < absolute_zero:
            raise InputDataError(
                f"Continuous {self.name!r}: lower ({self.lower:g} {self.unit}) is below absolute zero "
                f"({absolute_zero:g} {self.unit}); check the bound and the unit"
            )
        if tf.needs_positive and self.lower <= 0:
            raise InputDataError(
                f"Continuous {self.name!r}: transform {tf.name!r} needs lower > 0, got {self.lower}"
            )
        object.__setattr__(self, "_transform", tf)
        object.__setattr__(self, "transform", tf.name)

    @property
    def model_bounds(self) -> tuple[float, float]:
        """Bounds in the transformed coordinate, ascending (``inverse`` flips the order)."""
        a, b = self._transform.forward(np.array([self.lower, self.upper]))
        return (float(min(a, b)), float(max(a, b)))

    def to_unit_interval(self, values: np.ndarray) -> np.ndarray:
        """Physical values (``n``) -> normalized transformed coordinate in [0, 1] (``n``)."""
        lo, hi = self.model_bounds
        return (self._transform.forward(values) - lo) / (hi - lo)

    def from_unit_interval(self, u: np.ndarray) -> np.ndarray:
        """Normalized coordinate (``n``) -> physical values (``n``)."""
        u = np.asarray(u, float)
        lo, hi = self.model_bounds
        x = self._transform.inverse(lo + u * (hi - lo))
        # Rounding in the transform round trip can put u = 0 or 1 a few ulps outside the physical
        # bounds (exp(ln 100) = 100.00000000000004), which validate() would then reject; points
        # inside the unit interval are clipped back onto the bounds, extrapolation is left alone.
        inside = (u >= 0.0) & (u <= 1.0)
        return np.where(inside, np.clip(x, self.lower, self.upper), x)

    @property
    def label(self) -> str:
        """Axis label, e.g. ``"T [K]"``."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "type": "continuous",
            "name": self.name,
            "lower": self.lower,
            "upper": self.upper,
            "unit": self.unit,
            "transform": self.transform,
        }


@dataclass(frozen=True)
class Categorical:
    """A categorical condition (bath gas, catalyst, ligand) with a fixed set of levels.

    Parameters
    ----------
    name : str
        Column name in the user's frames.
    levels : sequence of str
        The allowed levels; a level's position is its model code.
    """

    name: str
    levels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputDataError(f"Categorical name must be a non-empty string, got {self.name!r}")
        levels = tuple(str(level) for level in self.levels)
        if len(levels) < 1:
            raise InputDataError(f"Categorical {self.name!r}: needs at least one level")
        if len(set(levels)) != len(levels):
            raise InputDataError(f"Categorical {self.name!r}: levels must be distinct, got {levels}")
        object.__setattr__(self, "levels", levels)

    @property
    def label(self) -> str:
        """Axis label."""
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"type": "categorical", "name": self.name, "levels": list(self.levels)}


Variable = Continuous | Categorical


class Space:
    """An ordered set of named condition variables.

    Parameters
    ----------
    variables : sequence of Continuous or Categorical
        The conditions, in the order of the model's input columns. Names must be distinct.
    """

    def __init__(self, variables: Sequence[Variable]) -> None:
        variables = list(variables)
        if not variables:
            raise InputDataError("Space needs at least one variable")
        for v in variables:
            if not isinstance(v, (Continuous, Categorical)):
                raise InputDataError(f"Space variables must be Continuous or Categorical, got {v!r}")
        names = [v.name for v in variables]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InputDataError(f"Space: duplicated variable name(s) {duplicated}")
        self.variables: tuple[Variable, ...] = tuple(variables)

    # -- structure ---------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Variable names in model-column order."""
        return [v.name for v in self.variables]

    @property
    def dim(self) -> int:
        """Number of model input columns ``d``."""
        return len(self.variables)

    @property
    def continuous_dims(self) -> list[int]:
        """Model columns of the continuous variables."""
        return [i for i, v in enumerate(self.variables) if isinstance(v, Continuous)]

    @property
    def categorical_dims(self) -> list[int]:
        """Model columns of the categorical variables."""
        return [i for i, v in enumerate(self.variables) if isinstance(v, Categorical)]

    def __getitem__(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.variables)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.variables == other.variables

    def __repr__(self) -> str:
        return f"Space({list(self.variables)!r})"

    # -- validation and conversion --------------------------------------------------------------
    def check_columns(self, frame: pd.DataFrame) -> None:
        """Raise :class:`InputDataError` naming every condition without a column in ``frame``.

        The message lists the frame's columns and points out one that differs only in spaces or
        case (:func:`near_matches`).
        """
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise InputDataError(
                f"missing condition column(s) {missing}; the frame has columns {list(frame.columns)}"
                + near_matches(missing, list(frame.columns))
            )

    def validate(self, frame: pd.DataFrame, outside: str = "error") -> None:
        """Check that ``frame`` holds valid conditions; raise :class:`InputDataError` naming the culprit.

        Checks: every variable has a column; continuous values are numeric, finite and within bounds;
        categorical values are known levels. Row labels in messages are the frame's index labels.

        Parameters
        ----------
        frame : DataFrame
            ``n`` rows with a column per variable (extra columns are ignored).
        outside : {"error", "warn"}
            What a continuous value outside its bounds gets: an :class:`InputDataError` (data and
            candidates must lie in the space), or a :class:`~mtgp_kinetics.errors.DataWarning`
            (predictions may extrapolate; a value the variable's transform cannot take, such as a
            temperature <= 0 under ``1000 / T``, is still an error).
        """
        if outside not in ("error", "warn"):
            raise InputDataError(f"outside must be 'error' or 'warn', got {outside!r}")
        self.check_columns(frame)
        for v in self.variables:
            col = frame[v.name]
            if isinstance(v, Continuous):
                numeric = pd.to_numeric(col, errors="coerce")
                bad = (col.notna() & numeric.isna()).to_numpy(dtype=bool) | bool_cells(col)
                if bad.any():
                    raise InputDataError(
                        f"column {v.name!r}: non-numeric value(s) at row(s) {_rows(frame.index[bad])}: "
                        f"{list(col[bad].head(5))}"
                    )
                values = numeric.to_numpy(dtype=float)
                nonfinite = ~np.isfinite(values)
                if nonfinite.any():
                    raise InputDataError(
                        f"column {v.name!r}: missing, NaN or infinite condition at row(s) "
                        f"{_rows(frame.index[nonfinite])}; every condition must be given"
                    )
                out = (values < v.lower) | (values > v.upper)
                if out.any():
                    message = (
                        f"column {v.name!r}: {_values_at_rows(values[out], frame.index[out])} outside "
                        f"the bounds [{v.lower}, {v.upper}] {v.unit}".rstrip()
                    )
                    if outside == "error":
                        raise InputDataError(message + _celsius_hint(v, values))
                    _warn_extrapolation(v, values, message, frame.index)
            else:
                as_text = col.astype("string")
                blank = (as_text.str.strip() == "").fillna(False).to_numpy(dtype=bool)
                empty = as_text.isna().to_numpy(dtype=bool) | blank
                if empty.any():
                    raise InputDataError(
                        f"column {v.name!r}: no level given at row(s) {_rows(frame.index[empty])}; every "
                        f"condition must be given (allowed levels are {list(v.levels)})"
                    )
                unknown = ~as_text.isin(v.levels).fillna(False).to_numpy(dtype=bool)
                if unknown.any():
                    given = sorted(set(map(str, col[unknown])))
                    raise InputDataError(
                        f"column {v.name!r}: unknown level(s) {given} at row(s) "
                        f"{_rows(frame.index[unknown])}; allowed levels are {list(v.levels)}"
                        + _level_hint(given, v.levels)
                    )

    def to_model(self, frame: pd.DataFrame, validate: bool = True, outside: str = "error") -> torch.Tensor:
        """Physical conditions -> model inputs.

        Parameters
        ----------
        frame : DataFrame
            ``n`` rows with a column per variable (extra columns are ignored).
        validate : bool
            Check the frame first (see :meth:`validate`).
        outside : {"error", "warn"}
            Passed to :meth:`validate`: whether values outside the bounds raise or only warn.

        Returns
        -------
        Tensor
            ``n x d`` float64: normalized transformed continuous coordinates, categorical level codes.
        """
        if validate:
            self.validate(frame, outside=outside)
        columns = []
        for v in self.variables:
            if isinstance(v, Continuous):
                columns.append(v.to_unit_interval(pd.to_numeric(frame[v.name]).to_numpy(dtype=float)))
            else:
                codes = {level: i for i, level in enumerate(v.levels)}
                columns.append(np.array([codes[str(x)] for x in frame[v.name]], dtype=float))
        return torch.as_tensor(np.stack(columns, axis=-1), dtype=torch.float64)

    def from_model(self, X: torch.Tensor | np.ndarray) -> pd.DataFrame:
        """Model inputs (``n x d``) -> frame of physical conditions (``n`` rows)."""
        X = np.asarray(X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X, dtype=float)
        data: dict[str, Any] = {}
        for i, v in enumerate(self.variables):
            if isinstance(v, Continuous):
                data[v.name] = v.from_unit_interval(X[:, i])
            else:
                codes = np.clip(np.rint(X[:, i]).astype(int), 0, len(v.levels) - 1)
                data[v.name] = [v.levels[c] for c in codes]
        return pd.DataFrame(data)

    def model_bounds(self) -> torch.Tensor:
        """``2 x d`` bounds of the model inputs: [0, 1] continuous, [0, levels - 1] categorical."""
        upper = [1.0 if isinstance(v, Continuous) else float(len(v.levels) - 1) for v in self.variables]
        return torch.tensor([[0.0] * self.dim, upper], dtype=torch.float64)

    def sample(self, n: int, seed: int | None = None, method: str = "sobol") -> pd.DataFrame:
        """Draw ``n`` conditions covering the space.

        Parameters
        ----------
        n : int
            Number of conditions.
        seed : int, optional
            Seed of the scrambled Sobol sequence or the uniform generator.
        method : {"sobol", "uniform"}
            Space-filling scrambled Sobol points, or independent uniform draws, in model coordinates
            (so temperature is spread evenly in 1000/T and pressure in ln P).

        Returns
        -------
        DataFrame
            ``n`` rows, one column per variable, physical units.
        """
        if method == "sobol":
            engine = torch.quasirandom.SobolEngine(self.dim, scramble=True, seed=seed)
            U = engine.draw(n, dtype=torch.float64).numpy()
        elif method == "uniform":
            U = np.random.default_rng(seed).random((n, self.dim))
        else:
            raise InputDataError(f"sample: method must be 'sobol' or 'uniform', got {method!r}")
        for i, v in enumerate(self.variables):
            if isinstance(v, Categorical):
                U[:, i] = np.minimum(np.floor(U[:, i] * len(v.levels)), len(v.levels) - 1)
        return self.from_model(U)

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"variables": [v.to_dict() for v in self.variables]}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Space:
        """Inverse of :meth:`to_dict`."""
        variables: list[Variable] = []
        for item in spec["variables"]:
            item = dict(item)
            kind = item.pop("type")
            if kind == "continuous":
                variables.append(Continuous(**item))
            elif kind == "categorical":
                variables.append(Categorical(item["name"], tuple(item["levels"])))
            else:
                raise InputDataError(f"unknown variable type {kind!r}")
        return cls(variables)

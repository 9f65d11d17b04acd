"""Invertible transforms between physical units and modelling coordinates.

Condition transforms map a physical condition to the coordinate the GP sees before normalization:
``inverse`` models temperature as ``1000 / T`` (Arrhenius coordinates, ``1000/K``), ``log`` models
pressure, concentration or residence time as ``ln x``. Output transforms map a measured value to the
space the GP models: ``log10`` and ``log`` for positive rate outputs, ``logit`` for fractions in (0, 1).
All transforms work elementwise on numpy arrays of any shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mtgp_kinetics.errors import InputDataError

_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class ConditionTransform:
    """An invertible, monotone map from a physical condition to a modelling coordinate.

    Attributes
    ----------
    name : str
        ``"none"``, ``"log"`` or ``"inverse"``.
    forward : callable
        Physical value -> modelling coordinate.
    inverse : callable
        Modelling coordinate -> physical value.
    needs_positive : bool
        Whether physical values must be > 0.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    needs_positive: bool


@dataclass(frozen=True)
class OutputTransform:
    """An invertible map from a measured output to the space the GP models.

    Attributes
    ----------
    name : str
        ``"none"``, ``"log"``, ``"log10"`` or ``"logit"``.
    forward, inverse : callable
        Physical <-> modelled value.
    derivative : callable
        ``d forward / d y`` at physical ``y``; converts a known measurement std to modelled units by
        the delta method, ``std_z = |dz/dy| * std_y``.
    is_valid : callable
        Boolean mask of physical values the transform can take.
    domain : str
        Human-readable domain, used in error messages.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    is_valid: Callable[[np.ndarray], np.ndarray]
    domain: str


def _logit(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    return np.log(y) - np.log1p(-y)


def _expit(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    # Numerically stable logistic: never evaluates exp of a large positive number.
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def _finite(y: np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(y, dtype=float))


CONDITION_TRANSFORMS: dict[str, ConditionTransform] = {
    "none": ConditionTransform("none", lambda x: np.asarray(x, float), lambda u: np.asarray(u, float), False),
    "log": ConditionTransform(
        "log", lambda x: np.log(np.asarray(x, float)), lambda u: np.exp(np.asarray(u, float)), True
    ),
    "inverse": ConditionTransform(
        "inverse", lambda x: 1000.0 / np.asarray(x, float), lambda u: 1000.0 / np.asarray(u, float), True
    ),
}

OUTPUT_TRANSFORMS: dict[str, OutputTransform] = {
    "none": OutputTransform(
        "none",
        lambda y: np.asarray(y, float),
        lambda z: np.asarray(z, float),
        lambda y: np.ones_like(np.asarray(y, float)),
        _finite,
        "finite",
    ),
    "log": OutputTransform(
        "log",
        lambda y: np.log(np.asarray(y, float)),
        lambda z: np.exp(np.asarray(z, float)),
        lambda y: 1.0 / np.asarray(y, float),
        lambda y: _finite(y) & (np.asarray(y, float) > 0),
        "> 0",
    ),
    "log10": OutputTransform(
        "log10",
        lambda y: np.log10(np.asarray(y, float)),
        lambda z: np.power(10.0, np.asarray(z, float)),
        lambda y: 1.0 / (np.asarray(y, float) * _LN10),
        lambda y: _finite(y) & (np.asarray(y, float) > 0),
        "> 0",
    ),
    "logit": OutputTransform(
        "logit",
        _logit,
        _expit,
        lambda y: 1.0 / (np.asarray(y, float) * (1.0 - np.asarray(y, float))),
        lambda y: _finite(y) & (np.asarray(y, float) > 0) & (np.asarray(y, float) < 1),
        "in the open interval (0, 1)",
    ),
    # A fraction given in per cent (a yield of 42 %): logit of y / 100, back in per cent.
    "logit_percent": OutputTransform(
        "logit_percent",
        lambda y: _logit(np.asarray(y, float) / 100.0),
        lambda z: 100.0 * _expit(z),
        lambda y: 1.0 / (np.asarray(y, float) * (1.0 - np.asarray(y, float) / 100.0)),
        lambda y: _finite(y) & (np.asarray(y, float) > 0) & (np.asarray(y, float) < 100),
        "in the open interval (0, 100) (per cent)",
    ),
}

#: Units that mark a fraction given in per cent: a ``logit`` task in one of them is modelled with
#: ``logit_percent`` (``logit(y / 100)``), so its values and predictions stay in per cent.
PERCENT_UNITS = ("%", "percent", "pct", "mol%", "mol %", "wt%", "wt %", "% yield")


def condition_transform(name: str | None) -> ConditionTransform:
    """Look up a condition transform by name (``None`` means ``"none"``)."""
    key = "none" if name is None else str(name).lower()
    if key not in CONDITION_TRANSFORMS:
        raise InputDataError(
            f"unknown condition transform {name!r}; choose one of {sorted(CONDITION_TRANSFORMS)}"
        )
    return CONDITION_TRANSFORMS[key]


def output_transform(name: str | None) -> OutputTransform:
    """Look up an output transform by name (``None`` means ``"none"``)."""
    key = "none" if name is None else str(name).lower()
    if key not in OUTPUT_TRANSFORMS:
        raise InputDataError(f"unknown output transform {name!r}; choose one of {sorted(OUTPUT_TRANSFORMS)}")
    return OUTPUT_TRANSFORMS[key]

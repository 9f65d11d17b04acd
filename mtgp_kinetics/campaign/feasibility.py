"""Where experiments may be run: fixed condition values and linear constraints, in physical units.

A lab rarely can run every point of the box: a flow controller caps the total flow (``F_H2 + F_CO <=
60`` mL/min), the reactor runs at one pressure this week (``P`` fixed at 1 bar), a catalyst is out of
stock (a categorical condition fixed to another level). A :class:`Feasibility` holds such rules and
turns the box into candidate conditions that obey them:

* **fixed values**: condition name -> value (a number inside a continuous condition's bounds, or a
  level of a categorical one); every suggestion has it;
* **linear constraints** on continuous conditions, written as text in physical units,
  ``"F_H2 + F_CO <= 60"``, ``"2*x - 0.5*y >= -1"``: a sum of ``coefficient * name`` terms on the
  left, ``<=`` or ``>=``, a number on the right.

They are linear in *physical* units, so after a log or 1000/T transform they are curved in the
model's coordinates; candidates are therefore checked point by point (Sobol points of the box that
break a rule are dropped), never handed to a gradient optimizer as linear constraints. A campaign
searches such candidates (and integrates its variance over them) whenever a rule is set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.space import Categorical, Continuous, Space

#: Largest Sobol draw searched for feasible candidates before giving up (a feasible share of the box
#: below about 1e-4 is treated as empty).
MAX_DRAWS = 2**17

#: One term of a constraint's left-hand side: ``[+|-] [coefficient [*]] name``.
_TERM = re.compile(
    r"\s*([+-])?\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)?\s*\*?\s*([A-Za-z_]\w*)\s*"
)


@dataclass(frozen=True)
class LinearConstraint:
    """``sum_i coefficients[i] * x_i  <sense>  rhs`` over continuous conditions, physical units.

    Attributes
    ----------
    coefficients : dict of str to float
        Condition name -> coefficient.
    sense : {"<=", ">="}
        Direction.
    rhs : float
        Right-hand side.
    """

    coefficients: dict[str, float]
    sense: str
    rhs: float

    @classmethod
    def parse(cls, text: str) -> LinearConstraint:
        """Read ``"F_H2 + F_CO <= 60"`` (terms ``[+|-][coefficient[*]]name``, ``<=``/``>=``, a number)."""
        if not isinstance(text, str):
            raise InputDataError(f"a constraint must be text such as 'F_H2 + F_CO <= 60', got {text!r}")
        parts = re.split(r"(<=|>=)", text)
        if len(parts) != 3:
            raise InputDataError(
                f"constraint {text!r}: needs exactly one '<=' or '>=' (e.g. 'F_H2 + F_CO <= 60')"
            )
        left, sense, right = parts
        try:
            rhs = float(right)
        except ValueError:
            raise InputDataError(
                f"constraint {text!r}: the right-hand side must be a number, got {right.strip()!r}"
            ) from None
        coefficients: dict[str, float] = {}
        position = 0
        left = left.rstrip()
        while position < len(left):
            match = _TERM.match(left, position)
            if match is None or match.end() == position or (position > 0 and match.group(1) is None):
                raise InputDataError(
                    f"constraint {text!r}: cannot read {left[position:].strip()!r}; write terms as "
                    "'coefficient * name' joined by + or -"
                )
            sign = -1.0 if match.group(1) == "-" else 1.0
            coefficient = sign * (float(match.group(2)) if match.group(2) else 1.0)
            name = match.group(3)
            coefficients[name] = coefficients.get(name, 0.0) + coefficient
            position = match.end()
        if not coefficients:
            raise InputDataError(f"constraint {text!r}: no condition on the left-hand side")
        if not math.isfinite(rhs) or not all(math.isfinite(c) for c in coefficients.values()):
            raise InputDataError(f"constraint {text!r}: coefficients and right-hand side must be finite")
        return cls(coefficients, sense, rhs)

    def __str__(self) -> str:
        def term(c: float, name: str) -> str:
            return name if c == 1.0 else f"{c:g}*{name}"

        parts = []
        for k, (name, c) in enumerate(self.coefficients.items()):
            if k == 0:
                parts.append(f"-{name}" if c == -1.0 else term(c, name))
            else:
                parts.append(f"{'-' if c < 0 else '+'} {term(abs(c), name)}")
        return f"{' '.join(parts)} {self.sense} {self.rhs:g}"

    def holds(self, frame: pd.DataFrame, tolerance: float = 1e-9) -> np.ndarray:
        """``n`` booleans: which rows of ``frame`` (physical units) satisfy the constraint."""
        value = sum(
            c * pd.to_numeric(frame[name]).to_numpy(dtype=float) for name, c in self.coefficients.items()
        )
        slack = tolerance * max(1.0, abs(self.rhs))
        return value <= self.rhs + slack if self.sense == "<=" else value >= self.rhs - slack


@dataclass(frozen=True)
class Feasibility:
    """Fixed values and linear constraints of a campaign (see the module docstring).

    Parameters
    ----------
    space : Space
        The conditions.
    fixed : mapping of str to value
        Condition name -> fixed value (physical units, or a level).
    constraints : sequence of str or LinearConstraint
        Linear constraints on continuous conditions.

    Raises
    ------
    InputDataError
        For an unknown condition, a fixed value outside its bounds or levels, a constraint on a
        categorical condition, or rules no point of the box satisfies; the message names it.
    """

    space: Space
    fixed: Mapping[str, Any] = field(default_factory=dict)
    constraints: Sequence[str | LinearConstraint] = ()

    def __post_init__(self) -> None:
        fixed = dict(self.fixed or {})
        for name, value in fixed.items():
            if name not in self.space.names:
                raise InputDataError(
                    f"fixed: unknown condition {name!r}; the conditions are {self.space.names}"
                )
            variable = self.space[name]
            if isinstance(variable, Categorical):
                if value not in variable.levels:
                    raise InputDataError(
                        f"fixed: {value!r} is not a level of {name!r} {list(variable.levels)}"
                    )
            elif (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not variable.lower <= float(value) <= variable.upper
            ):
                bounds = f"[{variable.lower:g}, {variable.upper:g}]"
                raise InputDataError(f"fixed: {name!r} must be a number in {bounds}, got {value!r}")
            else:
                fixed[name] = float(value)
        parsed = []
        for item in self.constraints or ():
            constraint = item if isinstance(item, LinearConstraint) else LinearConstraint.parse(item)
            for name in constraint.coefficients:
                if name not in self.space.names:
                    raise InputDataError(
                        f"constraint {str(constraint)!r}: unknown condition {name!r}; the conditions are "
                        f"{self.space.names}"
                    )
                if not isinstance(self.space[name], Continuous):
                    raise InputDataError(
                        f"constraint {str(constraint)!r}: {name!r} is categorical; constraints apply to "
                        "continuous conditions (fix a categorical one instead)"
                    )
            parsed.append(constraint)
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "constraints", tuple(parsed))
        if self.active:
            self.candidates(1, seed=0)  # fails now if nothing in the box is feasible

    @property
    def active(self) -> bool:
        """Whether any rule is set."""
        return bool(self.fixed) or bool(self.constraints)

    def settings(self) -> dict[str, Any]:
        """JSON-ready ``{"fixed": {...}, "constraints": [text, ...]}`` for the campaign store."""
        return {"fixed": dict(self.fixed), "constraints": [str(c) for c in self.constraints]}

    def rules(self) -> list[str]:
        """The fixed values and constraints as text, e.g. ``["bath = Ar", "T <= 1400"]``."""
        return [*(f"{k} = {v}" for k, v in self.fixed.items()), *(str(c) for c in self.constraints)]

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """``n`` booleans: rows of ``frame`` (physical units) that obey every rule."""
        ok = np.ones(len(frame), dtype=bool)
        for _, obeyed in self._obeyed_by_rule(frame):
            ok &= obeyed
        return ok

    def broken(self, frame: pd.DataFrame) -> list[str]:
        """The rules (as :meth:`rules` writes them) that some row of ``frame`` breaks."""
        return [rule for rule, obeyed in self._obeyed_by_rule(frame) if not obeyed.all()]

    def _obeyed_by_rule(self, frame: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
        """Each rule's text and the ``n`` booleans of the rows of ``frame`` that obey it."""
        for name, value in self.fixed.items():
            column = frame[name]
            if isinstance(value, float):
                obeyed = np.isclose(pd.to_numeric(column).to_numpy(dtype=float), value, rtol=1e-9, atol=0.0)
            else:
                obeyed = (column == value).to_numpy()
            yield f"{name} = {value}", obeyed
        for constraint in self.constraints:
            yield str(constraint), constraint.holds(frame)

    def region(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` feasible conditions (physical units) spread over the feasible part of the space."""
        return self.space.from_model(self.candidates(n, seed))

    def candidates(self, n: int, seed: int) -> torch.Tensor:
        """``n`` feasible conditions in model coordinates (``n x d``): Sobol points, rules applied.

        Raises
        ------
        InputDataError
            If fewer than ``n`` feasible points turn up in :data:`MAX_DRAWS` Sobol points.
        """
        draws = max(1024, 4 * n)
        while True:
            frame = self.space.sample(draws, seed=seed, method="sobol")
            for name, value in self.fixed.items():
                frame[name] = value
            feasible = frame[self.mask(frame)]
            if len(feasible) >= n:
                return self.space.to_model(feasible.iloc[:n].reset_index(drop=True))
            if draws >= MAX_DRAWS:
                raise InputDataError(
                    f"only {len(feasible)} of {draws} Sobol points of the space obey {self.rules()}, "
                    f"fewer than the {n} needed: check the constraints against the bounds"
                )
            draws *= 4

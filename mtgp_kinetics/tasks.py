"""Tasks: the outputs measured in an experiment (a rate, a branching fraction, a yield...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mtgp_kinetics.errors import InputDataError, check_positive_number
from mtgp_kinetics.transforms import PERCENT_UNITS, OutputTransform, output_transform

TASK_KINDS = ("rate", "mechanism", "other")


@dataclass(frozen=True)
class Task:
    """One output of an experiment.

    Parameters
    ----------
    name : str
        Column name of the output in a wide frame, or its label in the ``task`` column of a long frame.
    unit : str
        Physical unit, for labels (e.g. ``"s"``); ``""`` for dimensionless outputs.
    transform : {"log10", "log", "logit", "logit_percent", "none"} or None
        Space the GP models the output in. ``log10``/``log`` for positive rate outputs (ignition
        delay, rate constant), ``logit`` for fractions in (0, 1) (branching ratio, selectivity).
        A ``logit`` task whose ``unit`` is per cent (``"%"``, ``"percent"``, ``"mol%"``...) gets
        ``logit_percent``: ``logit(y / 100)``, values and predictions in per cent.
    kind : {"rate", "mechanism", "other"}
        What the output describes; used for defaults and plots.
    noise_column : str or None
        Column (wide form) holding the known measurement std of this output in physical units.
        When given, the task's noise is fixed to it instead of learned.
    cost : float
        Relative cost of one measurement of this output (> 0), for cost-aware design.
    excess_noise : bool
        With ``noise_column``: also learn a variance added to every known one (stated
        uncertainties that may be too small; prior
        :func:`~mtgp_kinetics.models.priors.excess_noise_prior`). Default ``False``: the stated
        uncertainties are taken as exact.
    """

    name: str
    unit: str = ""
    transform: str | None = None
    kind: str = "other"
    noise_column: str | None = None
    cost: float = 1.0
    excess_noise: bool = False
    _transform: OutputTransform = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputDataError(f"Task name must be a non-empty string, got {self.name!r}")
        if self.kind not in TASK_KINDS:
            raise InputDataError(f"Task {self.name!r}: kind must be one of {TASK_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "cost", check_positive_number(self.cost, f"Task {self.name!r}: cost"))
        if not isinstance(self.excess_noise, bool):
            raise InputDataError(
                f"Task {self.name!r}: excess_noise must be True or False, got {self.excess_noise!r}"
            )
        if self.excess_noise and self.noise_column is None:
            raise InputDataError(
                f"Task {self.name!r}: excess_noise adds to known measurement stds, so it needs a "
                "noise_column (without one the whole noise variance is learned already)"
            )
        transform = self.transform
        if str(transform).lower() == "logit" and self.unit.strip().lower() in PERCENT_UNITS:
            transform = "logit_percent"  # a yield in %: model logit(y / 100), keep per cent outside
        object.__setattr__(self, "_transform", output_transform(transform))
        object.__setattr__(self, "transform", self._transform.name)

    @property
    def output_transform(self) -> OutputTransform:
        """The :class:`~mtgp_kinetics.transforms.OutputTransform` of this task."""
        return self._transform

    @property
    def label(self) -> str:
        """Axis label, e.g. ``"tau_ign [s]"``."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "unit": self.unit,
            "transform": self.transform,
            "kind": self.kind,
            "noise_column": self.noise_column,
            "cost": float(self.cost),
            "excess_noise": self.excess_noise,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        return cls(**spec)

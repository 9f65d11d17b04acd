"""Benchmark problems: in-silico experiments with known answers.

:class:`H2O2Ignition` runs Cantera (H2/O2 shock-tube ignition delay and chain-branching fraction,
cached on disk); :class:`AnalyticKinetics` is an instant analytic problem whose true task
correlation is known; :class:`MethylHydroxylChannels` evaluates GRI-Mech 3.0's CH3 + OH rate
expressions with Cantera (total rate constant and methanol yield, a pressure-falloff problem). All
follow the :class:`Problem` interface (``space``, ``tasks``,
``evaluate``, ``sample``).
"""

from __future__ import annotations

from typing import Any

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems.analytic import AnalyticKinetics
from mtgp_kinetics.problems.base import Problem
from mtgp_kinetics.problems.h2o2 import H2O2Ignition
from mtgp_kinetics.problems.methyl_hydroxyl import MethylHydroxylChannels

PROBLEMS: dict[str, type[Problem]] = {
    "h2o2": H2O2Ignition,
    "analytic": AnalyticKinetics,
    "ch3_oh": MethylHydroxylChannels,
}


def get_problem(name: str, **kwargs: Any) -> Problem:
    """Build a problem by name.

    Parameters
    ----------
    name : {"h2o2", "analytic", "ch3_oh"}
        Problem name (case-insensitive).
    **kwargs
        Passed to the problem's constructor.

    Returns
    -------
    Problem
        A new instance.

    Raises
    ------
    InputDataError
        If ``name`` is not a known problem; the message lists the choices.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in PROBLEMS:
        raise InputDataError(f"get_problem: unknown problem {name!r}; choose one of {sorted(PROBLEMS)}")
    return PROBLEMS[key](**kwargs)


__all__ = [
    "PROBLEMS",
    "AnalyticKinetics",
    "H2O2Ignition",
    "MethylHydroxylChannels",
    "Problem",
    "get_problem",
]

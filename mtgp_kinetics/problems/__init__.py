"""Benchmark problems: in-silico experiments with known answers.

:class:`H2O2Ignition` runs Cantera (H2/O2 shock-tube ignition delay and chain-branching fraction,
cached on disk); :class:`AnalyticKinetics` is an instant analytic problem whose true task
correlation is known; :class:`MethylHydroxylChannels` evaluates GRI-Mech 3.0's CH3 + OH rate
expressions with Cantera (total rate constant and methanol yield, a pressure-falloff problem). All
follow the :class:`Problem` interface (``space``, ``tasks``,
``evaluate``, ``sample``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems.analytic import AnalyticKinetics
from mtgp_kinetics.problems.base import Problem
from mtgp_kinetics.problems.h2o2 import H2O2Ignition
from mtgp_kinetics.problems.methyl_hydroxyl import MethylHydroxylChannels
from mtgp_kinetics.space import Space
from mtgp_kinetics.tasks import Task

PROBLEMS: dict[str, type[Problem]] = {
    "h2o2": H2O2Ignition,
    "analytic": AnalyticKinetics,
    "ch3_oh": MethylHydroxylChannels,
}


def get_problem(name: str, **kwargs: Any) -> Problem:
    """Build a problem by name, or load one of your own by its import path.

    Parameters
    ----------
    name : str
        A built-in problem, ``"h2o2"``, ``"analytic"`` or ``"ch3_oh"`` (case-insensitive), or
        ``"module:attribute"`` / ``"path/to/file.py:attribute"``: a :class:`Problem` subclass (or
        a function returning a :class:`Problem`) in an importable module or a Python file. This is
        how the benchmarks (``--problem``, ``--problems``) run on a problem the package does not
        ship. Either may end in keyword arguments with literal values, ``"analytic(seed=3,
        lengthscales=[0.2])"`` or ``"my_problems.py:ShockTube(fuel='CH4')"``, so a command line
        can build any variant of a problem.
    **kwargs
        Passed to the problem's constructor (or function), with those of ``name``; an argument
        given both ways is refused.

    Returns
    -------
    Problem
        A new instance.

    Raises
    ------
    InputDataError
        If ``name`` is not a known problem (the message lists the choices), its module or file
        cannot be imported, it has no such attribute, or what it names does not build a
        :class:`Problem`.

    Examples
    --------
    >>> get_problem("analytic").task_names
    ['log_k', 'f_a']
    >>> get_problem("analytic(n_tasks=3, seed=1)").task_names
    ['log_k', 'f_a', 'k_b']
    """
    if not isinstance(name, str):
        raise InputDataError(f"get_problem: the problem name must be a string, got {type(name).__name__}")
    name, written = _split_arguments(name)
    both = sorted(set(written) & set(kwargs))
    if both:
        raise InputDataError(f"get_problem: argument(s) {both} given both in {name!r}(...) and as keywords")
    kwargs = {**written, **kwargs}
    key = name.lower()
    if key in PROBLEMS:
        try:
            return PROBLEMS[key](**kwargs)
        except TypeError as error:  # an unknown or missing argument
            raise InputDataError(f"get_problem: {name!r} could not be built: {error}") from error
    if ":" not in name:
        raise InputDataError(
            f"get_problem: unknown problem {name!r}; choose one of {sorted(PROBLEMS)}, or give your own "
            "as 'module:ClassName' or 'path/to/file.py:ClassName'"
        )
    return _load_problem(name, kwargs)


def _split_arguments(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name(a=1, b='x')"`` -> ``("name", {"a": 1, "b": "x"})``; a spec without ``(...)`` as is."""
    spec = spec.strip()
    start = spec.find("(", spec.rfind(":") + 1)
    if start < 0 or not spec.endswith(")"):
        return spec, {}
    head, arguments = spec[:start].strip(), spec[start:]
    try:
        call = ast.parse(f"f{arguments}", mode="eval").body
    except SyntaxError as error:
        raise InputDataError(
            f"get_problem: cannot read the arguments {arguments!r} of {head!r}: {error.msg}"
        ) from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise InputDataError(
            f"get_problem: the arguments of {head!r} must be named, as in {head}(seed=3), got {arguments!r}"
        )
    kwargs = {}
    for keyword in call.keywords:
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise InputDataError(
                f"get_problem: argument {keyword.arg!r} of {head!r} must be a literal (number, string, "
                f"list, ...), got {ast.unparse(keyword.value)!r}"
            ) from None
    return head, kwargs


def split_problem_specs(text: str) -> list[str]:
    """A comma-separated list of problem specs, commas inside ``(...)`` or ``[...]`` kept.

    ``"h2o2,analytic(seed=2, lengthscales=[0.2, 0.3])"`` -> ``["h2o2", "analytic(seed=2,
    lengthscales=[0.2, 0.3])"]``: what the benchmarks' ``--problems`` option reads.
    """
    specs, depth, current = [], 0, []
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            specs.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    specs.append("".join(current).strip())
    return [spec for spec in specs if spec]


def _load_problem(spec: str, kwargs: dict[str, Any]) -> Problem:
    """Import ``module:attribute`` or ``file.py:attribute`` and build the problem it names."""
    location, _, attribute = spec.rpartition(":")
    if not location or not attribute.isidentifier():
        raise InputDataError(f"get_problem: {spec!r} is not 'module:ClassName' or 'file.py:ClassName'")
    if location.endswith(".py"):
        path = Path(location).expanduser()
        if not path.is_file():
            raise InputDataError(f"get_problem: no Python file {str(path)!r} (from {spec!r})")
        module_name = f"_mtgp_kinetics_problem_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up here
        # The file's folder is importable while it loads, so it can import a helper beside it.
        folder = str(path.resolve().parent)
        sys.path.insert(0, folder)
        try:
            loader_spec.loader.exec_module(module)
        except Exception as error:
            sys.modules.pop(module_name, None)
            raise InputDataError(f"get_problem: importing {str(path)!r} failed: {error}") from error
        finally:
            sys.path.remove(folder)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as error:
            raise InputDataError(f"get_problem: cannot import module {location!r}: {error}") from error
    if not hasattr(module, attribute):
        raise InputDataError(f"get_problem: {location!r} has no attribute {attribute!r}")
    factory = getattr(module, attribute)
    if not callable(factory):
        raise InputDataError(f"get_problem: {spec!r} is not a class or function")
    try:
        problem = factory(**kwargs)
    except TypeError as error:  # an abstract method left out, or a wrong argument
        raise InputDataError(f"get_problem: {spec!r} could not be built: {error}") from error
    if not isinstance(problem, Problem):
        raise InputDataError(
            f"get_problem: {spec!r} built a {type(problem).__name__}, not a "
            "mtgp_kinetics.problems.Problem (subclass it: set name, space and tasks, define "
            "noise_std and evaluate)"
        )
    _check_problem(problem, spec)
    return problem


def _check_problem(problem: Problem, spec: str) -> None:
    """Refuse a loaded problem without a Space, a list of Tasks, or a noise std for every task."""
    space, tasks = getattr(problem, "space", None), getattr(problem, "tasks", None)
    if not isinstance(space, Space):
        raise InputDataError(f"get_problem: {spec!r} has no space (set self.space to a Space)")
    if not isinstance(tasks, (list, tuple)) or not tasks or not all(isinstance(t, Task) for t in tasks):
        raise InputDataError(f"get_problem: {spec!r} has no tasks (set self.tasks to a list of Task)")
    try:
        problem.checked_noise_std()
    except InputDataError as error:
        raise InputDataError(f"get_problem: {spec!r}: {error}") from None


__all__ = [
    "PROBLEMS",
    "AnalyticKinetics",
    "H2O2Ignition",
    "MethylHydroxylChannels",
    "Problem",
    "get_problem",
    "split_problem_specs",
]

"""get_problem loads a user's own Problem by import path, so benchmarks run on unseen problems."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems import AnalyticKinetics, Problem, get_problem, split_problem_specs

ARRHENIUS_PROBLEM = textwrap.dedent(
    '''
    import numpy as np
    import pandas as pd

    from mtgp_kinetics.problems import Problem
    from mtgp_kinetics.space import Continuous, Space
    from mtgp_kinetics.tasks import Task


    class PureArrhenius(Problem):
        """k = A exp(-Ea / RT) and a constant yield; Ea in kJ/mol."""

        name = "pure_arrhenius"

        def __init__(self, ea: float = 80.0) -> None:
            self.ea = ea
            self.space = Space([Continuous("T", 500.0, 1500.0, unit="K", transform="inverse")])
            self.tasks = [
                Task("k", unit="1/s", transform="log10", kind="rate"),
                Task("yield_a", transform="logit", kind="mechanism"),
            ]

        @property
        def noise_std(self):
            return {"k": 0.02, "yield_a": 0.1}

        def evaluate(self, conditions, progress=None):
            out = conditions[["T"]].copy()
            out["k"] = 1e13 * np.exp(-self.ea * 1e3 / (8.314462618 * conditions["T"]))
            out["yield_a"] = 0.3
            return out


    def make_slow(**kwargs):
        return PureArrhenius(ea=150.0, **kwargs)


    NOT_A_PROBLEM = 3
    '''
)


@pytest.fixture
def problem_file(tmp_path):
    path = tmp_path / "my_problems.py"
    path.write_text(ARRHENIUS_PROBLEM)
    return path


def test_a_class_in_a_python_file_is_built_with_its_arguments(problem_file):
    problem = get_problem(f"{problem_file}:PureArrhenius", ea=100.0)
    assert isinstance(problem, Problem)
    assert problem.task_names == ["k", "yield_a"]
    frame = problem.sample(6, seed=0)  # the shared sampler works on the user's subclass
    assert list(frame.columns) == ["T", "k", "yield_a"] and len(frame) == 6
    truth = problem.evaluate(frame[["T"]])
    expected = 1e13 * np.exp(-100e3 / (8.314462618 * frame["T"]))
    np.testing.assert_allclose(truth["k"], expected)


def test_a_factory_function_is_accepted(problem_file):
    assert get_problem(f"{problem_file}:make_slow").ea == 150.0


def test_a_module_path_is_imported(problem_file, monkeypatch):
    monkeypatch.syspath_prepend(str(problem_file.parent))
    assert get_problem("my_problems:PureArrhenius").name == "pure_arrhenius"
    assert isinstance(get_problem("mtgp_kinetics.problems.analytic:AnalyticKinetics"), AnalyticKinetics)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_problem", "unknown problem 'no_such_problem'.*'module:ClassName'"),
        ("no_such_module_xyz:Thing", "cannot import module 'no_such_module_xyz'"),
        ("{file}:Missing", "has no attribute 'Missing'"),
        ("{file}:NOT_A_PROBLEM", "is not a class or function"),
        ("mtgp_kinetics.tasks:Task", "missing|required"),
        ("mtgp_kinetics.errors:InputDataError", "built a InputDataError, not a mtgp_kinetics"),
        ("{dir}/absent.py:PureArrhenius", "no Python file"),
        ("{file}:", "is not 'module:ClassName'"),
    ],
)
def test_bad_specs_are_refused_with_the_part_at_fault(problem_file, spec, message):
    spec = spec.format(file=problem_file, dir=problem_file.parent)
    with pytest.raises((InputDataError, TypeError), match=message):
        get_problem(spec)


def test_a_file_that_fails_to_import_is_reported(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(InputDataError, match=r"importing .*broken\.py.* failed: boom"):
        get_problem(f"{path}:Anything")


BROKEN_PROBLEMS = textwrap.dedent(
    """
    import pandas as pd

    from helper_beside_it import TASKS  # a module next to this file
    from mtgp_kinetics.problems import Problem
    from mtgp_kinetics.space import Continuous, Space


    class Base(Problem):
        name = "base"
        noise = {"k": 0.01}

        def __init__(self):
            self.space = Space([Continuous("T", 500.0, 1500.0, unit="K", transform="inverse")])
            self.tasks = list(TASKS)

        @property
        def noise_std(self):
            return self.noise

        def evaluate(self, conditions, progress=None):
            return conditions.assign(k=1.0)


    class NoSpace(Base):
        def __init__(self):
            self.tasks = list(TASKS)


    class WrongNoiseKey(Base):
        noise = {"kk": 0.01}


    class WrongColumn(Base):
        def evaluate(self, conditions, progress=None):
            return conditions.assign(K=1.0)


    class NeedsFuel(Base):
        def __init__(self, fuel):
            super().__init__()
    """
)


@pytest.fixture
def broken_file(tmp_path):
    (tmp_path / "helper_beside_it.py").write_text(
        "from mtgp_kinetics.tasks import Task\nTASKS = [Task('k', unit='1/s', transform='log10')]\n"
    )
    path = tmp_path / "broken_problems.py"
    path.write_text(BROKEN_PROBLEMS)
    return path


def test_a_file_imports_a_module_beside_it_whatever_the_working_directory(broken_file, monkeypatch):
    monkeypatch.chdir(broken_file.parent.parent)
    assert get_problem(f"{broken_file}:Base").sample(3, seed=0)["k"].notna().all()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("NoSpace", "has no space"),
        ("WrongNoiseKey", r"noise_std has no entry for task\(s\) \['k'\]"),
        ("NeedsFuel", "could not be built: .*'fuel'"),
    ],
)
def test_an_incomplete_problem_is_refused_when_loaded(broken_file, name, message):
    with pytest.raises(InputDataError, match=message):
        get_problem(f"{broken_file}:{name}")


def test_evaluate_without_a_task_column_is_named_when_sampling(broken_file):
    problem = get_problem(f"{broken_file}:WrongColumn")
    with pytest.raises(InputDataError, match=r"WrongColumn.evaluate returned no column for task\(s\) \['k"):
        problem.sample(4, seed=0)


def test_keyword_arguments_in_the_name_build_a_variant():
    """A command line can only pass a string: ``analytic(seed=3)`` is a different analytic problem."""
    base = get_problem("analytic")
    variant = get_problem("Analytic( n_tasks=3, seed=3, lengthscales=[0.2, 0.3, 0.4] )")
    assert variant.task_names == ["log_k", "f_a", "k_b"]
    x = base.space.sample(5, seed=0)
    assert not np.allclose(base.evaluate(x)["log_k"], variant.evaluate(x)["log_k"])
    same = get_problem("analytic", n_tasks=3, seed=3, lengthscales=[0.2, 0.3, 0.4])
    np.testing.assert_array_equal(same.evaluate(x)["log_k"], variant.evaluate(x)["log_k"])


def test_keyword_arguments_reach_a_problem_in_a_file(problem_file):
    named = get_problem(f"{problem_file}:PureArrhenius(ea=120.0)")
    assert named.ea == 120.0
    assert get_problem(f"{problem_file}:PureArrhenius", ea=120.0).ea == 120.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("analytic(3)", r"must be named, as in analytic\(seed=3\)"),
        ("analytic(seed=x)", "argument 'seed' of 'analytic' must be a literal"),
        ("analytic(seed=)", "cannot read the arguments"),
        ("analytic(colour=1)", "'analytic' could not be built: .*colour"),
    ],
)
def test_bad_arguments_in_the_name_are_refused_naming_them(spec, message):
    with pytest.raises(InputDataError, match=message):
        get_problem(spec)


def test_an_argument_given_twice_is_refused():
    with pytest.raises(InputDataError, match=r"\['seed'\] given both"):
        get_problem("analytic(seed=1)", seed=2)


def test_problem_lists_split_at_top_level_commas_only():
    text = "h2o2, analytic(seed=2, lengthscales=[0.2, 0.3]),, my.py:P(levels={'a': 1, 'b': 2})"
    assert split_problem_specs(text) == [
        "h2o2",
        "analytic(seed=2, lengthscales=[0.2, 0.3])",
        "my.py:P(levels={'a': 1, 'b': 2})",
    ]

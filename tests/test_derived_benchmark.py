"""benchmarks/derived.py checks any problem: its finite-difference truth and what it derives."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.problems import Problem

R = 8.314462618e-3  # kJ/(mol K)


@pytest.fixture(scope="module")
def derived_benchmark(load_benchmark):
    return load_benchmark("derived")


class CelsiusDelay(Problem):
    """A delay ``tau = A exp(+Ea / R T) c^m`` with T in degrees Celsius (linear), c log-modelled.

    Nothing here is named ``T`` or ``P``, the temperature is not modelled as 1000/T, and the rate
    task is a delay (the sign of its activation energy flips), so the benchmark must find all of it
    from the space and the task.
    """

    name = "celsius_delay"
    ea, order = 120.0, -0.8

    def __init__(self) -> None:
        self.space = mk.Space(
            [
                mk.Continuous("T5_C", 600.0, 1000.0, unit="degC", transform="none"),
                mk.Continuous("c_O2", 0.01, 0.2, unit="mol/mol", transform="log"),
                mk.Continuous("phi", 0.5, 2.0, transform="none"),
            ]
        )
        self.tasks = [
            mk.Task("tau", unit="ms", transform="log10", kind="rate"),
            mk.Task("share", transform="logit", kind="mechanism"),
        ]

    @property
    def noise_std(self) -> dict[str, float]:
        return {"tau": 0.01, "share": 0.1}

    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        out = conditions[self.space.names].copy()
        T = out["T5_C"] + 273.15
        out["tau"] = 1e-6 * np.exp(self.ea / (R * T)) * out["c_O2"] ** self.order
        out["share"] = 1.0 / (1.0 + np.exp(-(out["phi"] - 1.2)))
        return out


def test_the_difference_truth_recovers_a_known_law_whatever_the_names_and_units(derived_benchmark):
    problem = CelsiusDelay()
    todo = dict(derived_benchmark.quantities(problem.space))
    assert {name: v.name for name, v in todo.items()} == {"Ea": "T5_C", "n_c_O2": "c_O2"}
    test = derived_benchmark.inner_test_conditions(problem.space, 16, 0, 0.011)
    for variable in problem.space.variables:  # kept inside the bounds by the margin
        u = variable.to_unit_interval(test[variable.name].to_numpy())
        assert u.min() >= 0.011 - 1e-12 and u.max() <= 1 - 0.011 + 1e-12
    task = problem.tasks[0]
    ea = derived_benchmark.difference_truths(problem, test, [task], "Ea", todo["Ea"], 0.005)["tau"]
    order = derived_benchmark.difference_truths(problem, test, [task], "n_c_O2", todo["n_c_O2"], 0.005)["tau"]
    # ln tau is exactly linear in 1/T and in ln c: the central difference is exact up to rounding.
    np.testing.assert_allclose(ea, problem.ea, rtol=1e-6)
    np.testing.assert_allclose(order, problem.order, rtol=1e-6)


def test_only_log_modelled_rate_tasks_are_derived(derived_benchmark):
    assert [t.name for t in derived_benchmark.rate_tasks(CelsiusDelay())] == ["tau"]


def test_a_problem_of_ones_own_is_checked_end_to_end(derived_benchmark):
    """One seed of the benchmark on the problem above: the known Ea and order are recovered.

    The law is exactly Arrhenius in 1/T and a power of c, so a fitted GP's 95 % intervals should
    contain the truth at nearly every test condition (the benchmark's Arrhenius law gives
    0.97-1.00); 0.8 leaves room for one seed's fit without letting a wrong sign or unit pass.
    """
    rows = derived_benchmark.check_problem(
        f"{Path(__file__).resolve()}:CelsiusDelay", 24, 20, 1, 1, ["constant"], 0.005
    )
    table = pd.DataFrame(rows).set_index("quantity")
    assert list(table.index) == ["Ea", "n_c_O2"]
    assert (table["scored"] == 20).all()
    assert table.loc["Ea", "coverage"] >= 0.8, table
    assert table.loc["n_c_O2", "coverage"] >= 0.8, table
    assert table.loc["Ea", "rmse"] < 0.1 * CelsiusDelay.ea
    assert math.isfinite(table.loc["Ea", "width"])


class OnlyMechanism(CelsiusDelay):
    """The problem above without its delay: nothing to derive."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks = self.tasks[1:]


def test_a_problem_without_a_rate_task_is_noted_not_failed(derived_benchmark, capsys):
    spec = f"{Path(__file__).resolve()}:OnlyMechanism"
    assert derived_benchmark.check_problem(spec, 8, 4, 1, 1, ["constant"], 0.005) == []
    assert "nothing to derive" in capsys.readouterr().out

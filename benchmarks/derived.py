"""Derived activation energies and exponents against the truth, on any problem (docs/derived.md).

Usage: python benchmarks/derived.py [--problems arrhenius,h2o2] [--n-train 40] [--n-test 40]
       [--seeds 3] [--restarts 4] [--means constant] [--step 0.005] [--quick]

For every problem, every **rate task** (``kind="rate"``, modelled in log or log10) and every seed:

* a training set ``problem.sample(n_train, seed)`` with the problem's measurement noise, each
  mechanism task observed at 30 % of the rows;
* the model ``mk.fit(data, mean=..., restarts=..., seed=seed)`` (the default model);
* at ``n_test`` Sobol test conditions, the apparent activation energy (``mk.activation_energy``:
  ``-R d ln k / d(1/T)`` for a rate, ``+R d ln tau / d(1/T)`` for a task whose unit is a time) and
  the exponent ``d ln y / d ln x`` (``mk.exponent``) for every other log-modelled continuous
  condition (pressure, concentration), with 95 % intervals;
* the truth: central differences of the noise-free oracle ``problem.evaluate``, a half-step of
  ``--step`` in each condition's normalized model coordinate (0.005: 0.0022 in 1000/T and 0.018
  in ln P on H2/O2; small for the curvature, large against the integrator's rounding). The test
  conditions are kept that far inside the bounds.

Printed: coverage of the 95 % intervals, mean interval width and RMSE of the posterior mean, per
seed and averaged, and whether the issue's goal (coverage >= 0.90) holds.

Problems: ``arrhenius`` (defined here: ``k = A exp(-Ea / R T) P^n`` with ``Ea = 150 kJ/mol``,
``n = 0.7``, 5 % lognormal noise; T 700-1400 K as 1000/T, P 0.1-10 bar as ln P), the built-in
``h2o2``, ``analytic``, ``ch3_oh``, or a problem of your own, ``"my_problems.py:ShockTube"``
(docs/problems.md, "Your own problem").
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.derived import R_KJ_PER_MOL_K, is_time_unit
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems import Problem, get_problem, split_problem_specs
from mtgp_kinetics.space import Continuous, Space, kelvin_offset, temperature_condition

GOAL = 0.90  # the coverage goal for the derived quantities
MECHANISM_FRACTION = 0.3  # share of the rows at which each mechanism task is observed


class ArrheniusLaw(Problem):
    """``k = A exp(-Ea / R T) P^n`` with a known ``Ea`` [kJ/mol] and pressure exponent ``n``."""

    name = "arrhenius"

    def __init__(
        self, ea: float = 150.0, order: float = 0.7, ln_a: float = math.log(1e13), noise: float = 0.05
    ) -> None:
        self.ea, self.order, self.ln_a, self.noise = ea, order, ln_a, noise
        self.space = mk.Space(
            [
                mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse"),
                mk.Continuous("P", 0.1, 10.0, unit="bar", transform="log"),
            ]
        )
        self.tasks = [mk.Task("k", unit="1/s", transform="log10", kind="rate")]

    @property
    def noise_std(self) -> dict[str, float]:
        """5 % lognormal noise, as a std of log10 k."""
        return {"k": self.noise / math.log(10.0)}

    def evaluate(self, conditions: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
        """Noise-free ``k`` at ``n`` conditions (columns ``T`` [K], ``P`` [bar])."""
        out = conditions[self.space.names].copy()
        ln_k = self.ln_a - self.ea / (R_KJ_PER_MOL_K * out["T"]) + self.order * np.log(out["P"])
        out["k"] = np.exp(ln_k)
        return out


def load_problem(spec: str) -> Problem:
    """``"arrhenius"`` (this script's law) or anything :func:`get_problem` takes."""
    return ArrheniusLaw() if spec == "arrhenius" else get_problem(spec)


def rate_tasks(problem: Problem) -> list[mk.Task]:
    """Tasks whose log derivatives are the published quantities: rate kind, log or log10 modelled."""
    return [t for t in problem.tasks if t.kind == "rate" and t.transform in ("log", "log10")]


def quantities(space: Space) -> list[tuple[str, Continuous]]:
    """``(quantity, condition)``: ``Ea`` along the temperature, ``n_<x>`` along each log condition."""
    try:
        temperature = temperature_condition(space, where="derived")
        kelvin_offset(temperature, "derived")
    except InputDataError:
        temperature = None
    out = [("Ea", temperature)] if temperature is not None else []
    for variable in space.variables:
        if isinstance(variable, Continuous) and variable.transform == "log" and variable is not temperature:
            out.append((f"n_{variable.name}", variable))
    return out


def inner_test_conditions(space: Space, n: int, seed: int, margin: float) -> pd.DataFrame:
    """``n`` Sobol conditions at least ``margin`` inside every continuous bound (normalized)."""
    frame = space.sample(n, seed=seed)
    for variable in space.variables:
        if isinstance(variable, Continuous):
            u = variable.to_unit_interval(frame[variable.name].to_numpy(float))
            frame[variable.name] = variable.from_unit_interval(margin + (1.0 - 2.0 * margin) * u)
    return frame


def difference_truths(
    problem: Problem,
    test: pd.DataFrame,
    tasks: list[mk.Task],
    quantity: str,
    variable: Continuous,
    step: float,
) -> dict[str, np.ndarray]:
    """The quantity of the noise-free oracle for each task at each test row, by central differences.

    The two points are ``step`` either side in ``variable``'s normalized model coordinate (one
    oracle call each, for every task); the difference of ``ln y`` is divided by that of ``1/T``
    [1/K] (``Ea``) or of ``ln x`` (exponents), so any condition transform is handled. Task name ->
    ``n`` values, NaN where the oracle gives no finite positive value.
    """
    u = variable.to_unit_interval(test[variable.name].to_numpy(float))
    x_up, x_down = variable.from_unit_interval(u + step), variable.from_unit_interval(u - step)
    outputs = []
    for x in (x_up, x_down):
        shifted = test.copy()
        shifted[variable.name] = x
        outputs.append(problem.evaluate(shifted, progress=False))
    if quantity == "Ea":
        offset = kelvin_offset(variable, "derived")
        across = 1.0 / (x_up + offset) - 1.0 / (x_down + offset)
    else:
        across = np.log(x_up) - np.log(x_down)
    truths = {}
    for task in tasks:
        with np.errstate(divide="ignore", invalid="ignore"):
            up, down = (np.log(np.where(o[task.name] > 0, o[task.name], np.nan)) for o in outputs)
        slope = (up - down) / across
        if quantity == "Ea":
            sign = 1.0 if is_time_unit(task.unit) else -1.0  # the sign activation_energy uses
            slope = sign * R_KJ_PER_MOL_K * slope
        truths[task.name] = np.asarray(slope, dtype=float)
    return truths


def score(estimate: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    """Coverage, mean width and RMSE of the mean of derived-quantity rows, on the finite truths."""
    finite = np.isfinite(truth)
    est, truth = estimate[finite], truth[finite]
    inside = (est["lower"].to_numpy() <= truth) & (truth <= est["upper"].to_numpy())
    return {
        "coverage": float(inside.mean()) if finite.any() else math.nan,
        "width": float((est["upper"] - est["lower"]).mean()),
        "rmse": float(np.sqrt(np.mean((est["mean"].to_numpy() - truth) ** 2))),
        "scored": int(finite.sum()),
    }


def check_problem(
    spec: str, n_train: int, n_test: int, seeds: int, restarts: int, means: list[str], step: float
) -> list[dict]:
    """Every (mean, rate task, quantity, seed) row of one problem; a note if it has nothing to check."""
    problem = load_problem(spec)
    tasks, todo = rate_tasks(problem), quantities(problem.space)
    if not tasks or not todo:
        what = "no rate task modelled in log or log10" if not tasks else "no temperature or log condition"
        print(f"note: {spec}: {what}; nothing to derive")
        return []
    fractions = {t.name: MECHANISM_FRACTION for t in problem.tasks if t.kind == "mechanism"}
    rows = []
    for seed in range(seeds):
        frame = problem.sample(n_train, seed=seed, observed_fraction=fractions or None)
        data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
        test = inner_test_conditions(problem.space, n_test, 1000 + seed, 1.1 * step)
        truths = {
            (name, q): truth
            for q, v in todo
            for name, truth in difference_truths(problem, test, tasks, q, v, step).items()
        }
        for mean in means:
            start = time.perf_counter()
            model = mk.fit(data, mean=mean, restarts=restarts, seed=seed)
            fit_seconds = time.perf_counter() - start
            for task in tasks:
                for quantity, variable in todo:
                    start = time.perf_counter()
                    if quantity == "Ea":
                        est = mk.activation_energy(model, test, task.name, temperature=variable.name)
                    else:
                        est = mk.exponent(model, test, task.name, variable.name)
                    rows.append(
                        {"problem": spec, "mean": mean, "task": task.name, "quantity": quantity, "seed": seed}
                        | score(est, truths[(task.name, quantity)])
                        | {"seconds": fit_seconds + time.perf_counter() - start}
                    )
    return rows


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (problem, mean, task, quantity), per-seed coverage and the goal check."""
    keys = ["problem", "mean", "task", "quantity"]
    groups = table.groupby(keys, sort=False)
    summary = groups[["coverage", "width", "rmse", "seconds"]].mean()
    summary["per seed"] = groups["coverage"].agg(lambda c: ", ".join(f"{v:.2f}" for v in c))
    summary["goal >= 0.90"] = np.where(summary["coverage"] >= GOAL, "met", "NOT met")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", default="arrhenius,h2o2", help="comma-separated problem specs")
    parser.add_argument("--n-train", type=int, default=40)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--means", default="constant", help="comma-separated mk.fit means (constant,linear)")
    parser.add_argument("--step", type=float, default=0.005, help="difference half-step (normalized)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 1 restart, 20 test conditions")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.restarts, args.n_test = 1, 1, 20
    if not 0.0 < args.step < 0.1:
        parser.error(f"--step must be in (0, 0.1), got {args.step}")
    means = [m.strip() for m in args.means.split(",") if m.strip()]
    rows = []
    for spec in split_problem_specs(args.problems):
        try:
            rows += check_problem(
                spec, args.n_train, args.n_test, args.seeds, args.restarts, means, args.step
            )
        except InputDataError as error:
            parser.exit(2, f"derived.py: {error}\n")
    if not rows:
        print("nothing to check")
        return
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    print(summarize(table).to_string(float_format=lambda v: f"{v:.3g}"))
    partial = table[table["scored"] < args.n_test]
    if len(partial):
        print(f"\nnote: {len(partial)} rows scored on fewer than {args.n_test} conditions (truth not finite)")


if __name__ == "__main__":
    main()

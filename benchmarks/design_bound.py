"""How few experiments could any design need? A bound for the active-learning benchmark.

The active-learning benchmark (``benchmarks/active_learning.py``) asks how many experiments a
strategy needs to reach the accuracy that random picks from the pool reach after ``--initial +
--steps`` (48). This script asks what the best design could do under the same model class, with
every advantage given to the design:

* the hyperparameters are known: the campaign default model (``mk.fit``) fitted once to
  ``--reference-n`` noisy Sobol experiments (every task measured), then held fixed;
* the design is greedy integrated-variance (the campaign default's criterion, ``"trace"``: sum of
  the tasks' standardized posterior variances) integrated over the *held-out conditions
  themselves*, picking from the same pool after the same initial experiments as the benchmark;
* accuracy is the model's own posterior std (root mean square over the held-out conditions, in
  modelled units: log10 s, logit...), which is the expected RMSE of a correct model. The posterior
  variance of a GP does not depend on the measured values (R&W eq. 2.24), so no oracle is called.

Per seed and task it prints the posterior std after random designs (median over ``--random``
draws of pool rows) and after the greedy design, and the smallest greedy design size whose std is
at or below random's at ``initial + steps`` experiments: the fewest experiments a design can need
for that accuracy under this model (design sizes are checked every 2 experiments, so a size, and
the every-task cost derived from it, may be 1 experiment high; the per-pair cost is exact). A
ratio to ``initial + steps`` above 0.5 says that the 0.5x goal of the active-learning benchmark
is out of reach for *any* design at these hyperparameters; only a model that learns more per
observation (or a problem whose structure adaptivity can find, where the stationary model's
variance cannot see it) can go below it.

Setup as ``benchmarks/active_learning.py`` (``make_setup``): pool ``space.sample(pool, seed=1000 +
seed)``, initial ``problem.sample(initial, seed=seed)`` (its conditions), held-out conditions
``space.sample(n_test, seed=5000 + seed)``.

    python benchmarks/design_bound.py                        # H2/O2, 5 seeds
    python benchmarks/design_bound.py --problem analytic
    python benchmarks/design_bound.py --problem my_problems.py:ShockTube --seeds 2
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import mtgp_kinetics as mk
from mtgp_kinetics.campaign.acquisition import _excess_reduction
from mtgp_kinetics.campaign.variance_reduction import all_tasks_variance_reductions, posterior_variances
from mtgp_kinetics.model import KineticsModel
from mtgp_kinetics.problems import Problem, get_problem


@dataclass
class BoundSetup:
    """One seed's conditions in model coordinates: ``pool`` (``P x d``), ``initial``, ``test``."""

    pool: torch.Tensor
    initial: torch.Tensor
    test: torch.Tensor


def make_bound_setup(problem: Problem, seed: int, n_pool: int, n_initial: int, n_test: int) -> BoundSetup:
    """The pool, initial and held-out conditions of ``benchmarks/active_learning.py``'s seed ``seed``."""
    space = problem.space

    def model_coordinates(frame: pd.DataFrame) -> torch.Tensor:
        return space.to_model(frame[space.names], validate=False).to(torch.float64)

    return BoundSetup(
        pool=model_coordinates(space.sample(n_pool, seed=1000 + seed)),
        initial=model_coordinates(problem.sample(n_initial, seed=seed)),
        test=model_coordinates(space.sample(n_test, seed=5000 + seed)),
    )


def reference_model(problem: Problem, n: int, seed: int = 77) -> KineticsModel:
    """The default model fitted to ``n`` noisy Sobol experiments of ``problem`` (every task measured)."""
    frame = problem.sample(n, seed=seed)
    return mk.fit(mk.Dataset.from_frame(frame, problem.space, problem.tasks))


class FixedHyperparameters:
    """Posterior stds of ``reference`` for any design: its hyperparameters, other training inputs.

    Parameters
    ----------
    reference : KineticsModel
        A fitted model whose noise is learned per task (no per-observation noise column).
    """

    def __init__(self, reference: KineticsModel) -> None:
        self.reference = reference
        self.y_std = reference.y_std.to(torch.float64)  # t

    def gp_on(self, design: torch.Tensor):
        """A copy of the reference GP trained on ``design`` (its hyperparameters, other inputs).

        ``design`` is ``n x d`` conditions (every task measured at each) or ``n x (d + 1)``
        (condition, task) pairs, task index last.
        """
        gp = copy.deepcopy(self.reference.gp)
        d = self.reference.space.dim
        pairs = gp.all_tasks_inputs(design) if design.shape[-1] == d else design
        # The targets do not enter a posterior variance (R&W eq. 2.24); zeros keep the shapes.
        gp.set_train_data(pairs, torch.zeros(pairs.shape[0], dtype=torch.float64), strict=False)
        gp.prediction_strategy = None
        return gp

    def rms_std(self, design: torch.Tensor, test: torch.Tensor) -> np.ndarray:
        """Root mean square over ``test`` (``m x d``) of each task's posterior std, modelled units: ``t``."""
        variance = posterior_variances(self.gp_on(design), test) * self.y_std**2  # m x t
        return variance.mean(0).sqrt().numpy()

    def greedy(self, setup: BoundSetup, sizes: list[int]) -> dict[int, np.ndarray]:
        """Greedy integrated-variance design from ``setup.pool``: ``{size: rms std per task}``."""
        design = setup.initial.clone()
        used = torch.zeros(setup.pool.shape[0], dtype=torch.bool)
        out: dict[int, np.ndarray] = {}
        if design.shape[0] in sizes:
            out[design.shape[0]] = self.rms_std(design, setup.test)
        while design.shape[0] < max(sizes):
            gp = self.gp_on(design)
            reductions = all_tasks_variance_reductions(gp, setup.pool, setup.test)  # P x t, standardized
            best = int(reductions.sum(-1).masked_fill(used, float("-inf")).argmax())
            used[best] = True
            design = torch.cat([design, setup.pool[best : best + 1]])
            if design.shape[0] in sizes:
                out[design.shape[0]] = self.rms_std(design, setup.test)
        return out

    def greedy_per_cost(
        self, setup: BoundSetup, target: np.ndarray, costs: np.ndarray, max_cost: float
    ) -> float:
        """Cost of a greedy (condition, task) design until every task's std is at its ``target``.

        Each step measures the pair with the largest reduction of the integrated variance still
        above the targets, per unit cost (the campaign's ``integrated_variance_per_cost`` with
        ``target_std``, scored by its own ``_excess_reduction``), from the pool after the initial
        experiments (every task measured, counted at ``sum(costs)`` each). Returns the total cost,
        ``inf`` past ``max_cost``.
        """
        t = self.y_std.shape[0]
        n = setup.pool.shape[0]
        tasks = torch.arange(t, dtype=torch.float64).repeat(n).unsqueeze(-1)
        pairs = torch.cat([setup.pool.repeat_interleave(t, dim=0), tasks], dim=-1)  # (n t) x (d + 1)
        pair_cost = torch.as_tensor(costs, dtype=torch.float64).repeat(n)
        design = self.reference.gp.all_tasks_inputs(setup.initial)
        spent = float(setup.initial.shape[0] * costs.sum())
        target_var = torch.as_tensor(target, dtype=torch.float64) ** 2 / self.y_std**2  # standardized
        task_weights = torch.ones(t, dtype=torch.float64)
        used = torch.zeros(n * t, dtype=torch.bool)
        while True:
            gp = self.gp_on(design)
            now = posterior_variances(gp, setup.test).mean(0)  # t, standardized
            if bool((now <= target_var).all()):
                return spent
            if spent >= max_cost:
                return float("inf")
            gain = _excess_reduction(gp, pairs.unsqueeze(-2), setup.test, task_weights, target_var)
            best = int((gain / pair_cost).masked_fill(used, float("-inf")).argmax())
            used[best] = True
            spent += float(pair_cost[best])
            design = torch.cat([design, pairs[best : best + 1]])

    def random(self, setup: BoundSetup, size: int, draws: int, seed: int) -> np.ndarray:
        """Median over ``draws`` random designs (initial + pool rows) of the rms std per task: ``t``."""
        rng = np.random.default_rng(seed)
        extra = size - setup.initial.shape[0]
        values = [
            self.rms_std(
                torch.cat([setup.initial, setup.pool[rng.choice(setup.pool.shape[0], extra, replace=False)]]),
                setup.test,
            )
            for _ in range(draws)
        ]
        return np.median(np.stack(values), axis=0)


def bound_table(
    problem: Problem,
    reference: KineticsModel,
    seeds: int,
    n_pool: int,
    n_initial: int,
    steps: int,
    n_test: int,
    random_draws: int,
    every: int = 2,
    costs: np.ndarray | None = None,
    target: dict[str, float] | None = None,
) -> pd.DataFrame:
    """One row per (seed, task): random's std at ``n_initial + steps``, the greedy stds, the size needed.

    With ``costs`` (one per task), also the cost of a greedy per-pair design to the same targets
    (``cost per task``, the same figure on every row of a seed) and of the greedy all-tasks design
    (``cost all tasks``: the size at which every task is at its target, times ``sum(costs)``).
    With ``target`` (task -> RMSE, modelled units; e.g. ``benchmarks/active_learning.py``'s printed
    target, random's *measured* RMSE with fitted hyperparameters) the sizes and costs are to reach
    those values instead of random's posterior std at known hyperparameters.
    """
    fixed = FixedHyperparameters(reference)
    total = n_initial + steps
    sizes = list(range(n_initial, total + 1, every))
    if sizes[-1] != total:
        sizes.append(total)
    rows = []
    for seed in range(seeds):
        setup = make_bound_setup(problem, seed, n_pool, n_initial, n_test)
        random_std = fixed.random(setup, total, random_draws, seed)
        goal = random_std if target is None else np.array([target[t] for t in reference.task_names])
        half = fixed.random(setup, max(n_initial, total // 2), random_draws, seed + 10_000)
        greedy = fixed.greedy(setup, sizes)
        extra = {}
        if costs is not None:
            all_reached = [n for n in sizes if np.all(greedy[n] <= goal)]
            extra = {
                "cost all tasks": (all_reached[0] if all_reached else np.inf) * float(costs.sum()),
                "cost per task": fixed.greedy_per_cost(setup, goal, costs, float(costs.sum()) * total),
            }
        for j, task in enumerate(reference.task_names):
            reached = [n for n in sizes if greedy[n][j] <= goal[j]]
            rows.append(
                {
                    "seed": seed,
                    "task": task,
                    "target": goal[j],
                    f"random {total}": random_std[j],
                    f"random {total // 2}": half[j],
                    f"greedy {total // 2}": greedy[min(sizes, key=lambda n: abs(n - total // 2))][j],
                    f"greedy {total}": greedy[total][j],
                    "greedy size needed": reached[0] if reached else np.inf,
                    **extra,
                }
            )
    table = pd.DataFrame(rows)
    table["ratio"] = table["greedy size needed"] / total
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="h2o2")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--pool", type=int, default=512)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--reference-n", type=int, default=240, help="experiments of the reference fit")
    parser.add_argument("--random", type=int, default=5, help="random designs per seed (median)")
    parser.add_argument(
        "--cost", action="store_true", help="also the per-task-cost bound (rate task 1, mechanism task 5)"
    )
    parser.add_argument("--mechanism-cost", type=float, default=5.0)
    parser.add_argument(
        "--target",
        default=None,
        help="task=rmse,... (e.g. active_learning.py's target); default: random's std, known hyperparameters",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    start = time.perf_counter()
    problem = get_problem(args.problem)
    reference = reference_model(problem, args.reference_n)
    print(f"Reference fit on {args.reference_n} experiments: {reference.selection_.kernel.name}")
    costs = None
    if args.cost:
        costs = np.array([args.mechanism_cost if t.kind == "mechanism" else 1.0 for t in problem.tasks])
    target = None
    if args.target:
        target = {k: float(v) for k, v in (item.split("=") for item in args.target.split(","))}
    table = bound_table(
        problem,
        reference,
        args.seeds,
        args.pool,
        args.initial,
        args.steps,
        args.n_test,
        args.random,
        costs=costs,
        target=target,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    per_seed = table.groupby("seed")["greedy size needed"].max()  # every task at its target
    total = args.initial + args.steps
    goal = "the target" if target else f"random's {total}-experiment accuracy"
    print(
        f"\nFewest experiments for {goal} on every task, greedy design "
        f"at known hyperparameters: per seed {', '.join(f'{v:g}' for v in per_seed)}; median "
        f"{per_seed.median():g} (ratio {per_seed.median() / total:.2f}). Per task, median ratio: "
        + ", ".join(f"{t} {r:.2f}" for t, r in table.groupby("task", sort=False)["ratio"].median().items())
    )
    if costs is not None:
        first = table.groupby("seed").first()
        print(
            "Cost to those targets at known hyperparameters (initial design included): every task "
            f"each time {', '.join(f'{v:g}' for v in first['cost all tasks'])} (median "
            f"{first['cost all tasks'].median():g}); one (condition, task) pair at a time "
            f"{', '.join(f'{v:g}' for v in first['cost per task'])} (median "
            f"{first['cost per task'].median():g}, ratio "
            f"{first['cost per task'].median() / first['cost all tasks'].median():.2f})"
        )
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

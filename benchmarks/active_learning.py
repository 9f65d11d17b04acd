"""Active learning on a built-in problem: how many experiments each strategy needs to reach a target.

Setup (per seed): a pool of ``--pool`` Sobol conditions of the problem's space (``--problem``:
``h2o2``, the Cantera H2/O2 ignition problem, by default; ``analytic``, ``ch3_oh``, or your own
problem as ``module:Class`` or ``file.py:Class``: see ``mtgp_kinetics.problems.get_problem``),
``--initial`` Sobol experiments (every task measured, with the problem's measurement noise),
then ``--steps`` sequential experiments chosen from the pool by each strategy; a held-out set of
``--n-test`` noise-free conditions (the problem's truth, another Sobol draw) scores the model
after every ``--eval-every`` experiments: RMSE and NLPD per task in modelled units (log10 s,
logit...).

Strategies:

* ``random``, ``sobol`` and the campaign default (``Campaign.create``'s default strategy and model
  settings): mtgp_kinetics campaigns over the same pool, scored with the campaign's model;
* ``hand-written max-variance``: plain botorch, written out below: one ``SingleTaskGP`` per task
  (inputs in [0, 1], each task's transformed output standardized), ``fit_gpytorch_mll``, next
  point = the pool row with the largest sum of standardized posterior variances.

Target: per task, the RMSE that ``random`` reaches after all ``initial + steps`` experiments (median
over seeds). Printed: per strategy the experiments needed to reach the target on every task
(median over seeds; a seed that never reaches it counts as infinite) and the ratio to random.

Per-task-cost mode (``--cost``): a rate task (``tau_ign`` on H2/O2) costs 1, a mechanism task
(``f_branch``) costs ``--mechanism-cost`` (5); ``integrated_variance_per_cost`` (one (condition,
task) pair per step), without and with the target passed as its ``target_std`` (the accuracy
wanted per task), and with the target and ``error_weighting``, against the default strategy
measuring every task every time (cost 6 per experiment on H2/O2); total cost to reach the target.

    python benchmarks/active_learning.py                 # 5 seeds, 8 + 40 experiments
    python benchmarks/active_learning.py --quick         # 2 seeds, 8 + 16, every 4th step scored
    python benchmarks/active_learning.py --eval-every 4 --n-test 300 --jobs 2 \
        --strategies "random,default,hand-written max-variance"     # the run in docs/campaign.md
    python benchmarks/active_learning.py --problem analytic --eval-every 4 --n-test 300 --jobs 2 \
        --strategies "random,default,hand-written max-variance" --cost   # a second problem

``--jobs`` runs the (strategy, seed) campaigns in worker processes (one torch thread each);
``--target task=rmse,...`` reuses a target from an earlier run of random (random is then not run),
e.g. ``--strategies "" --cost`` for the per-task-cost comparison alone. With the default strategy
in the run, the cost comparison reuses its campaigns (it ignores task costs, so measuring both
tasks every time is the same run, at cost 6 per experiment).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import tempfile
import time
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _baselines import hand_written_inputs
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood
from scipy.stats import norm

from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.problems import Problem, get_problem
from mtgp_kinetics.space import Continuous, Space

DEFAULT = "default"
HAND = "hand-written max-variance"
PER_COST = "integrated_variance_per_cost"
PER_COST_TARGET = "integrated_variance_per_cost, target_std"
PER_COST_ERROR = "integrated_variance_per_cost, target_std, error-weighted"
BOTH = "all tasks (default)"
#: Variants of the default strategy: label -> (strategy, strategy_options).
VARIANTS = {
    # the criterion before the per-task trace became the default: variance of the sum of outputs
    "integrated_variance sum": ("integrated_variance", {"criterion": "sum"}),
    # each task's reduction relative to its own integrated variance
    "integrated_variance relative": ("integrated_variance", {"criterion": "relative"}),
    # integration weighted by the leave-one-out calibration ratio
    "integrated_variance error-weighted": ("integrated_variance", {"error_weighting": True}),
}


@dataclasses.dataclass
class Setup:
    """One seed's pool, initial design, held-out set and noisy oracle."""

    problem: Problem
    seed: int
    pool: pd.DataFrame
    initial: pd.DataFrame
    test: pd.DataFrame  # conditions and noise-free truth

    def oracle(self, conditions: pd.DataFrame) -> pd.DataFrame:
        """Noisy measurements (the problem's noise in modelled units), every task."""
        out = self.problem.evaluate(conditions, progress=False)
        key = noise_key(conditions, self.problem.space)
        rng = np.random.default_rng([self.seed, key])
        for task in self.problem.tasks:
            tf = task.output_transform
            z = tf.forward(out[task.name].to_numpy(dtype=float))
            out[task.name] = tf.inverse(z + self.problem.noise_std[task.name] * rng.standard_normal(len(z)))
        return out


def noise_key(conditions: pd.DataFrame, space: Space) -> int:
    """A seed for the measurement noise of a batch, from its conditions (the same batch, the same noise).

    Continuous conditions enter by their sum (as before categorical conditions were supported, so
    earlier figures repeat); a categorical level by a CRC of its text.
    """
    continuous = [v.name for v in space.variables if isinstance(v, Continuous)]
    levels = [v.name for v in space.variables if not isinstance(v, Continuous)]
    total = float(np.sum(conditions[continuous].to_numpy(dtype=float)))
    total += sum(zlib.crc32(str(level).encode()) for name in levels for level in conditions[name]) * 1e-6
    return int(1e6 * total) % (2**31)


def make_setup(problem: Problem, seed: int, n_pool: int, n_initial: int, n_test: int) -> Setup:
    space = problem.space
    pool = space.sample(n_pool, seed=1000 + seed)
    initial = problem.sample(n_initial, seed=seed)
    test_conditions = space.sample(n_test, seed=5000 + seed)
    test = problem.evaluate(test_conditions, progress=False)
    return Setup(problem, seed, pool, initial, test)


def _scores_row(strategy: str, seed: int, n: int, cost: float, scores: pd.DataFrame) -> list[dict]:
    return [
        {
            "strategy": strategy,
            "seed": seed,
            "experiments": n,
            "cost": cost,
            "task": task,
            "rmse": float(row["rmse"]),
            "nlpd": float(row["nlpd"]),
        }
        for task, row in scores.iterrows()
    ]


def _reached(rows: list[dict], target: dict[str, float] | None) -> bool:
    if target is None or not rows:
        return False
    last = {r["task"]: r["rmse"] for r in rows if r["experiments"] == rows[-1]["experiments"]}
    return all(last[t] <= target[t] for t in target)


def run_campaign(
    setup: Setup,
    strategy: str | None,
    steps: int,
    eval_every: int,
    target: dict[str, float] | None,
    label: str,
    costs: dict[str, float] | None = None,
    max_cost: float | None = None,
    strategy_options: dict | None = None,
) -> list[dict]:
    """A campaign over the pool; scored every ``eval_every`` experiments; stops at the target."""
    problem = setup.problem
    tasks = problem.tasks
    if costs is not None:
        tasks = [dataclasses.replace(t, cost=costs[t.name]) for t in tasks]
    kwargs: dict = {} if strategy is None else {"strategy": strategy}
    if strategy in VARIANTS:
        kwargs = dict(zip(("strategy", "strategy_options"), VARIANTS[strategy], strict=True))
    if strategy_options:
        kwargs["strategy_options"] = strategy_options
    with tempfile.TemporaryDirectory() as folder:
        campaign = Campaign.create(
            Path(folder) / "c.db",
            problem.space,
            tasks,
            pool=setup.pool,
            initial=setup.initial,
            seed=setup.seed,
            **kwargs,
        )
        cost_of = {t.name: t.cost for t in tasks}
        rows: list[dict] = []
        n0 = campaign.n_experiments
        spent = float(n0 * sum(cost_of.values()))
        step = 0
        while True:
            # Also scored where the cost budget ends the run, so a run's last state is always scored.
            at_cap = max_cost is not None and spent >= max_cost
            if step % eval_every == 0 or step == steps or at_cap:
                prediction = campaign.model.predict(setup.test[problem.space.names])
                scores = held_out_scores(prediction, setup.test, problem.tasks, 0.95)
                rows += _scores_row(label, setup.seed, campaign.n_experiments, spent, scores)
                if _reached(rows, target):
                    break
            if step == steps or at_cap:
                break
            before = len(campaign.observations())
            campaign.run(setup.oracle, budget=1, progress=False)
            new = campaign.observations().iloc[before:]
            spent += float(sum(cost_of[t] for t in new["task"]))
            step += 1
        campaign.close()
    return rows


# -- the hand-written botorch loop -----------------------------------------------------------------
def _fit_single_task_gps(X: torch.Tensor, Z: torch.Tensor) -> list[tuple[SingleTaskGP, float, float]]:
    models = []
    for j in range(Z.shape[1]):
        mean, std = float(Z[:, j].mean()), float(Z[:, j].std())
        gp = SingleTaskGP(X, ((Z[:, j] - mean) / std).unsqueeze(-1), outcome_transform=None)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        models.append((gp, mean, std))
    return models


def run_hand_written(
    setup: Setup, steps: int, eval_every: int, target: dict[str, float] | None
) -> list[dict]:
    """Max-variance active learning with independent botorch SingleTaskGPs, written out."""
    problem = setup.problem
    space, tasks = problem.space, problem.tasks
    names = space.names
    pool_X = hand_written_inputs(space, space.to_model(setup.pool))
    used = torch.zeros(len(pool_X), dtype=torch.bool)
    X = hand_written_inputs(space, space.to_model(setup.initial))
    Z = torch.tensor(
        np.stack([t.output_transform.forward(setup.initial[t.name].to_numpy(dtype=float)) for t in tasks], -1)
    )
    test_X = hand_written_inputs(space, space.to_model(setup.test))
    z_true = np.stack(
        [t.output_transform.forward(setup.test[t.name].to_numpy(dtype=float)) for t in tasks], -1
    )
    rows: list[dict] = []
    for step in range(steps + 1):
        models = _fit_single_task_gps(X, Z)
        if step % eval_every == 0 or step == steps:
            scores = {}
            for j, (gp, mean, std) in enumerate(models):
                with torch.no_grad():
                    post = gp.posterior(test_X)
                mu = post.mean.squeeze(-1).numpy() * std + mean
                s = post.variance.clamp_min(1e-12).sqrt().squeeze(-1).numpy() * std
                scores[tasks[j].name] = {
                    "rmse": float(np.sqrt(np.mean((mu - z_true[:, j]) ** 2))),
                    "nlpd": float(-np.mean(norm.logpdf(z_true[:, j], mu, s))),
                }
            rows += _scores_row(HAND, setup.seed, X.shape[0], np.nan, pd.DataFrame(scores).T)
            if _reached(rows, target):
                break
        if step == steps:
            break
        with torch.no_grad():
            # Standardized variances: each GP is fitted to its standardized output already.
            variance = sum(gp.posterior(pool_X).variance.squeeze(-1) for gp, _, _ in models)
        best = int(torch.argmax(variance.masked_fill(used, float("-inf"))))
        used[best] = True
        measured = setup.oracle(setup.pool.iloc[[best]][names].reset_index(drop=True))
        X = torch.cat([X, pool_X[best : best + 1]])
        z_new = [t.output_transform.forward(measured[t.name].to_numpy(dtype=float)) for t in tasks]
        Z = torch.cat([Z, torch.tensor(np.stack(z_new, -1))])
    return rows


# -- running many ------------------------------------------------------------------------------------
@functools.cache
def _setup(problem: str, seed: int, n_pool: int, n_initial: int, n_test: int) -> Setup:
    """One seed's setup, built once per process (the problem holds unpicklable transforms)."""
    return make_setup(get_problem(problem), seed, n_pool, n_initial, n_test)


def task_costs(problem: Problem, mechanism_cost: float) -> dict[str, float]:
    """Cost per task for ``--cost``: 1 for a rate task, ``mechanism_cost`` for a mechanism task."""
    return {t.name: (mechanism_cost if t.kind == "mechanism" else 1.0) for t in problem.tasks}


def _call(call: tuple) -> list[dict]:
    """``function(setup, *arguments)`` for ``(function, setup key, arguments)``."""
    function, key, arguments = call
    return function(_setup(*key), *arguments)


def _init_worker() -> None:
    torch.set_num_threads(1)  # one process per core: no oversubscription
    warnings.simplefilter("ignore")


def run_all(calls: list[tuple], jobs: int) -> list[list[dict]]:
    """:func:`_call` per ``(function, setup key, arguments)``, here or in ``jobs`` processes, in order."""
    if jobs <= 1:
        return [_call(call) for call in calls]
    with ProcessPoolExecutor(jobs, initializer=_init_worker) as pool:
        return list(pool.map(_call, calls))


# -- summaries ---------------------------------------------------------------------------------------
def needed(rows: pd.DataFrame, target: dict[str, float], column: str = "experiments") -> pd.Series:
    """Per (strategy, seed): the first ``column`` value at which every task's RMSE <= target (inf if none)."""
    out = {}
    for (strategy, seed), group in rows.groupby(["strategy", "seed"], sort=False):
        wide = group.pivot_table(index=column, columns="task", values="rmse")
        ok = np.all([wide[t] <= target[t] for t in target], axis=0)
        out[(strategy, seed)] = float(wide.index[ok][0]) if ok.any() else float("inf")
    return pd.Series(out)


def summary_table(
    rows: pd.DataFrame, target: dict[str, float], column: str, reference: float, label: str
) -> pd.DataFrame:
    """Per strategy: median over seeds of ``column`` to the target (``never``: not in the run), ratio.

    ``reference`` is what the baseline needs by the target's definition (random: all its experiments;
    the target is the median of its final RMSEs, so per seed random crosses it at or after the end
    about half the time).
    """
    per_seed = needed(rows, target, column).unstack()
    median = per_seed.median(axis=1)
    table = pd.DataFrame({"median": median.map(lambda v: "never" if np.isinf(v) else f"{v:g}")})
    table["per seed"] = per_seed.apply(
        lambda r: " ".join("never" if np.isinf(v) else f"{v:g}" for v in r), axis=1
    )
    table[f"ratio to {label} ({reference:g})"] = [
        f"{v / reference:.2f}" if np.isfinite(v) else "n/a" for v in median
    ]
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--problem",
        default="h2o2",
        help="built in (h2o2, analytic, ch3_oh) or yours: 'module:Class' or 'file.py:Class'",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--pool", type=int, default=512)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--strategies", default=f"random,sobol,{DEFAULT},{HAND}")
    parser.add_argument("--cost", action="store_true", help="also run the per-task-cost comparison")
    parser.add_argument("--mechanism-cost", type=float, default=5.0, help="cost of a mechanism task (--cost)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 seeds, 16 steps, every 4th step scored, 200 test conditions (options given explicitly win)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="write every score row to this CSV")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (runs are independent)")
    parser.add_argument(
        "--target",
        default=None,
        help="task=rmse,... from an earlier run of random (then random is not run), e.g. for --cost alone",
    )
    args = parser.parse_args(argv)
    if args.quick:  # the quick settings, except where an option was given explicitly
        for name, value in {"seeds": 2, "steps": 16, "eval_every": 4, "n_test": 200}.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    warnings.simplefilter("ignore")  # botorch's numerical warnings on tiny data sets
    keys = [(args.problem, seed, args.pool, args.initial, args.n_test) for seed in range(args.seeds)]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    total = args.initial + args.steps
    start = time.perf_counter()

    rows: list[dict] = []
    if args.target is None:
        # random first: it defines the target
        settings = ("random", args.steps, args.eval_every, None, "random")
        random_calls = [(run_campaign, key, settings) for key in keys]
        rows = [row for result in run_all(random_calls, args.jobs) for row in result]
        frame = pd.DataFrame(rows)
        final = frame[(frame["strategy"] == "random") & (frame["experiments"] == total)]
        target = final.groupby("task")["rmse"].median().to_dict()
    else:
        # A target from an earlier run (same seeds and settings): random is not rerun.
        target = {k: float(v) for k, v in (item.split("=") for item in args.target.split(","))}
        strategies = [s for s in strategies if s != "random"]
    print(
        f"Target (median RMSE of random after {total} experiments, modelled units): "
        + ", ".join(f"{k} {v:.4f}" for k, v in target.items()),
        flush=True,
    )
    calls: list[tuple] = []
    for name in strategies:
        if name == "random":
            continue
        for key in keys:
            if name == HAND:
                calls.append((run_hand_written, key, (args.steps, args.eval_every, target)))
            else:
                strategy = None if name == DEFAULT else name
                calls.append((run_campaign, key, (strategy, args.steps, args.eval_every, target, name)))
    if args.cost:
        costs = task_costs(get_problem(args.problem), args.mechanism_cost)
        max_cost = sum(costs.values()) * total
        for key in keys:
            if DEFAULT not in strategies:  # else its runs are reused (task costs do not change its picks)
                calls.append((run_campaign, key, (None, args.steps, args.eval_every, target, BOTH, costs)))
            calls.append(
                (
                    run_campaign,
                    key,
                    (PER_COST, 10 * args.steps, args.eval_every, target, PER_COST, costs, max_cost),
                )
            )
            # the same strategy told the accuracy wanted per task (the target, modelled units)
            options = {"target_std": target}
            settings = (PER_COST, 10 * args.steps, args.eval_every, target, PER_COST_TARGET, costs, max_cost)
            calls.append((run_campaign, key, (*settings, options)))
            # ... and told to weigh each task's variance by its own leave-one-out errors nearby
            options = {"target_std": target, "error_weighting": True}
            settings = (PER_COST, 10 * args.steps, args.eval_every, target, PER_COST_ERROR, costs, max_cost)
            calls.append((run_campaign, key, (*settings, options)))
    for result in run_all(calls, args.jobs):
        rows += result
    print(f"  all strategies done ({time.perf_counter() - start:.0f} s)", flush=True)
    frame = pd.DataFrame(rows)
    if args.cost and DEFAULT in strategies:
        # The default strategy ignores task costs: its campaign measuring both tasks is the same run.
        both = frame[frame["strategy"] == DEFAULT].assign(strategy=BOTH)
        both["cost"] = both["experiments"] * sum(costs.values())
        frame = pd.concat([frame, both], ignore_index=True)
    cost_runs = [BOTH, PER_COST, PER_COST_TARGET, PER_COST_ERROR]
    main_frame = frame[~frame["strategy"].isin(cost_runs)] if rows else frame
    if len(main_frame):
        print(
            f"\nExperiments to reach the target on every task ({args.seeds} seeds, {args.initial} initial, "
            f"scored every {args.eval_every}):"
        )
        print(summary_table(main_frame, target, "experiments", float(total), "random").to_string())
        if (
            "random" in set(main_frame["strategy"])
            and np.isinf(needed(main_frame[main_frame["strategy"] == "random"], target, "experiments")).all()
        ):
            print(
                "note: random reaches the target at no seed. The target is the median over seeds of "
                "random's final RMSE and must hold on every task at once, so with few seeds or several "
                "tasks a seed rarely meets it on all; the medians above then say little: run more seeds."
            )
    if args.cost:
        cost_frame = frame[frame["strategy"].isin(cost_runs)]
        print()
        listed = ", ".join(f"{name} {cost:g}" for name, cost in costs.items())
        print(f"Total cost to reach the target ({listed}; initial design included):")
        both = needed(cost_frame[cost_frame["strategy"] == BOTH], target, "cost").median()
        print(summary_table(cost_frame, target, "cost", float(both), "all tasks").to_string())
        if not np.isfinite(both):
            print("note: measuring every task every time never reached the target, so no cost ratio")
    if args.csv is not None:
        frame.to_csv(args.csv, index=False)
    print(f"\n{time.perf_counter() - start:.0f} s in all (wall clock, shared machine)")


if __name__ == "__main__":
    main()

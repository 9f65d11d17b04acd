"""Held-out accuracy and fit time of mtgp_kinetics against hand-written botorch baselines.

Usage (from the repository root)::

    python benchmarks/fit_predict.py [--problems h2o2,analytic] [--n 30,60,120] [--seeds 3]
                                     [--restarts 4] [--n-test 1000] [--scaling-n 100,200,400,800]
                                     [--quick]

Every model of one setting is fitted to the same training data and scored on the same test
conditions, in one run:

* ours: ``mk.fit(data, kernel=k, restarts=R, check_transfer=False)`` for ``k`` in ``icm``, ``lmc``,
  ``independent`` (the negative-transfer check would fit a second, independent model inside the
  timed call; it is a diagnostic, not part of the model, so it is left out of the comparison);
* ``botorch MultiTaskGP`` (ICM) and ``botorch SingleTaskGPs`` (one per task), botorch's default
  kernels and priors, per-task standardized targets, ``fit_gpytorch_mll`` (see ``_baselines.py``).

Training data: ``problem.sample(n, seed)``, isotopic (every task at every row) or heterotopic (the
mechanism task, ``f_branch`` / ``f_a``, at 25 % of the rows), with the problem's measurement noise.
Test data: ``problem.space.sample(n_test, seed=10_000 + seed)``, evaluated noise-free. Scores are
in each task's modelled space (log10 for delays and rates, logit for fractions), of the latent
(noise-free) Gaussian predictive against the noise-free truth: RMSE, mean negative log predictive
density (NLPD, nats per test point) and the fraction of truths inside the central 95 % interval.
Tables show medians over seeds. ``dNLPD`` is a model's NLPD minus that of ``ours independent`` on the
same data (negative: better than independent GPs). ``fit_s`` is the wall time of the whole fit call
(model construction included) and ``ratio`` is ``fit_s`` divided by that of the botorch baseline of
the same structure (ours default and ours icm / MultiTaskGP, ours independent / SingleTaskGPs).

The scaling section fits the analytic problem (isotopic, one seed) at growing ``n``: our default
kernel and ``icm`` against ``MultiTaskGP``, timed with torch's thread setting as found and again
with ``torch.set_num_threads(1)`` (our fit always runs single-threaded internally).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import botorch
import gpytorch
import numpy as np
import pandas as pd
import torch
from _baselines import BotorchMultiTaskGP, BotorchSingleTaskGPs, hand_written_inputs

import mtgp_kinetics as mk
from mtgp_kinetics.problems import Problem, get_problem, split_problem_specs

OURS = ("default", "icm", "lmc", "independent")  # "default": mk.fit(data) with no kernel
MULTITASK, SINGLETASK = "botorch MultiTaskGP", "botorch SingleTaskGPs"
MODELS = (*(f"ours {k}" for k in OURS), MULTITASK, SINGLETASK)
# Baseline of the same structure, for the fit-time ratio.
PAIRED = {"ours default": MULTITASK, "ours icm": MULTITASK, "ours independent": SINGLETASK}
REFERENCE = "ours independent"  # dNLPD is measured against this model
SETTINGS = ("isotopic", "heterotopic")
HETEROTOPIC_FRACTION = 0.25
Z95 = 1.959963984540054  # standard normal 97.5 % quantile
TEST_SEED_OFFSET = 10_000


# -- small helpers -----------------------------------------------------------------------------
@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch on ``n`` threads (``None``: leave as is), then restore the previous setting."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class WarningLog:
    """Warnings raised while fitting and predicting, counted by (model, category, message)."""

    counts: Counter = field(default_factory=Counter)

    @contextmanager
    def record(self, label: str) -> Iterator[None]:
        """Count every warning raised inside the block under ``label``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            first_line = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
            self.counts[(label, w.category.__name__, first_line[:140])] += 1

    def frame(self) -> pd.DataFrame:
        """One row per distinct warning: model, category, count, first line of the message."""
        rows = [
            {"model": label, "warning": category, "count": count, "message": message}
            for (label, category, message), count in self.counts.items()
        ]
        return pd.DataFrame(rows, columns=["model", "warning", "count", "message"])


def parse_list(text: str, kind: Callable[[str], object]) -> list:
    return [kind(item.strip()) for item in text.split(",") if item.strip()]


def timed(function: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


# -- data --------------------------------------------------------------------------------------
def training_data(problem: Problem, n: int, seed: int, setting: str) -> mk.Dataset:
    """``n`` noisy rows; heterotopic: each mechanism task observed at 25 % of them."""
    fractions = None
    if setting == "heterotopic":
        fractions = {t.name: HETEROTOPIC_FRACTION for t in problem.tasks if t.kind == "mechanism"}
    frame = problem.sample(n, seed, observed_fraction=fractions)
    return mk.Dataset.from_frame(frame, problem.space, problem.tasks)


def test_data(problem: Problem, n_test: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n_test`` conditions and the noise-free truth in modelled units, ``n_test x t``."""
    conditions = problem.space.sample(n_test, seed=TEST_SEED_OFFSET + seed)
    values = problem.evaluate(conditions, progress=False)
    truth = np.column_stack(
        [t.output_transform.forward(values[t.name].to_numpy(dtype=float)) for t in problem.tasks]
    )
    return conditions, truth


# -- models ------------------------------------------------------------------------------------
@dataclass
class Prediction:
    """Latent predictive in modelled units (``n x t`` each) and the wall times that produced it."""

    mean: np.ndarray
    std: np.ndarray
    fit_s: float
    predict_s: float


def fit_ours(data: mk.Dataset, kernel: str | None, restarts: int, seed: int = 0) -> mk.KineticsModel:
    """``mk.fit`` without the negative-transfer check (it fits a second, independent model)."""
    return mk.fit(data, kernel=kernel, restarts=restarts, seed=seed, check_transfer=False)


def run_ours(
    kernel: str | None, data: mk.Dataset, conditions: pd.DataFrame, restarts: int, seed: int
) -> Prediction:
    model, fit_s = timed(lambda: fit_ours(data, kernel, restarts, seed))
    pred, predict_s = timed(lambda: model.predict(conditions, level=0.95))
    mean = np.column_stack([pred.loc[pred["task"] == t, "transformed_mean"] for t in model.task_names])
    std = np.column_stack([pred.loc[pred["task"] == t, "transformed_std"] for t in model.task_names])
    return Prediction(mean, std, fit_s, predict_s)


def run_botorch(
    name: str, data: mk.Dataset, conditions: pd.DataFrame, seed: int, threads: int | None = None
) -> Prediction:
    baseline = {MULTITASK: BotorchMultiTaskGP, SINGLETASK: BotorchSingleTaskGPs}[name](len(data.tasks))
    X, y = data.train_inputs(), data.train_targets()
    X_test = data.space.to_model(conditions)  # the conversion our model's predict() does
    # Categorical conditions one-hot, as a hand-written botorch user would give them (no-op without).
    X = torch.cat([hand_written_inputs(data.space, X[:, :-1]), X[:, -1:]], dim=-1)
    X_test = hand_written_inputs(data.space, X_test)
    # fit_gpytorch_mll draws new starting values from the priors when a fit fails: seed them.
    torch.manual_seed(seed)
    with torch_threads(threads):
        _, fit_s = timed(lambda: baseline.fit(X, y))
        (mean, std), predict_s = timed(lambda: baseline.predict(X_test))
    return Prediction(mean.numpy(), std.numpy(), fit_s, predict_s)


def run_model(name: str, data: mk.Dataset, conditions: pd.DataFrame, restarts: int, seed: int) -> Prediction:
    if name.startswith("ours "):
        kernel = name.removeprefix("ours ")
        return run_ours(None if kernel == "default" else kernel, data, conditions, restarts, seed)
    return run_botorch(name, data, conditions, seed)


def warm_up(log: WarningLog) -> None:
    """Fit and predict every model once on a tiny problem, untimed.

    The first call of each code path pays one-off costs (lazy imports, torch kernel dispatch
    caches): measured, the first botorch MultiTaskGP fit of a process took 6 s and the next one
    of the same size 1 s. Without this warm-up the first setting's times would be wrong.
    Its warnings are logged under a label that names the built-in problem and size it fits, so a
    reader benchmarking a problem of their own does not take them for theirs.
    """
    problem = get_problem("analytic")
    data = training_data(problem, 12, 0, "heterotopic")
    conditions = problem.space.sample(20, seed=1)
    for name in MODELS:
        with log.record(f"{name} (warm-up: built-in analytic, 12 rows, not scored)"):
            run_model(name, data, conditions, restarts=1, seed=0)


# -- scores ------------------------------------------------------------------------------------
def scores(mean: np.ndarray, std: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """RMSE, mean Gaussian NLPD and 95 % coverage of ``n`` predictions against the truth.

    Truths that are not finite (a problem's oracle may return NaN where an output does not exist,
    e.g. no ignition) are left out; :func:`accuracy_runs` says how many.
    """
    finite = np.isfinite(truth)
    mean, std, truth = mean[finite], std[finite], truth[finite]
    error = mean - truth
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = std**2
        nlpd = 0.5 * np.log(2.0 * math.pi * variance) + 0.5 * error**2 / variance
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "nlpd": float(np.mean(nlpd)),
        "cov95": float(np.mean(np.abs(error) <= Z95 * std)),
    }


# -- accuracy section --------------------------------------------------------------------------
def accuracy_runs(
    problems: list[str],
    ns: list[int],
    seeds: int,
    restarts: int,
    n_test: int,
    log: WarningLog,
    settings: tuple[str, ...] = SETTINGS,
    models: tuple[str, ...] = MODELS,
) -> tuple[pd.DataFrame, list[str]]:
    """Fit every model to every (problem, setting, n, seed); one row per model, task and run."""
    rows, failures = [], []
    for problem_name in problems:
        problem = get_problem(problem_name)
        if "heterotopic" in settings and not any(t.kind == "mechanism" for t in problem.tasks):
            print(
                f"  note: {problem_name} has no mechanism task (Task kind='mechanism'): its heterotopic "
                "setting hides nothing and equals the isotopic one",
                flush=True,
            )
        for seed in range(seeds):
            conditions, truth = test_data(problem, n_test, seed)
            for j, task in enumerate(problem.task_names):
                missing = int((~np.isfinite(truth[:, j])).sum())
                if missing:
                    print(
                        f"  note: {problem_name} seed={seed}: {missing} of {n_test} held-out truths of "
                        f"{task!r} are not finite (the oracle returned NaN or inf); scored on the rest",
                        flush=True,
                    )
            for setting in settings:
                for n in ns:
                    data = training_data(problem, n, seed, setting)
                    counts = data.counts()
                    for name in models:
                        where = f"{problem_name} {setting} n={n} seed={seed} {name}"
                        try:
                            with log.record(name):
                                pred = run_model(name, data, conditions, restarts, seed)
                        except Exception as error:  # a failing model is a result, not a crash
                            failures.append(f"{where}: {type(error).__name__}: {error}")
                            continue
                        for j, task in enumerate(problem.task_names):
                            rows.append(
                                {
                                    "problem": problem_name,
                                    "setting": setting,
                                    "n": n,
                                    "seed": seed,
                                    "model": name,
                                    "task": task,
                                    "kind": problem.tasks[j].kind,
                                    "n_obs": int(counts[task]),
                                    **scores(pred.mean[:, j], pred.std[:, j], truth[:, j]),
                                    "fit_s": pred.fit_s,
                                    "predict_s": pred.predict_s,
                                }
                            )
                    print(f"  done {problem_name} seed={seed} {setting} n={n}", flush=True)
    return pd.DataFrame(rows), failures


def accuracy_table(runs: pd.DataFrame, problem: str) -> pd.DataFrame:
    """Medians over seeds: per task (rmse, nlpd, dNLPD, cov95) then per model (times, ratio)."""
    runs = runs[runs["problem"] == problem].copy()
    # Ordered categoricals keep the tables in the order of SETTINGS and MODELS.
    runs["setting"] = pd.Categorical(runs["setting"], categories=SETTINGS, ordered=True)
    runs["model"] = pd.Categorical(runs["model"], categories=MODELS, ordered=True)
    run_key = ["setting", "n", "seed"]
    reference = runs[runs["model"] == REFERENCE][[*run_key, "task", "nlpd"]]
    runs = runs.merge(reference, on=[*run_key, "task"], how="left", suffixes=("", "_ref"))
    runs["dNLPD"] = runs["nlpd"] - runs["nlpd_ref"]
    key = ["setting", "n", "model"]
    metrics = ["rmse", "nlpd", "dNLPD", "cov95"]
    per_task = runs.groupby([*key, "task"], observed=True)[metrics].median().unstack("task")
    tasks = list(dict.fromkeys(runs["task"]))
    per_task = per_task.reindex(columns=[(m, t) for t in tasks for m in metrics])
    per_task.columns = [f"{t}:{m}" for m, t in per_task.columns]

    times = runs.drop_duplicates([*run_key, "model"])[[*run_key, "model", "fit_s", "predict_s"]]
    fit_s = {(r.setting, r.n, r.seed, r.model): r.fit_s for r in times.itertuples(index=False)}
    times["ratio"] = [
        r.fit_s / fit_s[(r.setting, r.n, r.seed, PAIRED[r.model])]
        if (r.setting, r.n, r.seed, PAIRED.get(r.model)) in fit_s
        else np.nan
        for r in times.itertuples(index=False)
    ]
    per_model = times.groupby(key, observed=True)[["fit_s", "predict_s", "ratio"]].median()
    return per_task.join(per_model)


# -- scaling section ---------------------------------------------------------------------------
def done_when_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The sharing issue's per-run checks for the default model, heterotopic rows.

    Per (problem, n): runs where the default is within 0.02 nats of the better of independent GPs
    (``ours independent`` and, separately, botorch ``SingleTaskGPs``) and botorch ``MultiTaskGP`` on
    every task; the default's median NLPD gain over each independent baseline on the mechanism
    (sparse) task; its worst loss against them on any task; its median 95 % coverage per task kind
    and per task.
    """
    het = runs[runs["setting"] == "heterotopic"]
    # The sparse task of each problem: its mechanism task (observed at 25 % of the rows).
    mechanism_tasks = set(het.loc[het["kind"] == "mechanism", "task"])
    wide = het.pivot_table(index=["problem", "n", "seed", "task"], columns="model", values="nlpd")
    default_rows = het[het["model"] == "ours default"]
    cover = default_rows.set_index(["problem", "n", "seed", "task"])["cov95"].sort_index()
    rows = []
    for (problem, n), block in wide.groupby(level=["problem", "n"]):
        mech = block.index.get_level_values("task").isin(mechanism_tasks)
        default = block["ours default"]
        record: dict[str, object] = {"problem": problem, "n": n}
        for label, independent in (("ours", "ours independent"), ("botorch", SINGLETASK)):
            best = np.minimum(block[independent], block[MULTITASK])
            ok = (default <= best + 0.02).groupby(level="seed").all()
            record[f"ok vs {label} ind/MTGP"] = f"{int(ok.sum())}/{len(ok)}"
            record[f"mech gain vs {label} ind"] = float((block[independent] - default)[mech].median())
            record[f"worst vs {label} ind"] = float((default - block[independent]).max())
        cov = cover.loc[(problem, n)]
        is_mech = cov.index.get_level_values("task").isin(mechanism_tasks)
        record["cov95 mech"] = float(cov[is_mech].median())
        record["cov95 rate"] = float(cov[~is_mech].median())
        # Per task too: with several rate tasks the pooled median can hide one outside the band.
        per_task = cov.groupby(level="task", sort=False).median()
        record["cov95 per task"] = ", ".join(f"{task} {value:.3f}" for task, value in per_task.items())
        rows.append(record)
    return pd.DataFrame(rows)


def scaling_runs(ns: list[int], restarts: int, log: WarningLog) -> tuple[pd.DataFrame, list[str]]:
    """Fit wall time on the analytic problem (isotopic, seed 0) at growing ``n``."""
    problem = get_problem("analytic")
    rows, failures = [], []
    for n in ns:
        data = training_data(problem, n, 0, "isotopic")
        X, y = data.train_inputs(), data.train_targets()
        row: dict[str, float] = {"n": n, "n_obs": len(data)}
        jobs: dict[str, Callable[[], object]] = {
            "ours default": partial(fit_ours, data, None, restarts),
            "ours icm": partial(fit_ours, data, "icm", restarts),
            # One start, like a single fit_gpytorch_mll call: the per-start cost.
            "ours icm 1start": partial(fit_ours, data, "icm", 1),
            "MTGP": partial(BotorchMultiTaskGP(len(data.tasks)).fit, X, y),
        }
        for label, job in jobs.items():
            try:
                with log.record(label):
                    torch.manual_seed(0)
                    row[f"{label} s"] = timed(job)[1]
            except Exception as error:
                failures.append(f"scaling n={n} {label}: {type(error).__name__}: {error}")
                row[f"{label} s"] = np.nan
        try:
            with log.record("MTGP 1 thread"), torch_threads(1):
                torch.manual_seed(0)
                row["MTGP 1thr s"] = timed(jobs["MTGP"])[1]
        except Exception as error:
            failures.append(f"scaling n={n} MTGP 1 thread: {type(error).__name__}: {error}")
            row["MTGP 1thr s"] = np.nan
        row["icm/MTGP"] = row["ours icm s"] / row["MTGP s"]
        row["icm/MTGP 1thr"] = row["ours icm s"] / row["MTGP 1thr s"]
        row["icm 1start/MTGP 1thr"] = row["ours icm 1start s"] / row["MTGP 1thr s"]
        row["default/MTGP"] = row["ours default s"] / row["MTGP s"]
        rows.append(row)
        print(f"  done scaling n={n}", flush=True)
    return pd.DataFrame(rows).set_index("n"), failures


# -- main --------------------------------------------------------------------------------------
def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), botorch {botorch.__version__}, "
        f"gpytorch {gpytorch.__version__}, mtgp_kinetics {mk.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--problems",
        default="h2o2,analytic",
        help="comma-separated: h2o2, analytic, ch3_oh, 'module:Class', 'file.py:Class'",
    )
    parser.add_argument("--n", default="30,60,120", help="training rows per setting, comma-separated")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (median reported)")
    parser.add_argument("--restarts", type=int, default=4, help="MAP starts of our fits")
    parser.add_argument("--n-test", type=int, default=1000, help="held-out conditions per seed")
    parser.add_argument(
        "--scaling-n", default="100,200,400,800", help="rows of the fit-time scaling section ('' to skip)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: analytic only, n=30, 1 seed, no scaling section (options given explicitly win)",
    )
    parser.add_argument("--settings", default=",".join(SETTINGS), help="isotopic and/or heterotopic")
    parser.add_argument("--models", default=",".join(MODELS), help=f"subset of {', '.join(MODELS)}")
    parser.add_argument("--csv", type=Path, default=None, help="write every accuracy row to this CSV")
    args = parser.parse_args()
    if args.quick:  # the quick settings, except where an option was given explicitly
        for name, value in {"problems": "analytic", "n": "30", "seeds": 1, "scaling_n": ""}.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    problems = split_problem_specs(args.problems)
    ns = parse_list(args.n, int)
    scaling_ns = parse_list(args.scaling_n, int)

    start = time.perf_counter()
    print(f"machine: {machine()}")
    print(
        f"settings: problems={problems} n={ns} seeds={args.seeds} restarts={args.restarts} "
        f"n_test={args.n_test} scaling_n={scaling_ns or 'skipped'}",
        flush=True,
    )
    log = WarningLog()
    warm_up(log)
    settings = tuple(parse_list(args.settings, str))
    models = tuple(parse_list(args.models, str))
    unknown = sorted(set(settings) - set(SETTINGS)) + sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown settings or models: {unknown}")
    runs, failures = accuracy_runs(
        problems, ns, args.seeds, args.restarts, args.n_test, log, settings=settings, models=models
    )

    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 50)
    fmt = {"float_format": lambda v: f"{v:.3f}", "na_rep": "-"}
    print(
        "\n== Held-out accuracy (modelled space, latent predictive vs noise-free truth; "
        f"median over {args.seeds} seed(s)) ==\n"
        f"dNLPD: NLPD minus that of {REFERENCE!r}. fit_s: wall time of the fit call. "
        f"ratio: fit_s / fit_s of the botorch baseline of the same structure.\n"
        f"Ours: {args.restarts} MAP starts; botorch: one fit_gpytorch_mll call (its own retries on failure)."
    )
    for problem in problems:
        if runs.empty or not (runs["problem"] == problem).any():
            print(f"\n[{problem}] no results")
            continue
        counts = runs[(runs["problem"] == problem) & (runs["model"] == REFERENCE) & (runs["seed"] == 0)]
        obs = ", ".join(f"{r.setting} n={r.n} {r.task}: {r.n_obs}" for r in counts.itertuples())
        print(f"\n[{problem}] observations per task: {obs}")
        print(accuracy_table(runs, problem).to_string(**fmt))

    needed = {"ours default", REFERENCE, MULTITASK, SINGLETASK}
    if not runs.empty and "heterotopic" in set(runs["setting"]) and needed <= set(runs["model"]):
        print(
            "\n== Default model against the sharing issue's checks (heterotopic; 'ok': runs where it is "
            "within 0.02 nats of the better of independent GPs and MultiTaskGP on every task) =="
        )
        print(done_when_summary(runs).to_string(index=False, **fmt))
    if args.csv is not None:
        runs.to_csv(args.csv, index=False)

    if scaling_ns:
        print("\n== Fit-time scaling: analytic, isotopic, seed 0 (seconds, wall time) ==", flush=True)
        scaling, scaling_failures = scaling_runs(scaling_ns, args.restarts, log)
        failures += scaling_failures
        print(
            "ours default = kernel=None (independent; ICM if it pays, else shared+private with "
            "leave-one-condition-out opt-out); "
            "ours fits on 1 thread below 500 observations. "
            f"MTGP = botorch MultiTaskGP at torch's {torch.get_num_threads()} thread(s); "
            f"MTGP 1thr under torch.set_num_threads(1). ours icm: {args.restarts} MAP starts, "
            "ours icm 1start: one (per-start cost). "
            "n_obs = 2 n (two tasks). botorch/gpytorch solve exactly by Cholesky up to "
            f"{gpytorch.settings.max_cholesky_size.value()} training points (max_cholesky_size), "
            "then by conjugate gradients."
        )
        print(scaling.to_string(**fmt))

    print("\n== Failures ==")
    print("\n".join(failures) if failures else "none")
    print("\n== Warnings during fits and predictions (counts) ==")
    table = log.frame()
    print(table.to_string(index=False) if len(table) else "none")
    print(f"\ntotal time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""Real measured data: does the default multi-task model beat independent GPs, and does design pay.

For each data set under ``../shared/data/`` (or ``--data DIR``) and each task it prints

* the k-fold cross-validated NLPD (folds of whole experiments: every observation at the same
  conditions leaves together; hyperparameters fitted on all data, then held fixed; see
  ``KineticsModel.cross_validate``) of the default model (``mk.fit(data)``) and of independent GPs
  (``mk.fit(data, kernel="independent")``), their difference, and the 95 % coverage of both;
* the pool-based active-learning replay (:func:`mtgp_kinetics.datasets.replay`): a fixed test split
  of 25 % of the experiments, 10 start rows, the default model refitted at ``--steps`` checkpoints;
  rows the integrated-variance strategy needs to reach the test RMSE that random order reaches with
  the whole pool, as a number and a fraction of the pool, and the same for random order.

Usage::

    python benchmarks/real_data.py                       # every set, the figures of docs/real_data.md
    python benchmarks/real_data.py --sets reizman --steps 3 --no-replay
    python benchmarks/real_data.py --out outputs/real_data   # also writes the replay curves as CSV
    python benchmarks/real_data.py --csv my_set.csv --config my_set.toml   # a set of your own

A set of your own is a tidy CSV (one row per experiment, a column per condition and per task,
empty cells where a task was not measured) with a TOML file describing its conditions and tasks in
the campaign format (``[[conditions]]`` and ``[[tasks]]`` tables, ``mtgp-kinetics init --help``;
a ``[campaign]`` table is allowed and ignored here).

The task framings are the loaders' defaults (docs/real_data.md says why).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.campaign.config import load_space_and_tasks
from mtgp_kinetics.datasets import load_baumgartner, load_butanol, load_reizman, replay
from mtgp_kinetics.errors import DataWarning, InputDataError

SETS = {
    "butanol": ("chemked_butanol_ignition", load_butanol),
    "reizman": ("reizman_suzuki_cases_1_3", load_reizman),
    "baumgartner": ("baumgartner_cn_coupling", load_baumgartner),
}
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def kfold_table(
    data: mk.Dataset, folds: int, restarts: int, seed: int
) -> tuple[pd.DataFrame, mk.KineticsModel]:
    """Per-task k-fold NLPD and coverage of the default model and independent GPs."""
    start = time.perf_counter()
    default = mk.fit(data, restarts=restarts, seed=seed)
    default_s = time.perf_counter() - start
    start = time.perf_counter()
    independent = mk.fit(data, kernel="independent", restarts=restarts, seed=seed)
    independent_s = time.perf_counter() - start
    a = default.cross_validate(folds=folds, seed=seed).set_index("task")
    b = independent.cross_validate(folds=folds, seed=seed).set_index("task")
    table = pd.DataFrame(
        {
            "n": a["n"],
            "nlpd_default": a["nlpd"],
            "nlpd_indep": b["nlpd"],
            "d_nlpd": a["nlpd"] - b["nlpd"],
            "cov_default": a["coverage"],
            "cov_indep": b["coverage"],
            "rmse_default": a["rmse"],
            "rmse_indep": b["rmse"],
        }
    )
    timing = f"fit {default_s:.0f} s (independent {independent_s:.0f} s)"
    axes = _axes_note(default)
    if not default.kernel.shares_tasks:
        print(f"  default kept independent GPs (no shared structure paid on these data){axes}; {timing}")
        print("  no task correlation learned: every task is its own GP", flush=True)
        return table, default
    print(
        f"  default kept {default.kernel.name!r}{axes}, tasks that opted out of sharing: "
        f"{default.selection_.opted_out or 'none'}; {timing}"
    )
    print("  learned task correlation (default model):")
    print(default.task_correlation().round(2).to_string(), flush=True)
    return table, default


#: NLPD differences (nats per observation) below this are the optimizer's tolerance, not a model
#: difference: a task that opted out of sharing predicts as its independent GP to about 1e-4.
NUMERICAL_NLPD = 1e-3

#: Fewest observations of a task for its k-fold row to mean anything: with one or two, the held-out
#: value is predicted from the task's own standardization (fitted on all data), not from the model.
MIN_SCORED = 3


def _axes_note(model: mk.KineticsModel) -> str:
    """A clause naming the tasks whose axes the default model rotated or borrowed (or nothing)."""
    table = getattr(getattr(model, "selection_", None), "rotation", None)
    if table is None or table.empty:
        return ""
    parts = []
    rotated = table.loc[table["chosen"].astype(bool), "task"].tolist()
    if rotated:
        parts.append(f"rotated axes for {', '.join(rotated)}")
    if "borrowed_from" in table.columns:
        parts += [
            f"{row.task} borrowed {row.borrowed_from}'s axes"
            for row in table.itertuples()
            if isinstance(row.borrowed_from, str) and row.borrowed_from
        ]
    return f", with {'; '.join(parts)}" if parts else ""


def rounded(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``frame`` with its numeric columns rounded, and no ``-0.0`` (a difference that rounds to 0)."""
    out = frame.copy()
    numeric = out.select_dtypes("floating").columns
    out[numeric] = out[numeric].round(digits) + 0.0
    return out


def data_sets(args: argparse.Namespace) -> Iterator[tuple[str, mk.Dataset, list[str]]]:
    """(name, dataset, loader notes) of every set asked for: ``--csv`` or the named built-in sets."""
    if (args.csv is None) != (args.config is None):
        raise InputDataError(
            "--csv and --config go together: the data and a TOML with its [[conditions]] and [[tasks]]"
        )
    if args.csv is not None:
        space, tasks = load_space_and_tasks(args.config)
        yield args.csv.stem, mk.Dataset.from_csv(args.csv, space, tasks), []
    names = [] if args.csv is not None and args.sets is None else (args.sets or ",".join(SETS)).split(",")
    for name in names:
        if name not in SETS:
            raise InputDataError(f"unknown set {name!r}; choose from {', '.join(SETS)}")
        folder, loader = SETS[name]
        loaded = loader(args.data / folder)
        yield name, loaded.data, loaded.notes


def few_observation_notes(data: mk.Dataset) -> list[str]:
    """A note for every task with fewer than :data:`MIN_SCORED` observations."""
    counts = data.counts()
    return [
        f"{task!r} has {int(counts[task])} observation(s): its k-fold row is not a score "
        f"(at least {MIN_SCORED} are needed) and the replay may not score it"
        for task in data.task_names
        if counts[task] < MIN_SCORED
    ]


_SHOWN: set[str] = set()


def show_once(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """``warnings.showwarning`` that prints the category and message, each message once.

    The k-fold section fits the same data twice, and both fits would repeat what the data say.
    """
    text = f"  warning ({category.__name__}): {message}"
    if text not in _SHOWN:
        _SHOWN.add(text)
        print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the data sets")
    parser.add_argument(
        "--sets",
        default=None,
        help="comma-separated: " + ", ".join(SETS) + " (default: all, none with --csv)",
    )
    parser.add_argument("--csv", type=Path, default=None, help="a measured set of your own (tidy CSV)")
    parser.add_argument("--config", type=Path, default=None, help="its conditions and tasks (TOML)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--restarts", type=int, default=2, help="MAP starts of the k-fold fits")
    parser.add_argument("--steps", type=int, default=5, help="replay checkpoints after the start")
    parser.add_argument("--random", type=int, default=1, help="random orders per replay")
    parser.add_argument("--replay-restarts", type=int, default=1)
    parser.add_argument("--replay-max-iter", type=int, default=150)
    parser.add_argument("--tolerance", type=float, default=0.0, help="RMSE within (1 + tol) x target")
    parser.add_argument(
        "--criterion", default="trace", choices=["trace", "sum"], help="the replay strategy's criterion"
    )
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write replay curves (CSV) here")
    args = parser.parse_args()
    # Fit numerics are measured here, not inspected; what the data say (misread rows, outliers,
    # a task the replay cannot score) is printed, once per message.
    warnings.simplefilter("ignore")
    warnings.simplefilter("always", DataWarning)
    warnings.showwarning = show_once
    try:
        run(args)
    except InputDataError as error:
        raise SystemExit(f"error: {error}") from None


def run(args: argparse.Namespace) -> None:
    """The k-fold tables and replays of every set asked for, then the summaries."""
    kfold_rows, replay_rows = [], []
    for name, data, notes in data_sets(args):
        print(f"== {name}: {data}", flush=True)
        for line in notes + few_observation_notes(data):
            print(f"  note: {line}")
        table, _ = kfold_table(data, args.folds, args.restarts, args.seed)
        kfold_rows.append(table.assign(set=name).reset_index())
        print(rounded(table).to_string(), flush=True)
        if args.no_replay:
            continue
        try:
            result = replay(
                data,
                steps=args.steps,
                n_random=args.random,
                restarts=args.replay_restarts,
                max_iter=args.replay_max_iter,
                tolerance=args.tolerance,
                criterion=args.criterion,
                seed=args.seed,
            )
        except InputDataError as error:
            print(f"  replay skipped: {error}", flush=True)
            continue
        print(f"  replay ({result.seconds:.0f} s):")
        print(result.needed.round(3).to_string(index=False), flush=True)
        replay_rows.append(result.needed.assign(set=name))
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            result.curves.to_csv(args.out / f"replay_{name}.csv", index=False)
    print("\n== summary: k-fold NLPD by experiment (default - independent; <= 0: default at least as good)")
    summary = pd.concat(kfold_rows)[
        ["set", "task", "n", "nlpd_default", "nlpd_indep", "d_nlpd", "cov_default"]
    ]
    print(rounded(summary).to_string(index=False))
    worse = summary[summary["d_nlpd"] > NUMERICAL_NLPD]
    worse_list = [f"{r.set}/{r.task} ({r.d_nlpd:+.3f})" for r in worse.itertuples()]
    print(
        f"tasks where the default is worse by more than {NUMERICAL_NLPD} nats:",
        ", ".join(worse_list) if worse_list else "none",
    )
    if replay_rows:
        print("\n== summary: replay rows needed / pool rows (goal for the strategy: <= 0.6)")
        needed = pd.concat(replay_rows)
        print(
            needed.pivot_table(index=["set", "task"], columns="order", values="fraction").round(2).to_string()
        )


if __name__ == "__main__":
    main()

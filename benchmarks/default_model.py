"""Held-out check of the default model (``mk.fit(data)``) against independent GPs and forced ICM.

Prints, per problem and training size, the median held-out NLPD of the rate and the (sparse)
mechanism task, the per-seed difference to our independent GPs, 95 % coverage and fit time, and for
the default which structure it kept with its leave-one-condition-out evidence. These are the figures
in ``docs/default_model.md``.

Held-out set: ``n_test`` noise-free conditions (Sobol, seed 10000), NLPD of the latent predictive in
the modelled space (log10 s, logit). Training: ``problem.sample(n, seed)`` with the mechanism task
observed at ``--fraction`` of the rows.

Usage::

    python benchmarks/default_model.py                      # H2/O2 30/60/120, analytic 30/60, 5 seeds
    python benchmarks/default_model.py --quick              # analytic n=30, 2 seeds
    python benchmarks/default_model.py --configs independent,icm,default,independent+linear
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import mtgp_kinetics as mk
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.problems import AnalyticKinetics, H2O2Ignition

CONFIGS = {
    "independent": {"kernel": "independent", "check_transfer": False},
    "icm": {"kernel": "icm", "check_transfer": False},
    "shared+private": {"kernel": "shared+private", "check_transfer": False},
    "default": {"kernel": None},
    "independent+linear": {"kernel": "independent", "mean": "linear", "check_transfer": False},
    "default+linear": {"kernel": None, "mean": "linear"},
}


def run(
    settings: list[tuple[str, int]], configs: list[str], seeds: int, fraction: float, n_test: int
) -> None:
    warnings.simplefilter("ignore")  # forced kernels may warn about negative transfer: that is measured
    for name, n in settings:
        problem = H2O2Ignition() if name == "h2o2" else AnalyticKinetics(n_tasks=2)
        rate, mech = problem.tasks[0], problem.tasks[1]
        test = problem.space.sample(n_test, seed=10_000)
        truth = problem.evaluate(test)
        results: dict[str, list[tuple[float, ...]]] = {c: [] for c in configs}
        for seed in range(seeds):
            frame = problem.sample(n, seed=seed, observed_fraction={mech.name: fraction})
            data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)
            for config in configs:
                start = time.perf_counter()
                model = mk.fit(data, **CONFIGS[config])
                seconds = time.perf_counter() - start
                s = held_out_scores(model.predict(test, level=0.95), truth, problem.tasks, level=0.95)
                nlpd, coverage = s["nlpd"], s["coverage"]
                results[config].append(
                    (nlpd[rate.name], nlpd[mech.name], coverage[rate.name], coverage[mech.name], seconds)
                )
                selection = getattr(model, "selection_", None)
                if selection is not None and selection.rounds:
                    evidence = [
                        r[["nlpd_vs_independent", "se"]].round(3).values.tolist() for r in selection.rounds
                    ]
                    print(
                        f"  {name} n={n} seed {seed} {config}: kept {model.kernel.name!r}, "
                        f"opted out {selection.opted_out}, LOCO (delta, se) per task {evidence}",
                        flush=True,
                    )
        base = np.array(results.get("independent", results[configs[0]]))
        for config in configs:
            a = np.array(results[config])
            d_rate, d_mech = a[:, 0] - base[:, 0], a[:, 1] - base[:, 1]
            rate_part = f"{rate.name} {np.median(a[:, 0]):+.3f} (d {np.median(d_rate):+.3f})"
            per_seed = np.round(d_mech, 2)
            mech_part = (
                f"{mech.name} {np.median(a[:, 1]):+.3f} (d {np.median(d_mech):+.3f}, per seed {per_seed})"
            )
            print(
                f"{name} n={n:<4d} {config:<19s} {rate_part}  {mech_part}  "
                f"cov95 {np.median(a[:, 2]):.2f}/{np.median(a[:, 3]):.2f}  fit {np.median(a[:, 4]):.2f} s",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", default="independent,icm,default", help=f"comma list of {sorted(CONFIGS)}"
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.25, help="share of rows with the mechanism task")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="analytic n=30, 2 seeds")
    args = parser.parse_args()
    configs = args.configs.split(",")
    if "independent" not in configs:
        configs.insert(0, "independent")
    settings = [("h2o2", 30), ("h2o2", 60), ("h2o2", 120), ("analytic", 30), ("analytic", 60)]
    seeds = args.seeds
    if args.quick:
        settings, seeds = [("analytic", 30)], 2
    start = time.perf_counter()
    run(settings, configs, seeds, args.fraction, args.n_test)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

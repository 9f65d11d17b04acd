"""Time of ``Campaign.suggest`` for a fitted model: 200 observations, a 5000-candidate pool.

The H2/O2 problem: ``--experiments`` experiments with both tasks measured (2 observations each),
a pool of ``--pool`` Sobol conditions; the model is fitted once (``campaign.model``), then
``suggest(q)`` is timed ``--repeats`` times (each call records its suggestion as pending, so every
call conditions on one more pending point). Printed: the median and largest wall-clock time per
strategy, the median CPU time of the process (all its threads: on a loaded machine the wall-clock time
is this spread over the cores the process actually got) and the number of torch threads.

    python benchmarks/suggest_speed.py                  # 100 experiments, pool 5000, q 1
    python benchmarks/suggest_speed.py --q 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.problems import H2O2Ignition


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--q", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--strategies", default="integrated_variance,max_variance,integrated_variance_per_cost"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    problem = H2O2Ignition()
    initial = problem.sample(args.experiments, seed=0)
    pool = problem.space.sample(args.pool, seed=1)
    print(
        f"{args.experiments} experiments ({2 * args.experiments} observations), pool of {args.pool}, "
        f"q={args.q}, torch threads {torch.get_num_threads()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in args.strategies.split(","):
            campaign = Campaign.create(
                Path(folder) / f"{name}.db",
                problem.space,
                problem.tasks,
                strategy=name,
                pool=pool,
                initial=initial,
            )
            start = time.perf_counter()
            campaign.model  # noqa: B018 - fit once, outside the timed calls
            fit_seconds = time.perf_counter() - start
            times, cpu = [], []
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                campaign.suggest(args.q)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            campaign.close()
            print(
                f"  {name:<30} suggest: median {np.median(times):.3f} s, max {max(times):.3f} s; "
                f"CPU time median {np.median(cpu):.3f} s (fit {fit_seconds:.1f} s, not timed)"
            )


if __name__ == "__main__":
    main()

"""A campaign whose experiments run in parallel on a Dask cluster (here a LocalCluster).

Usage: python examples/parallel_dask.py [--out outputs/examples] [--fast] [--processes]

The experiments are Cantera simulations of H2/O2 shock-tube ignition (the built-in problem): each
batch of suggestions is spread over the cluster's workers by ``Campaign.run(..., executor=...)``,
which accepts any ``concurrent.futures.Executor``; a Dask client's ``get_executor()`` is one. Each
result is recorded in the campaign store as soon as its simulation finishes, so a crash loses only
the experiments still running. On a real cluster replace ``LocalCluster`` by the scheduler's
address: ``Client("tcp://scheduler:8786")``.
"""

import argparse
from pathlib import Path

from distributed import Client, LocalCluster

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.plotting import arrhenius_plot, task_correlation_heatmap
from mtgp_kinetics.problems import H2O2Ignition


def main() -> None:
    parser = argparse.ArgumentParser(description="A campaign evaluated in parallel on a Dask cluster.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="fewer experiments and restarts (CI)")
    parser.add_argument("--processes", action="store_true", help="worker processes instead of threads")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    budget, q, restarts = (4, 2, 1) if args.fast else (16, 4, 2)

    problem = H2O2Ignition()
    db = args.out / "parallel_dask.db"
    db.unlink(missing_ok=True)
    campaign = Campaign.create(
        db,
        problem.space,
        problem.tasks,
        initial=problem.sample(8, seed=0, observed_fraction={"f_branch": 0.5}),
        restarts=restarts,
    )
    # Two workers; threads by default (nothing to pickle), processes with --processes (then the
    # oracle, a bound method of the problem, is pickled to each worker).
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=args.processes, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")
        report = campaign.run(
            problem.evaluate, budget=budget, q=q, executor=client.get_executor(), progress=False
        )
    print(f"stopped: {report.reason} after {report.total_experiments} experiments")
    print(campaign.observations()[[*problem.space.names, "task", "value"]].tail(2 * q).to_string(index=False))

    model: mk.KineticsModel = campaign.model
    print("task correlation:\n" + model.task_correlation().round(2).to_string())
    arrhenius_plot(model, "tau_ign", fixed={"P": 5.0, "phi": 1.0}).savefig(
        args.out / "parallel_dask_arrhenius.png", dpi=120
    )
    task_correlation_heatmap(model.task_correlation()).savefig(
        args.out / "parallel_dask_task_correlation.png", dpi=120
    )
    campaign.close()
    print(f"wrote {db} and PNGs to {args.out}")


if __name__ == "__main__":
    main()

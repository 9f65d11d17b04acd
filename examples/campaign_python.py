"""An active-learning campaign with the Python API, on the analytic kinetics problem.

Usage: python examples/campaign_python.py [--out outputs/examples] [--fast]

The "laboratory" is :class:`mtgp_kinetics.problems.AnalyticKinetics`: a rate constant ``log_k``
and a branching fraction ``f_a`` over T and P, correlated by construction, measured with noise.
The campaign starts from 6 experiments; the first batch is an explicit ask/tell round (suggest,
measure, observe), as with a real laboratory; the rest runs batch by batch with ``Campaign.run``.
After each batch the campaign's model is scored on 200 held-out conditions, next to a space-filling
(Sobol) design of the same size: the PNG shows what choosing the experiments bought.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.plotting import learning_curve, task_correlation_heatmap
from mtgp_kinetics.problems import AnalyticKinetics


class Laboratory:
    """Noisy measurements of the analytic problem (its measurement noise, seeded draws)."""

    def __init__(self, problem: AnalyticKinetics, seed: int = 1) -> None:
        self.problem = problem
        self.rng = np.random.default_rng(seed)

    def __call__(self, conditions: pd.DataFrame) -> pd.DataFrame:
        """Measure every task at ``n`` conditions: ``n`` rows, one column per task."""
        results = self.problem.evaluate(conditions)
        for task in self.problem.tasks:
            tf = task.output_transform
            z = tf.forward(results[task.name].to_numpy(dtype=float))
            noise = self.problem.noise_std[task.name] * self.rng.standard_normal(len(z))
            results[task.name] = tf.inverse(z + noise)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Active-learning campaign with the Python API.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="fewer experiments and restarts (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    batches, q, restarts = (2, 3, 1) if args.fast else (6, 4, 2)

    problem = AnalyticKinetics(n_tasks=2)
    lab = Laboratory(problem)
    db = args.out / "campaign_python.db"
    db.unlink(missing_ok=True)
    campaign = Campaign.create(
        db, problem.space, problem.tasks, initial=problem.sample(6, seed=0), restarts=restarts
    )  # strategy "integrated_variance", the default

    # One ask/tell round by hand: suggestions stay pending until their results are observed.
    batch = campaign.suggest(q)
    print(batch[["suggestion_id", *problem.space.names, "strategy"]].round(3).to_string(index=False))
    results = lab(batch[problem.space.names])
    results.insert(0, "suggestion_id", batch["suggestion_id"].to_numpy())
    campaign.observe(results)

    # The closed loop, one batch at a time, scoring the model after each against a Sobol design.
    test = problem.space.sample(200, seed=10_000)
    truth = problem.evaluate(test)
    rows = []
    for step in range(batches):
        if step:
            campaign.run(lab, budget=q, q=q, progress=False)
        n = campaign.n_experiments
        sobol = mk.fit(
            mk.Dataset.from_frame(problem.sample(n, seed=3), problem.space, problem.tasks), restarts=restarts
        )
        for design, model in (("campaign", campaign.model), ("sobol", sobol)):
            scores = held_out_scores(model.predict(test), truth, problem.tasks, level=0.95)
            rows += [
                {"design": design, "experiments": n, "task": t, "rmse": r} for t, r in scores["rmse"].items()
            ]
    curves = pd.DataFrame(rows)
    print(curves.pivot_table(index=["experiments", "task"], columns="design", values="rmse").round(3))
    for task in problem.task_names:
        fig = learning_curve(curves[curves["task"] == task], x="experiments", y="rmse", hue="design")
        fig.axes[0].set_title(f"held-out RMSE of {task} (modelled space)")
        fig.savefig(args.out / f"campaign_python_{task}.png", dpi=120)
    task_correlation_heatmap(campaign.model.task_correlation()).savefig(
        args.out / "campaign_python_task_correlation.png", dpi=120
    )
    campaign.close()
    print(f"wrote {db} and PNGs to {args.out}")


if __name__ == "__main__":
    main()

"""How sure are we that ignition delay and branching share their chemistry? The task correlation's posterior.

Usage: python examples/bayesian_task_correlation.py [--out outputs/examples] [--fast]

Fits 25 simulated H2/O2 shock-tube experiments (the built-in Cantera problem with its measurement
noise: ignition delay everywhere, the H + O2 branching fraction at 40 % of them) twice with the same ICM
kernel: by MAP (one number for the task correlation) and fully Bayesian by NUTS (a posterior over
it, with a credible interval). Writes ``trace.png`` and ``rank.png`` (did the chains mix?),
``task_correlation.png`` (the posterior of the correlation) and prints the convergence summary.
``--fast`` runs two short chains (for CI: the figures are then not converged, and say so).
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import mtgp_kinetics as mk
from mtgp_kinetics.problems import H2O2Ignition


def _save(axes: object, path: Path) -> None:
    figure = np.ravel(axes)[0].figure
    figure.tight_layout()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description="Posterior of the task correlation by NUTS.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="two short chains instead of the defaults (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    problem = H2O2Ignition()  # T, P, phi; tau_ign (log10) and f_branch (logit)
    frame = problem.sample(25, seed=0, observed_fraction={"f_branch": 0.4})
    data = mk.Dataset.from_frame(frame, problem.space, problem.tasks)

    # 1. MAP: one value of the correlation, however little data supports it.
    point = mk.fit(data, "icm", check_transfer=False)
    print("MAP task correlation:", round(float(point.task_correlation().iloc[0, 1]), 3))

    # 2. NUTS over every hyperparameter, from the MAP fit (defaults: 4 chains x 500 draws).
    chains = {"num_warmup": 40, "num_samples": 40, "num_chains": 2} if args.fast else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mk.ConvergenceWarning)
        model = mk.fit(data, "icm", method="nuts", progress=not args.fast, **chains)
    for warning in caught:
        print("warning:", warning.message)
    print(model)
    print("posterior of the task correlation (95 % credible interval):")
    print(model.task_correlation_summary(level=0.95).round(3).to_string(index=False))

    # 3. Did the chains converge? R-hat, bulk and tail ESS per parameter, divergences, BFMI.
    table = model.diagnostics(warn=False)
    print(table.round(3).to_string(index=False))
    print(f"divergences: {table.attrs['divergences']}, BFMI per chain: {np.round(table.attrs['bfmi'], 2)}")

    # 4. Figures (ArviZ): traces and ranks of the main quantities, the correlation's posterior.
    names = ["lengthscale", "task_correlation", "noise_std"]
    _save(model.plot_trace(names), args.out / "trace.png")
    _save(model.plot_rank(names), args.out / "rank.png")
    _save(model.plot_task_correlation(level=0.95), args.out / "task_correlation.png")
    print(f"wrote trace.png, rank.png and task_correlation.png to {args.out}")


if __name__ == "__main__":
    main()

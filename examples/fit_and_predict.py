"""Fit a multi-task GP to shock-tube data in a CSV file and predict at new conditions.

Usage: python examples/fit_and_predict.py [--out outputs/examples] [--fast]

The CSV is simulated here (Cantera H2/O2 ignition, 25 experiments); replace it with your own file
holding one column per condition and one per measured output, empty where not measured.
"""

import argparse
from pathlib import Path

import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.plotting import arrhenius_plot
from mtgp_kinetics.problems import H2O2Ignition


def main() -> None:
    parser = argparse.ArgumentParser(description="Fit an H2/O2 ignition model from a CSV and predict.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="one optimizer restart instead of four (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. The experiments: T [K], P [atm], phi [-], tau_ign [s] (all rows), f_branch [-] (40% of rows).
    problem = H2O2Ignition()
    csv = args.out / "h2o2_experiments.csv"
    problem.sample(25, seed=0, observed_fraction={"f_branch": 0.4}).to_csv(csv, index=False)

    # 2. Read and validate them; the space and tasks say the units and how each is modelled
    #    (1000/T, ln P; log10 tau_ign, logit f_branch).
    data = mk.Dataset.from_csv(csv, problem.space, problem.tasks)
    print(data)

    # 3. Fit a linear model of coregionalization: the tasks share information.
    model = mk.fit(data, kernel="lmc", restarts=1 if args.fast else 4)

    # 4. Predict both outputs with 95% credible intervals, in physical units.
    new = pd.DataFrame({"T": [1000.0, 1200.0, 1400.0], "P": [1.0, 5.0, 10.0], "phi": [1.0, 1.0, 1.0]})
    pred = model.predict(new, level=0.95)
    columns = ["T", "P", "phi", "task", "mean", "lower", "upper"]
    print(pred[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("task correlation:")
    print(model.task_correlation().round(2).to_string())

    # 5. An Arrhenius plot of the ignition delay at 5 atm, phi = 1, with the data.
    png = args.out / "arrhenius_tau_ign.png"
    arrhenius_plot(model, "tau_ign", fixed={"P": 5.0, "phi": 1.0}).savefig(png, dpi=150)
    print(f"wrote {csv} and {png}")


if __name__ == "__main__":
    main()

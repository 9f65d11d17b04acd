"""Fit a multi-task GP to shock-tube data in a CSV file and predict at new conditions.

Usage: python examples/fit_and_predict.py [--csv FILE] [--out outputs/examples] [--fast]

The CSV has one column per condition (``T`` in K, ``P`` in atm, ``phi``) and one per measured
output (``tau_ign`` in s; ``f_branch``, a fraction), empty where not measured. Without ``--csv``
the script first writes such a file, ``<out>/h2o2_experiments.csv``: 25 simulated H2/O2
experiments (Cantera, with the measurement noise of ``mtgp_kinetics.problems.H2O2Ignition``; the
branching fraction at 40 % of them). To use your own data, pass ``--csv`` and change the space and
tasks below to your columns.
"""

import argparse
from pathlib import Path

import pandas as pd

import mtgp_kinetics as mk
from mtgp_kinetics.plotting import arrhenius_plot


def write_simulated_experiments(path: Path) -> Path:
    """Write 25 simulated H2/O2 shock-tube experiments as a CSV (what a lab's file would look like)."""
    from mtgp_kinetics.problems import H2O2Ignition

    frame = H2O2Ignition().sample(25, seed=0, observed_fraction={"f_branch": 0.4})
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Fit an ignition model from a CSV and predict.")
    parser.add_argument("--csv", type=Path, default=None, help="the measurements (default: simulated)")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="one optimizer restart instead of four (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. Describe the experiments once: units and how each quantity is modelled
    #    (1000/T, ln P; log10 of the delay, logit of the fraction).
    space = mk.Space(
        [
            mk.Continuous("T", 900.0, 1500.0, unit="K", transform="inverse"),
            mk.Continuous("P", 0.5, 20.0, unit="atm", transform="log"),
            mk.Continuous("phi", 0.5, 2.0),
        ]
    )
    tasks = [
        mk.Task("tau_ign", unit="s", transform="log10", kind="rate"),
        mk.Task("f_branch", transform="logit", kind="mechanism"),
    ]

    # 2. Read and validate the file (a bad cell raises InputDataError naming its column and row).
    csv = args.csv or write_simulated_experiments(args.out / "h2o2_experiments.csv")
    data = mk.Dataset.from_csv(csv, space, tasks)
    print(data)

    # 3. Fit the default model: the tasks share what helps them and opt out of what would not.
    model = mk.fit(data, restarts=1 if args.fast else 4)
    print(f"kept structure {model.kernel.name!r}")

    # 4. Predict both outputs with 95% credible intervals, in physical units.
    new = pd.DataFrame({"T": [1000.0, 1200.0, 1400.0], "P": [1.0, 5.0, 10.0], "phi": [1.0, 1.0, 1.0]})
    pred = model.predict(new, level=0.95)
    columns = ["T", "P", "phi", "task", "mean", "lower", "upper"]
    print(pred[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("task correlation:")
    print(model.task_correlation().round(2).to_string())
    pred.to_csv(args.out / "predictions.csv", index=False)

    # 5. An Arrhenius plot of the ignition delay at 5 atm, phi = 1, with the data.
    png = args.out / "arrhenius_tau_ign.png"
    arrhenius_plot(model, "tau_ign", fixed={"P": 5.0, "phi": 1.0}).savefig(png, dpi=150)
    print(f"wrote {args.out / 'predictions.csv'} and {png}")


if __name__ == "__main__":
    main()

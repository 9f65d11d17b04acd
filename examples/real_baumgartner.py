"""Pd-catalysed C-N couplings in droplets: a multi-task GP over four nucleophiles (Baumgartner 2019).

Usage: python examples/real_baumgartner.py [--data ../shared/data/baumgartner_cn_coupling]
                                           [--out DIR] [--fast]

Each nucleophile is a task: its yield, modelled as logit, over precatalyst and base (categorical),
ln base equivalents, temperature, ln t_res and ln precatalyst loading. Censored rows (">= 90 %") are
left out and yields at 0.1 % or above 100 % clipped, each with a DataWarning. The script fits the
default model, prints the learned correlation between the nucleophiles, checks calibration by
5-fold cross-validation over whole experiments, and replays the measurements as an active-learning
campaign: the integrated-variance strategy chooses the next measured row, against random order.
``--fast`` uses a sixth of the rows and short fits (for CI).
"""

import argparse
import warnings
from pathlib import Path

import numpy as np

import mtgp_kinetics as mk
from mtgp_kinetics.datasets import load_baumgartner, replay
from mtgp_kinetics.model_checking import held_out_physical
from mtgp_kinetics.plotting import learning_curve, parity_plot, task_correlation_heatmap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "baumgartner_cn_coupling"


def main() -> None:
    parser = argparse.ArgumentParser(description="Multi-task GP on measured C-N coupling yields.")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the data set (data.csv)")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="a sixth of the rows, short fits (CI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. Load: the set's quirks are handled with a DataWarning each (printed here).
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", mk.DataWarning)
        data = load_baumgartner(args.data).data
    for note in notes:
        print("note:", note.message)
    fit_options = {"restarts": 1, "max_iter": 40} if args.fast else {"restarts": 2}
    if args.fast:
        keep = np.random.default_rng(0).permutation(data.n_observations)[: data.n_observations // 6]
        data = data.subset(np.sort(keep))
    print(data)

    # 2. The default multi-task model and what it learned about the tasks.
    model = mk.fit(data, **fit_options)
    print(f"kept structure {model.kernel.name!r}; tasks opted out of sharing: {model.selection_.opted_out}")
    corr = model.task_correlation()
    print("learned task correlation:\n" + corr.round(2).to_string())
    task_correlation_heatmap(corr).savefig(args.out / "baumgartner_task_correlation.png", dpi=120)

    # 3. Calibration by experiment: 5 folds of whole experiments, hyperparameters fixed.
    print(
        "5-fold cross-validation (logit of the yield):\n" + model.cross_validate(folds=5).round(3).to_string()
    )
    frame = held_out_physical(model, by="condition", folds=5)  # physical units, 95 % intervals
    task = model.tasks[0]
    parity_plot(frame, task=task, observed_label="measured").savefig(
        args.out / "baumgartner_cv_parity.png", dpi=120
    )

    # 4. Replay: which measured row would the strategy have run next?
    steps = 2 if args.fast else 5
    result = replay(data, steps=steps, n_start=10, **fit_options)
    print(f"replay ({result.seconds:.0f} s): rows needed to reach the whole-pool test RMSE")
    print(result.needed.round(3).to_string(index=False))
    fig = learning_curve(result.curves, x="rows", y="rmse", hue="order")
    fig.savefig(args.out / "baumgartner_replay.png", dpi=120)
    print(f"wrote PNGs to {args.out}")


if __name__ == "__main__":
    main()

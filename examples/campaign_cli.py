"""An active-learning campaign from the shell: mtgp-kinetics init, suggest, observe, status, report.

Usage: python examples/campaign_cli.py [--out outputs/examples] [--fast]

This script only plays the user at a terminal: every step is one ``mtgp-kinetics`` command (run
here with :mod:`subprocess`, printed before it runs, so you can copy it). The "laboratory" that fills
in the suggestion sheets is the analytic kinetics problem (``log_k`` and ``f_a`` over T and P). The
commands, as you would type them::

    mtgp-kinetics init campaign.toml --db campaign.db
    mtgp-kinetics suggest --db campaign.db -q 3 --out batch.csv
    # ... run the experiments, fill in the log_k and f_a columns of batch.csv ...
    mtgp-kinetics observe batch.csv --db campaign.db
    mtgp-kinetics status --db campaign.db
    mtgp-kinetics report --db campaign.db --out report/
"""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mtgp_kinetics.problems import AnalyticKinetics

TOML = """\
[campaign]
strategy = "integrated_variance"
seed = 0
restarts = {restarts}

[[conditions]]
name = "T"
lower = 600
upper = 1200
unit = "K"
transform = "inverse"

[[conditions]]
name = "P"
lower = 0.1
upper = 10
unit = "bar"
transform = "log"

[[tasks]]
name = "log_k"
unit = "cm3/mol/s"
transform = "log10"
kind = "rate"

[[tasks]]
name = "f_a"
transform = "logit"
kind = "mechanism"
"""


def mtgp(*arguments: str) -> str:
    """Run ``mtgp-kinetics ARGUMENTS`` (the installed command, via this Python) and return its output."""
    print("$ mtgp-kinetics " + shlex.join(arguments), flush=True)
    command = [sys.executable, "-m", "mtgp_kinetics.cli", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mtgp-kinetics failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout, flush=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description="Active-learning campaign with the command line.")
    parser.add_argument("--out", type=Path, default=Path("outputs/examples"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="fewer batches and restarts (CI)")
    args = parser.parse_args()
    work = args.out / "campaign_cli"
    work.mkdir(parents=True, exist_ok=True)
    batches, q, restarts = (1, 3, 1) if args.fast else (5, 4, 2)
    problem = AnalyticKinetics(n_tasks=2)

    config, db = work / "campaign.toml", work / "campaign.db"
    config.write_text(TOML.format(restarts=restarts))
    db.unlink(missing_ok=True)
    mtgp("init", str(config), "--db", str(db))
    for batch in range(batches):
        sheet = work / f"batch_{batch}.csv"
        mtgp("suggest", "--db", str(db), "-q", str(q), "--out", str(sheet))
        # The laboratory fills in the sheet: measured values in the task columns.
        filled = pd.read_csv(sheet)
        measured = problem.evaluate(filled[problem.space.names])
        for task in problem.task_names:
            filled[task] = measured[task].to_numpy()
        filled.to_csv(sheet, index=False)
        mtgp("observe", str(sheet), "--db", str(db))
    mtgp("status", "--db", str(db))
    mtgp("report", "--db", str(db), "--out", str(args.out / "campaign_cli_report"))


if __name__ == "__main__":
    main()

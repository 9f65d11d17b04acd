"""The ``mtgp-kinetics`` command line.

One sub-command per task a user runs from a shell; each is registered by a ``_add_<name>`` function
that adds its parser and sets ``handler`` (a function ``Namespace -> exit code``). Errors of the
toolkit (:class:`~mtgp_kinetics.errors.MtgpError`) are reported as ``error: <message>`` on stderr
with exit code 2 and no traceback; argparse reports bad arguments the same way.

Sub-commands
------------
``demo``
    Fit a multi-task and an independent GP to simulated H2/O2 shock-tube data (Cantera), score them
    on held-out conditions and write figures and the model.
``init``
    Create a campaign database from a TOML description (conditions, tasks, settings).
``suggest``
    Suggest a batch of experiments and write a sheet to fill in with the results.
``observe``
    Record a CSV of results in the campaign (all or nothing).
``pending``
    List the pending suggestions and write their sheet again (a sheet lost, or never written).
``abandon``
    Mark pending suggestions as abandoned (an experiment that will not be run).
``status``
    Observations per task, pending suggestions and, once a model can be fitted, its largest
    predictive std per task, the learned task correlation and results it cannot explain.
``report``
    PNG figures of a campaign: learning curve, Arrhenius plots, leave-one-out parity plots, task
    correlation.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtgp_kinetics import __version__
from mtgp_kinetics.campaign.config import EXAMPLE_TOML
from mtgp_kinetics.campaign.costs import pays_for
from mtgp_kinetics.campaign.results import DUPLICATE_POLICIES
from mtgp_kinetics.errors import InputDataError, MtgpError
from mtgp_kinetics.model import OUTLIER_Z
from mtgp_kinetics.model_checking import held_out_physical, held_out_scores
from mtgp_kinetics.space import Categorical, condition_text
from mtgp_kinetics.tasks import Task

if TYPE_CHECKING:
    from mtgp_kinetics.model import KineticsModel

#: Exit code of a run stopped by an MtgpError (argparse uses the same for bad arguments).
EXIT_ERROR = 2

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: The demo's held-out conditions are drawn with ``seed + TEST_SEED_OFFSET``: never the training design.
TEST_SEED_OFFSET = 10_000

_SubParsers = Any  # argparse's private _SubParsersAction


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# -- demo ------------------------------------------------------------------------------------------
_DEMO_EPILOG = """\
example:
  mtgp-kinetics demo --steps 20 --seed 0 --out outputs/demo

A simulated active-learning campaign on the built-in Cantera H2/O2 shock-tube problem (ignition
delay tau_ign and branching fraction f_branch, both measured in every experiment, with 10%
measurement noise). From the same initial Sobol design, one campaign chooses each next experiment
with the default strategy (largest reduction of the integrated predictive variance of both
outputs) and one picks at random. At the end it prints, for both, the held-out RMSE and NLPD per
task on noise-free conditions, how many experiments the default needed to match random's final
accuracy, the learned task correlation and why the campaign stopped; it writes the learning
curves (default vs random), an Arrhenius plot, a parity plot, the task-correlation heat map and
both campaign databases to --out. Cantera results are cached on disk ($MTGP_KINETICS_CACHE, else
~/.cache/mtgp_kinetics), so a second run is faster.
"""

#: Demo arms: label -> campaign strategy (``None``: the campaign default).
DEMO_ARMS: dict[str, str | None] = {"default": None, "random": "random"}


def _add_demo(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="simulated active-learning campaign on H2/O2 ignition: default strategy vs random",
        description=(
            "Run a simulated active-learning campaign against the Cantera H2/O2 shock-tube problem "
            "with the default strategy and with random sampling, and compare them."
        ),
        epilog=_DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--steps", type=_positive_int, default=None, help="experiments to choose (default 20)"
    )
    parser.add_argument(
        "--initial",
        type=_positive_int,
        default=8,
        help="initial Sobol experiments shared by both arms (default 8)",
    )
    parser.add_argument(
        "--test", type=_positive_int, default=None, help="held-out noise-free conditions (default 200)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help=f"seed of the design, noise and fits; test conditions use seed + {TEST_SEED_OFFSET}",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)"
    )
    parser.add_argument("--fast", action="store_true", help="small run for CI: steps=3, test=40 unless given")
    parser.set_defaults(handler=run_demo)


def modelled_unit(task: Task) -> str:
    """How a task's modelled value reads, e.g. ``"log10(tau_ign / s)"`` or ``"logit(f_branch)"``."""
    inner = f"{task.name} / {task.unit}" if task.unit else task.name
    return inner if task.transform == "none" else f"{task.transform}({inner})"


def experiments_to_reach(history: pd.DataFrame, target: dict[str, float]) -> int | None:
    """First number of experiments at which every task's ``rmse`` in ``history`` is <= its target."""
    wide = history.pivot_table(index="experiments", columns="task", values="rmse")
    ok = np.all([wide[task] <= value for task, value in target.items()], axis=0)
    return int(wide.index[ok][0]) if ok.any() else None


def run_demo(args: argparse.Namespace) -> int:
    """The ``demo`` sub-command (see ``mtgp-kinetics demo --help``)."""
    # Imported here: Cantera and matplotlib are only needed by this command.
    from mtgp_kinetics import plotting
    from mtgp_kinetics.campaign import Campaign, Stalled
    from mtgp_kinetics.campaign.history import learning_history
    from mtgp_kinetics.campaign.oracle import NoisyOracle
    from mtgp_kinetics.problems import H2O2Ignition

    steps = args.steps if args.steps is not None else (3 if args.fast else 20)
    n_test = args.test if args.test is not None else (40 if args.fast else 200)
    level = 0.95
    out: Path = args.out
    _make_out(out)
    problem = H2O2Ignition()
    space, tasks = problem.space, problem.tasks
    print(
        f"Simulated campaign on the Cantera H2/O2 shock-tube problem: {args.initial} initial Sobol "
        f"experiments, then {steps} chosen by each strategy (both tasks measured, 10% noise)."
    )
    initial = problem.sample(args.initial, seed=args.seed)
    test = problem.evaluate(space.sample(n_test, seed=args.seed + TEST_SEED_OFFSET), progress=False)
    oracle = NoisyOracle(problem, seed=args.seed)

    campaigns: dict[str, Any] = {}
    reports: dict[str, Any] = {}
    budget = steps
    for label, strategy in DEMO_ARMS.items():
        path = out / f"campaign_{label}.db"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)  # the demo's own database from an earlier run
        options = {} if strategy is None else {"strategy": strategy}
        campaign = Campaign.create(path, space, tasks, initial=initial, seed=args.seed, **options)
        print(f"{label}: strategy {campaign.settings['strategy']}")
        stop = [Stalled(patience=8, rel_tol=0.01)] if strategy is None else []
        # The demo shows its progress bar wherever it runs (the README promises one).
        reports[label] = campaign.run(oracle, budget=budget, stop=stop, progress=True)
        # The random arm gets as many experiments as the default actually ran.
        budget = reports[label].experiments
        campaigns[label] = campaign

    scores: dict[str, pd.DataFrame] = {}
    histories = []
    predictions: dict[str, pd.DataFrame] = {}
    for label, campaign in campaigns.items():
        model = campaign.model
        predictions[label] = model.predict(test[space.names], level=level)
        scores[label] = held_out_scores(predictions[label], test, tasks, level)
        history = learning_history(
            model, campaign.observations(), test[space.names], truth=test, start=args.initial
        )
        histories.append(history.assign(strategy=label))
    history = pd.concat(histories, ignore_index=True)

    random_final = history[(history["strategy"] == "random")]
    random_final = random_final[random_final["experiments"] == random_final["experiments"].max()]
    target = dict(zip(random_final["task"], random_final["rmse"], strict=True))
    needed = experiments_to_reach(history[history["strategy"] == "default"], target)
    total = campaigns["default"].n_experiments

    print()
    print(
        f"Held-out scores on {n_test} noise-free conditions (Cantera truth), {total} experiments each. "
        "RMSE and NLPD\nare in modelled units; NLPD is the negative log density, at the truth, of a "
        "Gaussian with the latent\npredictive's mean and std (observation_noise=False, with the "
        "hyperparameters' own uncertainty), averaged; lower is better.\n(learning_curve.csv scores "
        "every prefix at the final hyperparameters, without that term, so its last NLPD differs "
        "slightly.)"
    )
    for task in tasks:
        print(f"{task.name} (modelled as {modelled_unit(task)}):")
        print(f"  {'strategy':<10} {'RMSE':>8} {'NLPD':>8} {f'{level:.0%} cov.':>9}")
        for label, frame in scores.items():
            row = frame.loc[task.name]
            print(f"  {label:<10} {row['rmse']:>8.4f} {row['nlpd']:>8.3f} {row['coverage']:>9.3f}")
    print()
    reached = (
        f"did not reach it within {total} experiments"
        if needed is None
        else f"reached it after {needed} experiments"
    )
    print(
        f"Random sampling's final accuracy ({total} experiments: "
        + ", ".join(f"{k} RMSE {v:.4f}" for k, v in target.items())
        + f"): the default strategy {reached} (same hyperparameters for every prefix)."
    )
    final = campaigns["default"].model
    if final.kernel.shares_tasks:
        print("Task correlation learned by the default campaign:")
    else:
        print(
            f"Task correlation of the default campaign's model ({NOT_SHARED}: the default keeps "
            "the tasks apart where sharing does not pay in leave-one-condition-out):"
        )
    print(final.task_correlation().rename_axis(index=None, columns=None).round(3).to_string())
    print(f"Why the default campaign stopped: {reports['default'].message}")

    figures = {}
    for task in tasks:
        rows = history[history["task"] == task.name]
        figure = plotting.learning_curve(rows, x="experiments", y="rmse", hue="strategy")
        figure.axes[0].set_ylabel(f"held-out RMSE of {modelled_unit(task)}")
        figure.axes[0].set_title(f"{task.name}: default strategy vs random", fontsize="medium")
        figures[f"learning_curve_{task.name}.png"] = figure
    figures.update(uncertainty_figures(history, tasks, prefix="uncertainty", n_points=n_test))
    model = campaigns["default"].model
    figures["arrhenius_tau_ign.png"] = plotting.arrhenius_plot(model, "tau_ign", level=level)
    for task in tasks:
        frame = predictions["default"]
        frame = frame[frame["task"] == task.name].copy()
        frame["observed"] = test[task.name].to_numpy()
        figures[f"parity_{task.name}.png"] = plotting.parity_plot(
            frame, task=task, observed_label="true (noise-free)"
        )
    figures["task_correlation.png"] = plotting.task_correlation_heatmap(
        model.task_correlation(), title=correlation_title(model)
    )
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=120)
    history.to_csv(out / "learning_curve.csv", index=False)
    for campaign in campaigns.values():
        campaign.close()
    written = [*figures, "learning_curve.csv", *(f"campaign_{label}.db" for label in campaigns)]
    print(f"Wrote {len(written)} files to {out}:")
    for name in written:
        print(f"  {name}")
    return 0


# -- campaign commands -------------------------------------------------------------------------------
#: Most suspicious results ``status`` refits the model without before scoring them (see
#: :meth:`KineticsModel.outliers <mtgp_kinetics.model.KineticsModel.outliers>`).
STATUS_OUTLIER_REFITS = 3

#: Modelled unit of a log-modelled task's std, by transform: the unit status and report give it in.
LOG_UNITS = {"log10": "decades", "log": "ln units"}

#: Sobol points at which ``status`` looks for the largest predictive std.
STATUS_POINTS = 256

#: Column of a suggestions sheet listing the tasks asked for (dropped by ``observe``).
TASKS_COLUMN = "tasks"

_INIT_EPILOG = f"""\
example:
  mtgp-kinetics init campaign.toml --db campaign.db

campaign.toml describes the conditions, the tasks and the settings:

{textwrap.indent(EXAMPLE_TOML, "  ")}
An existing database is never overwritten.
"""

_SUGGEST_EPILOG = """\
example:
  mtgp-kinetics suggest --db campaign.db -q 4 --out batch.csv

Records the suggestions as pending and writes a sheet with suggestion_id, the conditions, the tasks
asked for and one empty column per task: fill in the measured values (leave a cell empty if not
measured) and record it with 'mtgp-kinetics observe'. Without --out the sheet is
suggestions_<batch>.csv next to the database (suggestions_<batch>_<database name>.csv if another
campaign's sheet has that name, then ..._2.csv and on); an existing file is never overwritten.
With too few observations to fit a model the suggestions are space-filling Sobol points. A lost
sheet is written again by 'mtgp-kinetics pending --out'.
"""

_PENDING_EPILOG = """example:
  mtgp-kinetics pending --db campaign.db --out still_to_run.csv

Lists the suggestions still waiting for results (id, batch, conditions, the tasks not yet measured).
With --out, writes them as a sheet to fill in, in the format 'mtgp-kinetics suggest' writes: for a
sheet that was lost, overwritten or never written (a full disk). --batch limits it to one batch.
"""

_OBSERVE_EPILOG = """\
example:
  mtgp-kinetics observe batch.csv --db campaign.db

The CSV has a row per experiment: suggestion_id (empty for an experiment that was not suggested,
which then needs every condition column), the condition columns, one column per task with the
measured value in physical units, and optionally 'note' (the 'tasks' column of a suggestions
sheet is ignored). Nothing is recorded if any row is wrong; the error names the row (as a
spreadsheet numbers it: the header is row 1) and the column.

The condition cells of a suggested experiment must be the suggested ones (rounded to three or more
significant digits is fine), or empty. If the experiment ran at other conditions (a furnace that
settled at 1203 K instead of 1200 K), write those and pass --as-run: the result is recorded at the
conditions given and still answers its suggestion.

A value that repeats one already recorded (same task, value and conditions) is refused, so a sheet
observed twice does not count its experiments twice. Observing a growing lab sheet again, or a
campaign's export (mtgp-kinetics export; its 'source' and 'recorded_at' columns are ignored), pass
--duplicates skip to record only the new values; --duplicates record keeps true replicates that gave
the same number. --replace corrects results: a suggestion's, or an unsolicited one at the same
conditions; values that did not change are left alone.
"""

_STATUS_EPILOG = f"""\
example:
  mtgp-kinetics status --db campaign.db

Prints the observations and awaited results per task, the pending suggestions and where the
campaign stands against its stopping rules ([stop] in its TOML: experiments, cost, target std per
task), and whether it is done. Once every task
has enough observations, fits the model and prints each task's largest predictive std (latent, in
physical units) over {STATUS_POINTS} points where experiments can run (the pool, the feasible part of
the space, or the whole space), where it is (for a log-modelled task also its widest interval,
in decades), the learned task correlation, and the results more
than 4 leave-one-out standard deviations from the model (a typo, a failed run).
"""

_ABANDON_EPILOG = """example:
  mtgp-kinetics abandon 12 13 --db campaign.db

Marks pending suggestions as abandoned: the campaign stops waiting for them and later suggestions no
longer treat them as pending. Results already recorded for them are kept; a completed suggestion
cannot be abandoned. Nothing is changed if any id is unknown or completed.
"""


def _add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, required=True, help="the campaign database (SQLite file)")


def _add_init(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create a campaign database from a TOML description",
        description=(
            "Create a campaign database from a TOML description of its conditions, tasks and settings."
        ),
        epilog=_INIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="the campaign's TOML file")
    _add_db_argument(parser)
    parser.set_defaults(handler=run_init)


def _add_suggest(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "suggest",
        help="suggest a batch of experiments and write a sheet for their results",
        description="Suggest a batch of experiments, record them as pending and write a sheet to fill in.",
        epilog=_SUGGEST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_db_argument(parser)
    parser.add_argument("-q", type=_positive_int, default=1, help="batch size (default 1)")
    parser.add_argument(
        "--out", type=Path, default=None, help="sheet to write (default suggestions_<batch>.csv next to --db)"
    )
    parser.add_argument(
        "--over-budget",
        action="store_true",
        help="suggest even beyond the campaign's cost budget ([stop] max_cost), which is otherwise kept",
    )
    parser.set_defaults(handler=run_suggest)


def _add_observe(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "observe",
        help="record a CSV of results in the campaign",
        description="Record a CSV of results in the campaign, all or nothing.",
        epilog=_OBSERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", type=Path, help="CSV of results (e.g. a filled-in suggestions sheet)")
    _add_db_argument(parser)
    parser.add_argument(
        "--replace",
        action="store_true",
        help="correct results already recorded for a suggestion (the old values are kept as superseded)",
    )
    parser.add_argument(
        "--as-run",
        action="store_true",
        help="condition cells that differ from a suggestion's are the conditions actually run",
    )
    parser.add_argument(
        "--duplicates",
        choices=DUPLICATE_POLICIES,
        default="error",
        help="values that repeat a recorded observation: refuse the file (default), skip them, or "
        "record them (true replicates)",
    )
    parser.set_defaults(handler=run_observe)


def _add_pending(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "pending",
        help="list the pending suggestions and write their sheet again",
        description="List the pending suggestions; with --out, write them as a sheet to fill in.",
        epilog=_PENDING_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_db_argument(parser)
    parser.add_argument("--out", type=Path, default=None, help="write the sheet to this new file")
    parser.add_argument("--batch", type=_positive_int, default=None, help="only this batch")
    parser.set_defaults(handler=run_pending)


def run_pending(args: argparse.Namespace) -> int:
    """The ``pending`` sub-command (see ``mtgp-kinetics pending --help``)."""
    from mtgp_kinetics.campaign import Campaign

    campaign = Campaign.open(args.db)
    try:
        pending = campaign.store.pending()
        names = campaign.store.space.names
        tasks = campaign.store.tasks
    finally:
        campaign.close()
    if args.batch is not None:
        pending = pending[pending["batch_id"] == args.batch]
    if pending.empty:
        which = "" if args.batch is None else f" in batch {args.batch}"
        print(f"No pending suggestions{which}.")
        return 0
    shown = _format_conditions(pending, names)
    shown.insert(0, "batch", pending["batch_id"].to_numpy())
    shown.insert(0, "suggestion_id", pending["suggestion_id"].to_numpy())
    shown["still to measure"] = [", ".join(m) for m in pending["missing"]]
    print(shown.to_string(index=False))
    if args.out is not None:
        sheet = _results_sheet(pending, names, tasks, [list(m) for m in pending["missing"]])
        written = write_new_csv(sheet, args.out, "--out")
        print(f"Wrote {written}: fill it in and run 'mtgp-kinetics observe {written} --db {args.db}'")
    return 0


def _results_sheet(
    suggestions: pd.DataFrame, names: Sequence[str], tasks: Sequence[Task], asked: Sequence[Sequence[str]]
) -> pd.DataFrame:
    """The sheet to fill in: ``suggestion_id``, the conditions, the tasks asked and empty task columns."""
    sheet = suggestions[["suggestion_id", *names]].copy()
    sheet[TASKS_COLUMN] = [";".join(t) for t in asked]
    for task in tasks:
        sheet[task.name] = np.nan
        if task.noise_column is not None:  # the measurement std, physical units, beside the value
            sheet[task.noise_column] = np.nan
    return sheet


def check_new_file(path: Path, what: str) -> None:
    """Refuse (:class:`InputDataError`, ``what`` naming the option) a path that exists or has no folder."""
    if path.exists():
        raise InputDataError(f"{what}: {str(path)!r} already exists; choose another file")
    if not path.parent.is_dir():
        raise InputDataError(f"{what}: no folder {str(path.parent)!r}")


def write_new_csv(frame: pd.DataFrame, path: Path, what: str) -> Path:
    """Write ``frame`` to the new file ``path``, complete or not at all; never overwrite a file.

    The rows go to a temporary file beside ``path``, which is then linked to ``path`` (an atomic
    step that fails if ``path`` exists, so two processes cannot write the same sheet).

    Raises
    ------
    InputDataError
        If ``path`` exists, its folder does not, or the file cannot be written (``what`` names it).
    """
    check_new_file(path, what)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_csv(temporary, index=False)
        os.link(temporary, path)
    except FileExistsError:
        raise InputDataError(f"{what}: {str(path)!r} already exists; choose another file") from None
    except OSError as err:
        raise InputDataError(f"{what}: cannot write {str(path)!r}: {err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return path


def _add_abandon(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "abandon",
        help="mark pending suggestions as abandoned",
        description="Mark pending suggestions as abandoned (experiments that will not be run).",
        epilog=_ABANDON_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ids", type=_positive_int, nargs="+", help="suggestion ids")
    _add_db_argument(parser)
    parser.set_defaults(handler=run_abandon)


def run_abandon(args: argparse.Namespace) -> int:
    """The ``abandon`` sub-command (see ``mtgp-kinetics abandon --help``)."""
    from mtgp_kinetics.campaign import Campaign

    campaign = Campaign.open(args.db)
    try:
        newly = campaign.store.abandon(args.ids)
        asked = len(set(args.ids))
        print(f"Abandoned {newly} suggestion(s); {asked - newly} already were.")
        print("\n".join(_counts_lines(campaign)))
    finally:
        campaign.close()
    return 0


_SETTINGS_EPILOG = """example:
  mtgp-kinetics settings --db campaign.db --set 'fixed = {}' --set 'min_distance = 0.05'

Prints the campaign's settings, or changes them: each --set is one line of the [campaign] table of
the TOML ('key = value' in TOML syntax). Changeable: strategy, strategy_options, fit_options,
kernel, restarts, task_weights, min_distance, fixed, constraints and stop; 'fixed = {}' releases
every fixed value, 'constraints = []' every constraint. The next suggest uses them; results and
pending suggestions stay, and the change is logged with its time. Nothing changes if any value
is refused. The pool and the seed stay: a new pool is a new campaign (export, then init with
initial = "export.csv").
"""


def _add_settings(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "settings",
        help="show or change a campaign's settings (release a fixed value, min_distance, ...)",
        description="Show the campaign's settings, or change them with --set.",
        epilog=_SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_db_argument(parser)
    parser.add_argument(
        "--set",
        dest="changes",
        action="append",
        default=[],
        metavar="'KEY = VALUE'",
        help="a setting in TOML syntax, e.g. 'fixed = {}' (repeatable)",
    )
    parser.set_defaults(handler=run_settings)


def run_settings(args: argparse.Namespace) -> int:
    """The ``settings`` sub-command (see ``mtgp-kinetics settings --help``)."""
    import tomllib

    from mtgp_kinetics.campaign import Campaign

    changes: dict[str, Any] = {}
    for text in args.changes:
        try:
            parsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputDataError(f"--set {text!r}: not a TOML 'key = value' line ({err})") from None
        if len(parsed) != 1:
            raise InputDataError(f"--set {text!r}: give one 'key = value' per --set")
        changes.update(parsed)
    campaign = Campaign.open(args.db)
    try:
        settings = campaign.update_settings(**changes) if changes else campaign.settings
        if changes:
            print(f"Changed {', '.join(sorted(changes))}; the next suggest uses the new settings.")
        for key, value in settings.items():
            if key == "pool":
                value = None if value is None else f"{len(value)} candidate conditions"
            print(f"  {key} = {value}")
        rules = campaign.feasibility.rules()
        print(f"Every suggestion obeys: {'; '.join(rules)}" if rules else "No fixed values or constraints.")
    finally:
        campaign.close()
    return 0


_EXPORT_EPILOG = """example:
  mtgp-kinetics export results.csv --db campaign.db

Writes every current result: one row per experiment (suggestion_id, empty for an experiment that was
not suggested; the conditions; one column per task; source, recorded_at, note), or with --long one
row per result with its ids. The file can be edited and observed again: observe results.csv
--replace corrects the values that changed and leaves the others alone. Another campaign reads it
once its suggestion_id column is removed (the rows are then unsolicited experiments).
"""


def _add_export(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the recorded results to a CSV file",
        description="Write the campaign's current results to a CSV file (replaced if it exists).",
        epilog=_EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--long", action="store_true", help="one row per result instead of per experiment")
    _add_db_argument(parser)
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """The ``export`` sub-command (see ``mtgp-kinetics export --help``)."""
    from mtgp_kinetics.campaign import Campaign

    out: Path = args.out
    if out.is_dir():
        raise InputDataError(f"export: {str(out)!r} is a folder; give a CSV file name")
    if not out.parent.is_dir():
        raise InputDataError(f"export: folder {str(out.parent)!r} does not exist")
    campaign = Campaign.open(args.db)
    try:
        rows = campaign.store.export_csv(out, form="long" if args.long else "wide")
        n = len(campaign.observations())
    finally:
        campaign.close()
    kind = "result" if args.long else "experiment"
    print(f"Wrote {rows} row(s) to {out}, one per {kind} ({n} result(s) in all)")
    return 0


def _add_status(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show observations, pending suggestions and the model's largest uncertainty",
        description=(
            "Show the observations per task, the pending suggestions and, once a model can be "
            "fitted, its largest predictive std per task and the learned task correlation."
        ),
        epilog=_STATUS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_db_argument(parser)
    parser.set_defaults(handler=run_status)


def _format_conditions(frame: pd.DataFrame, space_names: Sequence[str]) -> pd.DataFrame:
    """Conditions for printing: floats with 6 significant digits."""
    out = frame[list(space_names)].copy()
    for name in space_names:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name].map(lambda v: f"{v:.6g}")
    return out


def _counts_lines(campaign: Any) -> list[str]:
    """Per-task counts and pending suggestions, as text lines."""
    counts = campaign.store.counts()
    table = counts[["observations", "awaited"]].rename(columns={"observations": "observed"})
    lines = ["Observations per task:"]
    lines += ["  " + line for line in table.rename_axis(index=None).to_string().splitlines()]
    pending = campaign.store.pending()
    lines.append(
        f"Pending suggestions: {len(pending)}; experiments so far (run or pending): {campaign.n_experiments}"
    )
    return lines


def run_init(args: argparse.Namespace) -> int:
    """The ``init`` sub-command (see ``mtgp-kinetics init --help``)."""
    from mtgp_kinetics.campaign import Campaign
    from mtgp_kinetics.campaign.config import load_campaign_config

    space, tasks, settings = load_campaign_config(args.config)
    if args.db.exists():
        raise InputDataError(f"--db: {str(args.db)!r} already exists; a campaign is never overwritten")
    try:
        campaign = Campaign.create(args.db, space, tasks, **settings)
    except InputDataError as err:
        # The settings come from the file (strategy, its options, targets...): say which file.
        raise InputDataError(f"{str(args.config)!r} [campaign]: {err}") from None
    try:
        print(f"Created campaign {args.db}")
        print("Conditions:")
        for v in space.variables:
            if isinstance(v, Categorical):
                print(f"  {v.name}: levels {', '.join(v.levels)}")
            else:
                print(f"  {v.label}: {v.lower:g} to {v.upper:g} (modelled as {_coordinate_text(v)})")
        print("Tasks:")
        for task in tasks:
            print(f"  {task.label}: modelled as {modelled_unit(task)}, kind {task.kind}, cost {task.cost:g}")
        kernel = settings["kernel"] or "default"
        print(
            f"Strategy {settings['strategy']}, kernel {kernel}, seed {settings['seed']}, "
            f"restarts {settings['restarts']}"
            + ("" if settings["pool"] is None else f", pool of {len(settings['pool'])} candidates")
        )
        rules = campaign.feasibility.rules()
        if rules:
            print(f"Every suggestion obeys: {'; '.join(rules)}")
        print(
            f"Minimum distance to observed and pending conditions: {settings['min_distance']:g} "
            "(normalized model coordinates, each axis [0, 1]; TOML key min_distance)"
        )
        stop = settings.get("stop")
        if stop:
            print("Stops at: " + ", ".join(f"{key} {value}" for key, value in stop.items()))
        print("\n".join(_counts_lines(campaign)))
    finally:
        campaign.close()
    return 0


def _write_batch_sheet(sheet: pd.DataFrame, out: Path | None, db: Path, batch: int) -> Path:
    """Write a batch's sheet to ``out``, or by default to a new file named after the batch.

    The default is ``suggestions_<batch>.csv`` beside the database, or, if that file exists (another
    campaign's sheet in the same folder), ``suggestions_<batch>_<database stem>.csv``, then
    ``..._2.csv``, ``..._3.csv`` and so on (a database restored from a backup suggests batch numbers
    again). The name is chosen after the batch is recorded, so two ``suggest`` commands run at once
    write two sheets.
    """
    if out is not None:
        return write_new_csv(sheet, out, "--out")
    names = [f"suggestions_{batch}.csv", f"suggestions_{batch}_{db.stem}.csv"]
    names += [f"suggestions_{batch}_{db.stem}_{k}.csv" for k in range(2, 100)]
    for name in names:
        path = db.parent / name
        try:
            return write_new_csv(sheet, path, "the sheet")
        except InputDataError:
            if not path.exists():
                raise
    raise InputDataError(f"the sheet: every name from {names[0]!r} to {names[-1]!r} exists; give --out")


def run_suggest(args: argparse.Namespace) -> int:
    """The ``suggest`` sub-command (see ``mtgp-kinetics suggest --help``)."""
    from mtgp_kinetics.campaign import Campaign

    if args.out is not None:  # checked before the suggestions are made and recorded
        check_new_file(args.out, "--out")
    campaign = Campaign.open(args.db)
    try:
        if campaign.can_fit():
            print(f"Fitting the model on {len(campaign.observations())} observations...")
        done = campaign.should_stop()
        left = None if args.over_budget else campaign.cost_left()
        cheapest = None if left is None else campaign.measurement_cost()
        if left is not None and cheapest is not None and not pays_for(left, cheapest):
            # Money is not experiments: other rules only add a note, a spent budget refuses.
            raise InputDataError(
                f"the campaign's cost budget is spent ({left:.10g} left, the next suggestion costs "
                f"{cheapest:.10g}); nothing was suggested. Pass --over-budget to suggest all the same"
            )
        if done is not None:
            print(f"Note: the campaign's stopping rules say it is done ({done.message}); suggesting anyway.")
        suggestions = campaign.suggest(args.q, max_cost=left)
        if left is not None and len(suggestions) < args.q:  # cut to the cost budget ([stop] max_cost)
            print(
                f"Note: the cost budget left ({left:.10g}) pays for {len(suggestions)} of the "
                f"{args.q} experiments asked for."
            )
        names = campaign.store.space.names
        tasks = campaign.store.tasks
    finally:
        campaign.close()

    batch = int(suggestions["batch_id"].iloc[0])
    sheet = _results_sheet(suggestions, names, tasks, list(suggestions["tasks"]))
    try:
        out = _write_batch_sheet(sheet, args.out, args.db, batch)
    except InputDataError as err:
        ids = suggestions["suggestion_id"]
        raise InputDataError(
            f"batch {batch} (suggestion ids {ids.min()}-{ids.max()}) is recorded as pending, but its "
            f"sheet was not written: {err}. Write it with 'mtgp-kinetics pending --db {args.db} "
            f"--batch {batch} --out FILE'"
        ) from err

    print(f"Batch {batch}: {len(suggestions)} suggestion(s) by {suggestions['strategy'].iloc[0]}")
    shown = _format_conditions(suggestions, names)
    shown.insert(0, "suggestion_id", suggestions["suggestion_id"].to_numpy())
    shown[TASKS_COLUMN] = sheet[TASKS_COLUMN].str.replace(";", ", ").to_numpy()
    values = suggestions["acquisition_value"].to_numpy(dtype=float)
    if np.isfinite(values).any():
        shown["acquisition_value"] = [f"{v:.4g}" for v in values]
    print(shown.to_string(index=False))
    stds = [t.noise_column for t in tasks if t.noise_column is not None]
    what = "the task columns" + (f" and the measurement stds ({', '.join(stds)})" if stds else "")
    print(f"Wrote {out}: fill in {what} and run 'mtgp-kinetics observe {out} --db {args.db}'")
    return 0


def run_observe(args: argparse.Namespace) -> int:
    """The ``observe`` sub-command (see ``mtgp-kinetics observe --help``)."""
    from mtgp_kinetics.campaign import Campaign

    path: Path = args.results
    if not path.is_file():
        raise InputDataError(f"no CSV file at {str(path)!r}")
    campaign = Campaign.open(args.db)
    try:
        # A suggestions sheet's 'tasks' column is one of the columns a results frame may carry back.
        n = campaign.store.import_csv(
            path, replace=args.replace, as_run=args.as_run, duplicates=args.duplicates
        )
        print(f"Recorded {n} observation(s) from {path}")
        sheet = _read_sheet_quietly(path, campaign.store.space)
        given = _measured_values(sheet, campaign.store.tasks)
        if given == 0:
            names = ", ".join(t.name for t in campaign.store.tasks)
            print(
                f"Warning: {path} holds no result (every cell of the task columns {names} is empty): "
                "fill in the measured values and run observe again.",
                file=sys.stderr,
            )
        if given > n:
            print(f"Left alone {given - n} value(s) equal to results already recorded.")
        for line in _still_pending_lines(path, sheet, campaign):
            print(line)
        print("\n".join(_counts_lines(campaign)))
    finally:
        campaign.close()
    return 0


def _read_sheet_quietly(path: Path, space: Any) -> pd.DataFrame:
    """The results CSV as the import read it (placeholders as NaN), without warning a second time."""
    from mtgp_kinetics.csv_files import read_csv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the import has already warned about this file
        return read_csv(path, space)


def _still_pending_lines(path: Path, sheet: pd.DataFrame, campaign: Any) -> list[str]:
    """The sheet's suggestions that still wait for a measurement, with any placeholder text read as none.

    ``sheet`` is the file as :func:`_read_sheet_quietly` read it. A cell of ``n/a``, ``NaN``, ``-``
    and the like means "not measured", as an empty one does: the suggestion stays pending for that
    task. Saying so keeps a placeholder from passing unnoticed; the cells' text is read again only
    then, as plain text.
    """
    from mtgp_kinetics.csv_files import NA_TEXT

    if "suggestion_id" not in sheet.columns:
        return []
    ids = set(pd.to_numeric(sheet["suggestion_id"], errors="coerce").dropna().astype(int))
    pending = campaign.store.pending()
    pending = pending[pending["suggestion_id"].isin(ids)]
    if pending.empty:
        return []
    lines = [f"Still pending from this sheet ({len(pending)} suggestion(s)): measure, or abandon:"]
    for row in pending.head(8).to_dict("records"):
        lines.append(f"  suggestion {row['suggestion_id']}: {', '.join(row['missing'])}")
    if len(pending) > 8:
        lines.append(f"  ... and {len(pending) - 8} more ('mtgp-kinetics pending' lists them)")
    text = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    placeholders = []
    for task in campaign.store.tasks:
        if task.name not in text.columns:
            continue
        cells = text[task.name].str.strip()
        marked = cells[cells.isin([mark for mark in NA_TEXT if mark])]
        placeholders += [f"{value!r} ({task.name})" for value in sorted(set(marked))]
    if placeholders:
        lines.append(f"  (cells reading {', '.join(placeholders)} were taken as not measured)")
    return lines


def _measured_values(sheet: pd.DataFrame, tasks: Sequence[Task]) -> int:
    """Number of task values in a results sheet (cells of task columns that are not empty)."""
    from mtgp_kinetics.frame_parsing import blank_cells

    return int(sum((~blank_cells(sheet[t.name])).sum() for t in tasks if t.name in sheet.columns))


def run_status(args: argparse.Namespace) -> int:
    """The ``status`` sub-command (see ``mtgp-kinetics status --help``)."""
    from mtgp_kinetics.campaign import Campaign

    campaign = Campaign.open(args.db)
    try:
        print(f"Campaign {args.db}")
        print("\n".join(_counts_lines(campaign)))
        print("\n".join(_stopping_lines(campaign)))
        if not campaign.can_fit():
            print("Too few observations to fit a model yet (each task needs 2, and 3 in all).")
            return 0
        print(f"Fitting the model on {len(campaign.observations())} observations...")
        model = campaign.model
        space = campaign.store.space
        points = campaign.region(STATUS_POINTS, seed=int(campaign.settings["seed"]))
        prediction = model.predict(points, observation_noise=False)
        print(
            f"Largest predictive std over {STATUS_POINTS} points where experiments can run (latent, "
            "physical units, including the hyperparameters' own uncertainty):"
        )
        for task in campaign.store.tasks:
            for line in _largest_uncertainty_lines(prediction[prediction["task"] == task.name], task, space):
                print(line)
        for line in _few_observations_lines(campaign):
            print(line)
        print("Task correlation:")
        print(model.task_correlation().rename_axis(index=None, columns=None).round(3).to_string())
        for line in _correlation_interval_lines(model):
            print(line)
        _print_outliers(model)
    finally:
        campaign.close()
    return 0


def _largest_uncertainty_lines(rows: pd.DataFrame, task: Task, space: Any) -> list[str]:
    """``status``'s lines for one task: its largest std and, if log-modelled, its widest interval.

    A log-modelled task's std in physical units is largest where the value is largest (a slow
    ignition), not where the model knows least, and a heavy-tailed predictive (a task averaged
    over the hyperparameters) can have a std above its interval's upper end. Its widest interval
    in decades is the model's own uncertainty, so that is printed too.
    """
    unit = f" {task.unit}" if task.unit else ""
    std = rows["std"].to_numpy(dtype=float)
    row = rows.iloc[int(np.argmax(std))]
    lines = [
        f"  {task.name}: {row['std']:.4g}{unit} (95 % interval {row['lower']:.3g} to {row['upper']:.3g}) "
        f"at {condition_text(row, space.names)}"
    ]
    transform = task.output_transform.name
    if transform in LOG_UNITS:
        widest = rows.iloc[int(np.argmax(rows["transformed_std"].to_numpy(dtype=float)))]
        lines.append(
            f"    widest interval: {widest['lower']:.3g} to {widest['upper']:.3g}{unit}, std "
            f"{_std_text(float(widest['transformed_std']), task)} in {transform}({task.name}), at "
            f"{condition_text(widest, space.names)}"
        )
    return lines


def _coordinate_text(variable: Any) -> str:
    """``"1000/T"``, ``"ln P"`` or ``"T"``: the coordinate a continuous condition is modelled in."""
    return {"inverse": f"1000/{variable.name}", "log": f"ln {variable.name}"}.get(
        variable.transform, f"{variable.name} (linear)"
    )


#: What a model that shares nothing says about its zero correlations.
NOT_SHARED = "independent GPs: 0 by construction, not measured"


def correlation_title(model: Any) -> str:
    """The correlation heat map's title: learned, or zero because nothing is shared."""
    if model.num_tasks >= 2 and not model.kernel.shares_tasks:
        return f"task correlation ({NOT_SHARED})"
    return "task correlation (learned)"


def _correlation_interval_lines(model: Any) -> list[str]:
    """Each pair's 95 % credible interval of the task correlation, or why there is none."""
    if model.num_tasks < 2:
        return []
    if not model.kernel.shares_tasks:
        return [
            f"  ({NOT_SHARED}: the model keeps the tasks apart, as the default does where sharing "
            "does not pay in leave-one-condition-out; the data may still hold a correlation)"
        ]
    summary = model.task_correlation_summary(0.95)
    if summary["lower"].isna().any():
        return ["  (no credible interval: the hyperparameter posterior could not be sampled reliably)"]
    lines = ["95 % credible intervals (hyperparameter posterior):"]
    for row in summary.to_dict("records"):
        if not row["shared"]:
            lines.append(f"  {row['task']} ~ {row['task_']}: not shared ({NOT_SHARED})")
            continue
        lines.append(
            f"  {row['task']} ~ {row['task_']}: median {row['median']:.2f}, [{row['lower']:.2f}, "
            f"{row['upper']:.2f}], P(correlation > 0) = {row['prob_positive']:.2f}"
        )
    return lines


def _few_observations_lines(campaign: Any) -> list[str]:
    """A caveat for each task measured too rarely for its intervals to mean much (else nothing)."""
    from mtgp_kinetics.api import few_observations_message

    message = few_observations_message(campaign.store.counts()["observations"])
    return [] if message is None else [f"Caution: {message}"]


def _stopping_lines(campaign: Any) -> list[str]:
    """The campaign's stopping rules ([stop] of its TOML), where it stands and whether to stop."""
    rules = campaign.stopping_rules()
    if not rules:
        return ["Stopping rules: none set ([stop] in the campaign's TOML)"]
    lines = ["Stopping rules:"] + [f"  {rule.progress(campaign)}" for rule in rules]
    report = campaign.should_stop(rules)  # the same rules: a target std is predicted once
    lines.append(f"  -> done: {report.message}" if report is not None else "  -> not done yet")
    return lines


def _print_outliers(model: KineticsModel) -> None:
    """List recorded results more than 4 leave-one-out stds from the model (a typo, a failed run)."""
    flagged = model.outliers(refit=STATUS_OUTLIER_REFITS)
    if flagged.empty:
        print(f"No result lies more than {OUTLIER_Z:g} leave-one-out standard deviations from the model.")
        return
    print(
        f"{len(flagged)} result(s) lie more than {OUTLIER_Z:g} leave-one-out standard deviations from "
        "what the model predicts from the others (check them; correct one with observe --replace):"
    )
    tasks = {task.name: task for task in model.tasks}
    for r in flagged.to_dict("records"):
        print(f"  {_result_text(r, tasks[r['task']], model.space.names)}, z = {r['z']:+.1f}")


def _result_text(r: dict[str, Any], task: Task, conditions: list[str]) -> str:
    """``observation 45 (suggestion 12): conversion = 93.1 % at T=650, P=2`` for a flagged result.

    Says where the value came from (the suggestion, or the file and its row), so it can be found
    in ``export`` or the sheet and corrected with ``observe --replace``.
    """
    if "observation_id" not in r:
        origin = f"row {r['row']}"
    elif not pd.isna(r.get("suggestion_id")):
        # Ids are integers; a column with missing ids comes back as float (1.0).
        origin = f"observation {int(r['observation_id'])} (suggestion {int(r['suggestion_id'])})"
    else:
        row = r.get("source_row")
        row = int(row) if isinstance(row, (int, float, np.number)) and not pd.isna(row) else row
        origin = f"observation {int(r['observation_id'])} (from {r.get('source')}, row {row})"
    value = float(task.output_transform.inverse(np.asarray(r["observed"])))
    unit = f" {task.unit}" if task.unit else ""
    return f"{origin}: {task.name} = {value:.4g}{unit} at {condition_text(r, conditions)}"


# -- report ----------------------------------------------------------------------------------------
#: Points of the campaign's region over which ``report`` summarizes the predictive std.
REPORT_POINTS = 256

_REPORT_EPILOG = f"""\
example:
  mtgp-kinetics report --db campaign.db --out report/

Fits the model on every observation of the campaign and writes PNG figures to --out:
  learning_curve_<task>.png  largest and mean predictive std (latent; physical units, but in
                             decades for a log10-modelled task, whose physical std grows with
                             the value itself) over
                             {REPORT_POINTS} points where experiments can run (the pool's rows, or
                             feasible Sobol points) against the number of experiments; each
                             prefix of the campaign is recomputed with the final model's
                             hyperparameters (what the data bought, no refit per step), without
                             the hyperparameters' own uncertainty that `status` includes
  arrhenius_<task>.png       each rate task against 1000/T with its 95% band (spaces with a
                             temperature: modelled as 1000/T, or in K or degC)
  parity_<task>.png          leave-one-out predictions against the observed values, 95% intervals
  task_correlation.png       the learned task correlation
and learning_curve.csv with the numbers behind the curves.
"""


def _add_report(subparsers: _SubParsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write PNG figures of a campaign: learning curve, Arrhenius, parity, task correlation",
        description=(
            "Write PNG figures of a campaign: learning curve per task, Arrhenius plots of the rate "
            "tasks, leave-one-out parity plots and the task-correlation heat map."
        ),
        epilog=_REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_db_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if needed)")
    parser.set_defaults(handler=run_report)


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputDataError(f"--out: cannot create the output folder {str(out)!r}: {err.strerror}") from None


def uncertainty_figures(
    history: pd.DataFrame,
    tasks: Sequence[Task],
    prefix: str = "learning_curve",
    n_points: int = REPORT_POINTS,
) -> dict:
    """Per task, a figure of the largest and mean predictive std against the number of experiments.

    A log-modelled task's std is drawn in its modelled unit (decades for ``log10``): in physical
    units it is largest where the value is largest and can grow with data while the model's
    relative uncertainty falls (a rate constant spanning decades). Every other task's std is drawn
    in physical units.

    Parameters
    ----------
    history : DataFrame
        :func:`~mtgp_kinetics.campaign.history.learning_history` output; with a ``strategy``
        column, one line per strategy and statistic.
    tasks : sequence of Task
        The tasks to draw.
    prefix : str
        File-name prefix of the figures.
    n_points : int
        Number of conditions the history summarizes (for the title).

    Returns
    -------
    dict of str to Figure
        ``"<prefix>_<task>.png"`` -> figure.
    """
    from mtgp_kinetics import plotting

    figures = {}
    for task in tasks:
        rows = history[history["task"] == task.name]
        largest, mean, label = _std_columns(task)
        long = rows.melt(
            id_vars=[c for c in ("experiments", "strategy") if c in rows.columns],
            value_vars=[largest, mean],
            var_name="statistic",
        )
        long["statistic"] = long["statistic"].map({largest: "largest std", mean: "mean std"})
        if "strategy" in long.columns:
            long["statistic"] = long["strategy"] + ": " + long["statistic"]
        figure = plotting.learning_curve(long, x="experiments", y="value", hue="statistic")
        ax = figure.axes[0]
        ax.set_ylabel(label)
        ax.set_title(
            f"{task.name}: latent predictive std over {n_points} conditions\n"
            "(final hyperparameters, their own uncertainty left out)",
            fontsize="medium",
        )
        figures[f"{prefix}_{task.name}.png"] = figure
    return figures


def _std_columns(task: Task) -> tuple[str, str, str]:
    """The history columns of ``task``'s largest and mean std, and their axis label.

    Modelled units for a log-modelled task (see :func:`uncertainty_figures`), else physical.
    """
    transform = task.output_transform.name
    if transform in LOG_UNITS:
        return (
            "max_transformed_std",
            "mean_transformed_std",
            f"predictive std of {transform}({task.name}) [{LOG_UNITS[transform]}]",
        )
    unit = f" [{task.unit}]" if task.unit else ""
    return "max_std", "mean_std", f"predictive std of {task.name}{unit}"


def _std_text(value: float, task: Task) -> str:
    """A std in the unit :func:`_std_columns` draws it in: ``"0.12 decades (x/÷ 1.32)"``, ``"3.1 K"``."""
    transform = task.output_transform.name
    if transform in LOG_UNITS:
        factor = 10.0**value if transform == "log10" else math.exp(value)
        return f"{value:.3g} {LOG_UNITS[transform]} (x/÷ {factor:.3g})"
    return f"{value:.4g}" + (f" {task.unit}" if task.unit else "")


def run_report(args: argparse.Namespace) -> int:
    """The ``report`` sub-command (see ``mtgp-kinetics report --help``)."""
    from mtgp_kinetics import plotting
    from mtgp_kinetics.campaign import Campaign
    from mtgp_kinetics.campaign.history import learning_history

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputDataError(f"--out: {str(out)!r} is a file; give a folder for the report's files")
    campaign = Campaign.open(args.db)
    try:
        if not campaign.can_fit():
            raise InputDataError(
                "report: too few observations to fit a model (each task needs 2, and 3 in all); "
                "observe more results first"
            )
        print(f"Fitting the model on {len(campaign.observations())} observations...")
        model = campaign.model
        space, tasks = campaign.store.space, campaign.store.tasks
        points = campaign.region(REPORT_POINTS, seed=int(campaign.settings["seed"]))
        history = learning_history(model, campaign.observations(), points)
        fixed = dict(campaign.feasibility.fixed)
        caution = _few_observations_lines(campaign)
    finally:
        campaign.close()
    _make_out(out)
    figures = uncertainty_figures(history, tasks)
    rate_tasks = [t for t in tasks if t.kind == "rate"]
    try:
        temperature = plotting.temperature_variable(space).name
    except InputDataError:
        temperature = None
    if rate_tasks and temperature is not None and temperature not in fixed:
        for task in rate_tasks:
            # At the campaign's fixed values, where its experiments are (the others: mid-range).
            figures[f"arrhenius_{task.name}.png"] = plotting.arrhenius_plot(model, task.name, fixed=fixed)
    elif temperature is not None and temperature in fixed:
        print(f"No Arrhenius plot: the campaign holds the temperature {temperature!r} fixed.")
    else:
        print(
            "No Arrhenius plot: it needs a rate task and a temperature (modelled as 1000/T, or in K or degC)."
        )
    parity = held_out_physical(model)
    for task in tasks:
        figures[f"parity_{task.name}.png"] = plotting.parity_plot(
            parity, task=task, observed_label="observed", predicted_label="leave-one-out predicted"
        )
    figures["task_correlation.png"] = plotting.task_correlation_heatmap(
        model.task_correlation(), title=correlation_title(model)
    )
    written = []
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=120)
        written.append(name)
    history.to_csv(out / "learning_curve.csv", index=False)
    written.append("learning_curve.csv")
    last = history[history["experiments"] == history["experiments"].max()]
    print(
        f"Predictive std after {int(last['experiments'].iloc[0])} experiments (latent; physical units, "
        "log-modelled tasks in their modelled unit; at the fitted hyperparameters, `status` also "
        "counts their uncertainty):"
    )
    by_name = {task.name: task for task in model.tasks}
    for row in last.to_dict("records"):
        task = by_name[row["task"]]
        largest, mean, _ = _std_columns(task)
        print(f"  {task.name}: largest {_std_text(row[largest], task)}, mean {_std_text(row[mean], task)}")
    for line in caution:
        print(line)
    print(f"Wrote {len(written)} files to {out}:")
    for name in written:
        print(f"  {name}")
    return 0


# -- entry point -----------------------------------------------------------------------------------
#: Sub-command registrars, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[_SubParsers], None], ...] = (
    _add_demo,
    _add_init,
    _add_suggest,
    _add_observe,
    _add_pending,
    _add_abandon,
    _add_settings,
    _add_export,
    _add_status,
    _add_report,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``mtgp-kinetics`` parser with every sub-command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="mtgp-kinetics",
        description="Bayesian multi-task Gaussian processes for chemical kinetics.",
        epilog=(
            "example:\n  mtgp-kinetics demo --fast\n\n"
            "Run 'mtgp-kinetics COMMAND --help' for the options of a command."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


#: ``"replace=True (CLI: observe --replace)"`` in a message written for both audiences.
_PYTHON_THEN_CLI = re.compile(r"(\S+) \(CLI: ([^()]*)\)")


def shell_first(message: str) -> str:
    """``message`` with each ``python (CLI: command)`` advice turned round for a shell user.

    ``"record with as_run=True (CLI: observe --as-run)"`` becomes ``"record with observe --as-run
    (Python: as_run=True)"``: the library's errors name the Python call first, and a reader at the
    command line should meet the command first.
    """
    return _PYTHON_THEN_CLI.sub(r"\2 (Python: \1)", message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 on success, 2 for an :class:`MtgpError` (printed as ``error: <message>``), 130
        after Ctrl-C (a one-line note instead of a traceback).
        ``--help`` and argument errors exit through ``SystemExit`` as argparse does.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except MtgpError as err:
        print(f"error: {shell_first(str(err))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Every write to the store is one transaction: an interrupted command recorded all or nothing.
        print(
            "interrupted: each record is its own transaction, so the store keeps everything recorded "
            "before the interrupt and nothing half-written. See 'mtgp-kinetics status'; a batch "
            "recorded without its sheet is written by 'mtgp-kinetics pending --out FILE'",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader left; nothing is wrong with the campaign.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

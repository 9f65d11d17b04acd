"""Tests of the ``mtgp-kinetics`` command line."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # headless; the CLI itself never touches pyplot

import numpy as np
import pandas as pd
import pytest

from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.cli import main, modelled_unit
from mtgp_kinetics.model_checking import held_out_scores
from mtgp_kinetics.tasks import Task

# A table row: strategy, RMSE, NLPD, coverage.
ROW = re.compile(r"^  (default|random)\s+(\S+)\s+(\S+)\s+(\S+)$")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # Cantera results go to a cache of this test, never the user's.
    monkeypatch.setenv("MTGP_KINETICS_CACHE", str(tmp_path / "cache"))


def test_demo_fast_runs_both_campaigns_and_writes_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--fast", "--initial", "6", "--test", "30", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out

    expected = [
        "learning_curve_tau_ign.png",
        "learning_curve_f_branch.png",
        "uncertainty_tau_ign.png",
        "arrhenius_tau_ign.png",
        "parity_tau_ign.png",
        "parity_f_branch.png",
        "task_correlation.png",
        "learning_curve.csv",
        "campaign_default.db",
        "campaign_random.db",
    ]
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        assert f"  {name}" in stdout
    assert "noise-free" in stdout and "observation_noise=False" in stdout

    # One table per task, one row per strategy, in that order.
    blocks = stdout.split("(modelled as ")[1:]
    assert [b.split(")")[0] for b in blocks] == ["log10(tau_ign / s", "logit(f_branch"]
    for block in blocks:
        rows = [ROW.match(line) for line in block.splitlines()]
        rows = [r for r in rows if r]
        assert [r.group(1) for r in rows] == ["default", "random"]
        for r in rows:
            rmse, nlpd, coverage = (float(r.group(i)) for i in range(2, 5))
            assert rmse > 0 and np.isfinite(nlpd) and 0.0 <= coverage <= 1.0

    assert "Why the default campaign stopped: budget: the campaign has 9 experiments" in stdout
    # Learned where the model shares; said to be 0 by construction where it keeps the tasks apart.
    shared = Campaign.open(out / "campaign_default.db")
    try:
        says = (
            "Task correlation learned by the default campaign"
            if shared.model.kernel.shares_tasks
            else "Task correlation of the default campaign's model (independent GPs: 0 by construction"
        )
    finally:
        shared.close()
    assert says in stdout
    # Both campaigns ran 6 + 3 experiments from the same initial design, and resume from disk.
    for label in ("default", "random"):
        campaign = Campaign.open(out / f"campaign_{label}.db")
        try:
            assert campaign.n_experiments == 9
            initial = campaign.observations()
            initial = initial[initial["source"] == "initial"]
            assert len(initial) == 12
        finally:
            campaign.close()
    curve = pd.read_csv(out / "learning_curve.csv")
    assert set(curve["strategy"]) == {"default", "random"}
    assert sorted(set(curve["experiments"])) == [6, 7, 8, 9]


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"]])
def test_help_exits_zero_with_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and "mtgp-kinetics demo" in text


def test_demo_help_lists_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    for option in ("--steps", "--initial", "--test", "--seed", "--out", "--fast"):
        assert option in text


def test_toolkit_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["demo", "--fast", "--out", str(blocker / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: --out: cannot create the output folder")
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--steps", "0"], "expected a positive integer, got '0'"),
        (["demo", "--initial", "x"], "expected a positive integer, got 'x'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_held_out_scores_match_hand_computation():
    task = Task("tau", unit="s", transform="log10")
    truth = pd.DataFrame({"tau": [1e-3, 1e-2]})
    # log10 truth: -3 and -2; predictions -3.1 +- 0.1 and -2 +- 0.2
    prediction = pd.DataFrame(
        {
            "task": ["tau", "tau"],
            "transformed_mean": [-3.1, -2.0],
            "transformed_std": [0.1, 0.2],
            "lower": [10**-3.3, 10**-2.4],
            "upper": [10**-2.9, 10**-1.6],
        }
    )
    scores = held_out_scores(prediction, truth, [task], level=0.95)
    assert scores.loc["tau", "rmse"] == pytest.approx(np.sqrt(0.01 / 2))
    nlpd = [0.5 * np.log(2 * np.pi * 0.01) + 0.5, 0.5 * np.log(2 * np.pi * 0.04)]
    assert scores.loc["tau", "nlpd"] == pytest.approx(np.mean(nlpd))
    assert scores.loc["tau", "coverage"] == 1.0


def test_modelled_unit():
    assert modelled_unit(Task("tau_ign", unit="s", transform="log10")) == "log10(tau_ign / s)"
    assert modelled_unit(Task("f", transform="logit")) == "logit(f)"
    assert modelled_unit(Task("y", unit="K")) == "y / K"

"""Tests of the campaign sub-commands of the command line: init, suggest, observe, status, report."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.campaign import Campaign
from mtgp_kinetics.campaign.config import load_campaign_config, load_space_and_tasks
from mtgp_kinetics.cli import build_parser, main
from mtgp_kinetics.errors import InputDataError
from mtgp_kinetics.problems import AnalyticKinetics

PROBLEM = AnalyticKinetics(n_tasks=2)

SPACE_AND_TASKS = """
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


def _write_config(folder, extra=""):
    path = folder / "campaign.toml"
    path.write_text(f'[campaign]\nseed = 0\nkernel = "independent"\nrestarts = 1\n{extra}\n{SPACE_AND_TASKS}')
    return path


def test_space_and_tasks_alone_do_not_read_the_campaign_table(tmp_path):
    # A data set's description may be a campaign file whose initial sheet has lab columns the
    # campaign would refuse (or is elsewhere): describing the set must not read it.
    path = _write_config(tmp_path, extra='initial = "not_here.csv"')
    with pytest.raises(InputDataError, match=r"not_here\.csv"):
        load_campaign_config(path)
    space, tasks = load_space_and_tasks(path)
    assert space == PROBLEM.space and [t.name for t in tasks] == ["log_k", "f_a"]
    (tmp_path / "bad.toml").write_text(SPACE_AND_TASKS.replace("lower = 600", "lower = 1600"))
    with pytest.raises(InputDataError, match="T"):
        load_space_and_tasks(tmp_path / "bad.toml")


def _fill(sheet_path, out_path, f_a=None):
    """Fill a suggestions sheet with AnalyticKinetics values (optionally overriding f_a)."""
    sheet = pd.read_csv(sheet_path)
    values = PROBLEM.evaluate(sheet[["T", "P"]])
    for name in ("log_k", "f_a"):
        sheet[name] = values[name].to_numpy()
    if f_a is not None:
        sheet["f_a"] = f_a
    sheet.to_csv(out_path, index=False)
    return out_path


def _counts(db):
    campaign = Campaign.open(db)
    try:
        return campaign.store.counts()["observations"].to_dict()
    finally:
        campaign.close()


def test_config_matches_the_problem(tmp_path):
    space, tasks, settings = load_campaign_config(_write_config(tmp_path))
    assert space == PROBLEM.space
    assert [t.to_dict() for t in tasks] == [t.to_dict() for t in PROBLEM.tasks]
    assert settings["kernel"] == "independent" and settings["restarts"] == 1 and settings["initial"] is None


def test_init_suggest_observe_status(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Created campaign" in out and "log10(log_k / cm3/mol/s)" in out

    # Never overwritten.
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 2
    assert "already exists" in capsys.readouterr().err

    assert main(["suggest", "--db", str(db), "-q", "3"]) == 0
    out = capsys.readouterr().out
    assert "sobol" in out
    sheet_path = tmp_path / "suggestions_1.csv"
    sheet = pd.read_csv(sheet_path)
    assert list(sheet.columns) == ["suggestion_id", "T", "P", "tasks", "log_k", "f_a"]
    assert len(sheet) == 3 and sheet[["log_k", "f_a"]].isna().all().all()
    assert (sheet["tasks"] == "log_k;f_a").all()
    for sid in sheet["suggestion_id"]:
        assert re.search(rf"^\s*{sid}\s", out, re.M)

    # An impossible value: nothing recorded, the row named, status unchanged.
    bad = _fill(sheet_path, tmp_path / "bad.csv", f_a=[0.3, 1.5, 0.4])
    assert main(["observe", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "f_a" in err and "row 3: 1.5" in err  # line 3 of the file
    assert _counts(db) == {"log_k": 0, "f_a": 0}
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Pending suggestions: 3" in out and "Too few observations" in out

    # The sheet as written, nothing filled in: nothing recorded, and said so.
    assert main(["observe", str(sheet_path), "--db", str(db)]) == 0
    captured = capsys.readouterr()
    assert "Recorded 0 observation(s)" in captured.out
    assert "holds no result (every cell of the task columns log_k, f_a is empty)" in captured.err
    assert _counts(db) == {"log_k": 0, "f_a": 0}

    good = _fill(sheet_path, tmp_path / "good.csv")
    assert main(["observe", str(good), "--db", str(db)]) == 0
    captured = capsys.readouterr()
    assert "Recorded 6 observation(s)" in captured.out and "holds no result" not in captured.err
    assert _counts(db) == {"log_k": 3, "f_a": 3}

    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s*log_k\s+3\s+0$", out, re.M)
    assert re.search(r"^\s*f_a\s+3\s+0$", out, re.M)
    assert "Pending suggestions: 0" in out
    assert re.search(r"^  log_k: \S+ cm3/mol/s \(95 % interval \S+ to \S+\) at T=", out, re.M)
    assert re.search(r"^  f_a: \S+ \(95 % interval 0\.\d+ to 0\.\d+\) at T=", out, re.M)
    # The log-modelled task also gets its widest interval, its std in decades.
    assert re.search(
        r"^    widest interval: \S+ to \S+ cm3/mol/s, std \S+ decades \(x/÷ \S+\) in log10\(log_k\), at T=",
        out,
        re.M,
    )
    assert "widest interval" not in out.split("  f_a: ")[1].split("\n")[1]  # a logit task has none
    assert "Task correlation" in out
    assert "No result lies more than 4 leave-one-out standard deviations" in out

    # The same results again: already recorded, so rejected as a whole.
    assert main(["observe", str(good), "--db", str(db)]) == 2
    assert "6 value(s) repeat results already recorded" in capsys.readouterr().err
    assert _counts(db) == {"log_k": 3, "f_a": 3}
    # ... unless told to skip what is already there (a sheet observed again).
    assert main(["observe", str(good), "--db", str(db), "--duplicates", "skip"]) == 0
    out = capsys.readouterr().out
    assert "Recorded 0 observation(s)" in out and "Left alone 6 value(s)" in out
    assert _counts(db) == {"log_k": 3, "f_a": 3}


def test_export_then_observe_the_edited_file(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "3"]) == 0
    assert (
        main(["observe", str(_fill(tmp_path / "suggestions_1.csv", tmp_path / "r.csv")), "--db", str(db)])
        == 0
    )
    capsys.readouterr()
    exported = tmp_path / "export.csv"
    assert main(["export", str(exported), "--db", str(db)]) == 0
    assert (
        "Wrote 3 row(s) to " in (out := capsys.readouterr().out)
        and "one per experiment (6 result(s) in all)" in out
    )
    frame = pd.read_csv(exported)
    assert len(frame) == 3 and {"suggestion_id", "source", "recorded_at"} <= set(frame.columns)
    # One value corrected in the export: --replace changes that one and leaves the others alone.
    frame.loc[0, "f_a"] = 0.123
    frame.to_csv(exported, index=False)
    assert main(["observe", str(exported), "--db", str(db), "--replace"]) == 0
    assert "Recorded 1 observation(s)" in capsys.readouterr().out
    assert _counts(db) == {"log_k": 3, "f_a": 3}
    assert main(["export", str(tmp_path / "long.csv"), "--db", str(db), "--long"]) == 0
    assert "observation_id" in pd.read_csv(tmp_path / "long.csv").columns
    assert main(["export", str(tmp_path), "--db", str(db)]) == 2
    assert "is a folder" in capsys.readouterr().err
    # Abandoning one id twice counts it once.
    assert main(["suggest", "--db", str(db), "-q", "1"]) == 0
    capsys.readouterr()
    assert main(["abandon", "4", "4", "--db", str(db)]) == 0
    assert "Abandoned 1 suggestion(s); 0 already were." in capsys.readouterr().out


def test_a_task_named_like_a_sheet_column_is_refused(tmp_path, capsys):
    config = _write_config(tmp_path)
    config.write_text(config.read_text().replace('name = "f_a"', 'name = "suggestion_id"'))
    assert 'name = "suggestion_id"' in config.read_text()
    assert main(["init", str(config), "--db", str(tmp_path / "c.db")]) == 2
    assert "['suggestion_id'] are columns of the campaign's own sheets" in capsys.readouterr().err
    assert not (tmp_path / "c.db").exists()


def test_observe_as_run(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "2"]) == 0
    capsys.readouterr()
    sheet = pd.read_csv(_fill(tmp_path / "suggestions_1.csv", tmp_path / "ran.csv"))
    suggested_T = float(sheet.loc[1, "T"])
    sheet.loc[1, "T"] = suggested_T + 3.0  # the second experiment ran 3 K hotter
    sheet.to_csv(tmp_path / "ran.csv", index=False)

    assert main(["observe", str(tmp_path / "ran.csv"), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "row 3, column(s) ['T']" in err and "--as-run" in err
    assert _counts(db) == {"log_k": 0, "f_a": 0}

    assert main(["observe", str(tmp_path / "ran.csv"), "--db", str(db), "--as-run"]) == 0
    campaign = Campaign.open(db)
    try:
        observations = campaign.observations()
        suggestions = campaign.store.suggestions()
    finally:
        campaign.close()
    assert sorted(observations["T"].unique()) == sorted([float(sheet.loc[0, "T"]), suggested_T + 3.0])
    assert suggested_T in set(suggestions["T"]) and set(suggestions["status"]) == {"completed"}


def test_suggest_with_initial_data_is_model_based(tmp_path, capsys):
    initial = PROBLEM.space.sample(6, seed=1)
    initial = PROBLEM.evaluate(initial)
    initial.to_csv(tmp_path / "initial.csv", index=False)
    config = _write_config(tmp_path, 'initial = "initial.csv"\nstrategy = "integrated_variance"')
    db = tmp_path / "campaign.db"
    assert main(["init", str(config), "--db", str(db)]) == 0
    assert re.search(r"^\s*log_k\s+6\s+0$", capsys.readouterr().out, re.M)

    out_csv = tmp_path / "batch.csv"
    assert main(["suggest", "--db", str(db), "-q", "2", "--out", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "by integrated_variance" in out and "sobol" not in out
    assert len(pd.read_csv(out_csv)) == 2
    campaign = Campaign.open(db)
    try:
        assert (campaign.store.suggestions()["strategy"] == "integrated_variance").all()
    finally:
        campaign.close()

    # An existing --out is not overwritten (and no suggestion is recorded).
    assert main(["suggest", "--db", str(db), "--out", str(out_csv)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[[conditions]]\nlower = 1\nupper = 2\n[[tasks]]\nname = "y"', "conditions[0].name"),
        ('[[conditions]]\nname = "T"\nupper = 2\n[[tasks]]\nname = "y"', "conditions[0] ('T').lower"),
        (
            '[[conditions]]\nname = "T"\nlower = 1\nupper = 2\nlevels = ["a"]\n[[tasks]]\nname = "y"',
            "conditions[0] ('T')",
        ),
        ('[[conditions]]\nname = "T"\nlower = 1\nupper = 2\nunits = "K"\n[[tasks]]\nname = "y"', "'units'"),
        ('[[conditions]]\nname = "T"\nlower = 1\nupper = 2', "[[tasks]]"),
        ('[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n[[tasks]]\nname = "y"\ncolour = 1', "'colour'"),
        (
            '[campaign]\nkernal = "icm"\n[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n'
            '[[tasks]]\nname = "y"',
            "'kernal'",
        ),
        (
            '[campaign]\nrestarts = 0\n[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n'
            '[[tasks]]\nname = "y"',
            "campaign.restarts",
        ),
        ('[[conditions]]\nname = "T"\nlower = 3\nupper = 2\n[[tasks]]\nname = "y"', "conditions[0] ('T')"),
        ('[[tasks]]\nname = "y"', "[[conditions]]"),
        (
            '[campaign]\ninitial = "missing.csv"\n[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n'
            '[[tasks]]\nname = "y"',
            "campaign.initial",
        ),
        (
            '[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n[[conditions]]\nname = "T"\nlower = 1\n'
            'upper = 2\n[[tasks]]\nname = "y"',
            "conditions[1] ('T').name: the condition 'T' appears twice",
        ),
        (
            '[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n[[tasks]]\nname = "y"\n[[tasks]]\nname = "y"',
            "tasks[1] ('y').name: the task 'y' appears twice",
        ),
        ("[[conditions]\n", "not valid TOML"),
        ('pool = "p.csv"\n[[tasks]]\nname = "y"', "top-level key 'pool'"),
        (
            '[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n[[tasks]]\nname = "y"\n[stop]\nbudget = 3',
            "[stop]: stop: unknown key(s) ['budget']",
        ),
        (
            '[[conditions]]\nname = "T"\nlower = 1\nupper = 2\n[[tasks]]\nname = "y"\n[stop]\n'
            "target_std = { z = 1.0 }",
            "stop.target_std names unknown task(s) ['z']",
        ),
    ],
)
def test_bad_toml_names_the_key(tmp_path, capsys, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(InputDataError) as info:
        load_campaign_config(path)
    assert key in str(info.value)
    db = tmp_path / "campaign.db"
    assert main(["init", str(path), "--db", str(db)]) == 2
    assert key in capsys.readouterr().err
    assert not db.exists()


def _commands() -> list[str]:
    """Every sub-command the parser knows."""
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(subparsers.choices)


def test_every_command_is_covered():
    assert set(_commands()) >= {
        "demo",
        "init",
        "suggest",
        "observe",
        "abandon",
        "settings",
        "export",
        "status",
        "report",
    }


@pytest.mark.parametrize("command", _commands())
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    # What it does (a description line) and a runnable example of this very command.
    assert re.search(rf"example:\n  mtgp-kinetics {command} ", out), out


def test_report_writes_every_figure(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    campaign = Campaign.create(
        db, PROBLEM.space, PROBLEM.tasks, initial=PROBLEM.sample(8, seed=1), kernel="independent", restarts=1
    )
    campaign.close()
    out = tmp_path / "report"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    names = [
        "learning_curve_log_k.png",
        "learning_curve_f_a.png",
        "arrhenius_log_k.png",
        "parity_log_k.png",
        "parity_f_a.png",
        "task_correlation.png",
        "learning_curve.csv",
    ]
    for name in names:
        assert (out / name).stat().st_size > 0, name
        assert f"  {name}" in stdout
    assert not (out / "arrhenius_f_a.png").exists()  # f_a is a mechanism task
    # A log-modelled task's std in decades (its physical std grows with the value itself).
    decades = r"\S+ decades \(x/÷ \S+\)"
    assert re.search(rf"^  log_k: largest {decades}, mean {decades}$", stdout, re.M), stdout
    assert re.search(r"^  f_a: largest \S+, mean \S+$", stdout, re.M), stdout
    curve = pd.read_csv(out / "learning_curve.csv")
    assert curve["experiments"].tolist() == [k for k in range(1, 9) for _ in range(2)]


def test_report_needs_observations(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    Campaign.create(db, PROBLEM.space, PROBLEM.tasks).close()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r")]) == 2
    assert "too few observations" in capsys.readouterr().err


def test_documented_example_toml_loads(tmp_path):
    """The example printed by `init --help` is a valid campaign description as written."""
    from mtgp_kinetics.campaign.config import EXAMPLE_TOML, load_campaign_config

    path = tmp_path / "example.toml"
    path.write_text(EXAMPLE_TOML)
    space, tasks, settings = load_campaign_config(path)
    assert space.names == ["T", "bath"]
    assert [t.name for t in tasks] == ["tau_ign"]
    assert settings["strategy"] == "integrated_variance" and settings["restarts"] == 2


def test_status_names_a_result_the_model_cannot_explain(tmp_path, capsys):
    """A campaign result entered a decade off is listed by observation id (nothing is removed)."""
    space = mk.Space([mk.Continuous("T", 700.0, 1400.0, unit="K", transform="inverse")])
    task = mk.Task("tau", unit="s", transform="log10", kind="rate")
    db = tmp_path / "campaign.db"
    campaign = Campaign.create(db, space, [task], kernel="independent")
    frame = space.sample(30, seed=0)
    frame["tau"] = 10.0 ** (-8.0 + 6000.0 / frame["T"] + np.random.default_rng(0).normal(0.0, 0.03, 30))
    frame.loc[7, "tau"] *= 10.0
    campaign.observe(frame)
    campaign.close()
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"1 result\(s\) lie more than 4 leave-one-out", out)
    # Named so it can be found in the frame or in `export` (ids count from 1, the frame's index
    # from 0), in physical units at its conditions.
    tau = frame.loc[7, "tau"]
    pattern = r"^  observation 8 \(from observe, row 7\): tau = (\S+) s at T=(\S+), z = \+\d"
    line = re.search(pattern, out, re.M)
    assert line, out
    assert float(line[1]) == pytest.approx(tau, rel=1e-3)
    assert float(line[2]) == pytest.approx(frame.loc[7, "T"], rel=1e-5)
    assert _counts(db) == {"tau": 30}


def test_the_sheet_has_a_column_for_a_known_measurement_std(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(
        '[[conditions]]\nname = "T"\nlower = 500\nupper = 1200\nunit = "K"\ntransform = "inverse"\n'
        '[[tasks]]\nname = "k"\nunit = "1/s"\ntransform = "log10"\nnoise_column = "k_std"\n'
    )
    db = tmp_path / "c.db"
    assert main(["init", str(config), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "2", "--out", str(tmp_path / "s.csv")]) == 0
    assert "measurement stds (k_std)" in capsys.readouterr().out
    sheet = pd.read_csv(tmp_path / "s.csv")
    assert list(sheet.columns) == ["suggestion_id", "T", "tasks", "k", "k_std"]
    sheet["k"], sheet["k_std"] = [1e3, 2e3], [50.0, 100.0]
    sheet.to_csv(tmp_path / "f.csv", index=False)
    assert main(["observe", str(tmp_path / "f.csv"), "--db", str(db)]) == 0
    assert _counts(db) == {"k": 2}


def test_abandon_stops_waiting_for_a_suggestion(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "3"]) == 0
    capsys.readouterr()
    assert main(["abandon", "2", "3", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Abandoned 2 suggestion(s); 0 already were." in out and "Pending suggestions: 1" in out
    assert main(["abandon", "2", "--db", str(db)]) == 0
    assert "Abandoned 0 suggestion(s); 1 already were." in capsys.readouterr().out
    assert main(["abandon", "99", "--db", str(db)]) == 2
    assert "99" in capsys.readouterr().err
    campaign = Campaign.open(db)
    try:
        assert campaign.store.suggestions()["status"].tolist() == ["pending", "abandoned", "abandoned"]
    finally:
        campaign.close()


def test_init_names_the_file_when_its_settings_are_refused(tmp_path, capsys):
    config = _write_config(tmp_path, 'strategy = "bogus"')
    assert main(["init", str(config), "--db", str(tmp_path / "c.db")]) == 2
    err = capsys.readouterr().err
    assert f"{str(config)!r} [campaign]: " in err and "unknown acquisition strategy 'bogus'" in err
    assert not (tmp_path / "c.db").exists()


def test_a_sheet_never_overwrites_another_campaigns(tmp_path, capsys):
    """Two campaigns in one folder: the second's first batch gets a sheet named after its database."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    for db in (first, second):
        assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(first), "-q", "2"]) == 0
    kept = (tmp_path / "suggestions_1.csv").read_text()
    assert main(["suggest", "--db", str(second), "-q", "2"]) == 0
    assert "Wrote " + str(tmp_path / "suggestions_1_second.csv") in capsys.readouterr().out
    assert (tmp_path / "suggestions_1.csv").read_text() == kept
    assert len(pd.read_csv(tmp_path / "suggestions_1_second.csv")) == 2


def test_observe_says_what_the_sheet_left_pending_and_which_placeholders_it_read(tmp_path, capsys):
    db = tmp_path / "c.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "2"]) == 0
    sheet = pd.read_csv(_fill(tmp_path / "suggestions_1.csv", tmp_path / "filled.csv"), dtype=str)
    sheet.loc[1, "f_a"] = "n/a"  # the lab could not measure it
    sheet.to_csv(tmp_path / "filled.csv", index=False)
    capsys.readouterr()
    assert main(["observe", str(tmp_path / "filled.csv"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Recorded 3 observation(s)" in out
    assert "Still pending from this sheet (1 suggestion(s)): measure, or abandon:\n  suggestion 2: f_a" in out
    assert "(cells reading 'n/a' (f_a) were taken as not measured)" in out


def test_settings_shows_and_changes_the_campaign(tmp_path, capsys):
    db = tmp_path / "c.db"
    assert main(["init", str(_write_config(tmp_path, "fixed = { P = 1.0 }")), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["settings", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "  fixed = {'P': 1.0}" in out and "Every suggestion obeys: P = 1.0" in out
    assert main(["settings", "--db", str(db), "--set", "fixed = {}", "--set", "min_distance = 0.02"]) == 0
    out = capsys.readouterr().out
    assert "Changed fixed, min_distance" in out and "No fixed values or constraints." in out
    assert "  min_distance = 0.02" in out
    assert main(["settings", "--db", str(db), "--set", "pool = 3"]) == 2
    assert "['pool'] cannot be changed" in capsys.readouterr().err
    assert main(["settings", "--db", str(db), "--set", "min_distance 0.1"]) == 2
    assert "not a TOML 'key = value' line" in capsys.readouterr().err


def test_a_third_sheet_name_is_found_when_two_are_taken(tmp_path, capsys):
    db = tmp_path / "c.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    for name in ("suggestions_1.csv", "suggestions_1_c.csv"):
        (tmp_path / name).write_text("another campaign's sheet")
    capsys.readouterr()
    assert main(["suggest", "--db", str(db), "-q", "2"]) == 0
    assert "Wrote " + str(tmp_path / "suggestions_1_c_2.csv") in capsys.readouterr().out
    assert (tmp_path / "suggestions_1.csv").read_text() == "another campaign's sheet"


def test_errors_at_the_shell_name_the_command_first(tmp_path, capsys):
    assert main(["status", "--db", str(tmp_path / "nowhere.db")]) == 2
    err = capsys.readouterr().err
    assert "start a campaign with mtgp-kinetics init campaign.toml --db" in err
    assert "(Python: Campaign.create)" in err


def test_ctrl_c_gives_a_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    import mtgp_kinetics.cli as cli

    db = tmp_path / "c.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0

    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(
        parser._subparsers._group_actions[0].choices["status"], "_defaults", {"handler": interrupted}
    )
    capsys.readouterr()
    assert main(["status", "--db", str(db)]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: each record is its own transaction") and "Traceback" not in err


def test_pending_lists_and_rewrites_the_sheet_of_waiting_suggestions(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0
    assert main(["suggest", "--db", str(db), "-q", "2"]) == 0
    assert main(["suggest", "--db", str(db), "-q", "1"]) == 0
    original = pd.read_csv(tmp_path / "suggestions_1.csv")
    half = _fill(tmp_path / "suggestions_1.csv", tmp_path / "half.csv")
    pd.read_csv(half).assign(f_a=np.nan).iloc[:1].to_csv(half, index=False)  # log_k of suggestion 1
    assert main(["observe", str(half), "--db", str(db)]) == 0
    capsys.readouterr()

    assert main(["pending", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["suggestion_id", "batch", "T", "P", "still", "to", "measure"]
    assert [line.split()[:2] for line in lines[1:]] == [["1", "1"], ["2", "1"], ["3", "2"]]
    assert lines[1].endswith("f_a") and lines[2].endswith("log_k, f_a")

    again = tmp_path / "again.csv"
    assert main(["pending", "--db", str(db), "--batch", "1", "--out", str(again)]) == 0
    sheet = pd.read_csv(again)
    assert list(sheet.columns) == list(original.columns)
    np.testing.assert_allclose(sheet[["T", "P"]], original[["T", "P"]])
    assert sheet["tasks"].tolist() == ["f_a", "log_k;f_a"]  # what is still to measure
    assert main(["pending", "--db", str(db), "--out", str(again)]) == 2  # never overwritten
    assert "already exists" in capsys.readouterr().err
    assert main(["pending", "--db", str(db), "--batch", "7"]) == 0
    assert "No pending suggestions in batch 7" in capsys.readouterr().out


def test_a_sheet_that_cannot_be_written_says_how_to_write_it_again(tmp_path, capsys, monkeypatch):
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path)), "--db", str(db)]) == 0

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", disk_full)
        assert main(["suggest", "--db", str(db), "-q", "2"]) == 2
    err = capsys.readouterr().err
    assert "batch 1 (suggestion ids 1-2) is recorded as pending, but its sheet was not written" in err
    assert f"'mtgp-kinetics pending --db {db} --batch 1 --out FILE'" in err
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".*.tmp"))
    assert main(["pending", "--db", str(db), "--out", str(tmp_path / "s.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2


def test_status_and_suggest_report_the_stopping_rules_of_the_toml(tmp_path, capsys):
    db = tmp_path / "campaign.db"
    config = _write_config(tmp_path)
    config.write_text(config.read_text() + "\n[stop]\nmax_experiments = 3\ntarget_std = { log_k = 1e-300 }\n")
    assert main(["init", str(config), "--db", str(db)]) == 0
    assert "Stops at: max_experiments 3, target_std {'log_k': 1e-300}" in capsys.readouterr().out
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "  target std: too few observations to fit a model yet" in out
    assert "  budget: 0 of 3 experiments (run or pending)\n  -> not done yet" in out
    assert main(["suggest", "--db", str(db), "-q", "3"]) == 0
    capsys.readouterr()
    assert main(["suggest", "--db", str(db), "-q", "1"]) == 0
    assert "Note: the campaign's stopping rules say it is done (budget: the campaign has 3" in (
        capsys.readouterr().out
    )
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert (
        "  -> done: budget: the campaign has 4 experiments, the budget allows 3; 1 more were suggested" in out
    )


def test_suggest_keeps_a_batch_within_the_cost_budget_of_the_toml(tmp_path, capsys):
    """Two tasks at cost 1 each: a budget of 5 pays for two experiments of the four asked for."""
    db = tmp_path / "campaign.db"
    config = _write_config(tmp_path)
    config.write_text(config.read_text() + "\n[stop]\nmax_cost = 5\n")
    assert main(["init", str(config), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["suggest", "--db", str(db), "-q", "4", "--out", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "Note: the cost budget left (5) pays for 2 of the 4 experiments asked for." in out
    assert len(pd.read_csv(tmp_path / "s.csv")) == 2
    # 4 of 5 spent (pending counts): one more experiment costs 2, so suggest refuses ...
    assert main(["suggest", "--db", str(db)]) == 2  # an input error
    assert "cost budget is spent (1 left, the next suggestion costs 2)" in capsys.readouterr().err
    # ... unless told to go past it.
    assert main(["suggest", "--db", str(db), "--over-budget", "--out", str(tmp_path / "t.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "t.csv")) == 1


def test_a_task_of_the_toml_may_learn_noise_beyond_its_stated_stds(tmp_path):
    (tmp_path / "c.toml").write_text(
        SPACE_AND_TASKS.replace(
            'name = "log_k"', 'name = "log_k"\nnoise_column = "log_k_sd"\nexcess_noise = true'
        )
    )
    _, tasks = load_space_and_tasks(tmp_path / "c.toml")
    assert tasks[0].excess_noise and tasks[0].noise_column == "log_k_sd"
    (tmp_path / "bad.toml").write_text(
        SPACE_AND_TASKS.replace('name = "log_k"', 'name = "log_k"\nexcess_noise = 1')
    )
    with pytest.raises(InputDataError, match=r"excess_noise must be true or false, got 1"):
        load_space_and_tasks(tmp_path / "bad.toml")


def test_status_cautions_about_a_task_measured_too_rarely(tmp_path, capsys):
    """f_a measured twice: the campaign's model fits, but its f_a intervals mean little (as fit warns)."""
    initial = PROBLEM.evaluate(PROBLEM.space.sample(6, seed=1))
    initial.loc[initial.index[2:], "f_a"] = np.nan
    initial.to_csv(tmp_path / "initial.csv", index=False)
    db = tmp_path / "campaign.db"
    assert main(["init", str(_write_config(tmp_path, 'initial = "initial.csv"')), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["status", "--db", str(db)]) == 0
    assert "Caution: task(s) 'f_a' (2) have fewer than 4 observations" in capsys.readouterr().out


def test_status_gives_the_task_correlation_a_credible_interval(fitted):
    from mtgp_kinetics.cli import _correlation_interval_lines

    lines = _correlation_interval_lines(fitted["icm"])
    assert lines[0] == "95 % credible intervals (hyperparameter posterior):"
    assert re.fullmatch(
        r"  log_k ~ f_a: median -?\d\.\d\d, \[-?\d\.\d\d, -?\d\.\d\d\], P\(correlation > 0\) = \d\.\d\d",
        lines[1],
    ), lines
    # Nothing shared: the zeros are said to be by construction, not a finding.
    [line] = _correlation_interval_lines(fitted["independent"])
    assert "independent GPs: 0 by construction, not measured" in line
    from mtgp_kinetics.cli import correlation_title

    assert (
        correlation_title(fitted["independent"])
        == "task correlation (independent GPs: 0 by construction, not measured)"
    )
    assert correlation_title(fitted["icm"]) == "task correlation (learned)"

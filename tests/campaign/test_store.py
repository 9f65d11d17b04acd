"""CampaignStore: round trips, the suggestion lifecycle, all-or-nothing rejections, crash safety."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtgp_kinetics.campaign import CampaignBusyError, CampaignStore, CampaignStoreError
from mtgp_kinetics.dataset import Dataset
from mtgp_kinetics.errors import DataWarning, InputDataError, MtgpError
from mtgp_kinetics.space import Categorical, Continuous, Space
from mtgp_kinetics.tasks import Task

SETTINGS = {"kernel": "icm", "strategy": "qNEI", "q": 3, "seeds": [0, 1], "nested": {"lr": 0.1}}


def make_space() -> Space:
    return Space(
        [
            Continuous("T", 800.0, 1400.0, "K", "inverse"),
            Continuous("P", 1.0, 50.0, "bar", "log"),
            Categorical("gas", ("N2", "Ar")),
        ]
    )


def make_tasks() -> list[Task]:
    return [
        Task("tau", "s", "log10", "rate", noise_column="tau_std"),
        Task("f", "", "logit", "mechanism"),
    ]


SUGGESTED = pd.DataFrame(
    {
        "T": [900.0, 1000.0, 1100.0, 1200.0],
        "P": [2.0, 5.0, 10.0, 20.0],
        "gas": ["N2", "Ar", "N2", "Ar"],
    }
)


def dump(path: Path) -> list[str]:
    """Every table's content (and the schema), read through a separate read-only connection."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return [*conn.iterdump(), f"user_version={conn.execute('PRAGMA user_version').fetchone()[0]}"]
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "campaign.db"


@pytest.fixture
def store(path: Path) -> Iterator[CampaignStore]:
    with CampaignStore.create(path, make_space(), make_tasks(), SETTINGS) as opened:
        yield opened


@pytest.fixture
def busy_store(store: CampaignStore) -> CampaignStore:
    """Suggestions 1-4 (1: both tasks, 2: tau, 3: f, 4: both, abandoned), suggestion 1's tau recorded."""
    store.add_suggestions(SUGGESTED, [["tau", "f"], ["tau"], ["f"], ["tau", "f"]], "sobol")
    store.abandon(4)
    store.record(pd.DataFrame({"suggestion_id": [1], "tau": [1e-3], "tau_std": [1e-4]}), "oracle")
    return store


# -- creating and opening -------------------------------------------------------------------------
def test_create_open_round_trip(path: Path) -> None:
    with CampaignStore.create(path, make_space(), make_tasks(), SETTINGS) as created:
        created_at = created.created_at
    with CampaignStore.open(path) as store:
        assert store.space == make_space()
        assert store.tasks == tuple(make_tasks())
        assert store.settings == SETTINGS
        assert store.created_at == created_at
        assert store.schema_version == 1
        assert store.package_version
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        assert meta["schema_version"] == "1"
        assert meta["format"] == '"mtgp_kinetics-campaign"'
    finally:
        conn.close()


def test_create_never_overwrites(path: Path) -> None:
    path.write_bytes(b"precious lab notes")
    with pytest.raises(InputDataError, match=r"campaign\.db' already exists.*CampaignStore\.open"):
        CampaignStore.create(path, make_space(), make_tasks(), {})
    assert path.read_bytes() == b"precious lab notes"


def test_create_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        CampaignStore.create(tmp_path / "no" / "campaign.db", make_space(), make_tasks(), {})
    with pytest.raises(InputDataError, match="settings must be JSON"):
        CampaignStore.create(tmp_path / "a.db", make_space(), make_tasks(), {"q": np.int64(3)})
    with pytest.raises(InputDataError, match="duplicated task name"):
        CampaignStore.create(tmp_path / "b.db", make_space(), [*make_tasks(), Task("f")], {})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_open_refuses_missing_file(path: Path) -> None:
    with pytest.raises(CampaignStoreError, match=r"no campaign database at .*campaign\.db"):
        CampaignStore.open(path)
    assert not path.exists()


def test_open_refuses_files_that_are_not_campaigns(tmp_path: Path) -> None:
    text = tmp_path / "results.csv"
    text.write_text("T,P,gas,tau\n900,2,N2,0.001\n" * 100)
    with pytest.raises(CampaignStoreError, match=r"results\.csv' is not a campaign database"):
        CampaignStore.open(text)
    assert text.read_text() == "T,P,gas,tau\n900,2,N2,0.001\n" * 100
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(
        CampaignStoreError, match=r"not a campaign database \(it holds the table\(s\) meta: another"
    ):
        CampaignStore.open(other)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version = 0").connection.close()
    with pytest.raises(CampaignStoreError, match="an empty database: perhaps creating the campaign was"):
        CampaignStore.open(empty)
    assert issubclass(CampaignStoreError, MtgpError)


@pytest.mark.parametrize(
    ("user_version", "match"),
    [(2, "schema version 2, written by a newer mtgp_kinetics.*upgrade"), (0, "unknown campaign schema")],
)
def test_open_refuses_other_schema_versions(path: Path, user_version: int, match: str) -> None:
    CampaignStore.create(path, make_space(), make_tasks(), {}).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()
    with pytest.raises(CampaignStoreError, match=match):
        CampaignStore.open(path)


def test_update_settings_keeps_a_history(store: CampaignStore) -> None:
    assert store.update_settings({"q": 5, "acq": "qEHVI"}) == {**SETTINGS, "q": 5, "acq": "qEHVI"}
    history = store.settings_history()
    assert list(history["changes"]) == [SETTINGS, {"q": 5, "acq": "qEHVI"}]
    assert history["changed_at"].is_monotonic_increasing
    assert CampaignStore.open(store.path).settings["q"] == 5
    with pytest.raises(InputDataError, match="settings changes must be JSON"):
        store.update_settings({"bad": float("nan")})


# -- suggestions -------------------------------------------------------------------------------
def test_suggestion_lifecycle(store: CampaignStore) -> None:
    added = store.add_suggestions(
        SUGGESTED.iloc[:3], [["tau", "f"], ["f"], ["tau"]], "qNEI", np.array([0.3, np.nan, 0.1])
    )
    assert list(added["suggestion_id"]) == [1, 2, 3]
    assert list(added["batch_id"]) == [1, 1, 1]
    assert list(added["tasks"]) == [["tau", "f"], ["f"], ["tau"]]
    pending = store.pending()
    assert list(pending["suggestion_id"]) == [1, 2, 3]
    assert list(pending["missing"]) == [["tau", "f"], ["f"], ["tau"]]
    np.testing.assert_array_equal(pending["acquisition_value"], [0.3, np.nan, 0.1])
    pd.testing.assert_frame_equal(pending[["T", "P", "gas"]], SUGGESTED.iloc[:3], check_dtype=False)

    # Partial result: suggestion 1 stays pending, with f missing.
    assert store.record(pd.DataFrame({"suggestion_id": [1], "tau": [2e-3], "tau_std": [1e-4]}), "oracle") == 1
    row = store.pending().set_index("suggestion_id").loc[1]
    assert row["status"] == "pending" and row["missing"] == ["f"]
    # The rest arrives: completed.
    assert store.record(pd.DataFrame({"suggestion_id": [1, 2], "f": [0.2, 0.4]}), "oracle") == 2
    status = store.suggestions().set_index("suggestion_id")["status"]
    assert status.to_dict() == {1: "completed", 2: "completed", 3: "pending"}
    assert store.suggestions("completed")["status_changed_at"].notna().all()

    assert store.abandon([3]) == 1
    assert store.abandon(3) == 0  # already abandoned: nothing to do
    assert store.pending().empty
    with pytest.raises(InputDataError, match=r"suggestion\(s\) \[1\] are completed"):
        store.abandon([1])
    with pytest.raises(InputDataError, match=r"unknown suggestion id\(s\) \[7\]"):
        store.abandon([3, 7])
    again = store.add_suggestions(SUGGESTED.iloc[3:], "tau", "manual", note="check")
    assert list(again["batch_id"]) == [2] and list(again["tasks"]) == [["tau"]]
    assert store.suggestions().set_index("suggestion_id").loc[4, "note"] == "check"
    counts = store.counts()
    assert counts.to_dict("index") == {
        "tau": {"observations": 1, "superseded": 0, "awaited": 1},
        "f": {"observations": 2, "superseded": 0, "awaited": 0},
    }


def test_add_suggestions_validates(store: CampaignStore) -> None:
    before = dump(store.path)
    bad = SUGGESTED.copy()
    bad.loc[2, "T"] = 1500.0
    with pytest.raises(InputDataError, match=r"column 'T'.*row 2: .*outside the bounds"):
        store.add_suggestions(bad, None, "sobol")
    with pytest.raises(InputDataError, match=r"tasks_to_measure at row 1: \['tau', 'x'\]"):
        store.add_suggestions(SUGGESTED.iloc[:2], [["tau"], ["tau", "x"]], "sobol")
    with pytest.raises(InputDataError, match="acquisition_values has 3 entries but the frame has 4 rows"):
        store.add_suggestions(SUGGESTED, None, "sobol", [1.0, 2.0, 3.0])
    assert dump(store.path) == before


# -- recording results ---------------------------------------------------------------------------
def test_unsolicited_results_and_extra_tasks(busy_store: CampaignStore) -> None:
    frame = pd.DataFrame(
        {
            "suggestion_id": [2, None],
            "T": [np.nan, 1300.0],
            "P": [np.nan, 3.0],
            "gas": [None, "Ar"],
            "tau": [3e-3, 4e-3],
            "tau_std": [2e-4, 3e-4],
            "f": [0.6, np.nan],  # suggestion 2 asked only for tau: extra results are kept
            "note": ["extra f", None],
        }
    )
    assert busy_store.record(frame, "oracle") == 3
    obs = busy_store.observations()
    extra = obs[obs["suggestion_id"] == 2].set_index("task")
    assert extra.loc["f", "value"] == 0.6 and extra.loc["f", "note"] == "extra f"
    assert extra.loc["tau", "T"] == 1000.0 and extra.loc["tau", "gas"] == "Ar"  # from the suggestion
    mine = obs[obs["suggestion_id"].isna()]
    assert mine[["T", "P", "gas", "task", "value", "noise"]].values.tolist() == [
        [1300.0, 3.0, "Ar", "tau", 4e-3, 3e-4]
    ]
    assert busy_store.suggestions().set_index("suggestion_id").loc[2, "status"] == "completed"


def test_an_unsolicited_row_at_a_pending_suggestion_is_recorded_with_a_warning(
    busy_store: CampaignStore,
) -> None:
    # Suggestion 3 (f) is pending at T=1100, P=10, N2; suggestion 4 at 1200/20/Ar was abandoned.
    at_pending = {"T": 1100.0, "P": 10.0, "gas": "N2", "f": 0.4}
    at_abandoned = {"T": 1200.0, "P": 20.0, "gas": "Ar", "f": 0.5}
    with pytest.warns(DataWarning, match=r"1 row\(s\) without a 'suggestion_id' .*\(row 0 at suggestion 3's"):
        assert busy_store.record(pd.DataFrame([at_pending, at_abandoned]), "lab") == 2
    status = busy_store.suggestions().set_index("suggestion_id")["status"]
    assert status[3] == "pending"  # recorded as its own experiment, as documented, not as suggestion 3's


def test_keyed_conditions_match_within_tolerance(busy_store: CampaignStore) -> None:
    # 1e-12 relative: a spreadsheet's rounding, not a different experiment.
    frame = pd.DataFrame(
        {"suggestion_id": [3], "T": [1100.0 * (1 + 1e-12)], "P": [10.0], "gas": ["N2"], "f": [0.5]}
    )
    assert busy_store.record(frame, "oracle") == 1
    assert busy_store.observations().iloc[-1]["T"] == 1100.0  # the suggestion's exact value


def test_conditions_rounded_by_a_spreadsheet_match_their_suggestion(store: CampaignStore) -> None:
    exact = pd.DataFrame({"T": [1043.2871], "P": [12.3456], "gas": ["N2"]})
    store.add_suggestions(exact, [["tau", "f"]], "sobol")
    shown = pd.DataFrame({"suggestion_id": [1], "T": [1043.3], "P": [12.35], "gas": ["N2"], "f": [0.4]})
    assert store.record(shown, "oracle") == 1
    recorded = store.observations().iloc[-1]
    assert (recorded["T"], recorded["P"]) == (1043.2871, 12.3456)  # the suggestion's exact values
    # 1043 K is 1043.2871 to the unit; "12" bar may as well be a run at 12 bar: say which.
    assert store.record(shown.assign(T=1043.0, f=np.nan, tau=2e-3, tau_std=1e-4), "oracle") == 1
    with pytest.raises(InputDataError, match=r"column\(s\) \['P'\], suggestion 1 \(P: given 12.0"):
        store.record(shown.assign(P=12.0), "oracle", replace=True)


def test_as_run_records_the_conditions_actually_run(busy_store: CampaignStore) -> None:
    # The furnace settled at 1103 K instead of the 1100 K suggested (suggestion 3, task f).
    ran = pd.DataFrame({"suggestion_id": [3], "T": [1103.0], "f": [0.5]}, index=["a"])
    with pytest.raises(InputDataError, match=r"T: given 1103\.0, suggested 1100\.0.*as_run=True"):
        busy_store.record(ran, "oracle")
    before = dump(busy_store.path)
    with pytest.raises(InputDataError, match=r"column 'T': row a: 1500 outside the bounds"):
        busy_store.record(ran.assign(T=1500.0), "oracle", as_run=True)
    assert dump(busy_store.path) == before

    assert busy_store.record(ran, "oracle", as_run=True) == 1
    recorded = busy_store.observations().iloc[-1]
    # Given cells are what was run; the empty ones (P, gas) are the suggestion's.
    assert (recorded["T"], recorded["P"], recorded["gas"], recorded["task"]) == (1103.0, 10.0, "N2", "f")
    suggestion = busy_store.suggestions().set_index("suggestion_id").loc[3]
    assert suggestion["status"] == "completed" and suggestion["T"] == 1100.0
    assert busy_store.dataset().observations["T"].iloc[-1] == 1103.0


def test_every_mismatched_row_is_named_and_celsius_is_pointed_out(busy_store: CampaignStore) -> None:
    """Suggestions 2 and 3 are at 1000 and 1100 K; a lab typed the readings in degrees Celsius."""
    sheet = pd.DataFrame(
        {"suggestion_id": [2, 3], "T": [726.9, 826.8], "tau": [1e-3, np.nan], "tau_std": [1e-4, np.nan]}
    ).assign(f=[np.nan, 0.5])
    sheet.index = ["a", "b"]
    before = dump(busy_store.path)
    with pytest.raises(
        InputDataError,
        match=r"2 row\(s\) give conditions .*row a, .*suggestion 2 \(T: given 726.9, suggested 1000.0; 726.9 "
        r"\+ 273.15 = 1000.05 K is the suggestion's: given in degrees Celsius\?\); row b, .*suggestion 3 .*"
        r"convert temperatures typed in degrees Celsius to kelvin",
    ):
        busy_store.record(sheet, "oracle")
    assert dump(busy_store.path) == before
    # As run, it is recorded (the lab says so) with a warning.
    with pytest.warns(
        DataWarning, match=r"row b: recorded as run at T=826.8 for suggestion 3; 826.8 \+ 273.15"
    ):
        busy_store.record(sheet.iloc[[1]], "oracle", as_run=True)


def test_as_run_outside_the_campaigns_rules_is_recorded_with_a_warning(path: Path) -> None:
    settings = {"fixed": {"gas": "N2"}, "constraints": ["T <= 1200"]}
    with CampaignStore.create(path, make_space(), make_tasks(), settings) as store:
        store.add_suggestions(SUGGESTED.iloc[[0]], [["f"]], "sobol")
        ran = pd.DataFrame({"suggestion_id": [1], "T": [1250.0], "gas": ["Ar"], "f": [0.4]})
        with pytest.warns(DataWarning, match=r"break the campaign's rule\(s\) \['gas = N2', 'T <= 1200'\]"):
            assert store.record(ran, "oracle", as_run=True) == 1
        assert store.observations().iloc[-1][["T", "gas"]].tolist() == [1250.0, "Ar"]


def test_as_run_keeps_the_exact_value_of_cells_that_match(store: CampaignStore) -> None:
    """Only the cells that differ are the conditions run; a rounded cell means the suggestion's value."""
    store.add_suggestions(pd.DataFrame({"T": [1042.9], "P": [12.3456], "gas": ["N2"]}), [["f"]], "sobol")
    ran = pd.DataFrame({"suggestion_id": [1], "T": [1043.0], "P": [12.35], "gas": ["Ar"], "f": [0.4]})
    store.record(ran, "oracle", as_run=True)
    recorded = store.observations().iloc[-1]
    assert (recorded["T"], recorded["P"], recorded["gas"]) == (1042.9, 12.3456, "Ar")


def test_export_keeps_results_run_at_different_conditions_apart(store: CampaignStore, tmp_path: Path) -> None:
    store.add_suggestions(SUGGESTED.iloc[:1], [["tau", "f"]], "sobol")
    ran = pd.DataFrame(
        {
            "suggestion_id": [1, 1],
            "T": [905.0, 910.0],
            "tau": [2e-3, np.nan],
            "tau_std": [1e-4, np.nan],
            "f": [np.nan, 0.3],
        }
    )
    store.record(ran, "oracle", as_run=True)
    wide = tmp_path / "export.csv"
    store.export_csv(wide)
    exported = Dataset.from_csv(wide, store.space, store.tasks)
    by_task = exported.observations.set_index("task")["T"]
    assert (by_task["tau"], by_task["f"]) == (905.0, 910.0)


def test_sheet_rows_without_values_are_skipped(busy_store: CampaignStore) -> None:
    sheet = busy_store.pending()[["suggestion_id", "T", "P", "gas"]].assign(
        tau=np.nan, tau_std=np.nan, f=np.nan
    )
    sheet.loc[sheet["suggestion_id"] == 3, "f"] = 0.25
    assert busy_store.record(sheet, "oracle") == 1
    assert list(busy_store.pending()["suggestion_id"]) == [1, 2]


def _rejections() -> dict[str, tuple[dict, str]]:
    """Each case: a results frame (index ["a", "b"], row "a" valid) and the message it must raise."""
    ok = {"suggestion_id": 2, "tau": 2e-3, "tau_std": 1e-4}
    un = {"T": 1000.0, "P": 5.0, "gas": "N2", "tau": 2e-3, "tau_std": 1e-4}
    return {
        "unknown suggestion id": (
            [ok, {**ok, "suggestion_id": 99}],
            r"unknown suggestion id\(s\) \[99\] at row\(s\) b",
        ),
        "abandoned suggestion": ([ok, {"suggestion_id": 4, "f": 0.5}], "row b: suggestion 4 was abandoned"),
        "bad suggestion id": (
            [ok, {**ok, "suggestion_id": 2.5}],
            r"\[2\.5\] at row\(s\) b are not suggestion",
        ),
        "unknown column": ([ok, {**ok, "tua": 1e-3}], r"unknown column\(s\) \['tua'\]"),
        "comment column": (
            [ok, {**ok, "comment": "cell cracked"}],
            r"unknown column\(s\) \['comment'\].* a comment column: call it 'note'",
        ),
        "non-numeric value": (
            [ok, {"suggestion_id": 3, "f": "0.5x"}],
            r"column 'f': non-numeric .* row\(s\) b",
        ),
        "out of bounds": ([un, {**un, "T": 2000.0}], r"column 'T': row b: 2000 outside the bounds"),
        "unknown level": ([un, {**un, "gas": "He"}], r"column 'gas': unknown level.*row\(s\) b"),
        "missing condition column": (
            [ok, {"tau": 1e-3, "tau_std": 1e-4}],
            r"row\(s\) b have no 'suggestion_id'.*need every condition column",
        ),
        "log10 of a non-positive value": ([ok, {**un, "tau": 0.0}], r"column 'tau': row b: 0 .*'log10'"),
        "logit outside (0, 1)": ([ok, {"suggestion_id": 3, "f": 1.0}], r"column 'f': row b: 1 .*\(0, 1\)"),
        "infinite value": ([ok, {**un, "tau": np.inf}], r"column 'tau': infinite value\(s\) at row\(s\) b"),
        "missing known noise": (
            [ok, {**un, "tau_std": np.nan}],
            r"column 'tau_std': the measurement std of task 'tau' is missing at row\(s\) b",
        ),
        "noise without value": ([ok, {**un, "f": 0.5, "tau": np.nan}], r"std is given at row\(s\) b"),
        "already recorded": (
            [ok, {"suggestion_id": 1, "tau": 1.1e-3, "tau_std": 1e-4}],
            r"row b, column 'tau': suggestion 1 already has a result .* replace=True",
        ),
        "twice in one frame": ([ok, ok], r"rows a and b both give task 'tau' of suggestion 2"),
        "conditions differ": (
            [ok, {"suggestion_id": 3, "T": 1100.0 * (1 + 1e-6), "f": 0.5}],
            r"1 row\(s\) give conditions that differ from their suggestion's: row b, column\(s\) \['T'\], "
            r"suggestion 3 \(T: given",
        ),
        "neither id nor value": ([un, {"suggestion_id": None, "T": 900.0}], r"row\(s\) b have neither"),
    }


@pytest.mark.parametrize("case", sorted(_rejections()))
def test_rejected_results_leave_the_store_unchanged(busy_store: CampaignStore, case: str) -> None:
    rows, match = _rejections()[case]
    frame = pd.DataFrame(rows, index=["a", "b"])
    before = dump(busy_store.path)
    with pytest.raises(InputDataError, match=match):
        busy_store.record(frame, "oracle")
    assert dump(busy_store.path) == before


def test_replace_keeps_the_history(busy_store: CampaignStore) -> None:
    fix = pd.DataFrame({"suggestion_id": [1], "tau": [1.2e-3], "tau_std": [1e-4]})
    assert busy_store.record(fix, "oracle", replace=True) == 1
    current = busy_store.observations()
    assert current[current["task"] == "tau"]["value"].tolist() == [1.2e-3]
    everything = busy_store.observations(include_superseded=True)
    old = everything[everything["value"] == 1e-3].iloc[0]
    new = everything[everything["value"] == 1.2e-3].iloc[0]
    assert old["superseded_by"] == new["observation_id"]
    assert pd.isna(new["superseded_by"])
    assert busy_store.counts().loc["tau", "superseded"] == 1
    # And again: a chain of corrections.
    busy_store.record(fix.assign(tau=1.3e-3), "oracle", replace=True)
    assert len(busy_store.observations(include_superseded=True)) == 3
    assert busy_store.observations()["value"].tolist() == [1.3e-3]


def test_failure_half_way_through_a_write_rolls_it_back(
    busy_store: CampaignStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sneak a row past the checks whose suggestion does not exist: its insert fails (foreign key)
    # after the first row's insert and the superseding update already ran.
    real_plan = CampaignStore._plan

    def plan_with_a_bad_row(self: CampaignStore, *args: object) -> list:
        plan = real_plan(self, *args)
        row, conditions, _ = plan[0]
        return [*plan, (dataclasses.replace(row, suggestion_id=999), conditions, {})]

    monkeypatch.setattr(CampaignStore, "_plan", plan_with_a_bad_row)
    before = dump(busy_store.path)
    fix = pd.DataFrame({"suggestion_id": [1], "tau": [1.2e-3], "tau_std": [1e-4]})
    with pytest.raises(CampaignStoreError, match="FOREIGN KEY constraint failed"):
        busy_store.record(fix, "oracle", replace=True)
    assert dump(busy_store.path) == before
    monkeypatch.undo()
    assert busy_store.record(fix, "oracle", replace=True) == 1


def test_database_refuses_deletes_and_rewrites(busy_store: CampaignStore) -> None:
    conn = sqlite3.connect(busy_store.path)
    try:
        for statement in (
            "DELETE FROM observations",
            "UPDATE observations SET value = 5.0",
            "DELETE FROM suggestions WHERE id = 4",
            "UPDATE suggestions SET status = 'pending' WHERE id = 4",
            "INSERT INTO observations (suggestion_id, task, value, conditions, recorded_at, source, "
            "record_id, source_row) VALUES (NULL, 'x', 1.0, '{}', 'now', 'raw', 9, '0')",
        ):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(statement)
    finally:
        conn.close()


def test_import_csv(busy_store: CampaignStore, tmp_path: Path) -> None:
    csv = tmp_path / "run12.csv"
    csv.write_text("suggestion_id,T,P,gas,tau,tau_std,f,note\n2,,,,0.002,0.0001,,\n,950,4,N2,,,0.3,manual\n")
    assert busy_store.import_csv(csv) == 2
    assert set(busy_store.observations()["source"]) == {"oracle", "import:run12.csv"}
    assert list(busy_store.observations()["source_row"].iloc[-2:]) == ["2", "3"]
    bad = tmp_path / "bad.csv"
    bad.write_text("suggestion_id,T,P,gas,tau,tau_std,f\n3,,,,,,0.4\n,950,4,N2,,,0.3\n,950,4,N2,,,1.3\n")
    before = dump(busy_store.path)
    # Rows are named by their line in the file (header = line 1), as a spreadsheet shows them.
    with pytest.raises(InputDataError, match=r"column 'f': row 4: 1.3 "):
        busy_store.import_csv(bad)
    assert dump(busy_store.path) == before
    with pytest.raises(InputDataError, match="no CSV file"):
        busy_store.import_csv(tmp_path / "missing.csv")


def test_a_sheet_imported_twice_is_refused_and_the_store_is_unchanged(
    busy_store: CampaignStore, tmp_path: Path
) -> None:
    csv = tmp_path / "lab.csv"
    csv.write_text("T,P,gas,tau,tau_std,f\n950,4,N2,0.002,0.0001,\n1010,8,Ar,,,0.3\n")
    assert busy_store.import_csv(csv) == 2
    before = dump(busy_store.path)
    # The same values at the same conditions would count both experiments twice.
    with pytest.raises(
        InputDataError,
        match=r"2 value\(s\) repeat results already recorded: row 2 'tau' repeats observation 2; row 3 'f'",
    ):
        busy_store.import_csv(csv)
    assert dump(busy_store.path) == before
    # The lab adds a row to its sheet and imports it again: only the new values are recorded.
    csv.write_text(csv.read_text() + "1100,12,N2,0.0005,0.00005,0.4\n")
    assert busy_store.import_csv(csv, duplicates="skip") == 2
    observations = busy_store.observations()
    assert len(observations) == 5 and list(observations["source_row"].iloc[-2:]) == ["4", "4"]
    # A repeat at other conditions, or with another value, is a new experiment.
    repeat = pd.DataFrame(
        {"T": [950.0, 951.0], "P": 4.0, "gas": "N2", "tau": [0.0021, 0.002], "tau_std": 1e-4}
    )
    assert busy_store.record(repeat, "lab") == 2
    # True replicates that gave the same number are recorded on request.
    assert busy_store.record(repeat, "lab", duplicates="record") == 2
    with pytest.raises(InputDataError, match=r"duplicates must be one of \['error', 'skip', 'record'\]"):
        busy_store.record(repeat, "lab", duplicates="ignore")


def test_a_suggestions_result_repeated_is_a_duplicate(busy_store: CampaignStore) -> None:
    again = pd.DataFrame({"suggestion_id": [1], "tau": [1e-3], "tau_std": [1e-4]})
    before = dump(busy_store.path)
    with pytest.raises(
        InputDataError,
        match=r"row 0 'tau': suggestion 1 already has this value \(observation 1\).*duplicates='skip'",
    ):
        busy_store.record(again, "oracle")
    assert dump(busy_store.path) == before
    assert busy_store.record(again, "oracle", duplicates="skip") == 0
    assert dump(busy_store.path) == before
    # Another value for it is still a correction, which needs replace=True.
    with pytest.raises(InputDataError, match=r"already has a result.*replace=True"):
        busy_store.record(again.assign(tau=2e-3), "oracle")


def test_corrections_and_repeats_in_one_file_are_refused_in_one_message(busy_store: CampaignStore) -> None:
    """A re-imported sheet with one value changed: the change is named at once, not after a retry."""
    busy_store.record(pd.DataFrame({"suggestion_id": [2], "tau": [2e-3], "tau_std": [1e-4]}), "lab")
    sheet = pd.DataFrame({"suggestion_id": [1, 2], "tau": [1e-3, 3e-3], "tau_std": [1e-4, 1e-4]})
    before = dump(busy_store.path)
    with pytest.raises(InputDataError) as refused:
        busy_store.record(sheet, "lab")
    message = str(refused.value)
    assert "1 value(s) differ from results already recorded: row 1, column 'tau'" in message
    assert "1 value(s) repeat results already recorded: row 0 'tau'" in message
    assert dump(busy_store.path) == before


def test_an_export_imports_again(busy_store: CampaignStore, tmp_path: Path) -> None:
    busy_store.record(pd.DataFrame({"T": [950.0], "P": 4.0, "gas": "N2", "f": 0.3}), "lab")
    exported = tmp_path / "export.csv"
    busy_store.export_csv(exported)
    assert {"source", "recorded_at"} <= set(pd.read_csv(exported).columns)
    # Unchanged, into the same campaign: everything is already there.
    assert busy_store.import_csv(exported, duplicates="skip") == 0
    # With one value corrected: replace=True supersedes the old one; the unchanged ones have
    # nothing to correct and are left alone.
    frame = pd.read_csv(exported)
    frame.loc[frame["suggestion_id"] == 1, "tau"] = 1.2e-3
    frame.to_csv(exported, index=False)
    assert busy_store.import_csv(exported, replace=True) == 1
    current = busy_store.observations()
    assert current.loc[current["suggestion_id"] == 1, "value"].tolist() == [1.2e-3]
    # Into another campaign the suggestion ids mean nothing: the message says what to do.
    with CampaignStore.create(tmp_path / "other.db", make_space(), make_tasks(), {}) as other:
        with pytest.raises(
            InputDataError, match=r"unknown suggestion id\(s\) \[1\].*remove the 'suggestion_id'"
        ):
            other.import_csv(exported)
        frame.drop(columns="suggestion_id").to_csv(exported, index=False)
        assert other.import_csv(exported) == 2


# -- reading back ----------------------------------------------------------------------------------
def test_dataset_from_current_observations(busy_store: CampaignStore) -> None:
    with pytest.raises(InputDataError, match=r"task\(s\) \['f'\] have no observation"):
        busy_store.dataset()
    busy_store.record(pd.DataFrame({"suggestion_id": [1, 3], "f": [0.2, 0.7]}), "oracle")
    busy_store.record(
        pd.DataFrame({"suggestion_id": [1], "tau": [1.5e-3], "tau_std": [2e-4]}), "x", replace=True
    )
    data = busy_store.dataset()
    obs = data.observations.sort_values(["task", "value"])
    assert obs[["task", "value"]].values.tolist() == [["f", 0.2], ["f", 0.7], ["tau", 1.5e-3]]
    assert obs["noise"].fillna(-1).tolist() == [-1, -1, 2e-4]


def test_export_round_trip(busy_store: CampaignStore, tmp_path: Path) -> None:
    busy_store.record(
        pd.DataFrame(
            {
                "suggestion_id": [1, 3, None, None],
                "T": [np.nan, np.nan, 1234.5678901234567, 1234.5678901234567],
                "P": [np.nan, np.nan, 1.0, 1.0],
                "gas": [None, None, "Ar", "Ar"],  # two replicates at one condition
                "tau": [np.nan, np.nan, 5e-3, 5.5e-3],
                "tau_std": [np.nan, np.nan, 1e-4, 1e-4],
                "f": [0.2, 0.7, 0.1, np.nan],
            }
        ),
        "oracle",
    )
    wide = tmp_path / "export.csv"
    busy_store.export_csv(wide)
    text = pd.read_csv(wide, dtype={"gas": str})
    assert list(text.columns) == [
        "suggestion_id",
        "T",
        "P",
        "gas",
        "tau",
        "tau_std",
        "f",
        "source",
        "recorded_at",
        "note",
    ]
    assert len(text) == 4  # suggestions 1 and 3, two unsolicited rows
    assert text["suggestion_id"].tolist()[:2] == [1, 3]

    def key(frame: pd.DataFrame) -> list[tuple]:
        cols = ["T", "P", "gas", "task", "value", "noise"]
        return sorted(tuple(-1.0 if pd.isna(x) else x for x in row) for row in frame[cols].values.tolist())

    # Exact float round trip through the text file.
    assert key(Dataset.from_csv(wide, busy_store.space, busy_store.tasks).observations) == key(
        busy_store.dataset().observations
    )
    long = tmp_path / "long.csv"
    busy_store.export_csv(long, form="long")
    assert key(pd.read_csv(long, dtype={"gas": str})) == key(busy_store.observations())
    with pytest.raises(InputDataError, match="form must be 'wide' or 'long'"):
        busy_store.export_csv(long, form="tall")


# -- processes ----------------------------------------------------------------------------------
# Run by exec in a spawned process (builtins.exec pickles by name, whatever pytest's import mode).
WRITER_SCRIPT = """
import pandas as pd
from mtgp_kinetics.campaign import CampaignStore

with CampaignStore.open(path, busy_timeout=30.0) as store:
    barrier.wait()  # both writers start together
    for i in range(n):
        value = float(worker * 1000 + i + 1)
        frame = pd.DataFrame({"T": [1000.0], "P": [5.0], "gas": ["N2"], "tau": [value], "tau_std": [1.0]})
        store.record(frame, f"worker{worker}")  # one transaction each
"""


def test_concurrent_writers(store: CampaignStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [
        ctx.Process(
            target=exec,
            args=(WRITER_SCRIPT, {"path": str(store.path), "worker": w, "n": 20, "barrier": barrier}),
        )
        for w in (1, 2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
    assert [p.exitcode for p in workers] == [0, 0]
    obs = store.observations()
    assert len(obs) == 40
    assert sorted(obs["value"]) == [float(w * 1000 + i + 1) for w in (1, 2) for i in range(20)]
    assert sorted(obs["record_id"]) == list(range(1, 41))
    assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILL_SCRIPT = """
import sys
import pandas as pd
from mtgp_kinetics.campaign import CampaignStore

store = CampaignStore.open(sys.argv[1])
i = 0
while True:
    i += 1
    frame = pd.DataFrame({"T": [1000.0], "P": [5.0], "gas": ["N2"], "tau": [float(i)], "tau_std": [1.0]})
    store.record(frame, "oracle")
    print(i, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_loses_no_committed_result(store: CampaignStore) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), str(store.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = 0
    deadline = time.monotonic() + 60
    try:
        assert child.stdout is not None
        while reported < 30 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported = int(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stderr = child.stderr.read() if child.stderr else ""
    child.stdout.close()
    child.stderr.close()
    assert reported >= 30, stderr
    assert child.returncode == -signal.SIGKILL

    with CampaignStore.open(store.path) as reopened:
        assert reopened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        values = set(reopened.observations()["value"])
        assert set(map(float, range(1, reported + 1))) <= values
        # Resume: the campaign goes on.
        frame = pd.DataFrame({"T": [900.0], "P": [2.0], "gas": ["Ar"], "tau": [0.5], "tau_std": [0.1]})
        assert reopened.record(frame, "oracle") == 1
        assert len(reopened.observations()) == len(values) + 1


def test_busy_store_raises_quickly(path: Path) -> None:
    CampaignStore.create(path, make_space(), make_tasks(), {}).close()
    frame = pd.DataFrame({"T": [900.0], "P": [2.0], "gas": ["Ar"], "tau": [0.5], "tau_std": [0.1]})
    with CampaignStore.open(path, busy_timeout=0.2) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            start = time.monotonic()
            with pytest.raises(
                CampaignBusyError, match=r"campaign\.db is busy: another process is writing.*try again"
            ):
                store.record(frame, "oracle")
            assert time.monotonic() - start < 3.0
            assert store.pending().empty  # reading is never blocked by a writer (WAL)
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        assert store.record(frame, "oracle") == 1


def test_open_and_read_while_another_process_writes(busy_store: CampaignStore) -> None:
    holder = sqlite3.connect(busy_store.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE suggestions SET status = 'abandoned', status_changed_at = 'x' WHERE id = 3")
        with CampaignStore.open(busy_store.path, busy_timeout=0.2) as reader:
            # Readers see the last committed state, never a write in progress.
            assert list(reader.pending()["suggestion_id"]) == [1, 2, 3]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_closed_store(path: Path) -> None:
    store = CampaignStore.create(path, make_space(), make_tasks(), {})
    store.close()
    assert repr(store) == f"CampaignStore({str(path)!r}, closed)"
    with pytest.raises(CampaignStoreError, match="was closed; open it again"):
        store.pending()


def test_public_errors() -> None:
    assert issubclass(CampaignBusyError, CampaignStoreError)
    assert issubclass(CampaignStoreError, MtgpError)


def test_rejects_non_frames(store: CampaignStore) -> None:
    bad: list[Callable[[], object]] = [
        lambda: store.record({"tau": [1.0]}, "oracle"),  # type: ignore[arg-type]
        lambda: store.record(pd.DataFrame({"tau": [1.0]}), ""),
        lambda: store.suggestions("done"),
    ]
    for call in bad:
        with pytest.raises(InputDataError):
            call()


def test_replace_corrects_an_unsolicited_result_at_the_same_conditions(busy_store: CampaignStore) -> None:
    typo = pd.DataFrame({"T": [950.0], "P": 4.0, "gas": "N2", "f": 0.93})
    busy_store.record(typo, "initial")
    fixed = typo.assign(f=0.39)
    # With replace=True another value at the same conditions corrects the result there (without
    # it, the row would be added as a replicate).
    assert busy_store.record(fixed, "lab", replace=True) == 1
    current = busy_store.observations()
    assert current.loc[current["task"] == "f", "value"].tolist() == [0.39]
    history = busy_store.observations(include_superseded=True)
    old = history[history["value"] == 0.93]
    assert len(old) == 1 and not pd.isna(old["superseded_by"].iloc[0])
    # Two replicates at those conditions: a correction cannot say which one it means.
    busy_store.record(typo.assign(f=0.41), "lab")
    before = dump(busy_store.path)
    with pytest.raises(InputDataError, match=r"2 current results of 'f' were recorded at these conditions"):
        busy_store.record(typo.assign(f=0.40), "lab", replace=True)
    assert dump(busy_store.path) == before


def test_a_result_recorded_as_run_reads_back_from_an_export(
    busy_store: CampaignStore, tmp_path: Path
) -> None:
    ran = pd.DataFrame({"suggestion_id": [3], "T": [1105.0], "f": [0.6]})
    assert busy_store.record(ran, "lab", as_run=True) == 1
    exported = tmp_path / "export.csv"
    busy_store.export_csv(exported)
    # Its conditions differ from the suggestion's, but they are the ones recorded: a repeat.
    with pytest.raises(InputDataError, match=r"suggestion 3 already has this value"):
        busy_store.import_csv(exported)
    assert busy_store.import_csv(exported, duplicates="skip") == 0
    frame = pd.read_csv(exported)
    frame.loc[frame["suggestion_id"] == 3, "f"] = 0.65
    frame.to_csv(exported, index=False)
    assert busy_store.import_csv(exported, replace=True) == 1
    current = busy_store.observations()
    row = current[current["suggestion_id"] == 3]
    assert row["value"].tolist() == [0.65] and row["T"].tolist() == [1105.0]


def test_repeats_are_found_among_many_results_within_the_condition_tolerance(store: CampaignStore) -> None:
    rng = np.random.default_rng(0)
    many = pd.DataFrame(
        {
            "T": rng.uniform(800, 1400, 60),
            "P": rng.uniform(1, 50, 60),
            "gas": "N2",
            "f": rng.uniform(0.1, 0.9, 60),
        }
    )
    store.record(many, "lab")
    row = many.iloc[[17]]
    # A CSV round trip may move a value by an ulp or so: still the same result.
    with pytest.raises(InputDataError, match=r"1 value\(s\) repeat results already recorded: row 17 'f'"):
        store.record(row.assign(f=row["f"] * (1 + 1e-12)), "lab")
    # One part in a million is another measurement.
    assert store.record(row.assign(f=row["f"] * (1 + 1e-6)), "lab") == 1

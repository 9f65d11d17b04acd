"""Tests of mtgp_kinetics.dataset: reading, boundary validation, model views, derived datasets."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch

import mtgp_kinetics as mk
from mtgp_kinetics import Categorical, Continuous, Dataset, Space, Task
from mtgp_kinetics.errors import DataWarning, InputDataError

# Values are float64 throughout; targets and variances are a handful of flops from the inputs.
TOL = 1e-12
LN10 = np.log(10.0)


@pytest.fixture
def space() -> Space:
    return Space(
        [
            Continuous("T", 700.0, 1400.0, "K", "inverse"),
            Continuous("P", 1.0, 100.0, "bar", "log"),
            Categorical("gas", ("N2", "Ar")),
        ]
    )


@pytest.fixture
def tasks() -> list[Task]:
    return [
        Task("tau", "s", "log10", "rate", noise_column="tau_std"),
        Task("frac", "", "logit", "mechanism"),
    ]


@pytest.fixture
def wide() -> pd.DataFrame:
    """Heterotopic wide frame with a replicate (r0, r3) and an extra column; labels r0..r4."""
    return pd.DataFrame(
        {
            "T": [800.0, 900.0, 1000.0, 800.0, 1200.0],
            "P": [1.0, 10.0, 100.0, 1.0, 5.0],
            "gas": ["N2", "Ar", "N2", "N2", "Ar"],
            "tau": [1e-3, np.nan, 1e-4, 2e-3, 5e-5],
            "tau_std": [1e-4, np.nan, 1e-5, 2e-4, 1e-5],
            "frac": [0.2, 0.5, np.nan, 0.3, 0.9],
            "source": ["lab A", "lab B", "lab A", "lab A", "lab C"],
        },
        index=["r0", "r1", "r2", "r3", "r4"],
    )


@pytest.fixture
def long(wide: pd.DataFrame) -> pd.DataFrame:
    """The same data as ``wide`` in long form (labels l0..l7)."""
    rows = []
    for label, r in wide.iterrows():
        for task, std in (("tau", r["tau_std"]), ("frac", np.nan)):
            if not np.isnan(r[task]):
                rows.append(
                    {
                        "T": r["T"],
                        "P": r["P"],
                        "gas": r["gas"],
                        "task": task,
                        "value": r[task],
                        "noise": std,
                        "source": r["source"],
                        "src": label,
                    }
                )
    return pd.DataFrame(rows, index=[f"l{i}" for i in range(len(rows))])


def _set(frame: pd.DataFrame, label: str, column: str, value: object) -> pd.DataFrame:
    frame[column] = frame[column].astype(object)
    frame.loc[label, column] = value
    return frame


def _check_raises(frame: pd.DataFrame, space: Space, tasks: list[Task], match: str, **kwargs: object) -> None:
    """from_frame raises InputDataError matching ``match`` and leaves ``frame`` unchanged."""
    original = frame.copy()
    with pytest.raises(InputDataError, match=match):
        Dataset.from_frame(frame, space, tasks, **kwargs)
    assert frame.equals(original)


# -- bad wide input -----------------------------------------------------------------------------
WIDE_ERRORS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("missing condition", lambda f: f.drop(columns="P"), r"missing condition column\(s\) \['P'\]"),
    (
        "no task column",
        lambda f: f.drop(columns=["tau", "frac"]),
        r"none of the task columns \['tau', 'frac'\] is in the frame",
    ),
    ("one task column missing", lambda f: f.drop(columns="frac"), r"missing task column\(s\) \['frac'\]"),
    (
        "non-numeric condition",
        lambda f: _set(f, "r2", "T", "abc"),
        r"column 'T': non-numeric value\(s\) at row\(s\) r2: \['abc'\]",
    ),
    (
        "non-numeric task value",
        lambda f: _set(f, "r3", "tau", "1.2.3"),
        r"column 'tau': non-numeric value\(s\) \['1.2.3'\] at row\(s\) r3; task values",
    ),
    (
        "non-numeric noise",
        lambda f: _set(f, "r4", "tau_std", "abc"),
        r"column 'tau_std': non-numeric value\(s\) \['abc'\] at row\(s\) r4; measurement stds",
    ),
    (
        "NaN condition",
        lambda f: _set(f, "r1", "P", np.nan),
        r"column 'P': missing, NaN or infinite condition at row\(s\) r1",
    ),
    (
        "inf condition",
        lambda f: _set(f, "r4", "T", np.inf),
        r"column 'T': missing, NaN or infinite condition at row\(s\) r4",
    ),
    (
        "condition out of bounds",
        lambda f: _set(f, "r2", "T", 1500.0),
        r"column 'T': row r2: 1500 outside the bounds \[700.0, 1400.0\] K$",
    ),
    (
        "unknown level",
        lambda f: _set(f, "r0", "gas", "Xe"),
        r"column 'gas': unknown level\(s\) \['Xe'\] at row\(s\) r0; allowed levels",
    ),
    (
        "inf task value",
        lambda f: _set(f, "r2", "frac", np.inf),
        r"column 'frac': infinite value\(s\) at row\(s\) r2",
    ),
    (
        "log10 of zero",
        lambda f: _set(_set(f, "r0", "tau", 0.0), "r3", "tau", -1.0),
        r"column 'tau': row r0: 0, row r3: -1 cannot be modelled with the "
        r"'log10' transform of task 'tau', which needs values > 0",
    ),
    (
        "logit outside (0, 1)",
        lambda f: _set(f, "r4", "frac", 1.0),
        r"column 'frac': row r4: 1 .*'logit'.* needs values in the open "
        r"interval \(0, 1\)",
    ),
    (
        "task without observation",
        lambda f: _set(_set(f, "r1", "tau", 1.0), "r1", "tau_std", 0.1).assign(frac=np.nan),
        r"task\(s\) \['frac'\] have no observation at all",
    ),
    (
        "noise column missing",
        lambda f: f.drop(columns="tau_std"),
        r"task 'tau' has noise_column='tau_std', but the frame has no column 'tau_std'",
    ),
    (
        "noise missing where measured",
        lambda f: _set(f, "r2", "tau_std", np.nan),
        r"column 'tau_std': the measurement std of task 'tau' is missing at row\(s\) r2",
    ),
    (
        "noise zero",
        lambda f: _set(f, "r3", "tau_std", 0.0),
        r"column 'tau_std': measurement std\(s\) \[0.0\] of task 'tau' at row\(s\) r3 are not "
        r"finite numbers > 0",
    ),
    (
        "noise negative",
        lambda f: _set(f, "r0", "tau_std", -1e-4),
        r"column 'tau_std': measurement std\(s\) \[-0.0001\] .* at row\(s\) r0",
    ),
    (
        "noise infinite",
        lambda f: _set(f, "r4", "tau_std", np.inf),
        r"column 'tau_std': measurement std\(s\) \[inf\] .* at row\(s\) r4",
    ),
    (
        "reserved extra column",
        lambda f: f.assign(noise=1.0),
        r"column\(s\) \['noise'\] are neither conditions nor task columns .* reserved",
    ),
    (
        "duplicated frame column",
        lambda f: pd.concat([f, f[["source"]]], axis=1),
        r"column\(s\) \['source'\] appear more than once",
    ),
]


@pytest.mark.parametrize(("mutate", "match"), [c[1:] for c in WIDE_ERRORS], ids=[c[0] for c in WIDE_ERRORS])
def test_bad_wide_input(space, tasks, wide, mutate, match) -> None:
    _check_raises(mutate(wide), space, tasks, match)


def test_temperatures_in_celsius_are_named_as_such(space, tasks, wide) -> None:
    # 527-1127 degC is 800-1400 K: every value in bounds once read as Celsius, each beside its row.
    wide["T"] = wide["T"] - 273.15
    _check_raises(
        wide,
        space,
        tasks,
        r"column 'T': row r0: 526.85, row r1: 626.85, row r3: 526.85 outside the bounds "
        r"\[700.0, 1400.0\] K. Hint: every value is in bounds once read as degrees Celsius",
    )
    # One value out of bounds either way: no such hint.
    _check_raises(_set(wide, "r4", "T", 5000.0), space, tasks, r"outside the bounds \[700.0, 1400.0\] K$")


@pytest.mark.parametrize(
    ("value", "nearest"), [(0.0, "smallest value inside is 0.2"), (1.0, "largest value inside is 0.9")]
)
def test_a_fraction_of_exactly_0_or_1_is_compared_with_its_nearest_measured_value(
    space, tasks, wide, value, nearest
) -> None:
    _check_raises(_set(wide, "r1", "frac", value), space, tasks, rf"row r1: {value:g} .*{nearest}\. ")


def test_a_fraction_just_above_1_is_called_an_overshoot_not_per_cent(space, tasks, wide) -> None:
    _check_raises(
        _set(wide, "r1", "frac", 1.02),
        space,
        tasks,
        r"row r1: 1.02 .*Hint: 1 value\(s\) just above 1 \(at most 5 % over\) look like an instrument's",
    )
    with pytest.raises(InputDataError) as caught:
        Dataset.from_frame(_set(wide, "r1", "frac", 1.02), space, tasks)
    assert "per cent" not in str(caught.value)


def test_a_level_off_by_case_or_a_space_is_named(space, tasks, wide) -> None:
    _check_raises(
        _set(_set(wide, "r0", "gas", "n2"), "r1", "gas", "Ar "),
        space,
        tasks,
        r"unknown level\(s\) \['Ar ', 'n2'\] .*Did you mean 'Ar ' -> 'Ar', 'n2' -> 'N2'\?",
    )


def test_many_bad_rows_are_listed_and_truncated(space, tasks) -> None:
    frame = pd.DataFrame(
        {
            "T": [800.0] * 12,
            "P": [1.0] * 12,
            "gas": ["N2"] * 12,
            "tau": [-1.0] * 12,
            "tau_std": [1.0] * 12,
            "frac": [0.5] * 12,
        }
    )
    _check_raises(
        frame, space, tasks, r"row 0: -1, row 1: -1, row 2: -1, row 3: -1, row 4: -1 \(and 7 more\) cannot"
    )


# -- bad long input -----------------------------------------------------------------------------
LONG_ERRORS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    (
        "unknown task name",
        lambda f: _set(_set(f, "l2", "task", "tua"), "l5", "task", "tua"),
        r"column 'task': unknown task name\(s\) \['tua'\] at row\(s\) l2, l5; known tasks are "
        r"\['tau', 'frac'\]",
    ),
    (
        "missing task name",
        lambda f: _set(f, "l1", "task", np.nan),
        r"column 'task': missing task name at row\(s\) l1",
    ),
    (
        "non-numeric value",
        lambda f: _set(f, "l3", "value", "abc"),
        r"column 'value': non-numeric value\(s\) \['abc'\] at row\(s\) l3",
    ),
    (
        "non-numeric noise",
        lambda f: _set(f, "l0", "noise", "1.2.3"),
        r"column 'noise': non-numeric value\(s\) \['1.2.3'\] at row\(s\) l0",
    ),
    (
        "non-numeric condition",
        lambda f: _set(f, "l4", "P", "abc"),
        r"column 'P': non-numeric value\(s\) at row\(s\) l4",
    ),
    (
        "inf value",
        lambda f: _set(f, "l0", "value", -np.inf),
        r"column 'value' \(task 'tau'\): infinite value\(s\) at row\(s\) l0",
    ),
    (
        "value outside domain",
        lambda f: _set(f, "l2", "value", 1.5),
        r"column 'value' \(task 'frac'\): row l2: 1.5 .*'logit'",
    ),
    (
        "noise missing for noise task",
        lambda f: _set(f, "l3", "noise", np.nan),
        r"column 'noise': the measurement std of task 'tau' is missing at row\(s\) l3",
    ),
    (
        "noise non-positive",
        lambda f: _set(f, "l1", "noise", -0.1),
        r"column 'noise': measurement std\(s\) \[-0.1\] of task 'frac' at row\(s\) l1",
    ),
    (
        "noise column absent",
        lambda f: f.drop(columns="noise"),
        r"row\(s\) l0, l3, l4, l6 measure task\(s\) \['tau'\] with known noise .* no noise "
        r"column 'noise'",
    ),
    (
        "reserved extra column",
        lambda f: f.assign(row=1),
        r"column\(s\) \['row'\] are neither conditions nor .* reserved",
    ),
    (
        "task without observation",
        lambda f: f[f["task"] == "tau"],
        r"task\(s\) \['frac'\] have no observation at all",
    ),
]


@pytest.mark.parametrize(("mutate", "match"), [c[1:] for c in LONG_ERRORS], ids=[c[0] for c in LONG_ERRORS])
def test_bad_long_input(space, tasks, long, mutate, match) -> None:
    _check_raises(mutate(long), space, tasks, match)


def test_long_form_explicit_needs_columns(space, tasks, long) -> None:
    _check_raises(
        long,
        space,
        tasks,
        r"long form needs a column 'kind' \(task_column\)",
        form="long",
        task_column="kind",
    )


@pytest.mark.parametrize(
    ("make_tasks", "match"),
    [
        (lambda: [Task("tau"), Task("tau")], r"duplicated task name\(s\) \['tau'\]"),
        (lambda: [Task("tau"), Task("P")], r"task name\(s\) \['P'\] equal condition name"),
        (lambda: [], "tasks is empty"),
        (
            lambda: [Task("tau", noise_column="s"), Task("frac", noise_column="s")],
            r"noise_column\(s\) \['s'\] are shared",
        ),
    ],
)
def test_bad_task_definitions(space, wide, make_tasks, match) -> None:
    _check_raises(wide, space, make_tasks(), match)


def test_bad_form(space, tasks, wide) -> None:
    _check_raises(wide, space, tasks, r"form must be 'auto', 'wide' or 'long', got 'tall'", form="tall")


def test_not_a_frame(space, tasks) -> None:
    with pytest.raises(InputDataError, match="frame must be a pandas DataFrame, got dict"):
        Dataset.from_frame({"T": [800.0]}, space, tasks)


# -- reading ------------------------------------------------------------------------------------
def test_wide_reading(space, tasks, wide) -> None:
    original = wide.copy()
    data = Dataset.from_frame(wide, space, tasks)
    assert wide.equals(original)
    obs = data.observations
    assert list(obs.columns) == ["T", "P", "gas", "task", "value", "noise", "row", "source"]
    assert list(obs.index) == list(range(8)) and len(data) == data.n_observations == 8
    # Heterotopic: r1 has no tau, r2 no frac; source-row order, then task order.
    assert list(obs["row"]) == ["r0", "r0", "r1", "r2", "r3", "r3", "r4", "r4"]
    assert list(obs["task"]) == ["tau", "frac", "frac", "tau", "tau", "frac", "tau", "frac"]
    np.testing.assert_array_equal(obs["value"], [1e-3, 0.2, 0.5, 1e-4, 2e-3, 0.3, 5e-5, 0.9])
    np.testing.assert_array_equal(obs["noise"], [1e-4, np.nan, np.nan, 1e-5, 2e-4, np.nan, 1e-5, np.nan])
    assert list(obs["source"]) == ["lab A", "lab A", "lab B", "lab A", "lab A", "lab A", "lab C", "lab C"]
    assert data.counts().to_dict() == {"tau": 4, "frac": 4}
    assert data.task_names == ["tau", "frac"] and data.tasks == tuple(tasks)
    assert data.unmeasured.empty


def test_replicates_are_kept(space, tasks, wide) -> None:
    # A row pasted twice is kept too, but named: it would count as two measurements.
    with pytest.warns(
        DataWarning, match=r"1 row\(s\) repeat an earlier row in every cell \(row = earlier row: r0 = r0\)"
    ):
        data = Dataset.from_frame(pd.concat([wide, wide.iloc[[0]]]), space, tasks)
    obs = data.observations
    replicate = (obs["T"] == 800.0) & (obs["P"] == 1.0) & (obs["task"] == "tau")
    assert sorted(obs.loc[replicate, "value"]) == [1e-3, 1e-3, 2e-3]


def test_wide_and_long_agree(space, tasks, wide, long) -> None:
    original = long.copy()
    from_wide = Dataset.from_frame(wide, space, tasks).observations
    from_long = Dataset.from_frame(long, space, tasks).observations
    assert long.equals(original)
    assert list(from_long["row"]) == [f"l{i}" for i in range(8)]
    assert list(from_long["src"]) == list(from_wide["row"])  # same order
    columns = ["T", "P", "gas", "task", "value", "noise", "source"]
    pd.testing.assert_frame_equal(from_wide[columns], from_long[columns])


def test_long_custom_columns_and_optional_noise(space) -> None:
    tasks = [Task("k", "cm3/s", "log", "rate")]
    frame = pd.DataFrame(
        {"T": [800.0, 900.0], "P": [1.0, 2.0], "gas": ["N2", "Ar"], "output": ["k", "k"], "y": [1e-12, 2e-12]}
    )
    data = Dataset.from_frame(frame, space, tasks, task_column="output", value_column="y")
    assert data.observations["noise"].isna().all()
    assert torch.isnan(data.train_noise_variance()).all()


def test_form_auto_prefers_wide_when_a_task_is_a_column(space, tasks, wide) -> None:
    frame = wide.assign(value=1.0, task="x")  # both long columns exist, but so do task columns
    with pytest.raises(InputDataError, match=r"\['value', 'task'\] are neither conditions"):
        Dataset.from_frame(frame, space, tasks)


def test_unmeasured_rows_warned_and_kept(space, tasks, wide) -> None:
    frame = wide.copy()
    frame.loc[["r1", "r4"], ["tau", "tau_std", "frac"]] = np.nan
    frame.loc["r4", "T"] = np.nan  # conditions of unmeasured rows are not checked
    original = frame.copy()
    with pytest.warns(DataWarning, match=r"row\(s\) r1, r4 have no measured value"):
        data = Dataset.from_frame(frame, space, tasks)
    assert frame.equals(original)
    pd.testing.assert_frame_equal(data.unmeasured, original.loc[["r1", "r4"]])
    assert "r1" not in set(data.observations["row"])
    assert "2 unmeasured row(s)" in repr(data)


def test_unmeasured_long_rows(space, tasks, long) -> None:
    frame = _set(long, "l2", "value", np.nan)
    with pytest.warns(DataWarning, match=r"row\(s\) l2 have no measured value"):
        data = Dataset.from_frame(frame, space, tasks)
    assert list(data.unmeasured.index) == ["l2"] and len(data) == 7


def test_blank_strings_mean_not_measured(space, tasks, wide) -> None:
    frame = _set(wide, "r1", "tau", "  ")
    assert len(Dataset.from_frame(frame, space, tasks)) == 8


def test_csv(space, tasks, wide, tmp_path) -> None:
    path = tmp_path / "data.csv"
    wide.to_csv(path, index=False)
    data = Dataset.from_csv(path, space, tasks)
    # Rows are labelled by their line in the file: the header is line 1.
    lines = wide.set_axis(pd.RangeIndex(2, len(wide) + 2, name="line"))
    expected = Dataset.from_frame(lines, space, tasks).observations
    pd.testing.assert_frame_equal(data.observations, expected)


def test_csv_rows_are_the_files_lines(space, tasks, wide, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    _set(wide, "r3", "tau", "1.2.3").to_csv(path, index=False)  # the fourth data row: line 5
    with pytest.raises(InputDataError, match=r"column 'tau': non-numeric .* at row\(s\) 5;"):
        Dataset.from_csv(path, space, tasks)


def test_csv_keeps_categorical_levels_that_look_like_missing(tmp_path) -> None:
    space = Space([Continuous("T", 300.0, 500.0), Categorical("catalyst", ("None", "Pd"))])
    path = tmp_path / "cat.csv"
    path.write_text("T,catalyst,yield,note\n300,None,0.2,None\n400,Pd,0.5,\n500,Pd,0.7,x\n")
    data = Dataset.from_csv(path, space, [Task("yield", transform="logit")])
    assert list(data.observations["catalyst"]) == ["None", "Pd", "Pd"]
    assert data.observations["note"].isna().iloc[0]


def test_csv_unreadable(space, tasks, tmp_path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputDataError, match=r"cannot read .*empty\.csv"):
        Dataset.from_csv(path, space, tasks)


# -- model views --------------------------------------------------------------------------------
def test_train_inputs(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    X = data.train_inputs()
    assert X.shape == (8, space.dim + 1) and X.dtype == torch.float64
    obs = data.observations
    torch.testing.assert_close(X[:, :-1], space.to_model(obs), rtol=0, atol=0)
    np.testing.assert_array_equal(X[:, -1].numpy(), [0, 1, 1, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(X[:, 2].numpy(), [0, 0, 1, 0, 0, 0, 1, 1])  # gas codes


def test_train_targets(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    z = data.train_targets()
    assert z.shape == (8,) and z.dtype == torch.float64
    expected = [
        -3.0,
        np.log(0.2 / 0.8),
        0.0,
        -4.0,
        np.log10(2e-3),
        np.log(0.3 / 0.7),
        np.log10(5e-5),
        np.log(9.0),
    ]
    np.testing.assert_allclose(z.numpy(), expected, rtol=TOL, atol=TOL)


def test_train_noise_variance_delta_method(space, tasks, long) -> None:
    frame = _set(long, "l1", "noise", 0.01)  # frac = 0.2 with known std 0.01, the others learned
    with pytest.warns(DataWarning, match=r"task 'frac' has a measurement std at 1 of its rows but not at"):
        data = Dataset.from_frame(frame, space, tasks)
    var = data.train_noise_variance()
    assert var.shape == (8,) and var.dtype == torch.float64
    expected = np.full(8, np.nan)
    # log10: dz/dy = 1 / (y ln 10); logit: dz/dy = 1 / (y (1 - y)).
    for i, (y, s) in {0: (1e-3, 1e-4), 3: (1e-4, 1e-5), 4: (2e-3, 2e-4), 6: (5e-5, 1e-5)}.items():
        expected[i] = (s / (y * LN10)) ** 2
    expected[1] = (0.01 / (0.2 * 0.8)) ** 2
    np.testing.assert_allclose(var.numpy(), expected, rtol=TOL)
    np.testing.assert_allclose(expected[0], 0.1**2 / LN10**2, rtol=TOL)


def test_observations_are_copies(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    obs, unmeasured = data.observations, data.unmeasured
    obs["value"] = 0.0
    unmeasured["x"] = 1
    assert "x" not in data.unmeasured.columns
    assert data.observations["value"].iloc[0] == 1e-3


# -- conversion and derived datasets ----------------------------------------------------------
def test_round_trip_wide(space, tasks, wide) -> None:
    back = Dataset.from_frame(wide, space, tasks).to_frame()
    assert list(back.columns) == ["T", "P", "gas", "tau", "tau_std", "frac", "source"]
    pd.testing.assert_frame_equal(back, wide, check_index_type=False)


def test_to_frame_long_and_bad_form(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    pd.testing.assert_frame_equal(data.to_frame("long"), data.observations)
    with pytest.raises(InputDataError, match="form must be 'wide' or 'long'"):
        data.to_frame("tall")


def test_concat_keeps_source_rows_apart(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    both = data.concat(data)
    assert len(both) == 16 and both.counts().to_dict() == {"tau": 8, "frac": 8}
    back = both.to_frame()
    assert len(back) == 10  # equal labels r0..r4 twice, but never merged
    pd.testing.assert_frame_equal(back.iloc[5:], wide, check_index_type=False)
    assert len(data) == 8  # unchanged


def test_concat_rejects_other_tasks(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    other = Dataset.from_frame(wide, space, [tasks[0], Task("frac")])
    with pytest.raises(InputDataError, match="different tasks"):
        data.concat(other)
    with pytest.raises(InputDataError, match="expected a Dataset"):
        data.concat(wide)


def test_append_one_task_long(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    new = pd.DataFrame(
        {"T": [1100.0], "P": [3.0], "gas": ["Ar"], "task": ["frac"], "value": [0.4], "campaign": ["round 1"]}
    )
    more = data.append(new)
    assert more.counts().to_dict() == {"tau": 4, "frac": 5}
    last = more.observations.iloc[-1]
    assert last["task"] == "frac" and last["value"] == 0.4 and last["campaign"] == "round 1"
    assert np.isnan(last["noise"]) and pd.isna(more.observations["campaign"].iloc[0])
    assert more.train_inputs().shape == (9, 4)


def test_append_validates(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    new = pd.DataFrame(
        {"T": [1100.0], "P": [300.0], "gas": ["Ar"], "task": ["frac"], "value": [0.4]}, index=["n0"]
    )
    original = new.copy()
    with pytest.raises(InputDataError, match=r"column 'P': row n0: .* outside the bounds"):
        data.append(new)
    assert new.equals(original)


def test_subset(space, tasks, wide) -> None:
    data = Dataset.from_frame(wide, space, tasks)
    mask = data.observations["task"] == "tau"
    taus = data.subset(mask.to_numpy())
    assert taus.counts().to_dict() == {"tau": 4, "frac": 0}
    torch.testing.assert_close(taus.train_targets(), data.train_targets()[torch.as_tensor(mask)])
    picked = data.subset([5, 0, -1])
    assert list(picked.observations["row"]) == ["r3", "r0", "r4"]
    assert list(picked.observations.index) == [0, 1, 2]
    assert picked.subset(torch.tensor([True, False, True])).n_observations == 2
    assert len(data.subset([])) == 0 and data.subset([]).train_inputs().shape == (0, 4)


@pytest.mark.parametrize(
    ("selection", "match"),
    [
        (np.ones(3, dtype=bool), r"boolean mask needs shape \(8,\)"),
        ([0, 8], r"position\(s\) \[8\] out of range for 8 observations"),
        ([1, 1], "positions must be distinct"),
        ([0.5], "expected a boolean mask or integer positions"),
    ],
)
def test_subset_bad_selection(space, tasks, wide, selection, match) -> None:
    with pytest.raises(InputDataError, match=match):
        Dataset.from_frame(wide, space, tasks).subset(selection)


def test_repr(space, tasks, wide) -> None:
    text = repr(Dataset.from_frame(wide, space, tasks))
    assert text.startswith("Dataset(8 observations of 2 task(s)")
    assert "tau: 4, frac: 4" in text


def test_a_logit_task_in_per_cent_is_modelled_as_logit_of_the_fraction():
    task = mk.Task("yield", unit="%", transform="logit", kind="mechanism")
    assert task.transform == "logit_percent"
    assert mk.Task.from_dict(task.to_dict()).transform == "logit_percent"
    space = mk.Space([mk.Continuous("T", 300.0, 400.0, unit="K")])
    frame = pd.DataFrame({"T": np.linspace(300.0, 400.0, 12), "yield": np.linspace(0.5, 95.0, 12)})
    data = mk.Dataset.from_frame(frame, space, [task])
    fraction = frame["yield"].to_numpy() / 100.0
    np.testing.assert_allclose(data.train_targets().numpy(), np.log(fraction / (1.0 - fraction)))
    model = mk.fit(data, restarts=1)
    pred = model.predict(pd.DataFrame({"T": [310.0, 390.0]}))
    assert ((pred["lower"] > 0.0) & (pred["upper"] < 100.0)).all()  # per cent, inside (0, 100)
    assert pred["mean"].iloc[1] > 50.0


def test_fraction_errors_say_what_to_do():
    space = mk.Space([mk.Continuous("T", 300.0, 400.0, unit="K")])
    frame = pd.DataFrame({"T": [300.0, 350.0, 400.0], "yield": [12.0, 40.0, 88.0]})
    with pytest.raises(mk.InputDataError, match="unit='%'"):
        mk.Dataset.from_frame(frame, space, [mk.Task("yield", transform="logit")])
    frame["yield"] = [0.0, 40.0, 100.0]
    with pytest.raises(mk.InputDataError, match=r"row 0: 0, row 2: 100 .*clip"):
        mk.Dataset.from_frame(frame, space, [mk.Task("yield", unit="%", transform="logit")])


def test_fractions_in_a_per_cent_task_are_warned_about():
    space = mk.Space([mk.Continuous("T", 300.0, 500.0, "K")])
    tasks = [mk.Task("yield", "%", "logit", "mechanism")]
    fractions = pd.DataFrame({"T": [300.0, 350.0, 400.0, 450.0, 500.0], "yield": [0.1, 0.2, 0.5, 0.7, 0.9]})
    with pytest.warns(mk.DataWarning, match=r"task 'yield' is in per cent.*all its 5 values are at most 1"):
        data = mk.Dataset.from_frame(fractions, space, tasks)
    assert data.observations["value"].tolist() == [0.1, 0.2, 0.5, 0.7, 0.9]  # kept as given
    # Per cent values, or a few trace yields below 1 %, are not warned about.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mk.Dataset.from_frame(fractions.assign(**{"yield": [10.0, 20.0, 50.0, 70.0, 0.5]}), space, tasks)
        mk.Dataset.from_frame(fractions.iloc[:4], space, tasks)


def test_a_blank_level_and_a_near_miss_header_are_named_as_such():
    space = mk.Space([mk.Continuous("T", 300.0, 400.0, "K"), mk.Categorical("gas", ["Ar", "N2"])])
    tasks = [mk.Task("tau_us", "us", "log10")]
    frame = pd.DataFrame({"T": [310.0, 320.0, 330.0], "gas": ["Ar", np.nan, "N2"], "tau_us": [5.0, 6.0, 7.0]})
    with pytest.raises(mk.InputDataError, match=r"column 'gas': no level given at row\(s\) 1;"):
        mk.Dataset.from_frame(frame, space, tasks)  # not "unknown level(s) ['nan']"
    frame["gas"] = "Ar"
    with pytest.raises(mk.InputDataError, match=r"'tau_us ' for 'tau_us': a stray space"):
        mk.Dataset.from_frame(frame.rename(columns={"tau_us": "tau_us "}), space, tasks)
    with pytest.raises(mk.InputDataError, match=r"'t' for 'T': a stray space, a change of case"):
        mk.Dataset.from_frame(frame.rename(columns={"T": "t"}), space, tasks)
    bracketed = mk.Space([mk.Continuous("T5 (K)", 300.0, 400.0, "K"), space["gas"]])
    with pytest.raises(mk.InputDataError, match=r"'T5 \[K\]' for 'T5 \(K\)': .* or other brackets"):
        mk.Dataset.from_frame(frame.rename(columns={"T": "T5 [K]"}), bracketed, tasks)
    # A lab header with its unit: "T [K]" for the variable T.
    with pytest.raises(mk.InputDataError, match=r"the frame has 'T \[K\]' for 'T': rename the column"):
        mk.Dataset.from_frame(frame.rename(columns={"T": "T [K]", "tau_us": "tau_us (us)"}), space, tasks)
    with pytest.raises(mk.InputDataError, match=r"the frame has 'tau_us \(us\)' for 'tau_us': rename"):
        mk.Dataset.from_frame(frame.rename(columns={"tau_us": "tau_us (us)"}), space, tasks)


def test_a_lone_dash_means_not_measured_and_text_in_several_columns_is_named_at_once(tmp_path):
    space = mk.Space([mk.Continuous("T", 300.0, 400.0, "K")])
    tasks = [mk.Task("k", "1/s", "log10"), mk.Task("y", "", "logit"), mk.Task("z", "", "log")]
    frame = pd.DataFrame(
        {
            "T": [310.0, 320.0, 330.0],
            "k": [1.0, "-", 3.0],
            "y": [0.2, "\u2014", 0.4],
            "z": [1.0, 2.0, "\u2013"],
        }
    )
    data = mk.Dataset.from_frame(frame, space, tasks)
    assert data.counts().to_dict() == {"k": 2, "y": 2, "z": 2}
    path = tmp_path / "dash.csv"
    frame.to_csv(path, index=False)
    assert mk.Dataset.from_csv(path, space, tasks).counts().to_dict() == {"k": 2, "y": 2, "z": 2}
    frame.loc[0, "k"], frame.loc[2, "y"] = "n.d.", "0,4"
    with pytest.raises(
        mk.InputDataError,
        match=r"column 'k': non-numeric .*\['n.d.'\] at row\(s\) 0; column 'y': .*\['0,4'\] at row\(s\) 2;",
    ):
        mk.Dataset.from_frame(frame, space, tasks)


def test_a_relative_std_in_a_noise_column_is_pointed_out() -> None:
    """ "±20 %" written as 0.2 next to k ~ 1e-11: the std dwarfs the value and the fit learns nothing."""
    space = Space([Continuous("T", 300.0, 1000.0, unit="K", transform="inverse")])
    task = Task("k", unit="cm3/s", transform="log10", kind="rate", noise_column="k_sd")
    frame = pd.DataFrame({"T": [300.0, 500.0, 700.0], "k": [1e-12, 3e-12, 9e-12], "k_sd": [0.2, 0.2, 0.2]})
    with pytest.warns(
        DataWarning, match=r"'k_sd'.*as large as the value itself or larger at 3 row.*relative std"
    ):
        Dataset.from_frame(frame, space, [task])
    Dataset.from_frame(frame.assign(k_sd=0.2 * frame["k"]), space, [task])  # absolute: no warning

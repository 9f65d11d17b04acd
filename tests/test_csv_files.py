"""Reading lab CSV files: spreadsheet quirks are read right or refused, rows named by their line."""

from __future__ import annotations

import pandas as pd
import pytest

import mtgp_kinetics as mk
from mtgp_kinetics.csv_files import read_csv
from mtgp_kinetics.errors import InputDataError

SPACE = mk.Space([mk.Continuous("T", 800.0, 1400.0, "K", "inverse"), mk.Categorical("gas", ("N2", "Ar"))])
TASKS = [mk.Task("tau", "s", "log10", "rate")]


def write(tmp_path, text: str, name: str = "lab.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_rows_are_labelled_by_their_line_blank_lines_included(tmp_path):
    path = write(tmp_path, "T,gas,tau\n900,N2,0.01\n\n1000,Ar,0.002\n")
    frame = read_csv(path, SPACE, line_numbers=True)
    assert list(frame.index) == [2, 4]
    assert list(frame["gas"]) == ["N2", "Ar"]
    # The line shows up in a later error message.
    bad = write(tmp_path, "T,gas,tau\n900,N2,0.01\n\n1000,Ar,ND\n", "bad.csv")
    with pytest.raises(InputDataError, match=r"column 'tau': non-numeric .* at row\(s\) 4;"):
        mk.Dataset.from_csv(bad, SPACE, TASKS)


def test_repeated_header_name_is_refused(tmp_path):
    path = write(tmp_path, "T,gas,tau,T\n900,N2,0.01,950\n")
    with pytest.raises(InputDataError, match=r"column\(s\) \['T'\] appear more than once in the header"):
        read_csv(path, SPACE)


def test_trailing_delimiters_are_empty_fields(tmp_path):
    """A trailing comma on every data row (but not on the header) is an empty last field."""
    path = write(tmp_path, "T,gas,tau\n900,N2,0.01,\n1000,Ar,0.002,\n")
    frame = read_csv(path, SPACE, line_numbers=True)
    assert list(frame.columns) == ["T", "gas", "tau"]
    assert frame["T"].tolist() == [900.0, 1000.0] and list(frame.index) == [2, 3]


def test_a_comma_in_a_value_before_an_empty_last_cell_is_refused(tmp_path):
    """'1,850' typed into a column before an empty note: read as a trailing comma, the row's values
    after it would sit one column off (a helper's shock-tube sheet: OH* time 1.0, note 850)."""
    path = write(tmp_path, "T,gas,tau,note\n900,N2,0.01,ok\n1000,Ar,1,850,\n")
    with pytest.raises(InputDataError, match=r"line\(s\) 3 have more fields than the header \(4\)"):
        read_csv(path, SPACE)


def test_an_unquoted_comma_in_a_value_is_refused_naming_the_line(tmp_path):
    path = write(tmp_path, "T,gas,tau\n900,N2,0.01\n1,000.0,Ar,0.002\n")
    with pytest.raises(InputDataError, match=r"line 3 has 4 fields but the header has 3: an unquoted comma"):
        read_csv(path, SPACE)


def test_excel_empty_rows_and_columns_are_dropped(tmp_path):
    path = write(tmp_path, "\ufeffT,gas,tau,\r\n900,N2,0.01,\r\n,,,\r\n1000,Ar,0.002,\r\n,,,\r\n")
    frame = read_csv(path, SPACE, line_numbers=True)
    assert list(frame.columns) == ["T", "gas", "tau"]  # byte-order mark and 'Unnamed: 3' gone
    assert list(frame.index) == [2, 4]
    data = mk.Dataset.from_csv(path, SPACE, TASKS)
    assert data.n_observations == 2


def test_values_under_an_empty_header_are_refused(tmp_path):
    """A value without a column name would be dropped or misnamed ('Unnamed: 3'): say which line."""
    path = write(tmp_path, "T,gas,tau,\n900,N2,0.01,\n1000,Ar,0.002,5\n")
    with pytest.raises(
        InputDataError, match=r"line 3 has a value \('5'\) in column 4, whose header is empty"
    ):
        read_csv(path, SPACE)


def test_whitespace_only_lines_are_counted_like_blank_ones(tmp_path):
    path = write(tmp_path, "T,gas,tau\n900,N2,0.01\n\t\n   \n1000,Ar,0.002\n")
    assert list(read_csv(path, SPACE, line_numbers=True).index) == [2, 5]


def test_quoted_line_breaks_keep_the_line_numbers(tmp_path):
    path = write(tmp_path, 'T,gas,tau,note\n900,N2,0.01,"two\nlines"\n1000,Ar,0.002,x\n')
    assert list(read_csv(path, SPACE, line_numbers=True).index) == [2, 4]


def test_unreadable_files(tmp_path):
    with pytest.raises(InputDataError, match="cannot read"):
        read_csv(write(tmp_path, ""), SPACE)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("T,gas,tau,note\n900,N2,0.01,ok\n900,N2,0.01,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"line 3 holds bytes that are not UTF-8 .*'CSV UTF-8'"):
        read_csv(latin, SPACE)
    with pytest.raises(InputDataError, match="cannot open"):
        read_csv(tmp_path, SPACE)


def test_a_header_only_file_has_no_rows(tmp_path):
    frame = read_csv(write(tmp_path, "T,gas,tau\n"), SPACE, line_numbers=True)
    assert len(frame) == 0 and list(frame.columns) == ["T", "gas", "tau"]
    assert isinstance(frame, pd.DataFrame)


def test_short_rows_are_read_with_empty_last_fields_and_named_in_a_warning(tmp_path):
    # Line 3 omits its last (empty) field, as some writers do; line 4 lost "N2," with its comma,
    # so its tau value landed under gas. Both are read (nothing is dropped) and both are named.
    path = write(tmp_path, "T,gas,tau\n900,N2,0.01\n1000,Ar\n1100,0.005\n")
    with pytest.warns(mk.DataWarning, match=r"line\(s\) 3, 4 have fewer fields than the header \(3\)"):
        frame = read_csv(path, SPACE, line_numbers=True)
    assert list(frame.index) == [2, 3, 4]
    assert frame["tau"].isna().tolist() == [False, True, True]
    assert frame["gas"].tolist() == ["N2", "Ar", "0.005"]
    # A dataset keeps both rows, as unmeasured ones, and says so.
    with pytest.warns(mk.DataWarning) as caught:
        data = mk.Dataset.from_csv(path, SPACE, TASKS)
    assert len(data.unmeasured) == 2
    messages = [str(w.message) for w in caught]
    assert any("fewer fields" in m for m in messages)
    assert any("row(s) 3, 4 have no measured value" in m for m in messages)


def test_a_semicolon_separated_file_is_named_as_such(tmp_path):
    path = write(tmp_path, "T;gas;tau\n900;N2;0,01\n")
    with pytest.raises(InputDataError, match=r"uses ';' between values.*decimal points"):
        read_csv(path, SPACE)


def test_a_tab_separated_file_is_named_as_such(tmp_path):
    path = write(tmp_path, "T\tgas\ttau\n900\tN2\t0.01\n")
    with pytest.raises(InputDataError, match="tab-separated"):
        read_csv(path, SPACE)


@pytest.mark.parametrize(
    ("start", "what"),
    [(b"PK\x03\x04", "spreadsheet file"), (b"\xd0\xcf\x11\xe0", "spreadsheet file"), (b"\xff\xfe", "UTF-16")],
)
def test_spreadsheet_and_utf16_files_are_named_as_such(tmp_path, start, what):
    path = tmp_path / "lab.csv"
    path.write_bytes(start + b"T,gas,tau\n900,N2,0.01\n")
    with pytest.raises(InputDataError, match=f"{what}.*'CSV UTF-8'"):
        read_csv(path, SPACE)


def test_a_lone_true_is_not_read_as_the_number_one(tmp_path):
    """pandas reads a column whose only value is TRUE as booleans; to_numeric would make it 1.0."""
    path = write(tmp_path, "T,gas,tau\n900,N2,TRUE\n")
    with pytest.raises(InputDataError, match=r"column 'tau': non-numeric value\(s\) \[True\]"):
        mk.Dataset.from_csv(path, SPACE, TASKS)
    path = write(tmp_path, "T,gas,tau\nTRUE,N2,0.01\n", "condition.csv")
    with pytest.raises(InputDataError, match=r"column 'T': non-numeric value\(s\)"):
        mk.Dataset.from_csv(path, SPACE, TASKS)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_an_empty_file_is_called_empty(tmp_path, text):
    with pytest.raises(InputDataError, match=r"lab.csv' as CSV: the file is empty \(not even a header row"):
        read_csv(write(tmp_path, text), SPACE)

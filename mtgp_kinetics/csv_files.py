"""Reading a lab's CSV file into a frame, with rows named as a spreadsheet names them.

Lab spreadsheets export CSV files with quirks that pandas reads silently into something else: a
repeated header name becomes ``T`` and ``T.1``, a trailing delimiter on every data row turns the
first column into the row index, Excel's empty rows (``,,,,``) and empty trailing columns
(``Unnamed: 5``) appear as data. :func:`read_csv` refuses the first two with a message that says
what is wrong, drops the empty rows and columns, and labels every row by its line in the file
(line 1 is the header), so that "row 7" in any later error message is row 7 on screen, blank lines
included. A row with fewer fields than the header is read with the missing last fields empty, and a
:class:`~mtgp_kinetics.errors.DataWarning` names its lines: if a value was deleted together with its
comma, the values after it sit one column too far left.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mtgp_kinetics.errors import DataWarning, InputDataError
from mtgp_kinetics.frame_parsing import NOT_MEASURED_MARKS, blank_cells
from mtgp_kinetics.space import Categorical, Space, _rows

# Text read as "not measured" in every column but the categorical conditions, where a level may
# legitimately be called "None" or "NA".
NA_TEXT = ["", "NA", "N/A", "n/a", "<NA>", "#N/A", "NaN", "nan", "-nan", "-NaN", "NULL", "null", "None"]
NA_TEXT += list(NOT_MEASURED_MARKS)  # a lone dash, as lab exports write it


def read_csv(path: str | Path, space: Space, line_numbers: bool = False) -> pd.DataFrame:
    """Read a CSV file of conditions and results, keeping categorical condition columns as text.

    Parameters
    ----------
    path : str or Path
        The file (comma-separated, UTF-8 with or without a byte-order mark).
    space : Space
        The conditions; its categorical columns are read as text, so levels such as ``"None"`` or
        ``"01"`` survive. In other columns empty cells and the usual NA spellings mean "not
        measured".
    line_numbers : bool
        Label the rows by their line in the file (the header is line 1; blank lines and quoted
        line breaks counted), instead of 0, 1, 2...

    Returns
    -------
    DataFrame
        One row per data row that has at least one non-empty cell; columns named in the header
        (a column with an empty header and no values is dropped).

    Raises
    ------
    InputDataError
        If the file cannot be read as CSV, repeats a column name in its header, or has data rows
        with more fields than the header.

    Warns
    -----
    DataWarning
        Naming the lines of data rows with fewer fields than the header (read with the missing
        last fields empty).
    """
    records = _records(path)
    header = records[0][1] if records else []
    if len(header) == 1 and "\t" in header[0]:
        raise InputDataError(
            f"{str(path)!r}: the header {header[0]!r} is one field with tabs in it: the file is "
            f"tab-separated (copied from a spreadsheet or saved as text); save it as CSV with commas "
            f"between values"
        )
    if len(header) == 1 and ";" in header[0]:
        raise InputDataError(
            f"{str(path)!r}: the header {header[0]!r} is one field with semicolons in it: the file "
            f"uses ';' between values (a spreadsheet set to decimal commas); save it as CSV with "
            f"commas between values and decimal points"
        )
    repeated = sorted({name for name in header if name.strip() and header.count(name) > 1})
    if repeated:
        raise InputDataError(
            f"{str(path)!r}: column(s) {repeated} appear more than once in the header; rename them"
        )
    nameless = [j for j, name in enumerate(header) if not name.strip()]
    short: list[int] = []
    # Empty fields past the header: a trailing delimiter when every data row has them (a
    # spreadsheet's export), but on some rows only, an unquoted comma inside a value whose row
    # happens to end in an empty cell ("1,850" typed into a column before an empty note column):
    # the row's values after it are one column off.
    some_exact = any(len(f) == len(header) and any(c.strip() for c in f) for _, f in records[1:])
    shifted = [
        line
        for line, fields in records[1:]
        if some_exact
        and len(fields) > len(header)
        and any(cell.strip() for cell in fields)
        and not any(cell.strip() for cell in fields[len(header) :])
    ]
    if shifted:
        raise InputDataError(
            f"{str(path)!r}: line(s) {_rows(shifted)} have more fields than the header "
            f"({len(header)}), with empty ones at the end, while other lines have exactly "
            f"{len(header)}: an unquoted comma inside a value (1,850.0 or a decimal comma 1,5) "
            f"moves the values after it one column to the right; quote such values or remove the "
            f"comma"
        )
    for line, fields in records[1:]:
        if len(fields) < len(header) and any(cell.strip() for cell in fields):
            short.append(line)
        unnamed = [j for j in nameless if j < len(fields) and fields[j].strip()]
        if unnamed:
            raise InputDataError(
                f"{str(path)!r}: line {line} has a value ({fields[unnamed[0]]!r}) in column "
                f"{unnamed[0] + 1}, whose header is empty; name the column in the header (line 1) or "
                f"remove its values"
            )
        if len(fields) > len(header) and any(cell.strip() for cell in fields[len(header) :]):
            raise InputDataError(
                f"{str(path)!r}: line {line} has {len(fields)} fields but the header has "
                f"{len(header)}: an unquoted comma inside a value (1,000.0 or a decimal comma "
                f"1,5) or a missing header name; quote such values or remove the extra fields"
            )
    if short:
        warnings.warn(
            f"{str(path)!r}: line(s) {_rows(short)} have fewer fields than the header ({len(header)}); their "
            f"missing last fields were read as empty. If a value was deleted together with its comma, "
            f"the values after it are in the wrong columns: check these lines",
            DataWarning,
            stacklevel=3,
        )
    try:
        categorical = {v.name for v in space.variables if isinstance(v, Categorical)}
        frame = pd.read_csv(
            path,
            dtype={c: str for c in categorical if c in header},
            keep_default_na=False,
            na_values={c: ([""] if c in categorical else NA_TEXT) for c in header},
            index_col=False,  # a trailing delimiter is an empty last field, not a row index
            usecols=range(len(header)) if header else None,
        )
    except pd.errors.EmptyDataError as err:
        raise InputDataError(
            f"cannot read {str(path)!r} as CSV: the file is empty (not even a header row naming "
            "the columns); was it saved before the data were pasted in?"
        ) from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise InputDataError(f"cannot read {str(path)!r} as CSV: {err}") from err
    lines = [line for line, _ in records[1:]]
    if line_numbers:
        if len(lines) != len(frame):
            # The csv module and pandas split the file differently: the lines are unknown.
            warnings.warn(
                f"{str(path)!r}: could not match the rows read to lines of the file ({len(frame)} "
                f"rows, {len(lines)} records); rows are numbered from line 2 as if there were no "
                f"blank lines or line breaks inside quoted cells",
                DataWarning,
                stacklevel=3,
            )
            lines = list(range(2, len(frame) + 2))
        frame.index = pd.Index(np.asarray(lines, dtype=np.int64), name="line")
    # Columns without a header name hold no values (refused above): Excel's empty trailing columns.
    frame = frame.drop(columns=[frame.columns[j] for j in nameless])
    if not len(frame.columns):
        return frame
    empty_row = np.logical_and.reduce([blank_cells(frame[c]) for c in frame.columns])
    return frame.loc[~empty_row]


#: The first bytes of spreadsheet files that are not text: xlsx/ods (zip) and xls (OLE2).
SPREADSHEET_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _not_csv_reason(path: str | Path) -> str | None:
    """Why ``path`` is not a UTF-8 CSV file, if its first bytes show it: a spreadsheet or UTF-16."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return None  # reported when the file is opened as text
    if head.startswith(SPREADSHEET_SIGNATURES):
        return "it is a spreadsheet file (xlsx, xls or ods), not text: save it as 'CSV UTF-8' and read that"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 text: save it as 'CSV UTF-8'"
    return None


def _records(path: str | Path) -> list[tuple[int, list[str]]]:
    """The non-blank records of the file with the line each starts on (1-based), header first."""
    reason = _not_csv_reason(path)
    if reason is not None:
        raise InputDataError(f"cannot read {str(path)!r} as CSV: {reason}")
    out = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            end = 0
            for fields in reader:
                start, end = end + 1, reader.line_num
                # A blank or whitespace-only line (csv gives [] or ['  ']) is skipped by pandas too.
                if fields and not (len(fields) == 1 and not fields[0].strip()):
                    out.append((start, fields))
    except UnicodeDecodeError as err:
        line, sample = _first_non_utf8(path)
        raise InputDataError(
            f"cannot read {str(path)!r} as CSV: line {line} holds bytes that are not UTF-8 "
            f"({sample!r}; a degree sign or accent saved by a program using another encoding, such "
            f"as Windows-1252): save the file as 'CSV UTF-8'"
        ) from err
    except csv.Error as err:
        raise InputDataError(f"cannot read {str(path)!r} as CSV: {err}") from err
    except OSError as err:
        raise InputDataError(f"cannot open {str(path)!r}: {err}") from err
    return out


def _first_non_utf8(path: str | Path) -> tuple[int, bytes]:
    """The 1-based line of the first byte of the file that is not UTF-8, and the bytes from it."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return data[: err.start].count(b"\n") + 1, data[err.start : err.start + 4]
    return 0, b""

"""Reading a CSV for the analysis and report commands: missing files and unreadable CSVs are user errors.

A missing value is an empty cell (or NA). The texts ``NaN`` and ``inf`` (any case, any sign) are refused with
their line and column instead of being read as missing (NaN) or as a number (inf): a spreadsheet writes them
for a failed formula, and silently dropping such a patient would change the analysis. A patient-level file
(``--data``) must name each ``patient_id`` once: a duplicated row would count a patient twice.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from equipoise.errors import UserError
from equipoise.user_files import MAX_DATA_BYTES, read_user_text

_NON_FINITE = re.compile(r'(?:^|,)[ \t]*"?[ \t]*([+-]?(?:nan|inf|infinity))[ \t]*"?[ \t]*(?=,|\r?$)',
                         re.IGNORECASE | re.MULTILINE)
PATIENT_ID = "patient_id"


def read_csv(path: Path, option: str = "--data", required: tuple[str, ...] = ()) -> pd.DataFrame:
    """A comma-separated file as a DataFrame, under the rules in this module's docstring; ``required``: columns
    it must have."""
    # line ends normalised: a bare carriage return (old Mac files, a pasted cell) is a line end, not an error
    text = read_user_text(path, max_bytes=MAX_DATA_BYTES, option=option).replace("\r\n", "\n").replace("\r", "\n")
    try:
        _refuse_non_finite_text(text, path, option)
        df = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{option}: {path} is not a readable CSV file ({first}){_separator_hint(text)}") from None
    if not isinstance(df.index, pd.RangeIndex):
        # pandas read the first column(s) as an index: the rows have more fields than the header, and every value
        # would be read under the wrong column
        width = len(next(csv.reader(io.StringIO(text)), []))
        line = next((i for i, row in enumerate(csv.reader(io.StringIO(text)), start=1) if len(row) > width), None)
        raise UserError(f"{option}: {path}: line {line}: more fields than the header's {width}; every row must have "
                        "one value per column")
    if len(df.columns) == 1 and _separator_hint(text):
        raise UserError(f"{option}: {path} has a single column{_separator_hint(text)}")
    if df.empty:
        raise UserError(f"{option}: {path} has a header but no rows")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{option}: {path} has no column {missing[0]!r} (columns are: "
                        f"{', '.join(map(str, df.columns))[:300]})")
    if option == "--data":
        _refuse_duplicated_patients(df, path, option)
    return df


def _separator_hint(text: str) -> str:
    header = text.split("\n", 1)[0]
    for name, sep in (("semicolons", ";"), ("tabs", "\t")):
        if sep in header and header.count(sep) > header.count(","):
            return (f"; its columns look separated by {name}: save it as comma-separated CSV (in a spreadsheet, "
                    "'CSV UTF-8 (comma delimited)')")
    return ""


def _refuse_non_finite_text(text: str, path: Path, option: str) -> None:
    found = _NON_FINITE.search(text)
    if found is None:
        return
    line = text.count("\n", 0, found.start(1)) + 1
    start = text.rfind("\n", 0, found.start(1)) + 1
    index = len(next(csv.reader([text[start:found.start(1)] + "x"]))) - 1
    header = next(csv.reader([text.split("\n", 1)[0]]), [])
    column = f"column {header[index].strip()!r}" if index < len(header) else f"column {index + 1}"
    raise UserError(f"{option}: {path}: line {line}: {column} = {found.group(1)!r} is not a number; leave the cell "
                    "empty for a missing value")


def _refuse_duplicated_patients(df: pd.DataFrame, path: Path, option: str) -> None:
    if PATIENT_ID not in df.columns:
        return
    ids = df[PATIENT_ID].reset_index(drop=True)
    mask = (ids.notna() & ids.duplicated(keep=False)).to_numpy()
    repeated = ids[mask]
    if repeated.empty:
        return
    lines: dict[str, list[int]] = {}
    for position, value in zip(np.flatnonzero(mask), repeated, strict=True):
        lines.setdefault(str(value), []).append(int(position) + 2)  # line 1 is the header
    shown = [f"{pid} on lines {', '.join(map(str, rows[:5]))}{'...' if len(rows) > 5 else ''}"
             for pid, rows in list(lines.items())[:3]]
    more = f" (and {len(lines) - 3} more duplicated ids)" if len(lines) > 3 else ""
    raise UserError(f"{option}: {path}: each patient must have one row, but {PATIENT_ID} "
                    f"{'; '.join(shown)}{more}")


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def read_json(path: Path, option: str) -> dict[str, Any]:
    """A JSON object from a file a person named (a design's options), under the reader's limits."""
    text = read_user_text(path, option=option)
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{option}: {path}: line {exc.lineno}: not JSON ({exc.msg}); a protocol must end in "
                        ".yaml") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise UserError(f"{option}: {path}: cannot read a value ({exc})") from None
    except RecursionError:
        raise UserError(f"{option}: {path}: nested too deeply to be a design") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{option}: {path} must hold a JSON object")
    return loaded

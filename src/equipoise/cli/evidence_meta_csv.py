"""Reading the trial-level CSV of ``equipoise evidence meta``: one row per trial, errors naming file, line and
column."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.study_table import (
    BINARY_COLUMNS,
    CONTINUOUS_COLUMNS,
    GENERIC_COLUMNS,
    DataKind,
    StudyTable,
)

COUNT_COLUMNS = {"events_treatment", "n_treatment", "events_control", "n_control"}


def parse_column_map(items: list[str] | None) -> dict[str, str]:
    """``--column events_treatment=deaths_msc`` (repeatable): our column name = the CSV's."""
    mapping: dict[str, str] = {}
    for item in items or []:
        ours, sep, theirs = item.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise UserError(f"--column: {item!r} is not NAME=CSV_COLUMN (e.g. events_treatment=deaths_msc)")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _kind(header: set[str], col: dict[str, str], measure: Measure) -> DataKind:
    def has(names: tuple[str, ...]) -> bool:
        return all(col.get(n, n) in header for n in names)

    if measure.is_binary and has(BINARY_COLUMNS):
        return DataKind.BINARY
    if measure in (Measure.MD, Measure.SMD) and has(CONTINUOUS_COLUMNS):
        return DataKind.CONTINUOUS
    if has(GENERIC_COLUMNS):
        return DataKind.GENERIC
    wanted = {Measure.RR: BINARY_COLUMNS, Measure.OR: BINARY_COLUMNS, Measure.RD: BINARY_COLUMNS,
              Measure.MD: CONTINUOUS_COLUMNS, Measure.SMD: CONTINUOUS_COLUMNS}.get(measure, GENERIC_COLUMNS)
    missing = [col.get(n, n) for n in wanted if col.get(n, n) not in header]
    raise UserError(f"--measure {measure.value} needs the columns {', '.join(col.get(n, n) for n in wanted)} "
                    f"(or estimate and se); missing: {', '.join(missing)}")


def read_study_table(path: Path, measure: Measure, column_map: dict[str, str] | None = None,
                     by: str | None = None) -> StudyTable:
    """The trials of ``path``; ``by`` names the subgroup column."""
    col = dict(column_map or {})
    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, skipinitialspace=True)
            if reader.fieldnames is None:
                raise UserError(f"{path}: the file is empty (expected a header line)")
            header = {h.strip() for h in reader.fieldnames if h is not None}
            rows: list[tuple[int, dict[str, str | None]]] = []
            for raw in reader:
                if None in raw:
                    raise UserError(f"{path}, line {reader.line_num}: more values than header columns")
                rows.append((reader.line_num, {(k or "").strip(): v for k, v in raw.items()}))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise UserError(f"{path}: the file has a header but no trials")
    study_col = col.get("study", "study")
    if study_col not in header:
        raise UserError(f"{path}: no column {study_col!r} (one row per trial, named in a 'study' column; "
                        "map another with --column study=NAME)")
    kind = _kind(header, col, measure)
    names = {DataKind.BINARY: BINARY_COLUMNS, DataKind.CONTINUOUS: CONTINUOUS_COLUMNS,
             DataKind.GENERIC: GENERIC_COLUMNS}[kind]
    subgroup_col = None if by is None else col.get(by, by)
    if subgroup_col is not None and subgroup_col not in header:
        raise UserError(f"--by: {path} has no column {subgroup_col!r} (columns: {', '.join(sorted(header))})")
    year_col = col.get("year", "year")
    values: dict[str, list[float]] = {n: [] for n in names}
    studies: list[str] = []
    years: list[float | None] = []
    groups: list[str] = []
    for line, row in rows:
        study = (row.get(study_col) or "").strip()
        if not study:
            raise UserError(f"{path}, line {line}, column {study_col}: the trial has no name")
        studies.append(study)
        for n in names:
            values[n].append(_number(path, line, col.get(n, n), row.get(col.get(n, n)), n in COUNT_COLUMNS))
        _check_row(path, line, col, {n: values[n][-1] for n in names})
        if year_col in header:
            text = (row.get(year_col) or "").strip()
            years.append(None if not text else _number(path, line, year_col, text, False))
        if subgroup_col is not None:
            group = (row.get(subgroup_col) or "").strip()
            if not group:
                raise UserError(f"{path}, line {line}, column {subgroup_col}: empty subgroup")
            groups.append(group)
    return StudyTable(kind, tuple(studies), {n: np.asarray(v, dtype=float) for n, v in values.items()},
                      tuple(years) if year_col in header else None,
                      tuple(groups) if subgroup_col is not None else None)


def _number(path: Path, line: int, column: str, text: str | None, count: bool) -> float:
    """A number, or NaN for an empty cell (a trial without data is left out and named in the output)."""
    text = (text or "").strip()
    if text == "" or text.upper() in {"NA", "NAN"}:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{path}, line {line}, column {column}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{path}, line {line}, column {column}: {text!r} is not a finite number")
    if count and (value < 0 or value != int(value)):
        raise UserError(f"{path}, line {line}, column {column}: {text!r} is not a count (a whole number >= 0)")
    return value


def _check_row(path: Path, line: int, col: dict[str, str], v: dict[str, float]) -> None:
    def name(n: str) -> str:
        return col.get(n, n)

    for arm in ("treatment", "control"):
        e, n = v.get(f"events_{arm}"), v.get(f"n_{arm}")
        if e is not None and n is not None and e > n:
            raise UserError(f"{path}, line {line}, column {name(f'events_{arm}')}: {e:g} events among "
                            f"{n:g} patients")
        if n is not None and n == 0:
            raise UserError(f"{path}, line {line}, column {name(f'n_{arm}')}: no patients in the {arm} arm")
        sd = v.get(f"sd_{arm}")
        if sd is not None and sd < 0:
            raise UserError(f"{path}, line {line}, column {name(f'sd_{arm}')}: a negative standard deviation")
    se = v.get("se")
    if se is not None and se <= 0:
        raise UserError(f"{path}, line {line}, column {name('se')}: the standard error must be positive")

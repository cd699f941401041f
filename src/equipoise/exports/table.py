"""One table of an export, made once and written as CSV (``csv_text``) or Parquet (``parquet.py``).

A table is its columns, each with a storage type, and its rows. The rows hold the values as the CSV layout
writes them (``cell``: ``None`` is an empty cell, booleans ``true``/``false``, the rest ``str``), so the CSV
files stay byte for byte what they were before Parquet existed (their SHA-256 is in every export's audit
entry); the Parquet writer turns the same values into its column's type.

Any value the database can hold is written so that it reads back (issue 14; a database written before the text
policy may hold a 1 MB text, a bare ``\r`` or a control character):

- a cell holding a quote, comma, ``\n`` or ``\r`` is quoted (RFC 4180 §2; Python's writer left a bare ``\r``
  unquoted when the line terminator is ``\n``, and every CSV reader then failed);
- an unpaired surrogate (which no UTF-8 file can hold; SQLite's JSON keeps one written as ``\ud800``) is
  written as U+FFFD, the Unicode replacement character;
- CSV injection (OWASP, "CSV Injection"): in a text column, a cell that starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return, which a spreadsheet would run as a formula, gets a leading single quote, unless
  the export is asked for raw (``raw=True``: for analysis code, which reads the values as they are). Number,
  date and yes/no columns are never changed (a negative number stays a number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from equipoise.protocol import DataField, FieldType


class ColumnType(StrEnum):
    """How a column is stored in Parquet (the CSV writes every type as text)."""

    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"  # UTC

    @classmethod
    def of_field(cls, kind: FieldType) -> ColumnType:
        """A protocol field's storage type: ordinal levels are integers, choices are their value ids (text)."""
        return _OF_FIELD[kind]


_OF_FIELD = {FieldType.INTEGER: ColumnType.INTEGER, FieldType.ORDINAL: ColumnType.INTEGER,
             FieldType.NUMBER: ColumnType.NUMBER, FieldType.TEXT: ColumnType.TEXT, FieldType.CHOICE: ColumnType.TEXT,
             FieldType.BOOLEAN: ColumnType.BOOLEAN, FieldType.DATE: ColumnType.DATE}

# Labels of the columns that several files share (the Parquet files carry them as field metadata).
COMMON_LABELS = {
    "patient_id": "Patient code (P-000001): the key that joins the files",
    "site": "Site id",
    "visit": "Visit id",
    "visit_day": "Day of the visit in the schedule",
    "instance": "Record number at the visit (a repeating form: 1, 2, ...)",
    "protocol_version": "Protocol version in force",
    "randomised_on": "Date of randomization (site's local date)",
    "randomized_at": "Time of randomization (UTC)",
    "kit_code": "Kit code (blinded trials)",
    "arm": "Arm (masked in a blinded export)",
    "randomized_offline": "Allocated from an emergency envelope while the server was down, entered afterwards",
    "flags": "Flags that stand on the allocation, '|'-separated (it is never changed: intention to treat)",
    "saved_at": "When the record was last saved (UTC)",
    "saved_by": "User who last saved the record",
    "locked": "Locked (no change without unlocking)",
    "signed": "Meanings of the valid signatures, ';'-separated",
}


@dataclass(frozen=True)
class TableColumn:
    name: str
    type: ColumnType
    label: str | None = None
    unit: str | None = None
    choices: str | None = None  # "value=label|..." as in data_dictionary.csv

    @classmethod
    def of(cls, name: str, kind: ColumnType, label: str | None = None) -> TableColumn:
        return cls(name, kind, label if label is not None else COMMON_LABELS.get(name))

    @classmethod
    def of_field(cls, spec: DataField, name: str | None = None, label: str | None = None) -> TableColumn:
        """The column of a protocol field, typed, labelled and with the unit and choices the protocol gives."""
        return cls(name or spec.id, ColumnType.of_field(spec.type), label or spec.label, spec.unit,
                   choices_text(spec) or None)


@dataclass(frozen=True)
class Table:
    columns: tuple[TableColumn, ...]
    rows: list[list[Any]]  # one value per column, as the CSV writes it

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def csv(self, *, raw: bool = False) -> str:
        """The table as CSV; unless ``raw``, text cells a spreadsheet would read as a formula are neutralised."""
        guarded = () if raw else tuple(i for i, c in enumerate(self.columns) if c.type is ColumnType.TEXT)
        return csv_text(self.header, self.rows, neutralise=guarded)


def columns(*specs: tuple[str, ColumnType] | TableColumn) -> tuple[TableColumn, ...]:
    return tuple(s if isinstance(s, TableColumn) else TableColumn.of(*s) for s in specs)


def choices_text(spec: DataField) -> str:
    """The choices of a choice or ordinal field, ``value=label|...`` (empty for other fields)."""
    if spec.type is FieldType.ORDINAL:
        scale = spec.resolved_scale
        return "|".join(f"{lv.value}={lv.label}" for lv in scale.levels) if scale else ""
    if spec.choices:
        return "|".join(c if isinstance(c, str) else f"{c.value}={c.label}" for c in spec.choices)
    return ""


_SURROGATE = re.compile("[\ud800-\udfff]")
_NEEDS_QUOTES = re.compile('[",\r\n]')
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection: what a spreadsheet reads as a formula


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def neutralised(text: str) -> str:
    """A text cell as a spreadsheet shows it but does not run it: a leading ``'`` before a formula's first
    character (OWASP CSV Injection guidance)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_field(text: str) -> str:
    """One CSV field: quoted (inner quotes doubled) when it holds a quote, comma or line end (RFC 4180 §2)."""
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], neutralise: Sequence[int] = ()) -> str:
    """CSV with ``\n`` line ends; the cells of the columns at ``neutralise`` neutralised (``neutralised``).

    Written here rather than by the csv module, whose writer does not quote a bare ``\r`` when lines end in
    ``\n``; otherwise the output is the same bytes (a row of one empty cell is ``""``, as the module writes it)."""
    guarded = frozenset(neutralise)
    lines = [",".join(csv_field(name) for name in header)]
    for row in rows:
        fields = []
        for i, value in enumerate(row):
            text = cell(value)
            fields.append(csv_field(neutralised(text) if i in guarded else text))
        lines.append('""' if fields == [""] else ",".join(fields))
    return "".join(line + "\n" for line in lines)

"""The Parquet writer of the exports on its own (EXP-1): each column type, nulls, times in UTC, metadata, the
same bytes for the same table, and a value that does not fit its column named precisely.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from equipoise.exports.parquet import parquet_bytes, row_count
from equipoise.exports.table import ColumnType, Table, TableColumn

ROWS: list[list[object]] = [
    [1, 37, 36.6, True, "2025-03-01", "2025-03-01T08:00:00.000000Z", "severe", True],
    [2, None, 37, False, dt.date(2025, 3, 2), dt.datetime(2025, 3, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
     "", None],
    [3, "", None, None, None, dt.datetime(2025, 3, 3, 1, 2, 3), None, 4],
]
TABLE = Table((TableColumn("id", ColumnType.INTEGER), TableColumn("age", ColumnType.INTEGER, "Age", "years"),
               TableColumn("temp", ColumnType.NUMBER, "Temperature", "°C"),
               TableColumn("pcr", ColumnType.BOOLEAN), TableColumn("onset", ColumnType.DATE),
               TableColumn("saved_at", ColumnType.DATETIME),
               TableColumn("severity", ColumnType.TEXT, choices="mild=Mild|severe=Severe"),
               TableColumn("note", ColumnType.TEXT)), ROWS)


def _write(table: Table = TABLE) -> bytes:
    return parquet_bytes(table, name="form_x", trial_id="T-1", protocol_version="1.1", arms_shown=False)


def test_columns_are_typed_and_missing_values_are_null():
    content = _write()
    table = pq.read_table(io.BytesIO(content))
    assert [f.type for f in table.schema] == [pa.int64(), pa.int64(), pa.float64(), pa.bool_(), pa.date32(),
                                              pa.timestamp("us", tz="UTC"), pa.string(), pa.string()]
    assert all(f.nullable for f in table.schema)
    rows = table.to_pylist()
    assert [r["age"] for r in rows] == [37, None, None]  # the CSV's empty cell is null, not 0 or ""
    assert [r["temp"] for r in rows] == [36.6, 37.0, None]
    assert [r["pcr"] for r in rows] == [True, False, None]
    assert [r["onset"] for r in rows] == [dt.date(2025, 3, 1), dt.date(2025, 3, 2), None]
    utc = dt.UTC
    assert [r["saved_at"] for r in rows] == [dt.datetime(2025, 3, 1, 8, tzinfo=utc),
                                             dt.datetime(2025, 3, 2, 1, 30, tzinfo=utc),  # 09:30 at UTC+8
                                             dt.datetime(2025, 3, 3, 1, 2, 3, tzinfo=utc)]  # naive: stored UTC
    assert [r["severity"] for r in rows] == ["severe", None, None]
    assert [r["note"] for r in rows] == ["true", None, "4"]  # text as the CSV writes it
    assert row_count(content) == 3


def test_metadata_says_what_each_column_is_and_pandas_reads_nullable_types():
    content = _write()
    schema = pq.read_schema(io.BytesIO(content))
    assert schema.field("age").metadata == {b"label": b"Age", b"unit": b"years"}
    assert schema.field("temp").metadata == {b"label": b"Temperature", b"unit": "°C".encode()}
    assert schema.field("severity").metadata == {b"choices": b"mild=Mild|severe=Severe"}
    assert schema.field("id").metadata is None
    metadata = schema.metadata or {}
    assert {k: v for k, v in metadata.items() if k.startswith(b"equipoise.")} == {
        b"equipoise.trial_id": b"T-1", b"equipoise.protocol_version": b"1.1", b"equipoise.arms": b"masked",
        b"equipoise.table": b"form_x"}
    assert [c["name"] for c in json.loads(metadata[b"pandas"])["columns"]] == [f.name for f in schema]
    frame = pd.read_parquet(io.BytesIO(content))
    assert frame.dtypes.astype(str).to_dict() == {
        "id": "Int64", "age": "Int64", "temp": "float64", "pcr": "boolean", "onset": "object",
        "saved_at": "datetime64[us, UTC]", "severity": "object", "note": "object"}
    assert frame["age"].isna().tolist() == [False, True, True]


def test_the_same_table_gives_the_same_bytes():
    assert _write() == _write()
    empty = Table(TABLE.columns, [])
    assert row_count(_write(empty)) == 0
    assert pq.read_table(io.BytesIO(_write(empty))).schema.types == pq.read_table(io.BytesIO(_write())).schema.types


@pytest.mark.parametrize(("column", "value", "reason"), [
    (ColumnType.INTEGER, 2.5, "2.5 is not a whole number (integer)"),
    (ColumnType.INTEGER, True, "True is not a whole number (integer)"),
    (ColumnType.NUMBER, "37,5", "'37,5' is not a number (number)"),
    (ColumnType.BOOLEAN, "yes", "'yes' is not true or false (boolean)"),
    (ColumnType.DATE, "1 March", "'1 March' is not a date (YYYY-MM-DD) (date)"),
    (ColumnType.DATE, dt.datetime(2025, 3, 1, tzinfo=dt.UTC), "is not a date (YYYY-MM-DD) (date)"),
    (ColumnType.DATETIME, 17, "17 is not a date and time (ISO 8601) (datetime)"),
])
def test_a_value_that_does_not_fit_its_column_is_named(column: ColumnType, value: object, reason: str):
    table = Table((TableColumn("x", column),), [[None], [value]])
    with pytest.raises(ValueError, match=r"^form_x\.parquet: column x, row 2: ") as raised:
        _write(table)
    assert str(raised.value).endswith(reason)

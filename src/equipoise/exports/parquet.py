"""Parquet files of an export: the CSV files' tables with typed columns, read by pandas, R (arrow) and DuckDB.

Types (Apache Parquet format, LogicalTypes.md; written through Apache Arrow, ``pyarrow.parquet.write_table``):
integers (integer and ordinal fields, counts, ids) are INT64, numbers DOUBLE, dates DATE (Arrow ``date32``),
times TIMESTAMP(isAdjustedToUTC=true, MICROS), booleans BOOLEAN, choices and text UTF-8 STRING; a missing
value is null, never an empty string (the CSV's empty cell). Every column is nullable.

Metadata, so that a file explains itself without the data dictionary:

- the schema's key-value metadata: ``equipoise.trial_id``, ``equipoise.protocol_version``, ``equipoise.table``
  and ``equipoise.arms`` (``shown`` or ``masked``), and pandas' own ``pandas`` entry (the layout of pandas'
  "Storing pandas DataFrame objects in Apache Parquet format", developer guide), which makes
  ``pandas.read_parquet`` give nullable ``Int64`` and ``boolean`` columns instead of floats and objects;
- each field's metadata: ``label``, ``unit`` and ``choices`` (``value=label|...``) where the protocol has them.

Nothing in a file depends on the moment of export (no timestamp is written), so exporting the same data again
gives the same bytes with the same pyarrow.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from equipoise.exports.table import ColumnType, Table, TableColumn, cell

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.INTEGER: pa.int64(), ColumnType.NUMBER: pa.float64(), ColumnType.TEXT: pa.string(),
    ColumnType.BOOLEAN: pa.bool_(), ColumnType.DATE: pa.date32(), ColumnType.DATETIME: pa.timestamp("us", tz="UTC"),
}

# pandas' description of each type (pandas_type, numpy_type): the extension dtypes hold nulls without a cast.
PANDAS_TYPES: dict[ColumnType, tuple[str, str]] = {
    ColumnType.INTEGER: ("int64", "Int64"), ColumnType.NUMBER: ("float64", "float64"),
    ColumnType.TEXT: ("unicode", "object"), ColumnType.BOOLEAN: ("bool", "boolean"),
    ColumnType.DATE: ("date", "object"), ColumnType.DATETIME: ("datetimetz", "datetime64[us]"),
}


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("not a whole number")


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError("not a number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("not true or false")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("not a date (YYYY-MM-DD)") from None


def _datetime(value: Any) -> dt.datetime:
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("not a date and time (ISO 8601)") from None
    # The store keeps every timestamp in UTC; a naive one is UTC read back without its zone.
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


CONVERTERS: dict[ColumnType, Callable[[Any], Any]] = {
    ColumnType.INTEGER: _integer, ColumnType.NUMBER: _number, ColumnType.TEXT: cell, ColumnType.BOOLEAN: _boolean,
    ColumnType.DATE: _date, ColumnType.DATETIME: _datetime,
}


def typed_values(table: Table, index: int, where: str) -> list[Any]:
    """Column ``index`` of ``table`` as values of its type; None and the CSV's empty text are null."""
    column = table.columns[index]
    convert = CONVERTERS[column.type]
    out: list[Any] = []
    for number, row in enumerate(table.rows, start=1):
        value = row[index]
        if value is None or value == "":
            out.append(None)
            continue
        try:
            out.append(convert(value))
        except (ValueError, TypeError) as exc:
            # a value the store accepted but its column's type does not: a bug, named precisely
            raise ValueError(f"{where}: column {column.name}, row {number}: {value!r} is {exc} "
                             f"({column.type.value})") from None
    return out


def _field(column: TableColumn) -> pa.Field[pa.DataType]:
    metadata = {key: value for key, value in (("label", column.label), ("unit", column.unit),
                                              ("choices", column.choices)) if value}
    return pa.field(column.name, ARROW_TYPES[column.type], nullable=True, metadata=metadata or None)


def _pandas_metadata(table: Table) -> str:
    described = []
    for column in table.columns:
        pandas_type, numpy_type = PANDAS_TYPES[column.type]
        described.append({"name": column.name, "field_name": column.name, "pandas_type": pandas_type,
                          "numpy_type": numpy_type,
                          "metadata": {"timezone": "UTC"} if column.type is ColumnType.DATETIME else None})
    return json.dumps({"index_columns": [], "column_indexes": [], "columns": described,
                       "creator": {"library": "equipoise"}}, separators=(",", ":"))


def parquet_bytes(table: Table, *, name: str, trial_id: str, protocol_version: str, arms_shown: bool) -> bytes:
    """``table`` as one Parquet file named ``name`` (without ``.parquet``)."""
    described: dict[str | bytes, str | bytes] = {
        "equipoise.trial_id": trial_id, "equipoise.protocol_version": protocol_version,
        "equipoise.arms": "shown" if arms_shown else "masked", "equipoise.table": name,
        "pandas": _pandas_metadata(table)}
    schema = pa.schema([_field(c) for c in table.columns], metadata=described)
    arrays = [pa.array(typed_values(table, i, f"{name}.parquet"), type=field.type)
              for i, field in enumerate(schema)]
    out = io.BytesIO()
    # Snappy: Parquet's most widely read codec (older R arrow and Spark builds may lack zstd)
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), out, compression="snappy")
    return out.getvalue()


def parquet_files(tables: dict[str, Table], *, trial_id: str, protocol_version: str,
                  arms_shown: bool) -> dict[str, bytes]:
    """Every table as ``<name>.parquet``."""
    return {f"{name}.parquet": parquet_bytes(table, name=name, trial_id=trial_id, protocol_version=protocol_version,
                                             arms_shown=arms_shown) for name, table in tables.items()}


def row_count(content: bytes) -> int:
    """Rows of a Parquet file, from its footer."""
    return int(pq.read_metadata(pa.BufferReader(content)).num_rows)

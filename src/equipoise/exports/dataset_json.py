"""CDISC Dataset-JSON 1.1: every table of the export as ``<name>.json``, the exchange format the FDA and PMDA
piloted as the successor of SAS transport files (CDISC Dataset-JSON v1.1 specification, 2024).

One file per table: the file's metadata (creation time, ``fileOID``, originator, source system, the study and
metadata version OIDs of the ODM file in the same export, ``itemGroupOID``), ``records``, ``name`` and ``label``,
then ``columns`` (``itemOID``, name, label, ``dataType``) and ``rows``, one list of values per record. Types
follow the table's columns: integers are JSON integers, numbers ``double``, yes/no ``boolean``, dates ``date``
and UTC times ``datetime`` as ISO 8601 text, missing values ``null``. A form's file uses the ODM file's OIDs
(``IG.<form>``, ``IT.<form>.<field>``), so each column can be looked up in its metadata.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from equipoise import __version__
from equipoise.exports.dataset import Dataset
from equipoise.exports.odm import item_oid, mdv_oid, study_oid
from equipoise.exports.parquet import typed_values
from equipoise.exports.table import ColumnType, Table
from equipoise.store.types import iso

VERSION = "1.1.0"
DATA_TYPES = {ColumnType.INTEGER: "integer", ColumnType.NUMBER: "double", ColumnType.TEXT: "string",
              ColumnType.BOOLEAN: "boolean", ColumnType.DATE: "date", ColumnType.DATETIME: "datetime"}
REFERENCE_TABLES = ("data_dictionary", "field_versions")  # about the study, not its subjects


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def dataset_json_bytes(table: Table, name: str, data: Dataset) -> bytes:
    form = data.form(name.removeprefix("form_")) if name.startswith("form_") else None
    fields = {f.id for f in form.fields} if form is not None else set()
    columns = [{"itemOID": item_oid(form.id, c.name) if form is not None and c.name in fields
                else f"IT.{name}.{c.name}", "name": c.name, "label": c.label or c.name,
                "dataType": DATA_TYPES[c.type]} for c in table.columns]
    values = [typed_values(table, i, f"{name}.json") for i in range(len(table.columns))]
    rows = [[_json_value(column[r]) for column in values] for r in range(len(table.rows))]
    stamp = iso(data.exported_at)
    document = {
        "datasetJSONCreationDateTime": stamp, "datasetJSONVersion": VERSION,
        "fileOID": f"EQP.{data.trial.id}.{name}.{stamp}", "originator": data.exported_by,
        "sourceSystem": {"name": "Equipoise", "version": __version__}, "studyOID": study_oid(data),
        "metaDataVersionOID": mdv_oid(data), "itemGroupOID": f"IG.{form.id}" if form is not None else f"IG.{name}",
        "isReferenceData": name in REFERENCE_TABLES, "records": len(rows), "name": name,
        "label": form.name if form is not None else name.replace("_", " ").capitalize(), "columns": columns,
        "rows": rows}
    return (json.dumps(document, ensure_ascii=False) + "\n").encode()


def dataset_json_files(tables: dict[str, Table], data: Dataset) -> dict[str, bytes]:
    return {f"{name}.json": dataset_json_bytes(table, name, data) for name, table in tables.items()}

"""CDISC Dataset-JSON 1.1 export (EXP-1): every table of the CSV export as ``<name>.json``, with the structure the
v1.1 specification requires, typed values that agree with the CSV cells, OIDs that resolve in the ODM file of the
same export, masked arms in a blinded export, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.forms.conftest import World, world
from tests.forms.test_parquet_export import Filled, _agrees, _csv, _zip, filled

__all__ = ["filled", "world"]

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
REQUIRED = {"datasetJSONCreationDateTime", "datasetJSONVersion", "itemGroupOID", "records", "name", "label",
            "columns"}
DATA_TYPES = {"string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time", "URI"}
# the specification's pattern of datasetJSONCreationDateTime, in short: a date, "T", a time, an optional zone
WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def _document(files: dict[str, bytes], name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(files[name])
    return document


def test_exp1_every_table_is_a_dataset_json_file_that_agrees_with_its_csv(filled: Filled):
    files = _zip(filled.trial, "unblinded_stat", unblinded=True, format="all")
    tables = {n.removesuffix(".csv") for n in files if n.endswith(".csv")}
    assert {n.removesuffix(".json") for n in files if n.endswith(".json")} - {"manifest"} == tables
    manifest = json.loads(files["manifest.json"])
    rows_in_manifest = {f["name"]: f["rows"] for f in manifest["files"]}
    for name in sorted(tables):
        document = _document(files, f"{name}.json")
        assert set(document) >= REQUIRED, name
        assert document["datasetJSONVersion"] == "1.1.0"
        assert WHEN.match(document["datasetJSONCreationDateTime"]), document["datasetJSONCreationDateTime"]
        assert document["sourceSystem"]["name"] == "Equipoise"
        assert document["isReferenceData"] == (name in ("data_dictionary", "field_versions"))
        cells = _csv(files, f"{name}.csv")
        assert [c["name"] for c in document["columns"]] == cells[0], name
        assert all({"itemOID", "name", "label", "dataType"} <= set(c) and c["dataType"] in DATA_TYPES
                   for c in document["columns"]), name
        assert document["records"] == len(document["rows"]) == len(cells) - 1 == rows_in_manifest[f"{name}.json"]
        for row, written in zip(document["rows"], cells[1:], strict=True):
            for column, value, text in zip(document["columns"], row, written, strict=True):
                if column["dataType"] in ("date", "datetime"):
                    assert value is None or isinstance(value, str), (name, column["name"], value)
                    value = _typed_time(column["dataType"], value)
                assert _agrees(value, text), (name, column["name"], value, text)
    status = {c["name"]: c["dataType"] for c in _document(files, "form_clinical_status.json")["columns"]}
    assert (status["who_score"], status["spo2"], status["assessment_date"], status["saved_at"]) == (
        "integer", "double", "date", "datetime")


def _typed_time(kind: str, value: str | None) -> Any:
    if value is None:
        return None
    return dt.date.fromisoformat(value) if kind == "date" else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_exp1_a_forms_oids_resolve_in_the_odm_metadata_of_the_same_export(filled: Filled):
    files = _zip(filled.trial, "monitor", format="all")
    document = _document(files, "form_clinical_status.json")
    root = ET.fromstring(files["odm.xml"])
    assert document["studyOID"] == next(root.iter(f"{ODM}Study")).get("OID")
    mdv = next(m for m in root.iter(f"{ODM}MetaDataVersion") if m.get("OID") == document["metaDataVersionOID"])
    assert document["itemGroupOID"] in {g.get("OID") for g in mdv.iter(f"{ODM}ItemGroupDef")}
    defined = {i.get("OID") for i in mdv.iter(f"{ODM}ItemDef")}
    fields = [c["itemOID"] for c in document["columns"] if c["itemOID"].startswith("IT.clinical_status.")]
    assert {"IT.clinical_status.who_score", "IT.clinical_status.spo2"} <= set(fields)
    assert set(fields) <= defined


def test_exp2_a_blinded_dataset_json_export_masks_arms(filled: Filled):
    files = _zip(filled.trial, "blinded_stat", format="dataset-json")
    assert not any(n.endswith((".csv", ".parquet", ".xml")) for n in files)
    allocations = _document(files, "allocations.json")
    arm = [c["name"] for c in allocations["columns"]].index("arm")
    assert {row[arm] for row in allocations["rows"]} == {"masked"}
    assert json.loads(files["manifest.json"])["format"] == "dataset-json"


def test_cli_export_dataset_json(run_cli: Any, world: World, filled: Filled, tmp_path: Path):
    result = run_cli("export", "dataset-json", filled.trial.id, "-o", tmp_path / "dj", "--db", world.db.url, "--json")
    assert result.code == 0, result.stderr
    patients = json.loads((tmp_path / "dj" / "patients.json").read_text())
    assert patients["records"] == 4
    age = [c["name"] for c in patients["columns"]].index("age")
    assert all(isinstance(row[age], int) for row in patients["rows"])

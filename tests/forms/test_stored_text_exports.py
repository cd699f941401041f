"""Every export reads back whatever text the database holds (issue 14).

A database written before the text policy may hold any text in a form value, a query message or an audit
reason: a 1 MB value, a bare ``\\r``, ``\\x01``, a formula. These tests put such text straight into the stored
rows (not through the API, as an older version would have) and read every file of the export back: each CSV
parsed by the csv module, each XML file parsed, each JSON file parsed, each Parquet file read, and the value found
in them as the writer's documented rules say (CSV: quoted, formulas neutralised unless raw; ODM: characters XML
forbids as U+FFFD; all: unpaired surrogates as U+FFFD).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from equipoise.exports import ExportService
from equipoise.exports.odm import xml_safe
from equipoise.exports.table import cell, neutralised
from equipoise.identity.principal import system_principal
from equipoise.store.audit import AuditContext
from equipoise.store.crf_models import FormQuery, FormRecord
from tests.forms.conftest import Trial, World

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


@dataclass
class Stored:
    trial: Trial
    patient: int


@pytest.fixture(scope="module")
def stored(world: World) -> Stored:
    trial = world.trial()
    pid = trial.patient()
    response = trial.put(trial.form(pid, "infusion", "baseline"), "coord", {"values": {
        "infusion_date": world.today().isoformat(), "kit_code": "K-1", "completed": True}})
    assert response.status_code in (200, 201), response.text
    query = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "infusion", "visit_id": "baseline",
                                               "field_id": "kit_code", "text": "Which kit?"})
    assert query.status_code == 201, query.text
    return Stored(trial, pid)


def store_text(world: World, stored: Stored, text: str, reason: str | None) -> None:
    """The text as an older version could have stored it: in the form value, the query's message and (where the
    database can hold it) the audit entry's reason."""
    with world.db.write(AuditContext(actor="older-version", reason=reason)) as s:
        record = s.scalar(select(FormRecord).where(FormRecord.trial_id == stored.trial.id,
                                                   FormRecord.patient_id == stored.patient,
                                                   FormRecord.form_id == "infusion"))
        assert record is not None
        record.field_values = {**record.field_values, "kit_code": text}
        query = s.scalar(select(FormQuery).where(FormQuery.trial_id == stored.trial.id))
        assert query is not None
        query.messages = [{**query.messages[0], "text": text}]


def read_csv(content: bytes) -> list[dict[str, str]]:
    """The rows, read by the csv module (its field limit raised for this reader: the trail keeps a 1 MB value)."""
    limit = csv.field_size_limit(10_000_000)
    try:
        return list(csv.DictReader(io.StringIO(content.decode(), newline="")))
    finally:
        csv.field_size_limit(limit)


def check_every_file(files: dict[str, bytes], text: str, raw: bool) -> None:
    as_cell = cell(text)  # what every tabular writer writes (surrogates as U+FFFD)
    manifest = json.loads(files["manifest.json"])
    rows = {f["name"]: f["rows"] for f in manifest["files"]}
    assert manifest["csv_cells"] == ("raw" if raw else "formulas-neutralised")
    for name, content in files.items():
        if name.endswith(".csv"):
            assert len(read_csv(content)) == rows[name], name
        elif name.endswith(".xml"):
            ET.fromstring(content)
        elif name.endswith(".json"):
            json.loads(content)
        elif name.endswith(".parquet"):
            assert pq.read_table(io.BytesIO(content)).num_rows == rows[name], name
    (infusion,) = read_csv(files["form_infusion.csv"])
    assert infusion["kit_code"] == (as_cell if raw else neutralised(as_cell))
    (query,) = read_csv(files["queries.csv"]) if "queries.csv" in files else [None]
    del query  # its text column is written in whatever layout; that it parses is the point
    assert pq.read_table(io.BytesIO(files["form_infusion.parquet"])).column("kit_code").to_pylist() == [as_cell]
    document = json.loads(files["form_infusion.json"])
    kit = [c["name"] for c in document["columns"]].index("kit_code")
    assert [row[kit] for row in document["rows"]] == [as_cell]
    snapshot = ET.fromstring(files["odm.xml"])
    values = [i.get("Value") for i in snapshot.iterfind(".//odm:ItemData[@ItemOID='IT.infusion.kit_code']", NS)]
    assert values == [xml_safe(text)]
    history = ET.fromstring(files["odm_audit.xml"])
    changes = [i.get("Value") for i in history.iterfind(".//odm:ItemData[@ItemOID='IT.infusion.kit_code']", NS)]
    assert changes[-1] == xml_safe(text)


def _characters(dialect: str) -> st.SearchStrategy[str]:
    """Any character the database can hold: PostgreSQL's JSON holds neither NUL nor an unpaired surrogate."""
    if dialect == "postgresql":
        return st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    return st.characters(exclude_categories=())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_export_reads_back_any_stored_text(world: World, stored: Stored, data: Any):
    alphabet = _characters(world.db.dialect)
    text = data.draw(st.one_of(
        st.text(alphabet, min_size=1, max_size=40),
        st.sampled_from(["\r", "a\rb", "\r\n", "\x01\x07", "=1+2", "-3", "@SUM(A1)", "\tx", '"', ",", "\n\n"])),
        label="text")
    reason = text if world.db.dialect != "postgresql" or "\x00" not in text else None
    raw = data.draw(st.booleans(), label="raw")
    store_text(world, stored, text, reason)
    bundle = ExportService(world.db).export(system_principal("test"), stored.trial.id, fmt="all", unblinded=True,
                                            raw_csv=raw)
    check_every_file(bundle.files, text, raw)


def test_a_megabyte_value_does_not_stop_the_api_export(world: World, stored: Stored):
    """One 1 MB value, a bare \\r and a control character: the CSV export still answers (it was a 500)."""
    big = "x" * 1_000_000 + "\ry\x01"
    store_text(world, stored, big, "\r")
    response = stored.trial.get("/export", "monitor", params={"format": "csv"})
    assert response.status_code == 200, response.text
    files = {n: zipfile.ZipFile(io.BytesIO(response.content)).read(n)
             for n in zipfile.ZipFile(io.BytesIO(response.content)).namelist()}
    (infusion,) = read_csv(files["form_infusion.csv"])
    assert infusion["kit_code"] == big


def test_formulas_are_neutralised_in_text_columns_only(world: World, stored: Stored):
    store_text(world, stored, "=HYPERLINK(\"http://x\")", "+reason")
    files = ExportService(world.db).export(system_principal("test"), stored.trial.id, fmt="csv",
                                           unblinded=True).files
    (infusion,) = read_csv(files["form_infusion.csv"])
    assert infusion["kit_code"] == "'=HYPERLINK(\"http://x\")"
    audit = read_csv(files["audit_log.csv"])
    assert "'+reason" in {row["reason"] for row in audit}
    assert all(not row["entry_id"].startswith("'") for row in audit)
    raw = ExportService(world.db).export(system_principal("test"), stored.trial.id, fmt="csv", unblinded=True,
                                         raw_csv=True).files
    (infusion,) = read_csv(raw["form_infusion.csv"])
    assert infusion["kit_code"] == "=HYPERLINK(\"http://x\")"

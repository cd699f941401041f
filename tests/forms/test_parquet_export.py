"""Parquet export (EXP-1): every table of the CSV export also as ``<name>.parquet`` with typed columns, read back
with pyarrow and pandas; masked arms, site scoping, the audit entry with each file's SHA-256, and the CLI.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.forms.conftest import Trial, World, days_ago, site_date

TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass
class Filled:
    trial: Trial
    pumch: list[int]
    milan: list[int]
    measured: int  # clinical status with SpO2 and respiratory rate at day 28
    died: int
    not_done: int  # imaging at day 14 not done


@pytest.fixture(scope="module")
def filled(world: World) -> Filled:
    """A trial randomized 30 days ago: 3 patients at PUMCH, 1 in Milan, with day-14 and day-28 data, an adverse
    event (a repeating form), a form not done and a query."""
    trial = world.trial()
    with world.at(days_ago(30)):
        pumch = [trial.patient() for _ in range(3)]
        milan = [trial.patient("coord_milan", "milan-sacco")]
    measured, died, not_done = pumch
    day28, day14 = site_date(days_ago(2)).isoformat(), site_date(days_ago(16)).isoformat()
    for n, pid in enumerate(pumch + milan):
        user = "coord" if pid in pumch else "coord_milan"
        vitals = {"spo2": 93.5, "resp_rate": 22} if pid == measured else {}
        put = trial.put(trial.form(pid, "clinical_status", "day28"), user, {"values": {
            "assessment_date": day28, "who_score": 10 if pid == died else n + 2, **vitals}})
        assert put.status_code == 200, put.text
        put = trial.put(trial.form(pid, "outcome", "day28"), user, {"values": {
            "died": pid == died, "death_date": site_date(days_ago(10)).isoformat() if pid == died else None,
            "discharge_date": site_date(days_ago(5 + n)).isoformat() if pid != died else None}})
        assert put.status_code == 200, put.text
        if pid != not_done:
            put = trial.put(trial.form(pid, "imaging", "day14"), user, {"values": {"ct_date": day14,
                                                                               "ct_improved": n % 2 == 0}})
            assert put.status_code == 200, put.text
    skipped = trial.post(trial.form(not_done, "imaging", "day14") + "/not-done", "coord",
                         {"reason": "CT scanner unavailable"})
    assert skipped.status_code == 200, skipped.text
    event = trial.put(trial.form(measured, "adverse_event", "day14"), "coord", {"values": {
        "onset_date": day14, "description": "headache", "severity_grade": 2, "related": "possible"}})
    assert event.status_code == 200, event.text
    query = trial.post("/queries", "monitor", {"patient_id": measured, "form_id": "clinical_status",
                                               "visit_id": "day28", "field_id": "spo2", "text": "Source?"})
    assert query.status_code == 201, query.text
    return Filled(trial, pumch, milan, measured, died, not_done)


def _zip(trial: Trial, user: str, **params: Any) -> dict[str, bytes]:
    response = trial.get("/export", user, params=params)
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: archive.read(name) for name in archive.namelist()}


def _table(files: dict[str, bytes], name: str) -> pa.Table:
    return pq.read_table(io.BytesIO(files[name]))


def _csv(files: dict[str, bytes], name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(files[name].decode())))


def _agrees(value: object, text: str) -> bool:
    """A typed Parquet value is what the CSV cell says (null is the empty cell)."""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, dt.datetime):
        written = dt.datetime.fromisoformat(text)
        return (written if written.tzinfo else written.replace(tzinfo=dt.UTC)) == value
    if isinstance(value, dt.date):
        return text == value.isoformat()
    if isinstance(value, float):
        return float(text) == value
    return isinstance(value, int | str) and value != "" and str(value) == text


def test_exp1_parquet_files_are_the_csv_tables_with_typed_columns(filled: Filled):
    files = _zip(filled.trial, "unblinded_stat", unblinded=True, format="all")
    csv_names = {n.removesuffix(".csv") for n in files if n.endswith(".csv")}
    assert {n.removesuffix(".parquet") for n in files if n.endswith(".parquet")} == csv_names
    assert {"patients", "allocations", "analysis", "form_clinical_status", "form_adverse_event", "audit_log",
            "data_dictionary", "queries"} <= csv_names
    # Every table: the same columns, rows and values as its CSV file, null where the CSV cell is empty.
    for name in sorted(csv_names):
        header, *rows = _csv(files, f"{name}.csv")
        table = _table(files, f"{name}.parquet")
        assert table.column_names == header, name
        assert table.num_rows == len(rows), name
        for number, (typed, written) in enumerate(zip(table.to_pylist(), rows, strict=True)):
            wrong = {c: (typed[c], w) for c, w in zip(header, written, strict=True) if not _agrees(typed[c], w)}
            assert wrong == {}, f"{name} row {number}"
    # Types come from the protocol's fields: ordinal and integer fields are int64, numbers double, dates date32.
    clinical = _table(files, "form_clinical_status.parquet")
    assert {f.name: f.type for f in clinical.schema} == {
        "patient_id": pa.string(), "site": pa.string(), "visit": pa.string(), "visit_day": pa.int64(),
        "status": pa.string(), "not_done_reason": pa.string(), "version": pa.int64(),
        "protocol_version": pa.string(), "saved_at": TIMESTAMP, "saved_by": pa.string(), "locked": pa.bool_(),
        "signed": pa.string(), "assessment_date": pa.date32(), "who_score": pa.int64(), "spo2": pa.float64(),
        "resp_rate": pa.int64()}
    by_patient = {r["patient_id"]: r for r in clinical.to_pylist()}
    measured, other = by_patient[f"P-{filled.measured:06d}"], by_patient[f"P-{filled.died:06d}"]
    assert (measured["spo2"], measured["resp_rate"], measured["who_score"]) == (93.5, 22, 2)
    assert (other["spo2"], other["resp_rate"], other["signed"], other["who_score"]) == (None, None, None, 10)
    assert measured["assessment_date"] == site_date(days_ago(2))
    spo2 = clinical.schema.field("spo2")
    assert spo2.metadata == {b"label": b"Oxygen saturation", b"unit": b"%"}
    assert (clinical.schema.field("who_score").metadata or {})[b"choices"].startswith(b"0=Uninfected")
    assert clinical.schema.metadata[b"equipoise.trial_id"] == filled.trial.id.encode()
    assert clinical.schema.metadata[b"equipoise.protocol_version"] == b"1.0"
    assert clinical.schema.metadata[b"equipoise.arms"] == b"shown"
    imaging = {r["patient_id"]: r for r in _table(files, "form_imaging.parquet").to_pylist()}
    skipped = imaging[f"P-{filled.not_done:06d}"]
    assert (skipped["status"], skipped["not_done_reason"], skipped["ct_date"]) == (
        "not-done", "CT scanner unavailable", None)
    [event] = _table(files, "form_adverse_event.parquet").to_pylist()
    assert (event["instance"], event["severity_grade"], event["related"], event["resolved_date"]) == (
        1, 2, "possible", None)
    # patients: enrolment values typed by their fields; the record's own columns by what they are
    patients = _table(files, "patients.parquet")
    types = {f.name: f.type for f in patients.schema}
    assert (types["patient_number"], types["age"], types["who_baseline"], types["symptom_onset"]) == (
        pa.int64(), pa.int64(), pa.int64(), pa.date32())
    assert (types["enrolment_date"], types["enrolled_at"], types["locked"], types["pregnant"], types["sex"]) == (
        pa.date32(), TIMESTAMP, pa.bool_(), pa.bool_(), pa.string())
    first = patients.to_pylist()[0]
    assert (first["age"], first["sex"], first["pregnant"], first["enrolment_date"]) == (
        54, "female", False, site_date(days_ago(30)))
    assert first["enrolled_at"].tzinfo is not None
    # randomization: dates, UTC times, booleans; the arm as text
    allocations = _table(files, "allocations.parquet")
    types = {f.name: f.type for f in allocations.schema}
    assert (types["randomised_on"], types["randomized_at"], types["randomized_offline"], types["arm"]) == (
        pa.date32(), TIMESTAMP, pa.bool_(), pa.string())
    assert {r["arm"] for r in allocations.to_pylist()} <= {"msc", "placebo"}
    assert {r["flags"] for r in allocations.to_pylist()} == {None}  # no flag: null, not ""
    # the analysis file: outcomes as integers (1/0, ordinal levels, status), times as numbers, dates as dates
    analysis = pd.read_parquet(io.BytesIO(files["analysis.parquet"]))
    dtypes = analysis.dtypes.astype(str).to_dict()
    assert {c: dtypes[c] for c in ("who_day28", "death_day28", "ct_improvement_day14", "time_to_discharge_status",
                                   "time_to_discharge_time", "age", "sars_cov_2_pcr", "arm")} == {
        "who_day28": "Int64", "death_day28": "Int64", "ct_improvement_day14": "Int64",
        "time_to_discharge_status": "Int64", "time_to_discharge_time": "float64", "age": "Int64",
        "sars_cov_2_pcr": "boolean", "arm": "object"}
    row = analysis.set_index("patient_id").loc[f"P-{filled.died:06d}"]
    assert (row["who_day28"], row["death_day28"], row["time_to_discharge_status"]) == (10, 1, 2)
    assert row["death_date"] == site_date(days_ago(10))
    assert pd.isna(row["discharge_date"])
    assert pd.isna(analysis.set_index("patient_id").loc[f"P-{filled.not_done:06d}", "ct_improvement_day14"])
    assert row["randomised_on"] == site_date(days_ago(30))
    assert _table(files, "analysis.parquet").schema.field("time_to_discharge_time").metadata[b"unit"] == b"days"


def test_exp2_blinded_parquet_masks_arms_and_site_roles_get_their_sites_only(filled: Filled):
    trial = filled.trial
    blinded = _zip(trial, "blinded_stat", format="parquet")
    assert not any(n.endswith(".csv") for n in blinded)
    assert "audit_log.parquet" not in blinded  # the blinded statistician may not read the trail
    manifest = json.loads(blinded["manifest.json"])
    assert (manifest["format"], manifest["arms"]) == ("parquet", "masked")
    allocations = _table(blinded, "allocations.parquet")
    assert {r["arm"] for r in allocations.to_pylist()} == {"masked"}
    assert all(r["kit_code"].startswith("MSC-") for r in allocations.to_pylist())
    assert {r["arm"] for r in _table(blinded, "analysis.parquet").to_pylist()} == {"masked"}
    assert allocations.schema.metadata[b"equipoise.arms"] == b"masked"
    # The trail for those who may read it: with the arms masked in a blinded export.
    trail = _table(_zip(trial, "monitor", format="parquet"), "audit_log.parquet").to_pylist()
    randomized = [json.loads(r["new_values"]) for r in trail if r["table"] == "allocations"]
    assert {v["arm"] for v in randomized} == {"(blinded)"}
    assert all(isinstance(r["at"], dt.datetime) and r["entry_id"] > 0 for r in trail)
    milan = _zip(trial, "coord_milan", format="parquet")
    for name in ("patients.parquet", "allocations.parquet", "analysis.parquet", "form_clinical_status.parquet"):
        assert {r["site"] for r in _table(milan, name).to_pylist()} == {"milan-sacco"}, name
    assert {r["patient_id"] for r in _table(milan, "patients.parquet").to_pylist()} == {
        f"P-{pid:06d}" for pid in filled.milan}
    assert _table(milan, "queries.parquet").num_rows == 0  # the query is on a PUMCH patient
    assert "audit_log.parquet" not in milan
    assert json.loads(milan["manifest.json"])["sites"] == ["milan-sacco"]


def test_aud6_parquet_exports_are_audited_with_the_hash_and_rows_of_each_file(filled: Filled):
    trial = filled.trial
    files = _zip(trial, "monitor", format="parquet")
    manifest = json.loads(files["manifest.json"])
    assert set(files) == {f["name"] for f in manifest["files"]} | {"manifest.json"}
    for entry in manifest["files"]:
        assert entry["name"].endswith(".parquet")
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
        assert entry["rows"] == _table(files, entry["name"]).num_rows
    assert {f["name"]: f["rows"] for f in manifest["files"]}["patients.parquet"] == 4
    audit = trial.world.client.get("/api/audit", params={"trial_id": trial.id}, headers=trial.h("admin")).json()
    last = [e for e in audit if e["action"] == "export"][-1]
    assert (last["actor"], last["reason"], last["new_values"]["format"]) == ("monitor", "parquet export", "parquet")
    assert last["new_values"]["files"] == {f["name"]: f["sha256"] for f in manifest["files"]}
    # The same data give the same files (the trail has grown by this export's entry, so it differs).
    again = json.loads(_zip(trial, "monitor", format="parquet")["manifest.json"])
    first = {f["name"]: f["sha256"] for f in manifest["files"]}
    second = {f["name"]: f["sha256"] for f in again["files"]}
    assert {n for n in first if first[n] != second[n]} == {"audit_log.parquet"}


def test_exp1_unknown_formats_are_refused_with_the_formats_there_are(filled: Filled):
    refused = filled.trial.get("/export", "monitor", params={"format": "xlsx"})
    assert refused.status_code == 422
    assert "'csv', 'parquet', 'dataset-json', 'odm' or 'all'" in refused.text


def test_cli_export_parquet_writes_typed_files(run_cli: Any, world: World, filled: Filled, tmp_path: Path):
    url, trial = world.db.url, filled.trial
    out = tmp_path / "parquet"
    result = run_cli("export", "parquet", trial.id, "--output", out, "--db", url, "--json")
    assert result.code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["format"] == "parquet"
    assert {p.name for p in out.iterdir()} == {f["name"] for f in manifest["files"]} | {"manifest.json"}
    assert "audit_log.parquet" in {p.name for p in out.iterdir()}  # the command line reads as the system
    patients = pd.read_parquet(out / "patients.parquet")
    assert (str(patients["age"].dtype), len(patients)) == ("Int64", 4)
    readable = run_cli("export", "parquet", trial.id, "-o", tmp_path / "u", "--unblinded", "--db", url)
    assert readable.code == 0, readable.stderr
    assert "analysis.parquet" in readable.stdout
    assert "arms shown" in readable.stdout
    assert set(pd.read_parquet(tmp_path / "u" / "analysis.parquet")["arm"]) <= {"msc", "placebo"}
    wrong = run_cli("export", "xlsx", trial.id, "-o", tmp_path / "x", "--db", url)
    assert wrong.code == 2
    assert "no export format 'xlsx' (formats: csv, parquet, dataset-json, odm, all)" in wrong.stderr
    assert not (tmp_path / "x").exists()

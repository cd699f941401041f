"""Exports: CSV files with a data dictionary and analysis.csv, CDISC ODM 1.3.2 (validated against the official
XSD shipped in odmlib), blinded masking, site scoping, audit of each export, no secret in any file (EXP-1,
EXP-2, AUD-7, AUD-9, RND-8).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import xmlschema
from sqlalchemy import select

from equipoise.store.models import Allocation, AllocationState
from tests.forms.conftest import Trial, World, days_ago, site_date
from tests.store.support import DEMO, PASSWORD

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
ARMS = {"msc", "placebo"}


@dataclass
class Filled:
    trial: Trial
    pumch: list[int]
    milan: list[int]
    died: int
    edited: int


@pytest.fixture(scope="module")
def filled(world: World) -> Filled:
    """A trial randomized 30 days ago: 4 patients at PUMCH, 2 in Milan, with day-14 and day-28 data."""
    trial = world.trial()
    with world.at(days_ago(30)):
        pumch = [trial.patient() for _ in range(4)]
        milan = [trial.patient("coord_milan", "milan-sacco") for _ in range(2)]
    day28, day14 = site_date(days_ago(2)).isoformat(), site_date(days_ago(16)).isoformat()
    for n, pid in enumerate(pumch + milan):
        user = "coord" if pid in pumch else "coord_milan"
        died = n == 1
        trial.put(trial.form(pid, "clinical_status", "day28"), user, {"values": {
            "assessment_date": day28, "who_score": 10 if died else n + 1}})
        trial.put(trial.form(pid, "outcome", "day28"), user, {"values": {
            "died": died, "death_date": site_date(days_ago(10)).isoformat() if died else None,
            "discharge_date": site_date(days_ago(5 + n)).isoformat() if not died else None}})
        trial.put(trial.form(pid, "imaging", "day14"), user, {"values": {"ct_date": day14, "ct_improved": n % 2 == 0}})
    edited = pumch[0]
    trial.put(trial.form(edited, "clinical_status", "day28"), "coord", {
        "values": {"assessment_date": day28, "who_score": 2}, "reason": "source document review"})
    trial.post(trial.form(edited, "clinical_status", "day28") + "/sign", "investigator",
               {"meaning": "approval", "password": PASSWORD, "username": "investigator"})
    qid = trial.post("/queries", "monitor", {"patient_id": edited, "form_id": "outcome", "visit_id": "day28",
                                             "field_id": "discharge_date", "text": "Discharge letter?"}).json()["id"]
    trial.post(f"/queries/{qid}/answer", "coord", {"text": "Filed in the binder."})
    return Filled(trial, pumch, milan, pumch[1], edited)


def _zip(trial: Trial, user: str, **params: Any) -> dict[str, bytes]:
    response = trial.get("/export", user, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: archive.read(name) for name in archive.namelist()}


def _rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def _text(name: str, content: bytes) -> str:
    """What a file says: its text, or a Parquet file's schema with all its metadata and every row."""
    if not name.endswith(".parquet"):
        return content.decode()
    table = pq.read_table(io.BytesIO(content))
    schema = table.schema.to_string(show_field_metadata=True, show_schema_metadata=True, truncate_metadata=False)
    return f"{schema}\n{json.dumps(table.to_pylist(), default=str, ensure_ascii=False)}"


@pytest.fixture(scope="module")
def odm_schema() -> xmlschema.XMLSchema:
    """The official ODM 1.3.2 schema (CDISC), as shipped in the odmlib package."""
    path = importlib.resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    return xmlschema.XMLSchema(str(path))


def test_exp2_blinded_export_masks_arms_and_no_secret_reaches_any_file(world: World, filled: Filled):
    files = _zip(filled.trial, "blinded_stat")
    manifest = json.loads(files["manifest.json"])
    assert manifest["arms"] == "masked"
    assert manifest["patients"] == manifest["randomized"] == 6
    assert {r["arm"] for r in _rows(files, "allocations.csv")} == {"masked"}
    assert all(r["kit_code"].startswith("MSC-") for r in _rows(files, "allocations.csv"))
    assert {r["arm"] for r in _rows(files, "analysis.csv")} == {"masked"}
    for name in ("allocations.parquet", "analysis.parquet"):  # `all` holds the Parquet files too
        assert {r["arm"] for r in pq.read_table(io.BytesIO(files[name])).to_pylist()} == {"masked"}, name
    snapshot = ET.fromstring(files["odm.xml"])
    assert snapshot.findall(".//odm:ItemData[@ItemOID='IT.RANDOMIZATION.arm']", NS) == []
    assert "arms masked" in snapshot.get("Description", "")
    with world.db.read() as s:
        allocations = s.scalars(select(Allocation).where(Allocation.trial_id == filled.trial.id)).all()
        states = s.scalars(select(AllocationState).where(AllocationState.trial_id == filled.trial.id)).all()
    secrets = {a.idempotency_key for a in allocations}
    secrets |= {repr(d) for a in allocations for d in a.draws} | {str(d) for a in allocations for d in a.draws}
    secrets |= {json.dumps(s.state, sort_keys=True) for s in states}
    assert any(name.endswith(".parquet") for name in files)
    for name, content in files.items():
        text = _text(name, content)
        leaked = [secret for secret in secrets if secret and secret in text]
        assert leaked == [], f"{name} contains allocation secrets {leaked[:3]}"
        for word in ("draws", "state_after", "idempotency", "diagnostics"):
            assert word not in text, f"{name} mentions {word}"
    # The unblinded roles' view is only for them.
    refused = filled.trial.get("/export", "blinded_stat", params={"unblinded": True})
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("the unblinded export is only for the unblinded statistician and the data "
                                        "monitoring committee")


def test_aud6_every_export_is_audited_with_the_hash_of_each_file(filled: Filled):
    files = _zip(filled.trial, "monitor", format="csv")
    manifest = json.loads(files["manifest.json"])
    import hashlib

    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
    audit = filled.trial.world.client.get("/api/audit", params={"trial_id": filled.trial.id},
                                          headers=filled.trial.h("admin")).json()
    exports = [e for e in audit if e["action"] == "export"]
    last = exports[-1]
    assert (last["actor"], last["reason"]) == ("monitor", "csv export")
    assert last["new_values"]["files"] == {f["name"]: f["sha256"] for f in manifest["files"]}
    assert last["new_values"]["arms"] == "masked"


def test_exp1_unblinded_export_gives_the_analysis_file_and_one_csv_per_form(filled: Filled):
    trial = filled.trial
    files = _zip(trial, "unblinded_stat", unblinded=True)
    assert json.loads(files["manifest.json"])["arms"] == "shown"
    forms = {"form_clinical_status", "form_imaging", "form_infusion", "form_outcome", "form_sae_check",
             "form_adverse_event"}
    # `all`: each form as CSV, Parquet and Dataset-JSON (test_parquet_export.py and test_dataset_json_export.py read
    # those)
    assert {n for n in files if n.startswith("form_")} == {f"{f}.{ext}" for f in forms
                                                           for ext in ("csv", "parquet", "json")}
    analysis = _rows(files, "analysis.csv")
    header = next(csv.reader(io.StringIO(files["analysis.csv"].decode())))
    assert header == ["patient_id", "site", "arm", "randomised_on", "protocol_version", "severity", "age65", "age",
                      "sex", "sars_cov_2_pcr", "symptom_onset", "who_baseline", "pregnant", "malignancy", "consent",
                      "who_day0", "who_day3", "who_day7", "who_day14", "who_day28", "death_day28", "discharge_date",
                      "death_date", "time_to_discharge_time", "time_to_discharge_status", "ct_improvement_day14"]
    arms = {a["patient_code"]: a["arm"] for a in trial.get("/allocations", "unblinded_stat").json()}
    assert {r["patient_id"]: r["arm"] for r in analysis} == arms
    assert set(arms.values()) <= ARMS
    by_id = {r["patient_id"]: r for r in analysis}
    edited, died = by_id[f"P-{filled.edited:06d}"], by_id[f"P-{filled.died:06d}"]
    assert (edited["who_day28"], edited["death_day28"], edited["ct_improvement_day14"]) == ("2", "0", "1")
    assert (died["who_day28"], died["death_day28"], died["death_date"], died["discharge_date"]) == (
        "10", "1", site_date(days_ago(10)).isoformat(), "")
    # time to discharge in days from randomization: death first is the competing event (2), on its day
    assert (died["time_to_discharge_time"], died["time_to_discharge_status"]) == ("20.0", "2")
    assert (edited["time_to_discharge_time"], edited["time_to_discharge_status"]) == ("25.0", "1")
    assert edited["randomised_on"] == site_date(days_ago(30)).isoformat()
    assert (edited["severity"], edited["age65"], edited["site"]) == ("severe", "under-65", "pumch")
    # The data dictionary describes every column of the form files.
    dictionary = _rows(files, "data_dictionary.csv")
    spo2 = next(r for r in dictionary if r["file"] == "form_clinical_status.csv" and r["column"] == "spo2")
    assert (spo2["label"], spo2["type"], spo2["unit"], spo2["range_low"], spo2["range_high"], spo2["required"],
            spo2["visits"]) == ("Oxygen saturation", "number", "%", "50.0", "100.0", "false",
                                "baseline|day3|day7|day14|day28")
    who = next(r for r in dictionary if r["column"] == "who_score")
    assert who["choices"].startswith("0=Uninfected; no viral RNA detected|1=Ambulatory")
    # Every column of every data file, the system columns too (keys, status, versions, who and when), in order.
    for name in files:
        if name.endswith(".csv") and name not in ("data_dictionary.csv", "field_versions.csv"):
            columns = next(csv.reader(io.StringIO(files[name].decode())))
            assert [r["column"] for r in dictionary if r["file"] == name] == columns, name
    labels = {(r["file"], r["column"]): r["label"] for r in dictionary}
    assert all(label and label != column for (_file, column), label in labels.items())
    assert labels["form_clinical_status.csv", "status"].startswith("Record status: complete, incomplete")
    assert labels["patients.csv", "enrolled_at"] == "Time of enrolment (UTC)"
    assert labels["queries.csv", "raised_by"] == "User who raised it (the monitor)"
    assert labels["signatures.csv", "content_sha256"] == "SHA-256 of the signed content"
    assert labels["audit_trail.csv", "old_value"] == "Value before the change (empty: none)"
    assert {r["column"] for r in dictionary if r["file"] == "analysis.csv"} == set(header)
    clinical = [r for r in _rows(files, "form_clinical_status.csv") if r["patient_id"] == f"P-{filled.edited:06d}"]
    assert [(r["visit"], r["visit_day"], r["version"], r["signed"], r["who_score"]) for r in clinical] == [
        ("day28", "28", "2", "approval", "2")]
    trail = [r for r in _rows(files, "audit_trail.csv") if r["reason"] == "source document review"]
    assert [(r["form"], r["visit"], r["field"], r["old_value"], r["new_value"], r["user"]) for r in trail] == [
        ("clinical_status", "day28", "who_score", "1", "2", "coord")]
    [query] = _rows(files, "queries.csv")
    assert (query["status"], query["field"], query["answer"], query["answered_by"]) == (
        "answered", "discharge_date", "Filed in the binder.", "coord")
    [signature] = _rows(files, "signatures.csv")
    assert (signature["printed_name"], signature["meaning"], signature["status"]) == (
        "Investigator (full name)", "approval", "valid")


def test_exp1_site_roles_export_their_own_sites_only(filled: Filled):
    trial = filled.trial
    files = _zip(trial, "coord_milan")
    assert {r["site"] for r in _rows(files, "patients.csv")} == {"milan-sacco"}
    assert {r["site"] for r in _rows(files, "analysis.csv")} == {"milan-sacco"}
    assert json.loads(files["manifest.json"])["sites"] == ["milan-sacco"]
    snapshot = ET.fromstring(files["odm.xml"])
    assert {s.get("SubjectKey") for s in snapshot.findall(".//odm:SubjectData", NS)} == {
        f"P-{pid:06d}" for pid in filled.milan}
    assert trial.get("/export", "coord_milan", params={"site_id": "pumch"}).status_code == 403
    assert trial.get("/export", "admin").status_code == 403
    assert trial.get("/export", "coord", params={"format": "xlsx"}).status_code == 422
    assert _zip(trial, "dmc", unblinded=True)["manifest.json"]


def test_exp1_odm_files_are_valid_odm_132_and_the_history_replays_to_the_snapshot(filled: Filled,
                                                                                    odm_schema: xmlschema.XMLSchema):
    files = _zip(filled.trial, "unblinded_stat", unblinded=True, format="odm")
    assert set(files) == {"odm.xml", "odm_audit.xml", "manifest.json"}
    for name in ("odm.xml", "odm_audit.xml"):
        errors = [str(e) for e in odm_schema.iter_errors(files[name].decode())]
        assert errors == [], f"{name}: {errors[:2]}"
        _references_resolve(ET.fromstring(files[name]))
    snapshot = ET.fromstring(files["odm.xml"])
    assert (snapshot.get("ODMVersion"), snapshot.get("FileType"), snapshot.get("Granularity")) == (
        "1.3.2", "Snapshot", "All")
    assert snapshot.get("CreationDateTime", "").endswith("Z")
    edited = snapshot.find(f".//odm:SubjectData[@SubjectKey='P-{filled.edited:06d}']", NS)
    assert edited is not None
    item = edited.find(".//odm:ItemData[@ItemOID='IT.clinical_status.who_score']", NS)
    assert item is not None
    assert item.get("Value") == "2"
    record = item.find("odm:AuditRecord", NS)
    assert record is not None
    assert [child.tag.split("}")[1] for child in record] == ["UserRef", "LocationRef", "DateTimeStamp",
                                                              "ReasonForChange", "SourceID"]
    assert record.findtext("odm:ReasonForChange", namespaces=NS) == "source document review"
    signature = edited.find(".//odm:FormData[@FormOID='F.clinical_status']/odm:Signature", NS)
    assert signature is not None
    ref = signature.find("odm:SignatureRef", NS)
    assert ref is not None
    assert ref.get("SignatureOID") == "SD.approval"
    arms = {i.get("Value") for i in snapshot.findall(".//odm:ItemData[@ItemOID='IT.RANDOMIZATION.arm']", NS)}
    assert arms <= ARMS
    assert len(arms) >= 1
    # Replaying the transactional history gives exactly the snapshot's clinical values.
    history = ET.fromstring(files["odm_audit.xml"])
    assert history.get("FileType") == "Transactional"
    assert _replay(history) == _values(snapshot)
    changes = history.findall(".//odm:ItemData[@TransactionType='Update']", NS)
    assert [c.get("ItemOID") for c in changes] == ["IT.clinical_status.who_score"]


def test_the_schema_check_is_real(filled: Filled, odm_schema: xmlschema.XMLSchema):
    text = _zip(filled.trial, "monitor", format="odm")["odm.xml"].decode()
    assert list(odm_schema.iter_errors(text)) == []
    broken = text.replace('FileType="Snapshot"', 'FileType="Snap"', 1)
    assert list(odm_schema.iter_errors(broken))
    start = text.index("<UserRef", text.index("<AuditRecord"))
    without_user = text[:start] + text[text.index("/>", start) + 2:]
    assert list(odm_schema.iter_errors(without_user))


def _values(root: ET.Element) -> dict[tuple[str, str, str, str], str]:
    out = {}
    for subject in root.findall(".//odm:SubjectData", NS):
        for event in subject.findall("odm:StudyEventData", NS):
            for form in event.findall("odm:FormData", NS):
                if form.get("FormOID") == "F.RANDOMIZATION":
                    continue
                for item in form.findall(".//odm:ItemData", NS):
                    key = (subject.get("SubjectKey", ""), event.get("StudyEventOID", ""), form.get("FormOID", ""),
                           item.get("ItemOID", ""))
                    out[key] = item.get("Value", "")
    return out


def _replay(root: ET.Element) -> dict[tuple[str, str, str, str], str]:
    state: dict[tuple[str, str, str, str], str] = {}
    for subject in root.findall(".//odm:SubjectData", NS):
        for event in subject.findall("odm:StudyEventData", NS):
            for form in event.findall("odm:FormData", NS):
                for item in form.findall(".//odm:ItemData", NS):
                    key = (subject.get("SubjectKey", ""), event.get("StudyEventOID", ""), form.get("FormOID", ""),
                           item.get("ItemOID", ""))
                    if item.get("TransactionType") == "Remove":
                        state.pop(key, None)
                    else:
                        state[key] = item.get("Value", "")
    return state


def _references_resolve(root: ET.Element) -> None:
    """The XSD has no key references: check that every OID used is defined in the same document."""
    defined = {el.get("OID") for el in root.iter() if el.get("OID")}
    for el in root.iter():
        for attribute in ("ItemOID", "FormOID", "StudyEventOID", "ItemGroupOID", "UserOID", "LocationOID",
                          "SignatureOID", "CodeListOID", "MeasurementUnitOID", "MetaDataVersionOID", "StudyOID"):
            value = el.get(attribute)
            if value is not None:
                assert value in defined, f"{el.tag} {attribute}={value} is not defined"


def test_open_label_trials_show_arms_to_everyone_who_may_export(world: World):
    trial = world.trial(DEMO.read_text().replace("blinding: double-blind", "blinding: open-label"))
    trial.patient()
    files = _zip(trial, "coord")
    assert {r["arm"] for r in _rows(files, "allocations.csv")} <= ARMS
    assert json.loads(files["manifest.json"])["arms"] == "shown"


@pytest.fixture
def cli_trial(world: World) -> tuple[Trial, int]:
    trial = world.trial()
    with world.at(days_ago(20)):
        pid = trial.patient()
    return trial, pid


def test_cli_export_writes_the_files_and_forms_tracking_reports(run_cli: Any, world: World,
                                                                cli_trial: tuple[Trial, int], tmp_path: Path):
    url = world.db.url
    trial, pid = cli_trial
    out = tmp_path / "export"
    result = run_cli("export", "all", trial.id, "--output", out, "--db", url, "--json")
    assert result.code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["arms"] == "masked"
    assert {p.name for p in out.iterdir()} == {f["name"] for f in manifest["files"]} | {"manifest.json"}
    unblinded = run_cli("export", "csv", trial.id, "-o", tmp_path / "u", "--unblinded", "--db", url)
    assert unblinded.code == 0, unblinded.stderr
    assert "arms shown" in unblinded.stdout
    assert {r["arm"] for r in csv.DictReader((tmp_path / "u" / "analysis.csv").open())} <= ARMS
    assert not (tmp_path / "u" / "odm.xml").exists()
    missing = run_cli("export", "odm", "NO-SUCH-TRIAL", "-o", tmp_path / "x", "--db", url)
    assert missing.code == 2
    assert missing.stderr.startswith("no trial 'NO-SUCH-TRIAL' in ")  # and where it looked, with the --db hint
    nowhere = run_cli("export", "odm", trial.id, "-o", tmp_path / "x", "--site", "nowhere", "--db", url)
    assert nowhere.code == 2
    assert nowhere.stderr.startswith(f"trial {trial.id} has no site 'nowhere' (sites: pumch, wuhan-jinyintan")
    tracking = run_cli("forms", "tracking", trial.id, "--db", url, "--json")
    assert tracking.code == 0, tracking.stderr
    assert json.loads(tracking.stdout)["sites"]["pumch"]["overdue"] == 11  # baseline 3, day3 3, day7 2, day14 3
    readable = run_cli("forms", "tracking", trial.id, "--db", url)
    assert "overdue forms (most overdue first):" in readable.stdout
    schedule = run_cli("forms", "schedule", trial.id, str(pid), "--db", url, "--json")
    assert schedule.code == 0, schedule.stderr
    assert json.loads(schedule.stdout)["day0"] == site_date(days_ago(20)).isoformat()
    shown = run_cli("forms", "schedule", trial.id, str(pid), "--db", url)
    assert "day28      day  28  outcome" in shown.stdout


def test_aud7_the_whole_trail_is_exported_for_those_who_may_read_it_with_its_secrets_masked(world: World,
                                                                                             filled: Filled):
    trial = filled.trial
    monitor = _zip(trial, "monitor", format="csv")
    entries = _rows(monitor, "audit_log.csv")
    with world.db.read() as s:
        from equipoise.store.models import AuditEntry

        live = s.scalars(select(AuditEntry).where(AuditEntry.trial_id == trial.id).order_by(AuditEntry.id)).all()
        allocations = s.scalars(select(Allocation).where(Allocation.trial_id == trial.id)).all()
    # Every entry up to the export, which is audited right after it.
    assert [(int(r["entry_id"]), r["hash"]) for r in entries] == [(e.id, e.hash) for e in live[:-1]]
    assert live[-1].action == "export"
    randomized = [json.loads(r["new_values"]) for r in entries if r["table"] == "allocations"]
    assert len(randomized) == 6
    assert {v["arm"] for v in randomized} == {v["draws"] for v in randomized} == {"(blinded)"}
    assert {v["idempotency_key"] for v in randomized} == {"(blinded)"}
    signed = next(r for r in entries if r["table"] == "signatures")
    assert (signed["user"], signed["user_name"]) == ("investigator", "Investigator (full name)")
    assert {r["app_version"] for r in entries} != {""}
    # The unblinded statistician sees the arms, never the draws; site roles and site exports get no trail.
    unblinded = _rows(_zip(trial, "unblinded_stat", format="csv", unblinded=True), "audit_log.csv")
    shown = [json.loads(r["new_values"]) for r in unblinded if r["table"] == "allocations"]
    assert {v["arm"] for v in shown} <= ARMS
    assert {v["draws"] for v in shown} == {"(blinded)"}
    text = "\n".join(r["new_values"] + r["old_values"] for r in unblinded)
    assert [str(d) for a in allocations for d in a.draws if str(d) in text] == []
    assert "audit_log.csv" not in _zip(trial, "coord", format="csv")
    assert "audit_log.csv" not in _zip(trial, "monitor", format="csv", site_id="pumch")
    assert "audit_log.csv" not in _zip(trial, "blinded_stat", format="csv")

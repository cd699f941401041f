"""Repeating (log) forms: a patient with two serious adverse events between two visits has two records of the
adverse-event form at that visit, numbered 1 and 2, each saved, changed, queried, locked, signed and exported on
its own. The demo protocol's ``adverse_event`` form is repeating."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from sqlalchemy import select

from equipoise.integrity.audit_verify import verify
from equipoise.integrity.backup import restore_backup
from equipoise.protocol import validate_text
from equipoise.services.schedule import saved_states
from equipoise.services.signatures import signature_view
from equipoise.store.crf_models import FormQuery, FormRecord, Signature
from equipoise.store.db import Database
from equipoise.store.migrate import head_revision
from tests.forms.conftest import Trial, World, site_date
from tests.store.support import DEMO, PASSWORD

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
OLD_BACKUP = Path(__file__).parents[1] / "data" / "schema-0010-demo.eqbackup"


def _event(description: str, grade: int = 3) -> dict[str, object]:
    today = site_date().isoformat()
    return {"values": {"onset_date": today, "description": description, "severity_grade": grade,
                       "related": "unlikely"}}


def test_two_events_at_one_visit_are_two_records_numbered_in_order(trial: Trial):
    pid = trial.patient()
    form = trial.form(pid, "adverse_event", "day3")
    first = trial.put(form, "coord", _event("pulmonary embolism"))
    assert first.status_code == 200, first.text
    assert first.json()["instance"] == 1
    # A number that skips one is refused, and the refusal says which number comes next.
    skipped = trial.put(form + "?instance=3", "coord", _event("sepsis"))
    assert skipped.status_code == 409
    assert "has 1 record: the next one is #2, not #3" in skipped.json()["detail"]
    second = trial.put(form + "?instance=2", "coord", _event("sepsis", 4))
    assert second.status_code == 200, second.text
    assert (second.json()["instance"], second.json()["changed"]) == (2, True)
    # The coordinator's retry after a lost answer finds record 2 saved and adds no third.
    retry = trial.put(form + "?instance=2", "coord", _event("sepsis", 4))
    assert (retry.status_code, retry.json()["changed"], retry.json()["version"]) == (200, False, 1)
    records = [r for r in trial.get(f"/patients/{pid}/forms", "monitor").json() if r["form_id"] == "adverse_event"]
    assert [(r["instance"], r["values"]["description"]) for r in records] == [(1, "pulmonary embolism"), (2, "sepsis")]
    assert trial.get(form + "?instance=2", "monitor").json()["values"]["severity_grade"] == 4
    assert trial.get(form + "?instance=3", "monitor").status_code == 404
    # The schedule shows the visit's form done, with its two records.
    schedule = trial.get(f"/patients/{pid}/schedule", "coord").json()
    item = next(f for f in schedule["forms"] if (f["form_id"], f["visit_id"]) == ("adverse_event", "day3"))
    assert (item["state"], item["repeating"], item["records"]) == ("complete", True, 2)
    other = next(f for f in schedule["forms"] if (f["form_id"], f["visit_id"]) == ("clinical_status", "day3"))
    assert (other["repeating"], other["records"]) == (False, 0)
    # A form that is not repeating has one record per visit.
    single = trial.put(trial.form(pid, "clinical_status", "baseline") + "?instance=2", "coord", {"values": {}})
    assert single.status_code == 404
    assert "form clinical_status is not repeating" in single.json()["detail"]


def test_each_record_is_changed_queried_locked_and_signed_on_its_own(trial: Trial):
    pid = trial.patient()
    form = trial.form(pid, "adverse_event", "day7")
    assert trial.put(form, "investigator", _event("atrial fibrillation")).status_code == 200
    assert trial.put(form + "?instance=2", "investigator", _event("acute kidney injury")).status_code == 200
    sign = {"meaning": "approval", "password": PASSWORD, "username": "investigator"}
    assert trial.post(form + "/sign", "investigator", sign).status_code == 201
    signed = trial.post(form + "/sign?instance=2", "investigator", sign)
    assert signed.status_code == 201, signed.text
    assert signed.json()["instance"] == 2
    # A change of record 2 needs a reason, is in record 2's history only, and invalidates record 2's signature only.
    change = {"values": {"severity_grade": 4}, "reason": "grade confirmed by the nephrologist"}
    assert trial.patch(form + "?instance=2", "investigator", {"values": {"severity_grade": 4},
                                                               "reason": ""}).status_code == 422
    changed = trial.patch(form + "?instance=2", "investigator", change)
    assert changed.status_code == 200, changed.text
    assert len(changed.json()["invalidated_signatures"]) == 1
    assert [s["status"] for s in trial.get(form, "monitor").json()["signatures"]] == ["valid"]
    assert [s["status"] for s in trial.get(form + "?instance=2", "monitor").json()["signatures"]] == ["invalidated"]
    history = trial.get(form + "/history?instance=2", "monitor").json()
    grade = [h for h in history if h["field"] == "severity_grade"]
    assert [(h["old"], h["new"], h["reason"]) for h in grade] == [(None, 3, None),
                                                                   (3, 4, "grade confirmed by the nephrologist")]
    assert all(h["field"] != "severity_grade" or h["new"] == 3 for h in trial.get(form + "/history",
                                                                                 "monitor").json())
    # A query on record 2 holds back record 2's lock, not record 1's; a query on a record not saved is refused.
    query = {"patient_id": pid, "form_id": "adverse_event", "visit_id": "day7", "instance": 2,
             "field_id": "description", "text": "Was a renal biopsy done?"}
    raised = trial.post("/queries", "monitor", query)
    assert raised.status_code == 201, raised.text
    assert raised.json()["instance"] == 2
    assert trial.post("/queries", "monitor", {**query, "instance": 5}).status_code == 404
    assert trial.get(form + "?instance=2", "monitor").json()["open_queries"] == 1
    assert trial.get(form, "monitor").json()["open_queries"] == 0
    assert trial.post(form + "/lock?instance=2", "monitor").status_code == 409
    assert trial.post(form + "/lock", "monitor").status_code == 200
    locked = trial.patch(form, "investigator", {"values": {"severity_grade": 2}, "reason": "typo"})
    assert locked.status_code == 423
    assert "form adverse_event at visit day7 of patient" in locked.json()["detail"]
    # Record 2 is still open for the answer to its query, and can be marked entered in error with a reason.
    not_done = trial.post(form + "/not-done?instance=2", "investigator", {"reason": "entered in error: same event"})
    assert not_done.status_code == 200, not_done.text
    assert (not_done.json()["instance"], not_done.json()["status"]) == (2, "not-done")


def test_exports_give_each_record_its_number(world: World, trial: Trial):
    pid = trial.patient()
    form = trial.form(pid, "adverse_event", "day3")
    assert trial.put(form, "coord", _event("pneumothorax")).status_code == 200
    assert trial.put(form + "?instance=2", "coord", _event("delirium", 2)).status_code == 200
    assert trial.patch(form + "?instance=2", "coord", {"values": {"related": "unrelated"},
                                                       "reason": "assessed again"}).status_code == 200
    response = trial.get("/export?format=all", "blinded_stat")
    assert response.status_code == 200, response.text
    files = zipfile.ZipFile(io.BytesIO(response.content))
    rows = list(csv.DictReader(io.StringIO(files.read("form_adverse_event.csv").decode())))
    assert [(r["visit"], r["instance"], r["description"], r["version"]) for r in rows] == [
        ("day3", "1", "pneumothorax", "1"), ("day3", "2", "delirium", "2")]
    clinical = next(csv.reader(io.StringIO(files.read("form_clinical_status.csv").decode())))
    assert "instance" not in clinical  # one record per visit: (patient, visit) is the key
    dictionary = list(csv.DictReader(io.StringIO(files.read("data_dictionary.csv").decode())))
    assert any(d["file"] == "form_adverse_event.csv" and d["column"] == "instance" for d in dictionary)
    audit = list(csv.DictReader(io.StringIO(files.read("audit_trail.csv").decode())))
    assert [(a["instance"], a["old_value"], a["new_value"]) for a in audit if a["field"] == "related"] == [
        ("1", "", "unlikely"), ("2", "", "unlikely"), ("2", "unlikely", "unrelated")]
    snapshot = ET.fromstring(files.read("odm.xml"))
    definition = next(f for f in snapshot.iter(f"{ODM}FormDef") if f.get("OID") == "F.adverse_event")
    assert definition.get("Repeating") == "Yes"
    keys = [f.get("FormRepeatKey") for f in snapshot.iter(f"{ODM}FormData") if f.get("FormOID") == "F.adverse_event"]
    assert keys == ["1", "2"]
    assert all(f.get("FormRepeatKey") is None for f in snapshot.iter(f"{ODM}FormData")
               if f.get("FormOID") == "F.clinical_status")
    history = ET.fromstring(files.read("odm_audit.xml"))
    assert [f.get("FormRepeatKey") for f in history.iter(f"{ODM}FormData")
            if f.get("FormOID") == "F.adverse_event"] == ["1", "2", "2"]
    assert verify(world.db).ok


def test_a_visit_with_an_incomplete_record_is_incomplete():
    saved, counts = saved_states([("adverse_event", "day3", "complete"), ("adverse_event", "day3", "incomplete"),
                                  ("adverse_event", "day7", "not-done"), ("adverse_event", "day7", "complete"),
                                  ("adverse_event", "day14", "not-done")])
    assert saved == {("adverse_event", "day3"): "incomplete", ("adverse_event", "day7"): "complete",
                     ("adverse_event", "day14"): "not-done"}
    assert counts == {("adverse_event", "day3"): 2, ("adverse_event", "day7"): 2, ("adverse_event", "day14"): 1}


def test_an_outcome_cannot_come_from_a_repeating_form():
    text = DEMO.read_text().replace("source: outcome.died", "source: adverse_event.severity_grade", 1)
    problems = [str(p) for p in validate_text(text, "demo.yaml").errors]
    assert any("form 'adverse_event' is repeating" in p and "source" in p for p in problems), problems


def test_a_database_of_the_previous_schema_is_upgraded_and_still_verifies(tmp_path: Path):
    """A demo trial backed up at schema 0010 (before record numbers; made by commit 2363ebb) restores and is
    upgraded: its form records and queries become record 1, the audit trail, written before the column existed,
    still verifies, and its signatures still match their content."""
    target = Database(f"sqlite:///{tmp_path / 'upgraded.sqlite3'}")
    report = restore_backup(target, OLD_BACKUP)
    assert report.manifest.schema_revision == "0010_two_factor"
    assert report.ok, (str(report.verify), report.problems)
    assert report.schema_revision == head_revision()
    with target.read() as s:
        assert set(s.scalars(select(FormRecord.instance))) == {1}
        assert set(s.scalars(select(FormQuery.instance))) == {1}
        signatures = s.scalars(select(Signature).where(Signature.status == "valid")).all()
        assert signatures
        assert [signature_view(s, sig).invalidation for sig in signatures] == [None] * len(signatures)
    target.dispose()

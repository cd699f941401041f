"""EDC-1 skip logic: a field asked only when an earlier field of the form has a given value. The demo's day-28
outcome form asks the date of death only when the patient died: required then, refused otherwise."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile

from equipoise.protocol import validate_text
from tests.forms.conftest import Trial, site_date
from tests.store.support import DEMO

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEATH = "{id: death_date, label: Date of death, type: date, asked_if: {field: died, equals: true}}"


def _today() -> str:
    return site_date().isoformat()


def test_the_date_of_death_is_asked_only_when_the_patient_died(trial: Trial):
    form = trial.form(trial.patient(), "outcome", "day28")
    missing = trial.put(form, "coord", {"values": {"died": True}})
    assert missing.status_code == 422
    assert missing.json()["missing"] == ["death_date"]
    contradiction = trial.put(form, "coord", {"values": {"died": False, "death_date": _today()}})
    assert contradiction.status_code == 422
    assert contradiction.json()["errors"]["death_date"] == (
        "Date of death: only asked when Died by day 28 is yes (Died by day 28 is no): leave it empty")
    unanswered = trial.put(form, "coord", {"values": {"death_date": _today()}, "incomplete": True})
    assert unanswered.status_code == 422
    assert "answer Died by day 28 first" in unanswered.json()["errors"]["death_date"]
    alive = trial.put(form, "coord", {"values": {"died": False}})
    assert (alive.status_code, alive.json()["status"]) == (200, "complete")
    # Correcting the answer brings the question with it: died without its date is refused, then accepted.
    assert trial.patch(form, "coord", {"values": {"died": True}, "reason": "death certificate"}).status_code == 422
    died = trial.patch(form, "coord", {"values": {"died": True, "death_date": _today()},
                                       "reason": "death certificate received"})
    assert (died.status_code, died.json()["values"]["death_date"]) == (200, _today())
    # And back: the date must go when the answer goes (PATCH null empties it).
    assert trial.patch(form, "coord", {"values": {"died": False}, "reason": "wrong patient"}).status_code == 422
    corrected = trial.patch(form, "coord", {"values": {"died": False, "death_date": None}, "reason": "wrong patient"})
    assert corrected.status_code == 200, corrected.text
    assert "death_date" not in corrected.json()["values"]


def test_skip_logic_is_in_the_data_dictionary_and_the_odm_metadata(trial: Trial):
    response = trial.get("/export?format=all", "monitor")
    assert response.status_code == 200, response.text
    files = zipfile.ZipFile(io.BytesIO(response.content))
    dictionary = list(csv.DictReader(io.StringIO(files.read("data_dictionary.csv").decode())))
    death = next(r for r in dictionary if r["file"] == "form_outcome.csv" and r["column"] == "death_date")
    assert death["asked_if"] == "died == true"
    assert all(r["asked_if"] == "" for r in dictionary if r["column"] != "death_date")
    root = ET.fromstring(files.read("odm.xml"))
    ref = next(r for r in root.iter(f"{ODM}ItemRef") if r.get("ItemOID") == "IT.outcome.death_date")
    condition = next(c for c in root.iter(f"{ODM}ConditionDef")
                     if c.get("OID") == ref.get("CollectionExceptionConditionOID"))
    assert condition.findtext(f"{ODM}FormalExpression") == "not (died == true)"


def test_conditions_are_checked_in_the_protocol():
    text = DEMO.read_text()
    assert DEATH in text
    problems = {p.field: p.message for p in validate_text(text.replace(
        DEATH, "{id: death_date, label: Date of death, type: date, asked_if: {field: discharge_date, equals: x}}"),
        "demo.yaml").errors}
    assert "'discharge_date' is not a field before 'death_date'" in problems["forms[3].fields[1].asked_if.field"]
    problems = {p.field: p.message for p in validate_text(text.replace(
        DEATH, "{id: death_date, label: Date of death, type: date, asked_if: {field: died, equals: maybe}}"),
        "demo.yaml").errors}
    assert "compare it with true or false" in problems["forms[3].fields[1].asked_if.equals"]
    enrolment = text.replace("{id: pregnant, label: Pregnant or breastfeeding, type: boolean}",
                             "{id: pregnant, label: Pregnant or breastfeeding, type: boolean, "
                             "asked_if: {field: sex, equals: female}}")
    problems = {p.field: p.message for p in validate_text(enrolment, "demo.yaml").errors}
    assert "skip logic applies to case report forms" in problems["enrolment.fields[6].asked_if"]

"""EDC-1: an amendment adds a field to a case report form from its effective date; records of every version are
read and exported together, and each save is checked by the version in force at the site that day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

from equipoise.protocol import validate_text
from tests.forms.conftest import World, site_date
from tests.store.support import DEMO

FERRITIN = "{id: ferritin, label: Ferritin, type: number, unit: ng/mL, range: [0, 100000], required: false}"


def _amended(effective: dt.date, field: str = FERRITIN, form: str = "clinical_status") -> str:
    return DEMO.read_text() + f"""
amendments:
  - version: "1.1"
    effective_date: {effective.isoformat()}
    summary: Ferritin at every assessment (hyperinflammation).
    changes:
      - {{change: add-field, form: {form}, field: {field}}}
"""


def test_a_field_added_by_amendment_is_asked_from_its_date_and_exported_with_every_record(world: World):
    today = site_date()
    trial = world.trial(_amended(today + dt.timedelta(days=2)))
    pid = trial.patient()
    values = {"assessment_date": today.isoformat(), "who_score": 5}
    early = trial.put(trial.form(pid, "clinical_status", "baseline"), "coord",
                      {"values": {**values, "ferritin": 1450}})
    assert early.status_code == 422
    assert early.json()["errors"]["ferritin"].startswith("unknown field of form clinical_status")
    assert trial.put(trial.form(pid, "clinical_status", "baseline"), "coord", {"values": values}).status_code == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with world.at(later):
        saved = trial.put(trial.form(pid, "clinical_status", "day3"), "coord", {"values": {
            "assessment_date": site_date(later).isoformat(), "who_score": 4, "ferritin": 1450}})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["values"]["ferritin"], saved.json()["protocol_version"]) == (1450.0, "1.1")
    files = zipfile.ZipFile(io.BytesIO(trial.get("/export?format=csv", "monitor").content))
    rows = list(csv.DictReader(io.StringIO(files.read("form_clinical_status.csv").decode())))
    assert [(r["visit"], r["protocol_version"], r["ferritin"]) for r in rows] == [("baseline", "1.0", ""),
                                                                                 ("day3", "1.1", "1450.0")]
    dictionary = list(csv.DictReader(io.StringIO(files.read("data_dictionary.csv").decode())))
    assert any(d["column"] == "ferritin" and d["unit"] == "ng/mL" for d in dictionary)


def test_an_added_field_is_checked_in_the_protocol():
    later = dt.date(2020, 6, 1)
    assert validate_text(_amended(later), "demo.yaml").valid
    problems = {p.field: p.message for p in validate_text(_amended(later, form="vitals"), "demo.yaml").errors}
    assert problems["amendments[0].changes[0].form"] == "unknown form 'vitals'"
    required = FERRITIN.replace("required: false", "required: true")
    problems = {p.field: p.message for p in validate_text(_amended(later, required), "demo.yaml").errors}
    assert "must be optional" in problems["amendments[0].changes[0].field.required"]
    duplicate = FERRITIN.replace("id: ferritin", "id: spo2")
    problems = {p.field: p.message for p in validate_text(_amended(later, duplicate), "demo.yaml").errors}
    assert "has a field 'spo2' already" in problems["amendments[0].changes[0].field.id"]
    ranged = FERRITIN.replace("range: [0, 100000]", "range: [100000, 0]")
    assert validate_text(_amended(later, ranged), "demo.yaml").errors

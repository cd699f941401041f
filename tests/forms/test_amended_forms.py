"""EDC-1: an amendment adds a field to a case report form from its effective date; records of every version are
read and exported together, and each save is checked by the version in force at the site that day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
import zipfile

import xmlschema

from equipoise.protocol import validate_text
from tests.forms.conftest import World, demo_values, site_date
from tests.forms.test_exports import odm_schema
from tests.store.support import DEMO

__all__ = ["odm_schema"]  # the ODM 1.3.2 schema fixture

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
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


CHANGES = """
      - {change: change-field, form: clinical_status, field: spo2, range: [40, 100], label: SpO2 on room air}
      - {change: change-field, form: adverse_event, field: related, choices: [unrelated, unlikely, possible, probable,
         definite, not-assessable]}
      - {change: drop-field, form: clinical_status, field: resp_rate, reason: Not recorded reliably on the wards.}
"""


def _changed(effective: dt.date, changes: str = CHANGES) -> str:
    return DEMO.read_text() + f"""
amendments:
  - version: "1.1"
    effective_date: {effective.isoformat()}
    summary: Forms revised after the first month.
    changes:{changes}"""


def test_a_changed_or_dropped_field_is_checked_by_the_version_in_force_and_old_values_stay(
        world: World, odm_schema: xmlschema.XMLSchema):
    today = site_date()
    trial = world.trial(_changed(today + dt.timedelta(days=2)))
    pid = trial.patient()
    baseline = trial.form(pid, "clinical_status", "baseline")
    values = {"assessment_date": today.isoformat(), "who_score": 5}
    low = trial.put(baseline, "coord", {"values": {**values, "spo2": 45}})
    assert low.status_code == 422
    assert "outside the allowed range 50 to 100" in low.json()["errors"]["spo2"]
    saved = trial.put(baseline, "coord", {"values": {**values, "spo2": 88, "resp_rate": 30}})
    assert saved.status_code == 200, saved.text
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with world.at(later):
        day3 = trial.put(trial.form(pid, "clinical_status", "day3"), "coord", {"values": {
            "assessment_date": site_date(later).isoformat(), "who_score": 4, "spo2": 45}})
        assert day3.status_code == 200, day3.text
        assert day3.json()["protocol_version"] == "1.1"
        asked = trial.put(trial.form(pid, "clinical_status", "day3"), "coord", {"values": {
            "assessment_date": site_date(later).isoformat(), "who_score": 4, "spo2": 45, "resp_rate": 22},
            "reason": "typo"})
        assert asked.status_code == 422
        assert asked.json()["errors"]["resp_rate"].startswith("unknown field of form clinical_status")
        # the baseline record, saved under 1.0, keeps its respiratory rate through a change under 1.1
        fixed = trial.put(baseline, "coord", {"values": {**values, "spo2": 86}, "reason": "misread the monitor"})
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["values"]["resp_rate"] == 30
        resent = trial.put(baseline, "coord", {"values": {**values, "spo2": 87, "resp_rate": 30},
                                               "reason": "read again"})
        assert resent.status_code == 200, resent.text
        changed = trial.patch(baseline, "coord", {"values": {"resp_rate": 31}, "reason": "recount"})
        assert changed.status_code == 422
        assert "an amendment dropped it" in changed.json()["errors"]["resp_rate"]
        assert trial.get(baseline, "coord").json()["values"]["resp_rate"] == 30
        event = trial.put(trial.form(pid, "adverse_event", "day3"), "coord", {"values": {
            "onset_date": site_date(later).isoformat(), "description": "Fever", "severity_grade": 3,
            "related": "not-assessable"}})
        assert event.status_code == 200, event.text
    files = zipfile.ZipFile(io.BytesIO(trial.get("/export?format=csv", "monitor").content))
    rows = list(csv.DictReader(io.StringIO(files.read("form_clinical_status.csv").decode())))
    assert [(r["visit"], r["protocol_version"], r["spo2"], r["resp_rate"]) for r in rows] == [
        ("baseline", "1.1", "87.0", "30"), ("day3", "1.1", "45.0", "")]
    versions = list(csv.DictReader(io.StringIO(files.read("field_versions.csv").decode())))
    history = [(v["protocol_version"], v["change"], v["range_low"], v["label"]) for v in versions
               if (v["form"], v["field"]) == ("clinical_status", "spo2")]
    assert history == [("1.0", "defined", "50.0", "Oxygen saturation"), ("1.1", "changed", "40.0", "SpO2 on room air")]
    dropped = next(v for v in versions if v["field"] == "resp_rate" and v["change"] == "dropped")
    assert dropped["why"] == "Forms revised after the first month. Not recorded reliably on the wards."
    dictionary = {(d["form"], d["field"]): d for d in csv.DictReader(io.StringIO(
        files.read("data_dictionary.csv").decode()))}
    assert dictionary["adverse_event", "related"]["choices"].endswith("|definite|not-assessable")
    assert dictionary["clinical_status", "resp_rate"]["required"] == "false"
    odm = zipfile.ZipFile(io.BytesIO(trial.get("/export?format=odm", "monitor").content)).read("odm.xml")
    assert [str(e) for e in odm_schema.iter_errors(odm.decode())] == []
    root = ET.fromstring(odm)
    mdvs = {m.get("OID"): m for m in root.iter(f"{ODM}MetaDataVersion")}
    # the data's (named by the version in force at the export, 1.0 here), and each version's as it was
    assert set(mdvs) == {"MDV.1.0.every-version", "MDV.1.0", "MDV.1.1"}
    assert next(root.iter(f"{ODM}ClinicalData")).get("MetaDataVersionOID") == "MDV.1.0.every-version"

    def item(version: str, field: str) -> ET.Element | None:
        return next((i for i in mdvs[version].iter(f"{ODM}ItemDef")
                     if i.get("OID") == f"IT.clinical_status.{field}"), None)

    def lowest(version: str) -> str | None:
        spec = item(version, "spo2")
        assert spec is not None
        check = next(c for c in spec.iter(f"{ODM}RangeCheck") if c.get("Comparator") == "GE")
        return next(check.iter(f"{ODM}CheckValue")).text

    assert (lowest("MDV.1.0"), lowest("MDV.1.1")) == ("50", "40")
    assert (item("MDV.1.0", "resp_rate") is not None, item("MDV.1.1", "resp_rate") is None) == (True, True)
    assert item("MDV.1.0.every-version", "resp_rate") is not None  # older records hold it

    def codes(version: str) -> list[str | None]:
        codelist = next(c for c in mdvs[version].iter(f"{ODM}CodeList")
                        if c.get("OID") == "CL.adverse_event.related")
        return [i.get("CodedValue") for i in codelist.iter(f"{ODM}CodeListItem")]

    assert "not-assessable" not in codes("MDV.1.0")
    assert codes("MDV.1.1")[-1] == codes("MDV.1.0.every-version")[-1] == "not-assessable"
    location = next(loc for loc in root.iter(f"{ODM}Location") if loc.get("OID") == "LOC.pumch")
    assert [(r.get("MetaDataVersionOID"), r.get("EffectiveDate")) for r in location.iter(f"{ODM}MetaDataVersionRef")
            ] == [("MDV.1.0", "2020-03-16"), ("MDV.1.1", (today + dt.timedelta(days=2)).isoformat())]


def test_changed_and_dropped_fields_are_checked_in_the_protocol():
    later = dt.date(2020, 6, 1)
    assert validate_text(_changed(later), "demo.yaml").valid

    def problems(changes: str) -> dict[str, str]:
        return {p.field: p.message for p in validate_text(_changed(later, changes), "demo.yaml").errors}

    found = problems("\n      - {change: change-field, form: clinical_status, field: spo3, range: [40, 100]}")
    assert found["amendments[0].changes[0].field"].startswith("form clinical_status has no field 'spo3'")
    found = problems("\n      - {change: change-field, form: clinical_status, field: spo2, range: [100, 40]}")
    assert found["amendments[0].changes[0].range"] == "range must be [low, high] with low < high"
    found = problems("\n      - {change: change-field, form: clinical_status, field: spo2, choices: [a, b]}")
    assert found["amendments[0].changes[0].choices"] == "choices apply to choice fields, not number"
    found = problems("\n      - {change: change-field, form: clinical_status, field: spo2, type: integer}")
    assert "amendments[0].changes[0].type" in found
    found = problems("\n      - {change: change-field, form: clinical_status, field: spo2}")
    assert "changes at least one of" in found["amendments[0].changes[0]"]
    found = problems("\n      - {change: drop-field, form: clinical_status, field: who_score}")
    assert found["amendments[0].changes[0].field"] == ("outcome who_day28 reads clinical_status.who_score: it "
                                                       "cannot be dropped")
    messages = [p.message for p in validate_text(_changed(later, "\n      - {change: drop-field, form: outcome, "
                                                         "field: died}"), "demo.yaml").errors]
    assert "field 'death_date' of form outcome reads 'died' (asked_if): drop or change it first" in messages
    found = problems("\n      - {change: drop-field, form: outcome, field: death_date}")
    assert "takes its dates from form outcome" in found["amendments[0].changes[0].field"]
    found = problems("\n      - {change: change-field, form: outcome, field: died, label: Dead at day 28}")
    assert found == {}
    # Skip logic that reads a changed field must still name values it can take.
    device = DEMO.read_text() + """
amendments:
  - version: "1.1"
    effective_date: 2020-06-01
    summary: Oxygen device and flow.
    changes:
      - {change: add-field, form: clinical_status, field: {id: device, label: Oxygen device, type: choice,
         choices: [none, nasal, mask], required: false}}
      - {change: add-field, form: clinical_status, field: {id: flow, label: Oxygen flow, type: number, unit: L/min,
         required: false, asked_if: {field: device, equals: mask}}}
  - version: "1.2"
    effective_date: 2020-07-01
    summary: Masks no longer used.
    changes:
      - {change: change-field, form: clinical_status, field: device, choices: [none, nasal]}
"""
    found = {p.field: p.message for p in validate_text(device, "demo.yaml").errors}
    assert found["amendments[1].changes[0]"] == ("field 'flow' is asked if device == mask: not a choice of "
                                                 "'device' (none, nasal)")
    found = problems("\n      - {change: drop-field, form: adverse_event, field: onset_date}")
    assert "reads 'onset_date' (not_before)" in found["amendments[0].changes[0].field"]


VACCINATED = "{id: vaccinated, label: Vaccinated against COVID-19, type: boolean, required: false}"


def test_an_enrolment_field_added_by_amendment_is_asked_of_patients_enrolled_from_its_date(world: World):
    today = site_date()
    trial = world.trial(_amended(today + dt.timedelta(days=2), VACCINATED, form="enrolment"))
    early = trial.post("/patients", "coord", {"site_id": "pumch", "values": demo_values(today, vaccinated=True)})
    assert early.status_code == 422
    assert early.json()["errors"]["vaccinated"].startswith("unknown enrolment field")
    before = trial.enrol()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with world.at(later):
        after = trial.post("/patients", "coord", {"site_id": "pumch", "values": demo_values(
            site_date(later), vaccinated=True)})
        assert after.status_code == 201, after.text
        assert after.json()["protocol_version"] == "1.1"
        refused = trial.post("/patients", "coord", {"site_id": "pumch", "values": demo_values(
            site_date(later), vaccinated="yes")})
        assert "Vaccinated against COVID-19: must be yes (true) or no (false)" in refused.json()["errors"]["vaccinated"]
    files = zipfile.ZipFile(io.BytesIO(trial.get("/export?format=csv", "monitor").content))
    patients = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(files.read("patients.csv").decode()))}
    assert (patients[f"P-{before:06d}"]["vaccinated"], patients[f"P-{after.json()['id']:06d}"]["vaccinated"]) == (
        "", "true")
    versions = list(csv.DictReader(io.StringIO(files.read("field_versions.csv").decode())))
    assert [(v["form"], v["protocol_version"], v["change"]) for v in versions if v["field"] == "vaccinated"] == [
        ("enrolment", "1.1", "added")]
    assert ("enrolment", "age", "1.0", "defined") in {(v["form"], v["field"], v["protocol_version"], v["change"])
                                                      for v in versions}


def test_an_added_enrolment_field_is_checked_in_the_protocol():
    later = dt.date(2020, 6, 1)
    assert validate_text(_amended(later, VACCINATED, form="enrolment"), "demo.yaml").valid
    required = VACCINATED.replace("required: false", "required: true")
    problems = {p.field: p.message for p in validate_text(_amended(later, required, form="enrolment"),
                                                          "demo.yaml").errors}
    assert "must be optional" in problems["amendments[0].changes[0].field.required"]
    age = VACCINATED.replace("id: vaccinated", "id: age")
    problems = {p.field: p.message for p in validate_text(_amended(later, age, form="enrolment"), "demo.yaml").errors}
    assert "has a field 'age' already" in problems["amendments[0].changes[0].field.id"]
    clash = DEMO.read_text().replace("  - id: imaging\n", "  - id: enrolment\n", 1)
    problems = {p.field: p.message for p in validate_text(clash, "demo.yaml").errors}
    assert "names the enrolment form" in problems["forms[1].id"]

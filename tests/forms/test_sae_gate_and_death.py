"""The coordinator's schedule: the serious adverse event log is asked only after "any serious adverse event since
the last visit? yes" (a form's asked_if, REDCap's form display logic), and a patient who died is off study with
only the outcome forms still expected."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

from equipoise.protocol import validate_text
from tests.forms.conftest import Trial, World, days_ago, site_date
from tests.store.support import DEMO

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
GATE = "    asked_if: {form: sae_check, field: any_sae, equals: true}  # the log is expected only after a yes\n"


def _states(trial: Trial, pid: int) -> dict[tuple[str, str], str]:
    schedule = trial.get(f"/patients/{pid}/schedule", "coord").json()
    return {(f["form_id"], f["visit_id"]): f["state"] for f in schedule["forms"]}


def test_the_demo_protocol_gates_the_serious_adverse_event_log():
    assert GATE in DEMO.read_text()


def test_a_no_means_the_log_is_not_needed_and_a_yes_that_it_is_due(world: World, trial: Trial):
    with world.at(days_ago(9)):
        pid = trial.patient()
    assert _states(trial, pid)[("adverse_event", "day3")] == "conditional"
    assert _states(trial, pid)[("sae_check", "day3")] == "overdue"
    no = trial.put(trial.form(pid, "sae_check", "day3"), "coord", {"values": {"any_sae": False}})
    assert no.status_code == 200, no.text
    assert _states(trial, pid)[("adverse_event", "day3")] == "not-needed"
    yes = trial.put(trial.form(pid, "sae_check", "day7"), "coord", {"values": {"any_sae": True}})
    assert yes.status_code == 200, yes.text
    assert _states(trial, pid)[("adverse_event", "day7")] == "overdue"  # day 9: its window closed on day 8
    tracking = trial.get("/tracking", "coord").json()["sites"]["pumch"]
    assert tracking["not-needed"] >= 1
    assert tracking["conditional"] >= 1


def test_a_form_condition_is_checked_in_the_protocol():
    text = DEMO.read_text()
    for condition, where, message in (
            ("{form: imaging, field: ct_improved, equals: true}", "form", "is not asked at visit(s) day3, day7"),
            ("{form: vitals, field: any_sae, equals: true}", "form", "'vitals' is not another form"),
            ("{form: sae_check, field: nothing, equals: true}", "field", "has no field 'nothing'"),
            ("{form: sae_check, field: any_sae, equals: maybe}", "equals", "compare it with true or false")):
        changed = text.replace(GATE, f"    asked_if: {condition}\n")
        problems = {p.field: p.message for p in validate_text(changed, "demo.yaml").errors}
        assert message in problems[f"forms[5].asked_if.{where}"], problems


def test_death_takes_the_patient_off_study_but_the_outcome_forms_stay_expected(world: World, trial: Trial):
    with world.at(days_ago(20)):
        pid = trial.patient()
    died = site_date(days_ago(15)).isoformat()  # day 5
    recorded = trial.post(f"/patients/{pid}/off-study", "coord",
                          {"kind": "died", "effective_date": died, "reason": "died of respiratory failure"})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["data_after_date"] == "accepted"
    states = _states(trial, pid)
    assert states[("clinical_status", "day7")] == "off-study"
    assert states[("sae_check", "day14")] == "off-study"
    assert states[("infusion", "day3")] == "overdue"  # its window opened before the death
    assert states[("clinical_status", "day28")] == "upcoming"  # WHO level 10 at day 28: still expected
    assert states[("outcome", "day28")] == "upcoming"
    listed = trial.get(f"/patients/{pid}/off-study", "coord").json()
    assert listed["kind"] == "died"


def test_the_form_condition_is_in_the_odm_metadata(trial: Trial):
    response = trial.get("/export", "monitor", params={"format": "odm"})
    assert response.status_code == 200, response.text
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(response.content)).read("odm.xml"))
    refs = [r for r in root.iter(f"{ODM}FormRef") if r.get("FormOID") == "F.adverse_event"]
    assert refs
    assert {(r.get("Mandatory"), r.get("CollectionExceptionConditionOID")) for r in refs} == {
        ("No", "COND.adverse_event")}
    condition = next(c for c in root.iter(f"{ODM}ConditionDef") if c.get("OID") == "COND.adverse_event")
    assert condition.findtext(f"{ODM}FormalExpression") == "not (sae_check.any_sae == true)"

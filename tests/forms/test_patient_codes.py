"""The coordinator's API: every route that takes a patient takes the code printed on every screen and export
(P-000121) as well as the number (121), through one resolver; the enrolment form has a JSON Schema like the
other forms."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from equipoise.store.models import patient_code, patient_number
from tests.forms.conftest import Trial, demo_values


def test_the_resolver_takes_a_code_or_a_number_and_refuses_anything_else():
    assert [patient_number(x) for x in ("P-000121", "p-121", "121", 121, " P-000007 ")] == [121, 121, 121, 121, 7]
    assert patient_number(patient_code(42)) == 42
    for bad in ("P-", "Q-000121", "P-12a", "0", "P-000000", "-3", "P-99999999999", "١٢", True):
        with pytest.raises(ValueError, match="patient code"):
            patient_number(bad)


def test_routes_take_the_patient_code_wherever_they_take_the_number(trial: Trial):
    pid = trial.patient()
    code = patient_code(pid)
    assert trial.get(f"/patients/{code}", "coord").json()["id"] == pid
    assert trial.get(f"/patients/{code}/schedule", "coord").json() == trial.get(f"/patients/{pid}/schedule",
                                                                                "coord").json()
    saved = trial.put(f"/patients/{code}/forms/clinical_status/baseline", "coord", {
        "values": {"assessment_date": demo_values()["symptom_onset"], "who_score": 5}})
    assert saved.status_code in (200, 201), saved.text
    assert trial.get(f"/patients/{pid}/forms/clinical_status/baseline", "coord").json()["values"]["who_score"] == 5
    query = trial.post("/queries", "monitor", {"patient_id": code, "form_id": "clinical_status",
                                               "visit_id": "baseline", "field_id": "who_score", "text": "Source?"})
    assert query.status_code == 201, query.text
    assert [q["patient_id"] for q in trial.get("/queries", "monitor", params={"patient_id": code}).json()] == [pid]
    audit = trial.world.client.get("/api/audit", headers=trial.h("monitor"),
                                   params={"trial_id": trial.id, "patient_id": code})
    assert audit.status_code == 200, audit.text
    assert audit.json()
    wrong = trial.get("/patients/PX-12/schedule", "coord")
    assert wrong.status_code == 422
    assert "is not a patient code (P-000121) or number (121)" in wrong.text
    assert trial.get("/patients/P-999999/schedule", "coord").status_code == 404


def test_the_openapi_document_says_a_patient_is_a_code_or_a_number(trial: Trial):
    document = trial.world.client.get("/openapi.json").json()
    parameters = document["paths"]["/api/trials/{trial_id}/patients/{patient_id}/schedule"]["get"]["parameters"]
    [patient] = [p for p in parameters if p["name"] == "patient_id"]
    kinds = {option["type"] for option in patient["schema"]["anyOf"]}
    assert kinds == {"integer", "string"}


def test_the_enrolment_form_has_a_json_schema(trial: Trial):
    response = trial.get("/forms/enrolment/schema", "coord", params={"site_id": "pumch"})
    assert response.status_code == 200, response.text
    schema = response.json()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    values = demo_values()
    assert not list(validator.iter_errors(values))
    assert schema["properties"]["severity"]["enum"] == ["mild", "severe", "critical"]
    assert "age" in schema["required"]
    assert list(validator.iter_errors({**values, "age": 130}))  # the server refuses it too
    assert trial.post("/patients", "coord", {"site_id": "pumch", "values": {**values, "age": 130}}).status_code == 422
    missing = trial.get("/forms/vitals/schema", "coord")
    assert missing.status_code == 404
    assert "(forms: enrolment, clinical_status" in missing.json()["detail"]

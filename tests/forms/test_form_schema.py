"""EDC-2: each form's edit checks as JSON Schema, so a client runs the same field checks as the server before it
sends; checked against the server itself, on chosen cases and on random values (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from equipoise.errors import InvalidError
from equipoise.protocol import validate_text
from equipoise.protocol.form_schema import form_json_schema
from equipoise.services.crf_values import DateContext, check_values, require_complete
from tests.forms.conftest import Trial, World, site_date
from tests.store.support import DEMO


def _schema(trial: Trial, form: str, **params: Any) -> dict[str, Any]:
    response = trial.get(f"/forms/{form}/schema", "coord", params={"site_id": "pumch", **params})
    assert response.status_code == 200, response.text
    schema: dict[str, Any] = response.json()
    Draft202012Validator.check_schema(schema)
    return schema


def test_edc2_a_forms_schema_holds_its_types_ranges_choices_required_fields_and_skip_logic(trial: Trial):
    status = _schema(trial, "clinical_status")
    assert status["additionalProperties"] is False
    assert status["required"] == ["assessment_date", "who_score"]
    assert status["properties"]["who_score"]["enum"] == list(range(11))
    assert (status["properties"]["spo2"]["minimum"], status["properties"]["spo2"]["maximum"]) == (50, 100)
    assert status["properties"]["spo2"]["x-unit"] == "%"
    outcome = _schema(trial, "outcome")
    assert outcome["required"] == ["died"]  # the date of death is asked only of patients who died
    [condition] = outcome["allOf"]
    assert condition == {"if": {"properties": {"died": {"enum": [True]}}, "required": ["died"]},
                         "then": {"required": ["death_date"]}, "else": {"not": {"required": ["death_date"]}}}
    missing = trial.get("/forms/vitals/schema", "coord")
    assert missing.status_code == 404
    assert "has no form 'vitals'" in missing.json()["detail"]
    assert trial.get("/forms/outcome/schema", "coord", params={"site_id": "mars"}).status_code == 422


def test_edc2_the_schema_of_each_protocol_version(world: World):
    today = site_date()
    amended = DEMO.read_text() + f"""
amendments:
  - version: "1.1"
    effective_date: {(today + dt.timedelta(days=2)).isoformat()}
    summary: SpO2 on room air from 40%.
    changes:
      - {{change: change-field, form: clinical_status, field: spo2, range: [40, 100]}}
"""
    trial = world.trial(amended)
    assert _schema(trial, "clinical_status")["properties"]["spo2"]["minimum"] == 50
    later = _schema(trial, "clinical_status", on=(today + dt.timedelta(days=3)).isoformat())
    assert (later["properties"]["spo2"]["minimum"], later["title"]) == (40, "Clinical status (protocol version 1.1)")


def _server_accepts(form_id: str, values: dict[str, Any]) -> bool:
    """The server's own checks of a save (``FormService.save`` runs these): every field, then completeness."""
    protocol = validate_text(DEMO.read_text(), "demo.yaml").protocol
    assert protocol is not None
    form, visit = protocol.form(form_id), next(v for v in protocol.visits if v.id == "day28")
    assert form is not None
    today = site_date()
    try:
        require_complete(form, check_values(form, visit, values, DateContext(today, "pumch",
                                                                               today - dt.timedelta(days=28))))
    except InvalidError:
        return False
    return True


def _client_accepts(form_id: str, values: dict[str, Any]) -> bool:
    protocol = validate_text(DEMO.read_text(), "demo.yaml").protocol
    assert protocol is not None
    form = protocol.form(form_id)
    assert form is not None
    return bool(Draft202012Validator(form_json_schema(form, "1.0")).is_valid(values))


ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-5, 130), st.floats(-5, 130, allow_nan=False),
                      st.sampled_from(["", "5", "abc", "2020-01-01"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=ANY_VALUE, spo2=ANY_VALUE, rate=ANY_VALUE, extra=st.booleans())
def test_edc2_client_and_server_agree_on_random_clinical_values(who: Any, spo2: Any, rate: Any, extra: bool):
    values = {"assessment_date": site_date().isoformat(), "who_score": who, "spo2": spo2, "resp_rate": rate}
    values = {k: v for k, v in values.items() if v is not None and v != ""}  # an empty field is left out
    if extra:
        values["ferritin"] = 900  # not a field of the form
    assert _client_accepts("clinical_status", values) == _server_accepts("clinical_status", values), values


@settings(max_examples=150, deadline=None)
@given(died=st.one_of(st.none(), st.booleans(), st.integers(0, 1)), death=st.booleans(),
       discharge=st.booleans())
def test_edc2_client_and_server_agree_on_skip_logic(died: Any, death: bool, discharge: bool):
    day = (site_date() - dt.timedelta(days=5)).isoformat()
    values = {"died": died, "death_date": day if death else None, "discharge_date": day if discharge else None}
    values = {k: v for k, v in values.items() if v is not None}
    assert _client_accepts("outcome", values) == _server_accepts("outcome", values), values

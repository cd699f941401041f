"""The text policy on every way free text comes in: form values, reasons, query messages, off-study notes.

A 1 MB value or a control character saved by one site coordinator made every whole-trial export and the
committee's report fail (issue 14); the API now refuses them with a 422 naming the field, and normalises line
ends, through the same checks the command line's services use.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from equipoise.errors import InvalidError
from equipoise.protocol.text_policy import MAX_TEXT_LENGTH, checked_text, normalised_text, text_problem
from equipoise.services.free_text import clean_text
from equipoise.store.models import Patient
from tests.forms.conftest import Trial, World, demo_values
from tests.store.support import DEMO


def _infusion(trial: Trial, world: World, pid: int, kit_code: str, **extra: Any) -> Any:
    return trial.put(trial.form(pid, "infusion", "baseline"), "coord", {"values": {
        "infusion_date": world.today().isoformat(), "kit_code": kit_code, "completed": True}, **extra})


@pytest.mark.parametrize("bad", ["kit\x01", "bell\x07", "nul\x00", "esc\x1b[31m", "del\x7f", "c1\x85",
                                 "not a char\ufffe"])
def test_a_control_character_in_a_text_field_is_refused_next_to_the_field(world: World, trial: Trial, bad: str):
    pid = trial.patient()
    response = _infusion(trial, world, pid, bad)
    assert response.status_code == 422, response.text
    body = response.json()
    assert "kit_code" in body["errors"]
    assert "control character" in body["errors"]["kit_code"]
    assert "Kit code infused" in body["errors"]["kit_code"]


def test_a_text_longer_than_the_limit_is_refused_and_one_at_the_limit_is_saved(world: World, trial: Trial):
    pid = trial.patient()
    response = _infusion(trial, world, pid, "x" * 1_000_000)
    assert response.status_code == 422, response.text
    assert f"at most {MAX_TEXT_LENGTH:,}" in response.json()["errors"]["kit_code"]
    ok = _infusion(trial, world, pid, "x" * MAX_TEXT_LENGTH)
    assert ok.status_code in (200, 201), ok.text


def test_line_ends_are_normalised_and_tabs_and_new_lines_kept(world: World, trial: Trial):
    pid = trial.patient()
    response = _infusion(trial, world, pid, "line one\r\nline two\rline three\n\tindented")
    assert response.status_code in (200, 201), response.text
    saved = trial.get(trial.form(pid, "infusion", "baseline"), "coord").json()["values"]["kit_code"]
    assert saved == "line one\nline two\nline three\n\tindented"


def test_reasons_query_messages_and_off_study_notes_follow_the_policy(world: World, trial: Trial):
    pid = trial.patient()
    assert _infusion(trial, world, pid, "K-1").status_code in (200, 201)
    changed = _infusion(trial, world, pid, "K-2", reason="typo\x07")
    assert changed.status_code == 422, changed.text
    assert "reason" in changed.json()["detail"]
    assert "control character" in changed.json()["detail"]
    query = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "infusion", "visit_id": "baseline",
                                               "text": "Which kit?\x1b"})
    assert query.status_code == 422, query.text
    assert "text" in query.json()["detail"]
    qid = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "infusion", "visit_id": "baseline",
                                             "text": "Which kit?\r\nPlease check."}).json()["id"]
    answer = trial.post(f"/queries/{qid}/answer", "coord", {"text": "x" * 5000})
    assert answer.status_code == 422, answer.text
    off = trial.post(f"/patients/{pid}/off-study", "investigator", {
        "kind": "lost-to-follow-up", "effective_date": world.today().isoformat(), "reason": "moved\x00away"})
    assert off.status_code == 422, off.text
    assert "reason" in off.json()["detail"]
    messages = trial.get(f"/queries/{qid}", "monitor").json()["messages"]
    assert messages[0]["text"] == "Which kit?\nPlease check."


def test_the_policy_itself():
    assert text_problem("tab\tand\nnew line") is None
    assert text_problem("\r") is None
    assert normalised_text("a\r\nb\rc") == "a\nb\nc"
    assert text_problem("\x01") is not None
    assert "U+0001" in (text_problem("\x01") or "")
    assert text_problem("\ud800") is not None
    assert text_problem("x" * 11, limit=10) is not None
    with pytest.raises(ValueError, match="control character"):
        checked_text("\x07")
    with pytest.raises(InvalidError, match="a reason contains the control character U\\+0007"):
        clean_text("beep\x07", "a reason")
    assert clean_text("  why\r\n  ", "a reason") == "why"


def test_a_patient_whose_stored_text_predates_the_policy_is_still_randomized(world: World):
    """An older database may hold an enrolment text the policy now refuses: the patient is still randomized
    (the stored values are not re-checked as new input), while new input with that text is refused."""
    text = DEMO.read_text().replace(
        "    - {id: age, label: Age, type: integer, unit: years, range: [0, 120]}\n",
        "    - {id: age, label: Age, type: integer, unit: years, range: [0, 120]}\n"
        "    - {id: initials, label: Initials, type: text, required: false}\n", 1)
    trial = world.trial(text)
    refused = trial.post("/patients", "coord", {"site_id": "pumch", "values": {
        **demo_values(world.today()), "initials": "A\x01B"}})
    assert refused.status_code == 422, refused.text
    assert "initials" in refused.json()["errors"]
    pid = trial.enrol(initials="AB")
    with world.db.write() as s:
        patient = s.scalar(select(Patient).where(Patient.id == pid))
        assert patient is not None
        patient.enrolment_values = {**patient.enrolment_values, "initials": "A\x01B" + "x" * 20_000}
    trial.randomize(pid)

"""AUD-4: a change after the first save needs a reason, picked from a list, written, or both; the trail keeps
the list's label with the words, so a reviewer can count changes by kind and still read why."""

from __future__ import annotations

from tests.forms.conftest import Trial, site_date

VALUES = {"assessment_date": site_date().isoformat(), "who_score": 5, "spo2": 93}


def _reasons(trial: Trial, record_id: int) -> list[str | None]:
    entries = trial.world.client.get("/api/audit", params={"trial_id": trial.id, "table": "form_records",
                                                           "record_id": str(record_id)},
                                     headers=trial.h("admin")).json()
    return [e["reason"] for e in entries if e["action"] == "update"]


def test_a_change_takes_a_reason_from_the_list_with_or_without_words(trial: Trial):
    pid = trial.patient()
    form = trial.form(pid, "clinical_status", "baseline")
    record = trial.put(form, "coord", {"values": VALUES}).json()["id"]
    nothing = trial.patch(form, "coord", {"values": {"who_score": 6}})
    assert nothing.status_code == 422
    assert "a reason for the change is required" in nothing.json()["detail"]
    other = trial.patch(form, "coord", {"values": {"who_score": 6}, "reason_code": "other"})
    assert (other.status_code, other.json()["detail"]) == (422, "reason_code 'other' needs the reason in words "
                                                                "(reason)")
    unknown = trial.patch(form, "coord", {"values": {"who_score": 6}, "reason_code": "because"})
    assert unknown.status_code == 422
    assert trial.patch(form, "coord", {"values": {"who_score": 6}, "reason_code": "transcription-error",
                                       "reason": "typed 6 for 5 from the chart"}).status_code == 200
    assert trial.patch(form, "coord", {"values": {"who_score": 7}, "reason_code": "query-response"}).status_code == 200
    assert trial.patch(form, "coord", {"values": {"who_score": 5}, "reason": "re-read"}).status_code == 200
    assert _reasons(trial, record) == ["Transcription error from the source document: typed 6 for 5 from the chart",
                                       "Answer to a query", "re-read"]
    # Enrolment corrections take the same list.
    corrected = trial.patch(f"/patients/{pid}", "coord", {"values": {"age": 55}, "reason_code": "source-corrected"})
    assert corrected.status_code == 200, corrected.text
    enrolment = trial.world.client.get("/api/audit", params={"trial_id": trial.id, "table": "patients",
                                                             "record_id": str(pid)}, headers=trial.h("admin")).json()
    assert enrolment[-1]["reason"] == "Source document corrected or updated"

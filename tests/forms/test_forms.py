"""Case report forms through the API, on SQLite and PostgreSQL: validation, reasons for change, history,
visits and tracking, queries, locks.

EDC-2 (server-side edit checks, query workflow), EDC-3 (locks), AUD-4 (reason for every change after the
first save, with old and new values in the audit trail), ICH E6(R3) §4.2.2.
"""

from __future__ import annotations

import datetime as dt

from tests.forms.conftest import Trial, World, days_ago, site_date

TODAY = site_date()


def _clinical(day: dt.date | None = None, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {"assessment_date": (day or TODAY).isoformat(), "who_score": 5, "spo2": 94,
                                 "resp_rate": 22}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_edc2_every_bad_field_is_refused_with_its_own_clear_reason(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "clinical_status", "baseline")
    response = trial.put(url, "coord", {"values": {"assessment_date": "25/11/2026", "who_score": 11, "spo2": 120,
                                                   "resp_rate": "twenty", "pulse": 80}})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["assessment_date"] == "Date of assessment: '25/11/2026' is not a date (YYYY-MM-DD)"
    assert errors["who_score"] == ("WHO clinical progression scale: must be a level of the WHO clinical progression "
                                   "scale: 0 to 10")
    assert errors["spo2"] == "Oxygen saturation: 120 % is outside the allowed range 50 to 100 %"
    assert errors["resp_rate"] == "Respiratory rate: must be a whole number"
    assert errors["pulse"].startswith("unknown field of form clinical_status")
    assert response.json()["detail"].endswith("(and 4 more)")
    # Choices, booleans and required fields, on another form.
    response = trial.put(trial.form(pid, "adverse_event", "day3"), "coord",
                         {"values": {"onset_date": TODAY.isoformat(), "related": "maybe", "severity_grade": 2.5}})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["related"] == ("Relationship to infusion: must be one of: unrelated, unlikely, possible, probable, "
                                 "definite")
    assert errors["severity_grade"] == "CTCAE grade: must be a whole number"
    response = trial.put(trial.form(pid, "adverse_event", "day3"), "coord",
                         {"values": {"onset_date": TODAY.isoformat(), "related": "possible", "severity_grade": 3}})
    assert response.status_code == 422
    assert response.json()["missing"] == ["description"]
    assert "required fields are empty: description (Description)" in response.json()["detail"]
    assert "\"incomplete\": true" in response.json()["detail"]


def test_edc2_dates_in_order_not_in_the_future_not_before_randomization(world: World, trial: Trial):
    with world.at(days_ago(10)):
        pid = trial.patient()
    randomized = site_date(days_ago(10))
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    response = trial.put(trial.form(pid, "clinical_status", "day7"), "coord", {"values": _clinical(
        dt.date.fromisoformat(future))})
    assert response.json()["errors"]["assessment_date"].startswith(f"Date of assessment: {future} is in the future "
                                                                   f"(today is {TODAY.isoformat()} at site pumch)")
    before = (randomized - dt.timedelta(days=1)).isoformat()
    response = trial.put(trial.form(pid, "clinical_status", "day7"), "coord",
                         {"values": _clinical(dt.date.fromisoformat(before))})
    assert response.json()["errors"]["assessment_date"] == (
        f"Date of assessment: {before} is before the randomization date ({randomized.isoformat()}); visit day7 is "
        "day 7 after randomization")
    # At baseline (day 0) a screening assessment the day before randomization is allowed.
    response = trial.put(trial.form(pid, "clinical_status", "baseline"), "coord",
                         {"values": _clinical(dt.date.fromisoformat(before))})
    assert response.status_code == 200, response.text
    onset, resolved = (randomized + dt.timedelta(days=5)), (randomized + dt.timedelta(days=4))
    response = trial.put(trial.form(pid, "adverse_event", "day7"), "coord", {"values": {
        "onset_date": onset.isoformat(), "resolved_date": resolved.isoformat(), "description": "rash",
        "severity_grade": 2, "related": "possible"}})
    assert response.json()["errors"] == {
        "resolved_date": f"Resolution date: {resolved.isoformat()} is before Onset date ({onset.isoformat()})"}


def test_aud4_changes_need_a_reason_and_the_trail_keeps_old_and_new_values(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "clinical_status", "baseline")
    first = trial.put(url, "coord", {"values": _clinical()})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.json()["values"]["spo2"] == 94.0
    same = trial.put(url, "coord", {"values": _clinical()})
    assert same.json()["changed"] is False
    assert same.json()["version"] == 1
    no_reason = trial.put(url, "coord", {"values": _clinical(who_score=6)})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"].startswith("a reason for the change is required")
    changed = trial.put(url, "coord", {"values": _clinical(who_score=6), "reason": "transcription error"})
    assert changed.status_code == 200
    assert (changed.json()["version"], changed.json()["values"]["who_score"]) == (2, 6)
    patched = trial.patch(url, "investigator", {"values": {"resp_rate": None}, "reason": "not measured",
                                                "expected_version": 2})
    assert patched.status_code == 200, patched.text
    assert "resp_rate" not in patched.json()["values"]
    stale = trial.patch(url, "coord", {"values": {"spo2": 95}, "reason": "x", "expected_version": 2})
    assert stale.status_code == 409
    assert "saved by someone else" in stale.json()["detail"]
    audit = trial.world.client.get("/api/audit", params={"trial_id": trial.id, "table": "form_records"},
                                   headers=trial.h("monitor")).json()
    update = next(e for e in audit if e["action"] == "update" and e["reason"] == "transcription error")
    assert update["old_values"]["field_values"]["who_score"] == 5
    assert update["new_values"]["field_values"]["who_score"] == 6
    assert update["actor"] == "coord"
    assert update["protocol_version"] == "1.0"
    history = trial.get(f"{url}/history", "monitor").json()
    assert [(h["action"], h["field"], h["old"], h["new"], h["reason"]) for h in history if h["action"] != "insert"] == [
        ("update", "who_score", 5, 6, "transcription error"), ("remove", "resp_rate", 22, None, "not measured")]
    assert {h["user"] for h in history} == {"coord", "investigator"}


def test_incomplete_forms_and_forms_not_done(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "infusion", "baseline")
    saved = trial.put(url, "coord", {"values": {"infusion_date": TODAY.isoformat()}, "incomplete": True})
    assert saved.status_code == 200, saved.text
    assert saved.json()["status"] == "incomplete"
    completed = trial.put(url, "coord", {"values": {"infusion_date": TODAY.isoformat(), "kit_code": "MSC-ABCDE-FGHJK",
                                                    "completed": True}, "reason": "rest of the form entered"})
    assert completed.json()["status"] == "complete"
    missing_reason = trial.post(trial.form(pid, "imaging", "baseline") + "/not-done", "coord", {"reason": " "})
    assert missing_reason.status_code == 422
    not_done = trial.post(trial.form(pid, "imaging", "baseline") + "/not-done", "coord",
                          {"reason": "CT scanner unavailable"})
    assert not_done.status_code == 200
    assert (not_done.json()["status"], not_done.json()["not_done_reason"]) == ("not-done", "CT scanner unavailable")
    schedule = trial.get(f"/patients/{pid}/schedule", "coord").json()
    states = {(f["form_id"], f["visit_id"]): f["state"] for f in schedule["forms"]}
    assert states[("infusion", "baseline")] == "complete"
    assert states[("imaging", "baseline")] == "not-done"
    assert states[("clinical_status", "baseline")] == "due"
    assert states[("outcome", "day28")] == "upcoming"


def test_later_visits_wait_for_randomization(trial: Trial):
    pid = trial.enrol()
    response = trial.put(trial.form(pid, "clinical_status", "day7"), "coord", {"values": _clinical()})
    assert response.status_code == 409
    assert "is not randomized yet" in response.json()["detail"]
    assert trial.put(trial.form(pid, "clinical_status", "baseline"), "coord",
                     {"values": _clinical()}).status_code == 200
    states = {f["visit_id"]: f["state"] for f in trial.get(f"/patients/{pid}/schedule", "coord").json()["forms"]
              if f["form_id"] == "clinical_status"}
    assert states == {"baseline": "complete", "day3": "awaiting-randomization", "day7": "awaiting-randomization",
                      "day14": "awaiting-randomization", "day28": "awaiting-randomization"}


def test_unknown_forms_and_visits_are_named(trial: Trial):
    pid = trial.patient()
    response = trial.put(trial.form(pid, "vitals", "baseline"), "coord", {"values": {}})
    assert response.status_code == 404
    assert response.json()["detail"].startswith(f"trial {trial.id} has no form 'vitals' (forms: clinical_status")
    response = trial.put(trial.form(pid, "outcome", "day7"), "coord", {"values": {}})
    assert response.json()["detail"] == "form outcome is not collected at visit 'day7' (its visits: day28)"


def test_visits_windows_and_overdue_forms_per_patient_and_site(world: World, trial: Trial):
    with world.at(days_ago(16)):
        late = trial.patient()
        milan = trial.patient("coord_milan", "milan-sacco")
    fresh = trial.patient()
    trial.put(trial.form(late, "clinical_status", "baseline"), "coord", {"values": _clinical(site_date(days_ago(16)))})
    trial.post(trial.form(late, "infusion", "day3") + "/not-done", "coord", {"reason": "infusion postponed"})
    schedule = trial.get(f"/patients/{late}/schedule", "coord").json()
    assert schedule["day0"] == site_date(days_ago(16)).isoformat()
    day7 = next(f for f in schedule["forms"] if f["form_id"] == "clinical_status" and f["visit_id"] == "day7")
    assert (day7["target"], day7["opens"], day7["closes"]) == (
        site_date(days_ago(9)).isoformat(), site_date(days_ago(10)).isoformat(), site_date(days_ago(8)).isoformat())
    assert (day7["state"], day7["late"]) == ("overdue", True)
    day14 = next(f for f in schedule["forms"] if f["form_id"] == "clinical_status" and f["visit_id"] == "day14")
    assert day14["state"] == "due"  # window [-2, 2] around day 14: open on day 16
    assert schedule["counts"]["overdue"] == 6  # baseline imaging, infusion; day3 clinical, AE; day7 clinical, AE
    report = trial.get("/tracking", "monitor").json()
    assert set(report["sites"]) == {"pumch", "milan-sacco"}
    assert report["sites"]["pumch"]["patients"] == 2
    assert report["sites"]["pumch"]["overdue"] == 6
    assert report["sites"]["milan-sacco"]["overdue"] == 8  # nothing entered: 3 + 3 + 2 forms of baseline, day3, day7
    overdue = [(o["patient_id"], o["visit_id"], o["form_id"]) for o in report["overdue"]]
    assert (late, "day7", "clinical_status") in overdue
    assert all(pid != fresh for pid, _v, _f in overdue)
    assert report["overdue"][0]["days_overdue"] >= report["overdue"][-1]["days_overdue"]
    # the overdue list is paged (limit, default 100, and offset); the counts by site cover every patient
    assert (report["overdue_total"], report["limit"], report["offset"]) == (14, 100, 0)
    pages = [trial.get("/tracking", "monitor", params={"limit": 5, "offset": k}).json() for k in (0, 5, 10)]
    assert [len(p["overdue"]) for p in pages] == [5, 5, 4]
    assert [o for p in pages for o in p["overdue"]] == report["overdue"]
    assert pages[2]["sites"] == report["sites"]
    assert trial.get("/tracking", "monitor", params={"limit": 0}).status_code == 422
    own = trial.get("/tracking", "coord_milan").json()
    assert set(own["sites"]) == {"milan-sacco"}
    assert {o["patient_id"] for o in own["overdue"]} == {milan}
    assert trial.get("/tracking", "coord_milan", params={"site_id": "pumch"}).status_code == 403


def test_edc2_query_lifecycle_open_answered_reopened_closed(trial: Trial):
    pid = trial.patient()
    trial.put(trial.form(pid, "clinical_status", "baseline"), "coord", {"values": _clinical()})
    body = {"patient_id": pid, "form_id": "clinical_status", "visit_id": "baseline", "field_id": "spo2",
            "text": "SpO2 94% on room air? Source says 91%."}
    assert trial.post("/queries", "coord", body).status_code == 403
    assert trial.post("/queries", "monitor", {**body, "field_id": "pulse"}).status_code == 422
    raised = trial.post("/queries", "monitor", body)
    assert raised.status_code == 201, raised.text
    qid = raised.json()["id"]
    assert raised.json()["status"] == "open"
    assert trial.post(f"/queries/{qid}/close", "coord", {"text": "done"}).status_code == 403
    assert trial.post(f"/queries/{qid}/answer", "coord_milan", {"text": "?"}).status_code == 404
    answered = trial.post(f"/queries/{qid}/answer", "coord", {"text": "Checked: 94% was on 2 L oxygen."})
    assert answered.json()["status"] == "answered"
    again = trial.post(f"/queries/{qid}/answer", "coord", {"text": "again"})
    assert again.status_code == 409
    assert again.json()["detail"] == f"query {qid} is answered: only an open query can be answered"
    assert trial.post(f"/queries/{qid}/reopen", "monitor", {"text": "Then record oxygen."}).json()["status"] == "open"
    trial.post(f"/queries/{qid}/answer", "investigator", {"text": "Added to the notes."})
    closed = trial.post(f"/queries/{qid}/close", "monitor", {"text": "Resolved"})
    assert closed.json()["status"] == "closed"
    assert [m["kind"] for m in closed.json()["messages"]] == ["raised", "answered", "reopened", "answered", "closed"]
    assert closed.json()["messages"][1]["by"] == "coord"
    final = trial.post(f"/queries/{qid}/reopen", "monitor", {"text": "one more"})
    assert final.json()["detail"] == f"query {qid} is closed: a closed query stays closed (raise a new one)"
    assert [q["id"] for q in trial.get("/queries", "coord", params={"status": "closed"}).json()] == [qid]
    assert trial.get("/queries", "coord_milan").json() == []
    assert trial.get("/queries", "monitor", params={"status": "pending"}).status_code == 422
    audit = trial.world.client.get("/api/audit", params={"trial_id": trial.id, "table": "form_queries"},
                                   headers=trial.h("monitor")).json()
    assert [(e["action"], e["actor"], e["reason"]) for e in audit] == [
        ("insert", "monitor", "query raised"), ("update", "coord", "query answered"),
        ("update", "monitor", "query open"), ("update", "investigator", "query answered"),
        ("update", "monitor", "query closed")]


def test_edc3_locked_forms_and_casebooks_refuse_changes_until_unlocked_with_a_reason(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "clinical_status", "baseline")
    trial.put(url, "coord", {"values": _clinical()})
    qid = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "clinical_status",
                                             "visit_id": "baseline", "text": "check"}).json()["id"]
    refused = trial.post(f"{url}/lock", "monitor")
    assert refused.status_code == 409
    assert refused.json()["detail"] == ("form clinical_status at visit baseline has 1 unresolved query (id "
                                        f"{qid}): close them before locking")
    trial.post(f"/queries/{qid}/close", "monitor")
    assert trial.post(f"{url}/lock", "coord").status_code == 403
    locked = trial.post(f"{url}/lock", "monitor", {"reason": "source data verified"})
    assert locked.status_code == 200, locked.text
    assert (locked.json()["locked"], locked.json()["locked_by"]) == (True, "monitor")
    edit = trial.put(url, "coord", {"values": _clinical(who_score=6), "reason": "typo"})
    assert edit.status_code == 423
    assert edit.json()["detail"].startswith(f"form clinical_status at visit baseline of patient P-{pid:06d} is "
                                            "locked (by monitor at ")
    assert "must unlock it, with a reason" in edit.json()["detail"]
    assert trial.post(f"{url}/unlock", "monitor", {"reason": ""}).status_code == 422
    assert trial.post(f"{url}/unlock", "monitor", {"reason": "query from data management"}).status_code == 200
    assert trial.put(url, "coord", {"values": _clinical(who_score=6), "reason": "typo"}).status_code == 200
    # The whole casebook: forms, new forms and enrolment corrections are refused.
    assert trial.post(f"/patients/{pid}/lock", "monitor").json()["locked"] is True
    assert trial.post(f"/patients/{pid}/lock", "monitor").status_code == 409
    assert trial.put(url, "coord", {"values": _clinical(who_score=7), "reason": "x"}).status_code == 423
    new_form = trial.put(trial.form(pid, "imaging", "baseline"), "coord", {"values": {"ct_date": TODAY.isoformat()}})
    assert new_form.status_code == 423
    assert "casebook is locked" in new_form.json()["detail"]
    correction = trial.patch(f"/patients/{pid}", "coord", {"values": {"age": 55}, "reason": "typo"})
    assert correction.status_code == 423
    assert trial.post(f"/patients/{pid}/unlock", "coord", {"reason": "x"}).status_code == 403
    assert trial.post(f"/patients/{pid}/unlock", "monitor", {"reason": "late lab result"}).json()["locked"] is False
    assert trial.patch(f"/patients/{pid}", "coord", {"values": {"age": 55}, "reason": "typo"}).status_code == 200
    audit = trial.world.client.get("/api/audit", params={"trial_id": trial.id, "table": "patient_locks"},
                                   headers=trial.h("monitor")).json()
    assert [(e["action"], e["reason"]) for e in audit] == [("insert", "casebook locked"),
                                                           ("update", "late lab result")]


def test_site_scoping_of_forms(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "clinical_status", "baseline")
    assert trial.put(url, "coord_milan", {"values": _clinical()}).status_code == 404
    assert trial.put(url, "monitor", {"values": _clinical()}).status_code == 403
    assert trial.put(url, "coord", {"values": _clinical()}).status_code == 200
    assert trial.get(url, "coord_milan").status_code == 404
    for reader in ("monitor", "blinded_stat", "dmc", "investigator"):
        assert trial.get(url, reader).status_code == 200, reader
    assert trial.get(url, "admin").status_code == 403


def test_concurrent_first_saves_make_one_record_and_the_others_need_a_reason(world: World, trial: Trial):
    """The patient row is locked for every save, so racing first saves never collide on the unique key (no 500)."""
    import threading

    from equipoise.errors import ServiceError
    from equipoise.identity.principal import system_principal

    pid = trial.patient()
    outcomes: list[tuple[str, int]] = []
    start = threading.Barrier(4)

    def save(score: int) -> None:
        start.wait()
        try:
            world.crf.forms.save(system_principal("test"), trial.id, pid, "clinical_status", "baseline",
                                 _clinical(who_score=score))
            outcomes.append(("saved", score))
        except ServiceError as exc:
            outcomes.append((type(exc).__name__, exc.status))

    threads = [threading.Thread(target=save, args=(score,)) for score in (3, 4, 5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = [score for kind, score in outcomes if kind == "saved"]
    assert len(saved) == 1
    assert sorted(o for o in outcomes if o[0] != "saved") == [("InvalidError", 422)] * 3
    record = trial.get(trial.form(pid, "clinical_status", "baseline"), "monitor").json()
    assert (record["version"], record["values"]["who_score"]) == (1, saved[0])

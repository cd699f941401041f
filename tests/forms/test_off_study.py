"""Patients who leave the study early, through the API on SQLite and PostgreSQL: what the site records, what the
schedule, the tracking report, form entry, the audit trail and the exports do with it.

ICH E6(R3) §2.8.10 (a participant may withdraw at any time; data collected before stay), CONSORT 2010 item 13b.
"""

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import select

from equipoise.analyze.server_export import read_export
from equipoise.integrity.audit_verify import verify
from equipoise.services.trials import get_trial, protocol_of
from equipoise.store.models import AuditEntry
from tests.forms.conftest import Trial, World, days_ago, site_date


def _clinical(day: str) -> dict[str, object]:
    return {"values": {"assessment_date": day, "who_score": 5, "spo2": 94, "resp_rate": 22}}


def _states(trial: Trial, pid: int) -> dict[tuple[str, str], str]:
    schedule = trial.get(f"/patients/{pid}/schedule", "coord").json()
    return {(f["form_id"], f["visit_id"]): f["state"] for f in schedule["forms"]}


def test_withdrawal_of_consent_stops_the_schedule_and_refuses_later_data(world: World, trial: Trial):
    with world.at(days_ago(20)):
        pid = trial.patient()
    day3 = site_date(days_ago(17)).isoformat()
    assert trial.put(trial.form(pid, "clinical_status", "day3"), "coord", _clinical(day3)).status_code == 200
    assert _states(trial, pid)[("clinical_status", "day7")] == "overdue"
    left_on = site_date(days_ago(12)).isoformat()  # day 8: after the day-7 window closed, before day 14 opens
    body = {"kind": "withdrew-consent", "effective_date": left_on, "reason": "patient asked to stop all visits"}
    recorded = trial.post(f"/patients/{pid}/off-study", "coord", body)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["data_after_date"] == "refused"
    states = _states(trial, pid)
    assert states[("clinical_status", "day3")] == "complete"  # data collected before withdrawal stay
    assert states[("clinical_status", "day7")] == "overdue"  # its window closed before the withdrawal
    assert states[("clinical_status", "day14")] == "off-study"
    assert states[("clinical_status", "day28")] == "off-study"
    schedule = trial.get(f"/patients/{pid}/schedule", "coord").json()
    assert schedule["off_study"]["kind"] == "withdrew-consent"
    assert schedule["counts"]["off-study"] >= 2
    assert not any(f["late"] for f in schedule["forms"] if f["state"] == "off-study")
    refused = trial.put(trial.form(pid, "clinical_status", "day14"), "coord",
                        _clinical(site_date(days_ago(6)).isoformat()))
    assert refused.status_code == 409
    assert "withdrew consent on " + left_on in refused.json()["detail"]
    day7 = _clinical(site_date(days_ago(13)).isoformat())
    late_day7 = trial.put(trial.form(pid, "clinical_status", "day7"), "coord", day7)
    assert late_day7.status_code == 200, late_day7.text  # a visit before the withdrawal may still be entered
    tracking = trial.get("/tracking", "monitor").json()["sites"]["pumch"]
    assert tracking["patients_off_study"] == 1
    assert tracking["off-study"] == schedule["counts"]["off-study"]
    assert trial.post(f"/patients/{pid}/off-study", "coord", body).status_code == 409  # once only


def test_lost_to_follow_up_accepts_data_if_the_patient_reappears_and_cancel_needs_a_reason(world: World, trial: Trial):
    with world.at(days_ago(20)):
        pid = trial.patient()
    body = {"kind": "lost-to-follow-up", "effective_date": site_date(days_ago(12)).isoformat(),
            "reason": "no answer to three calls"}
    assert trial.post(f"/patients/{pid}/off-study", "coord", body).status_code == 201
    assert _states(trial, pid)[("clinical_status", "day14")] == "off-study"
    back = trial.put(trial.form(pid, "clinical_status", "day14"), "coord",
                     _clinical(site_date(days_ago(5)).isoformat()))
    assert back.status_code == 200, back.text
    assert _states(trial, pid)[("clinical_status", "day14")] == "complete"
    assert trial.post(f"/patients/{pid}/off-study/cancel", "coord", {"reason": ""}).status_code == 422
    cancelled = trial.post(f"/patients/{pid}/off-study/cancel", "coord", {"reason": "patient came back on day 15"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled"]["kind"] == "lost-to-follow-up"
    assert trial.get(f"/patients/{pid}/off-study", "coord").status_code == 404
    assert _states(trial, pid)[("clinical_status", "day28")] in {"upcoming", "due"}
    with world.db.read() as s:
        trail = s.execute(select(AuditEntry.action, AuditEntry.reason).where(AuditEntry.table_name == "off_study",
                                                                             AuditEntry.trial_id == trial.id)
                          .order_by(AuditEntry.id)).all()
    assert [tuple(e) for e in trail] == [("insert", "no answer to three calls"),
                                         ("delete", "patient came back on day 15")]
    assert verify(world.db).ok


def test_bad_off_study_records_are_refused_with_the_reason(world: World, trial: Trial):
    with world.at(days_ago(5)):
        pid = trial.patient()
    future = site_date(days_ago(-2)).isoformat()
    before = site_date(days_ago(9)).isoformat()
    cases = [
        ({"kind": "moved-away", "effective_date": before, "reason": "x"}, 422, "kind"),
        ({"kind": "withdrew-consent", "effective_date": future, "reason": "x"}, 422, "in the future"),
        ({"kind": "withdrew-consent", "effective_date": before, "reason": "x"}, 422, "before the enrolment"),
        ({"kind": "withdrew-consent", "effective_date": site_date(days_ago(1)).isoformat(), "reason": " "}, 422,
         "reason"),
    ]
    for body, status, words in cases:
        response = trial.post(f"/patients/{pid}/off-study", "coord", body)
        assert response.status_code == status, (body, response.text)
        assert words in str(response.json()["detail"]), response.text
    ok = {"kind": "investigator-decision", "effective_date": site_date(days_ago(1)).isoformat(), "reason": "safety"}
    assert trial.post(f"/patients/{pid}/off-study", "coord_milan", ok).status_code == 404  # another site's patient
    assert trial.post(f"/patients/{pid}/off-study", "monitor", ok).status_code == 403
    assert trial.post(f"/patients/{pid}/off-study", "investigator", ok).status_code == 201
    assert trial.get(f"/patients/{pid}/off-study", "monitor").json()["kind"] == "investigator-decision"


def test_exports_list_patients_off_study_and_the_analysis_counts_them(world: World, trial: Trial):
    with world.at(days_ago(20)):
        gone, lost, stays = trial.patient(), trial.patient(), trial.patient()
    for pid, kind in ((gone, "withdrew-consent"), (lost, "lost-to-follow-up")):
        body = {"kind": kind, "effective_date": site_date(days_ago(10)).isoformat(), "reason": f"{kind} reason"}
        assert trial.post(f"/patients/{pid}/off-study", "coord", body).status_code == 201
    export = trial.get("/export", "unblinded_stat", params={"format": "csv", "unblinded": True})
    assert export.status_code == 200, export.text
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    files = archive.namelist()
    name = next(n for n in files if n.endswith("off_study.csv"))
    rows = list(csv.DictReader(io.StringIO(archive.read(name).decode())))
    assert {(r["kind"], r["site"]) for r in rows} == {("withdrew-consent", "pumch"), ("lost-to-follow-up", "pumch")}
    dictionary = archive.read(next(n for n in files if n.endswith("data_dictionary.csv"))).decode()
    assert "off_study.csv" in dictionary
    with world.db.read() as s:
        protocol = protocol_of(get_trial(s, trial.id))
    data = read_export({n.rsplit("/", 1)[-1]: archive.read(n) for n in files}, protocol)
    codes = {pid: f"P-{pid:06d}" for pid in (gone, lost, stays)}
    by_code = data.patients.set_index("patient_id")
    flags = {pid: (int(by_code.at[code, "withdrew"]), int(by_code.at[code, "lost_to_follow_up"]))  # type: ignore[arg-type]
             for pid, code in codes.items()}
    assert flags == {gone: (1, 0), lost: (0, 1), stays: (0, 0)}

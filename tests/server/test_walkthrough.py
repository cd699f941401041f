"""The scripted walk through the API of issue 5, as each role, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD

BASE = f"/api/trials/{TRIAL}"


def enrol(api: Api, user: str = "coord", site: str = "pumch", **changes: object):
    return api.client.post(f"{BASE}/patients", json={"site_id": site, "values": eligible(**changes)},
                           headers=api.headers(user))


def test_rnd3_eligible_patient_is_enrolled_and_randomized_with_a_kit_code_only(api: Api):
    response = enrol(api)
    assert response.status_code == 201, response.text
    patient = response.json()
    assert patient["status"] == "enrolled"
    assert patient["protocol_version"] == "1.0"
    response = api.client.post(f"{BASE}/patients/{patient['id']}/randomize",
                               headers=api.headers("coord", **{"Idempotency-Key": "k1"}))
    assert response.status_code == 201, response.text
    allocation = response.json()
    assert allocation["arm"] is None
    assert allocation["arm_name"] is None
    assert allocation["kit_code"].startswith("MSC-")
    assert allocation["protocol_version"] == "1.0"
    # The unblinded statistician sees the arm of the same allocation.
    seen = api.client.get(f"{BASE}/patients/{patient['id']}/allocation", headers=api.headers("unblinded_stat"))
    assert seen.status_code == 200
    assert seen.json()["arm"] in {"msc", "placebo"}
    assert seen.json()["kit_code"] == allocation["kit_code"]


def test_rnd3_ineligible_patient_gets_failed_criteria_and_is_not_enrolled(api: Api):
    response = enrol(api, age=16, consent=False)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("not eligible")
    assert {c["id"] for c in body["failed"]} == {"adult", "consent"}
    patients = api.client.get(f"{BASE}/patients", headers=api.headers("coord")).json()
    assert patients == []
    audit = api.client.get("/api/audit", params={"trial_id": TRIAL}, headers=api.headers("admin")).json()
    assert any(e["action"] == "enrolment.refused" for e in audit)


def test_rnd3_eligibility_is_checked_again_at_randomization(api: Api):
    """A correction between enrolment and randomization that makes the patient ineligible stops the
    randomization (the two-step path; enrol-and-randomize checks both at once)."""
    pid = enrol(api).json()["id"]
    corrected = api.client.patch(f"{BASE}/patients/{pid}", json={"values": {"consent": False},
                                                                 "reason": "consent form was not signed"},
                                 headers=api.headers("coord"))
    assert corrected.status_code == 200, corrected.text
    refused = api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers("coord", **{
        "Idempotency-Key": "after-correction"}))
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(f"patient P-{pid:06d} is not eligible now")
    assert [c["id"] for c in refused.json()["failed"]] == ["consent"]
    assert api.client.get(f"{BASE}/allocations", headers=api.headers("unblinded_stat")).json() == []
    # Corrected back (it was signed after all): randomized.
    api.client.patch(f"{BASE}/patients/{pid}", json={"values": {"consent": True}, "reason": "signed form found"},
                     headers=api.headers("coord"))
    assert api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers("coord", **{
        "Idempotency-Key": "after-second-correction"})).status_code == 201


def test_rnd3_missing_factor_and_bad_values_are_refused_with_reasons(api: Api):
    response = enrol(api, severity=None)
    assert response.status_code == 422
    assert "severity" in response.json()["detail"]
    response = enrol(api, age=130, sex="other")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "outside the allowed range" in errors["age"]
    assert "must be one of" in errors["sex"]


def test_rnd2_retry_with_same_key_returns_same_allocation(api: Api):
    patient = enrol(api).json()
    url = f"{BASE}/patients/{patient['id']}/randomize"
    first = api.client.post(url, headers=api.headers("coord", **{"Idempotency-Key": "retry-1"}))
    second = api.client.post(url, headers=api.headers("coord", **{"Idempotency-Key": "retry-1"}))
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["allocation_id"] == first.json()["allocation_id"]
    assert second.json()["kit_code"] == first.json()["kit_code"]
    assert second.json()["replayed"] is True
    other = api.client.post(url, headers=api.headers("coord", **{"Idempotency-Key": "retry-2"}))
    assert other.status_code == 409
    assert "already randomized" in other.json()["detail"]


def test_rnd4_correcting_a_factor_raises_a_discrepancy_and_never_changes_the_allocation(api: Api):
    patient = enrol(api).json()
    url = f"{BASE}/patients/{patient['id']}"
    api.client.post(f"{url}/randomize", headers=api.headers("coord", **{"Idempotency-Key": "d1"}))
    before = api.client.get(f"{url}/allocation", headers=api.headers("unblinded_stat")).json()
    no_reason = api.client.patch(url, json={"values": {"severity": "critical"}, "reason": ""},
                                 headers=api.headers("coord"))
    assert no_reason.status_code == 422
    response = api.client.patch(url, json={"values": {"severity": "critical"}, "reason": "typo at entry"},
                                headers=api.headers("coord"))
    assert response.status_code == 200, response.text
    assert response.json()["patient"]["values"]["severity"] == "critical"
    [raised] = response.json()["discrepancies"]
    assert raised["frozen"] == "severe"
    assert raised["corrected"] == "critical"
    after = api.client.get(f"{url}/allocation", headers=api.headers("unblinded_stat")).json()
    assert after == before
    assert after["factors"]["severity"] == "severe"
    listed = api.client.get(f"{BASE}/discrepancies", headers=api.headers("monitor")).json()
    assert [d["field"] for d in listed] == ["severity"]


def test_unb1_emergency_unblinding_one_patient_reason_password_audit_and_notification(api: Api):
    patient = enrol(api).json()
    pid = patient["id"]
    api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers("coord", **{"Idempotency-Key": "u1"}))
    url = f"{BASE}/patients/{pid}/emergency-unblind"
    assert api.client.post(url, json={"reason": "anaphylaxis", "password": PASSWORD},
                           headers=api.headers("coord")).status_code == 403
    wrong = api.client.post(url, json={"reason": "anaphylaxis", "password": "wrong password"},
                            headers=api.headers("investigator"))
    assert wrong.status_code == 401
    response = api.client.post(url, json={"reason": "anaphylaxis", "password": PASSWORD},
                               headers=api.headers("investigator"))
    assert response.status_code == 200, response.text
    assert response.json()["arm"] in {"msc", "placebo"}
    notes = api.client.get(f"{BASE}/notifications", headers=api.headers("unblinded_stat")).json()
    assert len(notes) == 1
    assert "anaphylaxis" in notes[0]["message"]
    assert notes[0]["patient_id"] == pid
    assert api.client.get(f"{BASE}/notifications", headers=api.headers("coord")).status_code == 403
    audit = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "unblindings"},
                           headers=api.headers("admin")).json()
    assert audit[0]["reason"] == "anaphylaxis"
    assert audit[0]["actor"] == "investigator"
    # The coordinator still sees no arm: emergency unblinding reveals one patient to the investigator only.
    assert api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("coord")).json()["arm"] is None


def test_aud_verify_after_a_walkthrough_is_clean(api: Api):
    for key in ("a", "b", "c"):
        patient = enrol(api).json()
        api.client.post(f"{BASE}/patients/{patient['id']}/randomize",
                        headers=api.headers("coord", **{"Idempotency-Key": key}))
    report = api.client.get("/api/audit/verify", headers=api.headers("admin")).json()
    assert report["ok"], [f["message"] for f in report["findings"]]
    assert report["entries"] > 10
    replay = api.client.get(f"{BASE}/replay", headers=api.headers("unblinded_stat")).json()
    assert replay["identical"]
    assert replay["allocations"] == 3


def test_aud5_aud7_logins_and_logouts_are_audited_and_the_trail_filters_by_user_action_and_time(api: Api):
    import datetime as dt

    start = dt.datetime.now(dt.UTC)  # after the fixture logged everyone in
    token = api.client.post("/api/auth/login", json={"username": "coord", "password": PASSWORD}).json()["token"]
    assert api.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    patient = enrol(api).json()
    url, admin = "/api/audit", api.headers("admin")
    mine = api.client.get(url, params={"actor": "coord", "since": start.isoformat()}, headers=admin).json()
    assert [e["action"] for e in mine] == ["login", "logout", "insert"]
    assert mine[2]["record_id"] == str(patient["id"])
    logouts = api.client.get(url, params={"action": "logout"}, headers=admin).json()
    assert [e["actor"] for e in logouts] == ["coord"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert api.client.get(url, params={"since": later.isoformat()}, headers=admin).json() == []
    before = api.client.get(url, params={"actor": "coord", "until": start.isoformat()}, headers=admin).json()
    assert all(e["at"] < start.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for e in before)
    assert api.client.get(url, params={"since": "yesterday"}, headers=admin).status_code == 422


def test_aud7_one_subjects_whole_history(api: Api):
    pid = enrol(api).json()["id"]
    other = enrol(api).json()["id"]
    api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers("coord", **{"Idempotency-Key": "h1"}))
    api.client.patch(f"{BASE}/patients/{pid}", json={"values": {"age": 55}, "reason": "typo in age"},
                     headers=api.headers("coord"))
    api.client.post(f"{BASE}/patients/{pid}/emergency-unblind", json={"reason": "anaphylaxis", "password": PASSWORD},
                    headers=api.headers("investigator"))
    history = api.client.get("/api/audit", params={"trial_id": TRIAL, "patient_id": pid},
                             headers=api.headers("monitor")).json()
    tables = [e["table"] for e in history]
    assert tables.count("patients") >= 3  # enrolled, randomized, corrected
    assert {"allocations", "unblindings", "notifications"} <= set(tables)
    records = {(e["table"], e["record_id"]) for e in history}
    assert ("patients", str(other)) not in records
    assert [e["id"] for e in history] == sorted(e["id"] for e in history)
    assert any(e["reason"] == "typo in age" for e in history)
    # paged with after_id, two entries at a time: the same history (the patient's ids are found first, issue 18)
    paged: list[int] = []
    while page := api.client.get("/api/audit", params={"trial_id": TRIAL, "patient_id": pid, "limit": 2,
                                                       "after_id": paged[-1] if paged else 0},
                                 headers=api.headers("monitor")).json():
        paged += [e["id"] for e in page]
    assert paged == [e["id"] for e in history]
    assert api.client.get("/api/audit", params={"trial_id": TRIAL, "patient_id": 0},
                          headers=api.headers("monitor")).status_code == 422


def test_secrets_never_reach_the_logs(api: Api, caplog):
    """RND-8/RND-13: arms, draws and states are never logged, whatever the log level."""
    import logging

    with caplog.at_level(logging.DEBUG):
        patient = enrol(api).json()
        api.client.post(f"{BASE}/patients/{patient['id']}/randomize",
                        headers=api.headers("coord", **{"Idempotency-Key": "log"}))
        api.client.post(f"{BASE}/patients/999999/randomize", headers=api.headers("coord", **{"Idempotency-Key": "x"}))
    with api.db.read() as s:
        from sqlalchemy import select

        from equipoise.store.models import Allocation

        row = s.scalars(select(Allocation)).one()
    text = caplog.text
    assert repr(row.draws[0]) not in text
    assert f"'{row.arm}'" not in text
    assert "state_after" not in text

"""EDC-3: the database lock before the final analysis: refused while queries are open, then nothing is entered
or changed until it is unlocked with a reason; emergency unblinding still works; both steps audited."""

from __future__ import annotations

from sqlalchemy import select

from equipoise.store.models import AuditEntry
from equipoise.store.verify import verify
from tests.forms.conftest import Trial, World, demo_values, site_date
from tests.store.support import PASSWORD


def _clinical() -> dict[str, object]:
    today = site_date().isoformat()
    return {"values": {"assessment_date": today, "who_score": 5, "spo2": 94, "resp_rate": 22}}


def test_database_lock_freezes_the_trial_until_unlocked(world: World, trial: Trial):
    pid = trial.patient()
    waiting = trial.enrol()  # enrolled before the lock, not yet randomized
    form = trial.form(pid, "clinical_status", "baseline")
    assert trial.put(form, "coord", _clinical()).status_code == 200
    query = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "clinical_status",
                                               "visit_id": "baseline", "field_id": "spo2", "text": "SpO2 source?"})
    assert query.status_code == 201
    lock = {"reason": "last patient's day-28 data cleaned; final analysis", "password": PASSWORD}
    assert trial.post("/database-lock", "coord", lock).status_code == 403
    assert trial.post("/database-lock", "monitor", {**lock, "password": "wrong password"}).status_code == 401
    refused = trial.post("/database-lock", "monitor", lock)
    assert refused.status_code == 409
    assert "not closed" in refused.json()["detail"]
    assert trial.post(f"/queries/{query.json()['id']}/close", "monitor", {"text": "checked"}).status_code == 200
    locked = trial.post("/database-lock", "monitor", lock)
    assert locked.status_code == 200, locked.text
    assert locked.json()["status"] == "locked"
    assert trial.get("", "coord").json()["locked_at"] == locked.json()["locked_at"]
    assert trial.post("/database-lock", "monitor", lock).status_code == 409  # once
    # Nothing goes in: enrolment, randomization, forms, corrections, off-study, queries, signatures.
    refusals = {
        "enrol": trial.post("/patients", "coord", {"site_id": "pumch", "values": demo_values()}),
        "randomize": world.client.post(f"{trial.base}/patients/{waiting}/randomize",
                                       headers=trial.h("coord", **{"Idempotency-Key": "after-lock"})),
        "form": trial.put(form, "coord", _clinical()),
        "correction": trial.patch(f"/patients/{pid}", "coord", {"values": {"age": 55}, "reason": "typo"}),
        "off-study": trial.post(f"/patients/{pid}/off-study", "coord", {
            "kind": "lost-to-follow-up", "effective_date": site_date().isoformat(),
            "reason": "no answer"}),
        "query": trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "clinical_status",
                                                    "visit_id": "baseline", "text": "again?"}),
        "sign": trial.post(f"/patients/{pid}/sign", "investigator", {"meaning": "approval", "password": PASSWORD,
                                                                      "username": "investigator"}),
    }
    for what, response in refusals.items():
        assert response.status_code == 423, (what, response.status_code, response.text)
        assert "locked" in response.json()["detail"], what
    # A patient's safety does not wait: emergency unblinding still works.
    unblinded = trial.post(f"/patients/{pid}/emergency-unblind", "investigator",
                           {"reason": "anaphylaxis", "password": PASSWORD})
    assert unblinded.status_code == 200, unblinded.text
    # Unlock with a reason; entry works again; both steps are in the trail with their reasons.
    assert trial.post("/database-unlock", "monitor", {"reason": "", "password": PASSWORD}).status_code == 422
    unlocked = trial.post("/database-unlock", "monitor", {"reason": "late lab values found", "password": PASSWORD})
    assert unlocked.status_code == 200
    assert unlocked.json()["status"] == "active"
    assert trial.put(form, "coord", {**_clinical(), "reason": "late lab values"}).status_code == 200
    with world.db.read() as s:
        reasons = list(s.scalars(select(AuditEntry.reason).where(AuditEntry.table_name == "trials",
                                                                 AuditEntry.record_id == trial.id)))
    assert "last patient's day-28 data cleaned; final analysis" in reasons
    assert "late lab values found" in reasons
    assert verify(world.db).ok

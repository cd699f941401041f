"""EDC-3: the database lock before the final analysis: refused while queries are open, then nothing is entered
or changed until it is unlocked with a reason; emergency unblinding still works; both steps audited."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from equipoise.integrity.audit_verify import verify
from equipoise.protocol import validate_text
from equipoise.store.models import AuditEntry
from tests.forms.conftest import Trial, World, demo_values, site_date
from tests.store.support import DEMO, PASSWORD


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
    # A retry of a randomization made before the lock changes nothing: the site that lost the answer gets it.
    retry = world.client.post(f"{trial.base}/patients/{pid}/randomize",
                              headers=trial.h("coord", **{"Idempotency-Key": f"{trial.id}-{pid}"}))
    assert (retry.status_code, retry.json()["replayed"]) == (200, True)
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


def test_ret1_records_are_kept_the_protocols_retention_years_from_the_database_lock(world: World):
    text = DEMO.read_text().replace("  blinding: double-blind\n", "  blinding: double-blind\n  retention_years: 30\n",
                                    1)
    assert "retention_years: 30" in text
    trial = world.trial(text)
    before = trial.get("", "monitor").json()
    assert (before["retention_years"], before["retain_until"]) == (30, None)  # it runs from the lock
    lock = {"reason": "final analysis", "password": PASSWORD}
    locked = trial.post("/database-lock", "monitor", lock)
    assert locked.status_code == 200, locked.text
    day = dt.datetime.fromisoformat(locked.json()["locked_at"].replace("Z", "+00:00")).date()
    kept = day.replace(year=day.year + 30, day=28 if (day.month, day.day) == (2, 29) else day.day).isoformat()
    assert locked.json()["retain_until"] == kept
    assert trial.get("", "coord").json()["retain_until"] == kept
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(trial.get("/export?format=csv", "monitor").content))
                          .read("manifest.json"))
    assert manifest["retention"] == {"years": 30, "from": "database lock", "retain_until": kept}
    unlocked = trial.post("/database-unlock", "monitor", {"reason": "late query", "password": PASSWORD})
    assert unlocked.json()["retain_until"] is None


def test_ret1_the_retention_period_is_checked_in_the_protocol():
    def problems(years: int) -> list[tuple[str, str, str]]:
        text = DEMO.read_text().replace("  blinding: double-blind\n", f"  blinding: double-blind\n  retention_years: "
                                        f"{years}\n", 1)
        return [(p.field, p.severity.value, p.message) for p in validate_text(text, "demo.yaml").problems]

    assert not [p for p in problems(25) if p[0] == "trial.retention_years"]
    assert ("trial.retention_years", "warning", "10 years is shorter than the 25 years the EU Clinical Trials "
            "Regulation (536/2014, Art. 58) asks of a trial run in the EU") in problems(10)
    _field, severity, message = next(p for p in problems(1) if p[0] == "trial.retention_years")
    assert (severity, message) == ("error", "must be >= 2 (got 1)")

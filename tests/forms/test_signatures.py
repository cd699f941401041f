"""Electronic signatures (21 CFR 11.50, 11.70, 11.200; SIG-1..3) and the audit trail of the form tables.

Tamper tests change a form value or a signature directly in the database, behind the application: ``audit
verify`` names the record and the column, and the signature shows as invalidated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from equipoise.integrity.audit_verify import verify
from equipoise.store.crf_models import FormRecord, Signature
from equipoise.store.db import Database
from tests.forms.conftest import Trial, World, make_world, site_date
from tests.store.support import PASSWORD

TODAY = site_date()
CLINICAL = {"assessment_date": TODAY.isoformat(), "who_score": 5, "spo2": 94}


def _signed_form(trial: Trial) -> tuple[int, str, dict[str, Any]]:
    pid = trial.patient()
    url = trial.form(pid, "clinical_status", "baseline")
    assert trial.put(url, "coord", {"values": CLINICAL}).status_code == 200
    signed = trial.post(f"{url}/sign", "investigator", {"meaning": "approval", "password": PASSWORD,
                                                        "username": "investigator"})
    assert signed.status_code == 201, signed.text
    return pid, url, dict(signed.json())


def test_sig1_sig3_signature_shows_name_utc_time_meaning_and_needs_both_components_first(world: World):
    # A fresh session: the investigator logs in again, so no signature has been made in it yet.
    token = world.client.post("/api/auth/login", json={"username": "investigator", "password": PASSWORD}).json()
    trial = world.trial()
    headers = {"Authorization": f"Bearer {token['token']}"}
    pid = trial.patient()
    url = f"{trial.base}{trial.form(pid, 'clinical_status', 'baseline')}/sign"
    trial.put(trial.form(pid, "clinical_status", "baseline"), "coord", {"values": CLINICAL})
    body = {"meaning": "approval", "password": PASSWORD}
    first = world.client.post(url, json=body, headers=headers)
    assert first.status_code == 401
    assert "needs your user name and password (21 CFR 11.200(a)(1))" in first.json()["detail"]
    other = world.client.post(url, json={**body, "username": "coord"}, headers=headers)
    assert other.status_code == 401
    assert "only the owner of an account can sign with it" in other.json()["detail"]
    wrong = world.client.post(url, json={**body, "username": "investigator", "password": "not my password"},
                              headers=headers)
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "re-authentication failed: wrong password")
    bad_meaning = world.client.post(url, json={**body, "meaning": "ok", "username": "investigator"}, headers=headers)
    assert bad_meaning.status_code == 422
    assert bad_meaning.json()["detail"] == "meaning must be one of: approval, review, responsibility, authorship " \
                                           "(21 CFR 11.50)"
    signed = world.client.post(url, json={**body, "username": "investigator"}, headers=headers)
    assert signed.status_code == 201, signed.text
    sig = signed.json()
    assert sig["printed_name"] == "Investigator (full name)"
    assert sig["meaning"] == "approval"
    assert sig["statement"] == "I approve the data in this record."
    assert sig["status"] == "valid"
    assert sig["signed_at"].endswith("Z")
    assert sig["manifestation"] == (f"Signed by Investigator (full name) (investigator) on "
                                    f"{sig['signed_at'][:10]} {sig['signed_at'][11:19]} UTC; meaning: approval")
    # Later signings in the same session: the password alone (11.200(a)(1)(ii)).
    review = world.client.post(url, json={"meaning": "review", "password": PASSWORD}, headers=headers)
    assert review.status_code == 201, review.text
    twice = world.client.post(url, json={"meaning": "review", "password": PASSWORD}, headers=headers)
    assert twice.status_code == 409
    shown = trial.get(trial.form(pid, "clinical_status", "baseline"), "monitor").json()
    assert [(s["meaning"], s["status"]) for s in shown["signatures"]] == [("approval", "valid"), ("review", "valid")]
    refusals = world.client.get("/api/audit", params={"trial_id": trial.id}, headers=trial.h("admin")).json()
    assert "signature.refused" in [e["action"] for e in refusals]
    signatures = [e for e in refusals if e["table"] == "signatures"]
    assert [(e["action"], e["actor"], e["reason"]) for e in signatures] == [
        ("insert", "investigator", "electronic signature (approval)"),
        ("insert", "investigator", "electronic signature (review)")]


def test_sig_only_investigators_of_the_site_sign_complete_forms(trial: Trial):
    pid = trial.patient()
    url = trial.form(pid, "infusion", "baseline")
    trial.put(url, "coord", {"values": {"infusion_date": TODAY.isoformat()}, "incomplete": True})
    body = {"meaning": "approval", "password": PASSWORD, "username": "investigator"}
    for user in ("coord", "monitor", "unblinded_stat", "coord_milan"):
        assert trial.post(f"{url}/sign", user, {**body, "username": user}).status_code == 403, user
    incomplete = trial.post(f"{url}/sign", "investigator", body)
    assert incomplete.status_code == 409
    assert incomplete.json()["detail"] == "only a complete form can be signed: form infusion at visit baseline is " \
                                          "incomplete"
    milan = trial.patient("coord_milan", "milan-sacco")
    assert trial.post(trial.form(milan, "infusion", "baseline") + "/sign", "investigator", body).status_code == 404


def test_sig2_a_later_edit_invalidates_the_signature_and_shows_who_and_why(trial: Trial):
    pid, url, sig = _signed_form(trial)
    edited = trial.put(url, "coord", {"values": {**CLINICAL, "who_score": 6}, "reason": "wrong level entered"})
    assert edited.json()["invalidated_signatures"] == [sig["id"]]
    [shown] = edited.json()["signatures"]
    assert shown["status"] == "invalidated"
    assert shown["invalidation"].startswith("invalidated by coord at ")
    assert shown["invalidation"].endswith("form changed by coord: wrong level entered")
    again = trial.post(f"{url}/sign", "investigator", {"meaning": "approval", "password": PASSWORD})
    assert again.status_code == 201
    assert again.json()["content_sha256"] != sig["content_sha256"]
    listed = trial.get(f"/patients/{pid}/signatures", "monitor").json()
    assert [s["status"] for s in listed] == ["invalidated", "valid"]


def test_edc3_unlocking_invalidates_signatures_visibly(trial: Trial):
    _pid, url, sig = _signed_form(trial)
    assert trial.post(f"{url}/lock", "monitor").status_code == 200
    unlocked = trial.post(f"{url}/unlock", "monitor", {"reason": "late correction from the site"})
    assert unlocked.json()["invalidated_signatures"] == [sig["id"]]
    [shown] = trial.get(url, "coord").json()["signatures"]
    assert shown["invalidation"].endswith("form unlocked by monitor: late correction from the site")


def test_casebook_signature_covers_every_form_and_a_new_form_invalidates_it(trial: Trial):
    pid, _url, _sig = _signed_form(trial)
    casebook = trial.post(f"/patients/{pid}/sign", "investigator", {"meaning": "responsibility",
                                                                    "password": PASSWORD})
    assert casebook.status_code == 201, casebook.text
    assert (casebook.json()["scope"], casebook.json()["form_id"]) == ("casebook", None)
    added = trial.put(trial.form(pid, "imaging", "baseline"), "coord", {"values": {"ct_date": TODAY.isoformat()}})
    assert added.json()["invalidated_signatures"] == [casebook.json()["id"]]
    listed = {s["scope"]: s for s in trial.get(f"/patients/{pid}/signatures", "investigator").json()}
    assert listed["form"]["status"] == "valid"  # the baseline form itself did not change
    assert listed["casebook"]["status"] == "invalidated"
    assert "form imaging at visit baseline added by coord" in listed["casebook"]["invalidation"]


def test_aud_the_form_tables_verify_after_a_full_walk(world: World, trial: Trial):
    pid, url, _sig = _signed_form(trial)
    trial.put(url, "coord", {"values": {**CLINICAL, "spo2": 93}, "reason": "source"})
    qid = trial.post("/queries", "monitor", {"patient_id": pid, "form_id": "clinical_status",
                                             "visit_id": "baseline", "text": "?"}).json()["id"]
    trial.post(f"/queries/{qid}/close", "monitor")
    trial.post(f"/patients/{pid}/lock", "monitor")
    report = verify(world.db)
    assert report.ok, str(report)
    with world.db.read() as s:
        assert s.scalar(select(FormRecord.version).where(FormRecord.patient_id == pid)) == 2


# --- tamper tests: each on its own database -----------------------------------------------------------------------

@pytest.fixture
def fresh(db_url: str) -> Iterator[World]:
    yield from make_world(db_url)


def _tamper(db: Database, sql: str, **params: object) -> None:
    with db.write_engine.begin() as conn:
        conn.execute(text(sql), params)


def _json_param(db: Database) -> str:
    return "CAST(:v AS json)" if db.dialect == "postgresql" else ":v"


def test_tamper_a_form_value_changed_in_the_database_is_named_and_voids_the_signature(fresh: World):
    trial = fresh.trial()
    _pid, url, sig = _signed_form(trial)
    with fresh.db.read() as s:
        record = s.scalars(select(FormRecord)).one()
    forged = json.dumps({**record.field_values, "who_score": 2})
    _tamper(fresh.db, f"UPDATE form_records SET field_values = {_json_param(fresh.db)} WHERE id = :id", v=forged,
            id=record.id)
    report = verify(fresh.db)
    [finding] = report.findings
    assert (finding.table, finding.record_id) == ("form_records", str(record.id))
    assert "differs from the replay of its history in field_values" in finding.message
    [shown] = trial.get(url, "monitor").json()["signatures"]
    assert shown["id"] == sig["id"]
    assert (shown["status"], shown["invalidation"]) == ("invalidated",
                                                        "the signed content has changed since it was signed")


def test_tamper_a_signature_changed_in_the_database_is_named_and_shows_broken(fresh: World):
    trial = fresh.trial()
    _pid, url, sig = _signed_form(trial)
    _tamper(fresh.db, "UPDATE signatures SET meaning = 'review' WHERE id = :id", id=sig["id"])
    report = verify(fresh.db)
    [finding] = report.findings
    assert (finding.table, finding.record_id) == ("signatures", str(sig["id"]))
    assert "meaning" in finding.message
    [shown] = trial.get(url, "monitor").json()["signatures"]
    assert shown["invalidation"] == "the signature record does not match its binding hash (it was altered)"
    # Copying a signature onto other content (11.70: not transferable) shows the same way.
    _tamper(fresh.db, "UPDATE signatures SET meaning = 'approval' WHERE id = :id", id=sig["id"])
    other = trial.patient()
    trial.put(trial.form(other, "clinical_status", "baseline"), "coord", {"values": CLINICAL})
    with fresh.db.read() as s:
        target = s.scalar(select(FormRecord.id).where(FormRecord.patient_id == other))
        original = s.scalars(select(Signature)).one()
    _tamper(fresh.db, "INSERT INTO signatures (trial_id, patient_id, form_record_id, scope, user_id, username, "
            "printed_name, meaning, signed_at, content_sha256, binding_sha256, session_id, status) SELECT trial_id, "
            ":pid, :rid, scope, user_id, username, printed_name, meaning, signed_at, content_sha256, binding_sha256, "
            "session_id, status FROM signatures WHERE id = :id", pid=other, rid=target, id=original.id)
    [copied] = trial.get(trial.form(other, "clinical_status", "baseline"), "monitor").json()["signatures"]
    assert copied["status"] == "invalidated"
    assert any("no audit history" in f.message and f.table == "signatures" for f in verify(fresh.db).findings)

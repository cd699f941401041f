"""RND-12: emergency envelopes for downtime: issued sealed by the unblinded statistician, opened offline by a
site, back-entered with when and why, reconciled, replayed against their envelope; arms stay concealed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import Counter
from typing import Any

from sqlalchemy import update

from equipoise.integrity.audit_verify import verify
from equipoise.services.replay import replay_trial
from equipoise.store.list_models import EmergencyEnvelope
from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD

BASE = f"/api/trials/{TRIAL}"
ENVELOPES = f"{BASE}/emergency-envelopes"


def _issue(api: Api, count: int, site: str = "pumch", user: str = "unblinded_stat", password: str = PASSWORD) -> Any:
    return api.client.post(ENVELOPES, json={"site_id": site, "count": count, "password": password},
                           headers=api.headers(user))


def _enrol(api: Api, user: str = "coord", site: str = "pumch") -> int:
    response = api.client.post(f"{BASE}/patients", json={"site_id": site, "values": eligible()},
                               headers=api.headers(user))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _offline(api: Api, pid: int, envelope: int, key: str, opened_at: str | None = None, user: str = "coord",
             reason: str = "hospital network down overnight") -> Any:
    opened = opened_at or dt.datetime.now(dt.UTC).isoformat()  # just now: after the envelopes were issued
    return api.client.post(f"{BASE}/patients/{pid}/randomize-offline",
                           json={"envelope": envelope, "opened_at": opened, "reason": reason},
                           headers=api.headers(user, **{"Idempotency-Key": key}))


def test_envelopes_are_issued_sealed_and_balanced(api: Api):
    assert _issue(api, 4, user="coord").status_code == 403
    assert _issue(api, 4, password="wrong password").status_code == 401
    assert _issue(api, 0).status_code == 422
    issued = _issue(api, 4)
    assert issued.status_code == 201, issued.text
    envelopes = issued.json()
    assert [e["number"] for e in envelopes] == [1, 2, 3, 4]
    assert all(e["kit_code"] and e["status"] == "sealed" for e in envelopes)
    counts = Counter(e["arm"] for e in envelopes)
    assert set(counts) <= {"msc", "placebo"}
    assert abs(counts["msc"] - counts["placebo"]) <= 2  # blocks of 2 or 4 at 1:1
    more = _issue(api, 2).json()
    assert [e["number"] for e in more] == [5, 6]
    # Sealed: the site sees numbers and kit codes, never an arm; another site sees nothing of them.
    seen = api.client.get(ENVELOPES, headers=api.headers("coord")).json()
    assert seen["sites"] == {"pumch": {"issued": 6, "used": 0, "sealed": 6}}
    assert all(e["arm"] is None for e in seen["envelopes"])
    assert api.client.get(ENVELOPES, headers=api.headers("coord_milan")).json()["envelopes"] == []
    assert all(e["arm"] is None for e in api.client.get(ENVELOPES, headers=api.headers("monitor")).json()["envelopes"])
    assert all(e["arm"] for e in api.client.get(ENVELOPES, headers=api.headers("unblinded_stat")).json()["envelopes"])
    assert api.client.get(ENVELOPES, headers=api.headers("admin")).status_code == 403


def test_back_entry_records_the_envelope_allocation_once_and_replay_checks_it(api: Api):
    envelopes = {e["number"]: e for e in _issue(api, 4).json()}
    pid = _enrol(api)
    entered = _offline(api, pid, 1, "off-1")
    assert entered.status_code == 201, entered.text
    allocation = entered.json()
    assert allocation["kit_code"] == envelopes[1]["kit_code"]
    assert allocation["arm"] is None  # the coordinator still sees the kit code only
    arm = api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("unblinded_stat")).json()["arm"]
    assert arm == envelopes[1]["arm"]
    retry = _offline(api, pid, 1, "off-1")
    assert retry.status_code == 200
    assert retry.json()["replayed"] is True
    assert retry.json()["allocation_id"] == allocation["allocation_id"]
    # One envelope, one patient; one patient, one allocation.
    other = _enrol(api)
    used = _offline(api, other, 1, "off-2")
    assert used.status_code == 409
    assert "already used" in used.json()["detail"]
    assert _offline(api, pid, 2, "off-3").status_code == 409
    assert _offline(api, other, 99, "off-4").status_code == 404
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert _offline(api, other, 2, "off-5", opened_at=future).status_code == 422
    before = _offline(api, other, 2, "off-9", opened_at="2020-01-01T10:00:00+00:00")
    assert before.status_code == 422
    assert "before envelope 2 was issued" in before.json()["detail"]
    naive = _offline(api, other, 2, "off-6", opened_at="2026-01-01T10:00:00")
    assert naive.status_code == 422
    assert "time zone" in naive.json()["detail"]
    milan = _enrol(api, user="coord_milan", site="milan-sacco")
    assert _offline(api, milan, 2, "off-7").status_code == 404  # another site's patient does not exist for coord
    assert _offline(api, milan, 2, "off-8", user="coord_milan").status_code == 404  # Milan has no envelope 2
    # Online randomization goes on beside it.
    online = api.client.post(f"{BASE}/patients/{other}/randomize", headers=api.headers("coord", **{
        "Idempotency-Key": "online"}))
    assert online.status_code == 201
    # Reconciliation and notice.
    summary = api.client.get(ENVELOPES, headers=api.headers("monitor")).json()
    assert summary["sites"]["pumch"] == {"issued": 4, "used": 1, "sealed": 3}
    first = next(e for e in summary["envelopes"] if e["number"] == 1)
    assert first["patient_id"] == pid
    assert first["reason"] == "hospital network down overnight"
    assert first["arm"] is None
    notes = api.client.get(f"{BASE}/notifications", headers=api.headers("dmc")).json()
    assert any(n["kind"] == "emergency-envelope" and n["patient_id"] == pid for n in notes)
    # The export says which allocations came from an envelope.
    exported = api.client.get(f"{BASE}/export", params={"format": "csv"}, headers=api.headers("monitor"))
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("allocations.csv").decode())))
    offline = {r["patient_id"]: r["randomized_offline"] for r in rows}
    assert offline == {f"P-{pid:06d}": "true", f"P-{other:06d}": "false"}
    # The blinded monitor reads the trail with the envelopes' arms masked.
    trail = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "emergency_envelopes"},
                           headers=api.headers("monitor")).json()
    assert trail
    assert all(e["new_values"]["arm"] != arm for e in trail if e["new_values"] and "arm" in e["new_values"])
    # Replay and the audit trail hold; a changed envelope is found by both.
    report = replay_trial(api.db, TRIAL)
    assert report.identical, [str(d) for d in report.differences]
    assert verify(api.db).ok
    other_arm = "placebo" if arm == "msc" else "msc"
    with api.db.write_engine.begin() as conn:
        conn.execute(update(EmergencyEnvelope).where(EmergencyEnvelope.number == 1).values(arm=other_arm))
    assert not replay_trial(api.db, TRIAL).identical
    assert not verify(api.db).ok

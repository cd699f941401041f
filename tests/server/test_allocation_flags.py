"""RND-10: an allocation made in error is flagged with a reason (and the password again), never changed or
deleted; a flag raised in error is withdrawn with a reason and stays; flags show in the export."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from equipoise.integrity.audit_verify import verify
from equipoise.services.replay import replay_trial
from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD

BASE = f"/api/trials/{TRIAL}"


def _randomized(api: Api, key: str, site: str = "pumch", user: str = "coord") -> int:
    response = api.client.post(f"{BASE}/enrol-and-randomize", json={"site_id": site, "values": eligible()},
                               headers=api.headers(user, **{"Idempotency-Key": key}))
    assert response.status_code == 201, response.text
    return int(response.json()["patient"]["id"])


def _flag(api: Api, pid: int, user: str, kind: str = "ineligible", password: str = PASSWORD) -> Any:
    return api.client.post(f"{BASE}/patients/{pid}/allocation/flags", headers=api.headers(user), json={
        "kind": kind, "reason": "eGFR below the protocol's limit on the day of randomization", "password": password})


def test_flags_record_errors_without_touching_the_allocation(api: Api):
    pid = _randomized(api, "f1")
    before = api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("unblinded_stat")).json()
    assert _flag(api, pid, "coord").status_code == 403  # the investigator or the monitor flags
    assert _flag(api, pid, "investigator", password="wrong password").status_code == 401
    assert _flag(api, pid, "investigator", kind="void").status_code == 422
    flagged = _flag(api, pid, "investigator")
    assert flagged.status_code == 201, flagged.text
    flag = flagged.json()
    assert flag["kind"] == "ineligible"
    assert flag["flagged_by"] == "investigator"
    assert flag["withdrawn"] is False
    assert _flag(api, pid, "monitor").status_code == 409  # the same flag stands already
    assert _flag(api, pid, "monitor", kind="wrong-stratum").status_code == 201
    # The allocation is exactly as it was: arm, kit code, sequence; replay and the trail agree.
    after = api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("unblinded_stat")).json()
    assert after == before
    assert replay_trial(api.db, TRIAL).identical
    # A patient of another site does not exist for the investigator; an enrolled, unrandomized one has nothing
    # to flag.
    milan = _randomized(api, "f2", site="milan-sacco", user="coord_milan")
    assert _flag(api, milan, "investigator").status_code == 404
    waiting = api.client.post(f"{BASE}/patients", json={"site_id": "pumch", "values": eligible()},
                              headers=api.headers("coord")).json()["id"]
    assert _flag(api, waiting, "investigator").status_code == 409
    # Withdrawn with a reason, kept in the record; the coordinator reads the flags of their site.
    withdrawn = api.client.post(f"{BASE}/allocation-flags/{flag['id']}/withdraw", headers=api.headers("monitor"),
                                json={"reason": "the eGFR was measured after randomization"})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn"] is True
    assert withdrawn.json()["withdrawn_by"] == "monitor"
    again = api.client.post(f"{BASE}/allocation-flags/{flag['id']}/withdraw", headers=api.headers("monitor"),
                            json={"reason": "twice"})
    assert again.status_code == 409
    listed = api.client.get(f"{BASE}/allocation-flags", headers=api.headers("coord")).json()
    assert [(f["kind"], f["withdrawn"]) for f in listed] == [("ineligible", True), ("wrong-stratum", False)]
    assert api.client.get(f"{BASE}/allocation-flags", headers=api.headers("coord_milan")).json() == []
    # The export shows the flags that stand beside the allocation.
    exported = api.client.get(f"{BASE}/export", params={"format": "csv"}, headers=api.headers("monitor"))
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(archive.read("allocations.csv").decode()))}
    assert rows[f"P-{pid:06d}"]["flags"] == "wrong-stratum"
    assert rows[f"P-{milan:06d}"]["flags"] == ""
    odm = api.client.get(f"{BASE}/export/odm", headers=api.headers("monitor")).text
    assert 'ItemOID="IT.RANDOMIZATION.flags" Value="wrong-stratum"' in odm
    assert verify(api.db).ok

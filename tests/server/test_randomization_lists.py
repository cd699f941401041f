"""RND-8 and RND-9: a randomization list uploaded by the unblinded statistician, checked on import, used entry
after entry within each stratum, never shown to site or blinded roles, alerting before it runs out, extended
but never rewritten; replay and audit verify cover it, tampering included."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.integrity.audit_verify import verify
from equipoise.server import create_app
from equipoise.services.trials import create_trial, create_trial_from_file
from equipoise.services.users import add_user, grant_role
from equipoise.store.db import Database
from equipoise.store.list_models import RandomizationListEntry
from tests.store.support import DEMO, PASSWORD

TRIAL = "LIST-TRIAL"
BASE = f"/api/trials/{TRIAL}"
LISTS = f"{BASE}/randomization-lists"
PROTOCOL = Path(__file__).parent / "data" / "list-trial.yaml"
USERS = {"stat": (Role.UNBLINDED_STATISTICIAN, None), "coord": (Role.COORDINATOR, "s1"),
         "coord2": (Role.COORDINATOR, "s2"), "blinded": (Role.BLINDED_STATISTICIAN, None),
         "monitor": (Role.MONITOR, None), "dmc": (Role.DMC, None)}
STRATA = [("s1", "mild"), ("s1", "severe"), ("s2", "mild"), ("s2", "severe")]


@dataclass
class Client:
    http: TestClient
    db: Database
    tokens: dict[str, str]

    def h(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def randomize(self, site: str, group: str, key: str, user: str | None = None) -> Any:
        headers = self.h(user or ("coord" if site == "s1" else "coord2"), **{"Idempotency-Key": key})
        return self.http.post(f"{BASE}/enrol-and-randomize", headers=headers,
                              json={"site_id": site, "values": {"group": group, "consent": True}})


@pytest.fixture
def client(db: Database) -> Iterator[Client]:
    operator = system_principal("test")
    create_trial_from_file(db, operator, PROTOCOL)
    create_trial_from_file(db, operator, DEMO)
    for name, (role, site) in USERS.items():
        add_user(db, operator, name, name.title(), PASSWORD, roles=[(role, TRIAL, site)])
    with TestClient(create_app(db)) as http:
        tokens = {name: http.post("/api/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
                  for name in USERS}
        yield Client(http, db, tokens)


def _csv(per_stratum: dict[tuple[str, str], list[str]], extra_column: bool = False) -> str:
    lines = ["site,group,arm" + (",block" if extra_column else "")]
    for (site, group), arms in per_stratum.items():
        lines += [f"{site},{group},{arm}" + (",1" if extra_column else "") for arm in arms]
    return "\n".join(lines) + "\n"


def _upload(client: Client, text: str, user: str = "stat", sha: str | None = None, password: str = PASSWORD,
            note: str | None = None, trial: str = TRIAL, purpose: str = "production") -> Any:
    return client.http.post(f"/api/trials/{trial}/randomization-lists", headers=client.h(user), json={
        "file_name": "list.csv", "csv": text, "sha256": sha or hashlib.sha256(text.encode()).hexdigest(),
        "note": note, "password": password, "purpose": purpose})


FIRST = {("s1", "mild"): ["active", "placebo", "placebo", "active"],
         ("s1", "severe"): ["placebo", "active", "active", "placebo"],
         ("s2", "mild"): ["active", "placebo", "active", "placebo"],
         ("s2", "severe"): ["placebo", "active", "placebo", "active"]}


def test_upload_is_checked_and_restricted(client: Client):
    good = _csv(FIRST, extra_column=True)  # extra columns (block numbers) are ignored
    assert _upload(client, good, user="coord").status_code == 403
    assert _upload(client, good, user="blinded").status_code == 403
    assert _upload(client, good, user="dmc").status_code == 403
    mismatch = _upload(client, good, sha="0" * 64)
    assert mismatch.status_code == 422
    assert "SHA-256" in mismatch.json()["detail"]
    assert _upload(client, good, password="wrong password").status_code == 401
    bad = _csv({**FIRST, ("s1", "mild"): ["active", "aspirin"]}).replace("s2,mild,active", "s3,mild,active", 1)
    refused = _upload(client, bad)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "line 3: arm 'aspirin'" in detail
    assert "site 's3' is not one of its levels" in detail
    missing = _upload(client, _csv({k: v for k, v in FIRST.items() if k != ("s2", "severe")}))
    assert missing.status_code == 422
    assert "site=s2;group=severe" in missing.json()["detail"]
    no_arm = _upload(client, "site,group\ns1,mild\n")
    assert "lacks column(s) arm" in no_arm.json()["detail"]
    other_method = _upload(client, good, trial="MSC-COVID-RCT")
    assert other_method.status_code in (403, 409)  # the statistician has no role there, or the method differs
    # Before any list is active, randomization says why it cannot proceed; nothing is allocated.
    early = client.randomize("s1", "mild", "early")
    assert early.status_code == 422
    assert "none is active" in early.json()["detail"]
    uploaded = _upload(client, good, note="first list")
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["entries"] == 16
    assert body["active"] is True
    assert {s["stratum"]: s["entries"] for s in body["strata"]} == {f"site={a};group={b}": 4 for a, b in STRATA}
    for user in ("coord", "coord2", "blinded", "monitor", "dmc"):
        assert client.http.get(LISTS, headers=client.h(user)).status_code == 403, user


def test_allocation_follows_the_list_within_each_stratum_and_alerts_before_it_runs_out(client: Client):
    assert _upload(client, _csv(FIRST)).status_code == 201
    got: dict[tuple[str, str], list[str]] = {s: [] for s in STRATA}
    for round_ in range(4):
        for site, group in STRATA:
            response = client.randomize(site, group, f"k-{site}-{group}-{round_}")
            assert response.status_code == 201, response.text
            allocation = response.json()["allocation"]
            assert allocation["arm"] is None  # the coordinator sees a kit code only
            assert allocation["kit_code"].startswith("LI-")
            arm = client.http.get(f"{BASE}/patients/{allocation['patient_id']}/allocation",
                                  headers=client.h("stat")).json()["arm"]
            got[(site, group)].append(arm)
    assert got == FIRST
    # RND-9: at 3 of 4 entries and at 4 of 4, for every stratum.
    notes = [n["message"] for n in client.http.get(f"{BASE}/notifications", headers=client.h("stat")).json()
             if n["kind"] == "randomization-list"]
    assert sum("1 of 4 entries left" in m for m in notes) == 4
    assert sum("used up" in m for m in notes) == 4
    used_up = client.randomize("s1", "mild", "k-fifth")
    assert used_up.status_code == 422
    assert "used up for stratum site=s1;group=mild" in used_up.json()["detail"]
    usage = client.http.get(LISTS, headers=client.h("stat")).json()[0]["strata"]
    assert all(s["used"] == s["entries"] == 4 for s in usage)


def test_a_replacement_keeps_used_entries_and_replay_and_verify_cover_lists(client: Client):
    assert _upload(client, _csv(FIRST)).status_code == 201
    for round_ in range(2):
        assert client.randomize("s1", "mild", f"r{round_}").status_code == 201
    rewritten = {**FIRST, ("s1", "mild"): ["placebo", "placebo", "active", "active", "active", "placebo"]}
    refused = _upload(client, _csv(rewritten), note="rewrite")
    assert refused.status_code == 409
    assert "entry 1 of stratum site=s1;group=mild" in refused.json()["detail"]
    extended = {k: [*v, "active", "placebo"] for k, v in FIRST.items()}
    replaced = _upload(client, _csv(extended), note="extended before it ran low")
    assert replaced.status_code == 201, replaced.text
    lists = client.http.get(LISTS, headers=client.h("stat")).json()
    assert [(item["id"], item["active"]) for item in lists] == [(1, False), (2, True)]
    for round_ in range(2, 6):
        assert client.randomize("s1", "mild", f"r{round_}").status_code == 201
    arms = [a["arm"] for a in client.http.get(f"{BASE}/allocations", headers=client.h("stat")).json()]
    assert arms == extended[("s1", "mild")]
    replay = client.http.get(f"{BASE}/replay", headers=client.h("stat")).json()
    assert replay["identical"], replay
    verify = client.http.get("/api/audit/verify", headers=client.h("stat"))
    assert verify.status_code == 403  # the admin verifies; the CLI below does it as the operator
    from equipoise.integrity.audit_verify import verify as verify_trail

    assert verify_trail(client.db).ok
    # Someone changes a used entry of the active list directly in the database: both checks find it.
    with client.db.write_engine.begin() as conn:
        conn.execute(update(RandomizationListEntry).where(RandomizationListEntry.list_id == 2,
                                                          RandomizationListEntry.position == 1,
                                                          RandomizationListEntry.stratum == "site=s1;group=mild")
                     .values(arm="placebo"))
    report = verify_trail(client.db)
    assert not report.ok
    assert any(f.table == "randomization_list_entries" and f.record_id == "2" for f in report.findings)
    replay = client.http.get(f"{BASE}/replay", headers=client.h("stat")).json()
    assert not replay["identical"]
    assert any("checksum" in d["message"] for d in replay["differences"])


def test_download_needs_the_password_and_is_audited(client: Client):
    text = _csv(FIRST)
    list_id = _upload(client, text).json()["id"]
    url = f"{LISTS}/{list_id}/download"
    assert client.http.post(url, json={"password": PASSWORD}, headers=client.h("coord")).status_code == 403
    assert client.http.post(url, json={"password": "wrong password"}, headers=client.h("stat")).status_code == 401
    response = client.http.post(url, json={"password": PASSWORD}, headers=client.h("stat"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = response.text.splitlines()
    assert rows[0] == "stratum,position,arm"
    assert "site=s1;group=mild,1,active" in rows
    assert len(rows) == 17
    assert client.http.post(f"{LISTS}/999/download", json={"password": PASSWORD},
                            headers=client.h("stat")).status_code == 404
    from sqlalchemy import select

    from equipoise.store.models import AuditEntry

    with client.db.read() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.trial_id == TRIAL)))
    assert "randomization-list.downloaded" in actions


def test_rnd8_test_and_production_lists_are_kept_apart(client: Client):
    """REDCap keeps development and production allocation tables apart; here a test trial (``trial create
    --test``) takes test lists only, a production trial production lists only, and no entries serve both: the
    testers have seen a test list, and must never see the production one."""
    operator = system_principal("test")
    copy = PROTOCOL.read_text().replace(f"id: {TRIAL}\n", f"id: {TRIAL}-TEST\n", 1)
    assert f"id: {TRIAL}-TEST" in copy
    created = create_trial(client.db, operator, copy, "list-trial-test.yaml", test=True)
    assert (created.id, created.purpose) == (f"{TRIAL}-TEST", "test")
    grant_role(client.db, operator, "stat", Role.UNBLINDED_STATISTICIAN, f"{TRIAL}-TEST", None)
    assert client.http.get(BASE, headers=client.h("stat")).json()["purpose"] == "production"
    rehearsal = _csv(FIRST)
    real = _csv({k: list(reversed(v)) for k, v in FIRST.items()})
    wrong_way = _upload(client, rehearsal, trial=f"{TRIAL}-TEST", purpose="production")
    assert wrong_way.status_code == 409
    assert "a test trial takes test lists only" in wrong_way.json()["detail"]
    assert _upload(client, rehearsal, purpose="test").status_code == 409
    missing = client.http.post(LISTS, headers=client.h("stat"), json={
        "file_name": "list.csv", "csv": real, "sha256": hashlib.sha256(real.encode()).hexdigest(),
        "password": PASSWORD})
    assert missing.status_code == 422  # the purpose is always said, never assumed
    assert "purpose" in missing.json()["detail"]
    tried = _upload(client, rehearsal, trial=f"{TRIAL}-TEST", purpose="test")
    assert tried.status_code == 201, tried.text
    assert tried.json()["purpose"] == "test"
    reused = _upload(client, rehearsal + "\n", purpose="production")  # the same entries, another file
    assert reused.status_code == 409
    assert "uploaded as a test list" in reused.json()["detail"]
    assert "testers have seen its sequence" in reused.json()["detail"]
    live = _upload(client, real, purpose="production")
    assert live.status_code == 201, live.text
    leaked = _upload(client, real, trial=f"{TRIAL}-TEST", purpose="test", note="extended")
    assert leaked.status_code == 409
    assert "would show testers the production sequence" in leaked.json()["detail"]
    assert [r["purpose"] for r in client.http.get(LISTS, headers=client.h("stat")).json()] == ["production"]
    exported = client.http.get(f"/api/trials/{TRIAL}-TEST/export?format=csv", headers=client.h("stat"))
    assert zipfile.ZipFile(io.BytesIO(exported.content)).read("manifest.json").count(b'"trial_purpose": "test"') == 1
    assert verify(client.db).ok

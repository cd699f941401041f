"""Authentication: argon2 hashes, lockout, idle time-out, API tokens, re-authentication (21 CFR 11.300, 11.200)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from equipoise.identity.auth import LOGIN_REFUSED
from equipoise.identity.security_settings import Settings
from equipoise.integrity.audit_verify import verify
from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, AuthSession, User
from tests.server.conftest import TRIAL, USERS, Api, seed
from tests.store.support import PASSWORD


def _client(db: Database, **settings: Any) -> TestClient:
    seed(db)
    return TestClient(create_app(db, Settings(**settings)))


def _actions(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_sec_passwords_are_argon2id_hashes(api: Api):
    with api.db.read() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert hashes
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_sec_logins_and_failed_logins_are_audited(api: Api):
    bad = api.client.post("/api/auth/login", json={"username": "coord", "password": "nope"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == LOGIN_REFUSED
    unknown = api.client.post("/api/auth/login", json={"username": "nobody", "password": "nope"})
    assert unknown.status_code == 401  # same message: no user enumeration
    actions = _actions(api.db)
    assert actions.count("login") == len(USERS)  # each user of the fixture logged in once
    assert actions.count("login.failed") == 2


def test_sec_lockout_after_repeated_failures(db: Database):
    with _client(db, max_failed_logins=3, lockout_seconds=600) as client:
        for _ in range(3):
            assert client.post("/api/auth/login", json={"username": "coord", "password": "bad"}).status_code == 401
        locked = client.post("/api/auth/login", json={"username": "coord", "password": PASSWORD})
        assert locked.status_code == 401  # as an unknown username answers (issue 14: no user enumeration)
        assert locked.json()["detail"] == LOGIN_REFUSED
    assert "account.locked" in _actions(db)
    assert verify(db).ok


def test_sec_idle_session_is_logged_out(db: Database):
    with _client(db, idle_timeout_seconds=60) as client:
        token = client.post("/api/auth/login", json={"username": "coord", "password": PASSWORD}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/auth/me", headers=headers).status_code == 200
        with db.write_engine.begin() as conn:  # auth sessions are not audited records: move the clock back
            conn.execute(update(AuthSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)))
        response = client.get("/api/auth/me", headers=headers)
        assert response.status_code == 401
        assert "without activity" in response.json()["detail"]
        assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert "session.timeout" in _actions(db)


def test_sec_logout_ends_the_session(api: Api):
    headers = api.headers("coord")
    assert api.client.post("/api/auth/logout", headers=headers).status_code == 200
    assert api.client.get("/api/auth/me", headers=headers).status_code == 401


def test_sec_api_token_needs_reauthentication_and_works(api: Api):
    refused = api.client.post("/api/auth/tokens", json={"name": "script", "password": "wrong"},
                              headers=api.headers("coord"))
    assert refused.status_code == 401
    made = api.client.post("/api/auth/tokens", json={"name": "script", "password": PASSWORD},
                           headers=api.headers("coord"))
    assert made.status_code == 201
    token = made.json()["token"]
    me = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "coord"
    assert {"role": "site-coordinator", "trial_id": TRIAL, "site_id": "pumch"} in me.json()["roles"]


def test_sec_missing_or_bad_token_is_a_clear_401(api: Api):
    missing = api.client.get("/api/trials")
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    bad = api.client.get("/api/trials", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.json()["detail"].startswith("invalid token")


def test_sec_reauthentication_needed_for_adaptive_tables_and_planned_unblinding(api: Api):
    body = {"reason": "final analysis", "password": "wrong"}
    assert api.client.post(f"/api/trials/{TRIAL}/unblind", json=body,
                           headers=api.headers("unblinded_stat")).status_code == 401
    body["password"] = PASSWORD
    assert api.client.post(f"/api/trials/{TRIAL}/unblind", json=body,
                           headers=api.headers("dmc")).status_code == 403
    done = api.client.post(f"/api/trials/{TRIAL}/unblind", json=body, headers=api.headers("unblinded_stat"))
    assert done.status_code == 200
    assert api.client.get(f"/api/trials/{TRIAL}", headers=api.headers("coord")).json()["unblinded_at"]
    assert "reauth.failed" in _actions(api.db)


def test_aud1_reauthentication_failures_are_counted_on_the_users_row_by_entries_naming_that_user(api: Api):
    """A wrong password given again counts toward the lockout on the user's row, and the right one resets the
    count: both are changes of a regulated record, so their entries name the user who gave the password (and the
    request's source), never "system" (found by tests/store/test_audit_properties.py)."""
    with api.db.read() as s:
        start = s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
        user_id = s.scalar(select(User.id).where(User.username == "unblinded_stat"))
    url, headers = f"/api/trials/{TRIAL}/unblind", api.headers("unblinded_stat")
    assert api.client.post(url, json={"reason": "final analysis", "password": "wrong"},
                           headers=headers).status_code == 401
    assert api.client.post(url, json={"reason": "final analysis", "password": PASSWORD},
                           headers=headers).status_code == 200
    with api.db.read() as s:
        counted = s.scalars(select(AuditEntry).where(AuditEntry.id > start, AuditEntry.table_name == "users")
                            .order_by(AuditEntry.id)).all()
    assert [(e.new_values, e.actor, e.actor_id) for e in counted] == [
        ({"failed_logins": 1}, "unblinded_stat", user_id), ({"failed_logins": 0}, "unblinded_stat", user_id)]
    assert all(e.source and "testclient" in e.source for e in counted)
    assert verify(api.db).ok


def test_sec_change_own_password_needs_the_old_one(api: Api):
    wrong = api.client.post("/api/auth/password", json={"old_password": "nope", "new_password": "a new password 1"},
                            headers=api.headers("coord"))
    assert wrong.status_code == 401
    short = api.client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"},
                            headers=api.headers("coord"))
    assert short.status_code == 422
    assert "at least 10" in short.json()["detail"]
    done = api.client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": "a new password 1"},
                           headers=api.headers("coord"))
    assert done.status_code == 200
    assert api.client.post("/api/auth/login", json={"username": "coord", "password": PASSWORD}).status_code == 401
    assert api.client.post("/api/auth/login", json={"username": "coord",
                                                    "password": "a new password 1"}).status_code == 200
    assert verify(api.db).ok


def test_acc4_two_factor_login_with_one_time_codes(api: Api):
    import time

    from equipoise.identity.totp import totp
    from equipoise.services.users import reset_two_factor

    c = api.client
    setup = c.post("/api/auth/2fa/setup", json={"password": "wrong password"}, headers=api.headers("investigator"))
    assert setup.status_code == 401
    setup = c.post("/api/auth/2fa/setup", json={"password": PASSWORD}, headers=api.headers("investigator"))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert c.post("/api/auth/2fa/confirm", json={"code": "000000"},
                  headers=api.headers("investigator")).status_code == 422
    code = totp(secret, time.time())
    assert c.post("/api/auth/2fa/confirm", json={"code": code}, headers=api.headers("investigator")).status_code == 200
    # From now on the password alone is not enough; the code just used cannot be used again.
    body = {"username": "investigator", "password": PASSWORD}
    missing = c.post("/api/auth/login", json=body)
    assert missing.status_code == 401
    assert "two-factor" in missing.json()["detail"]
    reused = c.post("/api/auth/login", json={**body, "code": code})
    assert reused.status_code == 401
    step = int(time.time() // 30)
    fresh = totp(secret, (step + 1) * 30)  # the next step's code (one step of drift is accepted)
    assert c.post("/api/auth/login", json={**body, "code": fresh}).status_code == 200
    audit = c.get("/api/audit", params={"actor": "investigator"}, headers=api.headers("admin")).json()
    actions = [e["action"] for e in audit]
    assert "2fa.enabled" in actions
    assert any(e["action"] == "login.failed" and e["new_values"]["why"] == "wrong or reused one-time code"
               for e in audit)
    # The secret never appears in the trail: the users row stores a digest of it.
    assert secret not in str(audit)
    # A lost phone: the administrator resets it with a reason; the password alone works again.
    from equipoise.identity.principal import system_principal

    reset_two_factor(api.db, system_principal("test"), "investigator", "phone lost")
    assert c.post("/api/auth/login", json=body).status_code == 200


def test_acc4_creating_or_amending_a_trial_needs_the_password_again(api: Api):
    """Publishing a configuration (a new trial, a protocol amendment) re-authenticates, like signing and
    unblinding; a wrong password creates nothing and counts toward the lockout."""
    from tests.store.support import DEMO

    text = DEMO.read_text().replace("id: MSC-COVID-RCT\n", "id: REAUTH-1\n", 1)
    wrong = api.client.post("/api/trials", json={"protocol_yaml": text, "password": "not it"},
                            headers=api.headers("admin"))
    assert wrong.status_code == 401
    missing = api.client.post("/api/trials", json={"protocol_yaml": text}, headers=api.headers("admin"))
    assert missing.status_code == 422
    assert [t["id"] for t in api.client.get("/api/trials", headers=api.headers("admin")).json()] == [TRIAL]
    made = api.client.post("/api/trials", json={"protocol_yaml": text, "password": PASSWORD},
                           headers=api.headers("admin"))
    assert made.status_code == 201, made.text
    amendment = text + ('\namendments:\n  - version: "1.1"\n    effective_date: 2099-01-01\n    summary: Lyon.\n'
                        '    changes:\n      - change: add-site\n        site: {id: lyon, name: Croix-Rousse, '
                        'country: FR, timezone: Europe/Paris}\n')
    body = {"protocol_yaml": amendment, "reason": "ethics approval 7"}
    assert api.client.put("/api/trials/REAUTH-1/protocol", json={**body, "password": "not it"},
                          headers=api.headers("admin")).status_code == 401
    amended = api.client.put("/api/trials/REAUTH-1/protocol", json={**body, "password": PASSWORD},
                             headers=api.headers("admin"))
    assert amended.status_code == 200, amended.text


def test_acc4_a_role_that_may_not_create_trials_is_refused_before_its_password_is_checked(api: Api):
    """403 for the role, not 401 for the password: a forbidden request never counts toward a lockout."""
    from tests.store.support import DEMO

    refused = api.client.post("/api/trials", json={"protocol_yaml": DEMO.read_text(), "password": "not it"},
                              headers=api.headers("monitor"))
    assert refused.status_code == 403
    with api.db.read() as s:
        from sqlalchemy import select

        from equipoise.store.models import AuditEntry
        failures = s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "monitor",
                                                             AuditEntry.action.like("%failed%"))).all()
    assert failures == []


def test_an_admin_session_row_inserted_into_the_database_is_no_token_over_http(api: Api):
    """Issue 14: someone who can write ``auth_sessions`` but not read the server's key file inserts a session for the
    admin with the SHA-256 of a token of their choice (the scheme before the key): the API answers 401, while a real
    login works."""
    import hashlib
    import secrets

    from tests.store.test_audit_trail import _tamper

    with api.db.read() as s:
        admin_id = s.scalars(select(User.id).where(User.username == "admin")).one()
    token = secrets.token_urlsafe(32)
    _tamper(api.db, "INSERT INTO auth_sessions (token_hash, user_id, kind, created_at, last_seen_at) "
            "VALUES (:h, :u, 'api-token', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            h=hashlib.sha256(token.encode()).hexdigest(), u=admin_id)
    assert api.client.get("/api/users", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.client.get("/api/auth/me", headers=api.headers("admin")).status_code == 200

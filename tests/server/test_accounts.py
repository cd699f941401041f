"""Account lifecycle (issue 14): deactivation, token expiry, sessions ended by a password change, a lockout that
does not reveal which usernames exist, and a session ended when its re-authentication locks the account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from equipoise.identity.auth import DEFAULT_TOKEN_DAYS, LOGIN_REFUSED
from equipoise.identity.security_settings import Settings
from equipoise.integrity.audit_verify import verify
from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, AuthSession
from tests.server.conftest import TRIAL, Api, seed
from tests.store.support import PASSWORD

NEW_PASSWORD = "a brand new password 7"


def _login(client: TestClient, user: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/login", json={"username": user, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(client: TestClient, headers: dict[str, str], **extra: Any) -> Any:
    return client.post("/api/auth/tokens", json={"name": "script", "password": PASSWORD, **extra}, headers=headers)


def _actions(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_deactivated_user_cannot_log_in_and_their_sessions_and_tokens_stop(api: Api):
    client = api.client
    other_session = _login(client, "coord").json()["token"]
    token = _token(client, api.headers("coord")).json()["token"]
    assert client.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    refused = client.post("/api/users/coord/deactivate", json={"reason": "left the trial"},
                          headers=api.headers("monitor"))
    assert refused.status_code == 403
    done = client.post("/api/users/coord/deactivate", json={"reason": "left the trial"}, headers=api.headers("admin"))
    assert done.status_code == 200, done.text
    assert done.json()["active"] is False
    for bearer in (api.tokens["coord"], other_session, token):
        assert client.get("/api/auth/me", headers=_bearer(bearer)).status_code == 401
    login = _login(client, "coord")
    assert (login.status_code, login.json()["detail"]) == (401, LOGIN_REFUSED)
    self_deactivate = client.post("/api/users/admin/deactivate", json={"reason": "oops"}, headers=api.headers("admin"))
    assert self_deactivate.status_code == 422
    again = client.post("/api/users/coord/activate", json={"reason": "back on the trial"}, headers=api.headers("admin"))
    assert again.json()["active"] is True
    assert _login(client, "coord").status_code == 200
    assert client.get("/api/auth/me", headers=_bearer(token)).status_code == 401  # ended tokens stay ended
    actions = _actions(api.db)
    assert {"user.deactivated", "user.activated", "sessions.revoked"} <= set(actions)
    assert verify(api.db).ok


def test_user_deactivate_on_the_command_line(api: Api, run_cli: Callable[..., Any], db_url: str):
    result = run_cli("user", "deactivate", "investigator", "--reason", "moved to another hospital", "--db", db_url)
    assert result.code == 0, result.stderr
    assert "deactivated" in result.stdout
    assert api.client.get("/api/auth/me", headers=api.headers("investigator")).status_code == 401
    missing = run_cli("user", "deactivate", "nobody", "--reason", "x", "--db", db_url)
    assert missing.code == 2
    assert "no user 'nobody'" in missing.stderr


def test_api_tokens_expire_after_90_days_by_default_or_the_days_given(api: Api):
    made = _token(api.client, api.headers("coord"))
    assert made.status_code == 201, made.text
    expires = dt.datetime.fromisoformat(made.json()["expires_at"])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=DEFAULT_TOKEN_DAYS)
    assert abs((expires - expected).total_seconds()) < 600
    short = _token(api.client, api.headers("coord"), days=7).json()
    assert dt.datetime.fromisoformat(short["expires_at"]) < expires
    with api.db.write_engine.begin() as conn:  # auth sessions are not audited records: move the clock on
        conn.execute(update(AuthSession).where(AuthSession.kind == "api-token").values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    expired = api.client.get("/api/auth/me", headers=_bearer(made.json()["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_changing_a_password_ends_the_other_sessions_and_tokens_but_not_this_one(api: Api):
    client = api.client
    other = _login(client, "coord").json()["token"]
    token = _token(client, api.headers("coord")).json()["token"]
    changed = client.post("/api/auth/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                          headers=api.headers("coord"))
    assert changed.status_code == 200, changed.text
    assert client.get("/api/auth/me", headers=api.headers("coord")).status_code == 200
    assert client.get("/api/auth/me", headers=_bearer(other)).status_code == 401
    assert client.get("/api/auth/me", headers=_bearer(token)).status_code == 401
    assert "sessions.revoked" in _actions(api.db)


def test_the_lockout_answers_as_an_unknown_username_does(db: Database):
    seed(db)
    with TestClient(create_app(db, Settings(max_failed_logins=3, lockout_seconds=600))) as client:
        for _ in range(3):
            assert _login(client, "coord", "bad").status_code == 401
        locked = _login(client, "coord")  # the right password, on a locked account
        unknown = _login(client, "no-such-user")
        wrong = _login(client, "monitor", "bad")
        for response in (locked, unknown, wrong):
            assert (response.status_code, response.json()) == (401, {"detail": LOGIN_REFUSED})
    assert "account.locked" in _actions(db)


def test_wrong_reauthentication_that_locks_the_account_ends_the_session(db: Database):
    seed(db)
    with TestClient(create_app(db, Settings(max_failed_logins=3, lockout_seconds=600))) as client:
        headers = _bearer(_login(client, "unblinded_stat").json()["token"])
        url, body = f"/api/trials/{TRIAL}/unblind", {"reason": "final analysis", "password": "guess"}
        assert client.post(url, json=body, headers=headers).status_code == 401
        assert client.post(url, json=body, headers=headers).status_code == 401
        locking = client.post(url, json=body, headers=headers)
        assert locking.status_code == 423
        assert "session has ended" in locking.json()["detail"]
        assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert "session.ended" in _actions(db)
    assert verify(db).ok


def test_a_token_made_before_tokens_expired_expires_90_days_after_it_was_made(api: Api):
    made = _token(api.client, api.headers("coord")).json()["token"]
    with api.db.write_engine.begin() as conn:  # as a token of an older version: no expiry, made long ago
        conn.execute(update(AuthSession).where(AuthSession.kind == "api-token").values(
            expires_at=None, created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=DEFAULT_TOKEN_DAYS + 1)))
    assert api.client.get("/api/auth/me", headers=_bearer(made)).status_code == 401
    with api.db.write_engine.begin() as conn:
        conn.execute(update(AuthSession).where(AuthSession.kind == "api-token").values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=DEFAULT_TOKEN_DAYS - 1)))
    assert api.client.get("/api/auth/me", headers=_bearer(made)).status_code == 200

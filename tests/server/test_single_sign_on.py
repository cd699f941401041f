"""ACC-4, single sign-on with OpenID Connect: a hospital's identity provider signs the person in, Equipoise
checks everything it is given (state, browser, PKCE, signature, issuer, audience, expiry, nonce, subject) and
keeps the roles; every sign-on and every refusal is in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from equipoise.identity.principal import system_principal
from equipoise.integrity.audit_verify import verify
from equipoise.server import create_app
from equipoise.services.users import reset_single_sign_on
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, User
from tests.server.conftest import seed
from tests.server.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

CALLBACK = "http://testserver/api/auth/oidc/callback"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with Provider().running() as running:
        yield running


@pytest.fixture
def client(db: Database, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    seed(db)
    for name, value in (("ISSUER", provider.issuer), ("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET),
                        ("REDIRECT_URI", CALLBACK)):
        monkeypatch.setenv(f"EQUIPOISE_OIDC_{name}", value)
    with TestClient(create_app(db)) as http:
        yield http


def _sign_on(client: TestClient) -> Any:
    """The browser's round trip: Equipoise, the provider's sign-on page, back to Equipoise's callback."""
    start = client.get("/api/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    assert start.headers["location"].startswith(f"{client.app.state.oidc.settings.issuer}/authorize?")  # type: ignore[attr-defined]
    assert "httponly" in start.headers["set-cookie"].lower()
    at_provider = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = at_provider.headers["location"]
    assert back.startswith(CALLBACK + "?code=")
    return client.get(back)


def _failures(db: Database) -> list[dict[str, Any]]:
    with db.read() as s:
        return [e.new_values or {} for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")
                                                      .order_by(AuditEntry.id))]


def test_a_person_signed_on_by_the_hospital_gets_an_equipoise_session_with_their_roles(
        db: Database, client: TestClient, provider: Provider):
    signed = _sign_on(client)
    assert signed.status_code == 200, signed.text
    token = signed.json()["token"]
    assert signed.json()["username"] == "coord"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "coord"
    assert {g["role"] for g in me.json()["roles"]} == {"site-coordinator"}  # Equipoise's roles, not the provider's
    with db.read() as s:
        login = s.scalars(select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id.desc())
                          ).first()
        assert login is not None
        assert (login.actor, (login.new_values or {})["method"]) == ("coord", "oidc")
        user = s.scalar(select(User).where(User.username == "coord"))
        assert user is not None
        assert user.oidc_subject == f"{provider.issuer}|subject-0001"  # bound at the first sign-on
    # The same person again: a second session; a username now held by another identity: refused.
    assert _sign_on(client).status_code == 200
    provider.subject = "subject-9999"
    taken = _sign_on(client)
    assert taken.status_code == 401
    assert "signed on before as another identity" in taken.json()["detail"]
    # The provider really did give the person a new identity: an administrator unbinds the old one (audited).
    reset_single_sign_on(db, system_principal("test"), "coord", "new account at the hospital after a name change")
    assert _sign_on(client).status_code == 200
    with db.read() as s:
        assert s.scalar(select(User.oidc_subject).where(User.username == "coord")) == f"{provider.issuer}|subject-9999"
    assert verify(db).ok


@pytest.mark.parametrize(("mode", "message"), [
    ("other-key", "the ID token is not valid: Signature verification failed"),
    ("wrong-audience", "the ID token is not valid: Audience doesn't match"),
    ("wrong-nonce", "nonce is not this sign-on's"),
    ("expired", "the ID token is not valid: Signature has expired"),
    ("hs256", "the ID token is not valid"),
])
def test_a_token_that_is_forged_misdirected_or_stale_is_refused(
        db: Database, client: TestClient, provider: Provider, mode: str, message: str):
    provider.mode = mode
    refused = _sign_on(client)
    assert refused.status_code == 401
    assert message in refused.json()["detail"]
    assert _failures(db)[-1]["method"] == "oidc"
    assert message in _failures(db)[-1]["why"]


def test_the_browser_state_and_code_must_be_this_sign_ons(db: Database, client: TestClient, provider: Provider):
    start = client.get("/api/auth/oidc/login", follow_redirects=False)
    back = httpx.get(start.headers["location"], follow_redirects=False, timeout=10).headers["location"]
    other_browser = TestClient(client.app)
    assert "started in another browser" in other_browser.get(back).json()["detail"]
    forged = back.split("&state=")[0] + "&state=" + "A" * 80
    assert "not one this server issued" in client.get(forged).json()["detail"]
    assert client.get(back).status_code == 200
    again = client.get(back)  # the code is used up, and the cookie is gone
    assert again.status_code == 401
    assert "/api/auth/oidc/login" in again.json()["detail"]
    denied = client.get("/api/auth/oidc/callback?error=access_denied&error_description=user+cancelled")
    assert "refused the sign-on: access_denied: user cancelled" in denied.json()["detail"]
    provider.username = "mallory"
    stranger = _sign_on(client)
    assert stranger.status_code == 401
    assert "no active Equipoise user 'mallory'" in stranger.json()["detail"]
    assert _failures(db)[-1]["username"] == "mallory"
    assert verify(db).ok


def test_without_a_provider_single_sign_on_says_how_to_log_in(db: Database):
    seed(db)
    with TestClient(create_app(db)) as http:
        missing = http.get("/api/auth/oidc/login", follow_redirects=False)
    assert missing.status_code == 404
    assert "single sign-on is not configured" in missing.json()["detail"]

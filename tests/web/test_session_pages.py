"""The sign-in rules the browser tests cannot wait for, on the real application in-process: the idle time-out's
message, the one-time code step, and a refused password change told next to its field."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from equipoise.identity.totp import totp
from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.store.models import AuthSession, User
from tests.server.conftest import seed
from tests.store.support import PASSWORD, db, db_url, pg_schemas

__all__ = ["db", "db_url", "pg_schemas"]

HTML = {"accept": "text/html"}


@pytest.fixture
def browser_client(db: Database) -> Iterator[TestClient]:
    seed(db)
    with TestClient(create_app(db)) as client:
        yield client


def csrf(client: TestClient, path: str = "/") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path, headers=HTML).text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, code: str | None = None) -> str:
    form = {"csrf_token": csrf(client), "username": username, "password": password, "next": "/trials"}
    if code is not None:
        form["code"] = code
    page: str = client.post("/sign-in", data=form, headers=HTML).text
    return page


def test_the_idle_time_out_says_why_the_user_must_sign_in_again(browser_client: TestClient, db: Database):
    assert "Your trials" in sign_in(browser_client, "monitor")
    with db.write() as s:  # the session's last request was two hours ago
        s.execute(update(AuthSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
    page = browser_client.get("/trials", headers=HTML)
    assert page.status_code == 401
    assert "You were signed out after 30 minutes without activity: sign in again." in page.text
    again = browser_client.get("/trials", headers={**HTML, "accept-language": "zh-CN"})  # the session has ended
    assert "此会话已结束：请重新登录" in again.text


def test_an_account_with_two_factor_login_is_asked_for_its_code(browser_client: TestClient, db: Database):
    secret = "JBSWY3DPEHPK3PXP"
    with db.write() as s:  # as POST /api/auth/2fa/confirm leaves it
        user = s.scalars(select(User).where(User.username == "investigator")).one()
        user.totp_secret = secret
    first = sign_in(browser_client, "investigator")
    assert 'id="field-code"' in first
    assert "enter the 6-digit code from your authenticator app" in first
    now = totp(secret, time.time())
    wrong = sign_in(browser_client, "investigator", code="000000" if now != "000000" else "111111")
    assert "wrong or already used one-time code" in wrong
    assert "Your trials" in sign_in(browser_client, "investigator", code=totp(secret, time.time()))


def test_a_refused_password_change_is_told_next_to_its_field(browser_client: TestClient):
    sign_in(browser_client, "monitor")
    token = csrf(browser_client, "/account/password")
    short = browser_client.post("/account/password", headers=HTML, data={
        "csrf_token": token, "old_password": PASSWORD, "new_password": "short", "new_password_again": "short"})
    assert short.status_code == 422
    assert re.search(r'id="error-new_password">a password needs at least 10 characters<', short.text)
    differ = browser_client.post("/account/password", headers=HTML, data={
        "csrf_token": token, "old_password": PASSWORD, "new_password": "a long new one", "new_password_again": "x"})
    assert 'id="error-new_password_again">The two new passwords differ.<' in differ.text
    done = browser_client.post("/account/password", headers=HTML, data={
        "csrf_token": token, "old_password": PASSWORD, "new_password": "a long new one",
        "new_password_again": "a long new one"})
    assert "Your password is changed." in done.text


def test_a_form_posted_with_another_sessions_token_is_refused(browser_client: TestClient):
    sign_in(browser_client, "monitor")
    response = browser_client.post("/account/password", headers=HTML, data={
        "csrf_token": "forged", "old_password": PASSWORD, "new_password": "a long new one",
        "new_password_again": "a long new one"})
    assert response.status_code == 403
    assert "did not come from this site" in response.text

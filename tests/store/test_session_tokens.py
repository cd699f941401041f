"""Keyed session tokens (issue 14): ``auth_sessions`` holds only an HMAC of each token under the server's key, so a
row inserted by someone who can write the database but not read the key file gives no working token."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from equipoise.errors import UnauthorizedError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.services.users import add_user
from equipoise.store.audit_keys import keys_for_writing, rotate_key
from equipoise.store.db import Database
from tests.store.support import PASSWORD, pg_schemas
from tests.store.test_audit_trail import _tamper

__all__ = ["pg_schemas"]


def _admin(db: Database) -> int:
    add_user(db, system_principal("test"), "root", "Root", PASSWORD, roles=[(Role.ADMIN, None, None)])
    user_id = AuthService(db).authenticate(AuthService(db).login("root", PASSWORD).token).user_id
    assert user_id is not None
    return user_id


def _insert_session(db: Database, user_id: int, token_hash: str) -> None:
    _tamper(db, "INSERT INTO auth_sessions (token_hash, user_id, kind, created_at, last_seen_at) "
            "VALUES (:h, :u, 'api-token', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", h=token_hash, u=user_id)


def test_a_session_row_inserted_into_the_database_gives_no_working_token(db: Database, tmp_path: Path) -> None:
    user_id = _admin(db)
    auth = AuthService(db)
    plain = secrets.token_urlsafe(32)
    _insert_session(db, user_id, hashlib.sha256(plain.encode()).hexdigest())  # the scheme before the key
    with pytest.raises(UnauthorizedError):
        auth.authenticate(plain)
    guessed = secrets.token_urlsafe(32)  # an HMAC under any key but the server's
    _insert_session(db, user_id, keys_for_writing(tmp_path / "not-the-servers").token_hash(guessed))
    with pytest.raises(UnauthorizedError):
        auth.authenticate(guessed)


def test_the_stored_hash_is_the_keyed_hash_and_tokens_survive_a_key_rotation(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "audit-keys"
    first = Database(db_url, audit_key_file=key_file)
    _admin(first)
    token = AuthService(first).create_api_token(
        AuthService(first).authenticate(AuthService(first).login("root", PASSWORD).token), "ci", PASSWORD).token
    first.dispose()
    rotate_key(key_file)
    second = Database(db_url, audit_key_file=key_file)
    assert AuthService(second).authenticate(token).username == "root"  # made under the old key, still valid
    fresh = AuthService(second).login("root", PASSWORD).token
    assert AuthService(second).authenticate(fresh).username == "root"
    second.dispose()
    old_key_only = Database(db_url, audit_key_file=tmp_path / "other-keys")  # a server without this key file
    with pytest.raises(UnauthorizedError):
        AuthService(old_key_only).authenticate(fresh)
    old_key_only.dispose()

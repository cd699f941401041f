"""Passwords, logins, sessions, API tokens, lockout, idle time-out and re-authentication.

21 CFR 11.300 (unique ID/password pairs, safeguards against unauthorized use), 11.200 (re-authentication for
signing), ICH E6(R3) §4.2.2 (user access logged): every login, failed login, lockout and re-authentication
failure is an audit entry. Passwords are hashed with Argon2id (RFC 9106, OWASP parameters); tokens are 256-bit
random values of which only an HMAC-SHA256 under the server's key is stored (``equipoise.store.audit_keys``): a
row inserted into ``auth_sessions`` by someone who can write the database but not read the key is no token.

Account lifecycle (issue 14): an API token expires (``DEFAULT_TOKEN_DAYS`` unless its creator gives a lifetime,
at most ``MAX_TOKEN_DAYS``); changing a password ends the user's other sessions and tokens; a deactivated user
(``users.deactivate_user``) cannot log in and their sessions and tokens stop working; the lockout answers
exactly as a wrong username does (status, message and the time an Argon2 verification takes), so it does not
tell which usernames exist; wrong re-authentication passwords that lock the account also end the session they
were typed in (someone at an unattended session guessing the password is logged out).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from equipoise.errors import AccountLockedError, InvalidError, UnauthorizedError
from equipoise.identity.principal import Grant, Principal
from equipoise.identity.roles import Role
from equipoise.identity.security_settings import Settings
from equipoise.identity.totp import matching_step, new_secret, otpauth_uri
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.models import AuthSession, Membership, User
from equipoise.store.types import utcnow

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
MIN_PASSWORD_LENGTH = 10
DEFAULT_TOKEN_DAYS = 90  # an API token's lifetime unless its creator gives one
MAX_TOKEN_DAYS = 3650
# The one answer to a failed login, whether the username is unknown, the password wrong or the account locked.
LOGIN_REFUSED = ("wrong username or password, or the account is locked after repeated failed logins (then try "
                 "again later or ask an administrator)")
# Verified against for unknown usernames, so that a login takes as long whether or not the user exists.
_DUMMY_HASH = _hasher.hash("equipoise: no such user")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginResult:
    token: str
    kind: str
    user_id: int
    username: str
    expires_at: dt.datetime | None
    idle_timeout_seconds: int | None

    def to_dict(self) -> dict[str, object]:
        return {"token": self.token, "token_type": "bearer", "kind": self.kind, "username": self.username,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "idle_timeout_seconds": self.idle_timeout_seconds}


class AuthService:
    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or Settings.from_env()

    def _check_password(self, session: Session, user: User | None, username: str, password: str,
                        source: str | None, what: str) -> str | None:
        """Check a password, counting failures toward lockout; returns why it failed, or None."""
        now = utcnow()
        ctx = AuditContext(actor=username, actor_id=user.id if user else None, source=source,
                           actor_name=user.full_name if user else None)
        if user is None or not user.active:
            password_matches(_DUMMY_HASH, password)
            record_event(session, f"{what}.failed", details={"username": username, "why": "unknown or inactive"},
                         context=ctx)
            return "wrong username or password"
        if user.locked_until is not None and user.locked_until > now:
            password_matches(_DUMMY_HASH, password)  # as long as any other answer: the lock is not visible
            record_event(session, f"{what}.refused", details={"username": username, "why": "account locked"},
                         context=ctx)
            return "locked"
        if password_matches(user.password_hash, password):
            if user.failed_logins or user.locked_until is not None:
                user.failed_logins = 0
                user.locked_until = None
            return None
        self._count_failure(session, user, ctx, what, "wrong password")
        return "wrong username or password"

    def _count_failure(self, session: Session, user: User, ctx: AuditContext, what: str, why: str) -> None:
        """A failed attempt: audited, and counted toward the lockout (ACC-1); the attempt that reaches the limit
        locks the account (``locked_until``)."""
        user.failed_logins += 1
        record_event(session, f"{what}.failed", details={"username": user.username, "why": why,
                                                         "failures": user.failed_logins}, context=ctx)
        if user.failed_logins >= self.settings.max_failed_logins:
            user.locked_until = utcnow() + dt.timedelta(seconds=self.settings.lockout_seconds)
            user.failed_logins = 0
            record_event(session, "account.locked",
                         details={"username": user.username, "until": user.locked_until.isoformat()}, context=ctx)

    def _check_code(self, session: Session, user: User, code: str | None, source: str | None) -> str | None:
        """ACC-4: an account with two-factor login needs the current one-time code; a wrong or reused code counts
        toward the lockout like a wrong password."""
        if user.totp_secret is None:
            return None
        ctx = AuditContext(actor=user.username, actor_id=user.id, source=source, actor_name=user.full_name)
        if not code:
            record_event(session, "login.failed", details={"username": user.username, "why": "one-time code missing"},
                         context=ctx)
            return ("this account uses two-factor login: send the 6-digit code from your authenticator app as "
                    "'code'")
        step = matching_step(user.totp_secret, code, utcnow().timestamp(), user.totp_last_step)
        if step is None:
            self._count_failure(session, user, ctx, "login", "wrong or reused one-time code")
            return "wrong or already used one-time code"
        user.totp_last_step = step
        return None

    def login(self, username: str, password: str, source: str | None = None, code: str | None = None
              ) -> LoginResult:
        failure: str | None = None
        result: LoginResult | None = None
        with self.db.write(AuditContext(actor=username, source=source)) as session:
            user = session.scalar(select(User).where(User.username == username))
            failure = self._check_password(session, user, username, password, source, "login")
            if failure is None and user is not None:
                failure = self._check_code(session, user, code, source)
            if failure is None and user is not None:
                result = self.start_session(session, user, source, {"username": username})
        if result is None:
            # unknown, inactive, wrong password or locked: one status and one message, so that the lockout does not
            # tell which usernames exist (a missing or wrong one-time code is only told after the right password)
            raise UnauthorizedError(failure if failure not in (None, "locked", "wrong username or password")
                                    else LOGIN_REFUSED)
        return result

    def start_session(self, session: Session, user: User, source: str | None, details: dict[str, object]
                      ) -> LoginResult:
        """A new session for a user who has proved who they are (password and code, or single sign-on), audited as
        a login with ``details``."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.settings.session_lifetime_seconds)
        session.add(AuthSession(token_hash=self.db.keys_for_writing().token_hash(token), user_id=user.id,
                                kind="session",
                                created_at=now, last_seen_at=now, expires_at=expires))
        record_event(session, "login", details=details,
                     context=AuditContext(actor=user.username, actor_id=user.id, source=source,
                                          actor_name=user.full_name))
        return LoginResult(token, "session", user.id, user.username, expires, self.settings.idle_timeout_seconds)

    def reauthenticate(self, principal: Principal, password: str | None) -> None:
        """Ask for the password again before unblinding or changing randomization settings (11.200)."""
        if principal.system:
            return
        if not password:
            raise UnauthorizedError("this action needs your password again (re-authentication)")
        failure: str | None = None
        ended = False
        # The failure count (and its reset) is a change of the user's row: its entry names the user, not "system".
        with self.db.write(principal.audit_context()) as session:
            user = session.get(User, principal.user_id)
            failure = self._check_password(session, user, principal.username, password, principal.source, "reauth")
            if failure is not None and user is not None and user.locked_until is not None \
                    and user.locked_until > utcnow():
                ended = self._end_session(session, principal, "account locked after wrong re-authentication")
        if failure == "locked" or ended:
            raise AccountLockedError("this account is locked after repeated failed attempts"
                                     + ("; this session has ended: log in again later" if ended else ""))
        if failure is not None:
            raise UnauthorizedError("re-authentication failed: wrong password")

    @staticmethod
    def _end_session(session: Session, principal: Principal, why: str) -> bool:
        """End the principal's session or token (audited); whether there was one to end."""
        auth = session.get(AuthSession, principal.session_id) if principal.session_id is not None else None
        if auth is None or auth.revoked_at is not None:
            return False
        auth.revoked_at = utcnow()
        record_event(session, "session.ended", details={"kind": auth.kind, "why": why})
        return True

    def create_api_token(self, principal: Principal, name: str, password: str | None,
                         days: int | None = None) -> LoginResult:
        """An API token for scripts; it expires after ``days`` (default ``DEFAULT_TOKEN_DAYS``): a token that
        never expired outlived the person's need for it."""
        lifetime = DEFAULT_TOKEN_DAYS if days is None else days
        if not 1 <= lifetime <= MAX_TOKEN_DAYS:
            raise InvalidError(f"a token's lifetime is 1 to {MAX_TOKEN_DAYS} days")
        self.reauthenticate(principal, password)
        token = "eqp_" + secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + dt.timedelta(days=lifetime)
        with self.db.write(principal.audit_context()) as session:
            session.add(AuthSession(token_hash=self.db.keys_for_writing().token_hash(token),
                                    user_id=principal.user_id, kind="api-token", name=name, created_at=now,
                                    last_seen_at=now, expires_at=expires))
            record_event(session, "api-token.created", details={"name": name, "expires_at": expires.isoformat()})
        assert principal.user_id is not None
        return LoginResult(token, "api-token", principal.user_id, principal.username, expires, None)

    def change_password(self, principal: Principal, old_password: str, new_password: str) -> None:
        """Change one's own password: the old one is checked (and counts toward lockout) first."""
        self.reauthenticate(principal, old_password)
        new_hash = hash_password(new_password)
        with self.db.write(principal.audit_context(reason="password changed by its owner")) as session:
            user = session.get(User, principal.user_id)
            if user is not None:
                user.password_hash = new_hash
                revoke_sessions(session, user.id, "password changed", keep=principal.session_id)

    def start_two_factor(self, principal: Principal, password: str | None) -> dict[str, str]:
        """Begin two-factor login (password again): a new secret for the authenticator app; it takes effect once
        a code from the app confirms it (``confirm_two_factor``)."""
        self.reauthenticate(principal, password)
        secret = new_secret()
        with self.db.write(principal.audit_context(reason="two-factor login being set up")) as session:
            user = session.get(User, principal.user_id)
            if user is None:
                raise UnauthorizedError("log in as a user to set up two-factor login")
            user.totp_pending = secret
            record_event(session, "2fa.setup-started", details={"username": user.username})
            return {"secret": secret, "otpauth_uri": otpauth_uri(secret, user.username)}

    def confirm_two_factor(self, principal: Principal, code: str) -> None:
        with self.db.write(principal.audit_context(reason="two-factor login enabled")) as session:
            user = session.get(User, principal.user_id)
            if user is None or user.totp_pending is None:
                raise InvalidError("start the two-factor setup first (POST /api/auth/2fa/setup)")
            step = matching_step(user.totp_pending, code, utcnow().timestamp(), None)
            if step is None:
                raise InvalidError("that code does not match the new secret: check the authenticator app's clock "
                                   "and try the current code")
            user.totp_secret, user.totp_pending, user.totp_last_step = user.totp_pending, None, step
            record_event(session, "2fa.enabled", details={"username": user.username})

    def disable_two_factor(self, principal: Principal, password: str | None, code: str | None) -> None:
        self.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason="two-factor login disabled by its owner")) as session:
            user = session.get(User, principal.user_id)
            if user is None or user.totp_secret is None:
                raise InvalidError("two-factor login is not enabled for this account")
            step = matching_step(user.totp_secret, code or "", utcnow().timestamp(), user.totp_last_step)
            if step is None:
                raise UnauthorizedError("a current one-time code is needed to turn two-factor login off")
            user.totp_secret, user.totp_pending, user.totp_last_step = None, None, None
            record_event(session, "2fa.disabled", details={"username": user.username})

    def logout(self, principal: Principal) -> None:
        with self.db.write(principal.audit_context()) as session:
            auth = session.get(AuthSession, principal.session_id)
            if auth is not None and auth.revoked_at is None:
                auth.revoked_at = utcnow()
                record_event(session, "logout", details={"kind": auth.kind})

    def authenticate(self, token: str, source: str | None = None) -> Principal:
        """The principal behind a bearer token; expired, revoked and idle sessions are refused.

        Every request comes through here, so it is one prepared Core statement (the session, its user and the
        user's active roles, outer-joined), no ORM objects, and an HMAC of the token under each key (never
        Argon2): a token made before a key rotation still works.
        """
        now = utcnow()
        with self.db.lookup() as conn:
            rows = conn.execute(_AUTHENTICATE, {"token_hashes": self.db.keys_for_writing().token_hashes(token)}).all()
        if not rows:
            raise UnauthorizedError("invalid token: log in again")
        first = rows[0]
        grants = tuple(Grant(Role(r.role), r.trial_id, r.site_id) for r in rows if r.role is not None)
        if first.revoked_at is not None:
            raise UnauthorizedError("this session has ended: log in again")
        if not first.active:
            raise UnauthorizedError("this account is deactivated")
        expires_at = first.expires_at
        if expires_at is None and first.kind == "api-token":
            # a token made before tokens expired (issue 14) lives as long as a new one would have
            expires_at = first.created_at + dt.timedelta(days=DEFAULT_TOKEN_DAYS)
        if expires_at is not None and expires_at <= now:
            raise UnauthorizedError("this session has expired: log in again")
        if first.kind == "session":
            idle = (now - first.last_seen_at).total_seconds()
            if idle > self.settings.idle_timeout_seconds:
                self._end_idle(first.session_id, first.user_id, first.username, source)
                raise UnauthorizedError(f"logged out after {self.settings.idle_timeout_seconds // 60} minutes "
                                   "without activity: log in again")
            if idle > self.settings.touch_interval_seconds:
                with self.db.write() as session:
                    fresh = session.get(AuthSession, first.session_id)
                    if fresh is not None:
                        fresh.last_seen_at = now
        return Principal(user_id=first.user_id, username=first.username, full_name=first.full_name, grants=grants,
                         source=source, session_id=first.session_id)

    def _end_idle(self, session_id: int, user_id: int, username: str, source: str | None) -> None:
        with self.db.write(AuditContext(actor=username, actor_id=user_id, source=source)) as session:
            auth = session.get(AuthSession, session_id)
            if auth is not None and auth.revoked_at is None:
                auth.revoked_at = utcnow()
                record_event(session, "session.timeout", details={"username": username})


def revoke_sessions(session: Session, user_id: int, why: str, keep: int | None = None) -> int:
    """End every open session and API token of a user (but ``keep``, the one asking), audited with how many: after
    a password change or a deactivation, whoever held the old password or a token must log in again."""
    now = utcnow()
    open_ones = session.scalars(select(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None),
        (AuthSession.expires_at.is_(None)) | (AuthSession.expires_at > now))).all()
    ended = [a for a in open_ones if a.id != keep]
    for auth in ended:
        auth.revoked_at = now
    if ended:
        record_event(session, "sessions.revoked", details={
            "user_id": user_id, "why": why, "sessions": sum(a.kind == "session" for a in ended),
            "api_tokens": sum(a.kind == "api-token" for a in ended)})
    return len(ended)


_sessions, _users, _memberships = AuthSession.__table__, User.__table__, Membership.__table__
_AUTHENTICATE = (
    select(_sessions.c.id.label("session_id"), _sessions.c.kind, _sessions.c.revoked_at, _sessions.c.expires_at,
           _sessions.c.created_at, _sessions.c.last_seen_at, _users.c.id.label("user_id"), _users.c.username,
           _users.c.full_name, _users.c.active, _memberships.c.role, _memberships.c.trial_id, _memberships.c.site_id)
    .join_from(_sessions, _users, _users.c.id == _sessions.c.user_id)
    .outerjoin(_memberships, (_memberships.c.user_id == _users.c.id) & _memberships.c.active.is_(True))
    .where(_sessions.c.token_hash.in_(bindparam("token_hashes", expanding=True)))
)

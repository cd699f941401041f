"""Users and their roles. Account creation and every role change are audited (ICH E6(R3) §4.2.2)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.auth import hash_password, revoke_sessions
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action, Role
from equipoise.protocol.amendments import AddSite
from equipoise.protocol.text_policy import text_problem
from equipoise.services.free_text import clean_text
from equipoise.services.trials import protocol_of
from equipoise.store.audit import record_event
from equipoise.store.db import Database
from equipoise.store.models import Membership, Trial, User
from equipoise.store.types import utcnow


@dataclass(frozen=True)
class RoleView:
    id: int
    role: str
    trial_id: str | None
    site_id: str | None
    active: bool

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    full_name: str
    email: str | None
    active: bool
    locked: bool
    roles: list[RoleView]

    def to_dict(self) -> dict[str, object]:
        return {**{k: v for k, v in self.__dict__.items() if k != "roles"}, "roles": [r.to_dict() for r in self.roles]}


def _view(session: Session, user: User, memberships: list[Membership] | None = None) -> UserView:
    roles = memberships if memberships is not None else session.scalars(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)).all()
    return UserView(user.id, user.username, user.full_name, user.email, user.active,
                    user.locked_until is not None and user.locked_until > utcnow(),
                    [RoleView(m.id, m.role, m.trial_id, m.site_id, m.active) for m in roles])


UNBLINDED_USERS_ENV = "EQUIPOISE_UNBLINDED_USERS"


def _refuse_unlisted_unblinded(role: Role, username: str) -> None:
    """ACC-3 (clinicedc's allow-list of the unblinded randomization group): when $EQUIPOISE_UNBLINDED_USERS lists
    usernames (comma-separated), only they may hold an unblinded role; unset, anyone may."""
    listed = os.environ.get(UNBLINDED_USERS_ENV, "").strip()
    if not role.unblinded or not listed:
        return
    allowed = {name.strip() for name in listed.split(",") if name.strip()}
    if username not in allowed:
        raise InvalidError(f"{username} is not on this installation's list of people who may be unblinded "
                           f"(${UNBLINDED_USERS_ENV}): the {role.value} role is refused")


def _check_grant(session: Session, role: Role, trial_id: str | None, site_id: str | None,
                 user_id: int | None = None, pending: tuple[Role, ...] = (), username: str = "") -> None:
    """Whether this role can be given; ``pending``: roles in the same trial given in the same request."""
    _refuse_unlisted_unblinded(role, username)
    if role is Role.ADMIN:
        if trial_id is not None or site_id is not None:
            raise InvalidError("the admin role is system-wide: give no trial or site")
        return
    if trial_id is None:
        raise InvalidError(f"the {role.value} role needs a trial")
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFoundError(f"no trial {trial_id!r}")
    if role.site_scoped and site_id is None:
        raise InvalidError(f"the {role.value} role needs a site (--site)")
    if site_id is not None:
        protocol = protocol_of(trial)
        sites = [s.id for s in protocol.sites]
        sites += [c.site.id for a in protocol.amendments for c in a.changes if isinstance(c, AddSite)]
        if site_id not in sites:
            raise InvalidError(f"trial {trial_id} has no site {site_id!r} (sites: {', '.join(sites)})")
    _refuse_mixed_blinding(session, role, trial_id, user_id, pending)


def _refuse_mixed_blinding(session: Session, role: Role, trial_id: str, user_id: int | None,
                           pending: tuple[Role, ...]) -> None:
    """ACC-3 (clinicedc raise_if_prohibited_from_unblinded_rando_group; ICH E6(R3) 3.10): in one trial a person
    is blinded or unblinded, never both. A site investigator who is also the unblinded statistician would see
    every arm; someone who must change sides gives up the old role first (revoked, audited)."""
    held = list(pending)
    if user_id is not None:
        held += [Role(r) for r in session.scalars(select(Membership.role).where(
            Membership.user_id == user_id, Membership.trial_id == trial_id, Membership.active.is_(True)))]
    other = next((r for r in held if r.unblinded != role.unblinded), None)
    if other is not None:
        side = "unblinded" if role.unblinded else "blinded"
        raise InvalidError(f"the {role.value} role is {side}, and this user already holds the "
                           f"{'unblinded' if other.unblinded else 'blinded'} role {other.value} in trial {trial_id}: "
                           "in one trial a person is blinded or unblinded, not both (revoke the other role first)")


def add_user(db: Database, principal: Principal, username: str, full_name: str, password: str,
             email: str | None = None, roles: list[tuple[Role, str | None, str | None]] | None = None) -> UserView:
    principal.require(Action.MANAGE_USERS, None)
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidError("a username is 1-64 letters, digits, '.', '-' or '_'")
    for what, text in (("full name", full_name), ("email", email or "")):
        problem = text_problem(text, 200)
        if problem is not None:
            raise InvalidError(f"the {what} {problem}")
    password_hash = hash_password(password)
    with db.write(principal.audit_context(reason="user created")) as s:
        if s.scalar(select(User).where(User.username == username)) is not None:
            raise ConflictError(f"user {username!r} already exists")
        user = User(username=username, full_name=full_name or username, email=email, password_hash=password_hash)
        s.add(user)
        s.flush()
        given: list[tuple[Role, str | None]] = []
        for role, trial_id, site_id in roles or []:
            _check_grant(s, role, trial_id, site_id, None, tuple(r for r, t in given if t == trial_id), username)
            given.append((role, trial_id))
            s.add(Membership(user_id=user.id, role=role.value, trial_id=trial_id, site_id=site_id))
        s.flush()
        return _view(s, user)


def grant_role(db: Database, principal: Principal, username: str, role: Role, trial_id: str | None,
               site_id: str | None, reason: str | None = None) -> UserView:
    principal.require(Action.MANAGE_USERS, None)
    with db.write(principal.audit_context(reason=reason or "role granted")) as s:
        user = _user_named(s, username)
        _check_grant(s, role, trial_id, site_id, user.id, (), username)
        s.add(Membership(user_id=user.id, role=role.value, trial_id=trial_id, site_id=site_id))
        s.flush()
        return _view(s, user)


def revoke_role(db: Database, principal: Principal, membership_id: int, reason: str) -> None:
    principal.require(Action.MANAGE_USERS, None)
    reason = clean_text(reason, "a reason to revoke a role")
    with db.write(principal.audit_context(reason=reason)) as s:
        membership = s.get(Membership, membership_id)
        if membership is None:
            raise NotFoundError(f"no role assignment {membership_id}")
        membership.active = False


def reset_two_factor(db: Database, principal: Principal, username: str, reason: str) -> None:
    """An administrator turns off a user's two-factor login (a lost phone), with a reason; the user sets it up
    again after logging in with the password."""
    with _user_change(db, principal, username, reason, "reset two-factor login") as (_, user):
        user.totp_secret, user.totp_pending, user.totp_last_step = None, None, None


def reset_single_sign_on(db: Database, principal: Principal, username: str, reason: str) -> None:
    """An administrator unbinds a user's single sign-on identity (the provider gave the person a new one), with a
    reason; their next sign-on binds the identity it brings."""
    with _user_change(db, principal, username, reason, "reset single sign-on") as (_, user):
        user.oidc_subject = None


@contextmanager
def _user_change(db: Database, principal: Principal, username: str, reason: str, what: str
                 ) -> Iterator[tuple[Session, User]]:
    """The write session and the user's row, for an administrator's audited change (``what``: "reset two-factor
    login") made with a reason."""
    principal.require(Action.MANAGE_USERS, None)
    reason = clean_text(reason, f"a reason to {what}")
    with db.write(principal.audit_context(reason=reason)) as s:
        yield s, _user_named(s, username)


def _user_named(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def set_password(db: Database, principal: Principal, username: str, password: str) -> None:
    if not principal.is_admin and principal.username != username:
        raise InvalidError("you can only change your own password")
    password_hash = hash_password(password)
    with db.write(principal.audit_context(reason="password changed")) as s:
        user = _user_named(s, username)
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None
        revoke_sessions(s, user.id, "password changed", keep=principal.session_id)


def deactivate_user(db: Database, principal: Principal, username: str, reason: str) -> UserView:
    """An administrator deactivates an account, with a reason (audited): the user cannot log in (password or
    single sign-on) and every session and API token of theirs stops working at once. Roles stay as they were
    (the record of who could do what); ``activate_user`` undoes it. One's own account is refused: an
    installation must not lose its last administrator by a slip."""
    with _user_change(db, principal, username, reason, "deactivate a user") as (s, user):
        if principal.user_id is not None and user.id == principal.user_id:
            raise InvalidError("you cannot deactivate your own account: ask another administrator")
        if user.active:
            user.active = False
            record_event(s, "user.deactivated", details={"username": username})
        revoke_sessions(s, user.id, "user deactivated")
        s.flush()
        return _view(s, user)


def activate_user(db: Database, principal: Principal, username: str, reason: str) -> UserView:
    """Undo a deactivation, with a reason (audited); the user logs in again with their password."""
    with _user_change(db, principal, username, reason, "activate a user") as (s, user):
        if not user.active:
            user.active = True
            record_event(s, "user.activated", details={"username": username})
        s.flush()
        return _view(s, user)


def list_users(db: Database, principal: Principal, *, after_id: int = 0, limit: int | None = None) -> list[UserView]:
    """The users in id order; ``after_id`` and ``limit`` page them (keyset: the last id seen). Two statements a
    page: the users, then their roles."""
    principal.require(Action.MANAGE_USERS, None)
    with db.read() as s:
        users = list(s.scalars(select(User).where(User.id > after_id).order_by(User.id).limit(limit)))
        roles: dict[int, list[Membership]] = {u.id: [] for u in users}
        if users:
            for m in s.scalars(select(Membership).where(Membership.user_id.in_(list(roles)))
                               .order_by(Membership.id)):
                roles[m.user_id].append(m)
        return [_view(s, u, roles[u.id]) for u in users]

"""Trials: activate a protocol file, and the protocol in force on a date (amendments by effective date)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, DatabaseLockedError, ForbiddenError, InvalidError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import InvalidProtocolError, Protocol, validate_text
from equipoise.protocol.amendments import Amendment
from equipoise.services.free_text import clean_text
from equipoise.store.db import Database
from equipoise.store.models import Trial
from equipoise.store.types import iso
from equipoise.user_files import UnreadableFileError, read_user_text


@functools.lru_cache(maxsize=64)
def _parse(text: str, name: str) -> Protocol:
    report = validate_text(text, name)
    if report.protocol is None:
        raise InvalidProtocolError(report.problems)
    return report.protocol


@dataclass(frozen=True)
class TrialRecord:
    """What a request needs of a trial row, read without the ORM (``trial_record``)."""

    id: str
    blinded: bool
    unblinded_at: dt.datetime | None
    status: str
    protocol_sha256: str
    protocol_text: str


AnyTrial = Trial | TrialRecord
_trials = Trial.__table__
_TRIAL_ROW = select(_trials.c.blinded, _trials.c.unblinded_at, _trials.c.status, _trials.c.protocol_sha256).where(
    _trials.c.id == bindparam("trial_id"))
_TRIAL_TEXT = select(_trials.c.protocol_text).where(_trials.c.id == bindparam("trial_id"))
# (trial id, SHA-256 of its protocol file) -> the file's text. The text of a given digest never changes, so
# each server process reads a protocol file once per version (an amendment changes the digest), not per request.
_texts: dict[tuple[str, str], str] = {}


def trial_record(source: Session | Connection, trial_id: str) -> TrialRecord:
    """The trial as ``get_trial`` would find it, with its protocol text cached by content digest."""
    conn = source.connection() if isinstance(source, Session) else source
    row = conn.execute(_TRIAL_ROW, {"trial_id": trial_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"no trial {trial_id!r}")
    return trial_from_row(conn, trial_id, row.blinded, row.unblinded_at, row.status, row.protocol_sha256)


def refuse_if_database_locked(trial_id: str, status: str) -> None:
    """EDC-3: while the trial's database is locked nothing is entered or changed (423, with the reason)."""
    if status == "locked":
        raise DatabaseLockedError(f"the database of trial {trial_id} is locked: nothing can be entered or changed "
                                  "until it is unlocked, with a reason")


def trial_from_row(conn: Connection, trial_id: str, blinded: bool, unblinded_at: dt.datetime | None, status: str,
                   protocol_sha256: str) -> TrialRecord:
    """The trial from its columns read by another statement (one joined to a caller's own row), text cached."""
    text = _texts.get((trial_id, protocol_sha256))
    if text is None:
        text = conn.execute(_TRIAL_TEXT, {"trial_id": trial_id}).scalar_one()
        if hashlib.sha256(text.encode()).hexdigest() == protocol_sha256:
            if len(_texts) > 256:
                _texts.clear()
            _texts[(trial_id, protocol_sha256)] = text
    return TrialRecord(trial_id, blinded, unblinded_at, status, protocol_sha256, text)


def protocol_of(trial: AnyTrial) -> Protocol:
    """The parsed protocol of a trial (cached by content: parsing on every request would be wasteful)."""
    return _parse(trial.protocol_text, f"{trial.id}.yaml")


@functools.lru_cache(maxsize=256)
def _in_force(text: str, name: str, on: dt.date) -> Protocol:
    return _parse(text, name).in_force(on)


def in_force(trial: AnyTrial, on: dt.date) -> Protocol:
    """The protocol in force on a date (cached: the text of an activated protocol never changes)."""
    try:
        return _in_force(trial.protocol_text, f"{trial.id}.yaml", on)
    except ValueError as exc:
        raise InvalidError(str(exc)) from None


def get_trial(session: Session, trial_id: str) -> Trial:
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFoundError(f"no trial {trial_id!r}")
    return trial


@dataclass(frozen=True)
class TrialView:
    id: str
    title: str
    version: str
    blinded: bool
    status: str
    protocol_sha256: str
    created_at: str
    unblinded_at: str | None
    locked_at: str | None
    retention_years: int
    retain_until: str | None  # None until the database lock, from which the retention period runs
    purpose: str  # production, or test (RND-8: a copy to try the setup out)
    versions: list[dict[str, str]]
    sites: list[dict[str, str]]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def trial_view(trial: Trial, on: dt.date | None = None) -> TrialView:
    protocol = protocol_of(trial)
    today = on or dt.datetime.now(dt.UTC).date()
    try:
        current = protocol.in_force(today)
    except ValueError:
        current = protocol
    return TrialView(
        id=trial.id, title=trial.title, version=current.trial.version, blinded=trial.blinded, status=trial.status,
        protocol_sha256=trial.protocol_sha256, created_at=iso(trial.created_at),
        unblinded_at=iso(trial.unblinded_at) if trial.unblinded_at else None,
        locked_at=iso(trial.locked_at) if trial.locked_at else None,
        retention_years=protocol.trial.retention_years,
        retain_until=retained_until(protocol, trial.locked_at),
        purpose=trial.purpose or "production",
        versions=[{"version": v, "effective_date": d.isoformat()} for v, d in protocol.versions()],
        sites=[{"id": s.id, "name": s.name, "country": s.country, "timezone": s.timezone} for s in current.sites],
    )


def retained_until(protocol: Protocol, locked_at: dt.datetime | None) -> str | None:
    """The last day the trial's records must be kept (RET-1): ``retention_years`` after the database lock's UTC
    date (29 February to 28 February), or None while the trial is not locked."""
    if locked_at is None:
        return None
    start = locked_at.astimezone(dt.UTC).date()
    year = start.year + protocol.trial.retention_years
    try:
        return start.replace(year=year).isoformat()
    except ValueError:
        return start.replace(year=year, day=28).isoformat()


def create_trial(db: Database, principal: Principal, text: str, filename: str = "protocol.yaml",
                 reauthenticate: Callable[[], None] | None = None, test: bool = False) -> TrialView:
    """Activate a protocol: the file is validated and stored verbatim with its SHA-256. ``reauthenticate`` (the
    API's: the password again, ACC-4) runs once the principal is known to be allowed. ``test``: a test trial
    (RND-8), to try the setup out with test lists before the production trial opens."""
    principal.require(Action.CREATE_TRIAL, None)
    if reauthenticate is not None:
        reauthenticate()
    report = validate_text(text, filename)
    if report.protocol is None:
        raise InvalidError("the protocol file is not valid:\n" + "\n".join(str(p) for p in report.errors),
                      {"problems": [p.to_dict() for p in report.problems]})
    protocol = report.protocol
    if protocol.randomization is None and protocol.is_controlled:
        raise InvalidError("the protocol has several arms but no randomization section")
    with db.write(principal.audit_context(reason="trial activated", protocol_version=protocol.trial.version)) as s:
        if s.get(Trial, protocol.trial.id) is not None:
            raise ConflictError(f"trial {protocol.trial.id!r} already exists")
        trial = Trial(id=protocol.trial.id, title=protocol.trial.title, protocol_text=text,
                      protocol_sha256=hashlib.sha256(text.encode()).hexdigest(),
                      blinded=protocol.trial.blinding.is_blinded, status="active",
                      purpose="test" if test else "production")
        s.add(trial)
        s.flush()
        return trial_view(trial)


def create_trial_from_file(db: Database, principal: Principal, path: Path, test: bool = False) -> TrialView:
    try:
        text = read_user_text(path)
    except UnreadableFileError as exc:
        raise InvalidError(str(exc)) from None
    return create_trial(db, principal, text, str(path), test=test)


def list_trials(db: Database, principal: Principal, *, after_id: str = "",
                limit: int | None = None) -> list[TrialView]:
    """The trials this principal sees, in id order; ``after_id`` and ``limit`` page them (keyset: the last trial
    id seen)."""
    query = select(Trial).where(Trial.id > after_id).order_by(Trial.id).limit(limit)
    if not (principal.is_admin or principal.can(Action.VIEW_TRIAL, None)):
        visible = {g.trial_id for g in principal.grants
                   if g.trial_id is not None and principal.can(Action.VIEW_TRIAL, g.trial_id)}
        query = query.where(Trial.id.in_(sorted(visible)))
    with db.read() as s:
        return [trial_view(t) for t in s.scalars(query)]


def amend_trial(db: Database, principal: Principal, text: str, reason: str, filename: str = "protocol.yaml",
                today: dt.date | None = None, expect_trial: str | None = None,
                reauthenticate: Callable[[], None] | None = None) -> TrialView:
    """Load a new version of an active trial's protocol file that adds amendments (audited, reason required).

    What was in force on any past day must not change, since allocations already record it: the new file keeps
    the trial's identity and base version and every earlier amendment unchanged, and each new amendment takes
    effect today or later.
    """
    principal.require(Action.CREATE_TRIAL, None)
    if reauthenticate is not None:
        reauthenticate()
    reason = clean_text(reason, "a reason to amend a trial")
    new = _amending_protocol(text, filename, expect_trial)
    day = today or dt.datetime.now(dt.UTC).date()
    with db.write(principal.audit_context(reason=reason, protocol_version=new.trial.version)) as s:
        trial = get_trial(s, new.trial.id)
        _added_amendments(protocol_of(trial), new, day)
        trial.protocol_text = text
        trial.protocol_sha256 = hashlib.sha256(text.encode()).hexdigest()
        s.flush()
        return trial_view(trial, day)


def _amending_protocol(text: str, filename: str, expect_trial: str | None) -> Protocol:
    report = validate_text(text, filename)
    if report.protocol is None:
        raise InvalidError("the protocol file is not valid:\n" + "\n".join(str(p) for p in report.errors),
                           {"problems": [p.to_dict() for p in report.problems]})
    new = report.protocol
    if expect_trial is not None and new.trial.id != expect_trial:
        raise InvalidError(f"the file describes trial {new.trial.id}, not {expect_trial}")
    return new


def _added_amendments(old: Protocol, new: Protocol, day: dt.date) -> list[Amendment]:
    """The amendments ``new`` adds to ``old``, refused unless only new amendments, from ``day`` on, are added."""
    if new.model_dump(exclude={"amendments"}) != old.model_dump(exclude={"amendments"}):
        raise ConflictError("only new amendments may be added: the rest of the protocol file must stay as it "
                            "was activated (add an amendment to change arms, allocation or sites)")
    kept = [a.model_dump() for a in new.amendments[: len(old.amendments)]]
    if kept != [a.model_dump() for a in old.amendments]:
        raise ConflictError("earlier amendments cannot be changed or removed: allocations record them")
    added = list(new.amendments[len(old.amendments):])
    if not added:
        raise ConflictError("the file adds no amendment")
    late = [a.version for a in added if a.effective_date < day]
    if late:
        raise ConflictError(f"amendment {', '.join(late)} would take effect before today ({day.isoformat()}): "
                            "what was in force on a past day cannot change")
    return added


def check_amendment(db: Database, principal: Principal, text: str, filename: str = "protocol.yaml",
                    today: dt.date | None = None, expect_trial: str | None = None) -> list[Amendment]:
    """What ``amend_trial`` would add (each amendment: its version, from when, its changes), with the same checks
    and refusals, writing nothing: the page shows it before the administrator activates it."""
    principal.require(Action.CREATE_TRIAL, None)
    new = _amending_protocol(text, filename, expect_trial)
    with db.read() as s:
        old = protocol_of(get_trial(s, new.trial.id))
    return _added_amendments(old, new, today or dt.datetime.now(dt.UTC).date())


def require_trial_access(principal: Principal, trial_id: str) -> None:
    """Who may read a trial and its protocol: an administrator, or anyone with a role in the trial (else 403)."""
    if not principal.is_admin and not principal.can(Action.VIEW_TRIAL, trial_id):
        raise ForbiddenError(f"you have no role in trial {trial_id}")


def trial_for(db: Database, principal: Principal, trial_id: str) -> TrialView:
    """The trial as the API shows it, to those who may read it."""
    require_trial_access(principal, trial_id)
    with db.read() as s:
        return trial_view(get_trial(s, trial_id))


def protocol_for(db: Database, principal: Principal, trial_id: str, on: dt.date | None = None) -> dict[str, Any]:
    """The protocol in force on a date (default today, UTC), to those who may read the trial; block sizes are left
    out for roles that may not see arms (they would let a site guess the next allocation)."""
    require_trial_access(principal, trial_id)
    with db.read() as s:
        trial = get_trial(s, trial_id)
    date = on or dt.datetime.now(dt.UTC).date()
    protocol = in_force(trial, date)
    data = protocol.summary_dict()
    settings = data.get("randomization")
    if not principal.sees_arms(trial.id, trial.blinded, trial.unblinded_at) and isinstance(settings, dict):
        settings.pop("block_sizes", None)
    return {"in_force_on": date.isoformat(), "version": protocol.trial.version, "protocol": data}

"""Trials: activate a protocol file, and the protocol in force on a date (amendments by effective date)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.protocol import InvalidProtocolError, Protocol, validate_text
from equipoise.store.db import Database
from equipoise.store.errors import ConflictError, InvalidError, NotFoundError
from equipoise.store.models import Trial
from equipoise.store.principal import Principal
from equipoise.store.roles import Action
from equipoise.store.types import iso


@functools.lru_cache(maxsize=64)
def _parse(text: str, name: str) -> Protocol:
    report = validate_text(text, name)
    if report.protocol is None:
        raise InvalidProtocolError(report.problems)
    return report.protocol


def protocol_of(trial: Trial) -> Protocol:
    """The parsed protocol of a trial (cached by content: parsing on every request would be wasteful)."""
    return _parse(trial.protocol_text, f"{trial.id}.yaml")


@functools.lru_cache(maxsize=256)
def _in_force(text: str, name: str, on: dt.date) -> Protocol:
    return _parse(text, name).in_force(on)


def in_force(trial: Trial, on: dt.date) -> Protocol:
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
        versions=[{"version": v, "effective_date": d.isoformat()} for v, d in protocol.versions()],
        sites=[{"id": s.id, "name": s.name, "country": s.country, "timezone": s.timezone} for s in current.sites],
    )


def create_trial(db: Database, principal: Principal, text: str, filename: str = "protocol.yaml") -> TrialView:
    """Activate a protocol: the file is validated and stored verbatim with its SHA-256."""
    principal.require(Action.CREATE_TRIAL, None)
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
                      blinded=protocol.trial.blinding.is_blinded, status="active")
        s.add(trial)
        s.flush()
        return trial_view(trial)


def create_trial_from_file(db: Database, principal: Principal, path: Path) -> TrialView:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidError(f"{path}: cannot read the file: {exc}") from None
    return create_trial(db, principal, text, str(path))


def list_trials(db: Database, principal: Principal) -> list[TrialView]:
    with db.read() as s:
        trials = s.scalars(select(Trial).order_by(Trial.id)).all()
        return [trial_view(t) for t in trials if principal.is_admin or principal.can(Action.VIEW_TRIAL, t.id)]

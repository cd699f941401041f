"""Reading the audit trail through the API: filtered by role, secrets masked for blinded readers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from equipoise.errors import ForbiddenError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import visible_sites
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, Trial
from equipoise.store.schema import audited_models
from equipoise.store.types import iso

MASK = "(blinded)"
SECRET_EVENT_KEYS = frozenset({"arm", "state", "draws", "diagnostics", "probabilities"})


def _masked(values: dict[str, Any] | None, secret: frozenset[str]) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: (MASK if k in secret else v) for k, v in values.items()}


def read_audit(db: Database, principal: Principal, *, trial_id: str | None = None, table: str | None = None,
               record_id: str | None = None, actor: str | None = None, action: str | None = None,
               since: dt.datetime | None = None, until: dt.datetime | None = None, patient_id: int | None = None,
               site_id: str | None = None, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """Entries in order, filtered (AUD-7: by trial, table, record, subject, site, user, action and time, [since,
    until)). ``patient_id``: one subject's whole history, i.e. the patient's row and every row of a table that
    belongs to the patient (forms, allocation, queries, signatures, locks, unblindings, ...).

    A reader whose role is scoped to some sites (a monitor of one hospital) sees the entries of those sites only:
    not another site's patients, nor the trial- and system-wide entries (amendments, lists, users), nor entries
    written before entries named their site (migration 0020)."""
    if not principal.is_admin and (trial_id is None or not principal.can(Action.VIEW_AUDIT, trial_id)):
        raise ForbiddenError("your role does not allow view-audit" + ("" if trial_id else ": give a trial_id"))
    if trial_id is not None:
        sites = visible_sites(principal, Action.VIEW_AUDIT, trial_id, site_id)
    else:  # the admin's whole trail
        sites = {site_id} if site_id is not None else None
    secrets_by_table = {m.__tablename__: m.__audit_secret__ for m in audited_models()}
    with db.read() as s:
        trials = {t.id: t for t in s.scalars(select(Trial))}
        query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(min(limit, 1000))
        if trial_id is not None:
            query = query.where(AuditEntry.trial_id == trial_id)
        if table is not None:
            query = query.where(AuditEntry.table_name == table)
        if record_id is not None:
            query = query.where(AuditEntry.record_id == record_id)
        if sites is not None:
            query = query.where(AuditEntry.site_id.in_(sorted(sites)))
        if patient_id is not None:
            # the patient's entry ids first, through the (table_name, record_id) index, then those rows by id: the
            # cost follows the patient's history, not the trial's (a filter on trial_id as well would let the
            # planner walk every entry of the trial instead)
            ids = list(s.scalars(select(AuditEntry.id).where(_subject(s, patient_id), AuditEntry.id > after_id)))
            query = query.where(AuditEntry.id.in_(ids))
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        # ``at`` is stored as fixed-width ISO 8601 UTC text (``iso``), so text order is time order.
        if since is not None:
            query = query.where(AuditEntry.at >= iso(_aware(since)))
        if until is not None:
            query = query.where(AuditEntry.at < iso(_aware(until)))
        out = []
        for e in s.scalars(query):
            trial = trials.get(e.trial_id) if e.trial_id else None
            sees = trial is None or principal.sees_arms(trial.id, trial.blinded, trial.unblinded_at)
            secret = frozenset() if sees else secrets_by_table.get(e.table_name or "", SECRET_EVENT_KEYS)
            out.append({"id": e.id, "at": e.at, "actor": e.actor, "actor_id": e.actor_id, "action": e.action,
                        "table": e.table_name, "record_id": e.record_id, "trial_id": e.trial_id,
                        "old_values": _masked(e.old_values, secret), "new_values": _masked(e.new_values, secret),
                        "site_id": e.site_id, "reason": e.reason, "source": e.source,
                        "protocol_version": e.protocol_version,
                        "actor_name": e.actor_name, "app_version": e.app_version,
                        "prev_hash": e.prev_hash, "hash": e.hash})
        return out


def _aware(value: dt.datetime) -> dt.datetime:
    """A time without a zone is read as UTC, the trail's own zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _subject(s: Session, patient_id: int) -> ColumnElement[bool]:
    """The entries of one patient: its own row, and the rows of audited tables whose ``patient_id`` is it (found
    in the current tables; an update entry carries only the changed columns, so the record ids come from there)."""
    parts = [and_(AuditEntry.table_name == "patients", AuditEntry.record_id == str(patient_id))]
    for model in audited_models():
        column = getattr(model, "patient_id", None)
        if column is None or model.__tablename__ == "patients":
            continue
        ids = [str(i) for i in s.scalars(select(model.id).where(column == patient_id))]  # type: ignore[attr-defined]
        if ids:
            parts.append(and_(AuditEntry.table_name == model.__tablename__, AuditEntry.record_id.in_(ids)))
    return or_(*parts)

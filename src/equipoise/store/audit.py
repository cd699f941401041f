"""The audit trail: every ORM change to an audited table becomes an entry, in the same transaction.

How it works (AUD, 21 CFR 11.10(e), ICH E6(R3) §4.2.2):

- ``after_flush`` turns each insert, update and delete of an audited row into a pending entry with the old
  and new values of the columns that changed, plus who, why, from where and the protocol version taken from
  the session's ``AuditContext``.
- The enrol and randomize hot path writes its rows with single Core statements instead
  (``equipoise.store.core_rows``), which append exactly the entry this hook would have built to the same
  pending list.
- ``before_commit`` locks the chain's head row, numbers the pending entries after it, chains each to the
  previous one by SHA-256, signs each hash and the new head with an HMAC under the server's key (which the
  database does not hold: ``equipoise.store.audit_keys``), inserts them and moves the head (one statement on
  PostgreSQL for a single entry): the change and its audit entries commit or roll back together.
- Bulk ``UPDATE``/``DELETE`` statements on audited tables are refused (they would skip the trail, the gap
  reported for django-simple-history #174/#528); on PostgreSQL a trigger also refuses any UPDATE or DELETE of
  ``audit_log`` itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from equipoise import __version__
from equipoise.store.audit_keys import AuditKeys
from equipoise.store.base import Base
from equipoise.store.models import GENESIS_HASH, AuditEntry, AuditHead, Patient
from equipoise.store.types import iso, utcnow

PENDING = "equipoise_audit_pending"
CONTEXT = "equipoise_audit_context"
KEYS = "equipoise_audit_keys"  # on a write connection's info: a callable returning the keys that sign its entries


@dataclass(frozen=True)
class AuditContext:
    """Who is acting, from where, and why; attached to a session before it changes anything."""

    actor: str = "system"
    actor_id: int | None = None
    source: str | None = None
    reason: str | None = None
    protocol_version: str | None = None
    actor_name: str | None = None  # the printed name, as a signature shows it


@dataclass
class PendingEntry:
    action: str
    table_name: str | None
    record_id: str | None
    trial_id: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    context: AuditContext
    protocol_version: str | None = None
    at: dt.datetime = field(default_factory=utcnow)
    site_id: str | None = None
    patient_id: int | None = None  # the patient the entry is about: its site, when not known here, is looked up


def set_context(session: Session, context: AuditContext) -> None:
    session.info[CONTEXT] = context


def get_context(session: Session) -> AuditContext:
    ctx = session.info.get(CONTEXT)
    return ctx if isinstance(ctx, AuditContext) else AuditContext()


def with_reason(session: Session, reason: str | None) -> None:
    set_context(session, replace(get_context(session), reason=reason))


def json_value(value: object) -> Any:
    """A column value as JSON (timestamps in the one ISO form, dates as YYYY-MM-DD)."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def digest(value: object) -> str:
    return "sha256:" + hashlib.sha256(canonical(value).encode()).hexdigest()


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def audit_value(model: type[Base], column: str, value: object) -> Any:
    """What the trail stores for a column: the value, or its digest for ``__audit_digest__`` columns."""
    value = json_value(value)
    if column in model.__audit_digest__ and value is not None:
        return digest(value)
    return value


def row_values(obj: Base) -> dict[str, Any]:
    """Every column of an audited row as the trail stores it (used for inserts, deletes and verification)."""
    model = type(obj)
    mapper = inspect(model)
    return {c.key: audit_value(model, c.key, getattr(obj, c.key)) for c in mapper.column_attrs}


def record_id_of(obj: Base) -> str:
    identity = inspect(type(obj)).primary_key_from_instance(obj)
    if any(part is None for part in identity):
        raise RuntimeError(f"{type(obj).__name__} has no primary key yet")
    return "/".join(str(part) for part in identity)


def record_event(
    session: Session,
    action: str,
    *,
    trial_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    table_name: str | None = None,
    record_id: str | None = None,
    context: AuditContext | None = None,
    site_id: str | None = None,
) -> None:
    """Append an event that changes no audited row (a login, a failed login, a refused enrolment).

    Its site: ``site_id``, else the ``site_id`` of its details, else the site of the patient its details name."""
    ctx = context or get_context(session)
    values = dict(details or {})
    site = site_id if site_id is not None else values.get("site_id")
    patient = values.get("patient_id")
    session.info.setdefault(PENDING, []).append(
        PendingEntry(action, table_name, record_id, trial_id, None, values, ctx, ctx.protocol_version,
                     site_id=site if isinstance(site, str) else None,
                     patient_id=patient if isinstance(patient, int) else None)
    )


def _changes(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    model = type(obj)
    state = inspect(obj)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for attr in inspect(model).column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if audit_value(model, attr.key, before) == audit_value(model, attr.key, after):
            continue
        old[attr.key] = audit_value(model, attr.key, before)
        new[attr.key] = audit_value(model, attr.key, after)
    return old, new


def row_entry(action: str, table_name: str, record_id: str, trial_id: object, protocol_version: object,
              old: dict[str, Any] | None, new: dict[str, Any] | None, ctx: AuditContext, *,
              site_id: object = None, patient_id: object = None) -> PendingEntry:
    """The entry of one row's change: the trial, protocol version, site and patient the row names, else the
    context's version (the ORM hook and the Core hot path, ``equipoise.store.core_rows``, both build their entries
    here). A patient's own row is its patient."""
    version = protocol_version or ctx.protocol_version
    if table_name == "patients":
        patient_id = int(record_id)
    return PendingEntry(action, table_name, record_id, trial_id if isinstance(trial_id, str) else None, old, new,
                        ctx, version if isinstance(version, str) else None,
                        site_id=site_id if isinstance(site_id, str) else None,
                        patient_id=patient_id if isinstance(patient_id, int) else None)


def _entry_for(obj: Base, action: str, old: dict[str, Any] | None, new: dict[str, Any] | None,
               ctx: AuditContext) -> PendingEntry:
    table = type(obj).__tablename__
    trial_id = getattr(obj, "id" if table == "trials" else "trial_id", None)
    return row_entry(action, table, record_id_of(obj), trial_id, getattr(obj, "protocol_version", None), old, new,
                     ctx, site_id=getattr(obj, "site_id", None), patient_id=getattr(obj, "patient_id", None))


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context: object) -> None:
    ctx = get_context(session)
    pending: list[PendingEntry] = session.info.setdefault(PENDING, [])
    for obj in session.new:
        if isinstance(obj, Base) and obj.__audited__:
            pending.append(_entry_for(obj, "insert", None, row_values(obj), ctx))
    for obj in session.dirty:
        if isinstance(obj, Base) and obj.__audited__ and session.is_modified(obj, include_collections=False):
            old, new = _changes(obj)
            if new:
                pending.append(_entry_for(obj, "update", old, new, ctx))
    for obj in session.deleted:
        if isinstance(obj, Base) and obj.__audited__:
            pending.append(_entry_for(obj, "delete", row_values(obj), None, ctx))


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous entry's hash and this entry's fields in canonical JSON."""
    return hashlib.sha256((prev_hash + "\n" + canonical(dict(fields))).encode()).hexdigest()


HASHED = ("id", "at", "actor_id", "actor", "action", "table_name", "record_id", "trial_id", "old_values",
          "new_values", "reason", "source", "protocol_version", "prev_hash")
# added later: an entry without them hashes as it always did
HASHED_WHEN_SET = ("actor_name", "app_version", "site_id")


def hashed_fields(entry: AuditEntry | Mapping[str, Any]) -> dict[str, Any]:
    get = (lambda n: getattr(entry, n)) if isinstance(entry, AuditEntry) else entry.get
    fields = {n: get(n) for n in HASHED}
    fields.update({n: get(n) for n in HASHED_WHEN_SET if get(n) is not None})
    return fields


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    session.flush()
    pending: list[PendingEntry] = session.info.pop(PENDING, [])
    if not pending:
        return
    conn = session.connection()
    # The head row is locked last in every transaction, and held only until commit: appends are serialized
    # without forking the chain, and lock order (patient, state, head) cannot deadlock.
    head = conn.execute(_HEAD_FOR_UPDATE).one_or_none()
    if head is None:
        raise RuntimeError("the audit chain has no head row: run the database migrations")
    last_id, last_hash = head
    keys = _signing_keys(conn)
    sites = _patient_sites(conn, pending)
    rows = []
    for entry in pending:
        last_id += 1
        fields = {
            "id": last_id,
            "at": iso(entry.at),
            "actor_id": entry.context.actor_id,
            "actor": entry.context.actor,
            "action": entry.action,
            "table_name": entry.table_name,
            "record_id": entry.record_id,
            "trial_id": entry.trial_id,
            "old_values": entry.old_values,
            "new_values": entry.new_values,
            "reason": entry.context.reason,
            "source": entry.context.source,
            "protocol_version": entry.protocol_version,
            "actor_name": entry.context.actor_name,
            "app_version": __version__,
            "site_id": entry.site_id or (sites.get(entry.patient_id) if entry.patient_id is not None else None),
            "prev_hash": last_hash,
        }
        last_hash = entry_hash(last_hash, hashed_fields(fields))
        rows.append({**fields, "hash": last_hash, "key_id": keys.current_id, "mac": keys.entry_mac(last_hash)})
    head_values = {"last_id": last_id, "last_hash": last_hash, "key_id": keys.current_id,
                   "mac": keys.head_mac(last_id, last_hash)}
    if len(rows) == 1 and conn.dialect.name == "postgresql":
        # One entry (an enrolment, most single changes): insert it and move the head in one statement, one
        # round trip, through a data-modifying CTE that PostgreSQL runs exactly once (SQLite has no such CTE).
        # Only for one row: a multi-row VALUES insert is never in SQLAlchemy's compiled cache, and compiling it
        # on every commit costs more CPU than the round trip it saves.
        params = {f"entry_{key}": value for key, value in rows[0].items()}
        conn.execute(_APPEND_MOVING_HEAD, {**params, **{f"head_{key}": value for key, value in head_values.items()}})
        return
    conn.execute(_APPEND, rows)
    conn.execute(_MOVE_HEAD, head_values)


def _signing_keys(conn: Connection) -> AuditKeys:
    """The keys the connection's database signs with (``Database`` puts them on every write connection)."""
    provider = conn.info.get(KEYS)
    if provider is None:
        raise RuntimeError("this connection has no audit keys: write through equipoise.store.db.Database")
    return cast(Callable[[], AuditKeys], provider)()


def _patient_sites(conn: Connection, pending: list[PendingEntry]) -> dict[int, str]:
    """The site of each patient the pending entries are about: from the entries that name both (a patient's own
    row names its site), else one query for the rest (none on the enrol and randomize path)."""
    sites = {e.patient_id: e.site_id for e in pending if e.patient_id is not None and e.site_id is not None}
    unknown = {e.patient_id for e in pending if e.site_id is None and e.patient_id is not None} - sites.keys()
    if unknown:
        found = conn.execute(select(_patients.c.id, _patients.c.site_id).where(_patients.c.id.in_(sorted(unknown))))
        sites.update((patient_id, site_id) for patient_id, site_id in found)
    return sites


# Built once (the seal runs in every write transaction); Core tables, so no ORM compilation either.
_head, _log = cast(Table, AuditHead.__table__), cast(Table, AuditEntry.__table__)
_patients = cast(Table, Patient.__table__)
_HEAD_FOR_UPDATE = select(_head.c.last_id, _head.c.last_hash).where(_head.c.id == 1).with_for_update()
_APPEND = insert(_log)
_MOVE_HEAD = update(_head).where(_head.c.id == 1)
_MOVE_HEAD_CTE = update(_head).where(_head.c.id == 1).values(
    {name: bindparam(f"head_{name}", type_=_head.c[name].type) for name in ("last_id", "last_hash", "key_id", "mac")}
).cte("moved_head")
_APPEND_MOVING_HEAD = insert(_log).values(
    {c.name: bindparam(f"entry_{c.name}", type_=c.type) for c in _log.columns}).add_cte(_MOVE_HEAD_CTE)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    """Bulk UPDATE/DELETE would change audited rows without a trail entry: refuse them."""
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if getattr(mapper.class_, "__audited__", False):
            raise RuntimeError(f"bulk {'update' if state.is_update else 'delete'} of audited table "
                               f"{mapper.class_.__tablename__} is not allowed: change rows one by one")


def initial_head() -> dict[str, Any]:
    return {"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}


__all__ = [
    "AuditContext",
    "audit_value",
    "canonical",
    "digest",
    "entry_hash",
    "hashed_fields",
    "initial_head",
    "record_event",
    "row_values",
    "set_context",
]

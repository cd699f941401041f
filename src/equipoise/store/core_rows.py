"""Audited inserts and updates as single Core statements, for the enrol and randomize hot path.

The ORM hook in ``equipoise.store.audit`` turns every flushed ORM change into an audit entry; the ORM unit of
work costs several times the SQL it emits, though, and the two requests every site makes per patient are the
server's busiest. These helpers write a row with one Core statement and add exactly the entry the hook would
have added (same action, table, record id, trial, protocol version, old and new values, as
``audit.row_values``/``_changes`` compute them), to the same session's pending list: the change and its entry
still commit or roll back together, and ``equipoise audit verify`` checks them like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Insert, Table, Update, bindparam, insert, inspect, update
from sqlalchemy.orm import Session

from equipoise.store.audit import PENDING, audit_value, get_context, row_entry
from equipoise.store.base import Base


def _columns(model: type[Base]) -> list[str]:
    return [attr.key for attr in inspect(model).column_attrs]


@functools.cache
def _statements(model: type[Base]) -> tuple[Insert, Update]:
    """The model's insert and update, built once: the values travel as parameters, so SQLAlchemy compiles each
    statement once per set of columns instead of building a new statement per row."""
    table = cast(Table, model.__table__)
    return (insert(table).returning(table.c.id), update(table).where(table.c.id == bindparam("row_id")))


def _pending(session: Session, model: type[Base], action: str, row: Mapping[str, Any],
             old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    session.info.setdefault(PENDING, []).append(row_entry(
        action, model.__tablename__, str(row["id"]), row.get("trial_id"), row.get("protocol_version"), old, new,
        get_context(session), site_id=row.get("site_id"), patient_id=row.get("patient_id")))


def insert_row(session: Session, model: type[Base], values: Mapping[str, Any]) -> int:
    """Insert one row of an audited table with an integer ``id`` (every column but ``id`` given); its id."""
    new_id = session.connection().execute(_statements(model)[0], dict(values)).scalar_one()
    row = {**values, "id": new_id}
    _pending(session, model, "insert", row, None, {c: audit_value(model, c, row.get(c)) for c in _columns(model)})
    return int(new_id)


def update_row(session: Session, model: type[Base], row: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
    """Update columns of one audited row (``row``: its current values, at least id, trial_id and the changed
    columns, and its site or patient if it has one; the caller holds its lock) and audit the columns whose stored
    value really changes."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for column, value in changes.items():
        before, after = audit_value(model, column, row[column]), audit_value(model, column, value)
        if before != after:
            old[column], new[column] = before, after
    session.connection().execute(_statements(model)[1], {**changes, "row_id": row["id"]})
    if new:
        _pending(session, model, "update", row, old, new)

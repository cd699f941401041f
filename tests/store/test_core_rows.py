"""The hot path's Core writes (``store.core_rows``) leave exactly the audit entries the ORM hook would.

The same patient is written once through the ORM and once through ``insert_row``/``update_row``; their audit
entries must agree field by field (apart from ids and times), and ``audit verify`` must accept the result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from equipoise.identity.principal import system_principal
from equipoise.integrity.audit_verify import verify
from equipoise.services.trials import create_trial_from_file
from equipoise.store.audit import AuditContext, row_values
from equipoise.store.core_rows import insert_row, update_row
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, Patient
from equipoise.store.types import utcnow
from tests.store.support import DEMO

CONTEXT = AuditContext(actor="alice", actor_id=None, source="10.0.0.1", reason="enrolment", protocol_version="9.9")
COMPARED = ("action", "table_name", "trial_id", "actor", "actor_id", "reason", "source", "protocol_version")


def _patient(key: str) -> dict[str, Any]:
    return {"trial_id": "MSC-COVID-RCT", "site_id": "pumch", "enrolment_values": {"age": 50, "sex": "female"},
            "enrolment_date": dt.date(2026, 1, 2), "protocol_version": "1.0", "status": "enrolled",
            "idempotency_key": key, "enrolled_by": None, "enrolled_at": utcnow()}


def _entries(db: Database) -> list[AuditEntry]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.table_name == "patients").order_by(AuditEntry.id)))


@pytest.fixture
def trial_db(db: Database) -> Database:
    create_trial_from_file(db, system_principal("test"), DEMO)
    return db


def test_core_insert_and_update_audit_like_the_orm(trial_db: Database):
    db = trial_db
    orm_values = _patient("orm")
    with db.write(CONTEXT) as s:
        s.add(Patient(**orm_values))
    with db.write(CONTEXT) as s:
        core_id = insert_row(s, Patient, _patient("core"))
    with db.write(CONTEXT) as s:
        orm_patient = s.scalars(select(Patient).where(Patient.idempotency_key == "orm")).one()
        orm_patient.status = "randomized"
    with db.write(CONTEXT) as s:
        row = s.connection().execute(select(Patient.__table__).where(Patient.id == core_id)).one()._asdict()
        update_row(s, Patient, row, {"status": "randomized", "site_id": "pumch"})  # site_id unchanged: not audited
    orm_insert, core_insert, orm_update, core_update = _entries(db)
    assert core_insert.record_id == str(core_id)
    for orm_entry, core_entry in ((orm_insert, core_insert), (orm_update, core_update)):
        assert {f: getattr(core_entry, f) for f in COMPARED} == {f: getattr(orm_entry, f) for f in COMPARED}
    # The row's own protocol version wins over the context's, as in the ORM hook.
    assert core_insert.protocol_version == "1.0"
    with db.read() as s:
        stored = s.get(Patient, core_id)
        assert stored is not None
        assert core_insert.new_values == {**row_values(stored), "status": "enrolled"}
    assert orm_insert.new_values is not None
    assert core_insert.new_values is not None
    expected = {k: v for k, v in orm_insert.new_values.items() if k not in ("id", "idempotency_key", "enrolled_at")}
    assert {k: v for k, v in core_insert.new_values.items() if k in expected} == expected
    assert core_update.old_values == {"status": "enrolled"}
    assert core_update.new_values == {"status": "randomized"}
    assert verify(db).ok


def test_core_update_without_a_change_writes_no_entry(trial_db: Database):
    db = trial_db
    with db.write(CONTEXT) as s:
        patient_id = insert_row(s, Patient, _patient("same"))
    before = len(_entries(db))
    with db.write(CONTEXT) as s:
        row = s.connection().execute(select(Patient.__table__).where(Patient.id == patient_id)).one()._asdict()
        update_row(s, Patient, row, {"status": "enrolled"})
    assert len(_entries(db)) == before
    assert verify(db).ok


def test_core_insert_rolls_back_with_its_entry(trial_db: Database):
    db = trial_db
    before = len(_entries(db))

    def failing_request() -> None:
        with db.write(CONTEXT) as s:
            insert_row(s, Patient, _patient("gone"))
            raise RuntimeError("the request failed after the insert")

    with pytest.raises(RuntimeError):
        failing_request()
    assert len(_entries(db)) == before
    with db.read() as s:
        assert s.scalars(select(Patient).where(Patient.idempotency_key == "gone")).first() is None
    assert verify(db).ok

"""Enrol and randomize in one transaction: the same rows and audit entries as the two steps, one key for both.

RND-2 (a retry never randomizes twice), RND-3 (an ineligible patient is refused and not enrolled), and the
reason for this path: a failure between enrolment and randomization can leave nothing half-done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from equipoise.errors import ForbiddenError, IdempotencyKeyReusedError, InvalidError
from equipoise.integrity.audit_verify import verify
from equipoise.services.enrol_randomize import EnrolAndRandomizeService
from equipoise.services.patients import IneligibleError, PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.replay import replay_trial
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AuditEntry, Patient
from tests.store.support import PLATFORM
from tests.store.test_randomization_service import TRIAL, Clock, setup, values


def service(db: Database, clock: Clock) -> EnrolAndRandomizeService:
    patients = PatientService(db, clock)
    return EnrolAndRandomizeService(db, patients, RandomizationService(db, clock))


def entries(db: Database, first_id: int) -> list[tuple[Any, ...]]:
    """The audit entries after ``first_id``, without what differs from patient to patient."""
    with db.read() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.id > first_id).order_by(AuditEntry.id)).all()
        return [(e.action, e.table_name, e.actor, e.reason, e.protocol_version, e.trial_id,
                 sorted((e.new_values or {}).keys()), sorted((e.old_values or {}).keys())) for e in rows]


def last_entry(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.max(AuditEntry.id))) or 0)


def count(db: Database, model: type[Patient] | type[Allocation]) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_one_request_writes_and_audits_exactly_what_the_two_steps_write(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    # Warm up the stratum, so that neither patient below is the one that creates its state row.
    service(db, clock).run(coord, TRIAL, "oxford", values(), "warm-up")
    before = last_entry(db)
    two_step = PatientService(db, clock).enrol(coord, TRIAL, "oxford", values(), "two-step")
    RandomizationService(db, clock).randomize(coord, TRIAL, two_step.id, "two-step")
    middle = last_entry(db)
    one_step = service(db, clock).run(coord, TRIAL, "oxford", values(), "one-step")
    assert entries(db, middle) == entries(db, before)[: len(entries(db, middle))]
    assert len(entries(db, middle)) == len(entries(db, before)) - len(entries(db, middle))
    assert [e[1] for e in entries(db, middle)] == ["patients", "allocation_states", "allocations", "patients"]
    assert [e[3] for e in entries(db, middle)] == ["enrolment", "randomization", "randomization", "randomization"]

    assert not one_step.replayed
    assert one_step.patient.status == "randomized"
    assert one_step.allocation.patient_id == one_step.patient.id
    with db.read() as s:
        patient = s.get_one(Patient, one_step.patient.id)
        allocation = s.get_one(Allocation, one_step.allocation.allocation_id)
        assert patient.status == "randomized"
        assert patient.idempotency_key == allocation.idempotency_key == "one-step"
        assert allocation.arm == one_step.allocation.arm
    assert replay_trial(db, TRIAL).identical
    assert verify(db).ok


def test_a_retry_with_the_same_key_returns_the_same_patient_and_allocation(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    first = service(db, clock).run(coord, TRIAL, "oxford", values(), "k1")
    again = service(db, clock).run(coord, TRIAL, "oxford", values(), "k1")
    assert again.replayed
    assert again.patient == first.patient
    assert again.allocation.allocation_id == first.allocation.allocation_id
    assert again.allocation.arm == first.allocation.arm
    with pytest.raises(InvalidError, match="already used"):
        service(db, clock).run(coord, TRIAL, "edinburgh", values(), "k1")
    assert (count(db, Patient), count(db, Allocation)) == (1, 1)
    # A patient enrolled with the two-step path under a key is randomized by this path's retry under that key.
    enrolled = PatientService(db, clock).enrol(coord, TRIAL, "oxford", values(), "k2")
    completed = service(db, clock).run(coord, TRIAL, "oxford", values(), "k2")
    assert completed.patient.id == enrolled.id
    assert not completed.replayed
    # The key of an allocation of another patient cannot be taken over.
    other = PatientService(db, clock).enrol(coord, TRIAL, "oxford", values())
    RandomizationService(db, clock).randomize(coord, TRIAL, other.id, "k3")
    with pytest.raises(IdempotencyKeyReusedError, match="patient_id differ"):
        service(db, clock).run(coord, TRIAL, "oxford", values(), "k3")
    assert verify(db).ok


def test_an_ineligible_patient_is_neither_enrolled_nor_randomized(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    with pytest.raises(IneligibleError, match="not eligible") as refused:
        service(db, clock).run(coord, TRIAL, "oxford", values(consent=False), "k")
    assert refused.value.details["failed"]
    assert (count(db, Patient), count(db, Allocation)) == (0, 0)
    assert entries(db, 0)[-1][0] == "enrolment.refused"
    assert verify(db).ok


def test_roles_and_keys_are_checked_before_anything_is_written(db: Database):
    coord, stat = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    with pytest.raises(ForbiddenError):
        service(db, clock).run(stat, TRIAL, "oxford", values(), "k")
    with pytest.raises(ForbiddenError):
        service(db, clock).run(coord, TRIAL, "belfast", values(), "k")  # not one of the coordinator's sites
    with pytest.raises(InvalidError, match="idempotency key"):
        service(db, clock).run(coord, TRIAL, "oxford", values(), "")
    assert (count(db, Patient), count(db, Allocation)) == (0, 0)


def test_a_randomization_that_fails_leaves_no_enrolled_patient(db: Database):
    # At Edinburgh (no lopinavir) a patient contraindicated for both other active arms has one arm open and
    # cannot be randomized: the enrolment written in the same transaction must go too (the two-step path would
    # leave an enrolled patient behind).
    dexamethasone = "    name: Dexamethasone 6 mg once daily for 10 days + usual care\n    role: experimental\n"
    text = PLATFORM.read_text().replace(dexamethasone, dexamethasone + "    excluded_if: [long_qt]\n")
    coord, _ = setup(db, text)
    clock = Clock(dt.date(2020, 4, 1))
    before = last_entry(db)
    with pytest.raises(InvalidError, match="cannot randomize"):
        service(db, clock).run(coord, TRIAL, "edinburgh", values(long_qt=True), "k")
    assert (count(db, Patient), count(db, Allocation)) == (0, 0)
    assert last_entry(db) == before
    assert verify(db).ok

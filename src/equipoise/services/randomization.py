"""Randomization: one transaction locks the patient and the state row, allocates, stores everything.

Concurrency (several server processes): the patient row and then the allocation-state row are locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), the audit head last. Unique
constraints back this up: one allocation per patient, one per (trial, idempotency key), one per (state row,
sequence number). A retried request with the same idempotency key returns the allocation already made
(RND-2). Blinded trials get a random kit code that does not reveal the arm (Sealed Envelope FAQ: sequential
codes leak allocations).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from equipoise import allocate
from equipoise.errors import (
    ConflictError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidError,
    NotFoundError,
)
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Protocol, evaluate_eligibility
from equipoise.services import allocator
from equipoise.services.patients import IneligibleError
from equipoise.services.randomization_lists import DatabaseListEntries, active_list, alert_if_running_out
from equipoise.services.site_clock import Clock, local_date
from equipoise.services.trials import (
    AnyTrial,
    get_trial,
    in_force,
    protocol_of,
    refuse_if_database_locked,
    trial_from_row,
    trial_record,
)
from equipoise.services.unblinding import table_in_force
from equipoise.services.values import typed_values
from equipoise.store.audit import audit_value, record_event
from equipoise.store.core_rows import insert_row, update_row
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AllocationState, Patient, Trial, patient_code
from equipoise.store.types import iso, utcnow

KIT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed


def new_kit_code(prefix: str | None) -> str:
    body = "".join(secrets.choice(KIT_ALPHABET) for _ in range(10))
    return f"{prefix or 'KIT'}-{body[:5]}-{body[5:]}"


@dataclass(frozen=True)
class AllocationView:
    """An allocation as one role may see it: the arm only for those allowed to see arms."""

    allocation_id: int
    patient_id: int
    patient_code: str
    site_id: str
    randomized_at: str
    protocol_version: str
    kit_code: str | None
    arm: str | None
    arm_name: str | None
    stratum: str
    factors: dict[str, str]
    replayed: bool = False

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def allocation_view(allocation: Allocation | Row[Any] | AllocationRow, site_id: str, trial: AnyTrial,
                    principal: Principal, replayed: bool = False) -> AllocationView:
    """An allocation (ORM object, or a Core row of ``allocations``) as this principal may see it."""
    show = principal.sees_arms(trial.id, trial.blinded, trial.unblinded_at)
    arm_name = None
    if show:
        arm = protocol_of(trial).arm(allocation.arm)
        if arm is None:  # an arm added by amendment is not in the base protocol's list
            arm = in_force(trial, allocation.allocation_date).arm(allocation.arm)
        arm_name = arm.name if arm else allocation.arm
    return AllocationView(allocation.id, allocation.patient_id, patient_code(allocation.patient_id), site_id,
                          iso(allocation.allocated_at), allocation.protocol_version, allocation.kit_code,
                          allocation.arm if show else None, arm_name, allocation.stratum, dict(allocation.factors),
                          replayed)


class RandomizationService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def randomize(self, principal: Principal, trial_id: str, patient_id: int, idempotency_key: str) -> AllocationView:
        if not idempotency_key or len(idempotency_key) > 100:
            raise InvalidError("an idempotency key (1-100 characters) is required, so that a retry cannot "
                          "randomize twice")
        try:
            return self._randomize(principal, trial_id, patient_id, idempotency_key)
        except IntegrityError:
            # A concurrent request with the same key (or for the same patient) won the race: answer with its
            # allocation, exactly as a retry would get.
            return self._existing(principal, trial_id, patient_id, idempotency_key)

    def _existing(self, principal: Principal, trial_id: str, patient_id: int, key: str) -> AllocationView:
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            allocation = s.scalar(select(Allocation).where(Allocation.trial_id == trial_id,
                                                           Allocation.idempotency_key == key))
            if allocation is None or allocation.patient_id != patient_id:
                raise ConflictError(f"patient {patient_id} was randomized concurrently by another request")
            patient = s.get(Patient, patient_id)
            assert patient is not None
            return allocation_view(allocation, patient.site_id, trial, principal, replayed=True)

    def _randomize(self, principal: Principal, trial_id: str, patient_id: int, key: str) -> AllocationView:
        now = self.clock()
        if not principal.system and not principal.grants_for(Action.RANDOMIZE, trial_id):
            raise ForbiddenError("your role does not allow randomize")
        with self.db.write(principal.audit_context(reason="randomization")) as s:
            return self.randomize_in(s, principal, trial_id, patient_id, key, now)

    def randomize_in(self, s: Session, principal: Principal, trial_id: str, patient_id: int, key: str,
                     now: dt.datetime, *, eligibility_checked: bool = False) -> AllocationView:
        """Randomize inside the caller's write transaction (``randomize``, or enrol-and-randomize's one
        transaction); the caller has checked that the principal may randomize in this trial.

        RND-3: eligibility is evaluated again on the patient's values as they stand now and on today's date (a
        correction since enrolment, or a time window that closed, makes a patient ineligible), unless the caller
        has just evaluated it at ``now`` (``eligibility_checked``: enrol-and-randomize)."""
        # Core statements on the session's connection (the ORM unit of work cost more than the SQL): the rows
        # written are audited by ``core_rows`` exactly as the ORM hook would, in this same transaction.
        patient, trial = _lock_patient(s, principal, trial_id, patient_id)
        by_key, done = _earlier_allocations(s, trial_id, patient_id, key)
        if by_key is not None:
            # a retry changes nothing, so it is answered even under the database lock: a site that lost the
            # answer learns its allocation
            return allocation_view(by_key, patient.site_id, trial, principal, replayed=True)
        refuse_if_database_locked(trial_id, patient.trial_status)
        if done is not None:
            raise ConflictError(f"patient {patient_code(patient_id)} is already randomized (allocation {done.id}); "
                           "a patient is never randomized twice")
        date, protocol, values = _checked_inputs(trial, patient, now, eligibility_checked)
        drawn = self._allocate(s, trial_id, protocol, patient, values, now)
        row = self._record(s, principal, trial, patient, protocol, drawn, date, key, now)
        return allocation_view(AllocationRow(**row), patient.site_id, trial, principal)

    def _allocate(self, s: Session, trial_id: str, protocol: Protocol, patient: Row[Any],
                  values: Mapping[str, Any], now: dt.datetime) -> _Drawn:
        """Allocate under the locked state row of the patient's stratum, and advance that row."""
        assert protocol.randomization is not None
        method = protocol.randomization.method
        table = table_in_force(s, trial_id, now) if method == "response-adaptive" else None
        entries = active_list(s, trial_id) if method == "list" else None
        try:
            prepared = allocator.prepare(protocol, patient.site_id, values,
                                      table.probabilities if table is not None else None, entries)
            state_row = self.lock_state(s, trial_id, prepared.state_key, prepared.scheme.initial_state())
            allocation, draws = allocator.allocate_recorded(prepared, state_row["state"])
        except allocator.AllocationError as exc:
            raise InvalidError(f"cannot randomize patient {patient_code(patient.id)}: {exc}") from None
        sequence = state_row["count"] + 1
        update_row(s, AllocationState, state_row, {"count": sequence, "state": allocation.state})
        return _Drawn(prepared, allocation, draws, state_row["id"], sequence,
                      table.version if table is not None else None, entries)

    def _record(self, s: Session, principal: Principal, trial: AnyTrial, patient: Row[Any], protocol: Protocol,
                drawn: _Drawn, date: dt.date, key: str, now: dt.datetime) -> dict[str, Any]:
        """Write the allocation with everything needed to recompute it (RND-7), mark the patient randomized and
        warn when the randomization list runs out; the allocation row's values."""
        assert protocol.randomization is not None
        prepared, allocation = drawn.prepared, drawn.allocation
        row: dict[str, Any] = {
            "trial_id": trial.id, "patient_id": patient.id, "state_id": drawn.state_id, "sequence": drawn.sequence,
            "stratum": prepared.request.stratum, "factors": dict(prepared.request.factors),
            "arm": allocation.arm,
            "kit_code": new_kit_code(self._kit_prefix(protocol, allocation.arm)) if trial.blinded else None,
            "protocol_version": protocol.trial.version, "allocation_date": date,
            "method": prepared.scheme.method, "parameters": prepared.scheme.parameters(),
            "request": prepared.request.to_dict(), "draws": drawn.draws, "diagnostics": allocation.diagnostics,
            "state_after": allocation.state,
            "adaptive_table_version": drawn.table_version, "idempotency_key": key,
            "allocated_by": principal.user_id, "allocated_at": now}
        row["id"] = insert_row(s, Allocation, row)
        update_row(s, Patient, {"id": patient.id, "trial_id": trial.id, "site_id": patient.site_id,
                                "status": patient.status, "protocol_version": patient.protocol_version},
                   {"status": "randomized"})
        if drawn.entries is not None:
            alert_if_running_out(s, trial.id, drawn.entries, prepared.request.stratum, int(allocation.state["used"]),
                                 protocol.randomization.list_alert_at, principal.user_id)
        return row

    @staticmethod
    def _kit_prefix(protocol: Any, arm_id: str) -> str | None:
        arm = protocol.arm(arm_id)
        return arm.kit_prefix if arm is not None else None

    @staticmethod
    def lock_state(s: Session, trial_id: str, state_key: str, initial: dict[str, Any]) -> dict[str, Any]:
        """The stratum's state row (id, trial_id, state, count), locked; created if this is its first patient."""
        conn = s.connection()
        params = {"trial_id": trial_id, "state_key": state_key}
        row = conn.execute(_STATE_FOR_UPDATE, params).one_or_none()
        if row is not None:
            return row._asdict()
        if s.get_bind().dialect.name == "postgresql":
            # Two processes may create the same new stratum at once: insert-if-absent, then lock the winner's
            # row. The insert bypasses the ORM, so its audit entry is added here.
            inserted = conn.execute(pg_insert(AllocationState).values(trial_id=trial_id, state_key=state_key,
                                                                      state=initial, count=0)
                                    .on_conflict_do_nothing().returning(AllocationState.id)).scalar_one_or_none()
            locked = conn.execute(_STATE_FOR_UPDATE, params).one()._asdict()
            if inserted is not None:
                _audit_raw_insert(s, trial_id, state_key, locked)
            return locked
        new_id = insert_row(s, AllocationState, {**params, "state": initial, "count": 0})
        return {"id": new_id, "trial_id": trial_id, "state": initial, "count": 0}

    def list_allocations(self, principal: Principal, trial_id: str, limit: int = 100,
                         offset: int = 0) -> list[AllocationView]:
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            query = (select(Allocation, Patient.site_id).join(Patient, Patient.id == Allocation.patient_id)
                     .where(Allocation.trial_id == trial_id).order_by(Allocation.id))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            rows = s.execute(query.limit(limit).offset(offset)).all()
            return [allocation_view(a, site, trial, principal) for a, site in rows]

    def get(self, principal: Principal, trial_id: str, patient_id: int) -> AllocationView:
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            row = s.execute(select(Allocation, Patient.site_id).join(Patient, Patient.id == Allocation.patient_id)
                            .where(Allocation.patient_id == patient_id, Allocation.trial_id == trial_id)
                            ).one_or_none()
            if row is None or (sites is not None and row[1] not in sites):
                raise NotFoundError(f"patient {patient_id} of trial {trial_id} has no allocation")
            return allocation_view(row[0], row[1], trial, principal)



def _lock_patient(s: Session, principal: Principal, trial_id: str, patient_id: int) -> tuple[Row[Any], AnyTrial]:
    """The patient, locked, with its trial (one statement, ``FOR UPDATE OF patients`` only); refused unless
    the principal sees the patient's site and may randomize there."""
    conn = s.connection()
    patient = conn.execute(_PATIENT_FOR_UPDATE, {"patient_id": patient_id, "trial_id": trial_id}).one_or_none()
    if patient is None:
        trial_record(s, trial_id)  # "no trial" when the trial itself does not exist
        raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
    trial = trial_from_row(conn, trial_id, patient.trial_blinded, patient.trial_unblinded_at,
                           patient.trial_status, patient.trial_protocol_sha256)
    sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
    if sites is not None and patient.site_id not in sites:
        raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
    principal.require(Action.RANDOMIZE, trial_id, patient.site_id)
    return patient, trial


def _earlier_allocations(s: Session, trial_id: str, patient_id: int, key: str
                         ) -> tuple[Row[Any] | None, Row[Any] | None]:
    """The allocation already made with this idempotency key (a retry), and the patient's own allocation.

    A key already used for another patient is refused (RND-2)."""
    earlier = s.connection().execute(_EARLIER, {"trial_id": trial_id, "key": key, "patient_id": patient_id}).all()
    by_key = next((a for a in earlier if a.idempotency_key == key), None)
    if by_key is not None and by_key.patient_id != patient_id:
        raise IdempotencyKeyReusedError(["patient_id"], "randomizing another patient")
    return by_key, next((a for a in earlier if a.patient_id == patient_id), None)


def _checked_inputs(trial: AnyTrial, patient: Row[Any], now: dt.datetime, eligibility_checked: bool
                    ) -> tuple[dt.date, Protocol, dict[str, Any]]:
    """The allocation date (the site's date), the protocol in force on it and the patient's typed values,
    after eligibility is evaluated again (RND-3) unless the caller has just done so."""
    date = local_date(in_force(trial, now.date()), patient.site_id, now)
    protocol = in_force(trial, date)
    if protocol.randomization is None:
        raise InvalidError(f"trial {trial.id} has no randomization section")
    values = typed_values(protocol, patient.enrolment_values, stored=patient.enrolment_values)
    if not eligibility_checked:
        eligibility = evaluate_eligibility(protocol.eligibility, values, date)
        if not eligibility.eligible:
            reasons = [c.reason for c in (*eligibility.failed, *eligibility.missing)]
            raise IneligibleError(f"patient {patient_code(patient.id)} is not eligible now, so is not randomized: "
                                  + "; ".join(reasons),
                                  {"eligible": False, "failed": [c.to_dict() for c in eligibility.failed],
                                   "missing": [c.to_dict() for c in eligibility.missing]})
    return date, protocol, values


@dataclass(frozen=True)
class _Drawn:
    """One allocation made under its stratum's locked state row, before it is written."""

    prepared: allocator.Prepared
    allocation: allocate.Allocation
    draws: list[float]
    state_id: int
    sequence: int
    table_version: int | None
    entries: DatabaseListEntries | None


def _audit_raw_insert(s: Session, trial_id: str, state_key: str, row: dict[str, Any]) -> None:
    values = {"id": row["id"], "trial_id": trial_id, "state_key": state_key, "state": row["state"],
              "count": row["count"]}
    record_event(s, "insert", trial_id=trial_id, table_name="allocation_states", record_id=str(row["id"]),
                 details={k: audit_value(AllocationState, k, v) for k, v in values.items()})


@dataclass(frozen=True)
class AllocationRow:
    """A just-written allocation row, for ``allocation_view`` (every column of ``allocations``)."""

    id: int
    trial_id: str
    patient_id: int
    state_id: int
    sequence: int
    stratum: str
    factors: dict[str, str]
    arm: str
    kit_code: str | None
    protocol_version: str
    allocation_date: dt.date
    method: str
    parameters: dict[str, Any]
    request: dict[str, Any]
    draws: list[float]
    diagnostics: dict[str, Any]
    state_after: dict[str, Any]
    adaptive_table_version: int | None
    idempotency_key: str
    allocated_by: int | None
    allocated_at: dt.datetime


_patients, _allocations, _states = Patient.__table__, Allocation.__table__, AllocationState.__table__
_trials = Trial.__table__
_PATIENT_FOR_UPDATE = (
    select(_patients, _trials.c.blinded.label("trial_blinded"), _trials.c.unblinded_at.label("trial_unblinded_at"),
           _trials.c.status.label("trial_status"), _trials.c.protocol_sha256.label("trial_protocol_sha256"))
    .join_from(_patients, _trials, _trials.c.id == _patients.c.trial_id)
    .where(_patients.c.id == bindparam("patient_id"), _patients.c.trial_id == bindparam("trial_id"))
    .with_for_update(of=_patients))
_EARLIER = select(_allocations).where(_allocations.c.trial_id == bindparam("trial_id"),
                                      or_(_allocations.c.idempotency_key == bindparam("key"),
                                          _allocations.c.patient_id == bindparam("patient_id")))
_STATE_FOR_UPDATE = (select(_states.c.id, _states.c.trial_id, _states.c.state, _states.c.count)
                     .where(_states.c.trial_id == bindparam("trial_id"), _states.c.state_key == bindparam("state_key"))
                     .with_for_update())


__all__ = ["AllocationRow", "AllocationView", "RandomizationService", "allocation_view", "new_kit_code"]

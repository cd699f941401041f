"""Enrolment: server-side eligibility, then a patient record; corrections after randomization.

RND-3: eligibility and every stratification/minimization factor are checked on the server; an ineligible
patient gets the list of failed criteria and is not enrolled (the refusal is audited). RND-4: factors are
frozen in the allocation; a later correction changes the patient's record, never the allocation, and raises
a discrepancy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from equipoise.errors import (
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidError,
    NotFoundError,
    ServiceError,
)
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Protocol, evaluate_eligibility
from equipoise.services.crf_access import refuse_if_locked
from equipoise.services.free_text import clean_text
from equipoise.services.site_clock import Clock, local_date
from equipoise.services.trials import AnyTrial, get_trial, in_force, refuse_if_database_locked, trial_from_row
from equipoise.services.values import factor_fields, json_values, typed_values
from equipoise.store.audit import record_event
from equipoise.store.core_rows import insert_row
from equipoise.store.db import Database
from equipoise.store.models import Allocation, Discrepancy, Patient, Trial, patient_code
from equipoise.store.types import iso, utcnow


class IneligibleError(ServiceError):
    status = 422


@dataclass(frozen=True)
class PatientView:
    id: int
    code: str
    trial_id: str
    site_id: str
    status: str
    enrolment_date: str
    enrolled_at: str
    protocol_version: str
    values: dict[str, Any]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def patient_view(patient: Patient | Row[Any]) -> PatientView:
    """The view of a patient row (an ORM object, or a Core row with every column of ``patients``)."""
    return PatientView(patient.id, patient_code(patient.id), patient.trial_id, patient.site_id, patient.status,
                       patient.enrolment_date.isoformat(), iso(patient.enrolled_at), patient.protocol_version,
                       dict(patient.enrolment_values))


@dataclass(frozen=True)
class NewPatient:
    """An eligible patient's row, checked and ready to insert in the caller's write transaction."""

    row: dict[str, Any]

    @property
    def protocol_version(self) -> str:
        return str(self.row["protocol_version"])

    def insert(self, s: Session) -> PatientView:
        """Insert the row (audited in ``s``'s transaction); the new patient's view."""
        row = self.row
        patient_id = insert_row(s, Patient, row)
        return PatientView(patient_id, patient_code(patient_id), row["trial_id"], row["site_id"], row["status"],
                           row["enrolment_date"].isoformat(), iso(row["enrolled_at"]), self.protocol_version,
                           dict(row["enrolment_values"]))


def same_request(existing: Row[Any] | PatientView, site_id: str, values: Mapping[str, Any] | None) -> PatientView:
    """The patient enrolled under an idempotency key, when this request is the same as the one that enrolled them
    (same site, same enrolment values): a retry. A different request under a used key is refused with 422 and
    the names of the fields that differ (``IdempotencyKeyReusedError``); not their values: the key's first user
    may be at another site."""
    view = existing if isinstance(existing, PatientView) else patient_view(existing)
    differ = ["site_id"] if view.site_id != site_id else []
    if values is None:
        differ.append("values")
    else:
        differ += sorted(k for k in set(view.values) | set(values) if view.values.get(k) != values.get(k))
    if differ:
        raise IdempotencyKeyReusedError(differ, "a new enrolment")
    return view


class PatientService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def enrol(self, principal: Principal, trial_id: str, site_id: str, raw_values: Mapping[str, Any],
              idempotency_key: str | None = None) -> PatientView:
        admitted = self.admit(principal, trial_id, site_id, raw_values, idempotency_key, self.clock())
        if isinstance(admitted, PatientView):
            return admitted
        from sqlalchemy.exc import IntegrityError

        # Everything in ``admit`` ran outside the write transaction; the transaction itself is one audited insert.
        try:
            with self.db.write(principal.audit_context(reason="enrolment",
                                                       protocol_version=admitted.protocol_version)) as s:
                return admitted.insert(s)
        except IntegrityError:
            if not idempotency_key:
                raise
            existing = self.by_key(trial_id, idempotency_key)
            if existing is None:
                raise
            return same_request(existing, site_id, admitted.row["enrolment_values"])

    def admit(self, principal: Principal, trial_id: str, site_id: str, raw_values: Mapping[str, Any],
              idempotency_key: str | None, now: dt.datetime) -> PatientView | NewPatient:
        """Everything an enrolment checks before it writes: the patient already enrolled under this key (a
        retry), or the row of an eligible new patient. An ineligible patient is refused here (and the refusal
        audited), with the failed criteria."""
        principal.require(Action.ENROL, trial_id, site_id)
        with self.db.lookup() as conn:
            # The trial's row and the patient already enrolled under this key (if any), in one statement.
            found = conn.execute(_TRIAL_AND_KEY, {"trial_id": trial_id, "key": idempotency_key or None}).one_or_none()
            if found is None:
                raise NotFoundError(f"no trial {trial_id!r}")
            trial = trial_from_row(conn, trial_id, found.trial_blinded, found.trial_unblinded_at,
                                   found.trial_status, found.trial_protocol_sha256)
            if found.id is not None:
                return same_request(found, site_id, self._request_values(trial, site_id, raw_values, now))
            refuse_if_database_locked(trial_id, found.trial_status)
        protocol = self._protocol_at_site(trial, site_id, now)
        values = typed_values(protocol, raw_values)
        missing = [f"{fid} (from {field})" for fid, field in factor_fields(protocol).items()
                   if values.get(field) is None]
        if missing:
            raise InvalidError(f"every randomization factor is required: missing {', '.join(missing)}")
        date = local_date(protocol, site_id, now)
        eligibility = evaluate_eligibility(protocol.eligibility, values, date)
        version = protocol.trial.version
        if not eligibility.eligible:
            reasons = [c.reason for c in (*eligibility.failed, *eligibility.missing)]
            with self.db.write(principal.audit_context(protocol_version=version)) as s:
                record_event(s, "enrolment.refused", trial_id=trial_id,
                             details={"site_id": site_id, "date": date.isoformat(),
                                      "failed": [c.id for c in eligibility.failed],
                                      "missing": [c.id for c in eligibility.missing]})
            raise IneligibleError("not eligible: " + "; ".join(reasons),
                             {"eligible": False, "failed": [c.to_dict() for c in eligibility.failed],
                              "missing": [c.to_dict() for c in eligibility.missing]})
        return NewPatient({"trial_id": trial_id, "site_id": site_id, "enrolment_values": json_values(values),
                           "enrolment_date": date, "protocol_version": version, "status": "enrolled",
                           "idempotency_key": idempotency_key or None, "enrolled_by": principal.user_id,
                           "enrolled_at": now})

    def by_key(self, trial_id: str, key: str) -> PatientView | None:
        """The patient enrolled under this idempotency key, if any (after a lost race with the same key)."""
        with self.db.lookup() as conn:
            existing = self._by_key(conn, trial_id, key)
        return patient_view(existing) if existing is not None else None

    @staticmethod
    def _by_key(conn: Connection, trial_id: str, key: str) -> Row[Any] | None:
        return conn.execute(_BY_KEY, {"trial_id": trial_id, "key": key}).one_or_none()

    def _request_values(self, trial: AnyTrial, site_id: str, raw_values: Mapping[str, Any],
                        now: dt.datetime) -> dict[str, Any] | None:
        """A retried request's enrolment values as they would be stored, to compare with the first request's;
        None when they cannot be read (then they are not the values stored under the key)."""
        try:
            return json_values(typed_values(self._protocol_at_site(trial, site_id, now), raw_values))
        except InvalidError:
            return None

    def _protocol_at_site(self, trial: AnyTrial, site_id: str, now: dt.datetime) -> Protocol:
        protocol = in_force(trial, now.date())
        if protocol.site(site_id) is None:
            raise InvalidError(f"trial {trial.id} has no site {site_id!r} in force")
        return in_force(trial, local_date(protocol, site_id, now))

    def get(self, principal: Principal, trial_id: str, patient_id: int) -> PatientView:
        with self.db.read() as s:
            patient = self._visible(s, principal, trial_id, patient_id)
            return patient_view(patient)

    @staticmethod
    def _visible(s: Session, principal: Principal, trial_id: str, patient_id: int) -> Patient:
        principal.require(Action.VIEW_PATIENTS, trial_id)
        patient = s.get(Patient, patient_id)
        if patient is None or patient.trial_id != trial_id:
            raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        if sites is not None and patient.site_id not in sites:
            # Not 403: a coordinator must not learn that another site's patient exists.
            raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
        return patient

    def list_patients(self, principal: Principal, trial_id: str, site_id: str | None = None,
             limit: int = 100, offset: int = 0) -> list[PatientView]:
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            get_trial(s, trial_id)
            query = select(Patient).where(Patient.trial_id == trial_id).order_by(Patient.id)
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            if site_id is not None:
                query = query.where(Patient.site_id == site_id)
            return [patient_view(p) for p in s.scalars(query.limit(limit).offset(offset))]

    def correct(self, principal: Principal, trial_id: str, patient_id: int, raw_values: Mapping[str, Any],
                reason: str | None) -> tuple[PatientView, list[dict[str, Any]]]:
        """Correct enrolment values (reason required); frozen factors stay, differences become discrepancies."""
        reason = clean_text(reason, "a reason for the change")
        with self.db.read() as s:
            patient = self._visible(s, principal, trial_id, patient_id)
            principal.require(Action.CORRECT_ENROLMENT, trial_id, patient.site_id)
            trial = get_trial(s, trial_id)
        protocol = in_force(trial, patient.enrolment_date)
        changes = typed_values(protocol, raw_values, partial=True)
        with self.db.write(principal.audit_context(reason=reason, protocol_version=patient.protocol_version)) as s:
            patient = s.scalars(select(Patient).where(Patient.id == patient_id).with_for_update()).one()
            refuse_if_locked(s, patient, None)  # a locked casebook refuses corrections too (EDC-3)
            merged = {**patient.enrolment_values, **json_values(changes)}
            patient.enrolment_values = merged
            allocation = s.scalar(select(Allocation).where(Allocation.patient_id == patient_id))
            raised: list[dict[str, Any]] = []
            if allocation is not None:
                raised = self._discrepancies(s, principal, protocol, patient, allocation, changes)
            s.flush()
            return patient_view(patient), raised

    @staticmethod
    def _discrepancies(s: Session, principal: Principal, protocol: Protocol, patient: Patient, allocation: Allocation,
                       changes: Mapping[str, Any]) -> list[dict[str, Any]]:
        raised: list[dict[str, Any]] = []
        randomization = protocol.randomization
        for factor in randomization.factors if randomization else []:
            if factor.field not in changes:
                continue
            frozen = allocation.factors.get(factor.id)
            level = factor.level_of(changes[factor.field])
            if frozen is not None and level != frozen:
                message = (f"{factor.id}: randomized as {frozen!r}; the corrected {factor.field} gives {level!r}. "
                           "The allocation is unchanged (RND-4).")
                item = Discrepancy(trial_id=patient.trial_id, patient_id=patient.id, field=factor.id,
                                   frozen_value=frozen, corrected_value=level, message=message,
                                   raised_by=principal.user_id)
                s.add(item)
                raised.append({"field": factor.id, "frozen": frozen, "corrected": level, "message": message})
        values = typed_values(protocol, patient.enrolment_values, stored=patient.enrolment_values)
        eligibility = evaluate_eligibility(protocol.eligibility, values, patient.enrolment_date)
        if not eligibility.eligible:
            message = "after correction the patient no longer meets: " + "; ".join(
                c.reason for c in (*eligibility.failed, *eligibility.missing))
            s.add(Discrepancy(trial_id=patient.trial_id, patient_id=patient.id, field="eligibility",
                              frozen_value=True, corrected_value=False, message=message,
                              raised_by=principal.user_id))
            raised.append({"field": "eligibility", "frozen": True, "corrected": False, "message": message})
        return raised

    def discrepancies(self, principal: Principal, trial_id: str, *, after_id: int = 0,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """The discrepancies in id order; ``after_id`` and ``limit`` page them (keyset: the last id seen)."""
        principal.require(Action.VIEW_DISCREPANCIES, trial_id)
        sites = principal.site_filter(Action.VIEW_DISCREPANCIES, trial_id)
        with self.db.read() as s:
            query = (select(Discrepancy, Patient.site_id).join(Patient, Patient.id == Discrepancy.patient_id)
                     .where(Discrepancy.trial_id == trial_id, Discrepancy.id > after_id).order_by(Discrepancy.id)
                     .limit(limit))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            return [{"id": d.id, "patient_id": d.patient_id, "site_id": site, "field": d.field,
                     "frozen_value": d.frozen_value, "corrected_value": d.corrected_value, "message": d.message,
                     "status": d.status, "raised_at": iso(d.raised_at)}
                    for d, site in s.execute(query)]


_patients, _trials = Patient.__table__, Trial.__table__
_TRIAL_AND_KEY = (
    select(_trials.c.blinded.label("trial_blinded"), _trials.c.unblinded_at.label("trial_unblinded_at"),
           _trials.c.status.label("trial_status"), _trials.c.protocol_sha256.label("trial_protocol_sha256"), _patients)
    .select_from(_trials.outerjoin(_patients, (_patients.c.trial_id == _trials.c.id)
                                   & (_patients.c.idempotency_key == bindparam("key"))))
    .where(_trials.c.id == bindparam("trial_id")))
_BY_KEY = select(_patients).where(_patients.c.trial_id == bindparam("trial_id"),
                                  _patients.c.idempotency_key == bindparam("key"))

__all__ = ["ForbiddenError", "IneligibleError", "NewPatient", "PatientService", "PatientView", "local_date",
           "same_request"]

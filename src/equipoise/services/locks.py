"""Locking a form or a patient's whole casebook, and unlocking it with a reason (EDC-3; ICH E6(R3) data finalisation).

Locked data refuse every change (423). Only a monitor locks and unlocks; a lock needs the data to be clean
(no open or answered query on what is locked); an unlock needs a reason and invalidates the signatures of
what it reopens, visibly (REDCap: "unlocking negates the e-signature", a rule its users found too silent).
Every lock and unlock is an audited update in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import (
    RecordLockedError,
    form_and_visit,
    form_name,
    patient_for,
    patient_lock,
    record_key,
    trial_and_protocol,
)
from equipoise.services.forms import record_view
from equipoise.services.free_text import clean_text, optional_text
from equipoise.services.signatures import invalidate
from equipoise.services.site_clock import Clock
from equipoise.store.crf_models import FormQuery, FormRecord, PatientLock
from equipoise.store.db import Database
from equipoise.store.types import iso, utcnow


def _unresolved(queries: list[FormQuery]) -> str:
    ids = ", ".join(str(q.id) for q in queries)
    return f"{len(queries)} unresolved quer{'y' if len(queries) == 1 else 'ies'} (id {ids}): close them before locking"


class LockService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def lock_form(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
                  reason: str | None = None, instance: int = 1) -> dict[str, Any]:
        now = self.clock()
        name = form_name(form_id, visit_id, instance)
        with self.db.write(principal.audit_context(reason=optional_text(reason, "reason") or "form locked")) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.LOCK, lock=True)
            _trial, protocol = trial_and_protocol(s, trial_id)
            form, _visit = form_and_visit(protocol, form_id, visit_id, instance)
            record = self._record(s, patient.id, form_id, visit_id, instance, patient.code)
            if record.locked_at is not None:
                raise ConflictError(f"{name} is already locked (since "
                                    f"{iso(record.locked_at)})")
            open_queries = s.scalars(select(FormQuery).where(
                FormQuery.patient_id == patient.id, FormQuery.form_id == form_id, FormQuery.visit_id == visit_id,
                FormQuery.instance == instance, FormQuery.status != "closed").order_by(FormQuery.id)).all()
            if open_queries:
                raise ConflictError(f"{name} has {_unresolved(list(open_queries))}")
            record.locked_at = now
            record.locked_by = principal.user_id
            s.flush()
            return record_view(s, record, patient, form).to_dict()

    def unlock_form(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
                    reason: str | None, instance: int = 1) -> dict[str, Any]:
        why = clean_text(reason, "a reason for unlocking")
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.UNLOCK, lock=True)
            _trial, protocol = trial_and_protocol(s, trial_id)
            form, _visit = form_and_visit(protocol, form_id, visit_id, instance)
            record = self._record(s, patient.id, form_id, visit_id, instance, patient.code)
            if record.locked_at is None:
                raise ConflictError(f"{form_name(form_id, visit_id, instance)} is not locked")
            if patient_lock(s, patient.id) is not None:
                raise RecordLockedError(f"patient {patient.code}'s casebook is locked: unlock the patient first")
            record.locked_at = None
            record.locked_by = None
            invalidated = invalidate(s, patient_id=patient.id, form_record_id=record.id, by=principal.user_id, at=now,
                                     reason=f"form unlocked by {principal.username}: {why}")
            s.flush()
            return {**record_view(s, record, patient, form).to_dict(), "invalidated_signatures": invalidated}

    def lock_patient(self, principal: Principal, trial_id: str, patient_id: int,
                     reason: str | None = None) -> dict[str, Any]:
        now = self.clock()
        with self.db.write(principal.audit_context(reason=optional_text(reason, "reason") or "casebook locked")) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.LOCK, lock=True)
            if patient_lock(s, patient.id) is not None:
                raise ConflictError(f"patient {patient.code}'s casebook is already locked")
            open_queries = s.scalars(select(FormQuery).where(FormQuery.patient_id == patient.id,
                                                             FormQuery.status != "closed").order_by(FormQuery.id)).all()
            if open_queries:
                raise ConflictError(f"patient {patient.code} has {_unresolved(list(open_queries))}")
            row = s.scalar(select(PatientLock).where(PatientLock.patient_id == patient.id))
            if row is None:
                row = PatientLock(trial_id=trial_id, patient_id=patient.id, locked=True, locked_by=principal.user_id,
                                  locked_at=now)
                s.add(row)
            else:
                row.locked = True
                row.locked_by = principal.user_id
                row.locked_at = now
            s.flush()
            return {"patient_id": patient.id, "patient_code": patient.code, "locked": True, "locked_at": iso(now),
                    "locked_by": principal.username}

    def unlock_patient(self, principal: Principal, trial_id: str, patient_id: int,
                       reason: str | None) -> dict[str, Any]:
        why = clean_text(reason, "a reason for unlocking")
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.UNLOCK, lock=True)
            row = patient_lock(s, patient.id)
            if row is None:
                raise ConflictError(f"patient {patient.code}'s casebook is not locked")
            row.locked = False
            row.locked_by = principal.user_id
            row.locked_at = now
            invalidated = invalidate(s, patient_id=patient.id, form_record_id=None, by=principal.user_id, at=now,
                                     reason=f"casebook unlocked by {principal.username}: {why}")
            return {"patient_id": patient.id, "patient_code": patient.code, "locked": False,
                    "unlocked_at": iso(now), "unlocked_by": principal.username, "invalidated_signatures": invalidated}

    @staticmethod
    def _record(s: Session, patient_id: int, form_id: str, visit_id: str, instance: int, code: str) -> FormRecord:
        record = s.scalars(select(FormRecord).where(*record_key(patient_id, form_id, visit_id, instance))
                           .with_for_update()).one_or_none()
        if record is None:
            raise NotFoundError(f"{form_name(form_id, visit_id, instance)} of patient {code} has not been saved: "
                                "there is nothing to lock")
        return record

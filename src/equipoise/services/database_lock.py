"""The database lock of a trial before its final analysis (EDC-3; ICH E6(R3) §4.2 data finalisation).

Locking needs every query closed (an open or answered query is a question about data that would be frozen
unanswered) and the password again. While the lock holds nothing is entered or changed: no enrolment,
randomization or back-entered envelope, no form, correction, off-study record, query or signature (each
refused with 423 and the reason). Emergency unblinding stays possible: a patient's safety does not wait for
an unlock. Unlocking needs a reason and the password again. Both are audited (the trial row's status, with
the reason) like every other change. The retention period (RET-1, the protocol's ``retention_years``) runs from
the lock: the answer says until when the records must be kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from equipoise.errors import ConflictError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.free_text import clean_text
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, protocol_of, retained_until
from equipoise.store.crf_models import FormQuery
from equipoise.store.db import Database
from equipoise.store.models import patient_code
from equipoise.store.types import iso, utcnow


class DatabaseLockService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def lock(self, principal: Principal, trial_id: str, reason: str | None, password: str | None) -> dict[str, Any]:
        why = clean_text(reason, "a reason")
        principal.require(Action.LOCK_DATABASE, trial_id)
        self.auth.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason=why)) as s:
            trial = get_trial(s, trial_id)
            if trial.status == "locked":
                raise ConflictError(f"the database of trial {trial_id} is already locked (since "
                                    f"{iso(trial.locked_at) if trial.locked_at else '?'})")
            unresolved = s.execute(select(FormQuery.id, FormQuery.patient_id, FormQuery.form_id, FormQuery.visit_id,
                                          FormQuery.status)
                                   .where(FormQuery.trial_id == trial_id, FormQuery.status != "closed")
                                   .order_by(FormQuery.id)).all()
            if unresolved:
                listed = ", ".join(f"{q.id} ({patient_code(q.patient_id)} {q.form_id}@{q.visit_id}, {q.status})"
                                   for q in unresolved[:10])
                raise ConflictError(f"{len(unresolved)} query/queries are not closed: {listed}"
                                    f"{', …' if len(unresolved) > 10 else ''}; close them before the database lock")
            trial.status, trial.locked_at, trial.locked_by = "locked", self.clock(), principal.user_id
            return {**_state(trial_id, trial.status, trial.locked_at, why),
                    "retain_until": retained_until(protocol_of(trial), trial.locked_at)}

    def unlock(self, principal: Principal, trial_id: str, reason: str | None, password: str | None
               ) -> dict[str, Any]:
        why = clean_text(reason, "a reason for unlocking")
        principal.require(Action.LOCK_DATABASE, trial_id)
        self.auth.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason=why)) as s:
            trial = get_trial(s, trial_id)
            if trial.status != "locked":
                raise ConflictError(f"the database of trial {trial_id} is not locked")
            trial.status, trial.locked_at, trial.locked_by = "active", None, None
            return {**_state(trial_id, trial.status, None, why), "retain_until": None}


def _state(trial_id: str, status: str, locked_at: Any, reason: str) -> dict[str, Any]:
    return {"trial_id": trial_id, "status": status, "locked_at": iso(locked_at) if locked_at else None,
            "reason": reason}

"""Allocations made in error: flagged with a reason, never changed or deleted (RND-10).

REDCap's randomization module lets an administrator remove an allocation; a regulator reading the trail and a
statistician analysing by intention to treat both need the opposite (ICH E9 §5.2.1: every randomized patient
is analysed in the arm allocated). So a wrong randomization is recorded, not undone: the site's investigator
or the monitor flags the allocation with what went wrong (a patient randomized in error, found ineligible
afterwards, a duplicate of another patient, randomized in the wrong stratum) and why, with the password again.
A flag raised in error is withdrawn with a reason, and stays in the record. Flags are listed per trial and
exported beside the allocation; the allocation itself, its arm and its place in the sequence never move.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import patient_for
from equipoise.services.free_text import clean_text
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial
from equipoise.store.db import Database
from equipoise.store.list_models import AllocationFlag
from equipoise.store.models import Allocation, Patient, User, patient_code
from equipoise.store.types import iso, utcnow

KINDS = {
    "randomized-in-error": "randomized in error",
    "ineligible": "found ineligible after randomization",
    "duplicate-patient": "the same person enrolled twice",
    "wrong-stratum": "randomized with a wrong stratification factor",
}


class AllocationFlagService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def flag(self, principal: Principal, trial_id: str, patient_id: int, kind: str, reason: str | None,
             password: str | None) -> dict[str, Any]:
        if kind not in KINDS:
            raise InvalidError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        why = clean_text(reason, "a reason")
        with self.db.read() as s:
            patient_for(s, principal, trial_id, patient_id, Action.FLAG_ALLOCATION)
        self.auth.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.FLAG_ALLOCATION, lock=True)
            allocation = s.scalar(select(Allocation).where(Allocation.patient_id == patient.id))
            if allocation is None:
                raise ConflictError(f"patient {patient_code(patient.id)} is not randomized: there is no allocation "
                                    "to flag")
            same = s.scalar(select(AllocationFlag.id).where(AllocationFlag.allocation_id == allocation.id,
                                                            AllocationFlag.kind == kind,
                                                            AllocationFlag.withdrawn_at.is_(None)))
            if same is not None:
                raise ConflictError(f"the allocation of patient {patient_code(patient.id)} is already flagged "
                                    f"{kind} (flag {same})")
            row = AllocationFlag(trial_id=trial_id, patient_id=patient.id, allocation_id=allocation.id, kind=kind,
                                 reason=why, flagged_by=principal.user_id, flagged_at=self.clock())
            s.add(row)
            s.flush()
            return _view(s, row)

    def withdraw(self, principal: Principal, trial_id: str, flag_id: int, reason: str | None) -> dict[str, Any]:
        why = clean_text(reason, "a reason")
        with self.db.write(principal.audit_context(reason=why)) as s:
            row = s.scalar(select(AllocationFlag).where(AllocationFlag.id == flag_id,
                                                        AllocationFlag.trial_id == trial_id).with_for_update())
            if row is None:
                raise NotFoundError(f"no allocation flag {flag_id} in trial {trial_id}")
            patient_for(s, principal, trial_id, row.patient_id, Action.FLAG_ALLOCATION)
            if row.withdrawn_at is not None:
                raise ConflictError(f"allocation flag {flag_id} was already withdrawn")
            row.withdrawn_by, row.withdrawn_at, row.withdraw_reason = principal.user_id, self.clock(), why
            s.flush()
            return _view(s, row)

    def flags(self, principal: Principal, trial_id: str, *, after_id: int = 0,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Every flag of the patients this principal sees, withdrawn ones included, in id order; ``after_id`` and
        ``limit`` page them (keyset: the last id seen)."""
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            get_trial(s, trial_id)
            query = (select(AllocationFlag).join(Patient, Patient.id == AllocationFlag.patient_id)
                     .where(AllocationFlag.trial_id == trial_id, AllocationFlag.id > after_id)
                     .order_by(AllocationFlag.id).limit(limit))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            rows = list(s.scalars(query))
            names = _usernames(s, [i for r in rows for i in (r.flagged_by, r.withdrawn_by) if i is not None])
            return [_view(s, row, names) for row in rows]


def active_flags(s: Session, trial_id: str) -> dict[int, list[str]]:
    """Patient id -> the kinds of its allocation's flags that stand (for exports)."""
    flags: dict[int, list[str]] = {}
    for patient_id, kind in s.execute(select(AllocationFlag.patient_id, AllocationFlag.kind).where(
            AllocationFlag.trial_id == trial_id, AllocationFlag.withdrawn_at.is_(None)).order_by(AllocationFlag.id)):
        flags.setdefault(patient_id, []).append(kind)
    return flags


def _usernames(s: Session, ids: list[int]) -> dict[int, str]:
    """User id -> username, in one statement."""
    return {int(u.id): str(u.username)
            for u in s.execute(select(User.id, User.username).where(User.id.in_(sorted(set(ids)))))}


def _view(s: Session, row: AllocationFlag, names: dict[int, str] | None = None) -> dict[str, Any]:
    if names is None:
        names = _usernames(s, [i for i in (row.flagged_by, row.withdrawn_by) if i is not None])
    return {"id": row.id, "patient_id": row.patient_id, "patient_code": patient_code(row.patient_id),
            "allocation_id": row.allocation_id, "kind": row.kind, "meaning": KINDS.get(row.kind, row.kind),
            "reason": row.reason, "flagged_by": names.get(row.flagged_by or -1), "flagged_at": iso(row.flagged_at),
            "withdrawn": row.withdrawn_at is not None,
            "withdrawn_by": names.get(row.withdrawn_by) if row.withdrawn_by else None,
            "withdrawn_at": iso(row.withdrawn_at) if row.withdrawn_at else None,
            "withdraw_reason": row.withdraw_reason}

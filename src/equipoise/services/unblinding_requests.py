"""Unblinding one patient outside an emergency: the investigator asks, an unblinded reviewer decides (UNB-2).

An emergency unblinding (``unblinding.UnblindingService.emergency``) is immediate and needs nobody's approval.
Other reasons to learn one patient's arm, such as reporting a suspected unexpected serious adverse reaction
(SUSAR) to the regulator, go through a request and a review instead (ICH E6(R3) Annex 1 p. 40; clinicedc's
``edc_unblinding`` request -> review -> approve):

- the investigator of the patient's site asks, with a reason; the trial must still be blinded and the patient
  randomized; a patient has at most one open request;
- the unblinded statistician approves or rejects it, with a reason and the password again (21 CFR 11.200);
  nobody reviews a request of their own;
- the requester may withdraw an open request, with a reason;
- an approval shows the arm to the requester only: every other blinded role, the requester's site colleagues
  included, still sees the kit code alone. It is recorded as an unblinding of the patient (kind
  ``on-request``), and each step notifies the unblinded roles.

Every row is audited in the same transaction, like every other change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import patient_for, require_in_trial
from equipoise.services.free_text import clean_text
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, in_force
from equipoise.store.audit import record_event
from equipoise.store.db import Database
from equipoise.store.models import (
    Allocation,
    Notification,
    Patient,
    Trial,
    Unblinding,
    UnblindingRequest,
    User,
    patient_code,
)
from equipoise.store.types import iso, utcnow

DECISIONS = {"approve": "approved", "reject": "rejected"}


@dataclass(frozen=True)
class UnblindingRequestView:
    """A request as one principal may see it: the arm only for the requester of an approved request (and the
    roles that see arms anyway)."""

    id: int
    trial_id: str
    patient_id: int
    patient_code: str
    site_id: str
    kit_code: str | None
    reason: str
    requested_by: str
    requested_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    arm: str | None
    arm_name: str | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class UnblindingRequestService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def request(self, principal: Principal, trial_id: str, patient_id: int, reason: str | None
                ) -> UnblindingRequestView:
        why = clean_text(reason, "a reason")
        if principal.user_id is None:
            raise InvalidError("an unblinding request is made by a named user, not by the local operator")
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            # The patient's row lock makes "at most one open request" hold with several server processes.
            patient = patient_for(s, principal, trial_id, patient_id, Action.REQUEST_UNBLINDING, lock=True)
            trial = get_trial(s, trial_id)
            if not trial.blinded:
                raise ConflictError(f"trial {trial_id} is open-label: the arm is not concealed")
            if trial.unblinded_at is not None:
                raise ConflictError(f"trial {trial_id} was unblinded at {iso(trial.unblinded_at)}: every arm is "
                                    "shown already")
            if _allocation(s, patient.id) is None:
                raise ConflictError(f"patient {patient_code(patient.id)} is not randomized: nothing to unblind")
            open_request = s.scalar(select(UnblindingRequest.id).where(
                UnblindingRequest.patient_id == patient.id, UnblindingRequest.status == "requested"))
            if open_request is not None:
                raise ConflictError(f"patient {patient_code(patient.id)} already has an open unblinding request "
                                    f"({open_request}): wait for its review or withdraw it")
            row = UnblindingRequest(trial_id=trial_id, patient_id=patient.id, reason=why,
                                    requested_by=principal.user_id, requested_at=now, status="requested")
            s.add(row)
            s.flush()
            _notify(s, principal, trial_id, "unblinding-requested", patient.id, now,
                    f"{principal.username} asks to unblind patient {patient_code(patient.id)} "
                    f"(site {patient.site_id}), request {row.id}. Reason: {why}")
            s.flush()
            return self._view(s, principal, trial, row)

    def decide(self, principal: Principal, trial_id: str, request_id: int, decision: str, reason: str | None,
               password: str | None) -> UnblindingRequestView:
        if decision not in DECISIONS:
            raise InvalidError(f"decision must be 'approve' or 'reject', not {decision!r}")
        why = clean_text(reason, "a reason for the decision")
        require_in_trial(principal, Action.REVIEW_UNBLINDING, trial_id)
        self.auth.reauthenticate(principal, password)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            trial = get_trial(s, trial_id)
            row = self._open(s, trial_id, request_id)
            if row.requested_by == principal.user_id:
                raise ForbiddenError("nobody reviews their own unblinding request")
            row.status, row.decided_by, row.decided_at, row.decision_reason = (
                DECISIONS[decision], principal.user_id, now, why)
            code = patient_code(row.patient_id)
            if row.status == "approved":
                # The unblinded person is the requester; who approved is on the request.
                s.add(Unblinding(trial_id=trial_id, patient_id=row.patient_id, kind="on-request",
                                 reason=row.reason, unblinded_by=row.requested_by, unblinded_at=now))
            _notify(s, principal, trial_id, f"unblinding-{row.status}", row.patient_id, now,
                    f"Unblinding request {row.id} for patient {code} {row.status} by "
                    f"{principal.username} at {iso(now)}. Reason: {why}")
            s.flush()
            return self._view(s, principal, trial, row)

    def withdraw(self, principal: Principal, trial_id: str, request_id: int, reason: str | None
                 ) -> UnblindingRequestView:
        why = clean_text(reason, "a reason")
        require_in_trial(principal, Action.REQUEST_UNBLINDING, trial_id)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            trial = get_trial(s, trial_id)
            row = self._visible(s, principal, trial_id, request_id, lock=True)
            if row.requested_by != principal.user_id:
                raise ForbiddenError("only the requester withdraws an unblinding request")
            if row.status != "requested":
                raise ConflictError(f"unblinding request {row.id} was already {row.status}")
            row.status, row.decided_by, row.decided_at, row.decision_reason = "withdrawn", principal.user_id, now, why
            _notify(s, principal, trial_id, "unblinding-withdrawn", row.patient_id, now,
                    f"Unblinding request {row.id} for patient {patient_code(row.patient_id)} "
                    f"withdrawn by {principal.username} at {iso(now)}. Reason: {why}")
            s.flush()
            return self._view(s, principal, trial, row)

    def list_requests(self, principal: Principal, trial_id: str, status: str | None = None
                      ) -> list[UnblindingRequestView]:
        sites = self._sites(principal, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            query = (select(UnblindingRequest).join(Patient, Patient.id == UnblindingRequest.patient_id)
                     .where(UnblindingRequest.trial_id == trial_id).order_by(UnblindingRequest.id))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            if status is not None:
                query = query.where(UnblindingRequest.status == status)
            return [self._view(s, principal, trial, row) for row in s.scalars(query)]

    def get(self, principal: Principal, trial_id: str, request_id: int) -> UnblindingRequestView:
        """One request; a blinded requester shown the arm of an approved request is an audited view (AUD-6)."""
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            view = self._view(s, principal, trial, self._visible(s, principal, trial_id, request_id))
            revealed = view.arm is not None and not principal.sees_arms(trial.id, trial.blinded, trial.unblinded_at)
        if revealed:
            with self.db.write(principal.audit_context(reason="approved unblinding request read")) as s:
                record_event(s, "unblinding.viewed", trial_id=trial_id, table_name="unblinding_requests",
                             record_id=str(request_id), details={"patient_id": view.patient_id})
        return view

    @staticmethod
    def _sites(principal: Principal, trial_id: str) -> set[str] | None:
        """The sites whose requests this principal sees (None: all): the reviewer's, else the requester's."""
        if principal.system or principal.grants_for(Action.REVIEW_UNBLINDING, trial_id):
            return None
        require_in_trial(principal, Action.REQUEST_UNBLINDING, trial_id)
        return principal.site_filter(Action.REQUEST_UNBLINDING, trial_id)

    def _visible(self, s: Session, principal: Principal, trial_id: str, request_id: int, *, lock: bool = False
                 ) -> UnblindingRequest:
        sites = self._sites(principal, trial_id)
        query = select(UnblindingRequest).where(UnblindingRequest.id == request_id,
                                                UnblindingRequest.trial_id == trial_id)
        row = s.scalar(query.with_for_update() if lock else query)
        if row is None or (sites is not None and _site_of(s, row.patient_id) not in sites):
            raise NotFoundError(f"no unblinding request {request_id} in trial {trial_id}")
        return row

    def _open(self, s: Session, trial_id: str, request_id: int) -> UnblindingRequest:
        row = s.scalar(select(UnblindingRequest).where(UnblindingRequest.id == request_id,
                                                       UnblindingRequest.trial_id == trial_id).with_for_update())
        if row is None:
            raise NotFoundError(f"no unblinding request {request_id} in trial {trial_id}")
        if row.status != "requested":
            raise ConflictError(f"unblinding request {row.id} was already {row.status}")
        return row

    @staticmethod
    def _view(s: Session, principal: Principal, trial: Trial, row: UnblindingRequest) -> UnblindingRequestView:
        allocation = _allocation(s, row.patient_id)
        names = _usernames(s, {row.requested_by, row.decided_by})
        shown = principal.sees_arms(trial.id, trial.blinded, trial.unblinded_at) or (
            row.status == "approved" and row.requested_by == principal.user_id)
        arm = arm_name = None
        if shown and allocation is not None:
            arm = allocation.arm
            described = in_force(trial, allocation.allocation_date).arm(allocation.arm)
            arm_name = described.name if described else allocation.arm
        return UnblindingRequestView(
            row.id, row.trial_id, row.patient_id, patient_code(row.patient_id), _site_of(s, row.patient_id),
            allocation.kit_code if allocation is not None else None, row.reason, names.get(row.requested_by, "?"),
            iso(row.requested_at), row.status, names.get(row.decided_by) if row.decided_by else None,
            iso(row.decided_at) if row.decided_at else None, row.decision_reason, arm, arm_name)


def _allocation(s: Session, patient_id: int) -> Allocation | None:
    return s.scalar(select(Allocation).where(Allocation.patient_id == patient_id))


def _site_of(s: Session, patient_id: int) -> str:
    return str(s.scalar(select(Patient.site_id).where(Patient.id == patient_id)))


def _usernames(s: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {int(row.id): str(row.username) for row in s.execute(select(User.id, User.username)
                                                                   .where(User.id.in_(wanted)))}


def _notify(s: Session, principal: Principal, trial_id: str, kind: str, patient_id: int, now: dt.datetime,
            message: str) -> None:
    """A notice for the unblinded roles (sponsor, pharmacovigilance) of each step of a request."""
    s.add(Notification(trial_id=trial_id, kind=kind, patient_id=patient_id, message=message,
                       created_by=principal.user_id, created_at=now))

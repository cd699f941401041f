"""Randomizing when the server is down: emergency envelopes, their back-entry and reconciliation (RND-12).

Sealed Envelope's downtime procedure (help article 94) and clinicedc's paper backup: the unblinded statistician
issues each site a few sealed envelopes in advance (``issue``: numbered, with a kit code in a blinded trial;
the arms stay on the server and on the sealed paper). A site that cannot reach the server enrols on paper,
opens the next envelope and treats the patient; once the server is back it enrols the patient (eligibility is
checked as always) and enters the envelope with the time it was opened and why (``back_enter``). That records
an allocation like any other (method ``emergency-envelope``, with the envelope's arm and kit code, the
protocol version in force when it was opened), in the same audited transaction as the envelope's use; the
unblinded roles are notified. ``envelopes`` is the reconciliation: per site, what was issued, used and is
still sealed.

Concealment: an unused envelope's arm is shown only to the roles that see arms in a blinded trial (in an
open-label trial too: the envelope is sealed until opened). A used one shows its arm to whoever sees arms.
Dynamic methods do not count back-entered patients in their balance (their state rows are the online
sequence); ``equipoise allocation replay`` checks each back-entered allocation against its envelope.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from equipoise.allocate import ArmWeight, SystemSource, build_request
from equipoise.allocate.emergency_envelopes import draw_envelopes
from equipoise.errors import ConflictError, IdempotencyKeyReusedError, InvalidError, NotFoundError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import patient_for, require_in_trial
from equipoise.services.free_text import clean_text
from equipoise.services.randomization import (
    AllocationRow,
    AllocationView,
    RandomizationService,
    allocation_view,
    new_kit_code,
)
from equipoise.services.site_clock import Clock, local_date
from equipoise.services.trials import get_trial, in_force, refuse_if_database_locked
from equipoise.services.values import typed_values
from equipoise.store.core_rows import insert_row, update_row
from equipoise.store.db import Database
from equipoise.store.list_models import EmergencyEnvelope
from equipoise.store.models import Allocation, AllocationState, Notification, Patient, patient_code
from equipoise.store.types import iso, utcnow

METHOD = "emergency-envelope"
MAX_ISSUE = 200


class EmergencyEnvelopeService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def issue(self, principal: Principal, trial_id: str, site_id: str, count: int, password: str | None
              ) -> list[dict[str, Any]]:
        """Draw ``count`` more envelopes for a site (unblinded statistician, password again)."""
        require_in_trial(principal, Action.MANAGE_LISTS, trial_id)
        if not 1 <= count <= MAX_ISSUE:
            raise InvalidError(f"issue between 1 and {MAX_ISSUE} envelopes at a time, not {count}")
        self.auth.reauthenticate(principal, password)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=f"{count} emergency envelope(s) issued")) as s:
            trial = get_trial(s, trial_id)
            protocol = in_force(trial, now.date())
            if protocol.site(site_id) is None:
                raise InvalidError(f"trial {trial_id} has no site {site_id!r} in force")
            arms = protocol.arms_at_site(site_id)
            drawn = draw_envelopes([ArmWeight(a.id, a.allocation) for a in arms], count, SystemSource())
            last = s.scalar(select(func.max(EmergencyEnvelope.number)).where(
                EmergencyEnvelope.trial_id == trial_id, EmergencyEnvelope.site_id == site_id)) or 0
            prefixes = {a.id: a.kit_prefix for a in arms}
            rows = [EmergencyEnvelope(trial_id=trial_id, site_id=site_id, number=last + i, arm=arm,
                                      kit_code=new_kit_code(prefixes[arm]) if trial.blinded else None,
                                      issued_by=principal.user_id, issued_at=now)
                    for i, arm in enumerate(drawn, start=1)]
            s.add_all(rows)
            s.flush()
            return [_view(row, True) for row in rows]

    def envelopes(self, principal: Principal, trial_id: str, site_id: str | None = None) -> dict[str, Any]:
        """The reconciliation: every envelope of the sites this principal sees, and per site the counts."""
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            query = select(EmergencyEnvelope).where(EmergencyEnvelope.trial_id == trial_id).order_by(
                EmergencyEnvelope.site_id, EmergencyEnvelope.number)
            if sites is not None:
                query = query.where(EmergencyEnvelope.site_id.in_(sorted(sites)))
            if site_id is not None:
                query = query.where(EmergencyEnvelope.site_id == site_id)
            rows = s.scalars(query).all()
        unblinded = principal.system or bool(principal.grants_for(Action.VIEW_ARMS, trial_id))
        sees_used = principal.sees_arms(trial_id, trial.blinded, trial.unblinded_at)
        summary: dict[str, dict[str, int]] = {}
        for row in rows:
            counts = summary.setdefault(row.site_id, {"issued": 0, "used": 0, "sealed": 0})
            counts["issued"] += 1
            counts["used" if row.patient_id is not None else "sealed"] += 1
        return {"sites": summary,
                "envelopes": [_view(r, unblinded or (r.patient_id is not None and sees_used)) for r in rows]}

    def back_enter(self, principal: Principal, trial_id: str, patient_id: int, number: int,
                   opened_at: dt.datetime, reason: str | None, idempotency_key: str) -> AllocationView:
        """Record the allocation of an envelope a site opened while the server was down."""
        why = clean_text(reason, "a reason (why the server could not be used)")
        if not idempotency_key or len(idempotency_key) > 100:
            raise InvalidError("an idempotency key (1-100 characters) is required, so that a retry cannot "
                               "enter an envelope twice")
        if opened_at.tzinfo is None:
            raise InvalidError("opened_at needs a time zone (e.g. 2026-03-01T02:40:00+08:00)")
        now = self.clock()
        if opened_at > now + dt.timedelta(minutes=5):
            raise InvalidError(f"opened_at {iso(opened_at)} is in the future")
        try:
            with self.db.write(principal.audit_context(reason=why)) as s:
                return self._back_enter(s, principal, trial_id, patient_id, number, opened_at, why,
                                        idempotency_key, now)
        except IntegrityError:
            # A concurrent retry with the same key won: answer as the retry would be answered.
            with self.db.read() as s:
                done = s.scalar(select(Allocation).where(Allocation.trial_id == trial_id,
                                                         Allocation.idempotency_key == idempotency_key))
                if done is not None and done.patient_id != patient_id:
                    raise IdempotencyKeyReusedError(["patient_id"], "entering another envelope") from None
                if done is None:
                    raise ConflictError(f"patient {patient_code(patient_id)} or envelope {number} was entered "
                                        "at the same moment by another request") from None
                return allocation_view(done, _site(s, patient_id), get_trial(s, trial_id), principal, replayed=True)

    def _back_enter(self, s: Session, principal: Principal, trial_id: str, patient_id: int, number: int,
                    opened_at: dt.datetime, why: str, key: str, now: dt.datetime) -> AllocationView:
        patient = patient_for(s, principal, trial_id, patient_id, Action.RANDOMIZE, lock=True)
        trial = get_trial(s, trial_id)
        refuse_if_database_locked(trial_id, trial.status)
        earlier = s.scalar(select(Allocation).where(Allocation.patient_id == patient.id))
        if earlier is not None:
            if earlier.idempotency_key == key and earlier.method == METHOD:
                entered = earlier.diagnostics.get("envelope") if earlier.diagnostics else None
                if entered is not None and entered != number:
                    raise IdempotencyKeyReusedError(["number"], "entering another envelope")
                return allocation_view(earlier, patient.site_id, trial, principal, replayed=True)
            raise ConflictError(f"patient {patient_code(patient.id)} is already randomized (allocation "
                                f"{earlier.id}); a patient is never randomized twice")
        envelope = s.scalar(select(EmergencyEnvelope).where(
            EmergencyEnvelope.trial_id == trial_id, EmergencyEnvelope.site_id == patient.site_id,
            EmergencyEnvelope.number == number).with_for_update())
        if envelope is None:
            raise NotFoundError(f"site {patient.site_id} has no emergency envelope {number}")
        if envelope.patient_id is not None:
            raise ConflictError(f"envelope {number} of site {patient.site_id} was already used for patient "
                                f"{patient_code(envelope.patient_id)}")
        if opened_at < envelope.issued_at:
            raise InvalidError(f"opened_at {iso(opened_at)} is before envelope {number} was issued "
                               f"({iso(envelope.issued_at)})")
        date = local_date(in_force(trial, opened_at.date()), patient.site_id, opened_at)
        protocol = in_force(trial, date)
        request = build_request(protocol, patient.site_id, typed_values(protocol, patient.enrolment_values,
                                                                                stored=patient.enrolment_values))
        state = RandomizationService.lock_state(s, trial_id, f"{METHOD}|{patient.site_id}", {"used": 0})
        sequence = state["count"] + 1
        update_row(s, AllocationState, state, {"count": sequence, "state": {"used": sequence}})
        contraindicated = envelope.arm not in request.arm_ids
        row: dict[str, Any] = {
            "trial_id": trial_id, "patient_id": patient.id, "state_id": state["id"], "sequence": sequence,
            "stratum": request.stratum, "factors": dict(request.factors), "arm": envelope.arm,
            "kit_code": envelope.kit_code, "protocol_version": protocol.trial.version, "allocation_date": date,
            "method": METHOD, "parameters": {"method": METHOD, "site": patient.site_id},
            "request": request.to_dict(), "draws": [],
            "diagnostics": {"method": METHOD, "envelope": number, "opened_at": iso(opened_at),
                            "entered_at": iso(now), "arm_open_to_patient": not contraindicated},
            "state_after": {"used": sequence}, "adaptive_table_version": None, "idempotency_key": key,
            "allocated_by": principal.user_id, "allocated_at": opened_at}
        row["id"] = insert_row(s, Allocation, row)
        update_row(s, Patient, {"id": patient.id, "trial_id": trial_id, "site_id": patient.site_id,
                                "status": patient.status, "protocol_version": patient.protocol_version},
                   {"status": "randomized"})
        envelope.patient_id, envelope.opened_at = patient.id, opened_at
        envelope.entered_by, envelope.entered_at, envelope.reason = principal.user_id, now, why
        warning = (" The envelope's arm is not open to this patient under the protocol (site availability or "
                   "a contraindication): review the patient's safety.") if contraindicated else ""
        s.add(Notification(trial_id=trial_id, kind="emergency-envelope", patient_id=patient.id,
                           message=f"Patient {patient_code(patient.id)} (site {patient.site_id}) was randomized "
                           f"offline with emergency envelope {number}, opened at {iso(opened_at)}, entered by "
                           f"{principal.username} at {iso(now)}. Reason: {why}.{warning}",
                           created_by=principal.user_id, created_at=now))
        s.flush()
        return allocation_view(AllocationRow(**row), patient.site_id, trial, principal)


def envelope_of(s: Session, allocation: Allocation) -> EmergencyEnvelope | None:
    """The envelope a back-entered allocation says it used (for replay)."""
    return s.scalar(select(EmergencyEnvelope).where(EmergencyEnvelope.patient_id == allocation.patient_id))


def _view(row: EmergencyEnvelope, show_arm: bool) -> dict[str, Any]:
    return {"site_id": row.site_id, "number": row.number, "kit_code": row.kit_code,
            "arm": row.arm if show_arm else None, "issued_at": iso(row.issued_at),
            "status": "used" if row.patient_id is not None else "sealed", "patient_id": row.patient_id,
            "opened_at": iso(row.opened_at) if row.opened_at else None,
            "entered_at": iso(row.entered_at) if row.entered_at else None, "reason": row.reason}


def _site(s: Session, patient_id: int) -> str:
    return str(s.scalar(select(Patient.site_id).where(Patient.id == patient_id)))

"""Patients who leave the study early: withdrawal of consent, lost to follow-up, the investigator's decision, death.

What a site records and what follows from it (ICH E6(R3) §2.8.10; FDA guidance "Data retention when subjects
withdraw from FDA-regulated clinical trials", 2008; CONSORT 2010 item 13b):

- the kind, the date (the site's local date, not in the future, not before enrolment) and a reason, audited;
- data collected before that date stay in the trial and in its analyses; visits whose window opens after it
  are no longer expected (the schedule shows them as ``off-study``, never overdue);
- after a withdrawal of consent no data may be entered for such visits (they would be collected without
  consent); a patient lost to follow-up may reappear, so data for later visits are still accepted;
- after a death the forms that record an outcome at the outcome's visit are still expected (died: yes, WHO level
  10), every other later form is not, and data are accepted (``schedule.DIED``);
- a record made in error, or a patient who comes back, is cancelled with a reason: the row is deleted and the
  audit trail keeps both the record and its cancellation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import off_study_row, patient_for, refuse_if_locked, site_today, trial_and_protocol
from equipoise.services.free_text import clean_text
from equipoise.services.off_study_view import KINDS, OffStudyView, off_study_view
from equipoise.services.site_clock import Clock
from equipoise.store.crf_models import OffStudy
from equipoise.store.db import Database
from equipoise.store.types import utcnow


class OffStudyService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def record(self, principal: Principal, trial_id: str, patient_id: int, kind: str, effective_date: dt.date,
               reason: str | None) -> OffStudyView:
        """Record that the patient left the study on ``effective_date`` (the site's local date)."""
        if kind not in KINDS:
            raise InvalidError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        why = clean_text(reason, "a reason")
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.ENTER_DATA, lock=True)
            refuse_if_locked(s, patient, None)
            _trial, protocol = trial_and_protocol(s, trial_id)
            today = site_today(protocol, patient.site_id, now)
            if effective_date > today:
                raise InvalidError(f"the off-study date {effective_date.isoformat()} is in the future (today at site "
                                   f"{patient.site_id} is {today.isoformat()})")
            if effective_date < patient.enrolment_date:
                raise InvalidError(f"the off-study date {effective_date.isoformat()} is before the enrolment of "
                                   f"patient {patient.code} on {patient.enrolment_date.isoformat()}")
            existing = off_study_row(s, patient.id)
            if existing is not None:
                raise ConflictError(f"patient {patient.code} is already off study ({KINDS[existing.kind]} on "
                                    f"{existing.effective_date.isoformat()}): cancel that record first to change it")
            row = OffStudy(trial_id=trial_id, patient_id=patient.id, kind=kind, effective_date=effective_date,
                           reason=why, recorded_by=principal.user_id, recorded_at=now)
            s.add(row)
            s.flush()
            return off_study_view(row, patient)

    def cancel(self, principal: Principal, trial_id: str, patient_id: int, reason: str | None) -> dict[str, Any]:
        """Cancel an off-study record (made in error, or the patient came back), with a reason."""
        why = clean_text(reason, "a reason")
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.ENTER_DATA, lock=True)
            refuse_if_locked(s, patient, None)
            row = off_study_row(s, patient.id)
            if row is None:
                raise NotFoundError(f"patient {patient.code} is not off study")
            cancelled = off_study_view(row, patient).to_dict()
            s.delete(row)
            s.flush()
            return {"patient_id": patient.id, "patient_code": patient.code, "cancelled": cancelled,
                    "reason": why}

    def get(self, principal: Principal, trial_id: str, patient_id: int) -> OffStudyView:
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            row = off_study_row(s, patient.id)
            if row is None:
                raise NotFoundError(f"patient {patient.code} is not off study")
            return off_study_view(row, patient)


__all__ = ["OffStudyService"]

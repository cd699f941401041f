"""Shared lookups of the case-report-form services: the patient a principal may act on, the form and visit.

The order of refusals follows the rest of the server: 403 when the role cannot do this at all in the trial,
404 when the patient belongs to a site the principal does not see (its existence is not revealed), then 403
when the role may do it elsewhere but not at this patient's site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Form, Protocol, Visit
from equipoise.protocol.amending import with_every_field
from equipoise.protocol.amendments import AddSite
from equipoise.services.site_clock import local_date
from equipoise.services.trials import get_trial, in_force, protocol_of, refuse_if_database_locked
from equipoise.store.crf_models import FormRecord, OffStudy, PatientLock
from equipoise.store.models import Allocation, Patient, Trial, User
from equipoise.store.types import iso


class RecordLockedError(ServiceError):
    """423 Locked: the form or the patient's casebook is locked; only an unlock (with a reason) reopens it."""

    status = 423


def require_in_trial(principal: Principal, action: Action, trial_id: str) -> None:
    if not principal.system and not principal.grants_for(action, trial_id):
        raise ForbiddenError(f"your role does not allow {action.value}")


def patient_for(s: Session, principal: Principal, trial_id: str, patient_id: int, action: Action,
                *, lock: bool = False) -> Patient:
    """The patient, if the principal may do ``action`` on it (404 for patients of sites it does not see)."""
    require_in_trial(principal, action, trial_id)
    query = select(Patient).where(Patient.id == patient_id)
    if lock:
        query = query.with_for_update()
    patient = s.scalars(query).one_or_none()
    # Which patients exist for this principal: those of the sites it may read forms at (a monitor's lock is
    # visible to the investigator who cannot lock), else those of the sites it may do ``action`` at.
    scope = Action.VIEW_FORMS if principal.grants_for(Action.VIEW_FORMS, trial_id) else action
    seen_sites = principal.site_filter(scope, trial_id)
    if patient is None or patient.trial_id != trial_id or (
            seen_sites is not None and patient.site_id not in seen_sites):
        raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
    principal.require(action, trial_id, patient.site_id)
    return patient


def form_and_visit(protocol: Protocol, form_id: str, visit_id: str, instance: int = 1) -> tuple[Form, Visit]:
    """The form and visit, refusing a form the visit does not collect, and a record number other than 1 of a form
    that is not repeating."""
    form = protocol.form(form_id)
    if form is None:
        forms = ", ".join(f.id for f in protocol.forms) or "none"
        raise NotFoundError(f"trial {protocol.trial.id} has no form {form_id!r} (forms: {forms})")
    visit = next((v for v in protocol.visits if v.id == visit_id), None)
    if visit is None or visit_id not in form.visits:
        raise NotFoundError(f"form {form_id} is not collected at visit {visit_id!r} (its visits: "
                            f"{', '.join(form.visits)})")
    if instance != 1 and not form.repeating:
        raise NotFoundError(f"form {form_id} is not repeating: it has one record per visit (instance 1), not "
                            f"instance {instance}")
    return form, visit


def form_name(form_id: str, visit_id: str, instance: int = 1) -> str:
    """How messages name one record: the record number shows only beyond the first."""
    return f"form {form_id} #{instance} at visit {visit_id}" if instance != 1 else f"form {form_id} at visit {visit_id}"


def record_key(patient_id: int, form_id: str, visit_id: str, instance: int = 1) -> list[ColumnElement[bool]]:
    """The WHERE clause of one form record."""
    return [FormRecord.patient_id == patient_id, FormRecord.form_id == form_id, FormRecord.visit_id == visit_id,
            FormRecord.instance == instance]


def trial_and_protocol(s: Session, trial_id: str, on: dt.date | None = None) -> tuple[Trial, Protocol]:
    """The trial and its protocol in force ``on`` a date, or (no date) the base protocol with every field its
    amendments add, which records of any version can hold."""
    trial = get_trial(s, trial_id)
    return trial, (in_force(trial, on) if on is not None else with_every_field(protocol_of(trial)))


def site_today(protocol: Protocol, site_id: str, now: dt.datetime) -> dt.date:
    return local_date(protocol, site_id, now)


def allocation_date(s: Session, patient_id: int) -> dt.date | None:
    return s.scalar(select(Allocation.allocation_date).where(Allocation.patient_id == patient_id))


def anchor_date(protocol: Protocol, patient: Patient, randomized_on: dt.date | None) -> dt.date | None:
    """Day 0 of the visit schedule: the randomization date; the enrolment date in a trial without randomization.

    None for a patient of a randomized trial who is not randomized yet (later visits are not due).
    """
    if randomized_on is not None:
        return randomized_on
    return patient.enrolment_date if protocol.randomization is None else None


def patient_lock(s: Session, patient_id: int) -> PatientLock | None:
    lock = s.scalar(select(PatientLock).where(PatientLock.patient_id == patient_id))
    return lock if lock is not None and lock.locked else None


def user_names(s: Session, ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    """User id -> (username, full name), for showing who did what."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = s.execute(select(User.id, User.username, User.full_name).where(User.id.in_(sorted(wanted))))
    return {uid: (username, full) for uid, username, full in rows}


def name_of(names: dict[int, tuple[str, str]], user_id: int | None) -> str | None:
    if user_id is None:
        return "system"
    return names.get(user_id, (f"user {user_id}", ""))[0]


def visible_sites(principal: Principal, action: Action, trial_id: str, site_id: str | None) -> set[str] | None:
    """Sites to include for a list: the principal's sites for ``action``, narrowed to ``site_id`` if given."""
    require_in_trial(principal, action, trial_id)
    sites = principal.site_filter(action, trial_id)
    if site_id is None:
        return sites
    if sites is not None and site_id not in sites:
        raise ForbiddenError(f"your role does not allow {action.value} at site {site_id}")
    return {site_id}


def every_site(protocol: Protocol) -> dict[str, str]:
    """Site id -> name, for every site of every protocol version (those added by amendment too)."""
    sites = {s.id: s.name for s in protocol.sites}
    for amendment in protocol.amendments:
        for change in amendment.changes:
            if isinstance(change, AddSite):
                sites.setdefault(change.site.id, change.site.name)
    return sites


def check_site(protocol: Protocol, site_id: str | None) -> None:
    sites = every_site(protocol)
    if site_id is not None and site_id not in sites:
        raise InvalidError(f"trial {protocol.trial.id} has no site {site_id!r} (sites: {', '.join(sites)})")


def off_study_row(s: Session, patient_id: int) -> OffStudy | None:
    return s.scalar(select(OffStudy).where(OffStudy.patient_id == patient_id))


def off_study_dates(s: Session, trial_id: str) -> dict[int, dt.date]:
    return dict(s.execute(select(OffStudy.patient_id, OffStudy.effective_date)
                          .where(OffStudy.trial_id == trial_id)).all())


def refuse_after_withdrawal(row: OffStudy | None, patient: Patient, visit_id: str, opens: dt.date | None) -> None:
    """Refuse data for a visit that opens after the patient withdrew consent."""
    if row is None or row.kind != "withdrew-consent" or opens is None or opens <= row.effective_date:
        return
    raise ConflictError(f"patient {patient.code} withdrew consent on {row.effective_date.isoformat()}: no data may be "
                        f"collected for visit {visit_id} (opens {opens.isoformat()}); if the withdrawal was recorded "
                        "in error, cancel it with a reason first")


def refuse_if_locked(s: Session, patient: Patient, record: FormRecord | None) -> None:
    """Refuse a change under the trial's database lock, the patient's casebook lock or the form's lock."""
    refuse_if_database_locked(patient.trial_id, str(s.scalar(select(Trial.status).where(Trial.id == patient.trial_id))))
    lock = patient_lock(s, patient.id)
    if lock is not None:
        who = name_of(user_names(s, [lock.locked_by]), lock.locked_by)
        when = iso(lock.locked_at) if lock.locked_at else "?"
        raise RecordLockedError(f"patient {patient.code}'s casebook is locked (by {who} at {when}): a monitor must "
                                "unlock it, with a reason, before any change")
    if record is not None and record.locked_at is not None:
        who = name_of(user_names(s, [record.locked_by]), record.locked_by)
        raise RecordLockedError(f"{form_name(record.form_id, record.visit_id, record.instance)} of patient "
                                f"{patient.code} is locked (by {who} at {iso(record.locked_at)}): a monitor must "
                                "unlock it, with a reason, before any change")

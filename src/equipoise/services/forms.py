"""Case report forms: enter, change (with a reason), read, trace and track, per patient and visit.

- First save: values are checked field by field (``crf_values``); a form with empty required fields is
  refused unless saved explicitly as incomplete. Every later change needs a reason (ICH E6(R3) §4.2.2;
  AUD-4), which the audit trail stores with the old and new values, and it invalidates the signatures of
  that form and of the patient's casebook (21 CFR 11.70).
- A locked form or patient refuses every change with 423 and says who locked it and how to unlock.
- Concurrent edits: the patient row is locked for the write; a client may send the version it loaded
  (``expected_version``) and gets 409 when someone saved in between, instead of overwriting their change.
- The schedule and the tracking report say which forms are due, overdue or done, per patient and per site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Form, Protocol
from equipoise.protocol.amending import ENROLMENT_FORM
from equipoise.protocol.form_schema import form_json_schema
from equipoise.services.crf_access import (
    allocation_date,
    anchor_date,
    check_site,
    form_and_visit,
    form_name,
    name_of,
    off_study_dates,
    off_study_row,
    patient_for,
    patient_lock,
    record_key,
    refuse_after_withdrawal,
    refuse_if_locked,
    require_in_trial,
    site_today,
    trial_and_protocol,
    user_names,
    visible_sites,
)
from equipoise.services.crf_values import DateContext, check_values, require_complete, retired_values
from equipoise.services.free_text import clean_text, optional_text
from equipoise.services.item_history import item_changes
from equipoise.services.off_study_view import off_study_view
from equipoise.services.schedule import FormDue, saved_states, schedule, window_warning
from equipoise.services.signatures import invalidate, signature_view, signatures_of
from equipoise.services.site_clock import Clock
from equipoise.services.trials import in_force
from equipoise.store.crf_models import FormQuery, FormRecord, OffStudy
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AuditEntry, Patient, Trial, patient_code
from equipoise.store.types import iso, utcnow


def enrolment_form(protocol: Protocol) -> Form:
    """The enrolment fields as a form (id ``enrolment``, the id amendments use for them), for its JSON Schema."""
    return Form(id=ENROLMENT_FORM, name="Enrolment", visits=[ENROLMENT_FORM], fields=protocol.enrolment.fields)


@dataclass(frozen=True)
class FormRecordView:
    id: int
    patient_id: int
    patient_code: str
    site_id: str
    form_id: str
    form_name: str
    visit_id: str
    instance: int
    status: str
    values: dict[str, Any]
    not_done_reason: str | None
    version: int
    protocol_version: str
    created_at: str
    created_by: str | None
    updated_at: str
    updated_by: str | None
    locked: bool
    locked_at: str | None
    locked_by: str | None
    patient_locked: bool
    open_queries: int
    signatures: list[dict[str, object]]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SaveResult:
    record: FormRecordView
    changed: bool
    invalidated_signatures: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {**self.record.to_dict(), "changed": self.changed,
                "invalidated_signatures": self.invalidated_signatures, "warnings": self.warnings}


def record_view(s: Session, record: FormRecord, patient: Patient, form: Form | None = None) -> FormRecordView:
    sigs = signatures_of(s, [record.id]).get(record.id, [])
    names = user_names(s, [record.created_by, record.updated_by, record.locked_by,
                           *(g.invalidated_by for g in sigs)])
    open_queries = s.scalar(select(func.count()).select_from(FormQuery).where(
        FormQuery.patient_id == record.patient_id, FormQuery.form_id == record.form_id,
        FormQuery.visit_id == record.visit_id, FormQuery.instance == record.instance,
        FormQuery.status != "closed")) or 0
    return FormRecordView(
        record.id, record.patient_id, patient_code(record.patient_id), patient.site_id, record.form_id,
        form.name if form else record.form_id, record.visit_id, record.instance, record.status,
        dict(record.field_values), record.not_done_reason, record.version, record.protocol_version,
        iso(record.created_at), name_of(names, record.created_by), iso(record.updated_at),
        name_of(names, record.updated_by), record.locked_at is not None,
        iso(record.locked_at) if record.locked_at else None,
        name_of(names, record.locked_by) if record.locked_at else None, patient_lock(s, patient.id) is not None,
        open_queries, [signature_view(s, g, record, names).to_dict() for g in sigs])


def row_view(_s: Session, record: FormRecord, patient: Patient, form: Form | None = None) -> FormRecordView:
    """The record as its own row says (no look-ups): user ids for names, no open queries, signatures or casebook
    lock read back. For bulk entry that does not show the record (``read_back=False``)."""
    return FormRecordView(
        record.id, record.patient_id, patient_code(record.patient_id), patient.site_id, record.form_id,
        form.name if form else record.form_id, record.visit_id, record.instance, record.status,
        dict(record.field_values), record.not_done_reason, record.version, record.protocol_version,
        iso(record.created_at), None, iso(record.updated_at), None, record.locked_at is not None,
        iso(record.locked_at) if record.locked_at else None, None, False, 0, [])


class FormService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    # --- entering data -----------------------------------------------------------------------------------------

    def save(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
             raw_values: Mapping[str, Any], *, reason: str | None = None, incomplete: bool = False,
             merge: bool = False, expected_version: int | None = None, instance: int = 1,
             read_back: bool = True) -> SaveResult:
        """Save a form: the whole form (``merge=False``) or only the fields given (``merge=True``).

        A repeating form's records are numbered in order: a new record is the next number (a client that
        retries a save of record n after a lost answer finds it saved, unchanged, instead of adding another).
        ``read_back=False`` (bulk entry that only needs to know what changed): the result's record holds the
        row's own columns only (see ``row_view``), without reading back names, queries and signatures."""
        view = record_view if read_back else row_view
        now = self.clock()
        name = form_name(form_id, visit_id, instance)
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.ENTER_DATA)
            trial, base = trial_and_protocol(s, trial_id)
            form_and_visit(base, form_id, visit_id, instance)
            randomized_on = allocation_date(s, patient.id)
        protocol = in_force(trial, site_today(base, patient.site_id, now))
        form, visit = form_and_visit(protocol, form_id, visit_id, instance)
        today = site_today(protocol, patient.site_id, now)
        anchor = anchor_date(protocol, patient, randomized_on)
        if anchor is None and visit.day > 0:
            raise ConflictError(f"patient {patient.code} is not randomized yet: visit {visit.id} is day {visit.day} "
                                "after randomization")
        why = optional_text(reason, "reason")
        version = protocol.trial.version
        with self.db.write(principal.audit_context(reason=why, protocol_version=version)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.ENTER_DATA, lock=True)
            record = self._record(s, patient.id, form_id, visit_id, instance)
            refuse_if_locked(s, patient, record)
            if anchor is not None:
                opens = anchor + dt.timedelta(days=visit.day + visit.window[0])
                refuse_after_withdrawal(off_study_row(s, patient.id), patient, visit_id, opens)
            if record is None and merge:
                raise NotFoundError(f"{name} of patient {patient.code} has not been saved yet: save the whole form "
                                    "first (PUT)")
            if record is None:
                self._refuse_gap(s, patient, form_id, visit_id, instance)
            if expected_version is not None and (record.version if record else 0) != expected_version:
                current = record.version if record else 0
                raise ConflictError(f"the form was saved by someone else since you loaded it (version {current}, you "
                                    f"had version {expected_version}): reload it and apply your change again")
            retired = retired_values(form, record.field_values if record else {}, raw_values)
            raw = {**(record.field_values if record and merge else {}), **raw_values}
            raw = {k: v for k, v in raw.items() if k not in retired}
            if merge:
                raw = {k: v for k, v in raw.items() if v is not None and v != ""}
            checked = check_values(form, visit, raw, DateContext(today, patient.site_id, anchor))
            checked.values.update(retired)
            if not incomplete:
                require_complete(form, checked)
            status = "complete" if checked.complete else "incomplete"
            warnings = [w for w in [window_warning(protocol, visit_id, anchor, today)] if w]
            if record is None:
                record = FormRecord(trial_id=trial_id, patient_id=patient.id, form_id=form_id, visit_id=visit_id,
                                    instance=instance, field_values=checked.values, status=status, version=1,
                                    protocol_version=version,
                                    created_by=principal.user_id, created_at=now, updated_by=principal.user_id,
                                    updated_at=now)
                s.add(record)
                s.flush()
                warnings += _soft_checks(s, form, record, {}, principal, now)
                # A new form changes the patient's casebook: a casebook signature no longer covers it.
                invalidated = invalidate(s, patient_id=patient.id, form_record_id=None, by=principal.user_id, at=now,
                                         reason=f"{name} added by {principal.username}")
                return SaveResult(view(s, record, patient, form), True, invalidated, warnings)
            if checked.values == record.field_values and status == record.status:
                return SaveResult(view(s, record, patient, form), False, [], warnings)
            if why is None:
                raise InvalidError(f"a reason for the change is required: {name} was first saved at "
                                   f"{iso(record.created_at)} (version {record.version})")
            warnings += _soft_checks(s, form, record, record.field_values, principal, now, checked.values)
            record.field_values = checked.values
            record.status = status
            record.not_done_reason = None
            record.version += 1
            record.protocol_version = version
            record.updated_by = principal.user_id
            record.updated_at = now
            invalidated = invalidate(s, patient_id=patient.id, form_record_id=record.id, by=principal.user_id, at=now,
                                     reason=f"form changed by {principal.username}: {why}")
            s.flush()
            return SaveResult(view(s, record, patient, form), True, invalidated, warnings)

    def mark_not_done(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
                      reason: str | None, instance: int = 1, read_back: bool = True) -> SaveResult:
        """Record that a form will not be collected (patient died, visit missed; for a repeating form's record,
        entered in error), with the reason. ``read_back``: as for ``save``."""
        view = record_view if read_back else row_view
        why = clean_text(reason, "a reason why the form is not done")
        name = form_name(form_id, visit_id, instance)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.ENTER_DATA, lock=True)
            _trial, protocol = trial_and_protocol(s, trial_id)
            form, _visit = form_and_visit(protocol, form_id, visit_id, instance)
            record = self._record(s, patient.id, form_id, visit_id, instance)
            refuse_if_locked(s, patient, record)
            if record is None:
                self._refuse_gap(s, patient, form_id, visit_id, instance)
                record = FormRecord(trial_id=trial_id, patient_id=patient.id, form_id=form_id, visit_id=visit_id,
                                    instance=instance, field_values={}, status="not-done", not_done_reason=why,
                                    version=1, protocol_version=protocol.trial.version, created_by=principal.user_id,
                                    created_at=now, updated_by=principal.user_id, updated_at=now)
                s.add(record)
                s.flush()
                invalidated = invalidate(s, patient_id=patient.id, form_record_id=None, by=principal.user_id, at=now,
                                         reason=f"{name} marked not done")
            else:
                if record.status == "not-done":
                    raise ConflictError(f"{name} is already marked not done")
                record.field_values = {}
                record.status = "not-done"
                record.not_done_reason = why
                record.version += 1
                record.updated_by = principal.user_id
                record.updated_at = now
                invalidated = invalidate(s, patient_id=patient.id, form_record_id=record.id, by=principal.user_id,
                                         at=now, reason=f"form marked not done by {principal.username}: {why}")
            s.flush()
            return SaveResult(view(s, record, patient, form), True, invalidated, [])

    @staticmethod
    def _record(s: Session, patient_id: int, form_id: str, visit_id: str, instance: int) -> FormRecord | None:
        return s.scalars(select(FormRecord).where(*record_key(patient_id, form_id, visit_id, instance))
                         .with_for_update()).one_or_none()

    @staticmethod
    def _refuse_gap(s: Session, patient: Patient, form_id: str, visit_id: str, instance: int) -> None:
        """A new record of a repeating form is the next number: none is skipped (the patient row is locked, so
        two writers cannot both take the same next number)."""
        if instance == 1:
            return
        saved = s.scalar(select(func.max(FormRecord.instance)).where(
            FormRecord.patient_id == patient.id, FormRecord.form_id == form_id, FormRecord.visit_id == visit_id)) or 0
        if instance != saved + 1:
            raise ConflictError(f"form {form_id} at visit {visit_id} of patient {patient.code} has {saved} "
                                f"record{'s' if saved != 1 else ''}: the next one is #{saved + 1}, not #{instance}")

    # --- reading -------------------------------------------------------------------------------------------------

    def get(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
            instance: int = 1) -> FormRecordView:
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            _trial, protocol = trial_and_protocol(s, trial_id)
            form, _visit = form_and_visit(protocol, form_id, visit_id, instance)
            record = s.scalar(select(FormRecord).where(*record_key(patient.id, form_id, visit_id, instance)))
            if record is None:
                raise NotFoundError(f"{form_name(form_id, visit_id, instance)} of patient {patient.code} has not "
                                    "been saved")
            return record_view(s, record, patient, form)

    def schema(self, principal: Principal, trial_id: str, form_id: str, site_id: str | None = None,
               on: dt.date | None = None) -> dict[str, Any]:
        """The form's edit checks as JSON Schema (EDC-2), in the version in force on ``on`` (default: the site's
        today, or UTC's without a site), for a client to check values before it sends them."""
        require_in_trial(principal, Action.VIEW_TRIAL, trial_id)
        with self.db.read() as s:
            trial, base = trial_and_protocol(s, trial_id)
        check_site(base, site_id)
        if on is None:
            on = site_today(base, site_id, self.clock()) if site_id is not None else self.clock().date()
        protocol = in_force(trial, on)
        form = enrolment_form(protocol) if form_id == ENROLMENT_FORM else protocol.form(form_id)
        if form is None:
            forms = ", ".join([ENROLMENT_FORM, *(f.id for f in protocol.forms)])
            raise NotFoundError(f"trial {trial_id} has no form {form_id!r} on {on.isoformat()} (forms: {forms})")
        schema = form_json_schema(form, protocol.trial.version)
        if form_id == ENROLMENT_FORM:
            schema["description"] = ("The values of POST /patients (and /enrol-and-randomize), beside site_id. "
                                     "Eligibility is checked on the server after these field checks.")
        return schema

    def list_records(self, principal: Principal, trial_id: str, patient_id: int) -> list[FormRecordView]:
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            _trial, protocol = trial_and_protocol(s, trial_id)
            records = s.scalars(select(FormRecord).where(FormRecord.patient_id == patient.id)
                                .order_by(FormRecord.id)).all()
            return [record_view(s, r, patient, protocol.form(r.form_id)) for r in records]

    def history(self, principal: Principal, trial_id: str, patient_id: int, form_id: str,
                visit_id: str, instance: int = 1) -> list[dict[str, Any]]:
        """Every change of the form, field by field, from the audit trail: who, when (UTC), old, new and why."""
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            _trial, protocol = trial_and_protocol(s, trial_id)
            form_and_visit(protocol, form_id, visit_id, instance)
            record = s.scalar(select(FormRecord).where(*record_key(patient.id, form_id, visit_id, instance)))
            if record is None:
                raise NotFoundError(f"{form_name(form_id, visit_id, instance)} of patient {patient.code} has not "
                                    "been saved")
            entries = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "form_records",
                                                         AuditEntry.record_id == str(record.id))
                                .order_by(AuditEntry.id)).all()
            return [change for e in entries for change in item_changes(e)]

    # --- schedule and tracking -----------------------------------------------------------------------------------

    def patient_schedule(self, principal: Principal, trial_id: str, patient_id: int) -> dict[str, Any]:
        now = self.clock()
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            trial, base = trial_and_protocol(s, trial_id)
            randomized_on = allocation_date(s, patient.id)
            saved, counts = saved_states((f, v, st) for f, v, st in s.execute(
                select(FormRecord.form_id, FormRecord.visit_id, FormRecord.status)
                .where(FormRecord.patient_id == patient.id)))
            locked = patient_lock(s, patient.id) is not None
            answers = condition_answers(s, trial_id, base, patient.id).get(patient.id, {})
            left = off_study_row(s, patient.id)
            off_study = off_study_view(left, patient).to_dict() if left is not None else None
        protocol = in_force(trial, site_today(base, patient.site_id, now))
        today = site_today(protocol, patient.site_id, now)
        anchor = anchor_date(protocol, patient, randomized_on)
        items = schedule(protocol, anchor=anchor, provisional_anchor=patient.enrolment_date, today=today, saved=saved,
                         off_study=left.effective_date if left is not None else None, records=counts,
                         off_study_kind=left.kind if left is not None else None, answers=answers)
        return {"patient_id": patient.id, "patient_code": patient.code, "site_id": patient.site_id,
                "today": today.isoformat(), "day0": anchor.isoformat() if anchor else None,
                "randomized_on": randomized_on.isoformat() if randomized_on else None, "locked": locked,
                "off_study": off_study,
                "forms": [i.to_dict() for i in items], "counts": _counts(items)}

    def tracking(self, principal: Principal, trial_id: str, site_id: str | None = None, *, limit: int | None = None,
                 offset: int = 0) -> dict[str, Any]:
        """Missing and overdue forms per site (and the overdue list), for the sites the principal may see.

        ``limit``/``offset`` page the overdue list (most overdue first; ``overdue_total`` counts it all); the
        per-site counts always cover every patient."""
        now = self.clock()
        sites = visible_sites(principal, Action.VIEW_FORMS, trial_id, site_id)
        with self.db.read() as s:
            trial, base = trial_and_protocol(s, trial_id)
            check_site(base, site_id)
            # the columns the schedule reads, not whole patients (their enrolment values are JSON)
            query = (select(Patient).options(load_only(Patient.id, Patient.site_id, Patient.enrolment_date))
                     .where(Patient.trial_id == trial_id).order_by(Patient.id))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            patients = s.scalars(query).all()
            dates = dict(s.execute(select(Allocation.patient_id, Allocation.allocation_date)
                                   .where(Allocation.trial_id == trial_id)).all())
            rows: dict[int, list[tuple[str, str, str]]] = {}
            for pid, form_id, visit_id, status in s.execute(
                    select(FormRecord.patient_id, FormRecord.form_id, FormRecord.visit_id, FormRecord.status)
                    .where(FormRecord.trial_id == trial_id)):
                rows.setdefault(pid, []).append((form_id, visit_id, status))
            totals = _site_totals(s, trial_id, sites)
            left = off_study_dates(s, trial_id)
            kinds = dict(s.execute(select(OffStudy.patient_id, OffStudy.kind)
                                   .where(OffStudy.trial_id == trial_id)).all())
            answers = condition_answers(s, trial_id, base)
        by_site: dict[str, dict[str, int]] = {}
        overdue: list[dict[str, Any]] = []
        at_site: dict[str, tuple[Protocol, dt.date]] = {}  # each site's protocol in force and its date today
        for patient in patients:
            if patient.site_id not in at_site:
                in_force_there = _protocol_at(trial, base, patient.site_id, now)
                at_site[patient.site_id] = (in_force_there, site_today(in_force_there, patient.site_id, now))
            protocol, today = at_site[patient.site_id]
            anchor = anchor_date(protocol, patient, dates.get(patient.id))
            saved, counts = saved_states(rows.get(patient.id, []))
            items = schedule(protocol, anchor=anchor, provisional_anchor=patient.enrolment_date, today=today,
                             saved=saved, off_study=left.get(patient.id), records=counts,
                             off_study_kind=kinds.get(patient.id), answers=answers.get(patient.id, {}))
            summary = by_site.get(patient.site_id)
            if summary is None:
                total = totals[patient.site_id]
                summary = by_site[patient.site_id] = {
                    "patients": total["patients"], "patients_off_study": total["patients_off_study"],
                    **dict.fromkeys(STATES, 0), "late": 0, "open_queries": total["open_queries"],
                    "answered_queries": total["answered_queries"]}
            for key, n in _counts(items).items():
                summary[key] += n
            for item in items:
                if item.state == "overdue" and item.closes is not None:
                    overdue.append({"patient_id": patient.id, "patient_code": patient.code, "site_id": patient.site_id,
                                    "visit_id": item.visit_id, "form_id": item.form_id,
                                    "closed": item.closes.isoformat(), "days_overdue": (today - item.closes).days})
        overdue.sort(key=lambda o: (-int(o["days_overdue"]), o["patient_id"], o["visit_id"], o["form_id"]))
        page = overdue[offset:] if limit is None else overdue[offset:offset + limit]
        return {"trial_id": trial_id, "generated_at": iso(now), "sites": dict(sorted(by_site.items())),
                "overdue": page, "overdue_total": len(overdue), "offset": offset, "limit": limit}


STATES = ("complete", "not-done", "not-needed", "incomplete", "overdue", "due", "upcoming", "conditional",
          "awaiting-randomization", "off-study")


def condition_answers(s: Session, trial_id: str, protocol: Protocol, patient_id: int | None = None
                      ) -> dict[int, dict[tuple[str, str], dict[str, Any]]]:
    """The saved values of the forms whose answers decide whether other forms are expected (a form's
    ``asked_if``), by patient and (form, visit); a record marked not done answers nothing."""
    forms = sorted({f.asked_if.form for f in protocol.forms if f.asked_if is not None})
    if not forms:
        return {}
    query = (select(FormRecord.patient_id, FormRecord.form_id, FormRecord.visit_id, FormRecord.field_values)
             .where(FormRecord.trial_id == trial_id, FormRecord.form_id.in_(forms), FormRecord.status != "not-done"))
    if patient_id is not None:
        query = query.where(FormRecord.patient_id == patient_id)
    found: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
    for pid, form_id, visit_id, values in s.execute(query):
        found.setdefault(pid, {})[(form_id, visit_id)] = dict(values or {})
    return found


def _site_totals(s: Session, trial_id: str, sites: set[str] | None) -> dict[str, dict[str, int]]:
    """By site: its patients, those off study, its open and answered queries (aggregates in SQL, GROUP BY site)."""
    def visible(statement: Any) -> Any:
        return statement if sites is None else statement.where(Patient.site_id.in_(sorted(sites)))

    totals: dict[str, dict[str, int]] = {}
    for site, n in s.execute(visible(select(Patient.site_id, func.count()).where(Patient.trial_id == trial_id)
                                     .group_by(Patient.site_id))):
        totals[site] = {"patients": n, "patients_off_study": 0, "open_queries": 0, "answered_queries": 0}
    for site, n in s.execute(visible(select(Patient.site_id, func.count(func.distinct(OffStudy.patient_id)))
                                     .join(OffStudy, OffStudy.patient_id == Patient.id)
                                     .where(Patient.trial_id == trial_id, OffStudy.trial_id == trial_id)
                                     .group_by(Patient.site_id))):
        totals[site]["patients_off_study"] = n
    for site, status, n in s.execute(visible(select(Patient.site_id, FormQuery.status, func.count())
                                             .join(Patient, Patient.id == FormQuery.patient_id)
                                             .where(FormQuery.trial_id == trial_id,
                                                    FormQuery.status.in_(["open", "answered"]))
                                             .group_by(Patient.site_id, FormQuery.status))):
        totals[site][f"{status}_queries"] = n
    return totals


def _counts(items: list[FormDue]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for item in items:
        counts[item.state] = counts.get(item.state, 0) + 1
    counts["late"] = sum(1 for i in items if i.late)
    return counts


def _protocol_at(trial: Trial, base: Protocol, site_id: str, now: dt.datetime) -> Protocol:
    try:
        return in_force(trial, site_today(base, site_id, now))
    except InvalidError:
        return base


__all__ = ["FormRecordView", "FormService", "SaveResult", "record_view"]


def _soft_checks(s: Session, form: Form, record: FormRecord, before: Mapping[str, Any], principal: Principal,
                 now: dt.datetime, after: Mapping[str, Any] | None = None) -> list[str]:
    """EDC-2 soft edit checks: each newly entered value outside its field's ``expected`` range is saved and opens
    a query on that field (raised by the system, for the site to confirm or correct; the monitor closes it), in
    the same transaction; a field that already has an unresolved query gets no second one. The messages are also
    returned as warnings of the save."""
    values = record.field_values if after is None else after
    messages = []
    for spec in form.fields:
        value = values.get(spec.id)
        why = spec.unexpected(value) if value is not None and value != before.get(spec.id) else None
        if why is None:
            continue
        messages.append(why)
        open_query = s.scalar(select(FormQuery.id).where(
            FormQuery.patient_id == record.patient_id, FormQuery.form_id == record.form_id,
            FormQuery.visit_id == record.visit_id, FormQuery.instance == record.instance, FormQuery.field_id == spec.id,
            FormQuery.status != "closed"))
        if open_query is None:
            s.add(FormQuery(trial_id=record.trial_id, patient_id=record.patient_id, form_id=record.form_id,
                            visit_id=record.visit_id, instance=record.instance, field_id=spec.id, status="open",
                            raised_by=None, raised_at=now, updated_at=now,
                            messages=[{"kind": "raised", "by": "system", "name": "Soft edit check", "at": iso(now),
                                       "text": why, "entered_by": principal.username}]))
    return messages

"""Monitor queries on case report forms: open -> answered -> closed (EDC-2; REDCap's Data Resolution Workflow,
OpenClinica's discrepancy notes, clinicedc's DataQuery).

The monitor raises a query on a form (optionally one field), the site (coordinator or investigator of the
patient's site) answers it, and the monitor closes it or, unsatisfied, reopens it with a further message.
Every step is a message in the query's thread and an audited update in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, InvalidError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import (
    check_site,
    form_and_visit,
    form_name,
    patient_for,
    record_key,
    require_in_trial,
    trial_and_protocol,
    visible_sites,
)
from equipoise.services.free_text import clean_text, optional_text
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, refuse_if_database_locked
from equipoise.store.crf_models import FormQuery, FormRecord
from equipoise.store.db import Database
from equipoise.store.models import Patient, patient_code
from equipoise.store.types import iso, utcnow

STATUSES = ("open", "answered", "closed")


@dataclass(frozen=True)
class QueryView:
    id: int
    patient_id: int
    patient_code: str
    site_id: str
    form_id: str
    visit_id: str
    instance: int
    field_id: str | None
    status: str
    messages: list[dict[str, Any]]
    raised_at: str
    updated_at: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def query_view(query: FormQuery, site_id: str) -> QueryView:
    return QueryView(query.id, query.patient_id, patient_code(query.patient_id), site_id, query.form_id,
                     query.visit_id, query.instance, query.field_id, query.status, [dict(m) for m in query.messages],
                     iso(query.raised_at), iso(query.updated_at))


class QueryService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def _message(self, principal: Principal, kind: str, text: str | None) -> dict[str, Any]:
        return {"kind": kind, "by": principal.username, "name": principal.full_name or principal.username,
                "at": iso(self.clock()), "text": text}

    def raise_query(self, principal: Principal, trial_id: str, patient_id: int, form_id: str, visit_id: str,
                    field_id: str | None, text: str | None, instance: int = 1) -> QueryView:
        body = clean_text(text, "the query's text")
        now = self.clock()
        with self.db.write(principal.audit_context(reason="query raised")) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.RAISE_QUERY)
            trial, protocol = trial_and_protocol(s, trial_id)
            refuse_if_database_locked(trial_id, trial.status)
            form, _visit = form_and_visit(protocol, form_id, visit_id, instance)
            if field_id is not None and form.field(field_id) is None:
                raise InvalidError(f"form {form_id} has no field {field_id!r} (fields: "
                                   f"{', '.join(f.id for f in form.fields)})")
            # A query may ask why a form is missing, but a later record of a repeating form is asked about once saved.
            if instance != 1 and s.scalar(select(FormRecord.id).where(
                    *record_key(patient.id, form_id, visit_id, instance))) is None:
                raise NotFoundError(f"{form_name(form_id, visit_id, instance)} of patient {patient.code} has not "
                                    "been saved")
            query = FormQuery(trial_id=trial_id, patient_id=patient.id, form_id=form_id, visit_id=visit_id,
                              instance=instance, field_id=field_id, status="open",
                              messages=[self._message(principal, "raised", body)], raised_by=principal.user_id,
                              raised_at=now, updated_at=now)
            s.add(query)
            s.flush()
            return query_view(query, patient.site_id)

    def answer(self, principal: Principal, trial_id: str, query_id: int, text: str | None) -> QueryView:
        return self._step(principal, trial_id, query_id, Action.ANSWER_QUERY, "answered", ("open",),
                          clean_text(text, "the answer's text"))

    def close(self, principal: Principal, trial_id: str, query_id: int, text: str | None = None) -> QueryView:
        note = optional_text(text, "the note")
        return self._step(principal, trial_id, query_id, Action.CLOSE_QUERY, "closed", ("open", "answered"), note)

    def reopen(self, principal: Principal, trial_id: str, query_id: int, text: str | None) -> QueryView:
        return self._step(principal, trial_id, query_id, Action.RAISE_QUERY, "open", ("answered",),
                          clean_text(text, "the reason for reopening"))

    def _step(self, principal: Principal, trial_id: str, query_id: int, action: Action, to: str,
              allowed_from: tuple[str, ...], text: str | None) -> QueryView:
        require_in_trial(principal, action, trial_id)
        with self.db.write(principal.audit_context(reason=f"query {to}")) as s:
            query = self._query(s, principal, trial_id, query_id, action, lock=True)
            refuse_if_database_locked(trial_id, get_trial(s, trial_id).status)
            if query.status not in allowed_from:
                raise ConflictError(_transition_refusal(query, to))
            kind = {"answered": "answered", "closed": "closed", "open": "reopened"}[to]
            query.messages = [*query.messages, self._message(principal, kind, text)]
            query.status = to
            query.updated_at = self.clock()
            s.flush()
            patient = s.get(Patient, query.patient_id)
            assert patient is not None
            return query_view(query, patient.site_id)

    @staticmethod
    def _query(s: Session, principal: Principal, trial_id: str, query_id: int, action: Action,
               lock: bool = False) -> FormQuery:
        statement = select(FormQuery).where(FormQuery.id == query_id)
        if lock:
            statement = statement.with_for_update()
        query = s.scalars(statement).one_or_none()
        if query is None or query.trial_id != trial_id:
            raise NotFoundError(f"no query {query_id} in trial {trial_id}")
        try:
            patient_for(s, principal, trial_id, query.patient_id, action)
        except NotFoundError:
            raise NotFoundError(f"no query {query_id} in trial {trial_id}") from None
        return query

    def get(self, principal: Principal, trial_id: str, query_id: int) -> QueryView:
        with self.db.read() as s:
            query = self._query(s, principal, trial_id, query_id, Action.VIEW_QUERIES)
            patient = s.get(Patient, query.patient_id)
            assert patient is not None
            return query_view(query, patient.site_id)

    def list_queries(self, principal: Principal, trial_id: str, *, status: str | None = None,
                     patient_id: int | None = None, site_id: str | None = None, after_id: int = 0,
                     limit: int | None = None) -> list[QueryView]:
        """The queries in id order; ``after_id`` and ``limit`` page them (keyset: the last id seen)."""
        if status is not None and status not in STATUSES:
            raise InvalidError(f"status must be one of: {', '.join(STATUSES)}")
        sites = visible_sites(principal, Action.VIEW_QUERIES, trial_id, site_id)
        with self.db.read() as s:
            _trial, protocol = trial_and_protocol(s, trial_id)
            check_site(protocol, site_id)
            statement = (select(FormQuery, Patient.site_id).join(Patient, Patient.id == FormQuery.patient_id)
                         .where(FormQuery.trial_id == trial_id, FormQuery.id > after_id).order_by(FormQuery.id)
                         .limit(limit))
            if sites is not None:
                statement = statement.where(Patient.site_id.in_(sorted(sites)))
            if status is not None:
                statement = statement.where(FormQuery.status == status)
            if patient_id is not None:
                statement = statement.where(FormQuery.patient_id == patient_id)
            return [query_view(q, site) for q, site in s.execute(statement)]


def _transition_refusal(query: FormQuery, to: str) -> str:
    if query.status == "closed":
        return f"query {query.id} is closed: a closed query stays closed (raise a new one)"
    if to == "answered":
        return f"query {query.id} is {query.status}: only an open query can be answered"
    if to == "open":
        return f"query {query.id} is {query.status}: only an answered query can be reopened"
    return f"query {query.id} is {query.status}: it cannot become {to}"

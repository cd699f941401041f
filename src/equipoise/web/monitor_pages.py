"""The monitor's pages: the trial's query list (filtered by status and site, a page at a time), raising a query on
a field of a patient's form, a query's thread with closing or reopening it, a patient's casebook lock, and the
audit trail of a record.

Every list and every refusal comes from the services the API uses (QueryService, read_audit) with the principal:
a monitor of one site sees that site's queries and entries only, and a blinded reader sees arms masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.errors import InvalidError, ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol.model import Protocol
from equipoise.services import trials as trial_store
from equipoise.services.audit_view import read_audit
from equipoise.services.locks import LockService
from equipoise.services.queries import STATUSES, QueryService
from equipoise.services.trials import TrialView
from equipoise.web.access import PagePrincipal
from equipoise.web.core import built_once, core
from equipoise.web.forms import FormState, posted
from equipoise.web.pages import language, render
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)
PAGE = 50  # queries or audit entries per page


def _queries(request: Request) -> QueryService:
    return built_once(request, "web_queries", QueryService, lambda c: QueryService(c.db))


def _zone(trial: TrialView, principal: Principal, action: Action) -> str:
    """The time zone times are shown in: the reader's one site's, else UTC."""
    sites = principal.site_filter(action, trial.id)
    zones = {s["timezone"] for s in trial.sites if sites is None or s["id"] in sites}
    return zones.pop() if len(zones) == 1 else "UTC"


def _after(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def patient_id_of(code: str) -> int:
    """The patient's id from its code (``P-000121`` or ``121``)."""
    text = code.strip().upper().removeprefix("P-")
    if not text.isdigit() or int(text) <= 0:
        raise InvalidError(f"{code!r} is not a patient code (like P-000121)")
    return int(text)


@router.get("/trials/{trial_id}/queries", response_class=HTMLResponse)
def query_list(request: Request, trial_id: str, principal: PagePrincipal, status: str = "", site: str = "",
               after: str = "") -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.VIEW_QUERIES, trial_id)
    shown = _queries(request).list_queries(principal, trial_id, status=status or None, site_id=site or None,
                                           after_id=_after(after), limit=PAGE + 1)
    visible = principal.site_filter(Action.VIEW_QUERIES, trial_id)
    return render(request, "query_list.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  queries=shown[:PAGE], more=len(shown) > PAGE, chosen_status=status, site=site, statuses=STATUSES,
                  sites=[s for s in trial.sites if visible is None or s["id"] in visible],
                  zone=_zone(trial, principal, Action.VIEW_QUERIES),
                  can_raise=principal.can(Action.RAISE_QUERY, trial_id))


def _protocol(request: Request, trial_id: str) -> Protocol:
    with core(request).db.read() as s:
        trial = trial_store.get_trial(s, trial_id)
    return trial_store.in_force(trial, dt.datetime.now(dt.UTC).date())


def _raise_page(request: Request, principal: Principal, trial: TrialView, form: FormState,
                status: int = 200) -> HTMLResponse:
    protocol = _protocol(request, trial.id)
    chosen = protocol.form(form.values.get("form_id", ""))
    return render(request, "query_raise.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  form=form, protocol=protocol, chosen=chosen, status=status)


@router.get("/trials/{trial_id}/queries/new", response_class=HTMLResponse)
def raise_form(request: Request, trial_id: str, principal: PagePrincipal, patient: str = "", form_id: str = "",
               visit_id: str = "", field_id: str = "") -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.RAISE_QUERY, trial_id)
    values = {"patient": patient, "form_id": form_id, "visit_id": visit_id, "field_id": field_id}
    return _raise_page(request, principal, trial, FormState(values={k: v for k, v in values.items() if v}))


@router.post("/trials/{trial_id}/queries/new", response_class=HTMLResponse)
async def raise_submit(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    _ = language(request).gettext
    if form.values.get("step") == "choose":  # the form was chosen: its fields are offered next
        return _raise_page(request, principal, trial, form)
    try:
        patient_id = patient_id_of(form.values.get("patient", ""))
    except InvalidError as refused:
        form.error("patient", _(refused.message))
        return _raise_page(request, principal, trial, form, status=refused.status)
    try:
        query = _queries(request).raise_query(
            principal, trial_id, patient_id, form.values.get("form_id", ""), form.values.get("visit_id", ""),
            form.values.get("field_id") or None, form.values.get("text", ""))
    except ServiceError as refused:
        message = refused.message
        name = ("text" if "text" in message else "field_id" if "field" in message and "no field" in message
                else "visit_id" if "visit" in message else "form_id" if "form" in message else "patient")
        form.error(name, _(message))
        return _raise_page(request, principal, trial, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/queries/{query.id}", status_code=303)


def _query_page(request: Request, principal: Principal, trial: TrialView, query_id: int, form: FormState,
                status: int = 200) -> HTMLResponse:
    query = _queries(request).get(principal, trial.id, query_id)
    return render(request, "query_detail.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  query=query, form=form, status=status, zone=_zone(trial, principal, Action.VIEW_QUERIES),
                  can_close=principal.can(Action.CLOSE_QUERY, trial.id),
                  can_audit=principal.can(Action.VIEW_AUDIT, trial.id))


@router.get("/trials/{trial_id}/queries/{query_id}", response_class=HTMLResponse)
def query_detail(request: Request, trial_id: str, query_id: int, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    return _query_page(request, principal, trial, query_id, FormState())


@router.post("/trials/{trial_id}/queries/{query_id}/{step}", response_class=HTMLResponse)
async def query_step(request: Request, trial_id: str, query_id: int, step: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    _ = language(request).gettext
    queries = _queries(request)
    text = form.values.get("text", "")
    try:
        if step == "close":
            queries.close(principal, trial_id, query_id, text)
        elif step == "reopen":
            queries.reopen(principal, trial_id, query_id, text)
        else:
            raise InvalidError(f"a query can be closed or reopened, not {step!r}")
    except ServiceError as refused:
        form.error("text", _(refused.message))
        return _query_page(request, principal, trial, query_id, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/queries/{query_id}", status_code=303)


def changes(entry: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(column, old, new) of an audit entry, in a stable order: what the reader sees as old → new."""
    old = entry.get("old_values") or {}
    new = entry.get("new_values") or {}
    rows = []
    for k in sorted({*old, *new}):
        before, after = old.get(k), new.get(k)
        if before == after:
            continue
        if k == "protocol_text":  # the whole protocol file: its size here, its digest in the protocol_sha256 row
            before, after = (None if v is None else f"YAML · {str(v).count(chr(10)) + 1} lines"
                             for v in (before, after))
        elif isinstance(before, list) and isinstance(after, list) and after[:len(before)] == before:
            before, after = "…", ["…", *after[len(before):]]  # a thread that grew: only what was added
        rows.append((k, before, after))
    return rows


@router.get("/trials/{trial_id}/audit", response_class=HTMLResponse)
def audit_trail(request: Request, trial_id: str, principal: PagePrincipal, table: str = "", record: str = "",
                patient: str = "", after: str = "") -> Response:
    trial = visible_trial(request, principal, trial_id)
    form = FormState(values={"table": table, "record": record, "patient": patient})
    _ = language(request).gettext
    patient_id = None
    if patient:
        try:
            patient_id = patient_id_of(patient)
        except InvalidError as refused:
            form.error("patient", _(refused.message))
    entries = [] if form.errors else read_audit(
        core(request).db, principal, trial_id=trial_id, table=table or None, record_id=record or None,
        patient_id=patient_id, after_id=_after(after), limit=PAGE + 1)
    return render(request, "audit_trail.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  form=form, entries=entries[:PAGE], more=len(entries) > PAGE, changes=changes,
                  zone=_zone(trial, principal, Action.VIEW_AUDIT), status=400 if form.errors else 200)


def _locks(request: Request) -> LockService:
    return built_once(request, "web_locks", LockService, lambda c: LockService(c.db))


def _lock_page(request: Request, principal: Principal, trial: TrialView, form: FormState, *, status: int = 200,
               done: dict[str, Any] | None = None) -> HTMLResponse:
    return render(request, "casebook_lock.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  form=form, status=status, done=done)


@router.get("/trials/{trial_id}/monitor/locks", response_class=HTMLResponse)
def casebook_lock_form(request: Request, trial_id: str, principal: PagePrincipal, patient: str = "") -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.LOCK, trial_id)
    return _lock_page(request, principal, trial, FormState(values={"patient": patient} if patient else {}))


@router.post("/trials/{trial_id}/monitor/locks", response_class=HTMLResponse)
async def casebook_lock_submit(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    _ = language(request).gettext
    field = "patient"
    try:
        patient_id = patient_id_of(form.values.get("patient", ""))
        field = "reason"
        if form.values.get("step") == "unlock":
            done = _locks(request).unlock_patient(principal, trial_id, patient_id, form.values.get("reason", ""))
        else:
            done = _locks(request).lock_patient(principal, trial_id, patient_id, form.values.get("reason") or None)
    except ServiceError as refused:
        form.error("patient" if field == "patient" or "no patient" in refused.message else "reason",
                   _(refused.message))
        return _lock_page(request, principal, trial, form, status=refused.status)
    return _lock_page(request, principal, trial, FormState(values={"patient": done["patient_code"]}), done=done)

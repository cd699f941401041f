"""A case report form of one patient's visit: entering it with the services' checks (each refusal next to its
field, in the API's words), skip logic (a field asked only after an earlier answer is disabled until then; the
service decides on save), "not done" with a reason, a reason for every change after the first save, the history
of each value (who, when, old → new, why), the open queries on its fields with an answer box, and the
investigator's signature with its Part 11 meaning.

The handlers call FormService.save / mark_not_done / history, QueryService.answer and SignatureService.sign:
the same functions as server/form_routes.py, so a value the API refuses is refused here with the same message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.errors import InvalidError, NotFoundError, ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Form, Visit
from equipoise.protocol.fields import DataField, FieldType
from equipoise.services import trials as trial_store
from equipoise.services.change_reasons import change_reason
from equipoise.services.crf_access import form_and_visit
from equipoise.services.trials import TrialView
from equipoise.web.access import PagePrincipal
from equipoise.web.core import core
from equipoise.web.crf_support import choices, crf, patient_id, put_errors, shown, site_zone, typed
from equipoise.web.forms import FormState, posted
from equipoise.web.navigation import N_
from equipoise.web.pages import language, render
from equipoise.web.patient_pages import MEANING_LABELS, STATES, form_path
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)
FORM = "/trials/{trial_id}/patients/{code}/forms/{form_id}/{visit_id}"
Instance = Annotated[int, Query(ge=1, le=10_000)]
REASONS = {  # services/change_reasons.py LABELS, as the pick list shows them
    "data-entry-error": N_("Data entry error"),
    "transcription-error": N_("Transcription error from the source document"),
    "source-corrected": N_("Source document corrected or updated"),
    "query-response": N_("Answer to a query"),
    "late-information": N_("Information received late"),
    "other": N_("Other"),
}
QUERY_STATES = {"open": N_("open"), "answered": N_("answered"), "closed": N_("closed")}


def _asked(field: DataField, values: dict[str, Any]) -> bool:
    """Whether a field is asked with the form's current answers (its skip logic; the service checks it again)."""
    return field.asked_if is None or field.asked_if.holds(values)


def _condition_values(field: DataField) -> list[str]:
    return [shown(v) for v in field.asked_if.values] if field.asked_if is not None else []


def _hints(form: Form, gettext: Callable[..., str]) -> dict[str, list[str]]:
    """What each field's hint says: its unit, its range, when it is asked (skip logic), whether it is optional."""
    labels = {f.id: f.label for f in form.fields}
    hints: dict[str, list[str]] = {}
    for f in form.fields:
        said = []
        if f.unit:
            said.append(gettext("Unit: %(unit)s", unit=f.unit))
        if f.range:
            said.append(gettext("From %(low)s to %(high)s", low=shown(f.range[0]), high=shown(f.range[1])))
        if f.asked_if is not None:
            answers = ", ".join(gettext(v) for v in _condition_values(f))
            said.append(gettext("Asked only when “%(field)s” is %(values)s.",
                                field=labels.get(f.asked_if.field, f.asked_if.field), values=answers))
        if not f.required:
            said.append(gettext("Optional"))
        hints[f.id] = said
    return hints


def _form_in_force(request: Request, principal: Principal, trial: TrialView, number: int, form_id: str,
                   visit_id: str, instance: int) -> tuple[Form, Visit]:
    """The form and visit in the protocol in force today at the patient's site (another site's patient: 404)."""
    patient = core(request).patients.get(principal, trial.id, number)
    with core(request).db.read() as s:
        row = trial_store.get_trial(s, trial.id)
    protocol = trial_store.in_force(row, dt.datetime.now(ZoneInfo(site_zone(trial, patient.site_id))).date())
    return form_and_visit(protocol, form_id, visit_id, instance)


def _form_page(request: Request, principal: Principal, trial_id: str, code: str, form_id: str, visit_id: str,
               instance: int, *, state: FormState | None = None, entered: dict[str, str] | None = None,
               status: int = 200) -> HTMLResponse:
    trial = visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    patient = core(request).patients.get(principal, trial_id, number)
    zone = site_zone(trial, patient.site_id)
    form, visit = _form_in_force(request, principal, trial, number, form_id, visit_id, instance)
    services = crf(request)
    try:
        record = services.forms.get(principal, trial_id, number, form_id, visit_id, instance)
    except NotFoundError:
        record = None
    history = services.forms.history(principal, trial_id, number, form_id, visit_id, instance) if record else []
    by_field: dict[str | None, list[dict[str, Any]]] = {}
    for change in history:
        by_field.setdefault(change["field"], []).append(change)
    queries = [q for q in services.queries.list_queries(principal, trial_id, patient_id=number, limit=1000)
               if (q.form_id, q.visit_id, q.instance) == (form_id, visit_id, instance) and q.status != "closed"] \
        if principal.can(Action.VIEW_QUERIES, trial_id) else []
    signatures = [g for g in services.signatures.list_for_patient(principal, trial_id, number)
                  if g.scope == "form" and (g.form_id, g.visit_id, g.instance) == (form_id, visit_id, instance)]
    values = entered if entered is not None else {k: shown(v) for k, v in (record.values if record else {}).items()}
    current = typed(form.fields, values)
    site = patient.site_id
    return render(request, "crf_form.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  patient=patient, crf=form, visit=visit, instance=instance, record=record, values=values,
                  asked={f.id: _asked(f, current) for f in form.fields}, condition_values=_condition_values,
                  labels={f.id: f.label for f in form.fields}, by_field=by_field, queries=queries,
                  signatures=signatures, zone=zone, field_hints=_hints(form, language(request).gettext),
                  form=state or FormState(), status=status, field_types=FieldType,
                  choices=choices, shown=shown, reasons=REASONS, meanings=MEANING_LABELS, states=STATES,
                  query_states=QUERY_STATES, here_path=form_path(trial_id, patient.code, form_id, visit_id, instance),
                  can_enter=principal.can(Action.ENTER_DATA, trial_id, site),
                  can_answer=principal.can(Action.ANSWER_QUERY, trial_id, site),
                  can_sign=principal.can(Action.SIGN, trial_id, site) and record is not None
                  and record.status == "complete", saved=request.query_params.get("saved"))


def _back(trial_id: str, code: str, form_id: str, visit_id: str, instance: int, what: str) -> RedirectResponse:
    path = form_path(trial_id, code, form_id, visit_id, instance)
    return RedirectResponse(path + ("&" if "?" in path else "?") + f"saved={what}", status_code=303)


@router.get(FORM, response_class=HTMLResponse)
def form_page(request: Request, trial_id: str, code: str, form_id: str, visit_id: str, principal: PagePrincipal,
              instance: Instance = 1) -> Response:
    return _form_page(request, principal, trial_id, code, form_id, visit_id, instance)


@router.post(FORM, response_class=HTMLResponse)
async def save_form(request: Request, trial_id: str, code: str, form_id: str, visit_id: str,
                    principal: PagePrincipal, instance: Instance = 1) -> Response:
    state = await posted(request)
    number = patient_id(trial_id, code)
    _ = language(request).gettext
    services = crf(request)
    trial = visible_trial(request, principal, trial_id)
    form, _visit = _form_in_force(request, principal, trial, number, form_id, visit_id, instance)
    fields = list(form.fields)
    entered = {f.id: state.values.get(f.id, "") for f in fields}
    version = state.values.get("version", "")
    try:
        reason = change_reason(state.values.get("reason_code") or None, state.values.get("reason") or None)
    except InvalidError as refused:
        state.error("reason", _(refused.message))
        return _form_page(request, principal, trial_id, code, form_id, visit_id, instance, state=state,
                          entered=entered, status=refused.status)
    try:
        services.forms.save(principal, trial_id, number, form_id, visit_id, typed(fields, entered), reason=reason,
                            incomplete=state.values.get("incomplete") == "yes",
                            expected_version=int(version) if version.isdigit() else None, instance=instance)
    except ServiceError as refused:
        put_errors(state, refused, _, "reason" if refused.message.startswith("a reason") else "form")
        return _form_page(request, principal, trial_id, code, form_id, visit_id, instance, state=state,
                          entered=entered, status=refused.status)
    return _back(trial_id, code, form_id, visit_id, instance, "form")


@router.post(FORM + "/not-done", response_class=HTMLResponse)
async def not_done(request: Request, trial_id: str, code: str, form_id: str, visit_id: str,
                   principal: PagePrincipal, instance: Instance = 1) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    try:
        crf(request).forms.mark_not_done(principal, trial_id, number, form_id, visit_id,
                                         state.values.get("not_done_reason") or None, instance)
    except ServiceError as refused:
        state.error("not_done_reason", language(request).gettext(refused.message))
        return _form_page(request, principal, trial_id, code, form_id, visit_id, instance, state=state,
                          status=refused.status)
    return _back(trial_id, code, form_id, visit_id, instance, "not-done")


@router.post(FORM + "/queries/{query_id}/answer", response_class=HTMLResponse)
async def answer_query(request: Request, trial_id: str, code: str, form_id: str, visit_id: str, query_id: int,
                       principal: PagePrincipal, instance: Instance = 1) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    patient_id(trial_id, code)
    try:
        crf(request).queries.answer(principal, trial_id, query_id, state.values.get(f"answer-{query_id}") or None)
    except ServiceError as refused:
        state.error(f"answer-{query_id}", language(request).gettext(refused.message))
        return _form_page(request, principal, trial_id, code, form_id, visit_id, instance, state=state,
                          status=refused.status)
    return _back(trial_id, code, form_id, visit_id, instance, "answer")


@router.post(FORM + "/sign", response_class=HTMLResponse)
async def sign_form(request: Request, trial_id: str, code: str, form_id: str, visit_id: str,
                    principal: PagePrincipal, instance: Instance = 1) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    try:
        crf(request).signatures.sign(principal, trial_id, number, form_id, visit_id, state.values.get("meaning", ""),
                                     state.values.get("password") or None, state.values.get("username") or None,
                                     instance)
    except ServiceError as refused:
        field = "password" if refused.status == 401 else "meaning" if "meaning" in refused.message else "sign"
        put_errors(state, refused, language(request).gettext, field)
        state.values.pop("password", None)
        return _form_page(request, principal, trial_id, code, form_id, visit_id, instance, state=state,
                          status=refused.status)
    return _back(trial_id, code, form_id, visit_id, instance, "signed")


"""The site's pages for coordinators and investigators: the dashboard, and enrol and randomize (the eligibility
checklist as a form, a confirmation step, the result).

Every figure and every refusal comes from the services (FormService.tracking, QueryService, PatientService,
EnrolAndRandomizeService) with the principal's own site filter: a page never shows another site's patient, nor
an arm the principal may not see (the AllocationView has no arm for a blinded role).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from equipoise.errors import ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol.fields import Choice, DataField, FieldType
from equipoise.protocol.model import Protocol
from equipoise.services import trials as trial_store
from equipoise.services.forms import FormService
from equipoise.services.patients import IneligibleError
from equipoise.services.queries import QueryService
from equipoise.services.trials import TrialView
from equipoise.web.access import PagePrincipal
from equipoise.web.core import built_once, core
from equipoise.web.forms import FormState, posted
from equipoise.web.pages import language, render
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)
RECENT = 20  # patients and open queries listed on the dashboard (the rest on the lists' own pages)


def _protocol(request: Request, trial_id: str) -> Protocol:
    """The protocol in force today (its enrolment fields and eligibility criteria make the form)."""
    with core(request).db.read() as s:
        trial = trial_store.get_trial(s, trial_id)
    return trial_store.in_force(trial, dt.datetime.now(dt.UTC).date())


def _site_zone(trial: TrialView, principal: Principal, action: Action) -> str:
    """The time zone times are shown in: the principal's site's, when they work at one site (else UTC)."""
    sites = principal.site_filter(action, trial.id)
    zones = {s["timezone"] for s in trial.sites if sites is None or s["id"] in sites}
    return zones.pop() if len(zones) == 1 else "UTC"


@router.get("/trials/{trial_id}/site", response_class=HTMLResponse)
def dashboard(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    forms = built_once(request, "web_forms", FormService, lambda c: FormService(c.db))
    queries = built_once(request, "web_queries", QueryService, lambda c: QueryService(c.db))
    tracking = forms.tracking(principal, trial_id, limit=RECENT)
    patients = core(request).patients.list_patients(principal, trial_id, limit=1000)
    open_queries = queries.list_queries(principal, trial_id, status="open", limit=RECENT) \
        if principal.can(Action.VIEW_QUERIES, trial_id) else []
    by_month: dict[str, int] = {}
    for p in patients:
        by_month[p.enrolment_date[:7]] = by_month.get(p.enrolment_date[:7], 0) + 1
    return render(request, "site_dashboard.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  trial=trial, tracking=tracking, recent=patients[-RECENT:][::-1], open_queries=open_queries,
                  by_month=sorted(by_month.items()), most=max(by_month.values(), default=1),
                  zone=_site_zone(trial, principal, Action.VIEW_FORMS), can_enrol=principal.can(Action.ENROL, trial_id))


def _enrol_sites(trial: TrialView, principal: Principal) -> list[dict[str, str]]:
    allowed = principal.site_filter(Action.ENROL, trial.id)
    return [s for s in trial.sites if allowed is None or s["id"] in allowed]


def _typed(protocol: Protocol, text: dict[str, str]) -> dict[str, Any]:
    """The form's text as the JSON API would carry it (numbers as numbers, yes/no as true/false, blanks left
    out); the service checks every value, so text that is no number stays text and is refused with its reason."""
    values: dict[str, Any] = {}
    for field in protocol.enrolment.fields:
        raw = text.get(field.id, "").strip()
        if raw == "":
            continue
        if field.type in (FieldType.INTEGER, FieldType.ORDINAL):
            values[field.id] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif field.type is FieldType.NUMBER:
            try:
                values[field.id] = float(raw)
            except ValueError:
                values[field.id] = raw
        elif field.type is FieldType.BOOLEAN:
            values[field.id] = {"yes": True, "no": False}.get(raw, raw)
        else:
            values[field.id] = raw
    return values


def _enrol_page(request: Request, principal: Principal, trial: TrialView, protocol: Protocol, form: FormState,
                *, status: int = 200, step: str = "enter", failed: list[dict[str, Any]] | None = None,
                result: Any = None) -> HTMLResponse:
    return render(request, "enrol.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  trial=trial, protocol=protocol, form=form, sites=_enrol_sites(trial, principal), step=step,
                  failed=failed or [], result=result, status=status, field_types=FieldType,
                  choices=_choices, zones={s["id"]: s["timezone"] for s in trial.sites})


def _choices(field: DataField) -> list[tuple[str, str]]:
    """(value, label) of a choice field's options."""
    return [(c.value, c.label) if isinstance(c, Choice) else (c, c) for c in field.choices or []]


@router.get("/trials/{trial_id}/enrol", response_class=HTMLResponse)
def enrol_form(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.ENROL, trial_id)
    form = FormState()
    sites = _enrol_sites(trial, principal)
    if len(sites) == 1:
        form.values["site_id"] = sites[0]["id"]
    return _enrol_page(request, principal, trial, _protocol(request, trial_id), form)


@router.post("/trials/{trial_id}/enrol", response_class=HTMLResponse)
async def enrol_submit(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    protocol = _protocol(request, trial_id)
    _ = language(request).gettext
    site_id = form.values.get("site_id", "")
    values = _typed(protocol, form.values)
    svc = core(request)
    if form.values.get("step") == "edit":
        return _enrol_page(request, principal, trial, protocol, form)
    confirmed = form.values.get("step") == "confirm" and form.values.get("key")
    try:
        if not confirmed:
            # the service's own checks (values, eligibility; an ineligible patient's refusal is audited), no write
            svc.patients.admit(principal, trial_id, site_id, values, None, svc.patients.clock())
            form.values["key"] = secrets.token_urlsafe(16)  # one enrolment, however often the button is pressed
            return _enrol_page(request, principal, trial, protocol, form, step="confirm")
        result = svc.enrol_randomize.run(principal, trial_id, site_id, values, form.values["key"])
    except IneligibleError as refused:
        failed = [*refused.details.get("failed", []), *refused.details.get("missing", [])]
        form.error("eligibility", _("Not eligible: the patient was neither enrolled nor randomized."))
        return _enrol_page(request, principal, trial, protocol, form, status=refused.status, failed=failed)
    except ServiceError as refused:
        errors = refused.details.get("errors")
        if isinstance(errors, dict) and errors:
            for name, message in errors.items():
                form.error(str(name), _(str(message)))
        elif "site" in refused.message:
            form.error("site_id", _(refused.message))
        else:
            form.error("form", _(refused.message))
        return _enrol_page(request, principal, trial, protocol, form, status=refused.status)
    return _enrol_page(request, principal, trial, protocol, FormState(), step="done", result=result)

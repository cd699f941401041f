"""What an investigator or coordinator records about a whole patient: the patient leaving the study (off-study
record, and its cancellation) and emergency unblinding (the reason, the password again, then the arm, shown to
this person once and notified to the trial's team).

The handlers call OffStudyService.record / cancel and UnblindingService.emergency, as the API routes do; a
refusal is shown next to its field.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.errors import ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.web.access import PagePrincipal
from equipoise.web.core import core
from equipoise.web.crf_support import crf, patient_id, site_zone
from equipoise.web.forms import FormState, posted
from equipoise.web.pages import language, render
from equipoise.web.patient_pages import PATIENT, patient_page_with
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)


@router.post(PATIENT + "/off-study", response_class=HTMLResponse)
async def record_off_study(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    _ = language(request).gettext
    try:
        when = dt.date.fromisoformat(state.values.get("effective_date", ""))
    except ValueError:
        state.error("effective_date", _("Enter the date as YYYY-MM-DD."))
        return patient_page_with(request, principal, trial_id, code, state=state, status=422)
    try:
        crf(request).off_study.record(principal, trial_id, number, state.values.get("kind", ""), when,
                                      state.values.get("off_study_reason") or None)
    except ServiceError as refused:
        field = "kind" if refused.message.startswith("kind") else "effective_date" \
            if "off-study date" in refused.message else "off_study_reason"
        state.error(field, _(refused.message))
        return patient_page_with(request, principal, trial_id, code, state=state, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/patients/{code}#off-study", status_code=303)


@router.post(PATIENT + "/off-study/cancel", response_class=HTMLResponse)
async def cancel_off_study(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    try:
        crf(request).off_study.cancel(principal, trial_id, number, state.values.get("cancel_reason") or None)
    except ServiceError as refused:
        state.error("cancel_reason", language(request).gettext(refused.message))
        return patient_page_with(request, principal, trial_id, code, state=state, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/patients/{code}#off-study", status_code=303)


def _unblind_page(request: Request, principal: Principal, trial_id: str, code: str, state: FormState,
                  *, status: int = 200, result: dict[str, object] | None = None) -> HTMLResponse:
    trial = visible_trial(request, principal, trial_id)
    patient = core(request).patients.get(principal, trial_id, patient_id(trial_id, code))
    return render(request, "unblind.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  patient=patient, form=state, status=status, result=result, zone=site_zone(trial, patient.site_id))


@router.get(PATIENT + "/unblind", response_class=HTMLResponse)
def unblind_form(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    patient = core(request).patients.get(principal, trial_id, patient_id(trial_id, code))
    principal.require(Action.EMERGENCY_UNBLIND, trial_id, patient.site_id)  # the form only for those who may
    return _unblind_page(request, principal, trial_id, code, FormState())


@router.post(PATIENT + "/unblind", response_class=HTMLResponse)
async def unblind(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    state = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    try:
        result = crf(request).unblinding.emergency(principal, trial_id, number, state.values.get("reason") or None,
                                                   state.values.get("password") or None)
    except ServiceError as refused:
        state.values.pop("password", None)
        field = "password" if refused.status == 401 else "reason" if refused.status == 422 else "unblind"
        state.error(field, language(request).gettext(refused.message))
        return _unblind_page(request, principal, trial_id, code, state, status=refused.status)
    return _unblind_page(request, principal, trial_id, code, FormState(), result=result)

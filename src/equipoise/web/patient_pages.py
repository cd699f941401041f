"""A patient's page, found by its code (``/trials/{trial}/patients/P-000121``): the visit schedule (due, overdue,
done, upcoming, in the site's calendar), the allocation as the principal may see it (a kit code and no arm for a
blinded role), the saved forms, the signatures, and signing the whole casebook.

Every figure comes from the services the API calls (PatientService, RandomizationService, FormService,
SignatureService) with the principal: another site's patient is a 404, as in the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.errors import NotFoundError, ServiceError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.web.access import PagePrincipal
from equipoise.web.core import core
from equipoise.web.crf_support import crf, patient_id, put_errors, site_zone
from equipoise.web.forms import FormState, posted
from equipoise.web.navigation import N_
from equipoise.web.pages import language, render
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)
PATIENT = "/trials/{trial_id}/patients/{code}"

STATES = {  # services/schedule.py's states, as the schedule shows them
    "complete": N_("done"), "not-done": N_("not done"), "not-needed": N_("not needed"),
    "incomplete": N_("incomplete"), "overdue": N_("overdue"), "due": N_("due"), "upcoming": N_("upcoming"),
    "conditional": N_("asked after an earlier answer"), "awaiting-randomization": N_("awaiting randomization"),
    "off-study": N_("off study"),
}
MEANING_LABELS = {  # the Part 11 meanings (services/signatures.py MEANINGS), as a signer reads them
    "approval": N_("I approve the data in this record."),
    "review": N_("I have reviewed the data in this record."),
    "responsibility": N_("I take responsibility for the data in this record."),
    "authorship": N_("I am the author of the data in this record."),
}


OFF_STUDY_KINDS = {  # services/off_study_view.py KINDS, as the form offers them
    "withdrew-consent": N_("withdrew consent"), "lost-to-follow-up": N_("lost to follow-up"),
    "investigator-decision": N_("taken off study by the investigator"), "died": N_("died"),
}


def form_path(trial_id: str, code: str, form_id: str, visit_id: str, instance: int = 1) -> str:
    return f"/trials/{trial_id}/patients/{code}/forms/{form_id}/{visit_id}" + (
        f"?instance={instance}" if instance != 1 else "")


def patient_page_with(request: Request, principal: Principal, trial_id: str, code: str, *,
                      state: FormState | None = None, status: int = 200) -> HTMLResponse:
    """The patient's page, with a refused form's values and errors (``state``) when there is one."""
    trial = visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    svc = core(request)
    patient = svc.patients.get(principal, trial_id, number)
    try:
        allocation = svc.randomization.get(principal, trial_id, number)
    except NotFoundError:
        allocation = None
    services = crf(request)
    schedule = services.forms.patient_schedule(principal, trial_id, number)
    signatures = services.signatures.list_for_patient(principal, trial_id, number)
    return render(request, "patient.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  patient=patient, allocation=allocation, schedule=schedule, signatures=signatures,
                  zone=site_zone(trial, patient.site_id), states=STATES, meanings=MEANING_LABELS,
                  form_path=form_path, can_sign=principal.can(Action.SIGN, trial_id, patient.site_id),
                  form=state or FormState(), status=status, off_study_kinds=OFF_STUDY_KINDS,
                  can_enter=principal.can(Action.ENTER_DATA, trial_id, patient.site_id),
                  can_unblind=trial.blinded and allocation is not None
                  and principal.can(Action.EMERGENCY_UNBLIND, trial_id, patient.site_id))


@router.get(PATIENT, response_class=HTMLResponse)
def patient_page(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    return patient_page_with(request, principal, trial_id, code)


@router.post(PATIENT + "/sign", response_class=HTMLResponse)
async def sign_casebook(request: Request, trial_id: str, code: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    visible_trial(request, principal, trial_id)
    number = patient_id(trial_id, code)
    _ = language(request).gettext
    try:
        crf(request).signatures.sign(principal, trial_id, number, None, None, form.values.get("meaning", ""),
                                     form.values.get("password") or None, form.values.get("username") or None)
    except ServiceError as refused:
        field = "password" if refused.status == 401 else "meaning" if "meaning" in refused.message else "sign"
        put_errors(form, refused, _, field)
        form.values.pop("password", None)
        return patient_page_with(request, principal, trial_id, code, state=form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/patients/{code}#signatures", status_code=303)

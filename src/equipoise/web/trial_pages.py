"""The trial list and a trial's home page, which sends each role to its own starting page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.identity.principal import Principal
from equipoise.identity.roles import Role
from equipoise.services import trials as trial_store
from equipoise.services.trials import TrialView
from equipoise.web.access import PagePrincipal
from equipoise.web.core import core
from equipoise.web.pages import render

router = APIRouter(include_in_schema=False)


def visible_trial(request: Request, principal: Principal, trial_id: str) -> TrialView:
    """The trial, if the principal has a role in it (a ForbiddenError or NotFoundError otherwise)."""
    return trial_store.trial_for(core(request).db, principal, trial_id)


@router.get("/trials", response_class=HTMLResponse)
def trial_list(request: Request, principal: PagePrincipal) -> Response:
    trials = trial_store.list_trials(core(request).db, principal)
    return render(request, "trials.html", principal=principal, trials=trials)


@router.get("/trials/{trial_id}", response_class=HTMLResponse)
def trial_home(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    roles = principal.roles_in(trial_id)
    if roles & {Role.COORDINATOR, Role.INVESTIGATOR}:
        return RedirectResponse(f"/trials/{trial_id}/site", status_code=303)
    return render(request, "trial_home.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  trial=trial)

"""Routes of emergency envelopes (RND-12): issue, reconcile, and back-enter an envelope opened offline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import Field

from equipoise.server.deps import UserDep, service_of
from equipoise.server.routes import ERRORS, MAX_ID, PatientId
from equipoise.server.schemas import Body, Note
from equipoise.services.emergency_envelopes import MAX_ISSUE, EmergencyEnvelopeService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
ENVELOPES = "/api/trials/{trial_id}/emergency-envelopes"


class IssueBody(Body):
    site_id: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=MAX_ISSUE, description="How many more envelopes to draw for the site.")
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


class BackEntryBody(Body):
    envelope: int = Field(ge=1, le=MAX_ID, description="The number printed on the envelope that was opened.")
    opened_at: dt.datetime = Field(description="When it was opened, with its time zone (ISO 8601).")
    reason: Note = Field(min_length=1, max_length=2000, description="Why the server could not be used.")


Envelopes = Annotated[EmergencyEnvelopeService, Depends(service_of(EmergencyEnvelopeService))]


@router.post(ENVELOPES, tags=["randomization"], status_code=201)
def issue_envelopes(trial_id: str, body: IssueBody, user: UserDep, svc: Envelopes) -> list[Json]:
    """Draw sealed emergency envelopes for a site (unblinded statistician, password again): numbers, kit codes
    and, for printing and sealing, the arms."""
    return svc.issue(user, trial_id, body.site_id, body.count, body.password)


@router.get(ENVELOPES, tags=["randomization"])
def list_envelopes(trial_id: str, user: UserDep, svc: Envelopes,
                   site_id: Annotated[str | None, Query(max_length=64)] = None) -> Json:
    """Reconciliation: per site the envelopes issued, used and still sealed, and each envelope's use; a sealed
    envelope's arm only for the unblinded roles."""
    return svc.envelopes(user, trial_id, site_id)


@router.post("/api/trials/{trial_id}/patients/{patient_id}/randomize-offline", tags=["randomization"],
             status_code=201)
def randomize_offline(trial_id: str, patient_id: PatientId, body: BackEntryBody, user: UserDep, svc: Envelopes,
                      response: Response,
                      idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> Json:
    """Enter the emergency envelope a site opened for this (enrolled) patient while the server was down; a retry
    with the same Idempotency-Key returns the same allocation (200, replayed: true)."""
    view = svc.back_enter(user, trial_id, patient_id, body.envelope, body.opened_at, body.reason,
                          idempotency_key or "")
    if view.replayed:
        response.status_code = 200
    return view.to_dict()

"""Routes of unblinding requests (UNB-2): ask, review, withdraw, list; thin calls into the service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from equipoise.server.deps import UserDep, service_of
from equipoise.server.form_schemas import ReasonBody
from equipoise.server.routes import ERRORS, MAX_ID, PatientId
from equipoise.server.schemas import ReauthBody
from equipoise.services.unblinding_requests import UnblindingRequestService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
RequestId = Annotated[int, Path(ge=1, le=MAX_ID, description="Unblinding request id.")]
REQUESTS = "/api/trials/{trial_id}/unblinding-requests"


class DecisionBody(ReauthBody):
    decision: Literal["approve", "reject"] = Field(description="approve: the requester is shown the arm.")


Requests = Annotated[UnblindingRequestService, Depends(service_of(UnblindingRequestService))]


@router.post("/api/trials/{trial_id}/patients/{patient_id}/unblinding-requests", tags=["unblinding"],
             status_code=201)
def ask_unblinding(trial_id: str, patient_id: PatientId, body: ReasonBody, user: UserDep, svc: Requests) -> Json:
    """Ask to unblind one patient outside an emergency (e.g. to report a SUSAR): the unblinded statistician
    reviews the request; an approval shows the arm to the requester only."""
    return svc.request(user, trial_id, patient_id, body.reason).to_dict()


@router.get(REQUESTS, tags=["unblinding"])
def list_unblinding_requests(trial_id: str, user: UserDep, svc: Requests,
                             status: Annotated[Literal["requested", "approved", "rejected", "withdrawn"] | None,
                                               Query()] = None) -> list[Json]:
    """Requests of the sites one sees (the reviewer: all), oldest first."""
    return [r.to_dict() for r in svc.list_requests(user, trial_id, status)]


@router.get(REQUESTS + "/{request_id}", tags=["unblinding"])
def get_unblinding_request(trial_id: str, request_id: RequestId, user: UserDep, svc: Requests) -> Json:
    """One request; once approved, its requester sees the arm here."""
    return svc.get(user, trial_id, request_id).to_dict()


@router.post(REQUESTS + "/{request_id}/decision", tags=["unblinding"])
def decide_unblinding_request(trial_id: str, request_id: RequestId, body: DecisionBody, user: UserDep,
                              svc: Requests) -> Json:
    """Approve or reject an open request, with a reason and your password again."""
    return svc.decide(user, trial_id, request_id, body.decision, body.reason, body.password).to_dict()


@router.post(REQUESTS + "/{request_id}/withdraw", tags=["unblinding"])
def withdraw_unblinding_request(trial_id: str, request_id: RequestId, body: ReasonBody, user: UserDep,
                                svc: Requests) -> Json:
    """The requester withdraws an open request, with a reason."""
    return svc.withdraw(user, trial_id, request_id, body.reason).to_dict()

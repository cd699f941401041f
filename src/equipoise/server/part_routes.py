"""Routes of further randomizations (RND-6): factorial parts and later re-randomizations of a patient."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import Field

from equipoise.errors import InvalidError
from equipoise.server.deps import UserDep, built_once
from equipoise.server.routes import ERRORS, MAX_ID, PatientId
from equipoise.server.schemas import Body
from equipoise.services.further_randomization import FurtherRandomizationService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
PartId = Annotated[str, Path(min_length=1, max_length=64, description="Further randomization id from the protocol.")]


class PartBody(Body):
    values: dict[str, Any] = Field(default_factory=dict,
                                   description="The part's own fields (e.g. C-reactive protein), field id -> value.")


async def part_service(request: Request) -> FurtherRandomizationService:
    return built_once(request, "further_randomization", FurtherRandomizationService,
                      lambda core: FurtherRandomizationService(core.db))


Parts = Annotated[FurtherRandomizationService, Depends(part_service)]


@router.post("/api/trials/{trial_id}/patients/{patient_id}/randomizations/{part_id}", tags=["randomization"],
             status_code=201)
def randomize_in_part(trial_id: str, patient_id: PatientId, part_id: PartId, user: UserDep, svc: Parts,
                      response: Response, body: PartBody | None = None,
                      idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> Json:
    """Randomize a randomized patient again, in a factorial part or a later re-randomization (site roles, own
    site): the part's eligibility is checked on the enrolment values and the part's fields; a blinded part answers
    with a kit code, and the arm only to the roles that see arms. A retry
    with the same Idempotency-Key returns the same allocation (200, replayed: true)."""
    if not idempotency_key:
        raise InvalidError("send an Idempotency-Key header (any unique text, reused on retry)")
    view = svc.randomize(user, trial_id, patient_id, part_id, body.values if body else {}, idempotency_key)
    if view.replayed:
        response.status_code = 200
    return view.to_dict()


@router.get("/api/trials/{trial_id}/patients/{patient_id}/randomizations", tags=["randomization"])
def patient_randomizations(trial_id: str, patient_id: PatientId, user: UserDep, svc: Parts) -> list[Json]:
    """The patient's further randomizations, with their arms (open label)."""
    return [v.to_dict() for v in svc.for_patient(user, trial_id, patient_id)]


@router.get("/api/trials/{trial_id}/randomizations/{part_id}", tags=["randomization"])
def part_allocations(trial_id: str, part_id: PartId, user: UserDep, svc: Parts,
                     after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last allocation_id seen.")] = 0,
                     limit: Annotated[int, Query(ge=1, le=1000, description="Allocations per page.")] = 100
                     ) -> list[Json]:
    """Every allocation of one further randomization, for the sites one sees, in allocation_id order, a page at a
    time (``limit``, default 100; then after the last allocation_id seen)."""
    return [v.to_dict() for v in svc.list_part(user, trial_id, part_id, after_id=after_id, limit=limit)]

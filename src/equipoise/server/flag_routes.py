"""Routes of allocation flags (RND-10): an allocation made in error is flagged, never changed or deleted."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from equipoise.server.deps import UserDep, service_of
from equipoise.server.form_schemas import ReasonBody
from equipoise.server.routes import ERRORS, MAX_ID, PatientId
from equipoise.server.schemas import ReauthBody
from equipoise.services.allocation_flags import AllocationFlagService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
FlagId = Annotated[int, Path(ge=1, le=MAX_ID, description="Allocation flag id.")]


class FlagBody(ReauthBody):
    kind: Literal["randomized-in-error", "ineligible", "duplicate-patient", "wrong-stratum"] = Field(
        description="What went wrong; the allocation itself stands (intention to treat).")


Flags = Annotated[AllocationFlagService, Depends(service_of(AllocationFlagService))]


@router.post("/api/trials/{trial_id}/patients/{patient_id}/allocation/flags", tags=["randomization"],
             status_code=201)
def flag_allocation(trial_id: str, patient_id: PatientId, body: FlagBody, user: UserDep, svc: Flags) -> Json:
    """Flag the patient's allocation as made in error (investigator of the site, or the monitor; password
    again). The allocation is never changed or deleted."""
    return svc.flag(user, trial_id, patient_id, body.kind, body.reason, body.password)


@router.get("/api/trials/{trial_id}/allocation-flags", tags=["randomization"])
def list_allocation_flags(trial_id: str, user: UserDep, svc: Flags,
                          after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last flag id seen.")] = 0,
                          limit: Annotated[int, Query(ge=1, le=1000, description="Flags per page.")] = 100
                          ) -> list[Json]:
    """Every flag of the patients one sees, withdrawn ones included, in id order, a page at a time (``limit``,
    default 100; then after the last id seen)."""
    return svc.flags(user, trial_id, after_id=after_id, limit=limit)


@router.post("/api/trials/{trial_id}/allocation-flags/{flag_id}/withdraw", tags=["randomization"])
def withdraw_allocation_flag(trial_id: str, flag_id: FlagId, body: ReasonBody, user: UserDep, svc: Flags) -> Json:
    """Withdraw a flag raised in error, with a reason; it stays in the record."""
    return svc.withdraw(user, trial_id, flag_id, body.reason)

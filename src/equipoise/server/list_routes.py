"""Routes of uploaded randomization lists (RND-8, RND-9): upload, usage, audited download."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import PlainTextResponse
from pydantic import Field

from equipoise.server.deps import UserDep, service_of
from equipoise.server.routes import ERRORS, MAX_ID
from equipoise.server.schemas import Body, Note
from equipoise.services.randomization_lists import RandomizationListService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
ListId = Annotated[int, Path(ge=1, le=MAX_ID, description="Randomization list id.")]
LISTS = "/api/trials/{trial_id}/randomization-lists"


class ListUploadBody(Body):
    file_name: Note = Field(min_length=1, max_length=200, description="The file's name, for the record.")
    csv: str = Field(min_length=1, max_length=20_000_000, description="The list file's text: a header with one "
                     "column per stratification factor and 'arm', then the entries of each stratum in order.")
    sha256: str = Field(pattern=r"^\s*[0-9a-fA-F]{64}\s*$", description="SHA-256 of the file as you checked it "
                        "(e.g. sha256sum list.csv); the upload is refused unless the text matches it.")
    note: Note | None = Field(default=None, max_length=2000, description="Why (e.g. 'extended: stratum s1 ran low').")
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")
    purpose: Literal["production", "test"] = Field(description="What the list is for: 'test' for a test trial "
                                                   "(trial create --test), 'production' for the real trial; it must "
                                                   "match the trial, and no list serves both (RND-8).")


class PasswordBody(Body):
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


Lists = Annotated[RandomizationListService, Depends(service_of(RandomizationListService))]


@router.post(LISTS, tags=["randomization"], status_code=201)
def upload_list(trial_id: str, body: ListUploadBody, user: UserDep, svc: Lists) -> Json:
    """Upload the trial's randomization list (unblinded statistician; method 'list'), saying whether it is a test
    or a production list. A replacement must keep every entry already used. Every problem of a refused file is
    listed with its line."""
    return svc.upload(user, trial_id, body.csv, body.file_name, body.sha256, body.note, body.password, body.purpose)


@router.get(LISTS, tags=["randomization"])
def list_lists(trial_id: str, user: UserDep, svc: Lists) -> list[Json]:
    """The trial's lists with each stratum's entries and how many are used (no entry is shown)."""
    return svc.lists(user, trial_id)


@router.post(LISTS + "/{list_id}/download", tags=["randomization"], response_class=PlainTextResponse,
             responses={200: {"content": {"text/csv": {}}}})
def download_list(trial_id: str, list_id: ListId, body: PasswordBody, user: UserDep, svc: Lists
                  ) -> PlainTextResponse:
    """The list as CSV (stratum, position, arm); with the password again, and audited."""
    return PlainTextResponse(svc.download(user, trial_id, list_id, body.password), media_type="text/csv")

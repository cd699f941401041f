"""Request bodies of the case-report-form, query, lock, signature and export endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from equipoise.server.schemas import Body, Note, PatientReference
from equipoise.services.change_reasons import ChangeReason

MAX_INSTANCE = 10_000  # records of one repeating form at one visit


class FormBody(Body):
    values: dict[str, Any] = Field(description="Field id -> value (numbers, true/false, dates as YYYY-MM-DD); "
                                   "a field left out is empty.")
    reason: Note | None = Field(default=None, max_length=2000,
                               description="Why the form is changed: required for every change after the first save "
                               "(as reason_code, reason, or both).")
    reason_code: ChangeReason | None = Field(default=None, description="The kind of change, from the pick list.")
    incomplete: bool = Field(default=False, description="Save although required fields are empty (status incomplete).")
    expected_version: int | None = Field(default=None, ge=0, le=2_147_483_647,
                                         description="The version you loaded: 409 if someone saved since.")


class FormPatchBody(Body):
    values: dict[str, Any] = Field(description="Only the fields to change (null empties a field).")
    reason: Note | None = Field(default=None, max_length=2000,
                               description="Why the values are changed (this, reason_code, or both, required).")
    reason_code: ChangeReason | None = Field(default=None, description="The kind of change, from the pick list.")
    incomplete: bool = False
    expected_version: int | None = Field(default=None, ge=0, le=2_147_483_647)


class ReasonBody(Body):
    reason: Note = Field(min_length=1, max_length=2000)


class OffStudyBody(Body):
    kind: Literal["withdrew-consent", "lost-to-follow-up", "investigator-decision", "died"] = Field(
        description="Why the patient left: withdrawal of consent (no data may be collected after the date), lost "
                    "to follow-up, the investigator's decision, or death (the forms that record an outcome at the "
                    "outcome's visit are still expected: the death is their value).")
    effective_date: dt.date = Field(description="The site's local date from which no visit is expected (YYYY-MM-DD); "
                                    "for a death, the date of death.")
    reason: Note = Field(min_length=1, max_length=2000)


class OptionalReasonBody(Body):
    reason: Note | None = Field(default=None, max_length=2000)


class SignBody(Body):
    meaning: str = Field(min_length=1, max_length=32,
                         description="approval, review, responsibility or authorship (21 CFR 11.50).")
    password: str = Field(min_length=1, max_length=1000, description="Your password (re-authentication).")
    username: str | None = Field(default=None, max_length=64,
                                 description="Your user name: required for the first signature of a session "
                                 "(21 CFR 11.200(a)(1)) and with API tokens.")


class QueryBody(Body):
    patient_id: PatientReference = Field(description="The patient's code (P-000123) or number (123).")
    form_id: str = Field(min_length=1, max_length=64)
    visit_id: str = Field(min_length=1, max_length=64)
    instance: int = Field(default=1, ge=1, le=MAX_INSTANCE, description="Which record of a repeating form (1, 2, ...).")
    field_id: str | None = Field(default=None, max_length=64, description="The field queried, if one.")
    text: Note = Field(min_length=1, max_length=4000, description="The question to the site.")


class QueryMessageBody(Body):
    text: Note = Field(min_length=1, max_length=4000)


class OptionalMessageBody(Body):
    text: Note | None = Field(default=None, max_length=4000)

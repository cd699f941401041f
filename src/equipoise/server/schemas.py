"""Request and response bodies of the JSON API (their JSON Schemas are in /openapi.json)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from equipoise.protocol.text_policy import MAX_NOTE_LENGTH, checked_text
from equipoise.services.change_reasons import ChangeReason
from equipoise.store.models import PATIENT_REFERENCE_PATTERN, patient_number

# A patient is named by its code (P-000123) or its number (123), in a path, a query or a body: one resolver, the
# store's, turns either into the number.
PatientReference = Annotated[int, BeforeValidator(patient_number), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": PATIENT_REFERENCE_PATTERN}],
    "description": "The patient's code (P-000123) or number (123)."})]


def _note(value: str) -> str:
    return checked_text(value, MAX_NOTE_LENGTH)


# Free text a person types (reasons, notes, messages, names): the text policy's characters, line ends normalised;
# a refusal is a 422 naming the field, like any other invalid body.
Note = Annotated[str, AfterValidator(_note)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    code: str | None = Field(default=None, max_length=12, description="The 6-digit one-time code of an account "
                             "with two-factor login.")


class PasswordOnlyBody(Body):
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


class TwoFactorCodeBody(Body):
    code: str = Field(min_length=1, max_length=12, description="The current 6-digit code of the authenticator app.")


class TwoFactorOffBody(TwoFactorCodeBody):
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


class PasswordBody(Body):
    old_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000, description="At least 10 characters.")


class TokenBody(Body):
    name: Note = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")
    days: int | None = Field(default=None, ge=1, le=3650, description="Lifetime in days (1-3650); default: 90. "
                             "The token stops working then, and at once if the password changes or the user is "
                             "deactivated.")


class TrialBody(Body):
    protocol_yaml: str = Field(min_length=1, max_length=2_000_000, description="The protocol file's text.")
    filename: str = Field(default="protocol.yaml", max_length=200)
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")
    test: bool = Field(default=False, description="A test trial, to try the setup out: it takes test "
                       "randomization lists only (RND-8).")


class AmendBody(Body):
    protocol_yaml: str = Field(min_length=1, max_length=2_000_000, description="The whole new protocol file.")
    reason: Note = Field(min_length=1, max_length=2000)
    filename: str = Field(default="protocol.yaml", max_length=200)
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


class EnrolBody(Body):
    site_id: str = Field(min_length=1, max_length=64)
    values: dict[str, Any] = Field(description="Enrolment field id -> value (dates as YYYY-MM-DD).")


class CorrectionBody(Body):
    values: dict[str, Any] = Field(description="Only the fields being corrected.")
    reason: Note | None = Field(default=None, max_length=2000,
                               description="Why the value is changed (this, reason_code, or both, required).")
    reason_code: ChangeReason | None = Field(default=None, description="The kind of change, from the pick list.")


class RandomizeBody(Body):
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="Alternative to the Idempotency-Key header: a retry with the same key gets the same allocation.",
    )


class ReauthBody(Body):
    reason: Note = Field(min_length=1, max_length=2000)
    password: str = Field(min_length=1, max_length=1000, description="Your password again (re-authentication).")


class AdaptiveBody(ReauthBody):
    probabilities: dict[str, float] = Field(description="Arm id -> allocation probability; they add up to 1.")
    effective_at: dt.datetime | None = Field(default=None, description="From when the table allocates (ISO 8601 "
                                             "with its time zone; default: at once); never in the past.")


class RoleGrant(Body):
    role: str = Field(description="admin, site-coordinator, investigator, monitor, blinded-statistician, "
                      "unblinded-statistician or dmc")
    trial_id: str | None = Field(default=None, max_length=64)
    site_id: str | None = Field(default=None, max_length=64)


class UserBody(Body):
    username: str = Field(min_length=1, max_length=64)
    full_name: Note = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)
    email: str | None = Field(default=None, max_length=200)
    roles: list[RoleGrant] = Field(default_factory=list)


class RevokeBody(Body):
    reason: Note = Field(min_length=1, max_length=2000)


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, in one line.")

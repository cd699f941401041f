"""Protocol amendments: dated, versioned changes to arms, allocation, site availability, the fields of case
report forms (added, changed or dropped) and further randomizations (added or closed)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from equipoise.protocol.arms import Arm
from equipoise.protocol.base import MAX_ALLOCATION_WEIGHT, Identifier, ProtocolModel
from equipoise.protocol.fields import Choice, DataField
from equipoise.protocol.further_randomization import FurtherRandomization
from equipoise.protocol.sites import Site


class AddArm(ProtocolModel):
    change: Literal["add-arm"]
    arm: Arm
    sites: list[Identifier] | None = Field(default=None, description="Sites offering the arm; omitted: all.")


class DropArm(ProtocolModel):
    change: Literal["drop-arm"]
    arm: Identifier
    reason: str | None = None


class SetAllocation(ProtocolModel):
    change: Literal["set-allocation"]
    allocation: dict[Identifier, Annotated[float, Field(gt=0, le=MAX_ALLOCATION_WEIGHT)]] = Field(
        description="Arm id -> new weight.")


class SetSiteArms(ProtocolModel):
    change: Literal["set-site-arms"]
    site: Identifier
    arms: list[Identifier] = Field(min_length=1)


class AddSite(ProtocolModel):
    change: Literal["add-site"]
    site: Site


class AddField(ProtocolModel):
    """A new field on a case report form, or on the enrolment form (``form: enrolment``), from this version on (a
    pandemic's forms change: RECOVERY added questions, vaccination status among them, as treatments and knowledge
    changed). It is optional: records saved and patients enrolled before have no value."""

    change: Literal["add-field"]
    form: Identifier
    field: DataField


class ChangeField(ProtocolModel):
    """A field's definition from this version on: its wording, range, expected values, choices or whether it is
    required (a range widened for a new patient population, a choice added as care changed). What a value means
    stays: the type and the unit cannot change (add a field instead). Records keep the version they were saved
    under; each save is checked by the version in force."""

    change: Literal["change-field"]
    form: Identifier
    field: Identifier
    label: str | None = Field(default=None, min_length=1)
    help: str | None = None
    range: tuple[float, float] | None = None
    expected: tuple[float, float] | None = None
    required: bool | None = None
    choices: list[Identifier | Choice] | None = None

    @property
    def updates(self) -> dict[str, object]:
        """The attributes this change sets; one given as null is removed (a range, say), except label and
        required, which every field has."""
        return {name: getattr(self, name) for name in CHANGEABLE if name in self.model_fields_set
                and not (name in ("label", "required") and getattr(self, name) is None)}


CHANGEABLE = ("label", "help", "range", "expected", "required", "choices")


class DropField(ProtocolModel):
    """A field no longer asked from this version on. Values saved before stay in their records, in the exports
    and in the audit trail; they can no longer be changed."""

    change: Literal["drop-field"]
    form: Identifier
    field: Identifier
    reason: str | None = None


class AddPart(ProtocolModel):
    """A further randomization from this version on: RECOVERY opened its second randomization (tocilizumab for
    progressive disease) by amendment, months after the trial started (protocol v7)."""

    change: Literal["add-further-randomization"]
    part: FurtherRandomization


class ClosePart(ProtocolModel):
    """No more patients randomized in a further randomization from this version on; its allocations stay, in
    the exports, replay and the analysis."""

    change: Literal["close-further-randomization"]
    part: Identifier
    reason: str | None = None


Change = Annotated[AddArm | DropArm | SetAllocation | SetSiteArms | AddSite | AddField | ChangeField | DropField
                   | AddPart | ClosePart, Field(discriminator="change")]


class Amendment(ProtocolModel):
    version: str = Field(min_length=1, description="Protocol version this amendment creates (quote it: \"2.0\").")
    effective_date: dt.date
    summary: str = Field(min_length=1)
    changes: list[Change] = Field(min_length=1)

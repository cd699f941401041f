"""Protocol amendments: dated, versioned changes to arms, allocation, site availability and the fields of case
report forms."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from equipoise.protocol.arms import Arm
from equipoise.protocol.base import Identifier, ProtocolModel
from equipoise.protocol.fields import DataField
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
    allocation: dict[Identifier, Annotated[float, Field(gt=0)]] = Field(description="Arm id -> new weight.")


class SetSiteArms(ProtocolModel):
    change: Literal["set-site-arms"]
    site: Identifier
    arms: list[Identifier] = Field(min_length=1)


class AddSite(ProtocolModel):
    change: Literal["add-site"]
    site: Site


class AddField(ProtocolModel):
    """A new field on a case report form from this version on (a pandemic's case report forms change: RECOVERY
    added questions as treatments and knowledge changed). It is optional: records saved before have no value."""

    change: Literal["add-field"]
    form: Identifier
    field: DataField


Change = Annotated[AddArm | DropArm | SetAllocation | SetSiteArms | AddSite | AddField,
                   Field(discriminator="change")]


class Amendment(ProtocolModel):
    version: str = Field(min_length=1, description="Protocol version this amendment creates (quote it: \"2.0\").")
    effective_date: dt.date
    summary: str = Field(min_length=1)
    changes: list[Change] = Field(min_length=1)

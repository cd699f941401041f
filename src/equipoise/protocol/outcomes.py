"""Outcomes the trial measures."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from equipoise.protocol.base import MAX_DAY, Identifier, ProtocolModel
from equipoise.protocol.scales import OrdinalScale, resolve_scale


class OutcomeType(StrEnum):
    BINARY = "binary"
    ORDINAL = "ordinal"
    TIME_TO_EVENT = "time-to-event"
    CONTINUOUS = "continuous"


class Better(StrEnum):
    LOWER = "lower"
    HIGHER = "higher"


class Outcome(ProtocolModel):
    id: Identifier
    name: str = Field(min_length=1)
    type: OutcomeType
    day: int = Field(
        gt=0, le=MAX_DAY,
        description="Assessment day (binary, ordinal, continuous) or follow-up horizon in days (time-to-event).",
    )
    better: Better = Field(
        description="Which direction is better: for a binary outcome, whether fewer (lower) or more (higher) "
        "events are better; for time-to-event, whether an earlier (lower) or later (higher) event is better."
    )
    scale: Identifier | OrdinalScale | None = Field(default=None, description="Ordinal outcomes: the scale.")
    unit: str | None = None
    event: str | None = Field(default=None, description="What counts as the event (binary, time-to-event).")
    competing_events: list[str] = Field(default_factory=list, description="Time-to-event: competing risks.")
    source: str | None = Field(
        default=None, pattern=r"^[A-Za-z][\w\-]*\.[A-Za-z][\w\-]*$", description="'form.field' holding the data."
    )
    description: str | None = None

    @property
    def resolved_scale(self) -> OrdinalScale | None:
        return resolve_scale(self.scale) if self.scale is not None else None

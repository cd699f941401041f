"""Visits and case report forms."""

from __future__ import annotations

from pydantic import Field

from equipoise.protocol.base import Day, Identifier, ProtocolModel
from equipoise.protocol.fields import DataField, FormCondition


class Visit(ProtocolModel):
    id: Identifier
    name: str | None = None
    day: Day = Field(description="Day offset from randomization (day 0).")
    window: tuple[Day, Day] = Field(default=(0, 0), description="Allowed [early, late] offsets in days, e.g. [-2, 2].")


class Form(ProtocolModel):
    id: Identifier
    name: str = Field(min_length=1)
    visits: list[Identifier] = Field(min_length=1, description="Visits at which the form is due.")
    fields: list[DataField] = Field(min_length=1)
    repeating: bool = Field(default=False, description=(
        "A log form: any number of records per visit, numbered 1, 2, ... (each serious adverse event, each "
        "concomitant medication). A form that is not repeating has one record per visit."))
    asked_if: FormCondition | None = Field(default=None, description=(
        "The form is expected at a visit only when a field of another form at that visit has one of the given "
        "values (form display logic): {form: sae_check, field: any_sae, equals: true} asks for the serious "
        "adverse event log only after a yes; after a no it is not needed (never due, never overdue)."))

    def field(self, field_id: str) -> DataField | None:
        return next((f for f in self.fields if f.id == field_id), None)


class Target(ProtocolModel):
    """Planned enrolment, optionally with a fixed composition (as in the 2020 single-arm study)."""

    total: int = Field(gt=0, le=100_000_000)
    composition_field: Identifier | None = Field(default=None, description="Enrolment choice field.")
    composition: dict[str, int] | None = Field(default=None, description="Planned patients per choice.")


class Enrolment(ProtocolModel):
    fields: list[DataField] = Field(min_length=1)
    target: Target | None = None

    def field(self, field_id: str) -> DataField | None:
        return next((f for f in self.fields if f.id == field_id), None)

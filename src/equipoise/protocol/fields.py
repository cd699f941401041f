"""Data fields, shared by the enrolment form and the case report forms, and how a value is checked."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field

from equipoise.protocol.base import Identifier, ProtocolModel, format_number
from equipoise.protocol.scales import OrdinalScale, resolve_scale
from equipoise.protocol.text_policy import normalised_text, text_problem

FieldValue = bool | int | float | str | dt.date


class FieldType(StrEnum):
    INTEGER = "integer"
    NUMBER = "number"
    TEXT = "text"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    DATE = "date"
    ORDINAL = "ordinal"

    @property
    def is_numeric(self) -> bool:
        return self in (FieldType.INTEGER, FieldType.NUMBER, FieldType.ORDINAL)


class Choice(ProtocolModel):
    value: Identifier
    label: str


ConditionValue = bool | int | str


class Condition(ProtocolModel):
    """When a field of a case report form is asked (skip logic; REDCap's branching logic): when an earlier field of
    the same form has one of the given values."""

    field: Identifier = Field(description="A yes/no, choice, integer or ordinal field earlier on the same form.")
    equals: ConditionValue | list[ConditionValue] = Field(description="The value, or any of the values, for which "
                                                          "the field is asked.")

    @property
    def values(self) -> list[ConditionValue]:
        return list(self.equals) if isinstance(self.equals, list) else [self.equals]

    def holds(self, values: Mapping[str, object]) -> bool:
        """Whether the field is asked; not while the field it depends on is unanswered."""
        value = values.get(self.field)
        # true is not 1 here, though Python says True == 1
        return value is not None and any(type(value) is type(v) and value == v for v in self.values)

    def describe(self, label: str) -> str:
        def show(v: ConditionValue) -> str:
            return ("yes" if v else "no") if isinstance(v, bool) else str(v)

        shown = [show(v) for v in self.values]
        return f"{label} is {shown[0]}" if len(shown) == 1 else f"{label} is one of {', '.join(shown)}"

    def expression(self) -> str:
        """The condition as one line of text (data dictionary, ODM FormalExpression)."""
        def text(v: ConditionValue) -> str:
            return ("true" if v else "false") if isinstance(v, bool) else str(v)

        shown = [text(v) for v in self.values]
        return f"{self.field} == {shown[0]}" if len(shown) == 1 else f"{self.field} in {'|'.join(shown)}"


class FormCondition(Condition):
    """When a case report form is expected at a visit (REDCap's form display logic, OpenClinica's form-level
    condition): when a field of another form at the same visit has one of the given values, e.g. the serious
    adverse event log only when "any serious adverse event since the last visit?" is yes."""

    form: Identifier = Field(description="The form that asks the question, at every visit of this form (not a log "
                             "form, and not itself asked on a condition).")

    def expression(self) -> str:
        return f"{self.form}.{super().expression()}"


class DataField(ProtocolModel):
    """One field on a form: its type, unit, allowed range or choices, and whether it is required."""

    id: Identifier
    label: str = Field(min_length=1)
    type: FieldType
    unit: str | None = None
    range: tuple[float, float] | None = Field(
        default=None, description="Inclusive [low, high] for integer and number fields."
    )
    expected: tuple[float, float] | None = Field(
        default=None, description="Inclusive [low, high] of plausible values (integer and number fields): a value "
        "outside it but inside range is saved and opens a query for the site to confirm (a soft edit check).",
    )
    required: bool = True
    choices: list[Identifier | Choice] | None = Field(default=None, description="Allowed values of a choice field.")
    scale: Identifier | OrdinalScale | None = Field(
        default=None, description="Ordinal scale of an ordinal field: a built-in name (who-cps) or inline."
    )
    not_before: Identifier | None = Field(
        default=None, description="A date field on the same form that this date may not precede."
    )
    asked_if: Condition | None = Field(
        default=None, description="Case report forms: the field is asked only when an earlier field has one of "
        "the given values (required then, if required); otherwise it must stay empty.")
    help: str | None = None

    @property
    def choice_values(self) -> list[str]:
        return [c.value if isinstance(c, Choice) else c for c in self.choices or []]

    @property
    def resolved_scale(self) -> OrdinalScale | None:
        return resolve_scale(self.scale) if self.scale is not None else None

    def parse(self, value: object) -> tuple[object, str | None]:
        """The value as the field stores it, or why it cannot be read: a date from YYYY-MM-DD text, a text with
        its line ends normalised (``text_policy``). Every form and enrolment value comes in through here."""
        if self.type is FieldType.DATE and isinstance(value, str) and value:
            try:
                return dt.date.fromisoformat(value), None
            except ValueError:
                return None, f"{value!r} is not a date (YYYY-MM-DD)"
        if self.type is FieldType.TEXT and isinstance(value, str):
            return normalised_text(value), None
        return value, None

    def check(self, value: object) -> str | None:
        """Why ``value`` is not acceptable for this field, or None when it is.

        ``None`` is accepted only for optional fields. The reason is written for the person entering data.
        """
        if value is None or value == "":
            return "a value is required" if self.required else None
        reason = self._type_reason(value)
        if reason is not None:
            return reason
        if self.type in (FieldType.INTEGER, FieldType.NUMBER) and self.range is not None:
            low, high = self.range
            number = float(value)  # type: ignore[arg-type]
            if not low <= number <= high:
                unit = f" {self.unit}" if self.unit else ""
                return f"{value}{unit} is outside the allowed range {format_number(low)} to {format_number(high)}{unit}"
        return None

    def unexpected(self, value: object) -> str | None:
        """Why an accepted value deserves a second look (outside ``expected``), or None (EDC-2 soft check)."""
        if self.expected is None or self.type not in (FieldType.INTEGER, FieldType.NUMBER):
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        low, high = self.expected
        if low <= float(value) <= high:
            return None
        unit = f" {self.unit}" if self.unit else ""
        return (f"{self.label}: {value}{unit} is outside the expected {format_number(low)} to "
                f"{format_number(high)}{unit}: please confirm it against the source, or correct it")

    def _type_reason(self, value: object) -> str | None:
        kind = self.type
        if kind is FieldType.BOOLEAN:
            return None if isinstance(value, bool) else "must be yes (true) or no (false)"
        if kind is FieldType.INTEGER:
            # JSON does not tell 5.0 from 5 (a JavaScript client cannot even write 5.0), so 5.0 is a whole number
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer())
            return None if ok else "must be a whole number"
        if kind is FieldType.NUMBER:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            return None if ok else "must be a number"
        if kind is FieldType.TEXT:
            return text_problem(value) if isinstance(value, str) else "must be text"
        if kind is FieldType.DATE:
            ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
            return None if ok else "must be a date (YYYY-MM-DD)"
        if kind is FieldType.CHOICE:
            allowed = self.choice_values
            return None if value in allowed else f"must be one of: {', '.join(allowed)}"
        scale = self.resolved_scale
        allowed_levels = scale.values if scale is not None else []
        if isinstance(value, bool) or value not in allowed_levels:
            return f"must be a level of the {scale.name if scale else 'ordinal scale'}: {_span(allowed_levels)}"
        return None



def _span(values: list[int]) -> str:
    if values and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(v) for v in values)

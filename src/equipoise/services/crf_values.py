"""Server-side checks of a case report form's values, with one message per field for the person entering data.

Each field is checked by the protocol's ``DataField.check`` (type, range with its unit, required, choices,
ordinal scale levels), and dates further by three rules: a date may not be in the future (the site's local
date), may not precede another date of the same form named by ``not_before``, and, at visits after day 0,
may not precede the randomization date (a follow-up assessment cannot come before the patient was in the
trial). A field with ``asked_if`` (skip logic) is asked only when the earlier field it names has one of the
given values: then it is required if it is required; otherwise a value is refused (a death date for a patient
recorded alive is a contradiction, not extra information). Every problem is reported at once, keyed by field
(EDC-2: edit checks run on the server).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from equipoise.errors import InvalidError
from equipoise.protocol import DataField, FieldType, Form, Visit
from equipoise.services.values import whole_or_float


@dataclass(frozen=True)
class DateContext:
    """What dates are checked against: today at the site, and day 0 of the schedule (None before randomization)."""

    today: dt.date
    site_id: str
    anchor: dt.date | None


@dataclass
class CheckedValues:
    values: dict[str, Any]
    missing: list[str] = field(default_factory=list)  # required fields left empty

    @property
    def complete(self) -> bool:
        return not self.missing


def retired_values(form: Form, saved: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The saved values of fields an amendment dropped from the form: they stay in the record as they were.

    A save may send one back unchanged (a client that sends the whole record); a different value is refused,
    as the field is no longer asked."""
    retired = {k: v for k, v in saved.items() if form.field(k) is None}
    errors = {k: f"no longer on form {form.id} (an amendment dropped it): the value saved before "
                 f"({_shown(retired[k])}) stays in the record and cannot be changed"
              for k, v in raw.items() if k in retired and v != retired[k]}
    if errors:
        first_field, first = next(iter(errors.items()))
        raise InvalidError(f"{first_field}: {first}", {"errors": errors})
    return retired


def check_values(form: Form, visit: Visit, raw: Mapping[str, Any], dates: DateContext) -> CheckedValues:
    """Typed, checked values (JSON-ready: dates as text); raises InvalidError naming every bad field."""
    fields = {f.id: f for f in form.fields}
    errors: dict[str, str] = {}
    for name in raw:
        if name not in fields:
            errors[name] = f"unknown field of form {form.id} (fields: {', '.join(fields)})"
    typed: dict[str, Any] = {}
    missing: list[str] = []
    for spec in form.fields:
        value = raw.get(spec.id)
        if value is None or value == "":
            if spec.required and spec.asked_if is None:
                missing.append(spec.id)
            continue
        value, problem = spec.parse(value)
        problem = problem or spec.check(value)
        if problem is not None:
            errors[spec.id] = f"{spec.label}: {problem}"
            continue
        value = whole_or_float(spec.type, value)  # one JSON type per field, whatever the client sent
        typed[spec.id] = value
    for spec in form.fields:
        if spec.asked_if is None or spec.id in errors:
            continue
        condition = spec.asked_if
        asked = condition.holds(typed)
        if asked and spec.required and spec.id not in typed:
            missing.append(spec.id)
        elif not asked and spec.id in typed:
            source = fields[condition.field]
            because = (f"answer {source.label} first" if typed.get(condition.field) is None
                       else f"{source.label} is {_shown(typed[condition.field])}")
            errors[spec.id] = (f"{spec.label}: only asked when {condition.describe(source.label)} ({because}): "
                               "leave it empty")
            del typed[spec.id]
    for spec in form.fields:
        value = typed.get(spec.id)
        if spec.type is FieldType.DATE and isinstance(value, dt.date):
            problem = _date_problem(spec, value, typed, fields, visit, dates)
            if problem is not None:
                errors[spec.id] = f"{spec.label}: {problem}"
    if errors:
        first_field, first = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidError(f"{first_field}: {first}{more}", {"errors": errors})
    values = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in typed.items()}
    return CheckedValues(values, missing)


def _shown(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _date_problem(spec: DataField, value: dt.date, typed: Mapping[str, Any], fields: Mapping[str, DataField],
                  visit: Visit, dates: DateContext) -> str | None:
    if value > dates.today:
        return f"{value.isoformat()} is in the future (today is {dates.today.isoformat()} at site {dates.site_id})"
    if spec.not_before is not None:
        other = typed.get(spec.not_before)
        if isinstance(other, dt.date) and value < other:
            label = fields[spec.not_before].label
            return f"{value.isoformat()} is before {label} ({other.isoformat()})"
    if visit.day > 0 and dates.anchor is not None and value < dates.anchor:
        return (f"{value.isoformat()} is before the randomization date ({dates.anchor.isoformat()}); visit "
                f"{visit.id} is day {visit.day} after randomization")
    return None


def missing_message(form: Form, missing: list[str]) -> str:
    labels = {f.id: f.label for f in form.fields}
    names = ", ".join(f"{m} ({labels[m]})" for m in missing)
    return (f"required fields are empty: {names}; fill them in, or send \"incomplete\": true to save the form "
            "as incomplete")


def require_complete(form: Form, checked: CheckedValues) -> None:
    if checked.missing:
        labels = {f.id: f.label for f in form.fields}
        raise InvalidError(missing_message(form, checked.missing),
                           {"errors": {m: f"{labels[m]}: a value is required" for m in checked.missing},
                            "missing": checked.missing})

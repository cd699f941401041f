"""Enrolment values: from JSON to typed values, checked field by field against the protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from equipoise.errors import InvalidError
from equipoise.protocol import FieldType, Protocol


def whole_or_float(kind: FieldType, value: Any) -> Any:
    """A checked value as its field stores it: numbers as floats, whole numbers and ordinal levels as ints (a
    client may send 5.0 for 5: JSON does not tell them apart)."""
    if kind is FieldType.NUMBER and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (FieldType.INTEGER, FieldType.ORDINAL) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def typed_values(protocol: Protocol, raw: Mapping[str, Any], *, partial: bool = False,
                 stored: Collection[str] = ()) -> dict[str, Any]:
    """Typed enrolment values (dates parsed); every problem is reported at once, by field.

    ``stored``: fields whose values come from the patient's record, not from this request: their text is taken
    as stored (a database written before the text policy may hold text it now refuses, and a patient enrolled
    then must still be randomized)."""
    fields = {f.id: f for f in protocol.enrolment.fields}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in raw:
        if name not in fields:
            errors[name] = f"unknown enrolment field (fields: {', '.join(fields)})"
    for field in fields.values():
        if partial and field.id not in raw:
            continue
        value = raw.get(field.id)
        if field.id in stored and field.type is FieldType.TEXT and isinstance(value, str):
            values[field.id] = value
            continue
        value, unreadable = field.parse(value)
        if unreadable is not None:
            errors[field.id] = unreadable
            continue
        problem = field.check(value)
        value = whole_or_float(field.type, value) if problem is None else value
        if problem is not None:
            errors[field.id] = f"{field.label}: {problem}"
            continue
        values[field.id] = value
    if errors:
        first = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidError(f"{first[0]}: {first[1]}{more}", {"errors": errors})
    return values


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def factor_fields(protocol: Protocol) -> dict[str, str]:
    """Factor id -> enrolment field, for the factors that are read from the patient (not the site)."""
    if protocol.randomization is None:
        return {}
    return {f.id: f.field for f in protocol.randomization.factors if f.field != "site"}

"""A case report form's edit checks as JSON Schema (draft 2020-12), for clients to run before they send (EDC-2).

The server checks every save (``store/crf_values.py``); a client (a web page, a tablet at the bedside, a
hospital system pushing data) can run the same field checks first with any JSON Schema validator and show them
as the person types. The schema holds what a single form can check on its own:

- each field's type (integer, number, text, yes/no, date as ``YYYY-MM-DD``), its allowed range, its choices or
  ordinal levels, and no other field (``additionalProperties: false``);
- the required fields (a save with some empty is accepted only as ``incomplete``, so they are listed under
  ``required`` and the server's rule is in the description);
- skip logic: a field asked only when an earlier field has one of some values is required then (if required)
  and must stay empty otherwise (``if``/``then``/``else`` on that field);
- soft checks (``expected`` ranges) as ``x-expected``: outside them a value is saved and a query opened.

Not in it, and checked by the server only: dates against today, the visit and randomization, and against the
date a ``not_before`` field names (they need the patient's and the site's context).
"""

from __future__ import annotations

from typing import Any

from equipoise.protocol.fields import DataField, FieldType
from equipoise.protocol.forms import Form

DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def field_schema(spec: DataField) -> dict[str, Any]:
    out: dict[str, Any] = {"title": spec.label}
    if spec.help:
        out["description"] = spec.help
    kind = spec.type
    if kind is FieldType.INTEGER:
        out["type"] = "integer"
    elif kind is FieldType.NUMBER:
        out["type"] = "number"
    elif kind is FieldType.TEXT:
        out["type"] = "string"
    elif kind is FieldType.BOOLEAN:
        out["type"] = "boolean"
    elif kind is FieldType.DATE:
        out.update(type="string", format="date", pattern=DATE_PATTERN)
    elif kind is FieldType.CHOICE:
        out.update(type="string", enum=spec.choice_values)
    else:
        scale = spec.resolved_scale
        out.update(type="integer", enum=scale.values if scale is not None else [])
    if kind in (FieldType.INTEGER, FieldType.NUMBER) and spec.range is not None:
        out.update(minimum=spec.range[0], maximum=spec.range[1])
    if spec.unit:
        out["x-unit"] = spec.unit
    if spec.expected is not None and kind in (FieldType.INTEGER, FieldType.NUMBER):
        out["x-expected"] = {"minimum": spec.expected[0], "maximum": spec.expected[1]}
    return out


def form_json_schema(form: Form, version: str) -> dict[str, Any]:
    """The JSON Schema of a form's ``values`` in one protocol version."""
    conditions: list[dict[str, Any]] = []
    for spec in form.fields:
        if spec.asked_if is None:
            continue
        asked = {"properties": {spec.asked_if.field: {"enum": spec.asked_if.values}},
                 "required": [spec.asked_if.field]}
        conditions.append({"if": asked, "then": {"required": [spec.id]} if spec.required else {},
                           "else": {"not": {"required": [spec.id]}}})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{form.name} (protocol version {version})",
        "description": "The values of one record of the form. A save with required fields empty is accepted as "
                       "incomplete only; dates are also checked by the server against today, the visit and "
                       "randomization.",
        "type": "object",
        "properties": {spec.id: field_schema(spec) for spec in form.fields},
        "required": [spec.id for spec in form.fields if spec.required and spec.asked_if is None],
        "additionalProperties": False,
    }
    if conditions:
        schema["allOf"] = conditions
    return schema

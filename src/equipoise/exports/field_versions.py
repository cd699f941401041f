"""``field_versions.csv``: how each case report form field was defined in each protocol version (EDC-1).

Each record keeps the protocol version it was saved under (``protocol_version`` in every form file); this file
says what that version asked: one row for each field (of the enrolment form, ``enrolment``, and of each case
report form) as the base protocol defines it, then one row for each amendment that adds, changes or drops it,
with the definition from that version on. The data dictionary shows
each field as it reads today (its latest definition, with every choice it ever had).
"""

from __future__ import annotations

from typing import Any

from equipoise.exports.table import ColumnType, Table, columns
from equipoise.protocol import DataField, Protocol
from equipoise.protocol.amending import ENROLMENT_FORM, apply_amendment
from equipoise.protocol.amendments import AddField, ChangeField, DropField

_T, _N, _B, _D = ColumnType.TEXT, ColumnType.NUMBER, ColumnType.BOOLEAN, ColumnType.DATE
COLUMNS = columns(("form", _T), ("field", _T), ("protocol_version", _T), ("effective_date", _D), ("change", _T),
                  ("label", _T), ("type", _T), ("unit", _T), ("range_low", _N), ("range_high", _N),
                  ("expected_low", _N), ("expected_high", _N), ("choices", _T), ("required", _B), ("asked_if", _T),
                  ("why", _T))


def _definition(spec: DataField) -> list[Any]:
    low, high = spec.range if spec.range is not None else (None, None)
    expected_low, expected_high = spec.expected if spec.expected is not None else (None, None)
    choices = "|".join(c if isinstance(c, str) else f"{c.value}={c.label}" for c in spec.choices or [])
    return [spec.label, spec.type.value, spec.unit, low, high, expected_low, expected_high, choices, spec.required,
            spec.asked_if.expression() if spec.asked_if else None]


def field_versions_table(protocol: Protocol) -> Table:
    """The rows in protocol order: the base definitions, then each amendment's changes in date order."""
    trial = protocol.trial
    every = [(ENROLMENT_FORM, protocol.enrolment.fields), *((form.id, form.fields) for form in protocol.forms)]
    rows = [[form_id, spec.id, trial.version, trial.effective_date.isoformat(), "defined", *_definition(spec), None]
            for form_id, fields in every for spec in fields]
    current = protocol
    for amendment in protocol.amendments:
        current = apply_amendment(current, amendment)
        for change in amendment.changes:
            if isinstance(change, AddField | ChangeField):
                field_id = change.field.id if isinstance(change, AddField) else change.field
                form = current.form(change.form)
                if change.form == ENROLMENT_FORM:
                    spec = next((f for f in current.enrolment.fields if f.id == field_id), None)
                else:
                    spec = form.field(field_id) if form else None
                if spec is not None:
                    kind = "added" if isinstance(change, AddField) else "changed"
                    rows.append([change.form, field_id, amendment.version, amendment.effective_date.isoformat(), kind,
                                 *_definition(spec), amendment.summary])
            elif isinstance(change, DropField):
                why = f"{amendment.summary} {change.reason}" if change.reason else amendment.summary
                rows.append([change.form, change.field, amendment.version, amendment.effective_date.isoformat(),
                             "dropped",
                             *[None] * 10, why])
    return Table(COLUMNS, rows)

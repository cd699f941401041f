"""``analysis.csv``: one row per randomized patient, the wide layout ``equipoise analyze --data`` reads.

Columns, in order:

- ``patient_id`` (P-000001), ``site``, ``arm`` (arm id, or ``masked`` in a blinded export), ``randomised_on``
  (the site's local date of randomization), ``protocol_version`` (the version in force at randomization);
- each randomization factor that is not the site, named by its id, with the level **as randomized** (frozen;
  a later correction of the enrolment value shows in patients.csv and as a discrepancy, never here);
- every enrolment field not already a column, named by its id (covariates such as ``age``);
- each outcome with a ``source`` (form.field): binary, ordinal and continuous outcomes as a column named by
  the outcome id (booleans as 1/0), read from the source form at the visit on the outcome's day (else the
  latest visit before it); time-to-event outcomes as the date fields of the source form at that visit,
  named by field id (e.g. ``discharge_date`` and ``death_date``), and as ``<id>_time`` and ``<id>_status``
  (days from randomization; 1 event, 2 death first when the outcome has competing events, 0 censored at the
  outcome's day: ``equipoise.analyze.events.event_time``, the rule the analysis applies to the dates);
- an ordinal outcome named ``<name>_day<d>`` (``who_day28``) also at the other visits of its source form, as
  ``<name>_day<visit day>`` (``who_day0``, ``who_day7``, ...: the report's bars by day).

A form not saved, or marked not done, leaves its cells empty (missing, not zero): in particular a patient whose
outcome form is not in yet has no ``<id>_time`` and ``<id>_status``, rather than being counted as followed to
the outcome's day without an event.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from equipoise.analyze.events import event_time
from equipoise.exports.dataset import Dataset
from equipoise.exports.table import ColumnType, Table, TableColumn, choices_text
from equipoise.protocol import FieldType, OutcomeType, Protocol
from equipoise.protocol.randomization import SITE_FIELD
from equipoise.services.schedule import outcome_visit
from equipoise.store.models import patient_code

BASE = ("patient_id", "site", "arm", "randomised_on", "protocol_version")


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str
    origin: str  # base | part | factor | enrolment | form | time | status
    key: str  # base column, part id, factor id, enrolment field, or form field id (time, status: the event's date)
    form_id: str | None = None
    visit_id: str | None = None
    as_01: bool = False
    competing: str | None = None  # time, status: the date field of the competing event (death)
    horizon: int = 0  # time, status: the outcome's day
    type: ColumnType = ColumnType.TEXT  # how Parquet stores it: the source field's type; 1/0, status: integer
    unit: str | None = None
    choices: str | None = None  # "value=label|..." of a choice or ordinal source field


def columns(protocol: Protocol) -> list[Column]:
    cols = [Column("patient_id", "Patient code", "text", "base", "patient_id"),
            Column("site", "Site id", "text", "base", "site"),
            Column("arm", "Arm id (masked in a blinded export)", "choice", "base", "arm"),
            Column("randomised_on", "Date of randomization (site's local date)", "date", "base", "randomised_on",
                   type=ColumnType.DATE),
            Column("protocol_version", "Protocol version in force at randomization", "text", "base",
                   "protocol_version")]
    taken = set(BASE)
    for part in protocol.further_randomizations:  # factorial parts and re-randomizations: open label
        cols.append(Column(f"arm_{part.id}", f"Arm of {part.name} (empty: not randomized in it)", "choice", "part",
                           part.id))
        taken.add(f"arm_{part.id}")
    for factor in protocol.randomization.factors if protocol.randomization else []:
        if factor.field == SITE_FIELD or factor.id in taken:
            continue
        cols.append(Column(factor.id, f"Randomization factor {factor.id} as randomized (from {factor.field})",
                           "choice", "factor", factor.id))
        taken.add(factor.id)
    for spec in protocol.enrolment.fields:
        if spec.id not in taken:
            cols.append(Column(spec.id, spec.label, spec.type.value, "enrolment", spec.id,
                               type=ColumnType.of_field(spec.type), unit=spec.unit,
                               choices=choices_text(spec) or None))
            taken.add(spec.id)
    for outcome in protocol.outcomes:
        if outcome.source is None:
            continue
        form_id, field_id = outcome.source.split(".", 1)
        form = protocol.form(form_id)
        source = form.field(field_id) if form else None
        if form is None or source is None:
            continue
        spec = source
        visit = outcome_visit(protocol, form, outcome.day)
        if outcome.type is OutcomeType.TIME_TO_EVENT:
            dates = [spec, *(f for f in form.fields if f.type is FieldType.DATE and f.id != spec.id)]
            for date in dates:
                if date.type is FieldType.DATE and date.id not in taken:
                    cols.append(Column(date.id, f"{date.label} ({form_id} at {visit}; for {outcome.id})", "date",
                                       "form", date.id, form_id, visit, type=ColumnType.DATE))
                    taken.add(date.id)
            # the analysis takes death as the competing event from a date field named death_date
            death = "death_date" if outcome.competing_events and form.field("death_date") else None
            for suffix, kind, label in (("time", "number", f"days from randomization to {outcome.event or 'the event'}"
                                         f" or censoring at day {outcome.day}"),
                                        ("status", "integer", "1 event, 2 competing event (death) first, 0 censored"
                                         if death else "1 event, 0 censored")):
                name = f"{outcome.id}_{suffix}"
                if name not in taken:
                    cols.append(Column(name, f"{outcome.name}: {label} ({outcome.source} at {visit})", kind, suffix,
                                       field_id, form_id, visit, competing=death, horizon=outcome.day,
                                       type=ColumnType.NUMBER if suffix == "time" else ColumnType.INTEGER,
                                       unit="days" if suffix == "time" else None))
                    taken.add(name)
        elif outcome.id not in taken:
            as_01 = spec.type is FieldType.BOOLEAN
            kind = "binary" if as_01 else outcome.type.value
            stored = ColumnType.INTEGER if as_01 else ColumnType.of_field(spec.type)
            column = Column(outcome.id, f"{outcome.name} ({outcome.source} at {visit})", kind, "form", field_id,
                            form_id, visit, as_01, type=stored, unit=spec.unit,
                            choices=None if as_01 else choices_text(spec) or None)
            by_day = re.match(r"^(.+)_day\d+$", outcome.id)
            if outcome.type is not OutcomeType.ORDINAL or by_day is None:
                cols.append(column)
                taken.add(outcome.id)
                continue
            days = {v.id: v.day for v in protocol.visits}
            for other in sorted(form.visits, key=lambda v: days.get(v, 0)):  # every visit in day order
                name = f"{by_day.group(1)}_day{days.get(other, 0)}"
                if other == visit:
                    cols.append(column)
                    taken.add(outcome.id)
                elif name not in taken:
                    cols.append(Column(name, f"{spec.label} at visit {other} ({outcome.source})", kind, "form",
                                       field_id, form_id, other, type=stored, unit=spec.unit,
                                       choices=choices_text(spec) or None))
                    taken.add(name)
    return cols


def analysis_columns(protocol: Protocol) -> list[tuple[str, str, str]]:
    return [(c.name, c.label, c.kind) for c in columns(protocol)]


def analysis_table(data: Dataset) -> Table:
    """The file's columns, typed and labelled, and one row per randomized patient."""
    cols = columns(data.protocol)
    header = tuple(TableColumn(c.name, c.type, c.label, c.unit, c.choices) for c in cols)
    return Table(header, analysis_rows(data, cols))


def analysis_rows(data: Dataset, cols: list[Column]) -> list[list[Any]]:
    records = {(r.patient_id, r.form_id, r.visit_id): r for r in data.records}
    rows: list[list[Any]] = []
    for patient in data.patients:
        allocation = data.allocations.get(patient.id)
        if allocation is None:
            continue
        base = {"patient_id": patient_code(patient.id), "site": patient.site_id, "arm": allocation.arm,
                "randomised_on": allocation.allocation_date.isoformat(),
                "protocol_version": allocation.protocol_version}
        row: list[Any] = []
        for c in cols:
            if c.origin == "base":
                row.append(base[c.key])
            elif c.origin == "part":
                row.append(data.part_arms.get((patient.id, c.key)))
            elif c.origin == "factor":
                row.append(allocation.factors.get(c.key))
            elif c.origin == "enrolment":
                row.append(patient.enrolment_values.get(c.key))
            else:
                record = records.get((patient.id, c.form_id or "", c.visit_id or ""))
                values = record.field_values if record is not None and record.status != "not-done" else None
                if c.origin in ("time", "status"):
                    row.append(_time_or_status(c, values, allocation.allocation_date))
                    continue
                value = values.get(c.key) if values is not None else None
                if c.as_01 and isinstance(value, bool):
                    value = int(value)
                row.append(value)
        rows.append(row)
    return rows


def _time_or_status(c: Column, values: dict[str, Any] | None, start: dt.date) -> float | int | None:
    """Time or status of a time-to-event outcome, when its source form is in (else missing)."""
    if values is None:
        return None

    def date(field: str | None) -> dt.date | None:
        text = values.get(field) if field else None
        return dt.date.fromisoformat(text) if isinstance(text, str) and text else None

    event = date(c.key)
    if event is not None and event < start:
        return None  # an event before randomization is a data error: leave it to the queries, not to the analysis
    time, status = event_time(start, event, date(c.competing), float(c.horizon))
    return time if c.origin == "time" else status

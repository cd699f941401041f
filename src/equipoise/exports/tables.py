"""The tables of an export: one per form, patients, allocations, queries, signatures, audit trail, dictionary.

Each table is made once, with typed columns (``table.Table``), and written as CSV here or as Parquet by
``parquet.py``. CSV layout (UTF-8, comma-separated, header row, one row per record, ``\\n`` line ends): empty
cell = no value; booleans ``true``/``false``; dates ``YYYY-MM-DD``; timestamps ISO 8601 UTC with ``Z``; patients
are identified by their code (``P-000001``) in the column ``patient_id`` of every file, so files join on it.
Arms are the protocol's arm ids, or ``masked`` in a blinded export.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import partial
from typing import Any

from equipoise.exports.analysis import analysis_columns, analysis_table
from equipoise.exports.dataset import Dataset, every_arm
from equipoise.exports.field_versions import field_versions_table
from equipoise.exports.system_columns import REFERENCE_FILES, system_label
from equipoise.exports.table import ColumnType, Table, TableColumn, choices_text, columns
from equipoise.protocol import DataField, Protocol
from equipoise.services.item_history import item_changes
from equipoise.services.trials import protocol_of
from equipoise.store.models import patient_code
from equipoise.store.types import iso

INT, NUM, TEXT, BOOL, DATE, TIME = (ColumnType.INTEGER, ColumnType.NUMBER, ColumnType.TEXT, ColumnType.BOOLEAN,
                                    ColumnType.DATE, ColumnType.DATETIME)


def form_table_name(form_id: str) -> str:
    return f"form_{form_id}"


def form_file(form_id: str) -> str:
    return f"{form_table_name(form_id)}.csv"


def part_table_name(part_id: str) -> str:
    return f"randomization_{part_id}"


def part_file(part_id: str) -> str:
    return f"{part_table_name(part_id)}.csv"


def factor_ids(protocol: Protocol) -> list[str]:
    return [f.id for f in protocol.randomization.factors] if protocol.randomization else []


def _factor_columns(factor_ids: list[str]) -> list[TableColumn]:
    return [TableColumn.of(f"factor_{f}", TEXT, f"Randomization factor {f} as randomized") for f in factor_ids]


def patients_table(data: Dataset) -> Table:
    fields = data.protocol.enrolment.fields
    cols = columns(("patient_id", TEXT), ("patient_number", INT), ("site", TEXT), ("status", TEXT),
                   ("enrolment_date", DATE), ("enrolled_at", TIME), ("protocol_version", TEXT), ("locked", BOOL),
                   *(TableColumn.of_field(f) for f in fields))
    rows = [[p.code, p.id, p.site_id, p.status, p.enrolment_date.isoformat(), iso(p.enrolled_at), p.protocol_version,
             p.id in data.locked_patients, *(p.enrolment_values.get(f.id) for f in fields)] for p in data.patients]
    return Table(cols, rows)


def allocations_table(data: Dataset) -> Table:
    factors = factor_ids(data.protocol)
    cols = columns(("patient_id", TEXT), ("site", TEXT), ("randomised_on", DATE), ("randomized_at", TIME),
                   ("protocol_version", TEXT), ("kit_code", TEXT), ("arm", TEXT), ("randomized_offline", BOOL),
                   ("flags", TEXT), *_factor_columns(factors))
    site_of = data.site_of
    rows = [[patient_code(a.patient_id), site_of[a.patient_id], a.allocation_date.isoformat(), iso(a.randomized_at),
             a.protocol_version, a.kit_code, a.arm, a.offline, "|".join(a.flags),
             *(a.factors.get(f) for f in factors)]
            for a in sorted(data.allocations.values(), key=lambda a: a.patient_id)]
    return Table(cols, rows)


def part_table(data: Dataset, part_id: str) -> Table:
    """One further randomization: who, when, the kit (a blinded part), the arm (masked like the main arm in a
    blinded part), the factors and the part's fields as entered."""
    part = data.protocol.further_randomization(part_id)
    assert part is not None
    factors = [f.id for f in part.randomization.factors]
    shown = "masked in a blinded export" if part.blinding.is_blinded else "open label"
    cols = columns(("patient_id", TEXT), ("site", TEXT), ("randomised_on", DATE), ("randomized_at", TIME),
                   ("protocol_version", TEXT), TableColumn.of("kit_code", TEXT, f"Kit code of {part.name} (a blinded "
                                                              "part; empty when open label)"),
                   TableColumn.of("arm", TEXT, f"Arm of {part.name} ({shown})"),
                   *_factor_columns(factors), *(TableColumn.of_field(f) for f in part.fields))
    site_of = data.site_of
    rows = [[patient_code(a.patient_id), site_of[a.patient_id], a.allocation_date.isoformat(), iso(a.allocated_at),
             a.protocol_version, a.kit_code, data.part_arm(a), *(a.factors.get(f) for f in factors),
             *(a.part_values.get(f.id) for f in part.fields)]
            for a in data.part_allocations if a.part_id == part_id]
    return Table(cols, rows)


def form_table(data: Dataset, form_id: str) -> Table:
    form = data.form(form_id)
    assert form is not None
    days = {v.id: v.day for v in data.protocol.visits}
    order = {v: i for i, v in enumerate(form.visits)}
    signed: dict[int, list[str]] = {}
    for sig, view in data.signatures:
        if sig.form_record_id is not None and view.status == "valid":
            signed.setdefault(sig.form_record_id, []).append(sig.meaning)
    # A repeating form's file has one row per record: (patient_id, visit, instance) is its key.
    number = [("instance", INT)] if form.repeating else []
    cols = columns(("patient_id", TEXT), ("site", TEXT), ("visit", TEXT), ("visit_day", INT), *number,
                   ("status", TEXT), ("not_done_reason", TEXT), ("version", INT), ("protocol_version", TEXT),
                   ("saved_at", TIME), ("saved_by", TEXT), ("locked", BOOL), ("signed", TEXT),
                   *(TableColumn.of_field(f) for f in form.fields))
    site_of = data.site_of
    records = sorted((r for r in data.records if r.form_id == form_id),
                     key=lambda r: (r.patient_id, order.get(r.visit_id, 99), r.instance))
    rows = [[patient_code(r.patient_id), site_of[r.patient_id], r.visit_id, days.get(r.visit_id),
             *([r.instance] if form.repeating else []), r.status, r.not_done_reason, r.version, r.protocol_version,
             iso(r.updated_at), data.username(r.updated_by), r.locked_at is not None, ";".join(signed.get(r.id, [])),
             *(r.field_values.get(f.id) for f in form.fields)]
            for r in records]
    return Table(cols, rows)


def queries_table(data: Dataset) -> Table:
    cols = columns(("query_id", INT), ("patient_id", TEXT), ("site", TEXT), ("form", TEXT), ("visit", TEXT),
                   ("instance", INT), ("field", TEXT), ("status", TEXT), ("raised_at", TIME), ("raised_by", TEXT),
                   ("question", TEXT), ("answer", TEXT), ("answered_at", TIME), ("answered_by", TEXT),
                   ("closed_at", TIME), ("closed_by", TEXT), ("messages", INT))
    site_of = data.site_of
    rows = []
    for q in data.queries:
        messages = list(q.messages)
        answers = [m for m in messages if m.get("kind") == "answered"]
        closes = [m for m in messages if m.get("kind") == "closed"]
        last_answer = answers[-1] if answers else {}
        closed = closes[-1] if closes and q.status == "closed" else {}
        rows.append([q.id, patient_code(q.patient_id), site_of[q.patient_id], q.form_id, q.visit_id, q.instance,
                     q.field_id,
                     q.status, iso(q.raised_at), messages[0].get("by") if messages else None,
                     messages[0].get("text") if messages else None, last_answer.get("text"), last_answer.get("at"),
                     last_answer.get("by"), closed.get("at"), closed.get("by"), len(messages)])
    return Table(cols, rows)


def signatures_table(data: Dataset) -> Table:
    cols = columns(("signature_id", INT), ("patient_id", TEXT), ("site", TEXT), ("scope", TEXT), ("form", TEXT),
                   ("visit", TEXT), ("instance", INT), ("printed_name", TEXT), ("username", TEXT),
                   ("signed_at", TIME), ("meaning", TEXT), ("statement", TEXT), ("status", TEXT),
                   ("invalidation", TEXT), ("content_sha256", TEXT))
    site_of = data.site_of
    rows = [[sig.id, view.patient_code, site_of[sig.patient_id], view.scope, view.form_id, view.visit_id,
             view.instance, view.printed_name, view.username, view.signed_at, view.meaning, view.statement,
             view.status, view.invalidation, view.content_sha256] for sig, view in data.signatures]
    return Table(cols, rows)


def off_study_table(data: Dataset) -> Table:
    """Patients who left the study early: kind, the site's date, the reason, who recorded it and when."""
    cols = columns(("patient_id", TEXT), ("site", TEXT), ("kind", TEXT), ("effective_date", DATE), ("reason", TEXT),
                   ("recorded_by", TEXT), ("recorded_at", TIME))
    site_of = data.site_of
    rows = [[patient_code(o.patient_id), site_of[o.patient_id], o.kind, o.effective_date.isoformat(), o.reason,
             data.username(o.recorded_by), iso(o.recorded_at)] for o in data.off_study]
    return Table(cols, rows)


def screening_table(data: Dataset) -> Table:
    """The screening log: every enrolment refused on eligibility (the audit trail's ``enrolment.refused``
    entries), with the site, the site's date and the criteria not met, in the layout the reports read. Nothing
    about the person is kept: a refused enrolment stores no values."""
    texts = {c.id: c.text for c in data.protocol.eligibility}
    cols = columns(("screening_id", TEXT), ("site", TEXT), ("screened_on", DATE), ("failed", TEXT), ("reason", TEXT))
    rows = []
    for number, entry in enumerate(data.refusals, start=1):
        details = entry.new_values or {}
        failed = [str(c) for c in details.get("failed", [])]
        missing = [str(c) for c in details.get("missing", [])]
        reason = "; ".join([texts.get(c, c) for c in failed] + [f"{texts.get(c, c)} (not recorded)" for c in missing])
        rows.append([f"S-{number:06d}", details.get("site_id"), details.get("date") or str(entry.at)[:10],
                     ";".join(failed + missing), reason])
    return Table(cols, rows)


def audit_table(data: Dataset) -> Table:
    """Every change of form values and enrolment values, one row per field: who, when, old, new, why, where.
    Old and new values are text as the CSV writes them, since one column holds the values of every field."""
    cols = columns(("entry_id", INT), ("at", TIME), ("user", TEXT), ("action", TEXT), ("patient_id", TEXT),
                   ("site", TEXT), ("form", TEXT), ("visit", TEXT), ("instance", INT), ("field", TEXT),
                   ("old_value", TEXT), ("new_value", TEXT), ("reason", TEXT), ("source", TEXT))
    records = {r.id: r for r in data.records}
    site_of = data.site_of
    rows = []
    for entry in data.audit:
        if entry.table_name == "form_records":
            record = records[int(entry.record_id or 0)]
            pid, form, visit, instance = record.patient_id, record.form_id, record.visit_id, record.instance
            changes = item_changes(entry, "field_values")
        else:
            pid, form, visit, instance = int(entry.record_id or 0), "enrolment", "enrolment", 1
            changes = item_changes(entry, "enrolment_values")
        for c in changes:
            rows.append([c["entry_id"], c["at"], c["user"], c["action"], patient_code(pid), site_of[pid], form, visit,
                         instance, c["field"], c["old"], c["new"], c["reason"], c["source"]])
    return Table(cols, rows)


def _field_row(form: str, form_name: str, visits: str, spec: DataField, file: str) -> list[Any]:
    low, high = spec.range if spec.range is not None else (None, None)
    scale = spec.resolved_scale
    return [file, spec.id, form, form_name, visits, spec.id, spec.label, spec.type.value, spec.unit, low, high,
            choices_text(spec), spec.required, spec.not_before, scale.id if scale else None,
            spec.asked_if.expression() if spec.asked_if else None]


DICTIONARY_COLUMNS = columns(("file", TEXT), ("column", TEXT), ("form", TEXT), ("form_name", TEXT), ("visits", TEXT),
                             ("field", TEXT), ("label", TEXT), ("type", TEXT), ("unit", TEXT), ("range_low", NUM),
                             ("range_high", NUM), ("choices", TEXT), ("required", BOOL), ("not_before", TEXT),
                             ("scale", TEXT), ("asked_if", TEXT))


def dictionary_table(data: Dataset, tables: dict[str, Table]) -> Table:
    """Every column of every data file of ``tables``: file, column, form, visits, field, label, type, unit, range,
    choices, required... The protocol's fields are described by the protocol; the system columns the server
    writes beside them (keys, status, versions, who and when) by their labels (``system_columns``), so that no
    column of the export goes unexplained."""
    described = _described_columns(data)
    rows: list[list[Any]] = []
    for name, table in tables.items():
        if name in REFERENCE_FILES:
            continue
        file = f"{name}.csv"
        for column in table.columns:
            row = described.pop((file, column.name), None)
            rows.append(row if row is not None else _system_row(data, name, column))
    rows += described.values()  # nothing should be left; kept rather than lost if a file is not in ``tables``
    width = len(DICTIONARY_COLUMNS)
    return Table(DICTIONARY_COLUMNS, [row + [None] * (width - len(row)) for row in rows])


def _system_row(data: Dataset, table_name: str, column: TableColumn) -> list[Any]:
    """A column the server writes (not a protocol field): what it is and its type."""
    form = data.form(table_name.removeprefix("form_")) if table_name.startswith("form_") else None
    label = system_label(table_name, column.name) or column.label or column.name
    visits = "|".join(form.visits) if form is not None else ""
    return [f"{table_name}.csv", column.name, form.id if form else table_name,
            form.name if form else table_name.replace("_", " ").capitalize(), visits, column.name, label,
            column.type.value, None, None, None, column.choices or "", None, None, None]


def _described_columns(data: Dataset) -> dict[tuple[str, str], list[Any]]:
    """The columns described from the protocol (fields, factors, arms) and by hand, by (file, column)."""
    protocol = data.protocol
    rows: list[list[Any]] = [_field_row("enrolment", "Enrolment", "", f, "patients.csv")
                             for f in protocol.enrolment.fields]
    arms = "|".join(f"{a.id}={a.name}" for a in every_arm(protocol))
    rows.append(["allocations.csv", "randomised_on", "randomization", "Randomization", "", "randomised_on",
                 "Date of randomization (site's local date)", "date", None, None, None, "", True, None, None])
    rows.append(["allocations.csv", "kit_code", "randomization", "Randomization", "", "kit_code",
                 "Kit code (blinded trials)", "text", None, None, None, "", False, None, None])
    rows.append(["allocations.csv", "arm", "randomization", "Randomization", "", "arm",
                 "Arm (masked in a blinded export)", "choice", None, None, None, arms, True, None, None])
    rows.append(["allocations.csv", "randomized_offline", "randomization", "Randomization", "", "randomized_offline",
                 "Allocated from an emergency envelope while the server was down, entered afterwards", "boolean",
                 None, None, None, "", True, None, None])
    rows.append(["allocations.csv", "flags", "randomization", "Randomization", "", "flags",
                 "Flags that stand on the allocation, '|'-separated (it is never changed: intention to treat)",
                 "text", None, None, None, "", False, None, None])
    enrolment = {f.id: f for f in protocol.enrolment.fields}
    for factor in protocol.randomization.factors if protocol.randomization else []:
        source = enrolment.get(factor.field)
        levels = factor.level_names(source.choice_values if source and source.choices else None)
        rows.append(["allocations.csv", f"factor_{factor.id}", "randomization", "Randomization", "",
                     f"factor_{factor.id}", f"Randomization factor {factor.id} as randomized (from {factor.field})",
                     "choice", None, None, None, "|".join(levels), True, None, None])
    for part in protocol.further_randomizations:
        file, arms = part_file(part.id), "|".join(f"{a.id}={a.name}" for a in part.arms)
        shown = "masked in a blinded export" if part.blinding.is_blinded else "open label"
        for column, label, kind, choices in (
                ("randomised_on", "Date of this randomization (site's local date)", "date", ""),
                ("kit_code", f"Kit code of {part.name} (a blinded part; empty when open label)", "text", ""),
                ("arm", f"Arm of {part.name} ({shown})", "choice", arms)):
            rows.append([file, column, part.id, part.name, "", column, label, kind, None, None, None, choices, True,
                         None, None])
        rows += [[file, f"factor_{factor.id}", part.id, part.name, "", f"factor_{factor.id}",
                  f"Randomization factor {factor.id} as randomized (from {factor.field})", "choice", None, None,
                  None, "", True, None, None] for factor in part.randomization.factors]
        rows += [_field_row(part.id, part.name, "", f, file) for f in part.fields]
    for form in protocol.forms:
        visits = "|".join(form.visits)
        if form.repeating:
            rows.append([form_file(form.id), "instance", form.id, form.name, visits, "instance",
                         "Record number at the visit (a repeating form: 1, 2, ...)", "integer", None, 1, None, "",
                         True, None, None])
        rows += [_field_row(form.id, form.name, visits, f, form_file(form.id)) for f in form.fields]
    for column, label, kind in (("screening_id", "Screening number (enrolments refused on eligibility)", "text"),
                                ("site", "Site id", "text"),
                                ("screened_on", "Date of the refusal (site's date)", "date"),
                                ("failed", "Criteria not met (ids, ';'-separated)", "text"),
                                ("reason", "Criteria not met, as the coordinator read them", "text")):
        rows.append(["screening_log.csv", column, "screening", "Screening log", "", column, label, kind, None, None,
                     None, "", column != "failed", None, None])
    for column, label, kind in (("patient_id", "Patient code", "text"), ("site", "Site id", "text"),
                                ("kind", "withdrew-consent, lost-to-follow-up, investigator-decision or died", "text"),
                                ("effective_date", "Site's date from which no visit is expected", "date"),
                                ("reason", "Why, as the site recorded it", "text"),
                                ("recorded_by", "User who recorded it", "text"),
                                ("recorded_at", "When it was recorded (UTC)", "datetime")):
        rows.append(["off_study.csv", column, "off_study", "Off study", "", column, label, kind, None, None, None,
                     "", True, None, None])
    for column, label, kind in analysis_columns(protocol):
        rows.append(["analysis.csv", column, "analysis", "Analysis file", "", column, label, kind, None, None, None,
                     "", False, None, None])
    return {(row[0], row[1]): row for row in rows}


def export_tables(data: Dataset, only: Collection[str] | None = None, extra: dict[str, Table] | None = None
                  ) -> dict[str, Table]:
    """Every table of the export by name (the file name without its extension), in the order of the files;
    with ``only``, just those tables (the others are not made); ``extra``: tables made elsewhere (the whole audit
    log), added last and described in the dictionary too."""
    makers: dict[str, Callable[[], Table]] = {
        "patients": lambda: patients_table(data), "allocations": lambda: allocations_table(data)}
    for part in data.protocol.further_randomizations:
        makers[part_table_name(part.id)] = partial(part_table, data, part.id)
    for form in data.protocol.forms:
        makers[form_table_name(form.id)] = partial(form_table, data, form.id)
    makers.update({
        "screening_log": lambda: screening_table(data), "off_study": lambda: off_study_table(data),
        "queries": lambda: queries_table(data), "signatures": lambda: signatures_table(data),
        "audit_trail": lambda: audit_table(data),
        "field_versions": lambda: field_versions_table(protocol_of(data.trial)),
        "analysis": lambda: analysis_table(data)})
    # the dictionary comes first among the files but describes every other table, so it is made last
    tables: dict[str, Table] = {"data_dictionary": Table(DICTIONARY_COLUMNS, [])}
    tables.update({name: make() for name, make in makers.items() if only is None or name in only})
    tables.update(extra or {})
    if only is None or "data_dictionary" in only:
        tables["data_dictionary"] = dictionary_table(data, tables)
    else:
        del tables["data_dictionary"]
    return tables

"""The CSV files of an export: one per form, patients, allocations, queries, signatures, audit trail, dictionary.

Layout (UTF-8, comma-separated, header row, one row per record, ``\\n`` line ends): empty cell = no value;
booleans ``true``/``false``; dates ``YYYY-MM-DD``; timestamps ISO 8601 UTC with ``Z``; patients are identified
by their code (``P-000001``) in the column ``patient_id`` of every file, so files join on it. Arms are the
protocol's arm ids, or ``masked`` in a blinded export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from equipoise.protocol import DataField, FieldType, Protocol
from equipoise.store.exports.analysis import analysis_columns, analysis_rows
from equipoise.store.exports.dataset import Dataset, every_arm
from equipoise.store.exports.field_versions import field_versions_rows
from equipoise.store.item_history import item_changes
from equipoise.store.models import patient_code
from equipoise.store.trials import protocol_of
from equipoise.store.types import iso


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def form_file(form_id: str) -> str:
    return f"form_{form_id}.csv"


def factor_ids(protocol: Protocol) -> list[str]:
    return [f.id for f in protocol.randomization.factors] if protocol.randomization else []


def patients_table(data: Dataset) -> str:
    fields = [f.id for f in data.protocol.enrolment.fields]
    header = ["patient_id", "patient_number", "site", "status", "enrolment_date", "enrolled_at", "protocol_version",
              "locked", *fields]
    rows = ([p.code, p.id, p.site_id, p.status, p.enrolment_date.isoformat(), iso(p.enrolled_at), p.protocol_version,
             p.id in data.locked_patients, *(p.enrolment_values.get(f) for f in fields)] for p in data.patients)
    return csv_text(header, rows)


def allocations_table(data: Dataset) -> str:
    factors = factor_ids(data.protocol)
    header = ["patient_id", "site", "randomised_on", "randomized_at", "protocol_version", "kit_code", "arm",
              "randomized_offline", "flags", *(f"factor_{f}" for f in factors)]
    site_of = data.site_of
    rows = ([patient_code(a.patient_id), site_of[a.patient_id], a.allocation_date.isoformat(), iso(a.randomized_at),
             a.protocol_version, a.kit_code, a.arm, a.offline, "|".join(a.flags),
             *(a.factors.get(f) for f in factors)]
            for a in sorted(data.allocations.values(), key=lambda a: a.patient_id))
    return csv_text(header, rows)


def part_file(part_id: str) -> str:
    return f"randomization_{part_id}.csv"


def part_table(data: Dataset, part_id: str) -> str:
    """One further randomization: who, when, the kit (a blinded part), the arm (masked like the main arm in a
    blinded part), the factors and the part's fields as entered."""
    part = data.protocol.further_randomization(part_id)
    assert part is not None
    factors = [f.id for f in part.randomization.factors]
    fields = [f.id for f in part.fields]
    header = ["patient_id", "site", "randomised_on", "randomized_at", "protocol_version", "kit_code", "arm",
              *(f"factor_{f}" for f in factors), *fields]
    site_of = data.site_of
    rows = ([patient_code(a.patient_id), site_of[a.patient_id], a.allocation_date.isoformat(), iso(a.allocated_at),
             a.protocol_version, a.kit_code, data.part_arm(a), *(a.factors.get(f) for f in factors),
             *(a.part_values.get(f) for f in fields)]
            for a in data.part_allocations if a.part_id == part_id)
    return csv_text(header, rows)


def form_table(data: Dataset, form_id: str) -> str:
    form = data.form(form_id)
    assert form is not None
    days = {v.id: v.day for v in data.protocol.visits}
    order = {v: i for i, v in enumerate(form.visits)}
    signed: dict[int, list[str]] = {}
    for sig, view in data.signatures:
        if sig.form_record_id is not None and view.status == "valid":
            signed.setdefault(sig.form_record_id, []).append(sig.meaning)
    # A repeating form's file has one row per record: (patient_id, visit, instance) is its key.
    number = ["instance"] if form.repeating else []
    header = ["patient_id", "site", "visit", "visit_day", *number, "status", "not_done_reason", "version",
              "protocol_version", "saved_at", "saved_by", "locked", "signed", *(f.id for f in form.fields)]
    site_of = data.site_of
    records = sorted((r for r in data.records if r.form_id == form_id),
                     key=lambda r: (r.patient_id, order.get(r.visit_id, 99), r.instance))
    rows = ([patient_code(r.patient_id), site_of[r.patient_id], r.visit_id, days.get(r.visit_id),
             *([r.instance] if form.repeating else []), r.status, r.not_done_reason, r.version, r.protocol_version,
             iso(r.updated_at), data.username(r.updated_by), r.locked_at is not None, ";".join(signed.get(r.id, [])),
             *(r.field_values.get(f.id) for f in form.fields)]
            for r in records)
    return csv_text(header, rows)


def queries_table(data: Dataset) -> str:
    header = ["query_id", "patient_id", "site", "form", "visit", "instance", "field", "status", "raised_at",
              "raised_by", "question", "answer", "answered_at", "answered_by", "closed_at", "closed_by", "messages"]
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
    return csv_text(header, rows)


def signatures_table(data: Dataset) -> str:
    header = ["signature_id", "patient_id", "site", "scope", "form", "visit", "instance", "printed_name", "username",
              "signed_at", "meaning", "statement", "status", "invalidation", "content_sha256"]
    site_of = data.site_of
    rows = ([sig.id, view.patient_code, site_of[sig.patient_id], view.scope, view.form_id, view.visit_id,
             view.instance, view.printed_name, view.username, view.signed_at, view.meaning, view.statement, view.status,
             view.invalidation, view.content_sha256] for sig, view in data.signatures)
    return csv_text(header, rows)


def off_study_table(data: Dataset) -> str:
    """Patients who left the study early: kind, the site's date, the reason, who recorded it and when."""
    header = ["patient_id", "site", "kind", "effective_date", "reason", "recorded_by", "recorded_at"]
    site_of = data.site_of
    rows = ([patient_code(o.patient_id), site_of[o.patient_id], o.kind, o.effective_date.isoformat(), o.reason,
             data.username(o.recorded_by), iso(o.recorded_at)] for o in data.off_study)
    return csv_text(header, rows)


def screening_table(data: Dataset) -> str:
    """The screening log: every enrolment refused on eligibility (the audit trail's ``enrolment.refused``
    entries), with the site, the site's date and the criteria not met, in the layout the reports read. Nothing
    about the person is kept: a refused enrolment stores no values."""
    texts = {c.id: c.text for c in data.protocol.eligibility}
    header = ["screening_id", "site", "screened_on", "failed", "reason"]
    rows = []
    for number, entry in enumerate(data.refusals, start=1):
        details = entry.new_values or {}
        failed = [str(c) for c in details.get("failed", [])]
        missing = [str(c) for c in details.get("missing", [])]
        reason = "; ".join([texts.get(c, c) for c in failed] + [f"{texts.get(c, c)} (not recorded)" for c in missing])
        rows.append([f"S-{number:06d}", details.get("site_id"), details.get("date") or str(entry.at)[:10],
                     ";".join(failed + missing), reason])
    return csv_text(header, rows)


def audit_table(data: Dataset) -> str:
    """Every change of form values and enrolment values, one row per field: who, when, old, new, why, where."""
    header = ["entry_id", "at", "user", "action", "patient_id", "site", "form", "visit", "instance", "field",
              "old_value", "new_value", "reason", "source"]
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
    return csv_text(header, rows)


def _choices(spec: DataField) -> str:
    if spec.type is FieldType.ORDINAL:
        scale = spec.resolved_scale
        return "|".join(f"{lv.value}={lv.label}" for lv in scale.levels) if scale else ""
    if spec.choices:
        return "|".join(c if isinstance(c, str) else f"{c.value}={c.label}" for c in spec.choices)
    return ""


def _field_row(form: str, form_name: str, visits: str, spec: DataField, file: str) -> list[Any]:
    low, high = spec.range if spec.range is not None else (None, None)
    scale = spec.resolved_scale
    return [file, spec.id, form, form_name, visits, spec.id, spec.label, spec.type.value, spec.unit, low, high,
            _choices(spec), spec.required, spec.not_before, scale.id if scale else None,
            spec.asked_if.expression() if spec.asked_if else None]


def dictionary_table(data: Dataset) -> str:
    """Every data column: file, column, form, visits, field, label, type, unit, range, choices, required..."""
    protocol = data.protocol
    header = ["file", "column", "form", "form_name", "visits", "field", "label", "type", "unit", "range_low",
              "range_high", "choices", "required", "not_before", "scale", "asked_if"]
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
                                ("kind", "withdrew-consent, lost-to-follow-up or investigator-decision", "text"),
                                ("effective_date", "Site's date from which no visit is expected", "date"),
                                ("reason", "Why, as the site recorded it", "text"),
                                ("recorded_by", "User who recorded it", "text"),
                                ("recorded_at", "When it was recorded (UTC)", "datetime")):
        rows.append(["off_study.csv", column, "off_study", "Off study", "", column, label, kind, None, None, None,
                     "", True, None, None])
    for column, label, kind in analysis_columns(protocol):
        rows.append(["analysis.csv", column, "analysis", "Analysis file", "", column, label, kind, None, None, None,
                     "", False, None, None])
    return csv_text(header, (row + [None] * (len(header) - len(row)) for row in rows))


def csv_files(data: Dataset) -> dict[str, str]:
    """Every CSV file of the export, by file name."""
    files = {"data_dictionary.csv": dictionary_table(data), "patients.csv": patients_table(data),
             "allocations.csv": allocations_table(data)}
    for part in data.protocol.further_randomizations:
        files[part_file(part.id)] = part_table(data, part.id)
    for form in data.protocol.forms:
        files[form_file(form.id)] = form_table(data, form.id)
    files["screening_log.csv"] = screening_table(data)
    files["off_study.csv"] = off_study_table(data)
    files["queries.csv"] = queries_table(data)
    files["signatures.csv"] = signatures_table(data)
    files["audit_trail.csv"] = audit_table(data)
    files["field_versions.csv"] = csv_text(*field_versions_rows(protocol_of(data.trial)))
    header, rows = analysis_rows(data)
    files["analysis.csv"] = csv_text(header, rows)
    return files

"""CDISC ODM 1.3.2 XML: the study's metadata, admin data and clinical data with audit records and signatures.

Two files (CDISC ODM 1.3.2 specification, §2.1 and §3.1.4):

- ``odm.xml``, ``FileType="Snapshot"``: the current value of every item. Each ``ItemData`` carries the
  ``AuditRecord`` of its last change (user, site, UTC time, reason, and the audit-trail entry id as
  ``SourceID``); each ``FormData`` carries its latest valid ``Signature`` (user, site, ``SignatureDef`` giving
  the meaning, time).
- ``odm_audit.xml``, ``FileType="Transactional"``: the whole history, one ``ItemData`` per change in trail
  order, with ``TransactionType`` Insert, Update or Remove and its ``AuditRecord``; replaying it gives the
  snapshot (AUD-7; the ODM ``AuditRecord`` is the format 21 CFR 11.10(e) reviewers read).

Metadata: in an amended trial, one ``MetaDataVersion`` per protocol version as it was (``MDV.<version>``, each
site's ``MetaDataVersionRef`` giving its effective date), and the one the clinical data use, with the fields and
codes of every version (``MDV.<current>.every-version``: a record keeps the version it was saved under). In each:
one ``StudyEventDef`` per visit plus ``SE.ENROLMENT``; one ``FormDef`` and ``ItemGroupDef`` per form
plus the enrolment and randomization forms; ``ItemDef`` with data type, question (the label), unit,
``RangeCheck`` (hard, GE low and LE high) and ``CodeList`` (choices, ordinal scale levels). In a blinded
export the randomization form has no arm item data (its kit code only). Each further randomization (RND-6) is
one more form of the enrolment event, ``F.RANDOMIZATION.<part>``, with its date, kit code (a blinded part), arm
(left out like the main arm when a blinded part is masked), factors and the part's own fields.

Well-formed for any stored value (issue 14: a database written before the text policy may hold ``\x01``):
a character XML 1.0 does not allow (its ``Char`` production, W3C XML 1.0 §2.2: the C0 controls but tab, new
line and carriage return, unpaired surrogates, U+FFFE and U+FFFF) is written as U+FFFD, the Unicode
replacement character, in every attribute and text; a carriage return is written as the reference ``&#13;``
(attributes and text alike), so that a parser's end-of-line handling (§2.11) does not turn it into a new line.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from equipoise import __version__
from equipoise.exports.dataset import MASKED, Dataset, every_arm
from equipoise.protocol import DataField, FieldType, Protocol
from equipoise.protocol.further_randomization import FurtherRandomization
from equipoise.services.crf_access import every_site
from equipoise.services.item_history import item_changes
from equipoise.services.signatures import MEANINGS
from equipoise.services.trials import protocol_of
from equipoise.store.models import AuditEntry, patient_code
from equipoise.store.part_models import PartAllocation
from equipoise.store.types import iso

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", NS)

DATA_TYPES = {FieldType.INTEGER: "integer", FieldType.NUMBER: "float", FieldType.TEXT: "text",
              FieldType.CHOICE: "text", FieldType.BOOLEAN: "boolean", FieldType.DATE: "date",
              FieldType.ORDINAL: "integer"}
ENROLMENT, RANDOMIZATION = "ENROLMENT", "RANDOMIZATION"


# What XML 1.0 does not allow in a document (W3C XML 1.0 §2.2, Char).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text) if _NOT_XML.search(text) else text


def el(parent: ET.Element | None, tag: str, attrs: dict[str, Any] | None = None, text: str | None = None) -> ET.Element:
    attributes = {k: xml_safe(str(v)) for k, v in (attrs or {}).items() if v is not None}
    node = ET.Element(f"{{{NS}}}{tag}", attributes) if parent is None else ET.SubElement(
        parent, f"{{{NS}}}{tag}", attributes)
    if text is not None:
        node.text = xml_safe(text)
    return node


def translated(parent: ET.Element, tag: str, text: str) -> None:
    el(el(parent, tag), "TranslatedText", {XML_LANG: "en"}, text)


def condition_oid(form: str, field: str) -> str:
    return f"COND.{form}.{field}"


def form_condition_oid(form: str) -> str:
    return f"COND.{form}"


def item_oid(form: str, field: str) -> str:
    return f"IT.{form}.{field}"


def odm_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def user_oid(username: str) -> str:
    return f"USR.{username}"


def _root(data: Dataset, file_type: str, suffix: str) -> ET.Element:
    stamp = iso(data.exported_at)
    return el(None, "ODM", {
        "FileType": file_type, "FileOID": f"EQP.{data.trial.id}.{suffix}.{stamp}", "CreationDateTime": stamp,
        "ODMVersion": "1.3.2", "Originator": data.exported_by, "SourceSystem": "Equipoise",
        "SourceSystemVersion": __version__, "Granularity": "All" if data.sites is None else None,
        "Description": f"Trial {data.trial.id}; arms {'shown' if data.arms_shown else MASKED}"
                       + (f"; sites {', '.join(data.sites)}" if data.sites is not None else "")})


def study_oid(data: Dataset) -> str:
    return f"ST.{data.trial.id}"


def mdv_oid(data: Dataset) -> str:
    """The clinical data's MetaDataVersion; in an amended trial it holds the fields of every version, and the
    exact versions take the plain ``MDV.<version>`` OIDs."""
    return f"MDV.{data.current_version}" + (".every-version" if data.protocol.amendments else "")


def _item_def(mdv: ET.Element, form: str, spec: DataField, units: dict[str, str], codelists: list[ET.Element]) -> None:
    item = el(mdv, "ItemDef", {"OID": item_oid(form, spec.id), "Name": spec.id, "DataType": DATA_TYPES[spec.type]})
    translated(item, "Question", spec.label)
    if spec.unit:
        el(item, "MeasurementUnitRef", {"MeasurementUnitOID": units[spec.unit]})
    if spec.range is not None and spec.type in (FieldType.INTEGER, FieldType.NUMBER):
        for comparator, bound in (("GE", spec.range[0]), ("LE", spec.range[1])):
            check = el(item, "RangeCheck", {"Comparator": comparator, "SoftHard": "Hard"})
            number = int(bound) if spec.type is FieldType.INTEGER or float(bound).is_integer() else bound
            el(check, "CheckValue", text=str(number))
            translated(check, "ErrorMessage", f"{spec.label}: outside {spec.range[0]:g} to {spec.range[1]:g}"
                       + (f" {spec.unit}" if spec.unit else ""))
    items: list[tuple[str, str]] = []
    data_type = "text"
    if spec.type is FieldType.ORDINAL and spec.resolved_scale is not None:
        items = [(str(lv.value), lv.label) for lv in spec.resolved_scale.levels]
        data_type = "integer"
    elif spec.type is FieldType.CHOICE:
        items = [(c, c) if isinstance(c, str) else (c.value, c.label) for c in spec.choices or []]
    if items:
        oid = f"CL.{form}.{spec.id}"
        el(item, "CodeListRef", {"CodeListOID": oid})
        codelists.append(_codelist(oid, spec.id, data_type, items))


def _codelist(oid: str, name: str, data_type: str, items: Iterable[tuple[str, str]]) -> ET.Element:
    codelist = el(None, "CodeList", {"OID": oid, "Name": name, "DataType": data_type})
    for number, (value, label) in enumerate(items, start=1):
        entry = el(codelist, "CodeListItem", {"CodedValue": value, "OrderNumber": number})
        translated(entry, "Decode", label)
    return codelist


def _randomization_fields(data: Dataset, arms: list[str]) -> list[DataField]:
    fields = [DataField(id="randomised_on", label="Date of randomization", type=FieldType.DATE),
              DataField(id="kit_code", label="Kit code", type=FieldType.TEXT, required=False),
              DataField(id="arm", label="Arm", type=FieldType.CHOICE, choices=arms),
              DataField(id="randomized_offline", label="Allocated from an emergency envelope while the server was "
                        "down", type=FieldType.BOOLEAN),
              DataField(id="flags", label="Flags that stand on the allocation ('|'-separated)", type=FieldType.TEXT,
                        required=False)]
    for factor in data.protocol.randomization.factors if data.protocol.randomization else []:
        fields.append(DataField(id=f"factor_{factor.id}", label=f"Randomization factor {factor.id} (as randomized)",
                                type=FieldType.TEXT))
    return fields


def part_form(part_id: str) -> str:
    return f"{RANDOMIZATION}.{part_id}"


def _part_fields(part: FurtherRandomization) -> list[DataField]:
    blinded = part.blinding.is_blinded
    kit = [DataField(id="kit_code", label=f"Kit code of {part.name}", type=FieldType.TEXT)] if blinded else []
    return [DataField(id="randomised_on", label=f"Date of {part.name}", type=FieldType.DATE), *kit,
            DataField(id="arm", label=f"Arm of {part.name} ({'blinded' if blinded else 'open label'})",
                      type=FieldType.CHOICE, choices=[a.id for a in part.arms]),
            *(DataField(id=f"factor_{f.id}", label=f"Randomization factor {f.id} (as randomized)",
                        type=FieldType.TEXT) for f in part.randomization.factors),
            *part.fields]


def _study(root: ET.Element, data: Dataset) -> None:
    """The study's metadata: one ``MetaDataVersion`` with the fields of every protocol version (the clinical data's),
    and, in an amended trial, one more for each version exactly as it was (ODM 1.3.2 §3.1.1, §3.1.2.2: each
    site's ``MetaDataVersionRef`` gives the version in use from its effective date)."""
    protocol = data.protocol
    study = el(root, "Study", {"OID": study_oid(data)})
    variables = el(study, "GlobalVariables")
    el(variables, "StudyName", text=data.trial.id)
    el(variables, "StudyDescription", text=protocol.trial.title)
    el(variables, "ProtocolName", text=protocol.trial.short_title or protocol.trial.id)
    versions = _exact_versions(data)
    units: dict[str, str] = {}
    for view in [protocol, *(p for _oid, p in versions)]:
        for _form, _name, fields in _forms(data, view):
            for spec in fields:
                if spec.unit and spec.unit not in units:
                    units[spec.unit] = f"MU.{len(units) + 1}"
    if units:
        basic = el(study, "BasicDefinitions")
        for unit, oid in units.items():
            measurement = el(basic, "MeasurementUnit", {"OID": oid, "Name": unit})
            translated(measurement, "Symbol", unit)
    every = " (the fields of every version: the clinical data's)" if versions else ""
    _metadata_version(study, data, protocol, mdv_oid(data), f"Protocol version {data.current_version}{every}",
                      units)
    for oid, view in versions:
        _metadata_version(study, data, view, oid, f"Protocol version {view.trial.version} as in force from "
                          f"{view.trial.effective_date.isoformat()}", units)


def _exact_versions(data: Dataset) -> list[tuple[str, Protocol]]:
    """(MetaDataVersion OID, protocol in force) of each version of an amended trial; none for an unamended one."""
    base = protocol_of(data.trial)
    if not base.amendments:
        return []
    return [(f"MDV.{version}", base.in_force(date)) for version, date in base.versions()]


def _forms(data: Dataset, view: Protocol) -> list[tuple[str, str, list[DataField]]]:
    arms = [a.id for a in every_arm(data.protocol)] if view is data.protocol else [a.id for a in view.arms]
    return [(ENROLMENT, "Enrolment", list(view.enrolment.fields)),
            (RANDOMIZATION, "Randomization", _randomization_fields(data, arms)),
            *((part_form(r.id), r.name, _part_fields(r)) for r in view.further_randomizations),
            *((f.id, f.name, list(f.fields)) for f in view.forms)]


def _metadata_version(study: ET.Element, data: Dataset, protocol: Protocol, oid: str, name: str,
                      units: dict[str, str]) -> None:
    forms = _forms(data, protocol)
    mdv = el(study, "MetaDataVersion", {"OID": oid, "Name": name, "Description": protocol.trial.title})
    visits = sorted(protocol.visits, key=lambda v: v.day)
    plan = el(mdv, "Protocol")
    el(plan, "StudyEventRef", {"StudyEventOID": f"SE.{ENROLMENT}", "OrderNumber": 1, "Mandatory": "Yes"})
    for number, visit in enumerate(visits, start=2):
        el(plan, "StudyEventRef", {"StudyEventOID": f"SE.{visit.id}", "OrderNumber": number, "Mandatory": "Yes"})
    enrolment_event = el(mdv, "StudyEventDef", {"OID": f"SE.{ENROLMENT}", "Name": "Enrolment and randomization",
                                                "Repeating": "No", "Type": "Scheduled"})
    el(enrolment_event, "FormRef", {"FormOID": f"F.{ENROLMENT}", "OrderNumber": 1, "Mandatory": "Yes"})
    el(enrolment_event, "FormRef", {"FormOID": f"F.{RANDOMIZATION}", "OrderNumber": 2, "Mandatory": "No"})
    for number, part in enumerate(protocol.further_randomizations, start=3):
        el(enrolment_event, "FormRef", {"FormOID": f"F.{part_form(part.id)}", "OrderNumber": number,
                                        "Mandatory": "No"})
    for visit in visits:
        event = el(mdv, "StudyEventDef", {"OID": f"SE.{visit.id}", "Name": visit.name or visit.id, "Repeating": "No",
                                          "Type": "Scheduled", "Category": f"day {visit.day}"})
        for number, form in enumerate((f for f in protocol.forms if visit.id in f.visits), start=1):
            form_ref = {"FormOID": f"F.{form.id}", "OrderNumber": number, "Mandatory": "Yes"}
            if form.asked_if is not None:  # asked only after an answer on another form: not mandatory
                form_ref.update(Mandatory="No", CollectionExceptionConditionOID=form_condition_oid(form.id))
            el(event, "FormRef", form_ref)
    for form_id, name, _fields in forms:
        definition = protocol.form(form_id)
        repeating = "Yes" if definition is not None and definition.repeating else "No"
        form_def = el(mdv, "FormDef", {"OID": f"F.{form_id}", "Name": name, "Repeating": repeating})
        el(form_def, "ItemGroupRef", {"ItemGroupOID": f"IG.{form_id}", "Mandatory": "Yes"})
    for form_id, name, fields in forms:
        group = el(mdv, "ItemGroupDef", {"OID": f"IG.{form_id}", "Name": name, "Repeating": "No"})
        for number, spec in enumerate(fields, start=1):
            ref = {"ItemOID": item_oid(form_id, spec.id), "OrderNumber": number,
                   "Mandatory": "Yes" if spec.required else "No"}
            if spec.asked_if is not None:
                ref["CollectionExceptionConditionOID"] = condition_oid(form_id, spec.id)
            el(group, "ItemRef", ref)
    codelists: list[ET.Element] = []
    for form_id, _name, fields in forms:
        for spec in fields:
            _item_def(mdv, form_id, spec, units, codelists)
    mdv.extend(codelists)
    for form in protocol.forms:
        if form.asked_if is not None:
            # ODM 1.3.2 §3.1.1.3.6.1: when the form is NOT collected (REDCap's form display logic).
            condition = el(mdv, "ConditionDef", {"OID": form_condition_oid(form.id), "Name": f"{form.id} not asked"})
            translated(condition, "Description", f"{form.name} is asked only when {form.asked_if.expression()}")
            el(condition, "FormalExpression", {"Context": "Equipoise"}, text=f"not ({form.asked_if.expression()})")
    for form_id, _name, fields in forms:
        for spec in fields:
            if spec.asked_if is not None:
                # ODM 1.3.2 §3.1.1.3.6.1: the condition under which the item is NOT collected (skip logic).
                condition = el(mdv, "ConditionDef", {"OID": condition_oid(form_id, spec.id),
                                                     "Name": f"{spec.id} not asked"})
                translated(condition, "Description", f"{spec.label} is asked only when "
                           f"{spec.asked_if.expression()}")
                el(condition, "FormalExpression", {"Context": "Equipoise"},
                   text=f"not ({spec.asked_if.expression()})")


def _admin(root: ET.Element, data: Dataset, usernames: Iterable[str]) -> None:
    admin = el(root, "AdminData", {"StudyOID": study_oid(data)})
    by_name = {u.username: u for u in data.users.values()}
    for username in sorted(set(usernames)):
        user = el(admin, "User", {"OID": user_oid(username), "UserType": "Other"})
        el(user, "LoginName", text=username)
        known = by_name.get(username)
        el(user, "DisplayName", text=known.full_name if known else username)
        el(user, "FullName", text=known.full_name if known else "Local operator (command line)")
    refs = [(oid, view.trial.effective_date.isoformat()) for oid, view in _exact_versions(data)] or \
        [(mdv_oid(data), data.protocol.trial.effective_date.isoformat())]
    sites = every_site(data.protocol)
    for patient in data.patients:
        sites.setdefault(patient.site_id, patient.site_id)
    for site_id, name in sites.items():
        location = el(admin, "Location", {"OID": f"LOC.{site_id}", "Name": name, "LocationType": "Site"})
        for oid, effective in refs:
            el(location, "MetaDataVersionRef", {"StudyOID": study_oid(data), "MetaDataVersionOID": oid,
                                                "EffectiveDate": effective})
    for meaning, statement in MEANINGS.items():
        definition = el(admin, "SignatureDef", {"OID": f"SD.{meaning}", "Methodology": "Electronic"})
        el(definition, "Meaning", text=f"{meaning}: {statement}")
        el(definition, "LegalReason", text="21 CFR Part 11 electronic signature (11.50, 11.70, 11.200)")


def _audit_record(parent: ET.Element, change: dict[str, Any], site_id: str) -> None:
    record = el(parent, "AuditRecord")
    el(record, "UserRef", {"UserOID": user_oid(change["user"])})
    el(record, "LocationRef", {"LocationOID": f"LOC.{site_id}"})
    el(record, "DateTimeStamp", text=change["at"])
    if change.get("reason"):
        el(record, "ReasonForChange", text=str(change["reason"]))
    el(record, "SourceID", text=f"audit-entry-{change['entry_id']}")


def _changes(data: Dataset) -> list[tuple[AuditEntry, int, str, str, int, list[dict[str, Any]]]]:
    """Per audit entry: (entry, patient, form, visit, instance, field changes), for form records and enrolment
    values."""
    records = {r.id: r for r in data.records}
    out = []
    for entry in data.audit:
        if entry.table_name == "form_records":
            record = records[int(entry.record_id or 0)]
            changes = [c for c in item_changes(entry, "field_values") if c["field"] is not None]
            out.append((entry, record.patient_id, record.form_id, record.visit_id, record.instance, changes))
        else:
            out.append((entry, int(entry.record_id or 0), ENROLMENT, ENROLMENT, 1,
                        item_changes(entry, "enrolment_values")))
    return out


def _repeat_key(data: Dataset, form_id: str, instance: int) -> dict[str, Any]:
    """ODM 1.3.2 §3.1.3.5: a repeating form's FormData carries its FormRepeatKey."""
    form = data.form(form_id)
    return {"FormRepeatKey": instance} if form is not None and form.repeating else {}


def snapshot(data: Dataset) -> bytes:
    """``odm.xml``: current values, each with the audit record of its last change, and form signatures."""
    root = _root(data, "Snapshot", "snapshot")
    _study(root, data)
    last: dict[tuple[int, str, str, int, str], dict[str, Any]] = {}
    for _entry, pid, form, visit, instance, changes in _changes(data):
        for change in changes:
            last[(pid, form, visit, instance, change["field"])] = change
    users = {c["user"] for c in last.values()} | {view.username for _s, view in data.signatures}
    _admin(root, data, users)
    clinical = el(root, "ClinicalData", {"StudyOID": study_oid(data), "MetaDataVersionOID": mdv_oid(data)})
    records: dict[int, list[Any]] = {}
    for r in data.records:
        records.setdefault(r.patient_id, []).append(r)
    parts: dict[int, list[PartAllocation]] = {}
    for further in data.part_allocations:
        parts.setdefault(further.patient_id, []).append(further)
    valid_signatures = {sig.form_record_id: (sig, view) for sig, view in data.signatures
                        if view.status == "valid" and sig.form_record_id is not None}
    order = {v.id: v.day for v in data.protocol.visits}
    form_order = {f.id: i for i, f in enumerate(data.protocol.forms)}
    for patient in data.patients:
        subject = el(clinical, "SubjectData", {"SubjectKey": patient.code})
        el(subject, "SiteRef", {"LocationOID": f"LOC.{patient.site_id}"})
        event = el(subject, "StudyEventData", {"StudyEventOID": f"SE.{ENROLMENT}"})
        values = [(f.id, patient.enrolment_values.get(f.id)) for f in data.protocol.enrolment.fields]
        _form_data(event, ENROLMENT, values, (patient.id, ENROLMENT, 1), last, patient.site_id)
        allocation = data.allocations.get(patient.id)
        if allocation is not None:
            items: list[tuple[str, Any]] = [("randomised_on", allocation.allocation_date.isoformat()),
                                            ("kit_code", allocation.kit_code)]
            if data.arms_shown:
                items.append(("arm", allocation.arm))
            items += [("randomized_offline", allocation.offline), ("flags", "|".join(allocation.flags) or None)]
            items += [(f"factor_{k}", v) for k, v in allocation.factors.items()]
            _form_data(event, RANDOMIZATION, items, (patient.id, RANDOMIZATION, 1), last, patient.site_id)
        for row in parts.get(patient.id, []):
            part = data.protocol.further_randomization(row.part_id)
            arm = data.part_arm(row)
            fields = [f.id for f in _part_fields(part) if f.id != "arm" or arm != MASKED] if part is not None \
                else ["randomised_on", "arm"]  # a masked arm is left out, as the main one is
            given = {"randomised_on": row.allocation_date.isoformat(), "kit_code": row.kit_code, "arm": arm,
                     **{f"factor_{k}": v for k, v in row.factors.items()}, **row.part_values}
            _form_data(event, part_form(row.part_id), [(f, given.get(f)) for f in fields],
                       (patient.id, part_form(row.part_id), 1), last, patient.site_id)
        by_visit: dict[str, list[Any]] = {}
        for r in records.get(patient.id, []):
            by_visit.setdefault(r.visit_id, []).append(r)
        for visit_id in sorted(by_visit, key=lambda v: order.get(v, 0)):
            event = el(subject, "StudyEventData", {"StudyEventOID": f"SE.{visit_id}"})
            for r in sorted(by_visit[visit_id], key=lambda r: (form_order.get(r.form_id, 0), r.instance)):
                definition = data.form(r.form_id)
                fields = [f.id for f in definition.fields] if definition else list(r.field_values)
                signature = valid_signatures.get(r.id)
                _form_data(event, r.form_id, [(f, r.field_values.get(f)) for f in fields],
                           (patient.id, visit_id, r.instance), last, patient.site_id, signature,
                           _repeat_key(data, r.form_id, r.instance))
    return _bytes(root)


def _form_data(event: ET.Element, form_id: str, values: list[tuple[str, Any]], where: tuple[int, str, int],
               last: dict[tuple[int, str, str, int, str], dict[str, Any]], site_id: str,
               signature: tuple[Any, Any] | None = None, repeat_key: dict[str, Any] | None = None) -> None:
    """One FormData; ``where`` is (patient, visit, instance), the key of its items' last changes in ``last``."""
    pid, visit_id, instance = where
    form = el(event, "FormData", {"FormOID": f"F.{form_id}", **(repeat_key or {})})
    if signature is not None:
        sig, view = signature
        node = el(form, "Signature", {"ID": f"SIG.{sig.id}"})
        el(node, "UserRef", {"UserOID": user_oid(view.username)})
        el(node, "LocationRef", {"LocationOID": f"LOC.{site_id}"})
        el(node, "SignatureRef", {"SignatureOID": f"SD.{view.meaning}"})
        el(node, "DateTimeStamp", text=view.signed_at)
    group = el(form, "ItemGroupData", {"ItemGroupOID": f"IG.{form_id}"})
    for field_id, value in values:
        if value is None:
            continue
        item = el(group, "ItemData", {"ItemOID": item_oid(form_id, field_id), "Value": odm_value(value)})
        change = last.get((pid, form_id, visit_id, instance, field_id))
        if change is not None:
            _audit_record(item, change, site_id)


def transactional(data: Dataset) -> bytes:
    """``odm_audit.xml``: every change of form and enrolment values, in audit-trail order."""
    root = _root(data, "Transactional", "audit")
    _study(root, data)
    changes = _changes(data)
    _admin(root, data, {c["user"] for *_ignored, cs in changes for c in cs})
    clinical = el(root, "ClinicalData", {"StudyOID": study_oid(data), "MetaDataVersionOID": mdv_oid(data)})
    site_of = data.site_of
    for entry, pid, form_id, visit_id, instance, items in changes:
        if not items:
            continue
        subject = el(clinical, "SubjectData", {"SubjectKey": patient_code(pid), "TransactionType": "Context"})
        el(subject, "SiteRef", {"LocationOID": f"LOC.{site_of[pid]}"})
        event_oid = f"SE.{ENROLMENT}" if visit_id == ENROLMENT else f"SE.{visit_id}"
        event = el(subject, "StudyEventData", {"StudyEventOID": event_oid, "TransactionType": "Context"})
        form = el(event, "FormData", {"FormOID": f"F.{form_id}", **_repeat_key(data, form_id, instance),
                                      "TransactionType": "Insert" if entry.action == "insert" else "Context"})
        group = el(form, "ItemGroupData", {"ItemGroupOID": f"IG.{form_id}",
                                           "TransactionType": "Insert" if entry.action == "insert" else "Context"})
        for change in items:
            kind = {"insert": "Insert", "update": "Update", "remove": "Remove"}[change["action"]]
            attrs: dict[str, Any] = {"ItemOID": item_oid(form_id, change["field"]), "TransactionType": kind}
            if change["new"] is None:
                attrs["IsNull"] = "Yes"
            else:
                attrs["Value"] = odm_value(change["new"])
            item = el(group, "ItemData", attrs)
            _audit_record(item, change, site_of[pid])
    return _bytes(root)


def _bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    # ElementTree writes a carriage return in text as it is (in attributes as &#13;); a parser would read it as a
    # new line. In UTF-8 the byte 0x0D is only ever that character, so the reference can be put in afterwards.
    return text.replace(b"\r", b"&#13;")

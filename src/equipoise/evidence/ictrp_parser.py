"""WHO ICTRP exports (CSV and XML; ChiCTR, NCT, IRCT, EU CTR, ISRCTN, ... rows) -> ``RegistryRecord``.

ICTRP's exports name their columns differently (CSV "Last Refreshed on", XML ``<Last_Refreshed_on>``, the full
export's ``last_updated``); names are compared after lower-casing and turning anything that is not a letter or
digit into "_". Unknown columns are ignored. The design, phase, size and status are free text, read by
``ictrp_free_text``; what could not be read is in the record's ``parse_notes``.

References
----------
WHO ICTRP, search portal export (CSV, XML) and the "International Standards for Clinical Trial Registries" (2018).
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from equipoise.evidence import ictrp_free_text as free
from equipoise.evidence.country_names import country_name
from equipoise.evidence.design_classification import PLACEBO, STANDARD_CARE, arm_kind, classify
from equipoise.evidence.registry_record import RecordProblem, RegistryArm, RegistryRecord

T = TypeVar("T")

ALIASES = {
    "id": ("trialid", "trial_id", "main_id"),
    "last_update": ("last_refreshed_on", "last_updated", "last_update", "date_updated"),
    "public_title": ("public_title",),
    "scientific_title": ("scientific_title",),
    "sponsor": ("primary_sponsor",),
    "registration_date": ("date_registration", "date_registration3", "date_of_registration"),
    "source_register": ("source_register",),
    "status": ("recruitment_status",),
    "start_date": ("date_enrollement", "date_enrolment", "date_enrollment"),
    "target_size": ("target_size",),
    "enrollment_type": ("type_enrolment", "type_enrollment"),
    "actual_enrollment": ("results_actual_enrollment",),
    "study_type": ("study_type",),
    "study_design": ("study_design",),
    "phase": ("phase",),
    "countries": ("countries",),
    "conditions": ("condition", "conditions"),
    "interventions": ("intervention", "interventions"),
    "secondary_ids": ("secondary_id", "secondary_ids", "secondaryids"),
    "results": ("results_yes_no",),
    "results_posted": ("results_date_posted",),
    "summary": ("notes", "note", "brief_summary"),
}
KEY_OF = {alias: key for key, aliases in ALIASES.items() for alias in aliases}
REGISTRY_PREFIXES = (
    ("NCT", "ClinicalTrials.gov"), ("ChiCTR", "ChiCTR"), ("IRCT", "IRCT"), ("EUCTR", "EU CTR"),
    ("ISRCTN", "ISRCTN"), ("CTRI", "CTRI"), ("ACTRN", "ANZCTR"), ("DRKS", "DRKS"), ("JPRN", "JPRN"),
    ("KCT", "CRiS"), ("PACTR", "PACTR"), ("NL", "NTR"), ("TCTR", "TCTR"), ("RBR", "ReBec"), ("PER", "REPEC"),
    ("LBCTR", "LBCTR"), ("SLCTR", "SLCTR"), ("ITMCTR", "ITMCTR"))
TRIAL_ID_IN_TEXT = re.compile(r"\b(NCT\d{8}|ChiCTR[-\w]*\d{6,}|IRCT\d+N\d+|ISRCTN\d{8}|EUCTR\d{4}-\d{6}-\d{2}(?:-\w+)?|"
                              r"CTRI/\d{4}/\d+/\d+|ACTRN\d{14}|DRKS\d{8})\b")
INTERVENTION_TYPES = re.compile(r"^(drug|biological|device|procedure|procedure/surgery|other|behavioral|radiation|"
                                r"genetic|dietary supplement|combination product|diagnostic test|product name|"
                                r"trade name|intervention type)$", re.IGNORECASE)


def normalise_column(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


def rows_in_ictrp_csv(lines: Iterable[str], source: str) -> Iterator[RegistryRecord | RecordProblem]:
    """Every row of an ICTRP CSV export (lines of text, header first), each parsed or reported, streaming."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        yield RecordProblem(source, None, "empty file (no header row)")
        return
    except csv.Error as exc:
        yield RecordProblem(source, None, f"not a readable CSV header ({exc})")
        return
    keys = [KEY_OF.get(normalise_column(h)) for h in header]
    if "id" not in keys:
        yield RecordProblem(source, None, "no TrialID column: not a WHO ICTRP export")
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RecordProblem(f"{source} line {reader.line_num}", None, f"unreadable CSV ({exc})")
            return
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source} line {reader.line_num}"
        if len(row) != len(header):
            yield RecordProblem(where, _first(row), f"{len(row)} cells where the header has {len(header)}")
            continue
        fields: dict[str, str] = {}
        for key, cell in zip(keys, row, strict=True):
            if key is not None and not fields.get(key, "").strip():  # a blank alias never hides a filled one
                fields[key] = cell
        yield parse_or_problem(fields, where)


def trials_in_ictrp_xml(stream: IO[bytes], source: str) -> Iterator[RegistryRecord | RecordProblem]:
    """Every ``<Trial>`` of an ICTRP XML export, parsed one at a time (memory stays bounded)."""
    count = 0
    try:
        for _event, element in ET.iterparse(stream, events=("end",)):
            if element.tag != "Trial":
                continue
            count += 1
            fields: dict[str, str] = {}
            for child in element:
                key = KEY_OF.get(normalise_column(child.tag))
                if key is not None and not fields.get(key, "").strip():
                    fields[key] = "".join(child.itertext())
            yield parse_or_problem(fields, f"{source} <Trial> #{count}")
            element.clear()
    except ET.ParseError as exc:
        yield RecordProblem(source, None, f"not well-formed XML ({exc}); the trials before it were read")
        return
    if count == 0:
        yield RecordProblem(source, None, "no <Trial> elements: not a WHO ICTRP XML export")


def _first(row: list[str]) -> str | None:
    return row[0].strip() or None if row else None


def parse_or_problem(fields: dict[str, str], where: str) -> RegistryRecord | RecordProblem:
    trial_id = (fields.get("id") or "").strip()
    if not trial_id:
        return RecordProblem(where, None, "TrialID is empty")
    if not re.fullmatch(r"[A-Za-z][\w./-]{3,}", trial_id):
        return RecordProblem(where, trial_id, f"TrialID {trial_id!r} is not a registry id")
    return parse_ictrp_fields(fields)


def parse_ictrp_fields(fields: dict[str, str]) -> RegistryRecord:
    """One ICTRP row or trial, keyed by the names in ``ALIASES``."""
    notes: list[str] = []

    def get(key: str) -> str | None:
        value = fields.get(key)
        return value.strip() or None if value is not None else None

    trial_id = fields["id"].strip()
    design_text = get("study_design")
    allocation = _noted(free.parse_allocation(design_text), notes)
    masking = _noted(free.parse_masking(design_text), notes)
    model = free.parse_model(design_text)
    phases = _noted(free.parse_phases(get("phase")), notes)
    size = _noted(free.parse_target_size(get("target_size")), notes)
    actual = _noted(free.parse_target_size(get("actual_enrollment")), notes)
    status = _noted(free.parse_status(get("status")), notes)
    study_type = _noted(free.parse_study_type(get("study_type")), notes)
    interventions = free.split_list(get("interventions"))
    arms = _arms(interventions, model, notes)
    if allocation == "NA" and model is None:
        model = "SINGLE_GROUP"
    title = get("public_title")
    official = get("scientific_title")
    classification = classify(
        arms=arms, allocation=allocation, masking=masking, intervention_model=model, study_type=study_type,
        text=" ".join(t for t in (title, official, design_text) if t))
    enrollment, enrollment_type = (actual, "ACTUAL") if actual is not None else (
        size, _enrollment_type(get("enrollment_type")) if size is not None else None)
    secondary = [s for s in free.split_list(get("secondary_ids")) if s != trial_id]
    secondary += [m for m in TRIAL_ID_IN_TEXT.findall(get("secondary_ids") or "") if m != trial_id]
    results = (get("results") or "").lower()
    has_results: bool | None = True if results.startswith("y") or get("results_posted") else (
        False if results.startswith("n") else None)
    return RegistryRecord(
        id=trial_id, registry=_registry(trial_id, get("source_register")), source_format="ictrp",
        title=title or official, official_title=official, status=status, status_text=get("status"),
        study_type=study_type, phases=phases, allocation=allocation, masking=masking, intervention_model=model,
        enrollment=enrollment, enrollment_type=enrollment_type,
        start_date=_noted(free.parse_date(get("start_date"), "enrolment date"), notes), primary_completion_date=None,
        registration_date=_noted(free.parse_date(get("registration_date"), "registration date"), notes),
        last_update=_noted(free.parse_date(get("last_update"), "last refreshed date"), notes),
        conditions=free.split_list(get("conditions")), interventions=interventions,
        countries=tuple(dict.fromkeys(country_name(c) for c in free.split_list(get("countries")))), arms=arms,
        has_results=has_results,
        secondary_ids=tuple(dict.fromkeys(secondary)), sponsor=get("sponsor"), summary=get("summary"),
        classification=classification, parse_notes=tuple(notes))


def _noted(result: tuple[T, str | None], notes: list[str]) -> T:
    """A free-text parser's value; its note (what it could not read), if any, joins the record's notes."""
    value, message = result
    if message:
        notes.append(message)
    return value


def _registry(trial_id: str, source_register: str | None) -> str:
    for prefix, name in REGISTRY_PREFIXES:
        if trial_id.upper().startswith(prefix.upper()):
            return name
    return source_register or "unknown registry"


def _enrollment_type(text: str | None) -> str:
    return "ACTUAL" if text and text.strip().lower().startswith("actual") else "ESTIMATED"


def _arms(interventions: tuple[str, ...], model: str | None, notes: list[str]) -> tuple[RegistryArm, ...]:
    """Arms from ICTRP's intervention cell: ChiCTR's "Experimental group:MSC;Control group:routine treatment;".

    Rows from ClinicalTrials.gov list interventions ("Biological: UC-MSC;Other: Placebo"), not arms: then a
    placebo or standard-care intervention in a multi-group design stands for a control arm, and the rest for the
    experimental arm; the record notes that the arms were inferred.
    """
    labelled = [tuple(part.split(":", 1)) for part in interventions if ":" in part]
    if labelled and len(labelled) == len(interventions) and not all(
            INTERVENTION_TYPES.match(label.strip()) for label, _ in labelled):
        return tuple(RegistryArm(label=label.strip(), type=None, kind=arm_kind(None, label.strip(), None,
                                                                              [what.strip()]),
                                 interventions=(what.strip(),)) for label, what in labelled)
    if not interventions:
        return ()
    if model == "SINGLE_GROUP":
        return (RegistryArm(label="(single arm)", type=None, kind="experimental", interventions=interventions),)
    controls = [i for i in interventions if PLACEBO.search(i) or STANDARD_CARE.search(i)]
    if not controls or model is None:
        return ()
    notes.append("arms inferred from the interventions list (ICTRP gives no arms for this registry)")
    treatments = tuple(i for i in interventions if i not in controls)
    arms = [RegistryArm(label="(experimental: " + "; ".join(treatments) + ")", type=None, kind="experimental",
                        interventions=treatments)] if treatments else []
    arms += [RegistryArm(label=f"(control: {c})", type=None,
                         kind="placebo" if PLACEBO.search(c) else "standard of care", interventions=(c,))
             for c in controls]
    return tuple(arms)

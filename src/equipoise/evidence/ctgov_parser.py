"""ClinicalTrials.gov API v2 study records -> ``RegistryRecord``.

Reads one study (``GET /api/v2/studies/{nctId}``), a page of a search (``{"studies": [...], "nextPageToken"}``),
or one file of the bulk download (one study per JSON file). Enum fields are kept in the API's spelling.

References
----------
ClinicalTrials.gov, "Study Data Structure", https://clinicaltrials.gov/data-api/about-api/study-data-structure
(paths: protocolSection.designModule.designInfo.allocation, .maskingInfo.masking, armsInterventionsModule.armGroups,
statusModule.lastUpdatePostDateStruct, hasResults).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from equipoise.evidence.country_names import country_name
from equipoise.evidence.design_classification import arm_kind, classify
from equipoise.evidence.registry_record import RecordProblem, RegistryArm, RegistryRecord

NCT_ID = re.compile(r"^NCT\d{8}$")
PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class RecordError(ValueError):
    """A record that cannot be read; the message says which field and why."""


def studies_in_json(text: str | bytes, source: str) -> Iterator[RegistryRecord | RecordProblem]:
    """Every study in a v2 JSON document (one study, or a page of studies), each parsed or reported."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        yield RecordProblem(source, None, f"not valid JSON ({exc})")
        return
    if isinstance(document, dict) and isinstance(document.get("studies"), list):
        for index, study in enumerate(document["studies"]):
            yield parse_or_problem(study, f"{source} studies[{index}]")
    elif isinstance(document, list):
        for index, study in enumerate(document):
            yield parse_or_problem(study, f"{source} [{index}]")
    else:
        yield parse_or_problem(document, source)


def parse_or_problem(study: object, source: str) -> RegistryRecord | RecordProblem:
    try:
        return parse_study(study)
    except RecordError as exc:
        return RecordProblem(source, _nct_id_or_none(study), str(exc))


def _nct_id_or_none(study: object) -> str | None:
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def parse_study(study: object) -> RegistryRecord:
    """One v2 study object; raises ``RecordError`` when it has no protocolSection or no valid NCT id."""
    if not isinstance(study, dict):
        raise RecordError(f"a study must be a JSON object, not {type(study).__name__}")
    protocol = study.get("protocolSection")
    if not isinstance(protocol, dict):
        raise RecordError("no protocolSection (not a ClinicalTrials.gov v2 study record)")
    ident = _module(protocol, "identificationModule")
    nct_id = ident.get("nctId")
    if not isinstance(nct_id, str) or not NCT_ID.match(nct_id):
        raise RecordError(f"protocolSection.identificationModule.nctId: {nct_id!r} is not an NCT number")
    notes: list[str] = []
    status = _module(protocol, "statusModule")
    design = _module(protocol, "designModule")
    design_info = _dict(design.get("designInfo"), "designModule.designInfo")
    masking_info = _dict(design_info.get("maskingInfo"), "designInfo.maskingInfo")
    enrollment_info = _dict(design.get("enrollmentInfo"), "designModule.enrollmentInfo")
    arms_module = _module(protocol, "armsInterventionsModule")
    sponsor_module = _module(protocol, "sponsorCollaboratorsModule")
    lead_sponsor = _dict(sponsor_module.get("leadSponsor"), "leadSponsor")
    description = _module(protocol, "descriptionModule")

    interventions = [_dict(i, "interventions[]") for i in _list(arms_module.get("interventions"), "interventions")]
    arm_groups = [_dict(a, "armGroups[]") for a in _list(arms_module.get("armGroups"), "armGroups")]
    arms = tuple(_arm(group) for group in arm_groups)
    allocation = _enum(design_info.get("allocation"), "designInfo.allocation")
    masking = _enum(masking_info.get("masking"), "maskingInfo.masking")
    model = _enum(design_info.get("interventionModel"), "designInfo.interventionModel")
    study_type = _enum(design.get("studyType"), "designModule.studyType")
    enrollment = enrollment_info.get("count")
    if enrollment is not None and not isinstance(enrollment, int):
        notes.append(f"enrollmentInfo.count {enrollment!r} is not a whole number; read as not stated")
        enrollment = None
    title = _text(ident.get("briefTitle"))
    official = _text(ident.get("officialTitle"))
    classification = classify(
        arms=arms, allocation=allocation, masking=masking, intervention_model=model, study_type=study_type,
        text=" ".join(t for t in (title, official) if t))
    spellings = {loc.get("country") for loc in _locations(protocol)}  # a large trial names one country per site
    countries = sorted({country_name(c) for c in spellings if isinstance(c, str)})
    secondary = [_text(s.get("id")) for s in _list(ident.get("secondaryIdInfos"), "secondaryIdInfos")
                 if isinstance(s, dict)]
    org_id = _dict(ident.get("orgStudyIdInfo"), "orgStudyIdInfo").get("id")
    aliases = [a for a in _list(ident.get("nctIdAliases"), "nctIdAliases") if isinstance(a, str)]
    has_results = study.get("hasResults")
    last_update = _date(_dict(status.get("lastUpdatePostDateStruct"), "lastUpdatePostDateStruct").get("date"),
                        "lastUpdatePostDateStruct.date", notes) or _date(
        status.get("lastUpdateSubmitDate"), "lastUpdateSubmitDate", notes)
    if last_update is None:
        notes.append("no last-update date: the version cannot be compared, a re-import replaces it")
    return RegistryRecord(
        id=nct_id, registry="ClinicalTrials.gov", source_format="ctgov-v2", title=title, official_title=official,
        status=_enum(status.get("overallStatus"), "statusModule.overallStatus"),
        status_text=_text(status.get("overallStatus")), study_type=study_type,
        phases=tuple(p for p in _list(design.get("phases"), "phases") if isinstance(p, str)),
        allocation=allocation, masking=masking,
        who_masked=tuple(w for w in _list(masking_info.get("whoMasked"), "whoMasked") if isinstance(w, str)),
        intervention_model=model, enrollment=enrollment,
        enrollment_type=_enum(enrollment_info.get("type"), "enrollmentInfo.type"),
        start_date=_date(_dict(status.get("startDateStruct"), "startDateStruct").get("date"), "startDate", notes),
        primary_completion_date=_date(_dict(status.get("primaryCompletionDateStruct"), "primaryCompletionDateStruct")
                                      .get("date"), "primaryCompletionDate", notes),
        registration_date=_date(status.get("studyFirstSubmitDate"), "studyFirstSubmitDate", notes),
        last_update=last_update,
        conditions=tuple(c for c in _list(_module(protocol, "conditionsModule").get("conditions"), "conditions")
                         if isinstance(c, str)),
        interventions=tuple(_intervention_name(i) for i in interventions if i.get("name")),
        countries=tuple(countries), arms=arms,
        has_results=has_results if isinstance(has_results, bool) else None,
        secondary_ids=tuple(dict.fromkeys(s for s in [*secondary, _text(org_id), *aliases] if s)),
        sponsor=_text(lead_sponsor.get("name")), summary=_text(description.get("briefSummary")),
        classification=classification, parse_notes=tuple(notes))


def _arm(group: dict[str, Any]) -> RegistryArm:
    label = _text(group.get("label")) or "(unlabelled arm)"
    arm_type = _enum(group.get("type"), "armGroups[].type")
    names = tuple(n for n in _list(group.get("interventionNames"), "interventionNames") if isinstance(n, str))
    description = _text(group.get("description"))
    return RegistryArm(label=label, type=arm_type, kind=arm_kind(arm_type, label, description, names),
                       description=description, interventions=names)


def _intervention_name(intervention: dict[str, Any]) -> str:
    kind = intervention.get("type")
    name = str(intervention.get("name"))
    return f"{kind.title().replace('_', ' ')}: {name}" if isinstance(kind, str) else name


def _locations(protocol: dict[str, Any]) -> list[dict[str, Any]]:
    module = _module(protocol, "contactsLocationsModule")
    return [loc for loc in _list(module.get("locations"), "locations") if isinstance(loc, dict)]


def _module(section: dict[str, Any], name: str) -> dict[str, Any]:
    return _dict(section.get(name), name)


def _dict(value: object, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{path} must be an object, not {type(value).__name__}")
    return value


def _list(value: object, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{path} must be a list, not {type(value).__name__}")
    return value


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _enum(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{path} must be text, not {type(value).__name__}")
    return value.strip().upper() or None


def _date(value: object, path: str, notes: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and PARTIAL_DATE.match(value.strip()):
        return value.strip()
    notes.append(f"{path} {value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD); read as not stated")
    return None

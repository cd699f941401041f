"""A protocol file as a ClinicalTrials.gov API v2 registration record: the trial is registered from the file
that runs it, and the record imports back with the same design classification.

The mapping: arms by role (experimental -> EXPERIMENTAL, placebo -> PLACEBO_COMPARATOR, active-control ->
ACTIVE_COMPARATOR, usual-care -> NO_INTERVENTION), blinding -> masking (open-label NONE, single-blind SINGLE,
double-blind DOUBLE), a randomization section with two or more arms -> allocation RANDOMIZED (one arm: NA and
SINGLE_GROUP), further randomizations -> FACTORIAL, the enrolment target -> enrollment (ESTIMATED), sites ->
locations, outcomes -> primary and secondary outcomes (the analysis plan's primary comparison first), the trial's
conditions -> conditions, each arm's intervention type -> its intervention's type (OTHER where the protocol does
not say; a usual-care arm registers no intervention).

References
----------
ClinicalTrials.gov, "Study Data Structure" (API v2) and the PRS data element definitions for interventional
studies, https://clinicaltrials.gov/policy/protocol-definitions.
"""

from __future__ import annotations

from typing import Any

from equipoise.evidence.country_names import country_from_code
from equipoise.evidence.ictrp_free_text import parse_phases
from equipoise.evidence.registry_record import Classification
from equipoise.protocol import Arm, ArmRole, Blinding, Outcome, Protocol

ARM_TYPES = {ArmRole.EXPERIMENTAL: "EXPERIMENTAL", ArmRole.PLACEBO: "PLACEBO_COMPARATOR",
             ArmRole.ACTIVE_CONTROL: "ACTIVE_COMPARATOR", ArmRole.USUAL_CARE: "NO_INTERVENTION"}
CONTROL_KINDS = {ArmRole.PLACEBO: "placebo", ArmRole.ACTIVE_CONTROL: "active", ArmRole.USUAL_CARE: "standard of care"}
MASKING = {Blinding.OPEN_LABEL: "NONE", Blinding.SINGLE_BLIND: "SINGLE", Blinding.DOUBLE_BLIND: "DOUBLE"}
WHO_MASKED = {Blinding.OPEN_LABEL: [], Blinding.SINGLE_BLIND: ["PARTICIPANT"],
              Blinding.DOUBLE_BLIND: ["PARTICIPANT", "INVESTIGATOR"]}


def nct_id_of(protocol: Protocol) -> str | None:
    return next((r.id for r in protocol.trial.registry_ids if r.id.upper().startswith("NCT")), None)


def protocol_classification(protocol: Protocol) -> Classification:
    """The design as the protocol states it (what the registration record must import back as)."""
    arms = protocol.arms
    controls = tuple(dict.fromkeys(CONTROL_KINDS[a.role] for a in arms if a.role in CONTROL_KINDS))
    single = len(arms) == 1
    order = ("placebo", "active", "standard of care")
    return Classification(
        randomized=protocol.randomization is not None and not single, controlled=bool(controls),
        control=next((k for k in order if k in controls), "none"), control_kinds=controls, single_arm=single,
        blinded=protocol.trial.blinding.is_blinded, design=_model(protocol).lower().replace("_", "-").replace(
            "single-group", "single-arm"))


def _model(protocol: Protocol) -> str:
    if len(protocol.arms) == 1:
        return "SINGLE_GROUP"
    return "FACTORIAL" if protocol.further_randomizations else "PARALLEL"


def registration_record(protocol: Protocol, nct_id: str | None = None) -> dict[str, Any]:
    """The v2 study record; ``nct_id`` overrides the protocol's ClinicalTrials.gov id (none: left out, as in a
    registration not yet given one)."""
    trial = protocol.trial
    nct = nct_id or nct_id_of(protocol)
    single = len(protocol.arms) == 1
    phases, _note = parse_phases(trial.phase)
    ident: dict[str, Any] = {
        "orgStudyIdInfo": {"id": trial.id}, "organization": {"fullName": trial.sponsor, "class": "OTHER"},
        "briefTitle": trial.title, "officialTitle": trial.title,
        "secondaryIdInfos": [{"id": r.id, "type": "REGISTRY", "domain": r.registry} for r in trial.registry_ids
                             if not r.id.upper().startswith("NCT")]}
    if trial.short_title:
        ident["acronym"] = trial.short_title
    if nct:
        ident["nctId"] = nct
    version_date = max([trial.effective_date, *(a.effective_date for a in protocol.amendments)]).isoformat()
    design_info: dict[str, Any] = {
        "allocation": "NA" if single else ("RANDOMIZED" if protocol.randomization is not None else "NON_RANDOMIZED"),
        "interventionModel": _model(protocol), "primaryPurpose": "TREATMENT",
        "maskingInfo": {"masking": MASKING[trial.blinding], "whoMasked": WHO_MASKED[trial.blinding]}}
    enrolment = protocol.enrolment.target
    design: dict[str, Any] = {"studyType": "INTERVENTIONAL", "phases": list(phases) or ["NA"],
                              "designInfo": design_info}
    if enrolment is not None:
        design["enrollmentInfo"] = {"count": enrolment.total, "type": "ESTIMATED"}
    treated = [a for a in protocol.arms if a.role is not ArmRole.USUAL_CARE]
    primary_id = protocol.analysis.primary.outcome if protocol.analysis else protocol.outcomes[0].id
    outcomes = sorted(protocol.outcomes, key=lambda o: o.id != primary_id)
    return {
        "protocolSection": {
            "identificationModule": ident,
            "statusModule": {
                "overallStatus": "NOT_YET_RECRUITING",
                "startDateStruct": {"date": trial.effective_date.isoformat(), "type": "ESTIMATED"},
                "lastUpdateSubmitDate": version_date,
                "lastUpdatePostDateStruct": {"date": version_date, "type": "ESTIMATED"}},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": trial.sponsor, "class": "OTHER"}},
            "descriptionModule": {"briefSummary": trial.description or f"Registration record exported by Equipoise "
                                  f"from protocol {trial.id} version {trial.version}."},
            "conditionsModule": {"conditions": list(trial.conditions)},
            "designModule": design,
            "armsInterventionsModule": {
                "armGroups": [{"label": a.name, "type": ARM_TYPES[a.role], "description": a.description or a.name,
                               "interventionNames": [] if a.role is ArmRole.USUAL_CARE else
                               [f"{_type_label(a)}: {a.name}"]}
                              for a in protocol.arms],
                "interventions": [{"type": _intervention_type(a), "name": a.name, "armGroupLabels": [a.name]}
                                  for a in treated]},
            "outcomesModule": {
                "primaryOutcomes": [_outcome(outcomes[0])],
                "secondaryOutcomes": [_outcome(o) for o in outcomes[1:]]},
            "contactsLocationsModule": {"locations": [
                {"facility": s.name, "country": country_from_code(s.country)} for s in protocol.sites]},
        },
        "hasResults": False,
    }


def _outcome(outcome: Outcome) -> dict[str, str]:
    return {"measure": outcome.name, "timeFrame": f"Day {outcome.day}"}


def _intervention_type(arm: Arm) -> str:
    """The v2 enum (``BIOLOGICAL``); OTHER where the protocol does not say."""
    return arm.intervention_type.registry_name if arm.intervention_type else "OTHER"


def _type_label(arm: Arm) -> str:
    """The type as ClinicalTrials.gov writes it before an intervention's name ("Dietary Supplement: ...")."""
    return _intervention_type(arm).replace("_", " ").title()

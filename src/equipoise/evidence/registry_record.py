"""One registered trial in one shape, whatever registry it came from.

Enum fields use ClinicalTrials.gov API v2's spellings (``RANDOMIZED``, ``QUADRUPLE``, ``PHASE2``, ...) for every
registry; ``None`` where the record does not say. What a parser could not read is said in ``parse_notes``.

References
----------
ClinicalTrials.gov, "Study Data Structure" (API v2), https://clinicaltrials.gov/data-api/about-api/study-data-structure
WHO ICTRP, "Data set fields", https://www.who.int/tools/clinical-trials-registry-platform (the 24-item data set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONTROL_KINDS = ("placebo", "active", "standard of care", "unspecified")
"""Kinds of control arm; a trial without one has control ``none``."""


@dataclass(frozen=True)
class RegistryArm:
    """An arm (ClinicalTrials.gov arm group, or a group read from ICTRP's free text).

    ``type`` is the registry's arm type (``EXPERIMENTAL``, ``PLACEBO_COMPARATOR``, ...; ``None`` when not given);
    ``kind`` is what the arm is, read from its type, label and interventions: ``experimental`` or a control kind.
    """

    label: str
    type: str | None
    kind: str
    description: str | None = None
    interventions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "type": self.type, "kind": self.kind, "description": self.description,
                "interventions": list(self.interventions)}

    def __str__(self) -> str:
        given = f" ({', '.join(self.interventions)})" if self.interventions else ""
        return f"arm {self.label!r}: {self.type or 'type not stated'} -> {self.kind}{given}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryArm:
        return cls(label=data["label"], type=data.get("type"), kind=data["kind"],
                   description=data.get("description"), interventions=tuple(data.get("interventions") or ()))


@dataclass(frozen=True)
class Classification:
    """What the design is, read robustly from a messy record; ``None`` where it cannot be told.

    ``control`` is ``placebo``, ``active``, ``standard of care``, ``unspecified`` (a control arm of unnamed kind)
    or ``none`` (no control arm); ``design`` is the intervention model in words (``single-arm``, ``parallel``,
    ``crossover``, ``factorial``, ``sequential``, ``observational``); ``design_flags`` name contradictions
    inside the record (e.g. allocation RANDOMIZED with one arm).
    """

    randomized: bool | None
    controlled: bool | None
    control: str | None
    control_kinds: tuple[str, ...]
    single_arm: bool | None
    blinded: bool | None
    design: str | None
    reasons: tuple[str, ...] = ()
    design_flags: tuple[str, ...] = ()

    @property
    def design_class(self) -> str:
        """The headline design: randomized controlled, non-randomized controlled, single-arm, ..."""
        if self.design == "observational":
            return "observational"
        if self.single_arm:
            return "single-arm"
        if self.randomized and self.controlled:
            return "randomized controlled"
        if self.randomized:
            return "randomized, no control arm"
        if self.randomized is False and self.controlled:
            return "non-randomized controlled"
        if self.randomized is False:
            return "non-randomized, no control arm"
        return "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {"randomized": self.randomized, "controlled": self.controlled, "control": self.control,
                "control_kinds": list(self.control_kinds), "single_arm": self.single_arm, "blinded": self.blinded,
                "design": self.design, "design_class": self.design_class,
                "classification_reasons": list(self.reasons), "design_flags": list(self.design_flags)}

    def __str__(self) -> str:
        def yes_no(value: bool | None) -> str:
            return "not stated" if value is None else ("yes" if value else "no")

        text = (f"{self.design_class}: randomized {yes_no(self.randomized)}, controlled {yes_no(self.controlled)} "
                f"(control: {self.control or 'not stated'}), blinded {yes_no(self.blinded)}")
        return text + "".join(f"\n  flag: {flag}" for flag in self.design_flags)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Classification:
        return cls(randomized=data.get("randomized"), controlled=data.get("controlled"), control=data.get("control"),
                   control_kinds=tuple(data.get("control_kinds") or ()), single_arm=data.get("single_arm"),
                   blinded=data.get("blinded"), design=data.get("design"),
                   reasons=tuple(data.get("classification_reasons") or ()),
                   design_flags=tuple(data.get("design_flags") or ()))


@dataclass(frozen=True)
class RegistryRecord:
    """A normalised registry record; ``last_update`` is the version the store compares (ISO date, may be partial)."""

    id: str
    registry: str
    source_format: str
    title: str | None
    official_title: str | None = None
    status: str | None = None
    status_text: str | None = None
    study_type: str | None = None
    phases: tuple[str, ...] = ()
    allocation: str | None = None
    masking: str | None = None
    who_masked: tuple[str, ...] = ()
    intervention_model: str | None = None
    enrollment: int | None = None
    enrollment_type: str | None = None
    start_date: str | None = None
    primary_completion_date: str | None = None
    registration_date: str | None = None
    last_update: str | None = None
    conditions: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    arms: tuple[RegistryArm, ...] = ()
    has_results: bool | None = None
    secondary_ids: tuple[str, ...] = ()
    sponsor: str | None = None
    summary: str | None = None
    classification: Classification = field(default_factory=lambda: Classification(
        None, None, None, (), None, None, None))
    parse_notes: tuple[str, ...] = ()

    @property
    def randomized(self) -> bool | None:
        return self.classification.randomized

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "registry": self.registry, "source_format": self.source_format, "title": self.title,
            "official_title": self.official_title, "status": self.status, "status_text": self.status_text,
            "study_type": self.study_type, "phases": list(self.phases), "allocation": self.allocation,
            "masking": self.masking, "who_masked": list(self.who_masked),
            "intervention_model": self.intervention_model, "enrollment": self.enrollment,
            "enrollment_type": self.enrollment_type, "start_date": self.start_date,
            "primary_completion_date": self.primary_completion_date, "registration_date": self.registration_date,
            "last_update": self.last_update, "version": self.last_update, "conditions": list(self.conditions),
            "interventions": list(self.interventions), "countries": list(self.countries),
            "arms": [a.to_dict() for a in self.arms], "has_results": self.has_results,
            "secondary_ids": list(self.secondary_ids), "sponsor": self.sponsor, "summary": self.summary,
        }
        out.update(self.classification.to_dict())
        out["parse_notes"] = list(self.parse_notes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryRecord:
        """The inverse of ``to_dict`` (the store keeps records as their ``to_dict`` JSON)."""
        def strings(key: str) -> tuple[str, ...]:
            return tuple(data.get(key) or ())

        return cls(
            id=data["id"], registry=data["registry"], source_format=data["source_format"], title=data.get("title"),
            official_title=data.get("official_title"), status=data.get("status"), status_text=data.get("status_text"),
            study_type=data.get("study_type"), phases=strings("phases"), allocation=data.get("allocation"),
            masking=data.get("masking"), who_masked=strings("who_masked"),
            intervention_model=data.get("intervention_model"), enrollment=data.get("enrollment"),
            enrollment_type=data.get("enrollment_type"), start_date=data.get("start_date"),
            primary_completion_date=data.get("primary_completion_date"),
            registration_date=data.get("registration_date"), last_update=data.get("last_update"),
            conditions=strings("conditions"), interventions=strings("interventions"), countries=strings("countries"),
            arms=tuple(RegistryArm.from_dict(a) for a in data.get("arms") or ()), has_results=data.get("has_results"),
            secondary_ids=strings("secondary_ids"), sponsor=data.get("sponsor"), summary=data.get("summary"),
            classification=Classification.from_dict(data), parse_notes=strings("parse_notes"))

    def __str__(self) -> str:
        c = self.classification

        def yes_no(value: bool | None) -> str:
            return "not stated" if value is None else ("yes" if value else "no")

        lines = [
            f"{self.id} ({self.registry}): {self.title or '(no title)'}",
            f"  status {self.status or self.status_text or 'not stated'}; "
            f"{self.study_type or 'study type not stated'}; phase {'/'.join(self.phases) or 'not stated'}",
            f"  design: {c.design_class}; randomized {yes_no(c.randomized)}; controlled {yes_no(c.controlled)}"
            f" (control: {c.control or 'not stated'}); blinded {yes_no(c.blinded)}"
            f" (masking {self.masking or 'not stated'})",
            f"  enrollment {self.enrollment if self.enrollment is not None else 'not stated'}"
            f"{' ' + self.enrollment_type if self.enrollment_type else ''}; start {self.start_date or 'not stated'};"
            f" primary completion {self.primary_completion_date or 'not stated'}",
            f"  conditions: {'; '.join(self.conditions) or '-'}",
            f"  countries: {'; '.join(self.countries) or '-'}; sponsor: {self.sponsor or '-'}",
        ]
        lines += [f"  arm {a.label!r}: {a.type or 'type not stated'} -> {a.kind}" for a in self.arms]
        if self.secondary_ids:
            lines.append(f"  secondary ids: {', '.join(self.secondary_ids)}")
        lines.append(f"  version (last update) {self.last_update or 'not stated'}; results posted "
                     f"{yes_no(self.has_results)}")
        lines += [f"  flag: {flag}" for flag in c.design_flags]
        lines += [f"  note: {note}" for note in self.parse_notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class RecordProblem:
    """A record that could not be read: where it was (file, entry or row) and why. It is skipped, not stored."""

    source: str
    record_id: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "id": self.record_id, "message": self.message}

    def __str__(self) -> str:
        return f"{self.source}: {self.record_id or 'record without an id'}: {self.message}"

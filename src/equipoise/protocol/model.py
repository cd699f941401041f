"""The protocol: one file that describes a whole randomized trial."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from equipoise.protocol.adaptive_platform import AdaptivePlatform
from equipoise.protocol.amending import apply_amendment
from equipoise.protocol.amendments import Amendment
from equipoise.protocol.analysis_plan import AnalysisPlan
from equipoise.protocol.arms import Arm
from equipoise.protocol.base import Identifier, ProtocolModel
from equipoise.protocol.blinding import Blinding
from equipoise.protocol.eligibility import Criterion
from equipoise.protocol.forms import Enrolment, Form, Visit
from equipoise.protocol.further_randomization import FurtherRandomization
from equipoise.protocol.outcomes import Outcome
from equipoise.protocol.randomization import Randomization
from equipoise.protocol.sites import Site


class RegistryId(ProtocolModel):
    registry: str = Field(min_length=1, description="e.g. ClinicalTrials.gov, ChiCTR, ISRCTN.")
    id: str = Field(min_length=1)


class TrialIdentity(ProtocolModel):
    id: Identifier
    title: str = Field(min_length=1)
    short_title: str | None = None
    version: str = Field(min_length=1, description="Protocol version (quote it: \"1.0\").")
    effective_date: dt.date = Field(description="Date this version of the protocol took effect.")
    registry_ids: list[RegistryId] = Field(default_factory=list)
    sponsor: str = Field(min_length=1)
    phase: str | None = None
    conditions: list[str] = Field(default_factory=list, description="The conditions or diseases studied, as a "
                                  "registry lists them (e.g. COVID-19; ARDS).")
    blinding: Blinding = Blinding.OPEN_LABEL
    description: str | None = None
    retention_years: int = Field(
        default=25, ge=2, le=100, description="Years the trial's records, audit trail and archive are kept after "
        "its database lock (EU Clinical Trials Regulation 536/2014 Art. 58: at least 25 years; 21 CFR 312.62(c): "
        "2 years after approval).")


class Protocol(ProtocolModel):
    """A trial protocol. ``in_force(date)`` gives the protocol after the amendments effective by then."""

    format_version: Literal[1] = 1
    trial: TrialIdentity
    arms: list[Arm] = Field(min_length=1)
    randomization: Randomization | None = None
    sites: list[Site] = Field(min_length=1)
    enrolment: Enrolment
    eligibility: list[Criterion] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(min_length=1)
    visits: list[Visit] = Field(default_factory=list)
    forms: list[Form] = Field(default_factory=list)
    analysis: AnalysisPlan | None = None
    amendments: list[Amendment] = Field(default_factory=list)
    further_randomizations: list[FurtherRandomization] = Field(
        default_factory=list, description="Factorial parts and later re-randomizations (RECOVERY's second "
        "randomization), each randomizing patients already randomized in the main part.")
    adaptive: AdaptivePlatform | None = Field(
        default=None, description="An adaptive platform: the Bayesian model, adaptive analyses, allocation rule "
        "and decision rules per arm (see ``equipoise.protocol.adaptive_platform``).")

    def arm(self, arm_id: str) -> Arm | None:
        return next((a for a in self.arms if a.id == arm_id), None)

    def further_randomization(self, part_id: str) -> FurtherRandomization | None:
        return next((r for r in self.further_randomizations if r.id == part_id), None)

    def part_protocol(self, part: FurtherRandomization) -> Protocol:
        """The part read as a protocol of its own (see ``equipoise.protocol.further_randomization``)."""
        return self.model_copy(update={
            "trial": self.trial.model_copy(update={"blinding": part.blinding}),
            "arms": part.arms, "randomization": part.randomization,
            "sites": [site.model_copy(update={"arms": None}) for site in self.sites],
            "enrolment": self.enrolment.model_copy(update={"fields": [*self.enrolment.fields, *part.fields]}),
            "eligibility": part.eligibility, "analysis": None, "amendments": [], "further_randomizations": [],
            "adaptive": None})

    def site(self, site_id: str) -> Site | None:
        return next((s for s in self.sites if s.id == site_id), None)

    def outcome(self, outcome_id: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.id == outcome_id), None)

    def form(self, form_id: str) -> Form | None:
        return next((f for f in self.forms if f.id == form_id), None)

    def arms_at_site(self, site_id: str) -> list[Arm]:
        """Arms a patient at this site can be randomized to (all arms in force unless the site restricts)."""
        site = self.site(site_id)
        if site is None:
            raise KeyError(site_id)
        if site.arms is None:
            return list(self.arms)
        return [a for a in self.arms if a.id in site.arms]

    @property
    def is_controlled(self) -> bool:
        return len(self.arms) > 1

    @property
    def control_arm(self) -> Arm | None:
        """The arm that experimental arms are compared with."""
        if self.analysis is not None and self.analysis.control_arm is not None:
            return self.arm(self.analysis.control_arm)
        controls = [a for a in self.arms if a.role.is_control]
        return controls[0] if len(controls) == 1 else None

    def in_force(self, on: dt.date) -> Protocol:
        """The protocol as amended by every amendment effective on or before ``on``."""
        if on < self.trial.effective_date:
            raise ValueError(
                f"no protocol was in force on {on.isoformat()}: version {self.trial.version} "
                f"took effect on {self.trial.effective_date.isoformat()}"
            )
        current = self
        for amendment in sorted(self.amendments, key=lambda a: a.effective_date):
            if amendment.effective_date > on:
                break
            current = apply_amendment(current, amendment)
        return current

    def versions(self) -> list[tuple[str, dt.date]]:
        """Every version of the protocol with the date it took effect, oldest first."""
        base = [(self.trial.version, self.trial.effective_date)]
        return base + sorted(((a.version, a.effective_date) for a in self.amendments), key=lambda v: v[1])

    def summary_dict(self) -> dict[str, object]:
        """A JSON-ready dump that keeps enum values and dates as strings."""
        return self.model_dump(mode="json", exclude_none=True)

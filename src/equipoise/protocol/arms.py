"""Treatment arms."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from equipoise.protocol.base import MAX_ALLOCATION_WEIGHT, Identifier, ProtocolModel


class ArmRole(StrEnum):
    EXPERIMENTAL = "experimental"
    ACTIVE_CONTROL = "active-control"
    PLACEBO = "placebo"
    USUAL_CARE = "usual-care"

    @property
    def is_control(self) -> bool:
        return self is not ArmRole.EXPERIMENTAL


class InterventionType(StrEnum):
    """What an arm gives, as ClinicalTrials.gov classifies interventions (its "Intervention Type")."""

    DRUG = "drug"
    BIOLOGICAL = "biological"
    DEVICE = "device"
    PROCEDURE = "procedure"
    RADIATION = "radiation"
    BEHAVIORAL = "behavioral"
    GENETIC = "genetic"
    DIETARY_SUPPLEMENT = "dietary-supplement"
    COMBINATION_PRODUCT = "combination-product"
    DIAGNOSTIC_TEST = "diagnostic-test"
    OTHER = "other"

    @property
    def registry_name(self) -> str:
        """The API v2 enum spelling (``DIETARY_SUPPLEMENT``)."""
        return self.value.upper().replace("-", "_")


class Arm(ProtocolModel):
    id: Identifier
    name: str = Field(min_length=1)
    role: ArmRole
    allocation: float = Field(default=1.0, gt=0, le=MAX_ALLOCATION_WEIGHT, description="Allocation weight, e.g. 2 for "
                              "2:1.")
    kit_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{1,8}$",
        description="Prefix of blinded kit codes; must be the same for every arm of a blinded trial.",
    )
    excluded_if: list[Identifier] = Field(
        default_factory=list,
        description="Yes/no enrolment fields (contraindications): a patient with any of them set to yes is "
        "randomized among the other arms.",
    )
    description: str | None = None
    intervention_type: InterventionType | None = Field(
        default=None, description="What the arm gives, as ClinicalTrials.gov classifies it (drug, biological, "
        "device, procedure, ...; a cell therapy is biological): the registration record's intervention type.")

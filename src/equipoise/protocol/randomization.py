"""How patients are allocated to arms: the method, its settings, and the factors it balances on."""

from __future__ import annotations

import bisect
import itertools
from enum import StrEnum

from pydantic import Field

from equipoise.protocol.base import Identifier, ProtocolModel, format_number

SITE_FIELD = "site"
"""A factor whose ``field`` is ``site`` takes the enrolling site as its level."""


class RandomizationMethod(StrEnum):
    SIMPLE = "simple"
    PERMUTED_BLOCKS = "permuted-blocks"
    MINIMIZATION = "minimization"
    RESPONSE_ADAPTIVE = "response-adaptive"
    LIST = "list"  # a pre-generated list uploaded by the unblinded statistician


class Factor(ProtocolModel):
    """A stratification or minimization factor, derived from one enrolment field (or the site).

    A choice or boolean field gives one level per value. A numeric field is cut at ``cutpoints``:
    level i holds values in [cutpoints[i-1], cutpoints[i]).
    """

    id: Identifier
    field: Identifier = Field(description="Enrolment field the factor is read from, or 'site'.")
    levels: list[str] | None = Field(
        default=None, description="Level names; default: the field's choices, or generated from cutpoints."
    )
    cutpoints: list[float] | None = Field(default=None, description="Cut points of a numeric field, increasing.")

    def level_names(self, field_choices: list[str] | None = None) -> list[str]:
        if self.levels is not None:
            return list(self.levels)
        if self.cutpoints is not None:
            cuts = [format_number(c) for c in self.cutpoints]
            return [f"<{cuts[0]}", *(f"{a}-<{b}" for a, b in itertools.pairwise(cuts)), f">={cuts[-1]}"]
        return list(field_choices or [])

    def level_of(self, value: object) -> str:
        """The level a patient's field value falls in (for numeric fields, via the cut points)."""
        if self.cutpoints is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return self.level_names()[bisect.bisect_right(self.cutpoints, float(value))]
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)


class MinimizationSettings(ProtocolModel):
    """Pocock & Simon (1975) minimization with a random element."""

    weights: dict[Identifier, float] = Field(description="Factor id -> weight in the total imbalance.")
    probability: float = Field(
        default=0.8, gt=0, le=1, description="Probability of the arm that minimizes imbalance (1 = deterministic)."
    )
    imbalance: str = Field(default="range", pattern="^(range|variance|sd)$")
    ratio_preserving: bool = Field(
        default=True,
        description="Unequal allocation: balance on equal virtual arms so every patient's probability of each "
        "arm is the allocation ratio (Kuznetsova & Tymofyeyev); false divides counts by the ratio instead.",
    )


class AdaptiveSettings(ProtocolModel):
    """Response-adaptive randomization: probabilities come from the statisticians at each update."""

    burn_in: int = Field(default=0, ge=0, description="Patients allocated by the fixed weights before adapting.")
    floor: float = Field(default=0.0, ge=0, lt=1, description="Smallest probability any active arm may get.")
    control_share: float | None = Field(
        default=None, gt=0, lt=1, description="Fixed probability kept for the control arm."
    )
    ceiling: float | None = Field(
        default=None, gt=0, le=1, description="Largest probability any arm whose share comes from the table may get."
    )


class Randomization(ProtocolModel):
    method: RandomizationMethod
    factors: list[Factor] = Field(default_factory=list)
    stratify_by: list[Identifier] = Field(
        default_factory=list, description="Factors that define separate randomization lists (strata)."
    )
    block_sizes: list[int] | None = Field(
        default=None, description="Permuted blocks: sizes drawn at random, each a multiple of the weight sum."
    )
    minimization: MinimizationSettings | None = None
    adaptive: AdaptiveSettings | None = None
    list_alert_at: float = Field(
        default=0.8, gt=0, le=1,
        description="Method list: the share of a stratum's entries used at which the unblinded roles are alerted "
        "to upload a longer list (RND-9).",
    )

    def factor(self, factor_id: str) -> Factor | None:
        return next((f for f in self.factors if f.id == factor_id), None)

"""Further randomizations: parts of a trial that randomize a patient again, after the main randomization.

RECOVERY (Horby et al., NEJM 2021; protocol v.14 §2.4) randomized its patients in a factorial design (a second,
independent comparison alongside the main one) and later offered a *second randomization* to patients whose
disease progressed (tocilizumab versus usual care). Each such part has its own arms, method, eligibility and
the few values asked at that moment (say, C-reactive protein and oxygen saturation). A part is open label, or
blinded like COVID-OUT's 2x3 factorial of metformin, ivermectin and fluvoxamine against placebos (Bramante et
al., NEJM 2022): then its arms share a kit code prefix, sites see the kit code only, and the part's arm is
masked wherever the main arm is, until the trial's planned unblinding or a patient's emergency unblinding.

The server reads a part as a protocol of its own (``part_protocol``): its arms and randomization, the enrolment
fields plus the part's fields, its eligibility, and every site offering every arm of the part. So the part is
checked, allocated and replayed by exactly the code that serves the main randomization.
"""

from __future__ import annotations

from pydantic import Field

from equipoise.protocol.arms import Arm
from equipoise.protocol.base import Identifier, ProtocolModel
from equipoise.protocol.blinding import Blinding
from equipoise.protocol.eligibility import Criterion
from equipoise.protocol.fields import DataField
from equipoise.protocol.randomization import Randomization


class FurtherRandomization(ProtocolModel):
    id: Identifier
    name: str = Field(min_length=1, description="e.g. Second randomization: tocilizumab for progressive disease.")
    arms: list[Arm] = Field(min_length=2, description="The part's own arms.")
    blinding: Blinding = Field(default=Blinding.OPEN_LABEL, description="open-label (the default), single-blind "
                               "or double-blind; a blinded part needs a blinded trial and a kit code prefix.")
    randomization: Randomization = Field(description="Method simple, permuted-blocks or minimization; factors read "
                                         "enrolment fields, the part's fields or the site.")
    fields: list[DataField] = Field(default_factory=list,
                                    description="Values asked when the patient is randomized in this part.")
    eligibility: list[Criterion] = Field(
        default_factory=list,
        description="Criteria on the enrolment values as they stand and on the part's fields, evaluated at this "
        "randomization.")
    description: str | None = None

    def arm(self, arm_id: str) -> Arm | None:
        return next((a for a in self.arms if a.id == arm_id), None)

    @property
    def control_arm(self) -> Arm | None:
        """The part's one arm with a control role (placebo, usual care), which its comparisons take as control."""
        controls = [a for a in self.arms if a.role.is_control]
        return controls[0] if len(controls) == 1 else None

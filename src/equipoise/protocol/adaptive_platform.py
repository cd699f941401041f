"""The adaptive platform section: the Bayesian model, the adaptive analyses, the allocation rule and the
decision rules that the design, the simulation and the trial's own analyses all read.

A platform compares several experimental arms with one shared control at frequent adaptive analyses (RECOVERY,
REMAP-CAP, SOLIDARITY). At each analysis every arm's posterior is computed from the outcome data then available,
the decision rules are applied to the arms with enough patients, and the next allocation table is derived.

References
----------
Angus DC et al. The REMAP-CAP design. *Ann Am Thorac Soc* 2020;17:879-891 (Bayesian proportional-odds primary
model, Thompson-type response-adaptive randomization, posterior thresholds 0.99 / 0.01).
Granholm A et al. adaptr: an R package for simulating and comparing adaptive clinical trials. *JOSS*
2022;7:4284 (superiority, inferiority, equivalence and futility rules; ``soften_power``; square-root control).
Thall PF, Wathen JK. Practical Bayesian adaptive randomisation. *Eur J Cancer* 2007;43:859-866 (tempering).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from equipoise.protocol.base import Identifier, ProtocolModel


class PlatformModel(StrEnum):
    BETA_BINOMIAL = "beta-binomial"
    PROPORTIONAL_ODDS = "bayesian-proportional-odds"


class BetaPrior(ProtocolModel):
    """Beta(alpha, beta) prior on each arm's event probability (Beta(1, 1) is uniform)."""

    alpha: float = Field(default=1.0, gt=0)
    beta: float = Field(default=1.0, gt=0)


class OutcomeModel(ProtocolModel):
    """The Bayesian model of the outcome the rules read.

    beta-binomial: independent Beta priors per arm, conjugate posteriors. bayesian-proportional-odds: logit
    P(Y > j) = beta_arm - theta_j (a positive beta_arm shifts patients to higher levels), the control's beta fixed
    at 0, Normal(0, log_or_sd^2) on every other arm's log odds ratio and Normal(0, intercept_sd^2) on each cut
    point; the posterior by the Laplace approximation.
    """

    type: PlatformModel
    prior: BetaPrior | None = Field(default=None, description="beta-binomial: the prior of every arm.")
    log_or_sd: float | None = Field(
        default=None, gt=0, description="bayesian-proportional-odds: prior SD of each arm's log odds ratio "
        "(REMAP-CAP: 1, so an odds ratio beyond 7.1 is a priori 2.5% likely).")
    intercept_sd: float | None = Field(
        default=None, gt=0, description="bayesian-proportional-odds: prior SD of each cut point (weakly "
        "informative; default 10).")

    @property
    def beta_prior(self) -> BetaPrior:
        return self.prior if self.prior is not None else BetaPrior()


class AnalysisSchedule(ProtocolModel):
    """When the adaptive analyses happen: every N patients with outcome data, or every N days."""

    every_patients: int | None = Field(default=None, gt=0, description="Patients with outcome data between "
                                       "analyses.")
    every_days: int | None = Field(default=None, gt=0, description="Calendar days between analyses.")
    first_at: int | None = Field(default=None, gt=0, description="Patients with outcome data at the first "
                                 "analysis (default: every_patients).")
    max_patients: int = Field(gt=0, description="The platform stops randomizing at this many patients.")


class AllocationRule(StrEnum):
    FIXED = "fixed"
    THOMPSON = "thompson"


class Allocation(ProtocolModel):
    """How the next allocation table is derived from the posteriors.

    thompson: each non-control arm's share is proportional to P(arm is the best non-control arm)^power (power 1:
    Thompson's rule; below 1 tempers it towards equal allocation), then bounded to [floor, cap]. The control's
    share is fixed by the square-root rule sqrt(k)/(sqrt(k)+k) for k active experimental arms, or is a fixed
    number.
    """

    rule: AllocationRule
    power: float = Field(default=1.0, ge=0, le=1, description="Tempering of the RAR probabilities (0 = equal).")
    floor: float = Field(default=0.0, ge=0, lt=1, description="Smallest share of any active experimental arm.")
    cap: float = Field(default=1.0, gt=0, le=1, description="Largest share of any active experimental arm.")
    control: Literal["sqrt"] | float = Field(
        default="sqrt", description="sqrt (square-root rule) or a fixed probability in (0, 1).")


class Action(StrEnum):
    DROP_ARM = "drop-arm"
    STOP_PLATFORM = "stop-platform"
    PROMOTE_TO_CONTROL = "promote-to-control"


class DecisionRule(ProtocolModel):
    """A posterior-probability threshold, an optional margin, and what happens when it is crossed."""

    probability: float = Field(gt=0, lt=1)
    margin: float | None = Field(
        default=None, description="Binary: an absolute risk difference; ordinal: an odds ratio (>= 1).")
    action: Action


class DecisionRules(ProtocolModel):
    """Rules per experimental arm against the current control, read at every adaptive analysis.

    superiority: P(arm better than control) > probability. inferiority: P(arm better than control) < probability.
    futility: P(arm better than control by more than margin) < probability. equivalence: P(|difference| < margin)
    > probability. No rule acts on an arm before ``min_patients_per_arm`` of its patients (and the control's)
    have outcome data.
    """

    min_patients_per_arm: int = Field(default=0, ge=0)
    superiority: DecisionRule | None = None
    inferiority: DecisionRule | None = None
    futility: DecisionRule | None = None
    equivalence: DecisionRule | None = None

    def rules(self) -> dict[str, DecisionRule]:
        named = {"superiority": self.superiority, "inferiority": self.inferiority, "futility": self.futility,
                 "equivalence": self.equivalence}
        return {name: rule for name, rule in named.items() if rule is not None}


class AdaptivePlatform(ProtocolModel):
    """The ``adaptive`` section of a protocol."""

    outcome: Identifier = Field(description="The outcome the decision rules and the allocation rule read.")
    model: OutcomeModel
    secondary_outcomes: list[Identifier] = Field(
        default_factory=list, description="Outcomes whose posteriors are reported at each analysis, no rules.")
    analyses: AnalysisSchedule
    allocation: Allocation
    decisions: DecisionRules

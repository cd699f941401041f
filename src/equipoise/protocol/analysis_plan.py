"""The statistical analysis plan: comparisons, error rates, planned looks and spending functions."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from equipoise.protocol.base import Identifier, ProtocolModel
from equipoise.protocol.outcomes import OutcomeType


class SpendingFamily(StrEnum):
    """Error-spending families (Lan & DeMets 1983; Hwang, Shih & DeCani 1990; Kim & DeMets 1987) and the
    classical constant-shape designs (Pocock 1977; O'Brien & Fleming 1979)."""

    OBRIEN_FLEMING = "obf"
    POCOCK = "pocock"
    HWANG_SHIH_DECANI = "hsd"
    KIM_DEMETS = "kd"
    OF_CONSTANT = "of-constant"
    POCOCK_CONSTANT = "pocock-constant"


class AnalysisMethod(StrEnum):
    PROPORTION = "proportion"  # single-arm description only
    RISK_DIFFERENCE = "risk-difference"
    RISK_RATIO = "risk-ratio"
    ODDS_RATIO = "odds-ratio"
    MANTEL_HAENSZEL = "mantel-haenszel"
    LOGISTIC = "logistic"
    PROPORTIONAL_ODDS = "proportional-odds"
    WILCOXON = "wilcoxon"
    BAYESIAN_PROPORTIONAL_ODDS = "bayesian-proportional-odds"
    LOGRANK = "logrank"
    COX = "cox"
    CUMULATIVE_INCIDENCE = "cumulative-incidence"
    MEAN_DIFFERENCE = "mean-difference"
    ANCOVA = "ancova"


METHODS_BY_OUTCOME: dict[OutcomeType, frozenset[AnalysisMethod]] = {
    OutcomeType.BINARY: frozenset({
        AnalysisMethod.PROPORTION, AnalysisMethod.RISK_DIFFERENCE, AnalysisMethod.RISK_RATIO,
        AnalysisMethod.ODDS_RATIO, AnalysisMethod.MANTEL_HAENSZEL, AnalysisMethod.LOGISTIC,
    }),
    OutcomeType.ORDINAL: frozenset({
        AnalysisMethod.PROPORTIONAL_ODDS, AnalysisMethod.WILCOXON, AnalysisMethod.BAYESIAN_PROPORTIONAL_ODDS,
    }),
    OutcomeType.TIME_TO_EVENT: frozenset({
        AnalysisMethod.LOGRANK, AnalysisMethod.COX, AnalysisMethod.CUMULATIVE_INCIDENCE,
    }),
    OutcomeType.CONTINUOUS: frozenset({AnalysisMethod.MEAN_DIFFERENCE, AnalysisMethod.ANCOVA}),
}
SINGLE_ARM_METHODS = frozenset({AnalysisMethod.PROPORTION})


class Spending(ProtocolModel):
    spending: SpendingFamily
    gamma: float | None = Field(default=None, description="Hwang-Shih-DeCani parameter (hsd only).")
    rho: float | None = Field(default=None, gt=0, description="Kim-DeMets power (kd only).")

    @field_validator("spending", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class FutilitySpending(Spending):
    binding: bool = Field(default=False, description="Binding futility lets the efficacy bounds be lowered.")


class Looks(ProtocolModel):
    information_rates: list[float] = Field(
        min_length=1, max_length=20, description="Information fraction at each look, increasing, ending at 1."
    )
    efficacy: Spending
    futility: FutilitySpending | None = None


class IntercurrentStrategy(StrEnum):
    TREATMENT_POLICY = "treatment-policy"
    COMPOSITE = "composite"
    HYPOTHETICAL = "hypothetical"
    WHILE_ON_TREATMENT = "while-on-treatment"
    PRINCIPAL_STRATUM = "principal-stratum"


class IntercurrentEvent(ProtocolModel):
    event: str
    strategy: IntercurrentStrategy


class Estimand(ProtocolModel):
    """The ICH E9(R1) attributes that the outcome and arms do not already state."""

    population: str
    summary: str = Field(description="Population-level summary, e.g. common odds ratio.")
    intercurrent_events: list[IntercurrentEvent] = Field(default_factory=list)


class Assumptions(ProtocolModel):
    """Effect and nuisance values the trial is sized for; which ones apply depends on the outcome type."""

    p_control: float | None = Field(default=None, gt=0, lt=1)
    p_treatment: float | None = Field(default=None, gt=0, lt=1)
    control_distribution: list[float] | None = Field(default=None, description="Ordinal: P(level) in control.")
    odds_ratio: float | None = Field(default=None, gt=0)
    hazard_ratio: float | None = Field(default=None, gt=0)
    median_control: float | None = Field(default=None, gt=0, description="Time-to-event: months or days.")
    accrual: float | None = Field(default=None, gt=0)
    follow_up: float | None = Field(default=None, ge=0)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    delta: float | None = None
    sd: float | None = Field(default=None, gt=0)


ASSUMPTIONS_BY_OUTCOME: dict[OutcomeType, tuple[frozenset[str], frozenset[str]]] = {
    # outcome type -> (required, allowed) assumption names
    OutcomeType.BINARY: (frozenset({"p_control", "p_treatment"}), frozenset({"p_control", "p_treatment"})),
    OutcomeType.ORDINAL: (
        frozenset({"control_distribution", "odds_ratio"}), frozenset({"control_distribution", "odds_ratio"})
    ),
    OutcomeType.TIME_TO_EVENT: (
        frozenset({"hazard_ratio"}),
        frozenset({"hazard_ratio", "median_control", "accrual", "follow_up", "dropout", "p_control"}),
    ),
    OutcomeType.CONTINUOUS: (frozenset({"delta", "sd"}), frozenset({"delta", "sd"})),
}


class Comparison(ProtocolModel):
    outcome: Identifier
    method: AnalysisMethod
    part: Identifier | None = Field(
        default=None, description="A further randomization (a factorial part) whose arms this secondary comparison "
        "compares: its experimental arms against its one control arm, among the patients randomized in it.")
    estimand: Estimand | None = None
    covariates: list[Identifier] = Field(default_factory=list, description="Enrolment fields or factors.")
    strata: list[Identifier] = Field(default_factory=list, description="Enrolment fields or factors.")
    assumptions: Assumptions | None = None


class AnalysisPlan(ProtocolModel):
    population: str = "intention-to-treat"
    sided: Literal[1, 2] = 1
    alpha: float = Field(gt=0, lt=0.5)
    power: float | None = Field(default=None, gt=0, lt=1)
    control_arm: Identifier | None = Field(default=None, description="Default: the one arm with a control role.")
    looks: Looks | None = None
    primary: Comparison
    secondary: list[Comparison] = Field(default_factory=list)

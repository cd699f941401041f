"""A GRADE-style certainty summary for one pooled outcome: the body of randomized evidence starts at high
certainty and is rated down, domain by domain, each downgrade with its reason.

The rules are explicit so that anyone can redo them by hand (GRADE asks for judgement; these are the defaults
that the judgement starts from, and every number they use is printed):

- Risk of bias (Guyatt et al. 2011, GRADE 4): each trial is at low, some or high risk, from a stated
  ``risk_of_bias`` or from its design flags (not randomized or allocation not concealed: high; not blinded, or
  concealment not reported: some). The judgement follows the weight of the evidence (the "majority rule" of
  CINeMA): rate down one level when trials at some or high risk carry at least half of the pooled weight, two
  when trials at high risk alone carry at least half. Trials without flags are "not stated" and are rated
  down as "some concerns" (GRADE 4: unclear reporting is a limitation).
- Inconsistency (GRADE 7): rate down one level when I^2 >= 50% ("substantial", Cochrane Handbook 10.10.2), or
  when the 95% prediction interval crosses the decision threshold while the confidence interval does not (the
  trials' true effects may lie on both sides); two when I^2 >= 75% ("considerable") and the prediction
  interval crosses the threshold. One trial: not applicable.
- Imprecision (GRADE 6): rate down one level when the 95% CI includes the decision threshold, and one more
  when it includes both appreciable benefit and appreciable harm (for ratios GRADE's default is a relative
  change of 25%: below 0.75 and above 1.25) or when the optimal information size is not reached (from the
  trial sequential analysis: the accrued patients below the diversity-adjusted required information size, and
  no monitoring boundary crossed; GRADE 6 and Wetterslev et al. 2017 / Castellini et al. 2018). At most two.
- Indirectness (GRADE 8) and publication bias (GRADE 5): the user's judgement, given as a level with a reason.
  Publication bias is also rated down one level when Egger's test gives p < 0.10 with at least 10 trials
  (Sterne et al. 2011); with fewer trials the test is not run and the summary says so.

Certainty: high (no downgrade), moderate (1), low (2), very low (3 or more).

References
----------
Schünemann H, Brożek J, Guyatt G, Oxman A (eds) (2013). GRADE Handbook for grading quality of evidence and
strength of recommendations, sections 5.1-5.2. Guyatt GH et al. (2011). GRADE guidelines: 4. Rating the quality
of evidence - study limitations (risk of bias). J Clin Epidemiol 64:407-415; 5. publication bias. 64:1277-1282;
6. imprecision. 64:1283-1293; 7. inconsistency. 64:1294-1302; 8. indirectness. 64:1303-1310.
Nikolakopoulou A et al. (2020). CINeMA: an approach for assessing confidence in the results of a network
meta-analysis. PLoS Med 17:e1003082 (weighted majority rule for risk of bias). Higgins JPT et al. (eds) (2023).
Cochrane Handbook for Systematic Reviews of Interventions, section 10.10.2 (I^2 thresholds). Sterne JAC et al.
(2011). Recommendations for examining and interpreting funnel plot asymmetry. BMJ 343:d4002. Castellini G et al.
(2018). Assessing imprecision in Cochrane systematic reviews: a comparison of GRADE and Trial Sequential
Analysis. Syst Rev 7:110.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np

from equipoise.errors import UserError
from equipoise.evidence.egger import EggerTest
from equipoise.evidence.pooled import Pooled
from equipoise.evidence.tsa import TrialSequentialAnalysis

SUBSTANTIAL_I2 = 50.0
CONSIDERABLE_I2 = 75.0
APPRECIABLE_RATIO = 0.25  # GRADE 6: a relative change of 25% is "appreciable" by default
EGGER_MIN_TRIALS = 10
EGGER_ALPHA = 0.10


class Bias(IntEnum):
    LOW = 0
    SOME = 1
    HIGH = 2

    @property
    def label(self) -> str:
        return {Bias.LOW: "low", Bias.SOME: "some concerns", Bias.HIGH: "high"}[self]


class Concern(StrEnum):
    """A user's judgement of indirectness or publication bias."""

    NONE = "none"
    SERIOUS = "serious"
    VERY_SERIOUS = "very-serious"

    @property
    def levels(self) -> int:
        return {Concern.NONE: 0, Concern.SERIOUS: 1, Concern.VERY_SERIOUS: 2}[self]


def parse_concern(text: str, option: str) -> Concern:
    try:
        return Concern(text.strip().lower().replace(" ", "-").replace("_", "-"))
    except ValueError:
        raise UserError(f"{option}: {text!r} is not one of none, serious, very-serious") from None


def parse_bias(text: str) -> Bias | None:
    """``low``, ``some`` (or ``some concerns``, ``unclear``, ``moderate``), ``high``; None when unrecognised."""
    t = text.strip().lower()
    if t in {"low", "l"}:
        return Bias.LOW
    if t in {"some", "some concerns", "some-concerns", "unclear", "moderate", "s", "u"}:
        return Bias.SOME
    if t in {"high", "h"}:
        return Bias.HIGH
    return None


@dataclass(frozen=True)
class TrialBias:
    """One trial's risk of bias and why."""

    study: str
    level: Bias
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "risk_of_bias": self.level.name.lower(), "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.study}: {self.level.label} risk of bias ({self.reason})"


def trial_bias(study: str, *, stated: Bias | None = None, randomized: bool | None = None,
               concealed: bool | None = None, blinded: bool | None = None) -> TrialBias:
    """The risk of bias of one trial: the stated level if given, else from its design flags (GRADE 4, table 2:
    lack of allocation concealment and of blinding; a non-randomized comparison is at high risk)."""
    if stated is not None:
        return TrialBias(study, stated, "as stated")
    if randomized is None and concealed is None and blinded is None:
        return TrialBias(study, Bias.SOME, "not stated")
    high, some = [], []
    if randomized is False:
        high.append("not randomized")
    if concealed is False:
        high.append("allocation not concealed")
    elif concealed is None:
        some.append("concealment not reported")
    if blinded is False:
        some.append("not blinded")
    elif blinded is None:
        some.append("blinding not reported")
    if high:
        return TrialBias(study, Bias.HIGH, "; ".join(high + some))
    if some:
        return TrialBias(study, Bias.SOME, "; ".join(some))
    return TrialBias(study, Bias.LOW, "randomized, concealed, blinded")


@dataclass(frozen=True)
class Domain:
    """One GRADE domain: how many levels it rates down (0, 1, 2) and the reasons."""

    name: str
    downgrade: int
    reasons: tuple[str, ...]

    @property
    def judgement(self) -> str:
        return ("not serious", "serious", "very serious")[self.downgrade]

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.name, "downgrade": self.downgrade, "judgement": self.judgement,
                "reasons": list(self.reasons)}

    def __str__(self) -> str:
        reasons = f": {'; '.join(self.reasons)}" if self.reasons else ""
        return f"{self.name}: {self.judgement} (-{self.downgrade}){reasons}"


LEVELS = ("very low", "low", "moderate", "high")


@dataclass(frozen=True)
class CertaintyAssessment:
    """The certainty of the pooled outcome: the domains and the resulting level."""

    outcome: str
    estimate_text: str
    threshold: float
    domains: tuple[Domain, ...]
    trials: tuple[TrialBias, ...]

    @property
    def total_downgrade(self) -> int:
        return sum(d.downgrade for d in self.domains)

    @property
    def certainty(self) -> str:
        return LEVELS[max(0, 3 - self.total_downgrade)]

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "estimate": self.estimate_text, "threshold": self.threshold,
                "start": "high", "certainty": self.certainty, "total_downgrade": self.total_downgrade,
                "domains": [d.to_dict() for d in self.domains], "trials": [t.to_dict() for t in self.trials]}

    def __str__(self) -> str:
        lines = [f"Certainty of the evidence (GRADE; Schünemann et al. 2013, Guyatt et al. 2011): {self.outcome}",
                 f"Pooled: {self.estimate_text}; decision threshold {self.threshold:g}",
                 "Randomized trials start at high certainty.", ""]
        for d in self.domains:
            down = f"-{d.downgrade}" if d.downgrade else " 0"
            lines.append(f"  {d.name:<18}{down:>3}  {d.judgement}: {'; '.join(d.reasons)}")
        lines += ["", f"Certainty: {self.certainty.upper()} ({self.total_downgrade} level"
                      f"{'' if self.total_downgrade == 1 else 's'} down)"]
        if self.trials:
            lines += ["", "Risk of bias by trial:"]
            lines += [f"  {t.study}: {t.level.label} ({t.reason})" for t in self.trials]
        return "\n".join(lines)


def risk_of_bias_domain(pooled: Pooled, trials: list[TrialBias]) -> Domain:
    """The weighted majority rule over the pooled weights (trials missing from ``trials`` count as not stated)."""
    by_study = {t.study: t for t in trials}
    w = np.asarray(pooled.weights, dtype=float)
    total = float(np.nansum(w))
    levels = [by_study[s].level if s in by_study else Bias.SOME for s in pooled.effects.studies]
    if total <= 0:
        w, total = np.ones(len(levels)), float(len(levels))
    high = sum(float(x) for x, lv in zip(w, levels, strict=True) if lv is Bias.HIGH) / total
    not_low = sum(float(x) for x, lv in zip(w, levels, strict=True) if lv is not Bias.LOW) / total
    share = (f"{100 * high:.0f}% of the weight from trials at high risk, {100 * not_low:.0f}% at some or high "
             f"risk")
    if high >= 0.5:
        return Domain("risk of bias", 2, (share,))
    if not_low >= 0.5:
        return Domain("risk of bias", 1, (share,))
    return Domain("risk of bias", 0, (share,))


def _crosses(low: float, high: float, threshold: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and low <= threshold <= high


def inconsistency_domain(pooled: Pooled, threshold: float) -> Domain:
    if pooled.effects.k < 2:
        return Domain("inconsistency", 0, ("one trial: not applicable",))
    n = pooled.natural
    reasons = [f"I^2 = {pooled.i2:.0f}%"]
    pi_known = pooled.method.is_random and math.isfinite(pooled.pi_lb)
    pi_crosses = pi_known and _crosses(n(pooled.pi_lb), n(pooled.pi_ub), threshold)
    ci_crosses = _crosses(n(pooled.ci_lb), n(pooled.ci_ub), threshold)
    if pi_known:
        reasons.append(f"95% prediction interval {n(pooled.pi_lb):.3g} to {n(pooled.pi_ub):.3g} "
                       f"{'crosses' if pi_crosses else 'does not cross'} {threshold:g}")
    else:
        reasons.append("no prediction interval (fixed-effect model)")
    if pooled.i2 >= CONSIDERABLE_I2 and pi_crosses:
        return Domain("inconsistency", 2, (*reasons, "considerable heterogeneity with true effects on both "
                                                     "sides of the threshold"))
    if pooled.i2 >= SUBSTANTIAL_I2:
        return Domain("inconsistency", 1, (*reasons, "substantial heterogeneity (I^2 >= 50%)"))
    if pi_crosses and not ci_crosses:
        return Domain("inconsistency", 1, (*reasons, "the trials' true effects may lie on both sides of the "
                                                     "threshold"))
    return Domain("inconsistency", 0, tuple(reasons))


def imprecision_domain(pooled: Pooled, threshold: float, appreciable: tuple[float, float] | None,
                       tsa: TrialSequentialAnalysis | None) -> Domain:
    n = pooled.natural
    low, high = n(pooled.ci_lb), n(pooled.ci_ub)
    reasons = [f"95% CI {low:.3g} to {high:.3g}"]
    down = 0
    if _crosses(low, high, threshold):
        down += 1
        reasons.append(f"the CI includes the threshold {threshold:g}")
        if appreciable is not None and low < appreciable[0] and high > appreciable[1]:
            down += 1
            reasons.append(f"and both appreciable benefit and harm (below {appreciable[0]:g}, above "
                           f"{appreciable[1]:g})")
    else:
        reasons.append(f"the CI excludes the threshold {threshold:g}")
    if tsa is None:
        reasons.append("information size not assessed (no trial sequential analysis)")
    elif tsa.crossing in ("benefit", "harm"):
        reasons.append(f"TSA: the z-curve crossed the monitoring boundary after {tsa.crossed_at}")
    elif tsa.accrued >= tsa.daris:
        reasons.append(f"TSA: the required information size ({math.ceil(tsa.daris):,}) is reached")
    else:
        down += 1
        reasons.append(f"TSA: {tsa.accrued:,.0f} of {math.ceil(tsa.daris):,} required patients "
                       f"({100 * tsa.accrued / tsa.daris:.0f}%), no boundary crossed")
    return Domain("imprecision", min(down, 2), tuple(reasons))


def judged_domain(name: str, concern: Concern, reason: str | None) -> Domain:
    if concern is Concern.NONE:
        return Domain(name, 0, (reason or "no concern stated",))
    if not reason:
        raise UserError(f"--{name.replace(' ', '-')} {concern.value}: give the reason "
                        f"(--{name.replace(' ', '-')}-reason TEXT)")
    return Domain(name, concern.levels, (reason,))


def publication_bias_domain(concern: Concern, reason: str | None, egger: EggerTest | None, k: int) -> Domain:
    base = judged_domain("publication bias", concern, reason)
    if k < EGGER_MIN_TRIALS:
        return Domain(base.name, base.downgrade, (*base.reasons, f"Egger's test not run ({k} trials, fewer than "
                                                                 f"{EGGER_MIN_TRIALS}; Sterne et al. 2011)"))
    if egger is None:
        return base
    text = f"Egger's test p = {egger.p_value:.3g}"
    if egger.p_value < EGGER_ALPHA:
        return Domain(base.name, min(2, max(base.downgrade, 1)), (*base.reasons, f"{text} (< {EGGER_ALPHA:g}): "
                                                                                  "funnel-plot asymmetry"))
    return Domain(base.name, base.downgrade, (*base.reasons, text))


def default_threshold(pooled: Pooled) -> float:
    """No effect: 1 for ratios, 0 for differences."""
    return 1.0 if pooled.measure.is_ratio else 0.0


def default_appreciable(pooled: Pooled) -> tuple[float, float] | None:
    """GRADE 6's default for ratios: 0.75 and 1.25; none for differences (give a minimal important difference)."""
    if pooled.measure.is_ratio:
        return (1 - APPRECIABLE_RATIO, 1 + APPRECIABLE_RATIO)
    return None


def assess_certainty(pooled: Pooled, trials: list[TrialBias], *, outcome: str = "pooled outcome",
                     threshold: float | None = None, appreciable: tuple[float, float] | None = None,
                     tsa: TrialSequentialAnalysis | None = None, egger: EggerTest | None = None,
                     indirectness: Concern = Concern.NONE, indirectness_reason: str | None = None,
                     publication_bias: Concern = Concern.NONE,
                     publication_bias_reason: str | None = None) -> CertaintyAssessment:
    """Rate the certainty of ``pooled`` (see the module docstring for the rules)."""
    thr = default_threshold(pooled) if threshold is None else threshold
    if pooled.measure.is_ratio and thr <= 0:
        raise UserError(f"--threshold: {thr:g} is not a ratio (it must be positive)")
    appr = default_appreciable(pooled) if appreciable is None else appreciable
    n = pooled.natural
    estimate = (f"{pooled.measure.label} {n(pooled.beta):.3g} (95% CI {n(pooled.ci_lb):.3g} to "
                f"{n(pooled.ci_ub):.3g}), {pooled.k} trials, {pooled.method.value}")
    domains = (
        risk_of_bias_domain(pooled, trials),
        inconsistency_domain(pooled, thr),
        judged_domain("indirectness", indirectness, indirectness_reason),
        imprecision_domain(pooled, thr, appr, tsa),
        publication_bias_domain(publication_bias, publication_bias_reason, egger, pooled.effects.k),
    )
    order = {s: i for i, s in enumerate(pooled.effects.studies)}
    shown = tuple(sorted((t for t in trials if t.study in order), key=lambda t: order[t.study]))
    return CertaintyAssessment(outcome, estimate, thr, domains, shown)

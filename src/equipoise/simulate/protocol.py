"""Simulate any protocol file: its primary comparison, planned looks and boundaries, under a stated effect.

The data come either from the protocol's own design assumptions (``analysis.primary.assumptions``) or, with a
natural history (``covid19``), from virtual patients: the control arm's outcome distribution is the natural
history's at the outcome day (for a time-to-event outcome, the day of discharge or death on the patients'
paths), and the treatment acts as a proportional-odds odds ratio on every daily transition. Boundaries come
from ``equipoise.design`` (``gsd``) for planned looks, or are the fixed-sample critical value when there are
none. The test statistic is the one `analyze interim` monitors for the protocol's method where the engine has
it: a binary outcome's risk or odds ratio is tested as the Wald z of its log (``ratio_endpoints``).

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC (the boundaries, through ``equipoise.design``).
Katz D, Baptista J, Azen SP, Pike MC (1978). Obtaining confidence intervals for the risk ratio in cohort
studies. Biometrics 34:469-474. Woolf B (1955). On estimating the relation between blood group and disease.
Ann Hum Genet 19:251-253 (the Wald tests of ``ratio_endpoints``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from equipoise.analyze.binary import RatioMeasure
from equipoise.design import GroupSequentialPlan, design_protocol
from equipoise.errors import UserError
from equipoise.protocol import AnalysisMethod, Better, Outcome, OutcomeType, Protocol
from equipoise.protocol.analysis_plan import Assumptions
from equipoise.simulate.day_events import DayEventEndpoint, EventKind, day_event_law
from equipoise.simulate.endpoints import (
    BinaryEndpoint,
    Endpoint,
    NormalEndpoint,
    OrdinalEndpoint,
    SurvivalEndpoint,
    po_treatment_distribution,
)
from equipoise.simulate.generators import PiecewiseExponential
from equipoise.simulate.group_sequential import SequentialPlan, simulate_group_sequential
from equipoise.simulate.natural_history.model import DEAD, DISCHARGED, NaturalHistory, Population
from equipoise.simulate.natural_history.outcomes import Paths
from equipoise.simulate.power_curve import PowerCurve
from equipoise.simulate.ratio_endpoints import BinaryRatioEndpoint

EFFECT_HELP = ("none, assumed (the protocol's design assumptions), or NAME=VALUE with NAME one of or (odds "
               "ratio), rr (risk ratio), hr (hazard ratio), rd (risk difference), p (treatment risk), delta (mean "
               "difference)")


def effect_meaning(kind: str, natural_history: bool = False) -> str:
    """What an effect NAME means, said every time: ``or`` is an odds ratio on the daily transitions of the WHO
    scale with a natural history, and an odds ratio of the outcome itself without one."""
    if kind == "or":
        return ("odds ratio on every daily transition of the WHO scale (proportional odds on the virtual patients' "
                "days), not an odds ratio of the outcome" if natural_history else
                "odds ratio of the outcome, experimental vs control (for an ordinal outcome the common "
                "proportional odds ratio), not a daily-transition odds ratio")
    return {
        "none": "no effect (the null hypothesis is true)",
        "assumed": "the effect of the protocol's design assumptions (analysis.primary.assumptions)",
        "rr": "risk ratio of the outcome, experimental / control",
        "hr": "hazard ratio, experimental / control",
        "rd": "risk difference of the outcome, experimental - control",
        "p": "risk of the outcome in the experimental arm (the control arm keeps the protocol's assumed risk)",
        "delta": "difference in means, experimental - control",
    }.get(kind, kind)


@dataclass(frozen=True)
class Effect:
    kind: str  # none | assumed | or | rr | hr | rd | p | delta
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> Effect:
        t = text.strip().lower()
        if t in ("none", "null", "0"):
            return cls("none")
        if t in ("assumed", "design", "alternative"):
            return cls("assumed")
        m = re.fullmatch(r"(or|rr|hr|rd|p|delta)\s*=\s*([-+]?\d*\.?\d+(?:e[-+]?\d+)?)", t)
        if m is None:
            raise UserError(f"--effect {text!r}: expected {EFFECT_HELP}")
        value = float(m.group(2))
        if m.group(1) in ("or", "rr", "hr") and value <= 0:
            raise UserError(f"--effect {text!r}: a ratio must be positive")
        if m.group(1) == "p" and not 0 <= value <= 1:
            raise UserError(f"--effect {text!r}: a risk must be between 0 and 1")
        return cls(m.group(1), value)

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}={self.value:g}"


@dataclass(frozen=True)
class ProtocolSimulation:
    endpoint: Endpoint
    plan: SequentialPlan
    null: bool
    scenario: dict[str, Any]
    notes: tuple[str, ...]


def plan_for(protocol: Protocol) -> SequentialPlan:
    """Boundaries of the protocol's analysis plan (from ``equipoise.design`` when there are planned looks)."""
    if protocol.analysis is None:
        raise UserError(f"{protocol.trial.id}: the protocol has no analysis section to simulate")
    plan = GroupSequentialPlan.from_protocol(protocol)
    if plan.looks == 1:
        return SequentialPlan((float(norm.ppf(1 - plan.alpha / plan.sided)),), alpha=plan.alpha,
                              information_rates=(1.0,), two_sided=plan.sided == 2)
    return SequentialPlan.from_design(plan.design())


def _arms(protocol: Protocol) -> tuple[str, str, float, list[str]]:
    control = protocol.control_arm
    if control is None:
        raise UserError(f"{protocol.trial.id}: no control arm; use `equipoise simulate single-arm`")
    experimental = [a for a in protocol.arms if a.id != control.id]
    notes = []
    if len(experimental) > 1:
        notes.append(f"{len(experimental)} experimental arms: simulated {experimental[0].id} vs {control.id} "
                     "(pairwise, with its allocation ratio); use `simulate platform` for the whole platform")
    return experimental[0].id, control.id, experimental[0].allocation / control.allocation, notes


def _planned(protocol: Protocol, plan: SequentialPlan, pair: tuple[str, str]) -> tuple[float, ...]:
    """Cumulative patients in the two compared arms at each look (their share of the target when more arms)."""
    target = protocol.enrolment.target
    if target is None:
        raise UserError(f"{protocol.trial.id}: enrolment.target.total (the maximum sample size) is needed")
    weights = {a.id: a.allocation for a in protocol.arms}
    share = (weights[pair[0]] + weights[pair[1]]) / sum(weights.values())
    rates = plan.information_rates or (1.0,)
    return tuple(round(target.total * share * r) for r in rates)


def _assumptions(protocol: Protocol) -> Assumptions:
    assert protocol.analysis is not None
    a = protocol.analysis.primary.assumptions
    if a is None:
        raise UserError(f"{protocol.trial.id}: analysis.primary.assumptions are needed to simulate the primary "
                        "outcome (or give --natural-history)")
    return a


def build(protocol: Protocol, effect: Effect, natural_history: NaturalHistory | None = None,
          population: Population | None = None, seed: int = 1) -> ProtocolSimulation:
    """The endpoint, boundaries and scenario for the protocol's primary comparison under ``effect``."""
    plan = plan_for(protocol)
    assert protocol.analysis is not None
    primary = protocol.analysis.primary
    outcome = protocol.outcome(primary.outcome)
    if outcome is None:
        raise UserError(f"analysis.primary.outcome {primary.outcome!r} is not an outcome of the protocol")
    exp_arm, ctrl_arm, ratio, notes = _arms(protocol)
    planned = _planned(protocol, plan, (exp_arm, ctrl_arm))
    scenario: dict[str, Any] = {"protocol": protocol.trial.id, "comparison": f"{exp_arm} vs {ctrl_arm}",
                                "outcome": outcome.id, "method": primary.method.value, "effect": str(effect),
                                "effect_meaning": effect_meaning(effect.kind, natural_history is not None)}
    null = effect.kind == "none"
    lower_better = outcome.better is Better.LOWER
    if natural_history is not None:
        if population is None:
            raise UserError("a natural-history simulation needs a population")
        endpoint = _natural_history_endpoint(outcome, primary.method, effect, natural_history, population,
                                             planned, ratio, seed, notes)
        scenario["natural_history"] = natural_history.name
    elif outcome.type is OutcomeType.ORDINAL:
        a = _assumptions(protocol)
        control = np.asarray(a.control_distribution or [], dtype=float)
        if lower_better is False:
            control = control[::-1]  # categories best first
        odds = {"none": 1.0, "assumed": a.odds_ratio}.get(effect.kind, effect.value if effect.kind == "or" else None)
        if odds is None:
            raise UserError(f"--effect {effect}: an ordinal outcome takes none, assumed or or=VALUE")
        endpoint = OrdinalEndpoint(tuple(control), float(odds), planned, ratio)
    elif outcome.type is OutcomeType.BINARY:
        a = _assumptions(protocol)
        if a.p_control is None:
            raise UserError("analysis.primary.assumptions.p_control is needed")
        pc = a.p_control
        pt = {"none": pc, "assumed": a.p_treatment, "p": effect.value,
              "rd": None if effect.value is None else pc + effect.value,
              "rr": None if effect.value is None else pc * effect.value}.get(effect.kind)
        if effect.kind == "or" and effect.value is not None:
            odds = pc / (1 - pc) * effect.value
            pt = odds / (1 + odds)
        if pt is None or not 0 <= pt <= 1:
            raise UserError(f"--effect {effect}: gives no valid treatment risk for a binary outcome")
        endpoint = binary_endpoint(pc, pt, planned, ratio, lower_better, primary.method, notes)
    elif outcome.type is OutcomeType.CONTINUOUS:
        a = _assumptions(protocol)
        if a.sd is None:
            raise UserError("analysis.primary.assumptions.sd is needed")
        delta = {"none": 0.0, "assumed": a.delta, "delta": effect.value}.get(effect.kind)
        if delta is None:
            raise UserError(f"--effect {effect}: a continuous outcome takes none, assumed or delta=VALUE")
        endpoint = NormalEndpoint(delta, a.sd, planned, ratio, higher_is_better=not lower_better)
    else:
        endpoint = _survival_endpoint(protocol, effect, plan, lower_better)
    null = null or abs(endpoint.true_effect) < 1e-12  # e.g. p=<the control risk> is no effect too
    if primary.covariates or primary.strata:
        notes.append("covariate adjustment and stratification are not simulated: the unadjusted test is used "
                     "(conservative when the covariates are prognostic)")
    return ProtocolSimulation(endpoint, plan, null, scenario, tuple(notes))


def binary_endpoint(pc: float, pt: float, planned: tuple[float, ...], ratio: float, lower_better: bool,
                    method: AnalysisMethod, notes: list[str]) -> Endpoint:
    """The test the protocol's method names, on its own scale, with the z `analyze interim` monitors: the log
    risk ratio (``risk-ratio``) or log odds ratio (``odds-ratio``, ``logistic``, ``mantel-haenszel``: the
    monitor takes the crude Woolf log odds ratio for these) with its Wald SE; the difference in proportions
    with the pooled variance (``risk-difference``)."""
    if method is AnalysisMethod.RISK_DIFFERENCE:
        return BinaryEndpoint(pc, pt, planned, ratio, higher_is_better=not lower_better)
    measure: RatioMeasure = "risk-ratio" if method is AnalysisMethod.RISK_RATIO else "odds-ratio"
    if method is AnalysisMethod.MANTEL_HAENSZEL:
        notes.append("the mantel-haenszel analysis is simulated unstratified, as the crude log odds ratio's Wald "
                     "test (the statistic `analyze interim` monitors for it)")
    if not (0 < pc < 1 and 0 < pt < 1):
        raise UserError(f"a {method.value} analysis needs event risks strictly between 0 and 1 in both arms, not "
                        f"{pc:g} (control) and {pt:g} (experimental)")
    return BinaryRatioEndpoint(pc, pt, planned, ratio, higher_is_better=not lower_better, measure=measure)


def _survival_endpoint(protocol: Protocol, effect: Effect, plan: SequentialPlan,
                       lower_better: bool) -> SurvivalEndpoint:
    a = _assumptions(protocol)
    hr = {"none": 1.0, "assumed": a.hazard_ratio, "hr": effect.value}.get(effect.kind)
    if hr is None or a.hazard_ratio is None:
        raise UserError(f"--effect {effect}: a time-to-event outcome takes none, assumed or hr=VALUE")
    # events per look as the design layer sizes them (Schoenfeld, inflated for the group-sequential plan)
    sized = design_protocol(protocol).primary
    if sized.events_per_look is None:
        raise UserError(f"{protocol.trial.id}: the design layer gives no number of events for the primary outcome")
    planned = tuple(max(1, math.ceil(e)) for e in sized.events_per_look)
    target = protocol.enrolment.target
    n_max = target.total if target is not None else math.ceil(sized.n_total or 2 * planned[-1])
    if n_max < planned[-1]:
        raise UserError(f"{protocol.trial.id}: {n_max} patients cannot give the {planned[-1]} events the design needs")
    median = _control_median(protocol, a)
    # better: lower means an earlier event is better (discharge), so a higher hazard is; higher: a later one (death)
    return SurvivalEndpoint(PiecewiseExponential.from_median(median), hr, planned, n_max, a.accrual or 12.0,
                            a.dropout or 0.0, 12.0, lower_hazard_is_better=not lower_better)


def _control_median(protocol: Protocol, a: Assumptions) -> float:
    """The control arm's median time, as the design layer reads the assumptions: ``median_control``, else an
    exponential through ``p_control`` at the outcome's day (median = day x ln 2 / -ln(1 - p_control))."""
    if a.median_control is not None:
        return a.median_control
    outcome = protocol.outcome(protocol.analysis.primary.outcome) if protocol.analysis is not None else None
    if a.p_control is not None and outcome is not None and outcome.day:
        return outcome.day * math.log(2.0) / -math.log1p(-a.p_control)
    raise UserError(f"{protocol.trial.id}: simulating a time-to-event primary needs the control arm's event times: "
                    "give analysis.primary.assumptions.median_control, or p_control with the outcome's day")


def _natural_history_endpoint(outcome: Outcome, method: AnalysisMethod, effect: Effect, model: NaturalHistory,
                              pop: Population, planned: tuple[float, ...], ratio: float, seed: int,
                              notes: list[str]) -> Endpoint:
    kind, outcome_id, event, day = outcome.type, outcome.id, outcome.event or "", outcome.day
    lower_better = outcome.better is Better.LOWER
    odds = {"none": 1.0, "or": effect.value}.get(effect.kind)
    if odds is None:
        raise UserError(f"--effect {effect}: with a natural history, give none or or=VALUE (the odds ratio on "
                        "every daily transition)")
    if day > 90:
        raise UserError(f"outcome day {day} is beyond what the natural history describes")
    if kind is OutcomeType.TIME_TO_EVENT:
        return _day_event_endpoint(outcome, model, pop, odds, planned, ratio, notes)
    ctrl = model.state_distribution(pop, days=day)[day]
    trt = model.state_distribution(pop, odds_ratio=odds, days=day)[day]
    if kind is OutcomeType.ORDINAL:
        endpoint = OrdinalEndpoint(tuple(ctrl), odds, planned, ratio, treatment=tuple(trt))
        return _with_true_po_effect(endpoint, ctrl, trt, ratio)
    if kind is OutcomeType.BINARY:
        text = f"{outcome_id} {event}".lower()
        if re.search(r"death|died|dead|mortality", text):
            pc, pt = ctrl[DEAD], trt[DEAD]
        elif "ct" in re.split(r"[_\W]+", text):
            pc, pt = _ct_probability(model, pop, day, 1.0, seed), _ct_probability(model, pop, day, odds, seed)
        elif re.search(r"discharg", text):
            pc, pt = ctrl[: DISCHARGED + 1].sum(), trt[: DISCHARGED + 1].sum()
        elif re.search(r"improv|recover", text):
            pc, pt = _improved(model, pop, day, 1.0), _improved(model, pop, day, odds)
        else:
            raise UserError(f"outcome {outcome_id}: the natural history gives death, discharge, improvement and "
                            "CT improvement; name the event accordingly or use the design assumptions")
        if odds != 1 and 0 < pc < 1 and 0 < pt < 1:
            outcome_or = (pt / (1 - pt)) / (pc / (1 - pc))
            notes.append(f"the daily-transition odds ratio {odds:g} gives {outcome_id} risks {pc:.3f} (control) and "
                         f"{pt:.3f} (experimental): a risk ratio of {pt / pc:.3f} and an outcome odds ratio of "
                         f"{outcome_or:.3f}")
        return binary_endpoint(float(pc), float(pt), planned, ratio, lower_better, method, notes)
    raise UserError(f"outcome {outcome_id}: a natural-history simulation supports ordinal (WHO scale), binary and "
                    "time-to-event outcomes; use the design assumptions for this one")


def _day_event_endpoint(outcome: Outcome, model: NaturalHistory, pop: Population, odds: float,
                        planned: tuple[float, ...], ratio: float, notes: list[str]) -> DayEventEndpoint:
    """Time to discharge alive (or to death) from the virtual patients' paths, censored at the outcome's day,
    the other event competing (censoring at its day) when the protocol lists it, as `analyze protocol` does."""
    text = f"{outcome.id} {outcome.event or ''}".lower()
    event: EventKind
    if re.search(r"discharg", text):
        event, other = "discharge", r"death|died|dead|mortality"
    elif re.search(r"death|died|dead|mortality", text):
        event, other = "death", r"discharg"
    else:
        raise UserError(f"outcome {outcome.id}: the natural history gives the day of discharge and of death; name "
                        "the event accordingly or use the design assumptions")
    competing = any(re.search(other, c.lower()) for c in outcome.competing_events)
    if outcome.competing_events and not competing:
        raise UserError(f"outcome {outcome.id}: competing events {outcome.competing_events} are not ones the "
                        "natural history has (death, discharge)")
    control = day_event_law(model, pop, outcome.day, event, competing)
    treatment = day_event_law(model, pop, outcome.day, event, competing, odds_ratio=odds)
    other_name = "death" if event == "discharge" else "discharge"
    censoring = "competes (censored on its day)" if competing else f"does not censor (followed to day {outcome.day})"
    notes.append(f"time to {event} by day {outcome.day} from the virtual patients' paths; {other_name} {censoring}; "
                 "each look analyses its patients after their full follow-up; log-rank test")
    return DayEventEndpoint(control, treatment, planned, ratio, earlier_is_better=outcome.better is Better.LOWER)


def _improved(model: NaturalHistory, pop: Population, day: int, odds: float) -> float:
    """P(alive and at least one level better than at baseline on ``day``), baseline level by baseline level."""
    total = 0.0
    for level, p in pop.start.items():
        dist = model.state_distribution(Population({level: 1.0}, pop.age, pop.setting_shift), odds, days=day)[day]
        total += p * dist[:level].sum()  # levels below baseline; death (10) is never below a hospital level
    return float(total)


def _ct_probability(model: NaturalHistory, pop: Population, day: int, odds: float, seed: int) -> float:
    """The CT proxy is path-dependent: estimated from 200,000 virtual patients (SE < 0.0012)."""
    rng = np.random.default_rng(seed)
    n = 200_000
    start = rng.choice(list(pop.start), size=n, p=list(pop.start.values()))
    groups = list(pop.age)
    shift = np.array([model.age_shift[g] for g in groups])[rng.choice(len(groups), size=n, p=list(pop.age.values()))]
    paths = model.simulate_paths(start, shift + pop.setting_shift, rng, np.log(odds), days=day)
    return float(Paths(paths, model.ct_lag_days).ct_improved_at(day).mean())


def _with_true_po_effect(endpoint: OrdinalEndpoint, ctrl: np.ndarray, trt: np.ndarray,
                         ratio: float) -> OrdinalEndpoint:
    """With a natural history the outcome is not exactly proportional-odds; the estimand is the probability
    limit of the one-step estimate (U / V at the expected distributions)."""

    @dataclass(frozen=True)
    class _Projected(OrdinalEndpoint):
        projected: float = 0.0

        @property
        def true_effect(self) -> float:
            return self.projected

    share_e = ratio / (1 + ratio)
    pbar = share_e * trt + (1 - share_e) * ctrl
    cum = np.cumsum(pbar)
    s = 1 - cum - np.concatenate([[0.0], cum[:-1]])
    projected = float((trt * s).sum() / ((1 - share_e) * (1 - (pbar ** 3).sum()) / 3))
    return _Projected(endpoint.control, endpoint.odds_ratio, endpoint.planned, endpoint.ratio, endpoint.treatment,
                      projected)


__all__ = ["EFFECT_HELP", "Effect", "ProtocolSimulation", "build", "effect_meaning", "plan_for",
           "po_treatment_distribution"]


def simulate_protocol(protocol: Protocol, effect: Effect, *, natural_history: NaturalHistory | None = None,
                      population: Population | None = None, n_trials: int = 10000, seed: int | None = 20200316,
                      scheduler: Any = None, progress: Any = None) -> Any:
    """Operating characteristics of the protocol's primary comparison under ``effect``."""
    sim = build(protocol, effect, natural_history, population, seed=seed or 1)
    return simulate_group_sequential(sim.endpoint, sim.plan, null=sim.null, n_trials=n_trials, seed=seed,
                                     scheduler=scheduler, progress=progress, scenario=sim.scenario, notes=sim.notes)


def power_curve(protocol: Protocol, kind: str, values: list[float], *, natural_history: NaturalHistory | None = None,
                population: Population | None = None, n_trials: int = 5000, seed: int | None = 20200316,
                scheduler: Any = None, progress: Any = None) -> Any:
    """Rejection probability and expected sample size over a range of effects (common random numbers: the
    same seed at every effect). ``progress(done, total)`` counts trials over all effects."""
    results = []
    for i, v in enumerate(values):
        def hook(done: int, total: int, offset: int = i * n_trials) -> None:
            if progress is not None:
                progress(offset + done, len(values) * n_trials)

        results.append(simulate_protocol(protocol, Effect.parse(f"{kind}={v}"), natural_history=natural_history,
                                         population=population, n_trials=n_trials, seed=seed, scheduler=scheduler,
                                         progress=hook))
    first = results[0]
    return PowerCurve(kind, values, [r.rejection_probability_futility_obeyed for r in results],
                      [r.mc_se for r in results], [r.expected_n for r in results],
                      protocol=protocol.trial.id, comparison=first.scenario["comparison"],
                      outcome=first.scenario["outcome"], method=first.scenario["method"], n_trials=n_trials,
                      effect_meaning=effect_meaning(kind, natural_history is not None),
                      null=[r.null for r in results], alpha=first.plan.alpha,
                      futility=first.plan.lower is not None, looks=first.plan.looks,
                      events=[r.expected_events for r in results])

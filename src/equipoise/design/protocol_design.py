"""Sizing a protocol's analysis plan: the primary comparison, its looks and spending, the arms' allocation.

The protocol's ``analysis`` section gives alpha, sidedness, power, the control arm, the planned looks with
their efficacy and futility spending, and the primary comparison's design assumptions; the arms' allocation
weights give the ratio. Each experimental arm is compared with the control arm (a platform trial's pairwise
comparisons; no multiplicity adjustment across arms is made here, as in RECOVERY's protocol).

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 2.7 (sizing a group-sequential design by its inflation factor).
RECOVERY Collaborative Group. Randomised Evaluation of COVid-19 thERapY: protocol, statistical analysis
section (pairwise comparisons against the shared control without multiplicity adjustment).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from equipoise.design.group_sequential import GroupSequentialDesign
from equipoise.design.sample_size import SampleSizeResult, power, sample_size
from equipoise.design.sequential_plan import GroupSequentialPlan
from equipoise.errors import UserError
from equipoise.protocol import Protocol
from equipoise.protocol.analysis_plan import AnalysisMethod, Comparison
from equipoise.protocol.outcomes import Better, Outcome, OutcomeType

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_POWER = 0.8

_BINARY_MEASURE = {
    AnalysisMethod.RISK_DIFFERENCE: "difference",
    AnalysisMethod.MANTEL_HAENSZEL: "difference",
    AnalysisMethod.RISK_RATIO: "risk-ratio",
    AnalysisMethod.ODDS_RATIO: "odds-ratio",
    AnalysisMethod.LOGISTIC: "odds-ratio",
}


@dataclass(frozen=True, eq=False)
class SecondaryPower:
    outcome: str
    method: str
    power: float | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "method": self.method, "power": self.power, "note": self.note}

    def __str__(self) -> str:
        value = f"power {self.power:.4f}" if self.power is not None else "power not computed"
        return f"Secondary {self.outcome} ({self.method}): {value}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True, eq=False)
class ProtocolDesign:
    """The size of a protocol's primary comparison and the boundaries its analysis plan implies.

    ``primary`` sizes one experimental arm against the control arm; ``trial_total`` adds the other
    experimental arms of the same weight (the whole trial, when every arm is compared with the control).
    """

    trial_id: str
    version: str
    primary_outcome: str
    control_arm: str
    experimental_arms: tuple[str, ...]
    ratio: float
    primary: SampleSizeResult
    trial_total: float | None
    target_total: int | None
    power_at_target: float | None
    secondary: tuple[SecondaryPower, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def design(self) -> GroupSequentialDesign:
        return self.primary.design

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial_id, "version": self.version, "primary_outcome": self.primary_outcome,
            "control_arm": self.control_arm, "experimental_arms": list(self.experimental_arms),
            "ratio": self.ratio, "trial_total": self.trial_total, "target_total": self.target_total,
            "power_at_target": self.power_at_target, "primary": self.primary.to_dict(),
            "secondary": [s.to_dict() for s in self.secondary], "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [f"Protocol {self.trial_id} v{self.version}: primary outcome {self.primary_outcome}, "
                 f"{', '.join(self.experimental_arms)} vs {self.control_arm} (ratio {self.ratio:g}:1)", ""]
        lines.append(str(self.primary))
        if self.trial_total is not None and len(self.experimental_arms) > 1:
            lines.append(f"Whole trial ({len(self.experimental_arms)} experimental arms sharing the control): "
                         f"{self.trial_total:.1f} patients")
        if self.target_total is not None and self.power_at_target is not None:
            lines.append(f"Enrolment target in the protocol: {self.target_total} patients -> power "
                         f"{self.power_at_target:.4f} for the primary comparison")
        for s in self.secondary:
            value = f"power {s.power:.4f}" if s.power is not None else "not computed"
            lines.append(f"Secondary {s.outcome} ({s.method}) at this size: {value}"
                         + (f" ({s.note})" if s.note else ""))
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def plot(self) -> Figure:
        return self.primary.plot()


def _outcome(protocol: Protocol, comparison: Comparison) -> Outcome:
    for o in protocol.outcomes:
        if o.id == comparison.outcome:
            return o
    raise UserError(f"analysis: outcome {comparison.outcome!r} is not defined in outcomes")


def _endpoint_params(outcome: Outcome, comparison: Comparison) -> dict[str, Any]:
    """Keyword parameters for ``sample_size`` from a comparison's design assumptions."""
    a = comparison.assumptions
    where = f"analysis comparison for {outcome.id}"
    if a is None:
        raise UserError(f"{where}: no design assumptions (analysis.primary.assumptions) to size the trial on")
    if outcome.type is OutcomeType.BINARY:
        if comparison.method not in _BINARY_MEASURE:
            raise UserError(f"{where}: method {comparison.method.value} is not a two-arm comparison")
        return {"p_control": a.p_control, "p_treatment": a.p_treatment,
                "effect_measure": _BINARY_MEASURE[comparison.method]}
    if outcome.type is OutcomeType.ORDINAL:
        dist = list(a.control_distribution or [])
        if outcome.better is Better.HIGHER:
            dist = dist[::-1]  # the formulas take categories best first
        return {"p_control": dist, "odds_ratio": a.odds_ratio}
    if outcome.type is OutcomeType.CONTINUOUS:
        delta = a.delta
        return {"delta": delta, "sd": a.sd}
    params: dict[str, Any] = {"hazard_ratio": a.hazard_ratio}
    if a.median_control is not None:
        params["median_control"] = a.median_control
    elif a.p_control is not None:
        params["p_control"] = a.p_control
        params["event_time"] = float(outcome.day)
    if a.accrual is not None:
        params["accrual"] = a.accrual
    if a.follow_up is not None:
        params["follow_up"] = a.follow_up
    if a.dropout is not None:
        params["dropout"] = a.dropout
    return params


def design_protocol(protocol: Protocol, on: dt.date | None = None) -> ProtocolDesign:
    """Size the protocol's primary comparison (the protocol in force on ``on``, default its first version)."""
    if on is not None:
        protocol = protocol.in_force(on)
    plan = protocol.analysis
    name = protocol.trial.id
    if plan is None:
        raise UserError(f"{name}: the protocol has no analysis section to size")
    controls = [a for a in protocol.arms if a.role.is_control]
    experimental = [a for a in protocol.arms if not a.role.is_control]
    if not controls or not experimental:
        raise UserError(f"{name}: a single-arm protocol has no control arm, so there is no comparison to size: "
                        "sample size and group-sequential boundaries need a randomized control (add a "
                        "control arm and a two-arm primary comparison)")
    if plan.control_arm is not None:
        control = next((a for a in protocol.arms if a.id == plan.control_arm), None)
        if control is None:
            raise UserError(f"{name}: analysis.control_arm {plan.control_arm!r} is not an arm")
    elif len(controls) == 1:
        control = controls[0]
    else:
        raise UserError(f"{name}: several control arms; name one in analysis.control_arm")
    experimental = [a for a in protocol.arms if a.id != control.id]
    weights = {a.allocation for a in experimental}
    arm = experimental[0]
    ratio = arm.allocation / control.allocation
    notes: list[str] = []
    if len(weights) > 1:
        notes.append(f"experimental arms have different allocation weights; sized for {arm.id} "
                     f"(ratio {ratio:g}:1)")
    if plan.power is None:
        notes.append(f"analysis.power not given; sized for power {DEFAULT_POWER}")
    primary_outcome = _outcome(protocol, plan.primary)
    design = GroupSequentialPlan.from_protocol(plan, default_power=DEFAULT_POWER).design()
    params = _endpoint_params(primary_outcome, plan.primary)
    result = sample_size(primary_outcome.type.value, design=design, ratio=ratio, **params)
    trial_total = None
    if result.n_per_arm is not None:
        arms = result.n_per_arm
        trial_total = arms["control"] + sum(arms["experimental"] * a.allocation / arm.allocation
                                            for a in experimental)
    if len(experimental) > 1:
        notes.append("each experimental arm is compared with the shared control; alpha is not split across "
                     "comparisons")
    target = protocol.enrolment.target.total if protocol.enrolment.target is not None else None
    power_at_target = None
    if target is not None and result.outcome != "time-to-event":
        per_comparison = target * (arm.allocation + control.allocation) / sum(a.allocation for a in protocol.arms)
        power_at_target = power(primary_outcome.type.value, per_comparison, design=design, ratio=ratio,
                                **params).power
    secondary = []
    for comp in plan.secondary:
        outcome = _outcome(protocol, comp)
        if comp.assumptions is None:
            continue
        if comp.part is not None:  # a factorial part: its patients are those who enter it, not the trial's
            secondary.append(SecondaryPower(outcome.id, comp.method.value, None, f"compares part {comp.part}: "
                                            "its power depends on how many patients are randomized in it"))
            continue
        n = result.events if outcome.type is OutcomeType.TIME_TO_EVENT else result.n_total
        try:
            sec_params = _endpoint_params(outcome, comp)
            if n is None:
                raise UserError("no size to evaluate it at")
            p = power(outcome.type.value, n, design=design, ratio=ratio, **sec_params).power
            secondary.append(SecondaryPower(outcome.id, comp.method.value, p))
        except UserError as exc:
            secondary.append(SecondaryPower(outcome.id, comp.method.value, None, str(exc)))
    return ProtocolDesign(
        trial_id=name, version=protocol.trial.version, primary_outcome=primary_outcome.id, control_arm=control.id,
        experimental_arms=tuple(a.id for a in experimental), ratio=ratio, primary=result, trial_total=trial_total,
        target_total=target, power_at_target=power_at_target, secondary=tuple(secondary), notes=tuple(notes),
    )

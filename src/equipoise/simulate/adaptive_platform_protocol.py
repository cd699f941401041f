"""Read an adaptive platform simulation from a protocol file: its arms (and the dates amendments open them), its
adaptive section, and a scenario (null, the design assumptions, or stated effects per arm).

References
----------
Granholm A et al. (2022). adaptr: an R package for simulating and comparing adaptive clinical trials.
JOSS 7:4284 (scenarios as sets of true outcome rates per arm).
"""

from __future__ import annotations

import re

from equipoise.errors import UserError
from equipoise.protocol import Better, OutcomeType, Protocol
from equipoise.protocol.amendments import AddArm
from equipoise.protocol.analysis_plan import Assumptions
from equipoise.simulate.adaptive_platform import AdaptivePlatformDesign, Scenario

SCENARIO_HELP = ("null (every arm like the control), assumed (the analysis plan's assumptions for every "
                 "experimental arm), or ARM=VALUE,... (binary: event rates; ordinal: odds ratios of a higher level "
                 "against the control; arms not named are like the control)")


def design_from_protocol(protocol: Protocol, accrual_per_day: float) -> AdaptivePlatformDesign:
    """The platform the protocol describes, every arm it ever has (those added by amendment open on the
    amendment's effective date)."""
    rules = protocol.adaptive
    if rules is None:
        raise UserError(f"{protocol.trial.id}: the protocol has no adaptive section")
    control = protocol.control_arm
    outcome = protocol.outcome(rules.outcome)
    if control is None or outcome is None:
        raise UserError(f"{protocol.trial.id}: the adaptive platform needs a control arm and its outcome")
    arms = list(protocol.arms)
    entry = [0.0] * len(arms)
    for amendment in sorted(protocol.amendments, key=lambda a: a.effective_date):
        for change in amendment.changes:
            if isinstance(change, AddArm) and all(a.id != change.arm.id for a in arms):
                arms.append(change.arm)
                entry.append(float((amendment.effective_date - protocol.trial.effective_date).days))
    scale = outcome.resolved_scale
    levels = len(scale.levels) if outcome.type is OutcomeType.ORDINAL and scale is not None else 2
    return AdaptivePlatformDesign(
        arms=tuple(a.id for a in arms), control=[a.id for a in arms].index(control.id),
        weights=tuple(a.allocation for a in arms), entry_day=tuple(entry), rules=rules,
        lower_is_better=outcome.better is Better.LOWER, lag_days=float(outcome.day),
        accrual_per_day=accrual_per_day, n_levels=levels)


def _assumptions(protocol: Protocol, outcome_id: str) -> Assumptions | None:
    plan = protocol.analysis
    if plan is None:
        return None
    for comparison in (plan.primary, *plan.secondary):
        if comparison.outcome == outcome_id and comparison.assumptions is not None and comparison.part is None:
            return comparison.assumptions
    return None


def scenario_from_text(protocol: Protocol, design: AdaptivePlatformDesign, text: str) -> Scenario:
    """A scenario named on the command line (see ``SCENARIO_HELP``)."""
    rules = protocol.adaptive
    assert rules is not None  # design_from_protocol checked it
    assumed = _assumptions(protocol, rules.outcome)
    arms = design.arms
    ctrl = design.control
    where = f"analysis assumptions for {rules.outcome!r}"
    t = text.strip()
    values: dict[str, float] = {}
    if t.lower() not in ("null", "none", "assumed"):
        for item in t.split(","):
            m = re.fullmatch(r"\s*([A-Za-z][\w\-]*)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*", item)
            if m is None:
                raise UserError(f"--scenario {text!r}: expected {SCENARIO_HELP}")
            if m.group(1) not in arms:
                raise UserError(f"--scenario: unknown arm {m.group(1)!r} (arms: {', '.join(arms)})")
            values[m.group(1)] = float(m.group(2))
    if design.ordinal:
        if assumed is None or assumed.control_distribution is None:
            raise UserError(f"--scenario: an ordinal platform takes the control distribution from the {where} "
                            "(analysis.primary.assumptions.control_distribution)")
        if len(assumed.control_distribution) != design.n_levels:
            raise UserError(f"the {where}: control_distribution has {len(assumed.control_distribution)} values "
                            f"for a scale of {design.n_levels} levels")
        if t.lower() == "assumed" and assumed.odds_ratio is None:
            raise UserError(f"--scenario assumed: the {where} state no odds_ratio")
        if any(v <= 0 for v in values.values()):
            raise UserError("--scenario: odds ratios must be positive")
        if arms[ctrl] in values:
            raise UserError(f"--scenario: odds ratios are against the control; {arms[ctrl]} takes none")
        ors = [1.0 if i == ctrl else values.get(a, assumed.odds_ratio if t.lower() == "assumed" else 1.0) or 1.0
               for i, a in enumerate(arms)]
        return Scenario(t, control_distribution=tuple(assumed.control_distribution), odds_ratios=tuple(ors))
    p_control = assumed.p_control if assumed is not None else None
    if p_control is None and ctrl not in [arms.index(a) for a in values]:
        raise UserError(f"--scenario: state the control's rate ({arms[ctrl]}=RATE) or add p_control to the {where}")
    if t.lower() == "assumed" and (assumed is None or assumed.p_treatment is None):
        raise UserError(f"--scenario assumed: the {where} state no p_treatment")
    if any(not 0 <= v <= 1 for v in values.values()):
        raise UserError("--scenario: event rates must be between 0 and 1")
    base = values.get(arms[ctrl], p_control or 0.0)
    treated = assumed.p_treatment if t.lower() == "assumed" and assumed is not None else None
    rates = [base if i == ctrl else values.get(a, treated if treated is not None else base)
             for i, a in enumerate(arms)]
    return Scenario(t, rates=tuple(float(r) for r in rates))

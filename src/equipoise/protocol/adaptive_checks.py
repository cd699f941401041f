"""Cross-field checks of the adaptive platform section (``adaptive``), each problem at the field at fault."""

from __future__ import annotations

from collections.abc import Iterator

from equipoise.protocol.adaptive_platform import Action, AdaptivePlatform, AllocationRule, PlatformModel
from equipoise.protocol.amendments import AddArm
from equipoise.protocol.model import Protocol
from equipoise.protocol.outcomes import OutcomeType
from equipoise.protocol.problems import Path, Problem, Severity
from equipoise.protocol.randomization import RandomizationMethod

Found = Iterator[Problem]
HERE: Path = ("adaptive",)
MODEL_OF_OUTCOME = {OutcomeType.BINARY: PlatformModel.BETA_BINOMIAL,
                    OutcomeType.ORDINAL: PlatformModel.PROPORTIONAL_ODDS}


def check_adaptive(p: Protocol) -> Found:
    a = p.adaptive
    if a is None:
        return
    yield from _outcomes(p, a)
    yield from _control(p)
    yield from _schedule(a)
    yield from _allocation(p, a)
    yield from _decisions(p, a)


def experimental_arm_ids(p: Protocol) -> list[str]:
    """Every experimental arm the platform ever has: in the base protocol and added by amendment."""
    control = p.control_arm
    ids = [arm.id for arm in p.arms if control is None or arm.id != control.id]
    for amendment in p.amendments:
        ids += [c.arm.id for c in amendment.changes if isinstance(c, AddArm) and c.arm.id not in ids]
    return ids


def _outcomes(p: Protocol, a: AdaptivePlatform) -> Found:
    outcome = p.outcome(a.outcome)
    if outcome is None:
        yield Problem((*HERE, "outcome"), f"unknown outcome {a.outcome!r}")
    elif outcome.type not in MODEL_OF_OUTCOME:
        yield Problem((*HERE, "outcome"), f"an adaptive platform reads a binary or ordinal outcome; "
                      f"{a.outcome!r} is {outcome.type.value}")
    elif MODEL_OF_OUTCOME[outcome.type] is not a.model.type:
        yield Problem((*HERE, "model", "type"), f"a {outcome.type.value} outcome takes the "
                      f"{MODEL_OF_OUTCOME[outcome.type].value} model, not {a.model.type.value}")
    elif outcome.type is OutcomeType.ORDINAL and outcome.resolved_scale is None:
        yield Problem((*HERE, "outcome"), f"ordinal outcome {a.outcome!r} needs a scale")
    for i, other in enumerate(a.secondary_outcomes):
        found = p.outcome(other)
        if found is None:
            yield Problem((*HERE, "secondary_outcomes", i), f"unknown outcome {other!r}")
        elif found.type not in MODEL_OF_OUTCOME:
            yield Problem((*HERE, "secondary_outcomes", i), f"posteriors are reported for binary or ordinal "
                          f"outcomes; {other!r} is {found.type.value}")
    if a.model.type is PlatformModel.BETA_BINOMIAL:
        for name in ("log_or_sd", "intercept_sd"):
            if getattr(a.model, name) is not None:
                yield Problem((*HERE, "model", name), "applies to the bayesian-proportional-odds model only")
    elif a.model.prior is not None:
        yield Problem((*HERE, "model", "prior"), "a Beta prior applies to the beta-binomial model only; the "
                      "proportional-odds model takes log_or_sd and intercept_sd")
    elif a.model.log_or_sd is None:
        yield Problem((*HERE, "model", "log_or_sd"), "state the prior SD of the log odds ratios (REMAP-CAP: 1)")


def _control(p: Protocol) -> Found:
    if p.control_arm is None:
        yield Problem(("arms",), "an adaptive platform needs one shared control arm (a control role, or "
                      "analysis.control_arm)")
    elif len(p.arms) < 2:
        yield Problem(("arms",), "an adaptive platform needs at least one experimental arm")


def _schedule(a: AdaptivePlatform) -> Found:
    s = a.analyses
    if (s.every_patients is None) == (s.every_days is None):
        yield Problem((*HERE, "analyses"), "give exactly one of every_patients (patients with outcome data) "
                      "or every_days (calendar)")
    first = s.first_at if s.first_at is not None else s.every_patients
    if first is not None and first > s.max_patients:
        yield Problem((*HERE, "analyses", "first_at" if s.first_at is not None else "every_patients"),
                      f"the first analysis ({first} patients) comes after max_patients ({s.max_patients})")


def _allocation(p: Protocol, a: AdaptivePlatform) -> Found:
    rule = a.allocation
    here: Path = (*HERE, "allocation")
    if rule.floor >= rule.cap:
        yield Problem((*here, "floor"), f"the floor ({rule.floor:g}) must be below the cap ({rule.cap:g})")
    if isinstance(rule.control, float) and not 0 < rule.control < 1:
        yield Problem((*here, "control"), f"a fixed control probability must be in (0, 1), not {rule.control:g}")
    k = len(experimental_arm_ids(p))
    control_share = rule.control if isinstance(rule.control, float) else 0.0
    if k and rule.floor * k > 1 - control_share + 1e-12:
        yield Problem((*here, "floor"), f"floors of {rule.floor:g} for {k} experimental arms leave nothing for "
                      "the rule to allocate")
    if rule.rule is AllocationRule.FIXED and (rule.power != 1 or rule.floor or rule.cap != 1):
        yield Problem((*here, "rule"), "fixed allocation ignores power, floor and cap", Severity.WARNING)
    r = p.randomization
    if rule.rule is AllocationRule.THOMPSON and r is not None and r.method is not RandomizationMethod.RESPONSE_ADAPTIVE:
        yield Problem(("randomization", "method"), "thompson allocation is run by the server's response-adaptive "
                      f"method (it allocates from the published table), not {r.method.value}")
    if r is not None and r.adaptive is not None and rule.rule is AllocationRule.THOMPSON \
            and abs(r.adaptive.floor - rule.floor) > 1e-12:
        yield Problem(("randomization", "adaptive", "floor"), f"the server's floor ({r.adaptive.floor:g}) "
                      f"differs from the adaptive rule's ({rule.floor:g})", Severity.WARNING)


def _decisions(p: Protocol, a: AdaptivePlatform) -> Found:
    d = a.decisions
    here: Path = (*HERE, "decisions")
    rules = d.rules()
    if not rules:
        yield Problem(here, "state at least one decision rule (superiority, inferiority, futility, equivalence)")
    outcome = p.outcome(a.outcome)
    ordinal = outcome is not None and outcome.type is OutcomeType.ORDINAL
    for name, rule in rules.items():
        at: Path = (*here, name)
        if name == "superiority" and rule.probability <= 0.5:
            yield Problem((*at, "probability"), "a superiority threshold is a high posterior probability (> 0.5)")
        if name in ("inferiority", "futility") and rule.probability >= 0.5:
            yield Problem((*at, "probability"), f"an {name} threshold is a low posterior probability (< 0.5)"
                          if name == "inferiority" else "a futility threshold is a low posterior probability (< 0.5)")
        if name == "equivalence" and rule.probability <= 0.5:
            yield Problem((*at, "probability"), "an equivalence threshold is a high posterior probability (> 0.5)")
        if name in ("futility", "equivalence"):
            if rule.margin is None:
                yield Problem((*at, "margin"), f"{name} needs a margin ("
                              + ("an odds ratio, e.g. 1.2)" if ordinal else "a risk difference, e.g. 0.05)"))
            elif ordinal and not rule.margin >= 1:
                yield Problem((*at, "margin"), f"for an ordinal outcome the margin is an odds ratio >= 1, not "
                              f"{rule.margin:g}")
            elif not ordinal and not 0 < rule.margin < 1:
                yield Problem((*at, "margin"), f"for a binary outcome the margin is a risk difference in (0, 1), "
                              f"not {rule.margin:g}")
        elif rule.margin is not None:
            yield Problem((*at, "margin"), f"{name} compares with the control itself; it takes no margin")
        if rule.action is Action.PROMOTE_TO_CONTROL and name != "superiority":
            yield Problem((*at, "action"), "only a superior arm can be promoted to control")
    if "superiority" in rules and "inferiority" in rules:
        sup, inf = rules["superiority"].probability, rules["inferiority"].probability
        if inf >= sup:
            yield Problem((*here, "inferiority", "probability"), "must be below the superiority threshold")
    arms = len(experimental_arm_ids(p)) + 1
    if d.min_patients_per_arm * arms > a.analyses.max_patients:
        yield Problem((*here, "min_patients_per_arm"), f"{arms} arms of {d.min_patients_per_arm} patients exceed "
                      f"max_patients ({a.analyses.max_patients}): no rule could act on every arm", Severity.WARNING)

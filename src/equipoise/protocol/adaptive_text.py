"""The adaptive platform section explained in words (``protocol show``)."""

from __future__ import annotations

from equipoise.protocol.adaptive_platform import Action, AdaptivePlatform, AllocationRule, DecisionRule, PlatformModel
from equipoise.protocol.model import Protocol
from equipoise.protocol.outcomes import Better, OutcomeType

ACTION_WORDS = {
    Action.DROP_ARM: "the arm stops recruiting",
    Action.STOP_PLATFORM: "the whole platform stops",
    Action.PROMOTE_TO_CONTROL: "the arm becomes the new control and the old control stops recruiting",
}


def describe_adaptive(p: Protocol) -> list[str]:
    """One sentence per part of the adaptive section: model, analyses, allocation, each decision rule."""
    a = p.adaptive
    if a is None:
        return []
    control = p.control_arm.id if p.control_arm is not None else "the control"
    outcome = p.outcome(a.outcome)
    ordinal = outcome is not None and outcome.type is OutcomeType.ORDINAL
    better = "lower" if outcome is None or outcome.better is Better.LOWER else "higher"
    return [
        _model(a, better),
        _schedule(a),
        _allocation(a, control),
        *(_rule(name, rule, control, ordinal) for name, rule in a.decisions.rules().items()),
        f"No rule acts on an arm before {a.decisions.min_patients_per_arm} of its patients (and of {control}'s) "
        "have outcome data." if a.decisions.min_patients_per_arm else "Rules act from the first analysis.",
        *([f"Also reported at each analysis (no rules): {', '.join(a.secondary_outcomes)}."]
          if a.secondary_outcomes else []),
    ]


def _model(a: AdaptivePlatform, better: str) -> str:
    m = a.model
    if m.type is PlatformModel.BETA_BINOMIAL:
        prior = m.beta_prior
        return (f"Model: {a.outcome} in each arm ~ Binomial with a Beta({prior.alpha:g}, {prior.beta:g}) prior; "
                f"{better} event rates are better.")
    return (f"Model: {a.outcome} by Bayesian proportional odds, logit P(Y > j) = beta_arm - theta_j, "
            f"Normal(0, {m.log_or_sd or 1:g}^2) prior on each log odds ratio, Normal(0, {m.intercept_sd or 10:g}^2) "
            f"on each cut point (Laplace approximation); {better} levels are better.")


def _schedule(a: AdaptivePlatform) -> str:
    s = a.analyses
    if s.every_patients is not None:
        first = s.first_at or s.every_patients
        when = f"at {first} patients with outcome data, then every {s.every_patients}"
    else:
        when = f"every {s.every_days} days"
    return f"Adaptive analyses: {when}; recruitment stops at {s.max_patients} patients."


def _allocation(a: AdaptivePlatform, control: str) -> str:
    r = a.allocation
    if r.rule is AllocationRule.FIXED:
        return "Allocation: fixed by the arms' weights."
    if r.control == "sqrt":
        ctrl = f"{control} gets sqrt(k)/(sqrt(k)+k) for k active therapies (square-root rule)"
    else:
        ctrl = f"{control} gets a fixed {float(r.control):g}"
    return (f"Allocation: response-adaptive; each therapy's share proportional to P(best therapy)^{r.power:g}, "
            f"between {r.floor:g} and {r.cap:g}; {ctrl}.")


def _rule(name: str, rule: DecisionRule, control: str, ordinal: bool) -> str:
    margin = rule.margin if rule.margin is not None else 0.0
    by = f"an odds ratio of {margin:g}" if ordinal else f"{margin:g} absolute"
    if name == "superiority":
        what = f"P(better than {control}) > {rule.probability:g}"
    elif name == "inferiority":
        what = f"P(better than {control}) < {rule.probability:g}"
    elif name == "futility":
        what = f"P(better than {control} by more than {by}) < {rule.probability:g}"
    else:
        what = f"P(within {by} of {control}) > {rule.probability:g}"
    consequence = ACTION_WORDS[rule.action]
    if name == "superiority" and rule.action is Action.DROP_ARM:
        consequence = "the arm is declared superior and stops recruiting"
    return f"{name.capitalize()}: if {what}, {consequence}."

"""An adaptive analysis of a running platform: each arm's posteriors from the trial's data, the decisions the
protocol's rules give, and the next allocation table for the unblinded statistician to review and publish.

The same functions as the simulation (``platform_posteriors``, ``decide``, ``allocation_table``) on one table of
counts: the arms in force on the analysis date, the patients whose outcome is recorded. An arm that a rule
closes gets probability 0 in the proposed table; the server only takes a table with every arm in force at or
above the protocol's floor, so closing it is an amendment (``drop-arm``) first, as RECOVERY and REMAP-CAP
closed arms. P(best) under the ordinal model comes from normal draws with a stated seed (reproducible).

References
----------
Angus DC et al. The REMAP-CAP design. *Ann Am Thorac Soc* 2020;17:879-891 (adaptive analyses, the
statistical analysis committee's updated allocation, arms closed by the rules).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from equipoise.allocate.platform_table import allocation_table
from equipoise.analyze.platform_posteriors import Decision, binary_posteriors, decide, ordinal_posteriors
from equipoise.errors import UserError
from equipoise.protocol import Better, OutcomeType, Protocol
from equipoise.protocol.adaptive_platform import Action, AdaptivePlatform, DecisionRule

DEFAULT_SEED = 20200316


@dataclass(frozen=True)
class ArmPosterior:
    arm: str
    control: bool
    randomized: int
    with_outcome: int
    events_or_median: float | None  # binary: events; ordinal: median level
    estimate: float  # binary: posterior mean rate; ordinal: posterior mode of the log odds ratio vs control
    estimate_sd: float
    p_better: float | None
    p_better_margin: float | None
    p_equivalent: float | None
    p_best: float | None
    decision: str
    action: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        def prob(name: str, value: float | None) -> str:
            return "" if value is None else f"; {name} {value:.4f}"

        return (f"{self.arm}{' (control)' if self.control else ''}: {self.randomized} randomized, "
                f"{self.with_outcome} with outcome; estimate {self.estimate:.3f} (sd {self.estimate_sd:.3f})"
                f"{prob('P(better)', self.p_better)}{prob('P(better by the margin)', self.p_better_margin)}"
                f"{prob('P(equivalent)', self.p_equivalent)}{prob('P(best)', self.p_best)}; {self.decision}"
                f"{' -> ' + self.action if self.action else ''}")


@dataclass(frozen=True)
class OutcomePosteriors:
    outcome: str
    model: str
    arms: tuple[ArmPosterior, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "model": self.model, "arms": [a.to_dict() for a in self.arms]}

    def __str__(self) -> str:
        return "\n".join([f"{self.outcome} ({self.model}):", *(f"  {a}" for a in self.arms)])


@dataclass(frozen=True)
class PlatformAnalysis:
    trial_id: str
    on: dt.date
    protocol_version: str
    primary: OutcomePosteriors
    secondary: tuple[OutcomePosteriors, ...]
    proposed_table: dict[str, float]
    close_arms: tuple[str, ...]  # arms a rule closes: an amendment (drop-arm) before the table can be published
    stop_platform: bool
    seed: int
    notes: tuple[str, ...] = field(default=())

    @property
    def publishable(self) -> dict[str, float] | None:
        """The table as the server takes it (every arm in force), or None while a rule closes an arm."""
        return None if self.close_arms or self.stop_platform else dict(self.proposed_table)

    def to_dict(self) -> dict[str, Any]:
        return {"trial_id": self.trial_id, "on": self.on.isoformat(), "protocol_version": self.protocol_version,
                "primary": self.primary.to_dict(), "secondary": [s.to_dict() for s in self.secondary],
                "proposed_table": self.proposed_table, "close_arms": list(self.close_arms),
                "stop_platform": self.stop_platform, "publishable": self.publishable is not None,
                "seed": self.seed, "notes": list(self.notes)}

    def __str__(self) -> str:
        lines = [f"Adaptive analysis of {self.trial_id} on {self.on.isoformat()} (protocol {self.protocol_version})"]
        for block in (self.primary, *self.secondary):
            ordinal = block.model != "beta-binomial"
            lines.append(f"{block.outcome} ({block.model}{', primary' if block is self.primary else ''}):")
            lines.append(f"  {'arm':<16}{'n':>6}{'data':>6}{'log OR' if ordinal else 'rate':>9}{'P(better)':>11}"
                         f"{'P(best)':>9}  decision")
            for a in block.arms:
                better = "" if a.p_better is None else f"{a.p_better:.4f}"
                best = "" if a.p_best is None else f"{a.p_best:.3f}"
                label = a.arm + (" *" if a.control else "")
                lines.append(f"  {label:<16}{a.randomized:>6}{a.with_outcome:>6}{a.estimate:>9.3f}{better:>11}"
                             f"{best:>9}  {a.decision}{' -> ' + a.action if a.action else ''}")
        table = ", ".join(f"{k} {v:.4f}" for k, v in self.proposed_table.items())
        lines.append(f"Proposed allocation table: {table}")
        if self.stop_platform:
            lines.append("A rule stops the platform: no table to publish.")
        elif self.close_arms:
            lines.append(f"Close {', '.join(self.close_arms)} by amendment (drop-arm) before publishing the table.")
        else:
            lines.append("Publish it (unblinded statistician): POST /api/trials/{id}/adaptive-tables".replace(
                "{id}", self.trial_id))
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def analyze_platform(protocol: Protocol, patients: pd.DataFrame, on: dt.date, seed: int = DEFAULT_SEED
                     ) -> PlatformAnalysis:
    """The adaptive analysis of ``patients`` (analysis.csv layout: ``arm`` and a column per outcome id)."""
    rules = protocol.adaptive
    if rules is None:
        raise UserError(f"{protocol.trial.id}: the protocol has no adaptive section")
    current = protocol.in_force(on)
    control = current.control_arm
    if control is None:
        raise UserError(f"{protocol.trial.id}: no control arm in force on {on.isoformat()}")
    if "arm" not in patients.columns:
        raise UserError("the data have no 'arm' column")
    arms = [control.id, *(a.id for a in current.arms if a.id != control.id)]
    rng = np.random.default_rng(seed)
    primary, decisions = _outcome_posteriors(current, rules, rules.outcome, patients, arms, rng, with_rules=True)
    secondary = tuple(_outcome_posteriors(current, rules, o, patients, arms, rng, with_rules=False)[0]
                      for o in rules.secondary_outcomes)
    codes = np.array([[decisions.get(a, Decision.CONTINUE) for a in arms]])
    actions = {a: _rule_of(rules, Decision(c)) for a, c in zip(arms, codes[0], strict=True) if c}
    stop = any(r is not None and r.action is Action.STOP_PLATFORM for r in actions.values())
    close = tuple(a for a, r in actions.items() if r is not None and r.action is Action.DROP_ARM)
    notes = []
    if any(r is not None and r.action is Action.PROMOTE_TO_CONTROL for r in actions.values()):
        notes.append("a superior arm is to be promoted to control: an amendment makes it the control arm")
    open_next = np.array([[a not in actions for a in arms]])
    p_best = np.array([[a.p_best or 0.0 for a in primary.arms]])
    weights = np.array([current.arm(a).allocation for a in arms])  # type: ignore[union-attr]
    table = allocation_table(p_best, open_next, 0, rules.allocation, weights)[0]
    return PlatformAnalysis(
        trial_id=protocol.trial.id, on=on, protocol_version=current.trial.version, primary=primary,
        secondary=secondary, proposed_table={a: float(p) for a, p in zip(arms, table, strict=True)},
        close_arms=close, stop_platform=stop, seed=seed, notes=tuple(notes))


def _rule_of(rules: AdaptivePlatform, code: Decision) -> DecisionRule | None:
    return {Decision.SUPERIORITY: rules.decisions.superiority, Decision.INFERIORITY: rules.decisions.inferiority,
            Decision.FUTILITY: rules.decisions.futility,
            Decision.EQUIVALENCE: rules.decisions.equivalence}.get(code)


def _outcome_posteriors(protocol: Protocol, rules: AdaptivePlatform, outcome_id: str, patients: pd.DataFrame,
                        arms: list[str], rng: np.random.Generator, with_rules: bool
                        ) -> tuple[OutcomePosteriors, dict[str, Decision]]:
    outcome = protocol.outcome(outcome_id)
    if outcome is None or outcome_id not in patients.columns:
        raise UserError(f"the data have no column for outcome {outcome_id!r}")
    lower = outcome.better is Better.LOWER
    in_arms = patients[patients["arm"].isin(arms)]
    randomized = [int((in_arms["arm"] == a).sum()) for a in arms]
    values = pd.to_numeric(in_arms[outcome_id], errors="coerce")
    known = in_arms[values.notna()]
    known_values = values[values.notna()]
    experimental = np.array([[i != 0 for i in range(len(arms))]])
    futility = rules.decisions.futility.margin if with_rules and rules.decisions.futility else None
    equivalence = rules.decisions.equivalence.margin if with_rules and rules.decisions.equivalence else None
    if outcome.type is OutcomeType.ORDINAL:
        scale = outcome.resolved_scale
        if scale is None:
            raise UserError(f"ordinal outcome {outcome_id!r} has no scale")
        levels = scale.values
        bad = sorted(set(known_values.astype(int)) - set(levels))
        if bad:
            raise UserError(f"{outcome_id}: values {bad} are not levels of the {scale.name}")
        counts = np.array([[[((known["arm"] == a) & (known_values == v)).sum() for v in levels] for a in arms]],
                          dtype=float)
        sds = rules.model if outcome_id == rules.outcome else None
        post = ordinal_posteriors(counts, 0, experimental, (sds.log_or_sd if sds else None) or 1.0,
                                  (sds.intercept_sd if sds else None) or 10.0, lower, rng, futility, equivalence)
        summary = [float(np.repeat(levels, counts[0, i].astype(int))[int(counts[0, i].sum()) // 2])
                   if counts[0, i].sum() else None for i in range(len(arms))]
        model = "bayesian-proportional-odds"
    else:
        events = np.array([[((known["arm"] == a) & (known_values == 1)).sum() for a in arms]], dtype=float)
        counts = np.array([[[((known["arm"] == a) & (known_values == 0)).sum() for a in arms]]], dtype=float)
        n = events + counts[0]
        counts = np.stack([counts[0], events], axis=2)
        post = binary_posteriors(events, n, 0, experimental, rules.model.beta_prior, lower, futility, equivalence)
        summary = [float(e) for e in events[0]]
        model = "beta-binomial"
    n_data = counts.sum(axis=2)
    codes = decide(post, n_data, experimental, 0, rules.decisions)[0] if with_rules else np.zeros(len(arms), int)
    arm_rows = []
    decisions: dict[str, Decision] = {}
    for i, arm in enumerate(arms):
        code = Decision(int(codes[i]))
        rule = _rule_of(rules, code) if code else None
        if code:
            decisions[arm] = code
        arm_rows.append(ArmPosterior(
            arm=arm, control=i == 0, randomized=randomized[i], with_outcome=int(n_data[0, i]),
            events_or_median=summary[i], estimate=float(post.estimate[0, i]), estimate_sd=float(post.estimate_sd[0, i]),
            p_better=None if i == 0 else float(post.p_better[0, i]),
            p_better_margin=None if i == 0 or post.p_better_margin is None else float(post.p_better_margin[0, i]),
            p_equivalent=None if i == 0 or post.p_equivalent is None else float(post.p_equivalent[0, i]),
            p_best=None if i == 0 else float(post.p_best[0, i]),
            decision=code.name.lower() if i else "control", action=rule.action.value if rule else None))
    return OutcomePosteriors(outcome_id, model, tuple(arm_rows)), decisions

"""The power curve of a protocol's primary comparison: rejection probability and expected sample size against
the true effect, from ``simulate.protocol.power_curve``."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from equipoise.figures.operating_characteristics import power_curve_plot


@dataclass(frozen=True)
class PowerCurve:
    """Rejection probability and expected sample size against the true effect (an OC curve), with what was
    compared: the protocol, the two arms, the outcome and its method, and how many trials each point is."""

    effect_name: str
    effects: Sequence[float]
    rejection_probability: Sequence[float]
    mc_se: Sequence[float]
    expected_n: Sequence[float]
    protocol: str = ""
    comparison: str = ""
    outcome: str = ""
    method: str = ""
    n_trials: int = 0
    effect_meaning: str = ""
    null: Sequence[bool] = ()
    alpha: float | None = None
    futility: bool = False
    looks: int = 1
    events: Sequence[float | None] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"effect": self.effect_name, "effect_meaning": self.effect_meaning, "effects": list(self.effects),
                "protocol": self.protocol, "comparison": self.comparison, "outcome": self.outcome,
                "method": self.method, "n_trials_per_effect": self.n_trials, "looks": self.looks,
                "alpha": self.alpha, "null_hypothesis_true": list(self.null),
                "rejection_probability": list(self.rejection_probability), "mc_se": list(self.mc_se),
                "rejection_rule": "H0 rejected at any look, futility stops obeyed",
                "expected_n": list(self.expected_n), "expected_events": list(self.events) or None}

    def __str__(self) -> str:
        looks = "a fixed design" if self.looks == 1 else f"{self.looks} looks"
        intro = [
            f"{self.protocol}: power curve of the primary comparison {self.comparison} "
            f"(outcome {self.outcome}, {self.method}; {looks}).",
            f"{self.n_trials:,} simulated trials per effect, the same seed at every effect (common random numbers).",
            f"Effect {self.effect_name}: {self.effect_meaning}.",
            "P(reject H0): the probability that a trial rejects the null hypothesis (efficacy at any look"
            + (", futility stops obeyed" if self.futility else "") + "): the type I error where there is no "
            "effect" + (f" (nominal alpha {self.alpha:g})" if self.alpha else "") + ", the power elsewhere.",
            "Expected N: patients in the two compared arms when the trial stops.",
        ]
        lines = [wrapped for line in intro for wrapped in textwrap.wrap(line, 110, subsequent_indent="  ")]
        lines += [
            "",
            f"{'effect ' + self.effect_name:>12}  P(reject H0)  (MC SE)   which         expected N",
        ]
        nulls = list(self.null) or [False] * len(self.effects)
        for e, p, s, n, null in zip(self.effects, self.rejection_probability, self.mc_se, self.expected_n, nulls,
                                    strict=True):
            what = "type I error" if null else "power"
            lines.append(f"{e:>12g}  {p:12.4f}  ({s:.4f})  {what:<12}  {n:10.1f}")
        return "\n".join(lines)

    def axis_label(self) -> str:
        name = {"or": "odds ratio", "rr": "risk ratio", "hr": "hazard ratio", "rd": "risk difference",
                "p": "experimental arm's risk", "delta": "mean difference"}.get(self.effect_name, self.effect_name)
        if "daily transition" in self.effect_meaning:
            name += " on the daily WHO-scale transitions"
        return f"true effect: {name} ({self.effect_name}=)"

    def plot(self) -> Any:
        """P(reject H0) and the expected sample size against the effect (a matplotlib Figure)."""
        return power_curve_plot(self)

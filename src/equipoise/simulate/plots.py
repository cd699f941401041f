"""Pictures of operating characteristics: stopping by look, sample-size distribution, power against effect."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from equipoise.simulate.group_sequential import OperatingCharacteristics


def _figure(ncols: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * ncols, 3.8), layout="constrained")
    return fig, fig.subplots(1, ncols)


def plot_operating_characteristics(oc: OperatingCharacteristics) -> Any:
    fig, (ax1, ax2) = _figure(2)
    looks = list(range(1, len(oc.stop_probability_by_look) + 1))
    ax1.bar(looks, oc.efficacy_by_look, label="efficacy", color="#2b8cbe")
    ax1.bar(looks, oc.futility_by_look, bottom=oc.efficacy_by_look, label="futility", color="#fdae6b")
    ax1.set_xlabel("look")
    ax1.set_ylabel("probability of stopping")
    ax1.set_xticks(looks)
    ax1.legend()
    what = "type I error" if oc.null else "power"
    ax1.set_title(f"{what} {oc.rejection_probability:.3f} ± {oc.mc_se:.3f}")
    sizes = [float(k) for k in oc.n_distribution]
    ax2.bar(range(len(sizes)), list(oc.n_distribution.values()), color="#636363")
    ax2.set_xticks(range(len(sizes)), [f"{s:g}" for s in sizes], rotation=45 if len(sizes) > 6 else 0)
    ax2.set_xlabel("sample size at stop")
    ax2.set_ylabel("probability")
    ax2.set_title(f"expected sample size {oc.expected_n:.1f}")
    return fig


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
        fig, (ax1, ax2) = _figure(2)
        ax1.errorbar(self.effects, self.rejection_probability, yerr=[2 * s for s in self.mc_se], marker="o")
        ax1.set_xlabel(self.axis_label())
        ax1.set_ylabel("P(reject H0): type I error or power")
        if self.comparison:
            fig.suptitle(f"{self.protocol}: {self.comparison}, {self.outcome}; {self.n_trials:,} trials per point",
                         fontsize=10)
        ax1.set_ylim(0, 1)
        ax1.grid(alpha=0.3)
        ax2.plot(self.effects, self.expected_n, marker="o", color="#636363")
        ax2.set_xlabel(self.axis_label())
        ax2.set_ylabel("expected sample size (two arms)")
        ax2.grid(alpha=0.3)
        return fig

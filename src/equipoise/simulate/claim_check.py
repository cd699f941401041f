"""The claim check: what a single-arm study would show with no effect, a plausible effect and a large one.

A report such as "all 31 patients improved" is only informative if it is much more likely when the therapy
works than when it does not. This module runs the same single-arm study (``single_arm``) on virtual patients
under several effects side by side, and computes exactly (not by simulation) the distribution of the number
of patients improved on the claim day: patients are independent, and a patient of a given baseline severity
improves with a probability given by the natural history's exact state distribution, so the count is a sum of
independent binomials, one per severity class. From it: the probability of "all improved" under each effect,
and how often the study would beat what no effect gives in 95% of studies (what such a study can tell, at
best, when the natural history of its patients is known exactly).

References
----------
Pocock SJ. Clinical Trials: A Practical Approach. Wiley 1983, ch. 4 (historical and uncontrolled comparisons).
Byar DP et al. Design considerations for AIDS trials. N Engl J Med 1990;323:1343-8 (when single-arm studies
can and cannot replace a randomized control).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from equipoise.errors import UserError
from equipoise.figures.single_arm import claim_check_plot
from equipoise.simulate.engine import ProgressHook
from equipoise.simulate.natural_history.model import NaturalHistory, Population
from equipoise.simulate.single_arm import SingleArmDesign, SingleArmResult, simulate_single_arm


@dataclass(frozen=True)
class Scenario:
    """One column of the comparison: a name and the effect (odds ratio on the daily WHO-scale transitions)."""

    label: str
    odds_ratio: float
    harm: float = 1.0

    @property
    def effect_text(self) -> str:
        text = "no effect" if self.odds_ratio == 1 else f"odds ratio {self.odds_ratio:g}"
        return text + (f", harm odds ratio on death {self.harm:g}" if self.harm != 1 else "")


def improvement_probability(model: NaturalHistory, severity: str, day: int, odds_ratio: float = 1.0,
                            harm: float = 1.0) -> float:
    """P(alive and at least one WHO level better than at baseline on ``day``) for one patient of ``severity``,
    from the exact state distribution, baseline level by baseline level."""
    pop = model.population(severity=severity)
    total = 0.0
    for level, p in pop.start.items():
        one = Population({level: 1.0}, pop.age, pop.setting_shift)
        dist = model.state_distribution(one, odds_ratio, harm, days=day)[day]
        total += p * float(dist[:level].sum())  # levels below baseline; death (10) is never below one
    return total


def improved_count_distribution(design: SingleArmDesign, model: NaturalHistory, odds_ratio: float = 1.0,
                                harm: float = 1.0) -> np.ndarray:
    """P(k patients improved on the claim day), k = 0..n: the convolution of one binomial per severity class."""
    dist = np.array([1.0])
    for severity, n in design.composition.items():
        if n:
            p = improvement_probability(model, severity, design.claim_day, odds_ratio, harm)
            dist = np.convolve(dist, binom.pmf(np.arange(n + 1), n, p))
    return np.asarray(dist)


def _middle_90(dist: np.ndarray) -> tuple[int, int]:
    cdf = np.cumsum(dist)
    return int(np.searchsorted(cdf, 0.05 - 1e-12)), int(np.searchsorted(cdf, 0.95 - 1e-12))


def rarity(p: float) -> str:
    """A probability as a reader takes it in: '0.40%', or '1 in 2.3 million' below 0.01%."""
    if p <= 0:
        return "0"
    if p >= 1e-4:
        return f"{100 * p:.2f}%"
    n = 1 / p
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= scale:
            return f"1 in {n / scale:.2g} {word}"
    return f"1 in {float(f'{n:.2g}'):,.0f}"


def _of_studies(p: float) -> str:
    text = rarity(p)
    return f"{text} of studies" if text.endswith("%") else f"{text} studies"


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    simulated: SingleArmResult
    improved_distribution: np.ndarray  # exact, k = 0..n

    @property
    def p_all_improved(self) -> float:
        return float(self.improved_distribution[-1])

    @property
    def of_studies(self) -> str:
        """How often 'all improved' happens, as a reader says it: '0.40% of studies', '1 in 2.3 million studies'."""
        return _of_studies(self.p_all_improved)

    @property
    def expected_improved(self) -> float:
        return float(np.dot(np.arange(len(self.improved_distribution)), self.improved_distribution))

    def p_at_least(self, k: int) -> float:
        return float(self.improved_distribution[k:].sum())

    def to_dict(self) -> dict[str, Any]:
        low, high = _middle_90(self.improved_distribution)
        sim = self.simulated
        return {
            "label": self.scenario.label, "odds_ratio": self.scenario.odds_ratio, "harm": self.scenario.harm,
            "effect": self.scenario.effect_text,
            "probability_all_improved": self.p_all_improved,
            "expected_improved": self.expected_improved, "improved_middle_90": [low, high],
            "improved_distribution": {str(k): float(v) for k, v in enumerate(self.improved_distribution)},
            "expected": sim.expected, "claims": [c.to_dict() for c in sim.claims],
            "probability_at_least_k_discharged": {str(k): v for k, v in sim.at_least_k_discharged.items()},
        }


@dataclass(frozen=True)
class ClaimCheck:
    """The same single-arm study under several effects, and what its claim 'all n improved' can tell."""

    design: SingleArmDesign
    natural_history: str
    n_trials: int
    seed: int | None
    results: tuple[ScenarioResult, ...]

    @property
    def no_effect(self) -> ScenarioResult:
        return self.results[0]

    @property
    def threshold(self) -> int:
        """The fewest patients improved that no effect gives in at most 5% of studies."""
        dist = self.no_effect.improved_distribution
        tail = np.cumsum(dist[::-1])[::-1]  # tail[k] = P(X >= k)
        return int(np.argmax(tail <= 0.05)) if (tail <= 0.05).any() else len(dist)

    def conclusion(self) -> str:
        d, n = self.design, self.design.n_patients
        none = self.no_effect
        others = self.results[1:]
        parts = [f"'All {n} improved by day {d.claim_day}' happens in {rarity(none.p_all_improved)} studies "
                 "with NO effect"]
        parts += [f"{rarity(r.p_all_improved)} with {r.scenario.label} ({r.scenario.effect_text})" for r in others]
        text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."
        if others and max(r.p_all_improved for r in others) < 0.05:
            best = max(others, key=lambda r: r.p_all_improved)
            text += (f" It is improbable whatever the therapy does (even {best.scenario.label} gives it in only "
                     f"{rarity(best.p_all_improved)} of studies), so it cannot tell them apart: when a study reports "
                     "it, the likelier explanation is that the patients enrolled and reported, or the way 'improved' "
                     "was judged, differ from those assumed, which an uncontrolled study cannot check. It does not "
                     "show that the therapy works.")
        elif none.p_all_improved >= 0.05:
            text += " It is common without any effect: it is no evidence of benefit."
        if not others:
            return text + (" On its own this says nothing about the therapy: set it against the same study with a "
                           "real effect (--effect or=3, --plausible or=1.3) to see what the claim can tell. Only a "
                           "concurrent randomized control tells a real effect from the natural course.")
        k = self.threshold
        if k <= n:
            tell = [f"{100 * r.p_at_least(k):.0f}% of studies with {r.scenario.label}" for r in others]
            joined = ", ".join(tell[:-1]) + (" and " if len(tell) > 1 else "") + (tell[-1] if tell else "")
            text += (f"\n\nWhat such a study can tell: {100 * none.expected_improved / n:.0f}% of these patients "
                     f"improve with no effect at all. {k} or more of {n} improved (what no effect gives in at most "
                     f"5% of studies) happens in {joined}, and that only if the natural history "
                     "of the patients enrolled were known exactly. Only a concurrent randomized control tells a real "
                     "effect from the natural course, the selection of patients and the way improvement was judged.")
        return text

    def to_dict(self) -> dict[str, Any]:
        d = self.design
        none = self.no_effect.simulated
        return {
            "design": "single-arm", "name": d.name, "n_patients": d.n_patients, "composition": d.composition,
            "claim_day": d.claim_day, "horizon_days": d.horizon, "natural_history": self.natural_history,
            "n_trials": self.n_trials, "n_trials_per_scenario": self.n_trials, "seed": self.seed,
            "effect_scale": "odds ratio on every daily transition of the WHO scale (proportional odds)",
            "scenarios": [r.to_dict() for r in self.results],
            "probability_all_improved": {r.scenario.label: r.p_all_improved for r in self.results},
            "threshold_improved_5pct_no_effect": self.threshold,
            "probability_at_least_threshold": {r.scenario.label: r.p_at_least(self.threshold)
                                               for r in self.results} if self.threshold <= d.n_patients else {},
            "conclusion": self.conclusion(),
            # the no-effect column's simulated claims, under the keys of the single-scenario result
            "no_effect": {f"probability_{c.key}": c.probability for c in none.claims},
        }

    def __str__(self) -> str:
        d, n = self.design, self.design.n_patients
        mix = ", ".join(f"{k} {c}" for c, k in d.composition.items())
        heads = [r.scenario.label for r in self.results]
        subs = [r.scenario.effect_text for r in self.results]
        width = max(14, *(len(h) for h in heads), *(len(s) for s in subs))
        rows: list[tuple[str, list[str]]] = [
            (f"improved by day {d.claim_day}, expected (of {n})", [f"{r.expected_improved:.1f}" for r in self.results]),
            ("  middle 90% of studies", ["{}-{}".format(*_middle_90(r.improved_distribution)) for r in self.results]),
            (f"all {n} improved by day {d.claim_day} (exact)", [rarity(r.p_all_improved) for r in self.results]),
        ]
        k = self.threshold
        if k <= n:
            rows.append((f"{k} or more improved (no effect: <= 5%)",
                         [f"{100 * r.p_at_least(k):.1f}%" for r in self.results]))
        rows.append((f"deaths by day {d.horizon}, expected",
                     [f"{r.simulated.expected['deaths']:.1f}" for r in self.results]))
        rows.append(("", []))
        rows.append(("how often a report's claim comes true:", []))
        for i, claim in enumerate(self.no_effect.simulated.claims):
            if claim.key == "all_improved":
                continue
            rows.append((claim.text, [_shown(r.simulated.claims[i], self.n_trials) for r in self.results]))
        label_width = max(len(label) for label, _ in rows)
        lines = [
            f"{d.name}: what a single-arm study of {n} patients ({mix}) would show,",
            f"on virtual patients whose disease follows the natural history '{self.natural_history}',",
            "with no effect and with a real one (odds ratios on every daily transition of the WHO scale).",
            "'Improved': alive and at least one WHO level better than at enrolment. 'Exact' rows are computed "
            "exactly;",
            f"the others from {self.n_trials:,} simulated studies per column.",
            "",
            " " * label_width + "  " + "  ".join(f"{h:>{width}}" for h in heads),
            " " * label_width + "  " + "  ".join(f"{s:>{width}}" for s in subs),
        ]
        lines += [(f"{label:<{label_width}}  " + "  ".join(f"{v:>{width}}" for v in values)).rstrip()
                  for label, values in rows]
        lines.append("")
        for paragraph in ("What it means: " + self.conclusion()).split("\n\n"):
            lines += [*textwrap.wrap(paragraph, 110), ""]
        lines.pop()
        return "\n".join(lines)

    def plot(self) -> Any:
        """The distribution of patients improved under each effect, with 'all n improved' and the 5% line."""
        return claim_check_plot(self)


def _shown(claim: Any, n_trials: int) -> str:
    if claim.probability == 0:
        return f"< {100 * claim.upper_95:.2g}% (never)"
    return f"{100 * claim.probability:.2f}%"


def check_claim(design: SingleArmDesign, natural_history: NaturalHistory, scenarios: list[Scenario], *,
                n_trials: int = 10000, seed: int | None = 20200214, scheduler: Any = None,
                progress: ProgressHook | None = None) -> ClaimCheck:
    """Run the single-arm study under each scenario (the first must be no effect) with the same seed (common
    random numbers, so the columns differ by the effect only)."""
    if not scenarios or scenarios[0].odds_ratio != 1 or scenarios[0].harm != 1:
        raise UserError("a claim check starts from the study with no effect")
    results = []
    for i, s in enumerate(scenarios):
        def hook(done: int, total: int, offset: int = i * n_trials) -> None:
            if progress is not None:
                progress(offset + done, len(scenarios) * n_trials)

        sim = simulate_single_arm(design, natural_history, odds_ratio=s.odds_ratio, harm=s.harm, n_trials=n_trials,
                                  seed=seed, scheduler=scheduler, progress=hook)
        results.append(ScenarioResult(s, sim, improved_count_distribution(design, natural_history, s.odds_ratio,
                                                                          s.harm)))
    return ClaimCheck(design, natural_history.name, n_trials, seed, tuple(results))

"""Operating characteristics of a simulated adaptive platform, per arm and for the platform, with pictures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from equipoise.analyze.platform_posteriors import Decision
from equipoise.figures.platform_simulation import platform_simulation_plot
from equipoise.simulate.adaptive_platform import AdaptivePlatformDesign, PlatformTask, Scenario
from equipoise.simulate.engine import ProgressHook, Records, run_chunks

DECISIONS = ("superiority", "inferiority", "futility", "equivalence")
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class ArmCharacteristics:
    arm: str
    true_effect: float  # binary: event rate; ordinal: log odds ratio against the control
    is_control: bool
    null: bool  # the same true outcome law as the control
    decisions: dict[str, float]  # probability of each decision
    patients_mean: float
    patients_quantiles: dict[str, float]
    bias: float  # mean (final estimate - truth) over trials (ordinal: against the final control)

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "true_effect": self.true_effect, "control": self.is_control, "null": self.null,
                "probability": self.decisions, "patients_mean": self.patients_mean,
                "patients_quantiles": self.patients_quantiles, "bias": self.bias}


@dataclass(frozen=True)
class AdaptivePlatformResult:
    design: AdaptivePlatformDesign
    scenario: Scenario
    n_trials: int
    seed: int | None
    arms: tuple[ArmCharacteristics, ...]
    family_wise_error: float | None  # P(any null experimental arm declared superior)
    power: dict[str, float]  # P(superiority) of each truly better arm
    expected_size: float
    size_quantiles: dict[str, float]
    expected_duration_days: float
    probability_select_best: float
    best_arm: str | None  # None: no arm is better than the control, so selecting none is right
    decisions_by_look: dict[str, list[float]]  # probability of each decision (any arm) at each look
    allocation_by_look: dict[str, list[float]]  # mean allocation probability of each arm after each look
    mean_look_day: list[float]
    mc_se_max: float

    @property
    def effect_label(self) -> str:
        return "log OR" if self.design.ordinal else "rate"

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "adaptive-platform", "scenario": self.scenario.name, "n_trials": self.n_trials,
            "seed": self.seed, "model": self.design.rules.model.type.value, "accrual_per_day":
                self.design.accrual_per_day, "lag_days": self.design.lag_days,
            "arms": [a.to_dict() for a in self.arms], "family_wise_type_i_error": self.family_wise_error,
            "power": self.power, "expected_size": self.expected_size, "size_quantiles": self.size_quantiles,
            "expected_duration_days": self.expected_duration_days,
            "probability_select_best": self.probability_select_best, "best_arm": self.best_arm,
            "decisions_by_look": self.decisions_by_look, "allocation_by_look": self.allocation_by_look,
            "mean_look_day": self.mean_look_day, "monte_carlo_se_max": self.mc_se_max,
        }

    def __str__(self) -> str:
        head = (f"Adaptive platform, scenario {self.scenario.name}: {self.n_trials:,} simulated trials "
                f"({self.design.rules.model.type.value}; {self.design.accrual_per_day:g} patients/day, outcome "
                f"after {self.design.lag_days:g} days; Monte Carlo SE <= {self.mc_se_max:.3f})")
        rows = [f"  {'arm':<22}{self.effect_label:>8}{'P(sup)':>8}{'P(inf)':>8}{'P(fut)':>8}{'P(equ)':>8}"
                f"{'patients: mean':>16}{'10%':>7}{'50%':>7}{'90%':>7}{'bias':>9}"]
        for a in self.arms:
            dec = a.decisions
            q = a.patients_quantiles
            name = a.arm + (" (control)" if a.is_control else " (null)" if a.null else "")
            rows.append(f"  {name:<22}{a.true_effect:>8.3f}{dec['superiority']:>8.3f}{dec['inferiority']:>8.3f}"
                        f"{dec['futility']:>8.3f}{dec['equivalence']:>8.3f}{a.patients_mean:>16.1f}"
                        f"{q['10%']:>7.0f}{q['50%']:>7.0f}{q['90%']:>7.0f}{a.bias:>+9.4f}")
        fwer = "no null arm" if self.family_wise_error is None else f"{self.family_wise_error:.3f}"
        power = ", ".join(f"{k} {v:.3f}" for k, v in self.power.items()) or "no arm better than control"
        q = self.size_quantiles
        tail = [
            f"  per-arm type I error: P(sup) of the null arms; family-wise (any null arm superior): {fwer}",
            f"  power (P(sup) of the truly better arms): {power}",
            f"  size: mean {self.expected_size:.0f} (10% {q['10%']:.0f}, 50% {q['50%']:.0f}, 90% {q['90%']:.0f}); "
            f"duration: mean {self.expected_duration_days:.0f} days",
            f"  P(select the best arm{'' if self.best_arm else ': none'}"
            f"{' ' + self.best_arm if self.best_arm else ''}) {self.probability_select_best:.3f}",
        ]
        return "\n".join([head, *rows, *tail])

    def plot(self) -> Any:
        """Mean allocation probability per arm after each analysis, and the decisions taken at each analysis."""
        return platform_simulation_plot(self)


def simulate_adaptive_platform(design: AdaptivePlatformDesign, scenario: Scenario, *, n_trials: int = 1000,
                               seed: int | None = 20200214, scheduler: Any = None,
                               progress: ProgressHook | None = None, chunk_size: int = 250) -> AdaptivePlatformResult:
    """Simulate ``n_trials`` platforms in chunks (bit-identical for any number of Dask workers)."""
    rec = run_chunks(PlatformTask(design, scenario), n_trials, seed, chunk_size=chunk_size, scheduler=scheduler,
                     progress=progress)
    return summarise(design, scenario, rec, n_trials, seed)


def summarise(design: AdaptivePlatformDesign, scenario: Scenario, rec: Records, n_trials: int,
              seed: int | None) -> AdaptivePlatformResult:
    ctrl = design.control
    truth = scenario.true_effects(ctrl)
    sign = -1.0 if design.lower_is_better else 1.0
    benefit = sign * (truth - truth[ctrl])  # > 0: truly better than the control
    # the truth each trial's final estimate estimates: a rate (binary), or the log odds ratio against the control
    # in force at the end (ordinal: a promoted arm may have become the control)
    final_truth = truth[None, :] - (truth[rec["control"]][:, None] if design.ordinal else 0.0)
    arms = []
    for i, name in enumerate(design.arms):
        n_i = rec["arm_n"][:, i].astype(float)
        est = rec["estimate"][:, i]
        arms.append(ArmCharacteristics(
            arm=name, true_effect=float(truth[i]), is_control=i == ctrl,
            null=i != ctrl and abs(benefit[i]) < 1e-12,
            decisions={k: float(np.mean(rec["decision"][:, i] == Decision[k.upper()])) for k in DECISIONS},
            patients_mean=float(n_i.mean()),
            patients_quantiles={f"{q:.0%}": float(np.quantile(n_i, q)) for q in QUANTILES},
            bias=float(np.nanmean(est - final_truth[:, i])) if np.isfinite(est).any() else float("nan")))
    superior = rec["decision"] == Decision.SUPERIORITY
    nulls = [a for a in range(len(design.arms)) if a != ctrl and abs(benefit[a]) < 1e-12]
    fwer = float(np.mean(superior[:, nulls].any(axis=1))) if nulls else None
    power = {design.arms[a]: float(np.mean(superior[:, a])) for a in range(len(design.arms))
             if a != ctrl and benefit[a] > 1e-12}
    # selection: the superior arm with the best final estimate; none if no arm is declared superior
    score = np.where(superior, sign * np.nan_to_num(rec["estimate"], nan=0.0), -np.inf)
    selected = np.where(superior.any(axis=1), score.argmax(axis=1), -1)
    experimental = [a for a in range(len(design.arms)) if a != ctrl]
    top = max(benefit[a] for a in experimental)
    best = [a for a in experimental if benefit[a] > 1e-12 and abs(benefit[a] - top) < 1e-12]
    p_best = float(np.mean(np.isin(selected, best))) if best else float(np.mean(selected == -1))
    looks = rec["allocation"].shape[1]
    dec_look = rec["decision_look"]
    by_look = {k: [float(np.sum((rec["decision"] == Decision[k.upper()]) & (dec_look == look)) / n_trials)
                   for look in range(looks)] for k in DECISIONS}
    used = [look for look in range(looks) if np.isfinite(rec["look_day"][:, look]).any()]
    by_look = {k: [v[look] for look in used] for k, v in by_look.items()}
    alloc = {name: [float(np.nanmean(rec["allocation"][:, look, i])) for look in used]
             for i, name in enumerate(design.arms)}
    sizes = rec["size"].astype(float)
    return AdaptivePlatformResult(
        design=design, scenario=scenario, n_trials=n_trials, seed=seed, arms=tuple(arms), family_wise_error=fwer,
        power=power, expected_size=float(sizes.mean()),
        size_quantiles={f"{q:.0%}": float(np.quantile(sizes, q)) for q in QUANTILES},
        expected_duration_days=float(rec["duration"].mean()), probability_select_best=p_best,
        best_arm=design.arms[best[0]] if best else None, decisions_by_look=by_look, allocation_by_look=alloc,
        mean_look_day=[float(np.nanmean(rec["look_day"][:, look])) for look in used],
        mc_se_max=math.sqrt(0.25 / n_trials))

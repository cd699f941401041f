"""Calibrate an adaptive platform's superiority threshold: the smallest posterior probability whose simulated
family-wise type I error under the null (every experimental arm like the control) is at most a target.

Bisection on the threshold with common random numbers: every evaluation simulates the same virtual trials (same
seed, so the same arrivals, allocation draws and outcomes per patient), so the error rate moves only because
the threshold moved, and is (up to the adaptive allocation's feedback) a non-increasing step function of it.

References
----------
Granholm A et al. (2022). adaptr: an R package for simulating and comparing adaptive clinical trials. JOSS
7:4284 (``calibrate_trial``: the superiority threshold calibrated to a target probability of superiority under
the null, here by bisection instead of a Gaussian-process search). Berry SM, Carlin BP, Lee JJ, Müller P (2010).
Bayesian Adaptive Methods for Clinical Trials. CRC, section 2.5.4 (calibrating Bayesian designs to frequentist
error rates by simulation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from equipoise.errors import UserError
from equipoise.simulate.adaptive_platform import AdaptivePlatformDesign, Scenario
from equipoise.simulate.adaptive_platform_result import simulate_adaptive_platform


@dataclass(frozen=True)
class Calibration:
    """The calibrated threshold, the error rate it gives, and every threshold tried (threshold, error rate)."""

    metric: str
    target: float
    threshold: float
    value: float
    n_trials: int
    seed: int
    steps: tuple[tuple[float, float], ...]

    @property
    def mc_se(self) -> float:
        return math.sqrt(max(self.value * (1 - self.value), 1e-12) / self.n_trials)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "target": self.target, "threshold": self.threshold, "value": self.value,
                "monte_carlo_se": self.mc_se, "n_trials": self.n_trials, "seed": self.seed,
                "steps": [{"threshold": t, "value": v} for t, v in self.steps]}

    def __str__(self) -> str:
        tried = ", ".join(f"{t:.5f}: {v:.3f}" for t, v in self.steps)
        return (f"Superiority threshold {self.threshold:.5f}: {self.metric} {self.value:.3f} (Monte Carlo SE "
                f"{self.mc_se:.3f}) <= target {self.target:g}, {self.n_trials:,} simulated trials per threshold, "
                f"seed {self.seed}\n  thresholds tried ({self.metric}): {tried}")


def bisect_threshold(metric: Callable[[float], float], target: float, low: float, high: float,
                     steps: int) -> tuple[float, float, tuple[tuple[float, float], ...]]:
    """The smallest threshold in [low, high] (to (high - low) / 2**steps) whose ``metric`` is <= ``target``, for
    a metric that does not increase with the threshold; returns (threshold, its metric, every evaluation).

    References
    ----------
    Burden RL, Faires JD. Numerical Analysis, 9th ed. Brooks/Cole 2011, section 2.1 (bisection)."""
    if not 0 < target < 1:
        raise UserError(f"the target error rate must be between 0 and 1, not {target}")
    if not 0.5 <= low < high < 1:
        raise UserError(f"the search range must satisfy 0.5 <= low < high < 1, not {low}..{high}")
    tried: list[tuple[float, float]] = []

    def at(t: float) -> float:
        value = metric(t)
        tried.append((t, value))
        return value

    top = at(high)
    if top > target:
        raise UserError(f"even a threshold of {high} gives {top:.3f} > target {target}: raise the upper end of "
                        "the search range or simulate more patients")
    best, best_value = high, top
    bottom = at(low)
    if bottom <= target:
        return low, bottom, tuple(tried)
    for _ in range(steps):
        mid = (low + high) / 2
        value = at(mid)
        if value <= target:
            high, best, best_value = mid, mid, value
        else:
            low = mid
    return best, best_value, tuple(tried)


def with_superiority(design: AdaptivePlatformDesign, threshold: float,
                     symmetric_inferiority: bool = False) -> AdaptivePlatformDesign:
    """The design with another superiority threshold (and inferiority at 1 - threshold if ``symmetric``)."""
    decisions = design.rules.decisions
    if decisions.superiority is None:
        raise UserError("the protocol's adaptive section has no superiority rule to calibrate")
    update: dict[str, Any] = {"superiority": decisions.superiority.model_copy(update={"probability": threshold})}
    if symmetric_inferiority and decisions.inferiority is not None:
        update["inferiority"] = decisions.inferiority.model_copy(update={"probability": 1 - threshold})
    rules = design.rules.model_copy(update={"decisions": decisions.model_copy(update=update)})
    return replace(design, rules=rules)


def calibrate_superiority(design: AdaptivePlatformDesign, null: Scenario, *, target: float = 0.05,
                          low: float = 0.95, high: float = 0.9999, steps: int = 8, n_trials: int = 1000,
                          seed: int = 4131, symmetric_inferiority: bool = False,
                          scheduler: Any = None) -> Calibration:
    """The smallest superiority threshold whose family-wise type I error under ``null`` is <= ``target``
    (bisection with common random numbers: every threshold simulates the same ``n_trials`` trials).

    References
    ----------
    Granholm A et al. adaptr. *JOSS* 2022;7:4284 (``calibrate_trial``)."""
    def fwer(threshold: float) -> float:
        result = simulate_adaptive_platform(with_superiority(design, threshold, symmetric_inferiority), null,
                                            n_trials=n_trials, seed=seed, scheduler=scheduler)
        if result.family_wise_error is None:
            raise UserError(f"scenario {null.name!r} has no null experimental arm: calibrate under the null")
        return result.family_wise_error

    threshold, value, tried = bisect_threshold(fwer, target, low, high, steps)
    return Calibration("family-wise type I error", target, threshold, value, n_trials, seed, tried)

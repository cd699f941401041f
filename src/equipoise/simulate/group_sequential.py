"""Operating characteristics of two-arm fixed and group-sequential designs by simulation.

A trial stops at the first look where z >= upper[k] (efficacy) or z <= lower[k] (futility); the last look
decides. Boundaries are on the z scale with positive values favouring the experimental arm (the ``design``
layer's convention). Operating characteristics: rejection probability (type I error under no effect, power
otherwise), stopping probabilities per look, expected sample size and its distribution, and the bias and
coverage of the naive estimate at the stopping look (Jennison & Turnbull 2000, ch. 8: the naive estimate
after a group-sequential test is biased, and its fixed-sample CI does not have exact coverage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from equipoise.errors import UserError
from equipoise.figures.operating_characteristics import operating_characteristics_plot
from equipoise.simulate.endpoints import Endpoint
from equipoise.simulate.engine import ProgressHook, Records, rng_for, run_chunks


@dataclass(frozen=True)
class SequentialPlan:
    """Looks and boundaries: ``upper[k]`` efficacy z, ``lower[k]`` futility z (None = no futility at look k)."""

    upper: tuple[float, ...]
    lower: tuple[float | None, ...] | None = None
    information_rates: tuple[float, ...] | None = None
    binding_futility: bool = False
    alpha: float | None = None
    two_sided: bool = False  # efficacy when |z| >= upper (symmetric two-sided test)

    def __post_init__(self) -> None:
        if not self.upper:
            raise UserError("a design needs at least one look")
        if self.lower is not None and len(self.lower) not in (len(self.upper), len(self.upper) - 1):
            raise UserError("futility bounds must be given for every look or every look but the last")

    @property
    def looks(self) -> int:
        return len(self.upper)

    def lower_array(self) -> np.ndarray:
        low = np.full(self.looks, -np.inf)
        if self.lower is not None:
            for k, b in enumerate(self.lower[: self.looks - 1]):
                if b is not None and math.isfinite(b):
                    low[k] = b
        return low

    @classmethod
    def from_design(cls, design: Any) -> SequentialPlan:
        """From ``equipoise.design``'s GroupSequentialDesign: one-sided designs use ``lower`` as futility
        bounds; two-sided designs reject when |z| >= upper and stop for futility when |z| < ``futility``
        (0 = no futility stop at that look)."""
        two_sided = int(getattr(design, "sided", 1)) == 2
        bounds = getattr(design, "futility", None) if two_sided else getattr(design, "lower", None)
        lower = None if bounds is None else tuple(
            None if b is None or not math.isfinite(float(b)) or (two_sided and float(b) <= 0) else float(b)
            for b in bounds)
        return cls(
            upper=tuple(float(u) for u in design.upper),
            lower=lower,
            information_rates=tuple(float(t) for t in design.information_rates),
            binding_futility=bool(getattr(design, "binding", False)),
            alpha=getattr(design, "alpha", None),
            two_sided=two_sided,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"upper": list(self.upper), "lower": None if self.lower is None else list(self.lower),
                "information_rates": None if self.information_rates is None else list(self.information_rates),
                "binding_futility": self.binding_futility, "alpha": self.alpha, "two_sided": self.two_sided}


@dataclass(frozen=True)
class _GsTask:
    endpoint: Endpoint
    plan: SequentialPlan

    def __call__(self, n: int, seed: np.random.SeedSequence) -> Records:
        data = self.endpoint.looks(n, rng_for(seed))
        k = self.plan.looks
        if data.z.shape[1] != k:
            raise UserError(f"the endpoint has {data.z.shape[1]} looks but the boundaries have {k}")
        upper = np.asarray(self.plan.upper)
        lower = self.plan.lower_array()
        if self.plan.two_sided:  # efficacy in either direction; futility when |z| is inside the inner bound
            eff = np.abs(data.z) >= upper[None, :]
            fut = (np.abs(data.z) < lower[None, :]) & ~eff
        else:
            eff = data.z >= upper[None, :]
            fut = (data.z <= lower[None, :]) & ~eff
        stop = eff | fut
        stop[:, -1] = True
        look = stop.argmax(axis=1)
        rows = np.arange(n)
        # ignoring futility: the first efficacy crossing (non-binding bounds' type I error convention)
        eff_any = np.asarray(eff.any(axis=1))
        rec: Records = {
            "look": look.astype(np.int16),
            "reject": eff[rows, look],
            "futility": fut[rows, look],
            "reject_ignoring_futility": eff_any,
            "n": data.sample_size[rows, look],
            "estimate": data.estimate[rows, look],
            "se": data.se[rows, look],
            "z": data.z[rows, look],
        }
        if data.events is not None:
            rec["events"] = data.events[rows, look]
        return rec


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Simulated operating characteristics of one design under one scenario."""

    n_trials: int
    seed: int | None
    scenario: dict[str, Any]
    plan: SequentialPlan
    null: bool
    rejection_probability: float
    rejection_probability_futility_obeyed: float
    rejection_probability_futility_ignored: float
    mc_se: float
    expected_n: float
    sd_n: float
    n_quantiles: dict[str, float]
    n_distribution: dict[str, float]
    stop_probability_by_look: list[float]
    efficacy_by_look: list[float]
    futility_by_look: list[float]
    true_effect: float
    estimand: str
    mean_estimate: float
    bias: float
    coverage: float
    expected_events: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_trials": self.n_trials, "seed": self.seed, "scenario": self.scenario, "design": self.plan.to_dict(),
            "null_hypothesis_true": self.null,
            "rejection_probability": self.rejection_probability,
            "rejection_rule": ("futility ignored (non-binding futility: the type I error convention)"
                               if self.null and not self.plan.binding_futility and self.plan.lower is not None
                               else "futility stops obeyed"),
            "rejection_probability_futility_obeyed": self.rejection_probability_futility_obeyed,
            "rejection_probability_futility_ignored": self.rejection_probability_futility_ignored,
            "mc_se": self.mc_se,
            "expected_n": self.expected_n, "sd_n": self.sd_n, "n_quantiles": self.n_quantiles,
            "n_distribution": self.n_distribution,
            "stop_probability_by_look": self.stop_probability_by_look,
            "efficacy_stop_probability_by_look": self.efficacy_by_look,
            "futility_stop_probability_by_look": self.futility_by_look,
            "estimand": self.estimand, "true_effect": self.true_effect, "mean_estimate": self.mean_estimate,
            "bias": self.bias, "coverage_95": self.coverage,
            "notes": self.notes,
        }
        if self.null:
            out["type_i_error"] = self.rejection_probability
        else:
            out["power"] = self.rejection_probability
        if self.expected_events is not None:
            out["expected_events"] = self.expected_events
        return out

    def plot(self) -> Any:
        """Stopping probabilities per look and the distribution of the sample size (a matplotlib Figure)."""
        return operating_characteristics_plot(self)

    def __str__(self) -> str:
        what = "type I error" if self.null else "power"
        shown = {k: v for k, v in self.scenario.items() if k != "effect_meaning"}
        lines = [
            f"{self.n_trials:,} simulated trials ({', '.join(f'{k}={v}' for k, v in shown.items())})",
            *([f"  effect {shown.get('effect', '')}: {self.scenario['effect_meaning']}"]
              if "effect_meaning" in self.scenario else []),
            f"  {what}: {self.rejection_probability:.4f} (Monte Carlo SE {self.mc_se:.4f})"
            + (f"  [nominal alpha {self.plan.alpha}]" if self.null and self.plan.alpha else ""),
        ]
        if self.plan.lower is not None:
            lines.append(f"  rejection with futility stops obeyed: {self.rejection_probability_futility_obeyed:.4f}; "
                         f"ignored: {self.rejection_probability_futility_ignored:.4f}")
        lines.append(f"  expected sample size: {self.expected_n:.1f} (SD {self.sd_n:.1f}; "
                     f"median {self.n_quantiles['50%']:.0f}, 90% {self.n_quantiles['90%']:.0f})")
        if self.expected_events is not None:
            lines.append(f"  expected events: {self.expected_events:.1f}")
        lines.append("  look  stop    efficacy  futility")
        for k, (s, e, f) in enumerate(zip(self.stop_probability_by_look, self.efficacy_by_look,
                                          self.futility_by_look, strict=True)):
            lines.append(f"  {k + 1:>4}  {s:.4f}  {e:.4f}    {f:.4f}")
        lines.append(f"  {self.estimand}: true {self.true_effect:.4f}, mean estimate at stop "
                     f"{self.mean_estimate:.4f} (bias {self.bias:+.4f}), naive 95% CI coverage {self.coverage:.3f}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def summarise(rec: Records, plan: SequentialPlan, endpoint: Endpoint, null: bool, seed: int | None,
              scenario: dict[str, Any], notes: tuple[str, ...] = ()) -> OperatingCharacteristics:
    n = len(rec["look"])
    k = plan.looks
    obeyed = float(np.mean(rec["reject"]))
    ignored = float(np.mean(rec["reject_ignoring_futility"]))
    use_ignored = null and plan.lower is not None and not plan.binding_futility
    p = ignored if use_ignored else obeyed
    sizes = rec["n"].astype(float)
    values, counts = np.unique(sizes, return_counts=True)
    est, se = rec["estimate"], rec["se"]
    finite = np.isfinite(se)
    truth = endpoint.true_effect
    cover = np.abs(est[finite] - truth) <= 1.959963984540054 * se[finite]
    look = rec["look"]
    return OperatingCharacteristics(
        n_trials=n, seed=seed, scenario=scenario, plan=plan, null=null,
        rejection_probability=p, rejection_probability_futility_obeyed=obeyed,
        rejection_probability_futility_ignored=ignored, mc_se=float(np.sqrt(p * (1 - p) / n)),
        expected_n=float(sizes.mean()), sd_n=float(sizes.std()),
        n_quantiles={q: float(np.quantile(sizes, float(q[:-1]) / 100)) for q in ("10%", "25%", "50%", "75%", "90%")},
        n_distribution={f"{v:g}": float(c / n) for v, c in zip(values, counts, strict=True)},
        stop_probability_by_look=[float(np.mean(look == j)) for j in range(k)],
        efficacy_by_look=[float(np.mean((look == j) & rec["reject"])) for j in range(k)],
        futility_by_look=[float(np.mean((look == j) & rec["futility"])) for j in range(k)],
        true_effect=truth, estimand=endpoint.estimand, mean_estimate=float(np.mean(est)),
        bias=float(np.mean(est) - truth), coverage=float(np.mean(cover)) if cover.size else float("nan"),
        expected_events=float(np.mean(rec["events"])) if "events" in rec else None,
        notes=list(notes),
    )




def simulate_group_sequential(endpoint: Endpoint, plan: SequentialPlan, *, null: bool | None = None,
                              n_trials: int = 10000, seed: int | None = 20200316, scheduler: Any = None,
                              progress: ProgressHook | None = None, chunk_size: int = 10000,
                              scenario: dict[str, Any] | None = None,
                              notes: tuple[str, ...] = ()) -> OperatingCharacteristics:
    """Simulate ``n_trials`` trials of a two-arm design and summarise their operating characteristics."""
    task = _GsTask(endpoint, plan)
    rec = run_chunks(task, n_trials, seed, chunk_size=chunk_size, scheduler=scheduler, progress=progress)
    is_null = abs(endpoint.true_effect) < 1e-12 if null is None else null
    return summarise(rec, plan, endpoint, is_null, seed, scenario or {"effect": endpoint.true_effect}, notes)

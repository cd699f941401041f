"""Interim monitoring of a group-sequential trial: the decision at each look with its reasons, boundaries
recalculated at the observed information, repeated confidence intervals, conditional and predictive power,
and the final stagewise-adjusted p-value, median-unbiased estimate and confidence interval.

Everything is on the normal-theory scale shared by all outcome types (Jennison & Turnbull 2000, ch. 3): at
look k the effect estimate theta_k (a log odds ratio, log hazard ratio, risk difference, ..., oriented so that
positive values favour the experimental arm) has standard error se_k, information I_k = 1 / se_k^2 and
statistic Z_k = theta_k / se_k. Boundaries come from ``equipoise.design.gsd`` with the error-spending function
evaluated at the *observed* information fractions (Lan & DeMets 1983), which is how the type I error stays
controlled when the information differs from the plan. Method sources:

- repeated confidence intervals: theta_k ± c_k se_k (Jennison & Turnbull 1989; J&T 2000, §9.1);
- conditional power: P(cross a later efficacy bound before a later futility bound | Z_k, theta) (J&T §10.2;
  rpact getConditionalPower, which applies the later futility bounds even when they are non-binding);
- predictive power: conditional power averaged over the flat-prior posterior N(theta_k, se_k^2)
  (Spiegelhalter, Freedman & Blackburn 1986), by 40-point Gauss–Hermite quadrature;
- final inference: stagewise ordering (Tsiatis, Rosner & Mehta 1984; J&T §8.4), with the p-value, the
  median-unbiased estimate and the confidence interval obtained by solving P_theta(more extreme) = 1/2, alpha,
  1 - alpha (as rpact getFinalPValue / getFinalConfidenceInterval).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, stats

from equipoise.analyze.results import clean, fmt
from equipoise.errors import UserError
from equipoise.figures.interim_monitoring import monitoring_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.design import GroupSequentialDesign
    from equipoise.protocol import AnalysisPlan

SPENDING_NAMES = {"obf": "O'Brien–Fleming-type", "pocock": "Pocock-type", "hsd": "Hwang–Shih–DeCani",
                  "kd": "Kim–DeMets", "of-constant": "O'Brien–Fleming", "pocock-constant": "Pocock"}


@dataclass(frozen=True)
class MonitoringPlan:
    """The group-sequential plan: the options of ``equipoise.design.gsd`` (from a protocol's analysis.looks or
    given directly)."""

    information_rates: tuple[float, ...]
    alpha: float = 0.025
    sided: int = 1
    spending: str = "obf"
    gamma: float | None = None
    rho: float | None = None
    futility_spending: str | None = None
    futility_gamma: float | None = None
    futility_rho: float | None = None
    binding: bool = False
    beta: float = 0.2

    def __post_init__(self) -> None:
        rates = self.information_rates
        shown = ", ".join(f"{r:g}" for r in rates)
        if not rates or not all(math.isfinite(r) and 0 < r <= 1 for r in rates):
            raise UserError(f"information rates: each must be above 0 and at most 1 (got {shown})")
        if any(b <= a for a, b in itertools.pairwise(rates)):
            raise UserError(f"information rates: must increase from look to look (got {shown})")
        if abs(rates[-1] - 1) > 1e-9:
            raise UserError(f"information rates: the last look is the final analysis, with rate 1 (got {shown})")
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 0.5):
            raise UserError(f"alpha: must be between 0 and 0.5 (got {self.alpha:g})")
        if self.sided not in (1, 2):
            raise UserError(f"sided: must be 1 or 2 (got {self.sided})")
        if not (math.isfinite(self.beta) and 0 < self.beta < 1):
            raise UserError(f"beta: must be between 0 and 1 (got {self.beta:g})")

    @classmethod
    def from_protocol(cls, plan: AnalysisPlan) -> MonitoringPlan:
        if plan.looks is None:
            raise UserError("protocol: analysis.looks is missing; there is no group-sequential plan to monitor")
        fut = plan.looks.futility
        return cls(tuple(plan.looks.information_rates), plan.alpha, plan.sided, plan.looks.efficacy.spending.value,
                   plan.looks.efficacy.gamma, plan.looks.efficacy.rho, fut.spending.value if fut else None,
                   fut.gamma if fut else None, fut.rho if fut else None, fut.binding if fut else False,
                   1 - plan.power if plan.power is not None else 0.2)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "--design") -> MonitoringPlan:
        """From gsd options or a ``GroupSequentialDesign.to_dict()`` (e.g. ``equipoise design ... --json``)."""
        body = data.get("design", data) if isinstance(data.get("design"), dict) else data
        rates = body.get("information_rates")
        if rates is None and isinstance(body.get("looks"), int):
            rates = [(i + 1) / body["looks"] for i in range(body["looks"])]
        if not isinstance(rates, list) or not rates:
            raise UserError(f"{source}: no 'information_rates' (or 'looks') in the design")
        try:
            return cls(tuple(float(r) for r in rates), float(body.get("alpha", 0.025)), int(body.get("sided", 1)),
                       str(body.get("spending", "obf")), body.get("gamma"), body.get("rho"),
                       body.get("futility_spending"), body.get("futility_gamma"), body.get("futility_rho"),
                       bool(body.get("binding", False)), float(body.get("beta", 0.2)))
        except (TypeError, ValueError) as exc:
            raise UserError(f"{source}: the design has a value of the wrong type ({exc})") from None

    def design(self, rates: Sequence[float] | None = None) -> GroupSequentialDesign:
        from equipoise.design import gsd

        rates = list(self.information_rates if rates is None else rates)
        futility = self.futility_spending if len(rates) > 1 else None
        return gsd(looks=len(rates), alpha=self.alpha, sided=self.sided, spending=self.spending,
                   information_rates=rates, gamma=self.gamma, rho=self.rho, beta=self.beta,
                   futility_spending=futility, futility_gamma=self.futility_gamma if futility else None,
                   futility_rho=self.futility_rho if futility else None, binding=self.binding)

    def describe(self) -> str:
        text = f"{SPENDING_NAMES.get(self.spending, self.spending)} alpha spending, one-sided alpha {self.alpha:g}" \
            if self.sided == 1 else f"{SPENDING_NAMES.get(self.spending, self.spending)} alpha spending, " \
            f"two-sided alpha {self.alpha:g}"
        if self.futility_spending:
            text += (f"; {'binding' if self.binding else 'non-binding'} "
                     f"{SPENDING_NAMES.get(self.futility_spending, self.futility_spending)} futility (beta spending"
                     + (f", gamma {self.futility_gamma:g}" if self.futility_gamma is not None else "") + ")")
        return text


@dataclass(frozen=True)
class LookData:
    """What one analysis observed: the oriented effect estimate (positive favours experimental), its standard
    error and the information fraction (information, patients or events so far / planned maximum)."""

    estimate: float
    se: float
    information_fraction: float
    n: int | None = None
    label: str = ""

    @property
    def z(self) -> float:
        return self.estimate / self.se

    @property
    def information(self) -> float:
        return 1.0 / self.se**2


@dataclass(frozen=True)
class FinalInference:
    """Stagewise-ordering inference at the look where the trial stopped (or the final look)."""

    look: int
    p_value: float  # one-sided
    median_unbiased: float
    ci_low: float
    ci_high: float
    conf_level: float

    def to_dict(self) -> dict[str, Any]:
        return {"look": self.look, "p_value": clean(self.p_value), "median_unbiased": clean(self.median_unbiased),
                "ci_low": clean(self.ci_low), "ci_high": clean(self.ci_high), "conf_level": self.conf_level,
                "ordering": "stagewise"}


@dataclass(frozen=True)
class InterimResult:
    look: int
    planned_looks: int
    decision: str  # continue | stop for efficacy | stop for futility | reject H0 | do not reject H0
    reasons: tuple[str, ...]
    looks: tuple[LookData, ...]
    information_rates: tuple[float, ...]  # used for the boundaries (observed, then planned)
    planned_rates: tuple[float, ...]
    upper: tuple[float, ...]
    lower: tuple[float | None, ...]
    rci: tuple[tuple[float, float], ...]  # per look, on the estimate's scale
    conditional_power_design: float | None
    conditional_power_observed: float | None
    predictive_power: float | None
    theta_design: float | None
    final: FinalInference | None
    plan: MonitoringPlan
    measure: str = "effect"
    log_scale: bool = False
    notes: tuple[str, ...] = field(default=())

    def _scale(self, x: float) -> float:
        return math.exp(x) if self.log_scale and math.isfinite(x) else x

    def to_dict(self) -> dict[str, Any]:
        return {
            "look": self.look, "planned_looks": self.planned_looks, "decision": self.decision,
            "reasons": list(self.reasons), "measure": self.measure, "plan": self.plan.describe(),
            "information_rates": list(self.information_rates), "planned_information_rates": list(self.planned_rates),
            "efficacy_bounds": [clean(v) for v in self.upper],
            "futility_bounds": [clean(v) for v in self.lower],
            "looks": [{"look": i + 1, "label": lk.label, "n": lk.n, "information_fraction": lk.information_fraction,
                       "estimate": clean(self._scale(lk.estimate)), "z": clean(lk.z),
                       "repeated_ci": [clean(self._scale(self.rci[i][0])), clean(self._scale(self.rci[i][1]))]}
                      for i, lk in enumerate(self.looks)],
            "conditional_power": {"design_effect": clean(self.conditional_power_design),
                                  "current_estimate": clean(self.conditional_power_observed)},
            "predictive_power": clean(self.predictive_power),
            "final": self.final.to_dict() if self.final else None,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [f"Interim analysis, look {self.look} of {self.planned_looks}: {self.decision.upper()}",
                 f"  plan: {self.plan.describe()}"]
        lines += [f"  - {r}" for r in self.reasons]
        lines.append("  look  info    estimate  Z        efficacy  futility  repeated CI")
        for i, lk in enumerate(self.looks):
            lo = self.lower[i]
            lines.append(f"  {i + 1:<5} {lk.information_fraction:<7.3f} {fmt(self._scale(lk.estimate)):<9} "
                         f"{fmt(lk.z):<8} {fmt(self.upper[i]):<9} {fmt(lo) if lo is not None else '—':<9} "
                         f"{fmt(self._scale(self.rci[i][0]))} to {fmt(self._scale(self.rci[i][1]))}")
        if self.final:
            f = self.final
            lines.append(f"  final (stagewise ordering): p = {f.p_value:.4g}, median-unbiased {self.measure} "
                         f"{fmt(self._scale(f.median_unbiased))}, {100 * f.conf_level:g}% CI "
                         f"{fmt(self._scale(f.ci_low))} to {fmt(self._scale(f.ci_high))}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def plot(self) -> Figure:
        """The boundaries at the observed information with the observed z path (``figures/interim_monitoring.py``)."""
        return monitoring_plot(self)


def _crossing(upper: Sequence[float], rates: Sequence[float], drift: float,
              lower: Sequence[float] | None = None) -> float:
    from equipoise.design import crossing_probabilities

    p_up, _ = crossing_probabilities(list(upper), None if lower is None else list(lower), list(rates), drift)
    return float(np.sum(p_up))


def conditional_power(z_k: float, info_k: float, future_info: Sequence[float], future_bounds: Sequence[float],
                      theta: float, future_lower: Sequence[float | None] | None = None) -> float:
    """P(Z_j >= c_j at some later look j before falling below a futility bound | Z_k = z_k) when the effect is
    theta (J&T §10.2). Later futility bounds are applied, as rpact's getConditionalPower applies them."""
    inc = np.asarray(future_info) - info_k
    if np.any(inc <= 0):
        raise UserError("interim: the planned information of later looks must exceed the current information")
    total = inc[-1]
    root_info = np.sqrt(np.asarray(future_info))
    bounds = (np.asarray(future_bounds) * root_info - z_k * math.sqrt(info_k)) / np.sqrt(inc)
    lower = None
    if future_lower is not None and any(v is not None for v in future_lower):
        raw = np.array([-np.inf if v is None else v for v in future_lower])
        lower = ((raw * root_info - z_k * math.sqrt(info_k)) / np.sqrt(inc)).tolist()
    return _crossing(bounds.tolist(), (inc / total).tolist(), theta * math.sqrt(total), lower)


def predictive_power(z_k: float, info_k: float, future_info: Sequence[float], future_bounds: Sequence[float],
                     future_lower: Sequence[float | None] | None = None, nodes: int = 40) -> float:
    theta_hat, se = z_k / math.sqrt(info_k), 1 / math.sqrt(info_k)
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    values = [conditional_power(z_k, info_k, future_info, future_bounds, theta_hat + se * xi, future_lower)
              for xi in x]
    return float(np.dot(w, values) / math.sqrt(2 * math.pi))


def final_inference(looks: Sequence[LookData], upper: Sequence[float], alpha: float, sided: int,
                    binding_lower: Sequence[float] | None = None) -> FinalInference:
    """Stagewise-ordering p-value, median-unbiased estimate and interval at the last of ``looks``."""
    m = len(looks)
    info = np.array([lk.information for lk in looks])
    rates = (info / info[-1]).tolist()
    bounds = [*list(upper[: m - 1]), looks[-1].z]
    lower = None if binding_lower is None else [*list(binding_lower[: m - 1]), -math.inf]

    def p_more_extreme(theta: float) -> float:
        return _crossing(bounds, rates, theta * math.sqrt(info[-1]), lower)

    p = p_more_extreme(0.0)
    se = 1 / math.sqrt(info[-1])
    est = looks[-1].estimate
    a = alpha if sided == 1 else alpha / 2

    def solve(target: float) -> float:
        return float(optimize.brentq(lambda th: p_more_extreme(th) - target, est - 12 * se, est + 12 * se,
                                     xtol=1e-10))

    return FinalInference(m, p, solve(0.5), solve(a), solve(1 - a), 1 - 2 * a)


MEASURE_NAMES = {"risk_difference": "risk difference", "risk_ratio": "risk ratio", "odds_ratio": "odds ratio",
                 "hazard_ratio": "hazard ratio", "effect": "effect"}


def design_effect_text(theta: float, measure: str, log_scale: bool, source: str | None) -> str:
    """What the design effect is, on which scale, and where it came from (said wherever it is used)."""
    name = MEASURE_NAMES.get(measure, measure.replace("_", " "))
    shown = fmt(math.exp(theta)) if log_scale else fmt(theta)
    scale = (f"{name} {shown} (log {theta:.4g}), oriented so that above 1 favours experimental" if log_scale else
             f"{name} {shown}, oriented so that positive values favour experimental")
    return (f"design effect: {scale}, {source or 'as given'}: the effect the trial was sized for. Conditional power "
            "under it is the probability of crossing an efficacy bound at a later look, given the data so far, if "
            "that were the true effect")


def monitor(plan: MonitoringPlan, looks: Sequence[LookData], *, theta_design: float | None = None,
            cp_futility: float | None = None, measure: str = "effect", log_scale: bool = False,
            theta_design_source: str | None = None) -> InterimResult:
    """The decision at the latest of ``looks`` (all looks so far, in order). ``theta_design`` is the effect the
    trial was sized for on the monitored scale (oriented, log for ratios), ``theta_design_source`` where it came
    from (said in the notes)."""
    if not looks:
        raise UserError("interim: no look to analyse")
    if cp_futility is not None and not (0 <= cp_futility <= 1):
        raise UserError(f"--cp-futility: a conditional power threshold is a probability from 0 to 1 (got "
                        f"{cp_futility:g})")
    for i, lk in enumerate(looks, start=1):
        if not (math.isfinite(lk.estimate) and math.isfinite(lk.se) and lk.se > 0 and math.isfinite(lk.z)
                and math.isfinite(lk.information_fraction)):
            raise UserError(f"interim: look {i} has no usable estimate (estimate {lk.estimate:g}, SE {lk.se:g}, "
                            f"information fraction {lk.information_fraction:g}): too few patients or events, or no "
                            "variation in the outcome")
    planned = list(plan.information_rates)
    K = len(planned)
    t_obs = [lk.information_fraction for lk in looks]
    k = len(looks)
    if any(b <= a for a, b in itertools.pairwise(t_obs)) or t_obs[0] <= 0:
        raise UserError("interim: information fractions must be positive and increase from look to look "
                        f"(got {', '.join(f'{t:.3f}' for t in t_obs)})")
    if k > K:
        raise UserError(f"interim: {k} looks given but the plan has {K}")
    final_look = k == K or t_obs[-1] >= 1.0
    notes: list[str] = []
    if final_look:
        rates = [*t_obs[:-1], 1.0]
        if t_obs[-1] != 1.0:
            notes.append(f"the final look has information fraction {t_obs[-1]:.3f}; it spends all remaining alpha")
    else:
        rates = [*t_obs, *[r for r in planned[k:] if r > t_obs[-1]]]
        if rates[-1] < 1.0:
            rates.append(1.0)
    design = plan.design(rates)
    upper = [float(u) for u in design.upper]
    futility = None if design.futility is None else [float(f) for f in design.futility]
    lower: list[float | None] = [None] * len(rates)
    if futility is not None and plan.sided == 1:
        lower = [*futility[:-1], None]
    cur = looks[-1]
    c_k = upper[k - 1]
    reasons = [f"look {k} of {K}: information fraction {cur.information_fraction:.3f} "
               f"(planned {planned[k - 1]:.3f})" + (f", {cur.n} patients" if cur.n is not None else "")]
    if any(abs(a - b) > 1e-9 for a, b in zip(rates[:k], planned[:k], strict=False)):
        reasons.append("boundaries recalculated by spending alpha at the observed information fractions "
                       f"({', '.join(f'{t:.3f}' for t in rates[:k])}); cumulative alpha spent "
                       f"{float(design.cumulative_alpha[k - 1]):.5f}")
    z = cur.z
    f_k = lower[k - 1]
    reasons.append(f"Z = {z:.3f}; efficacy bound {c_k:.3f}" + (f", futility bound {f_k:.3f}" if f_k is not None
                                                               else ""))
    # conditional and predictive power
    cp_d = cp_o = pp = None
    if not final_look:
        info_max = cur.information / cur.information_fraction
        fut_info = [r * info_max for r in rates[k:]]
        fut_bounds = upper[k:]
        fut_lower = lower[k:]
        cp_o = conditional_power(z, cur.information, fut_info, fut_bounds, cur.estimate, fut_lower)
        pp = predictive_power(z, cur.information, fut_info, fut_bounds, fut_lower)
        if theta_design is not None:
            cp_d = conditional_power(z, cur.information, fut_info, fut_bounds, theta_design, fut_lower)
        cp_text = f"conditional power {100 * cp_o:.1f}% under the current estimate"
        if cp_d is not None:
            cp_text = (f"conditional power {100 * cp_d:.1f}% under the design effect "
                       f"({fmt(math.exp(theta_design) if log_scale and theta_design is not None else theta_design)})"
                       f", {100 * cp_o:.1f}% under the current estimate")
        reasons.append(f"{cp_text}; predictive power {100 * pp:.1f}%")
    # decision
    final = None
    a = plan.alpha if plan.sided == 1 else plan.alpha / 2
    binding_lower = [v if v is not None else -math.inf for v in lower] if plan.binding and futility else None
    if z >= c_k:
        decision = "reject H0" if final_look else "stop for efficacy"
        reasons.append(f"Z = {z:.3f} is at or above the efficacy bound {c_k:.3f} (one-sided nominal level "
                       f"{float(stats.norm.sf(c_k)):.5f})")
        final = final_inference(looks, upper, plan.alpha, plan.sided, binding_lower)
    elif final_look:
        decision = "do not reject H0"
        reasons.append(f"Z = {z:.3f} is below the final efficacy bound {c_k:.3f}")
        final = final_inference(looks, upper, plan.alpha, plan.sided, binding_lower)
    elif f_k is not None and z <= f_k:
        decision = "stop for futility"
        reasons.append(f"Z = {z:.3f} is at or below the futility bound {f_k:.3f}"
                       + ("" if plan.binding else " (non-binding: the committee may still continue)"))
    elif cp_futility is not None and cp_d is not None and cp_d < cp_futility:
        decision = "stop for futility"
        reasons.append(f"conditional power under the design effect, {100 * cp_d:.1f}%, is below the futility "
                       f"threshold {100 * cp_futility:.0f}%")
    else:
        decision = "continue"
        reasons.append("no boundary is crossed")
    rci = tuple((lk.estimate - upper[i] * lk.se, lk.estimate + upper[i] * lk.se) for i, lk in enumerate(looks))
    del a
    if theta_design is not None and not final_look:
        notes.append(design_effect_text(theta_design, measure, log_scale, theta_design_source))
    elif theta_design is None and not final_look:
        notes.append("no design effect: conditional power is given under the current estimate only (give "
                     "--design-effect, or a protocol whose analysis.primary.assumptions state the effect)")
    return InterimResult(k, K, decision, tuple(reasons), tuple(looks), tuple(rates), tuple(planned), tuple(upper),
                         tuple(lower), rci, cp_d, cp_o, pp, theta_design, final, plan, measure, log_scale,
                         tuple(notes))

"""Trial sequential analysis: the cumulative meta-analysis z-curve against Lan-DeMets monitoring boundaries on
the scale of the (diversity-adjusted) required information size.

- Required information size (two arms of equal size, total patients):
  binary RIS = 4 (z_{1-alpha/2} + z_{1-beta})^2 p(1 - p) / delta^2 with delta = Pc RRR and p = (Pc + Pi)/2,
  Pi = Pc (1 - RRR); continuous RIS = 4 (z_{1-alpha/2} + z_{1-beta})^2 sigma^2 / delta^2.
- Diversity D^2 = (V_R - V_F) / V_R, the relative variance reduction from the random-effects to the
  fixed-effect model (V = squared standard error of the pooled estimate; DerSimonian-Laird by default as in
  the TSA program); the diversity-adjusted size DARIS = RIS / (1 - D^2).
- Monitoring boundaries: two-sided Lan-DeMets O'Brien-Fleming alpha spending at the information fractions
  t_k = (patients so far) / DARIS, computed with ``equipoise.design``'s spending function and recursive
  integration (validated against rpact). Looks at or beyond the DARIS use the final boundary. Optional
  futility boundaries come from ``equipoise.design.gsd`` (non-binding two-sided beta spending,
  O'Brien-Fleming type, rpact's conventions; at most 20 looks), which may differ in detail from the TSA
  program's inner wedge.

References
----------
Wetterslev J, Thorlund K, Brok J, Gluud C (2008). Trial sequential analysis may establish when firm evidence is
reached in cumulative meta-analysis. J Clin Epidemiol 61:64-75. Wetterslev J, Thorlund K, Brok J, Gluud C
(2009). Estimating required information size by quantifying diversity in random-effects model meta-analyses.
BMC Med Res Methodol 9:86. Wetterslev J, Jakobsen JC, Gluud C (2017). Trial Sequential Analysis in systematic
reviews with meta-analysis. BMC Med Res Methodol 17:39. Lan KKG, DeMets DL (1983). Biometrika 70:659-663.
Thorlund K et al. (2011/2017). User manual for Trial Sequential Analysis (TSA). Copenhagen Trial Unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import norm

from equipoise.design.boundaries import efficacy_bounds
from equipoise.design.group_sequential import gsd
from equipoise.design.spending import Family, cumulative_spending
from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure, ZeroCellRule
from equipoise.evidence.pooled import Method
from equipoise.evidence.sensitivity import cumulative
from equipoise.evidence.study_table import DataKind, StudyTable, fit_model
from equipoise.figures.trial_sequential import tsa_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_FUTILITY_LOOKS = 20


def required_information_size_binary(control_risk: float, rrr: float, alpha: float = 0.05,
                                     beta: float = 0.2) -> float:
    """Total patients for a two-arm comparison of proportions (Wetterslev et al. 2008, eq. 1)."""
    if not 0 < control_risk < 1:
        raise UserError(f"--control-risk: {control_risk} is not a proportion between 0 and 1")
    if not 0 < rrr < 1:
        raise UserError(f"--rrr: {rrr} is not a relative risk reduction between 0 and 1")
    _check_errors(alpha, beta)
    pi = control_risk * (1 - rrr)
    p = (control_risk + pi) / 2
    delta = control_risk * rrr
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(1 - beta))
    return 4 * z**2 * p * (1 - p) / delta**2


def required_information_size_continuous(mean_difference: float, sd: float, alpha: float = 0.05,
                                         beta: float = 0.2) -> float:
    """Total patients for a two-arm comparison of means (Wetterslev et al. 2017, Methods)."""
    if mean_difference == 0 or sd <= 0:
        raise UserError("--mean-difference must be non-zero and --sd positive")
    _check_errors(alpha, beta)
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(1 - beta))
    return 4 * z**2 * sd**2 / mean_difference**2


def _check_errors(alpha: float, beta: float) -> None:
    if not 0 < alpha < 0.5:
        raise UserError(f"--alpha: {alpha} is not between 0 and 0.5")
    if not 0 < beta < 0.5:
        raise UserError(f"--power: {1 - beta} is not between 0.5 and 1")


def diversity(fixed_se: float, random_se: float) -> float:
    """D^2 = (V_R - V_F) / V_R (Wetterslev et al. 2009, eq. 4), 0 when the models agree."""
    v_f, v_r = fixed_se**2, random_se**2
    return max(0.0, (v_r - v_f) / v_r) if v_r > 0 else 0.0


@dataclass(frozen=True)
class TsaLook:
    """The meta-analysis after ``study``: ``patients`` so far, information fraction, z and the boundaries."""

    study: str
    patients: float
    information_fraction: float
    z: float
    boundary: float
    futility: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "patients": self.patients, "information_fraction": self.information_fraction,
                "z": _finite(self.z), "boundary": self.boundary, "futility": self.futility}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class TrialSequentialAnalysis:
    """The TSA of one outcome; ``conclusion`` answers "is the evidence enough, or how many more patients?"."""

    measure: Measure
    method: Method
    alpha: float
    beta: float
    assumption: str
    ris: float
    diversity: float
    daris: float
    looks: tuple[TsaLook, ...]
    accrued: float
    crossed_at: str | None
    crossing: str | None  # "benefit", "harm", "futility"

    @property
    def more_patients_needed(self) -> float:
        return max(0.0, self.daris - self.accrued)

    @property
    def conclusion(self) -> str:
        if self.crossing in ("benefit", "harm"):
            return (f"firm evidence of {self.crossing}: the z-curve crossed the monitoring boundary after "
                    f"{self.crossed_at}")
        if self.crossing == "futility":
            return f"futility: the z-curve entered the futility region after {self.crossed_at}"
        if self.accrued >= self.daris:
            return "the required information size is reached without crossing a boundary: no effect of the size assumed"
        return (f"not enough evidence yet: {self.accrued:,.0f} of {math.ceil(self.daris):,} required patients "
                f"({100 * self.accrued / self.daris:.0f}%); about {math.ceil(self.more_patients_needed):,} more needed")

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure.value, "method": self.method.value, "alpha": self.alpha,
                "power": 1 - self.beta, "assumption": self.assumption, "ris": self.ris, "diversity": self.diversity,
                "daris": self.daris, "accrued": self.accrued, "more_patients_needed": self.more_patients_needed,
                "crossing": self.crossing, "crossed_at": self.crossed_at, "conclusion": self.conclusion,
                "looks": [look.to_dict() for look in self.looks]}

    def __str__(self) -> str:
        lines = [
            f"Trial sequential analysis ({self.measure.label}, {self.method.value}; Wetterslev et al. 2008, 2017)",
            f"Assumption: {self.assumption}; two-sided alpha {self.alpha:g}, power {1 - self.beta:.0%}",
            f"Required information size {math.ceil(self.ris):,}; diversity D^2 = {100 * self.diversity:.1f}%; "
            f"diversity-adjusted {math.ceil(self.daris):,} patients",
            "",
            f"{'after':<28}{'patients':>10}{'fraction':>10}{'z':>9}{'boundary':>10}{'futility':>10}",
        ]
        for look in self.looks:
            fut = "" if look.futility is None else f"{look.futility:.3f}"
            lines.append(f"{look.study[:27]:<28}{look.patients:>10,.0f}{look.information_fraction:>10.3f}"
                         f"{look.z:>9.3f}{look.boundary:>10.3f}{fut:>10}")
        lines += ["", f"Conclusion: {self.conclusion}"]
        return "\n".join(lines)

    def plot(self) -> Figure:
        return tsa_plot(self)


def monitoring_boundaries(fractions: np.ndarray, alpha: float) -> np.ndarray:
    """Two-sided Lan-DeMets O'Brien-Fleming bounds at ``fractions`` (looks at or past 1 get the final bound)."""
    below = np.unique(fractions[fractions < 1])
    t = np.append(below, 1.0)
    bounds = efficacy_bounds(t, cumulative_spending(Family.OBF, alpha, t, sided=2), sided=2)
    return np.array([bounds[int(np.searchsorted(t, min(f, 1.0)))] for f in fractions])


def _futility(fractions: np.ndarray, alpha: float, beta: float) -> list[float | None]:
    below = np.unique(fractions[fractions < 1])
    t = np.append(below, 1.0)
    if len(t) > MAX_FUTILITY_LOOKS or len(t) < 2:
        raise UserError(f"--futility: needs 2 to {MAX_FUTILITY_LOOKS} looks below the required information size, "
                        f"there are {len(t)}")
    design = gsd(information_rates=t, alpha=alpha, sided=2, beta=beta, spending="obf", futility_spending="obf")
    assert design.futility is not None
    return [float(design.futility[int(np.searchsorted(t, min(f, 1.0)))]) if f < 1 else None for f in fractions]


def trial_sequential_analysis(table: StudyTable, measure: Measure, method: Method = Method.DL, *,
                              control_risk: float | None = None, rrr: float | None = None,
                              mean_difference: float | None = None, sd: float | None = None,
                              alpha: float = 0.05, beta: float = 0.2, diversity_value: float | None = None,
                              futility: bool = False, rule: ZeroCellRule | None = None) -> TrialSequentialAnalysis:
    """TSA of ``table`` (trials in year, then file order), with the information size from ``control_risk`` and
    ``rrr`` (binary) or ``mean_difference`` and ``sd`` (continuous); D^2 from the data unless given."""
    if table.kind is DataKind.GENERIC:
        raise UserError("trial sequential analysis needs the patients per trial: give 2x2 counts or means, SDs "
                        "and group sizes")
    table = table.complete()
    if control_risk is not None or rrr is not None:
        if control_risk is None or rrr is None:
            raise UserError("give both --control-risk and --rrr")
        ris = required_information_size_binary(control_risk, rrr, alpha, beta)
        assumption = f"control risk {control_risk:g}, relative risk reduction {rrr:g}"
    elif mean_difference is not None and sd is not None:
        ris = required_information_size_continuous(mean_difference, sd, alpha, beta)
        assumption = f"mean difference {mean_difference:g}, SD {sd:g}"
    else:
        raise UserError("give --control-risk and --rrr (binary outcome) or --mean-difference and --sd")
    if diversity_value is None:
        fixed = fit_model(table, measure, Method.FE, rule=rule, tau2_ci=False)
        random_effects = fit_model(table, measure, Method.DL if not method.is_random else method, rule=rule,
                                   tau2_ci=False)
        d2 = diversity(fixed.se, random_effects.se)
    else:
        if not 0 <= diversity_value < 1:
            raise UserError(f"--diversity: {diversity_value} is not between 0 and 1")
        d2 = diversity_value
    daris = ris / (1 - d2)
    steps = cumulative(table, measure, method, rule=rule)
    order = table.cumulative_order()
    n = table.values["n_treatment"] + table.values["n_control"]
    patients = np.cumsum(n[order])
    fractions = patients / daris
    bounds = monitoring_boundaries(fractions, alpha)
    fut: list[float | None] = _futility(fractions, alpha, beta) if futility else [None] * len(fractions)
    looks = []
    crossed_at = crossing = None
    for step, pts, frac, bound, f in zip(steps, patients, fractions, bounds, fut, strict=True):
        z = math.nan if step.pooled is None else step.pooled.statistic
        looks.append(TsaLook(step.study, float(pts), float(frac), z, float(bound), f))
        if crossing is None and math.isfinite(z):
            if abs(z) >= bound:
                crossing = "benefit" if _is_benefit(z, measure) else "harm"
                crossed_at = step.study
            elif f is not None and abs(z) < f:
                crossing, crossed_at = "futility", step.study
    return TrialSequentialAnalysis(measure, method, alpha, beta, assumption, ris, d2, daris, tuple(looks),
                                   float(patients[-1]), crossed_at, crossing)


def _is_benefit(z: float, measure: Measure) -> bool:
    """A negative log ratio or difference means fewer events (or a lower mean) on treatment; the benefit side
    assumes the outcome is harmful (death, as in the MSC example)."""
    return z < 0

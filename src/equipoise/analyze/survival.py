"""Time-to-event comparison: Cox hazard ratio, log-rank test, Kaplan–Meier medians per arm, and with a competing
risk the cumulative incidence (Aalen–Johansen) and the Fine–Gray subdistribution hazard ratio."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from equipoise.analyze.cox import fit_cox
from equipoise.analyze.fine_gray import fit_fine_gray
from equipoise.analyze.kaplan_meier import (
    CumulativeIncidence,
    KaplanMeier,
    LogRank,
    Median,
    cumulative_incidence,
    kaplan_meier,
    logrank,
)
from equipoise.analyze.km_bands import KMBand, band_method, band_transform, km_confidence_band
from equipoise.analyze.results import Estimate, clean, fmt, fmt_p, wald
from equipoise.errors import UserError
from equipoise.figures.kaplan_meier import km_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class SurvivalResult:
    """Experimental vs control on a time-to-event outcome. The hazard ratio is experimental / control from a
    Cox model (Efron ties) with the given covariates and strata; the log-rank test is stratified the same way."""

    outcome: str
    experimental: str
    control: str
    log_hazard_ratio: float
    se: float
    hazard_ratio: Estimate
    logrank: LogRank
    medians: dict[str, Median]
    curves: dict[str, KaplanMeier]
    events: dict[str, int]
    n: dict[str, int]
    direction: str
    covariates: tuple[str, ...]
    strata: tuple[str, ...]
    covariate_effects: dict[str, tuple[float, float]]
    incidence: dict[str, CumulativeIncidence] | None = None
    horizon: float | None = None
    notes: tuple[str, ...] = field(default=())
    bands: dict[str, KMBand] | None = None  # simultaneous bands per arm (with_bands)
    # Fine–Gray, with a competing event: (log SHR, robust SE), the SHR, and the covariates' (estimate, SE)
    subdistribution: tuple[float, float, Estimate, dict[str, tuple[float, float]]] | None = None
    # why the hazard ratios could not be estimated (they are then NaN); None when they were
    not_estimable: str | None = None

    def with_bands(self, method: str = "hall-wellner", transform: str = "log-log",
                   t_range: tuple[float, float] | None = None, conf_level: float | None = None) -> SurvivalResult:
        """The same result with a simultaneous confidence band for each arm's Kaplan–Meier curve
        (:func:`equipoise.analyze.km_bands.km_confidence_band`); ``conf_level`` defaults to the analysis's."""
        if self.incidence is not None:
            raise UserError("band: simultaneous bands are for Kaplan–Meier curves; with competing events the curve "
                            "of interest is the Aalen–Johansen incidence, which has no band here")
        method, transform = band_method(method), band_transform(transform)
        level = conf_level if conf_level is not None else self.curves[self.control].conf_level
        bands = {}
        for arm, km in self.curves.items():
            try:
                bands[arm] = km_confidence_band(km, method, transform, t_range, level)
            except UserError as exc:
                raise UserError(f"arm {arm!r}: {exc}") from None
        return replace(self, bands=bands)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "analysis": "survival", "method": "Cox proportional hazards (Efron ties) and log-rank",
            "outcome": self.outcome, "experimental": self.experimental, "control": self.control,
            "log_hazard_ratio": clean(self.log_hazard_ratio), "se": clean(self.se),
            "hazard_ratio": clean(self.hazard_ratio.estimate), "ci_low": clean(self.hazard_ratio.ci_low),
            "ci_high": clean(self.hazard_ratio.ci_high), "p_value": clean(self.hazard_ratio.p_value),
            "logrank_chisq": clean(self.logrank.chisq), "logrank_p": clean(self.logrank.p_value),
            "median": {arm: m.to_dict() for arm, m in self.medians.items()},
            "events": self.events, "n": self.n, "direction": self.direction,
            "covariates": list(self.covariates), "strata": list(self.strata),
            "covariate_effects": {k: {"estimate": clean(v[0]), "se": clean(v[1])}
                                  for k, v in self.covariate_effects.items()},
            "notes": list(self.notes),
        }
        if self.incidence is not None:
            h = self.horizon
            out["cumulative_incidence"] = {arm: _incidence_at(ci, h) for arm, ci in self.incidence.items()}
        if self.subdistribution is not None:
            log_shr, se, shr, effects = self.subdistribution
            out["subdistribution_hazard_ratio"] = {
                "estimate": clean(shr.estimate), "ci_low": clean(shr.ci_low), "ci_high": clean(shr.ci_high),
                "p_value": clean(shr.p_value), "log_estimate": clean(log_shr), "se": clean(se), "method": shr.method,
                "covariate_effects": {k: {"estimate": clean(v[0]), "se": clean(v[1])} for k, v in effects.items()}}
        if self.not_estimable is not None:
            out["not_estimable"] = self.not_estimable
        if self.bands is not None:
            out["bands"] = {arm: b.to_dict() for arm, b in self.bands.items()}
        return out

    def plot(self) -> Figure:
        """Kaplan–Meier curves (or Aalen–Johansen incidence with a competing risk) with numbers at risk."""
        return km_plot(self.curves, title=self.outcome, horizon=self.horizon, incidence=self.incidence is not None,
                       aalen_johansen=self.incidence, bands=self.bands)

    def __str__(self) -> str:
        adj = []
        if self.covariates:
            adj.append("adjusted for " + ", ".join(self.covariates))
        if self.strata:
            adj.append("stratified by " + ", ".join(self.strata))
        lines = [f"Time-to-event outcome {self.outcome}: {self.experimental} vs {self.control}"
                 + (f" ({'; '.join(adj)})" if adj else "")]
        for arm in (self.experimental, self.control):
            m = self.medians[arm]
            lines.append(f"  {arm}: {self.events[arm]} events / {self.n[arm]}; median {fmt(m.estimate, 1)} "
                         f"({fmt(m.ci_low, 1)} to {fmt(m.ci_high, 1)})")
        if self.not_estimable is not None:
            lines.append(f"  hazard ratio not estimable: {self.not_estimable}")
        else:
            lines += [f"  hazard ratio{' (cause-specific)' if self.incidence else ''} {self.hazard_ratio}",
                      f"  log hazard ratio {fmt(self.log_hazard_ratio, 4)} (SE {fmt(self.se, 4)})"]
        if self.subdistribution is not None:
            log_shr, se, shr, _ = self.subdistribution
            lines += [f"  subdistribution hazard ratio (Fine–Gray) {shr}",
                      f"  log subdistribution hazard ratio {fmt(log_shr, 4)} (robust SE {fmt(se, 4)})"]
        lines += [f"  log-rank chi-square {fmt(self.logrank.chisq)}, p = {fmt_p(self.logrank.p_value)}",
                  f"  direction: {self.direction}"]
        if self.incidence is not None and self.horizon is not None:
            for arm, ci in self.incidence.items():
                low, high = ci.interval_at(self.horizon)
                lines.append(f"  cumulative incidence by day {self.horizon:g} in {arm}: {fmt(ci.at(self.horizon))} "
                             f"({fmt(low)} to {fmt(high)}; competing event: death, Aalen–Johansen)")
        if self.bands is not None:
            for arm, band in self.bands.items():
                lines.append(f"  {arm}: {band}".replace("\n", "\n    "))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _incidence_at(ci: CumulativeIncidence, horizon: float | None) -> dict[str, Any]:
    if horizon is None:
        return {"at": None, "incidence": None, "ci_low": None, "ci_high": None, "competing_incidence": None}
    i = int(np.searchsorted(ci.time, horizon, side="right")) - 1
    low, high = ci.interval_at(horizon)
    return {"at": horizon, "incidence": clean(ci.at(horizon)), "ci_low": clean(low), "ci_high": clean(high),
            "competing_incidence": clean(float(ci.competing_incidence[i])) if i >= 0 else 0.0,
            "method": "Aalen–Johansen, infinitesimal-jackknife SE, log-transformed 95% interval"}


def survival_direction(better: str | None, experimental: str, control: str = "control") -> str:
    base = f"hazard_ratio is the hazard of the event in {experimental} / {control}"
    if better == "lower":
        return f"{base}; an earlier event is better, so above 1 favours {experimental}"
    if better == "higher":
        return f"{base}; a later event is better, so below 1 favours {experimental}"
    return base + "; the protocol does not say which direction is better"


def compare_survival(time: npt.ArrayLike, status: npt.ArrayLike, arm: npt.ArrayLike, *, experimental: str,
                     control: str, outcome: str = "outcome", covariates: npt.ArrayLike | None = None,
                     covariate_names: tuple[str, ...] = (), strata: npt.ArrayLike | None = None,
                     strata_names: tuple[str, ...] = (), better: str | None = None, conf_level: float = 0.95,
                     horizon: float | None = None, refuse_not_estimable: bool = True) -> SurvivalResult:
    """``status``: 0 censored, 1 event, 2 competing event (then the Cox model and log-rank are cause-specific:
    competing events censor; the Aalen–Johansen cumulative incidence per arm and the Fine–Gray subdistribution
    hazard ratio with the same covariates and strata are added).

    An arm without events makes the hazard ratio 0 or infinite (the partial likelihood is monotone): that is a
    :class:`UserError` naming the arm, or, with ``refuse_not_estimable=False`` (the protocol's analyses, which go
    on with their other comparisons), a result whose ratios are NaN and whose ``not_estimable`` says why."""
    t = np.asarray(time, float)
    st = np.asarray(status).astype(int)
    av = np.asarray(arm).astype(str)
    sel = (av == experimental) | (av == control)
    t, st, av = t[sel], st[sel], av[sel]
    ev = st == 1
    treat = (av == experimental).astype(float)
    cov = np.zeros((len(t), 0)) if covariates is None else np.asarray(covariates, float).reshape(len(sel), -1)[sel]
    sv = None if strata is None else np.asarray(strata).astype(str).reshape(len(sel), -1)[sel]
    skey = None if sv is None else np.array(["|".join(row) for row in sv])
    arms = (experimental, control)
    events = {a: int(ev[av == a].sum()) for a in arms}
    lr = logrank(t, ev, treat, skey)
    curves = {a: kaplan_meier(t[av == a], ev[av == a], conf_level=conf_level) for a in arms}
    competing = bool((st == 2).any())
    incidence = {a: cumulative_incidence(t[av == a], st[av == a]) for a in arms} if competing else None
    notes = []
    if competing:
        notes.append("competing events censor in the Cox model and log-rank test (cause-specific hazard); "
                     "medians are of the cause-specific Kaplan–Meier curve, which overstates the incidence; the "
                     "Fine–Gray model keeps patients with a competing event in the risk set (subdistribution hazard)")
    design = np.column_stack([treat, cov])
    empty = [a for a in arms if events[a] == 0]
    reason = (f"arm {empty[0]!r} has no events, so the hazard ratio of {outcome!r} would be "
              f"{'0' if empty[0] == experimental else 'infinite'} (a monotone partial likelihood): it cannot be "
              "estimated") if empty else None
    nan_hr = wald(math.nan, math.nan, conf_level, "not estimable", log_scale=True)
    beta, se, hr, effects = math.nan, math.nan, nan_hr, dict.fromkeys(covariate_names, (math.nan, math.nan))
    subdistribution = None
    if reason is None:
        fit = fit_cox(t, ev, design, skey)
        beta, se = float(fit.beta[0]), float(fit.se[0])
        hr = wald(beta, se, conf_level, "Cox proportional hazards (Efron ties), Wald interval", log_scale=True)
        effects = {name: (float(fit.beta[i + 1]), float(fit.se[i + 1])) for i, name in enumerate(covariate_names)}
        # an SE this large on the log scale means the likelihood is (nearly) flat: beta is running off to infinity
        if not fit.converged or not math.isfinite(se) or se > 20:
            reason = (f"the Cox model of {outcome!r} does not converge (log hazard ratio {beta:.1f}): the events "
                      "are too few or too one-sided in time for a hazard ratio")
        elif competing:
            fg = fit_fine_gray(t, st, design, skey)
            sub_se = float(fg.se[0])
            subdistribution = (float(fg.beta[0]), sub_se, wald(
                float(fg.beta[0]), sub_se, conf_level, "Fine–Gray subdistribution hazards (Breslow ties), robust "
                "sandwich SE, Wald interval", log_scale=True),
                {name: (float(fg.beta[i + 1]), float(fg.se[i + 1])) for i, name in enumerate(covariate_names)})
    if reason is not None:
        if refuse_not_estimable:
            raise UserError(reason)
        beta, se, hr = math.nan, math.nan, nan_hr
        effects = dict.fromkeys(covariate_names, (math.nan, math.nan))
    return SurvivalResult(
        outcome, experimental, control, beta, se, hr, lr, {a: c.median() for a, c in curves.items()}, curves,
        events, {a: int((av == a).sum()) for a in arms}, survival_direction(better, experimental, control),
        covariate_names, strata_names, effects, incidence, horizon, tuple(notes), None, subdistribution, reason)

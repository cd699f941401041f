"""Per-trial effect sizes and their sampling variances, as metafor's ``escalc`` computes them.

Measures: RR and OR (log scale), RD, MD, SMD (Hedges' g), and a generic estimate with its standard error.

Zero cells follow metafor's defaults exactly: ``add=1/2, to="only0", drop00=FALSE`` for ``escalc`` and
``rma.uni`` (1/2 is added to every cell of a trial with a zero cell; a double-zero trial is kept, its log ratio
then being about 0 with a large variance), and ``drop00=TRUE`` for the effect sizes that ``rma.mh`` and
``rma.peto`` use for their heterogeneity statistics. The alternatives (``to="all"``, ``"if0all"``, ``"none"``;
``drop00``) are options, and :class:`EffectSizes` always says what was done.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3):1-48
(``escalc``; metafor 3.8-1 source). Hedges LV (1981). Distribution theory for Glass's estimator of effect size
and related estimators. J Educ Stat 6:107-128 (the exact bias correction c(m) = Gamma(m/2) /
(sqrt(m/2) Gamma((m-1)/2)), m = n1 + n2 - 2). Rothman KJ, Greenland S, Lash TL (2008). Modern Epidemiology,
ch. 14 (large-sample variances of log RR, log OR and RD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from equipoise.errors import UserError

FloatArray = NDArray[np.float64]


class Measure(StrEnum):
    RR = "RR"
    OR = "OR"
    RD = "RD"
    MD = "MD"
    SMD = "SMD"
    GEN = "GEN"

    @property
    def is_ratio(self) -> bool:
        """Ratios are pooled on the log scale and shown exponentiated."""
        return self in (Measure.RR, Measure.OR)

    @property
    def is_binary(self) -> bool:
        return self in (Measure.RR, Measure.OR, Measure.RD)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Measure.RR: "risk ratio", Measure.OR: "odds ratio", Measure.RD: "risk difference",
    Measure.MD: "mean difference", Measure.SMD: "standardised mean difference (Hedges' g)",
    Measure.GEN: "generic effect",
}


def parse_measure(text: str) -> Measure:
    try:
        return Measure(text.upper())
    except ValueError:
        raise UserError(f"--measure: {text!r} is not one of {', '.join(m.value for m in Measure)}") from None


class AddTo(StrEnum):
    """Which cells get the continuity correction (metafor's ``to``)."""

    ONLY0 = "only0"
    ALL = "all"
    IF0ALL = "if0all"
    NONE = "none"


@dataclass(frozen=True)
class ZeroCellRule:
    """metafor's ``add``, ``to`` and ``drop00``."""

    add: float = 0.5
    to: AddTo = AddTo.ONLY0
    drop00: bool = False

    def describe(self) -> str:
        where = {AddTo.ONLY0: "to every cell of trials with a zero cell", AddTo.ALL: "to every cell of every trial",
                 AddTo.IF0ALL: "to every cell of every trial (there is a zero cell somewhere)",
                 AddTo.NONE: "nowhere"}[self.to]
        drop = "double-zero trials dropped" if self.drop00 else "double-zero trials kept"
        return f"add {self.add:g} {where}; {drop}"


@dataclass(frozen=True)
class EffectSizes:
    """One row per trial kept: the estimate ``yi`` on the analysis scale (log for ratios) and variance ``vi``.

    ``dropped`` names trials left out (double-zero trials under ``drop00``, rows without data);
    ``corrected`` names trials whose cells got the continuity correction.
    """

    measure: Measure
    studies: tuple[str, ...]
    yi: FloatArray
    vi: FloatArray
    rule: ZeroCellRule | None = None
    corrected: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    keep: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def k(self) -> int:
        return len(self.studies)

    def zero_cell_note(self) -> str | None:
        """What was done about zero cells, in words (None for measures without cells)."""
        if self.rule is None:
            return None
        parts = [self.rule.describe()]
        parts.append(f"corrected: {', '.join(self.corrected) if self.corrected else 'none'}")
        if self.dropped:
            parts.append(f"dropped: {', '.join(self.dropped)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure.value, "studies": list(self.studies), "yi": self.yi.tolist(),
                "vi": self.vi.tolist(), "zero_cells": self.zero_cell_note(), "dropped": list(self.dropped)}

    def __str__(self) -> str:
        scale = "log scale" if self.measure.is_ratio else "analysis scale"
        lines = [f"{self.measure.label} of {self.k} trials ({scale}: yi, variance vi)"]
        lines += [f"  {s:<24}{y:>10.4f}{v:>10.4f}" for s, y, v in zip(self.studies, self.yi, self.vi, strict=True)]
        note = self.zero_cell_note()
        if note:
            lines.append(f"  zero cells: {note}")
        if self.dropped:
            lines.append(f"  dropped: {', '.join(self.dropped)}")
        return "\n".join(lines)


def _counts(values: FloatArray, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=float)
    if np.any(arr < 0):
        raise UserError(f"{name}: counts must not be negative")
    return arr


def adjust_cells(ai: FloatArray, bi: FloatArray, ci: FloatArray, di: FloatArray,
                 rule: ZeroCellRule) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """The 2x2 cells after the continuity correction, and which trials were corrected (metafor's ``to``)."""
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    if rule.to is AddTo.ALL:
        hit = np.ones_like(zero)
    elif rule.to is AddTo.ONLY0:
        hit = zero
    elif rule.to is AddTo.IF0ALL:
        hit = np.full_like(zero, bool(zero.any()))
    else:
        hit = np.zeros_like(zero)
    add = np.where(hit, rule.add, 0.0)
    return ai + add, bi + add, ci + add, di + add, hit & (rule.add != 0)


def binary_effect_sizes(studies: list[str], events_t: FloatArray, n_t: FloatArray, events_c: FloatArray,
                        n_c: FloatArray, measure: Measure, rule: ZeroCellRule | None = None) -> EffectSizes:
    """Log RR, log OR or RD per trial from events and group sizes (metafor ``escalc`` with ``vtype="LS"``)."""
    rule = rule or ZeroCellRule()
    ai = _counts(events_t, "events_treatment")
    ci = _counts(events_c, "events_control")
    bi = _counts(n_t, "n_treatment") - ai
    di = _counts(n_c, "n_control") - ci
    if np.any(bi < 0) or np.any(di < 0):
        raise UserError("events exceed the group size in at least one trial")
    double_zero = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
    keep = ~double_zero if rule.drop00 else np.ones(len(ai), dtype=bool)
    a, b, c, d, hit = adjust_cells(ai[keep], bi[keep], ci[keep], di[keep], rule)
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure is Measure.RR:
            yi = np.log(p1) - np.log(p2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure is Measure.OR:
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure is Measure.RD:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:
            raise UserError(f"--measure {measure.value} needs means and SDs or estimates, not 2x2 counts")
    names = [s for s, k in zip(studies, keep, strict=True) if k]
    bad = ~np.isfinite(yi) | ~np.isfinite(vi)
    if bad.any():
        # metafor drops such trials with a warning (na.omit); we say which ones
        dropped_bad = [n for n, b_ in zip(names, bad, strict=True) if b_]
        idx = np.flatnonzero(keep)
        keep = keep.copy()
        keep[idx[bad]] = False
        names = [n for n, b_ in zip(names, bad, strict=True) if not b_]
        yi, vi, hit = yi[~bad], vi[~bad], hit[~bad]
    else:
        dropped_bad = []
    dropped = tuple(s for s, k in zip(studies, ~double_zero if rule.drop00 else np.ones(len(ai), bool),
                                      strict=True) if not k) + tuple(dropped_bad)
    corrected = tuple(n for n, h in zip(names, hit, strict=True) if h)
    return EffectSizes(measure, tuple(names), yi, vi, rule, corrected, dropped, keep)


def hedges_correction(m: FloatArray) -> FloatArray:
    """The exact small-sample factor c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)) (Hedges 1981, eq. 6e)."""
    return np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))


def continuous_effect_sizes(studies: list[str], n_t: FloatArray, mean_t: FloatArray, sd_t: FloatArray,
                            n_c: FloatArray, mean_c: FloatArray, sd_c: FloatArray,
                            measure: Measure) -> EffectSizes:
    """MD (variance sd1^2/n1 + sd2^2/n2) or SMD, Hedges' g with the exact correction and metafor's LS variance
    1/n1 + 1/n2 + g^2 / (2 (n1 + n2))."""
    n1, n2 = np.asarray(n_t, float), np.asarray(n_c, float)
    if np.any(n1 < 1) or np.any(n2 < 1):
        raise UserError("n_treatment and n_control must be at least 1 in every trial")
    m1, m2 = np.asarray(mean_t, float), np.asarray(mean_c, float)
    s1, s2 = np.asarray(sd_t, float), np.asarray(sd_c, float)
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise UserError("standard deviations must not be negative")
    if measure is Measure.MD:
        yi = m1 - m2
        vi = s1**2 / n1 + s2**2 / n2
    elif measure is Measure.SMD:
        if np.any(n1 + n2 < 4):
            raise UserError("SMD needs at least 4 patients per trial (n1 + n2 - 2 > 1)")
        m = n1 + n2 - 2
        sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
        yi = hedges_correction(m) * (m1 - m2) / sdp
        vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    else:
        raise UserError(f"--measure {measure.value} needs 2x2 counts or estimates, not means and SDs")
    return EffectSizes(measure, tuple(studies), yi, vi, keep=np.ones(len(yi), dtype=bool))


def generic_effect_sizes(studies: list[str], estimate: FloatArray, se: FloatArray,
                         measure: Measure = Measure.GEN) -> EffectSizes:
    """Estimates already on the analysis scale (log for ratios) with their standard errors."""
    se_arr = np.asarray(se, float)
    if np.any(se_arr <= 0):
        raise UserError("se must be positive in every trial")
    return EffectSizes(measure, tuple(studies), np.asarray(estimate, float), se_arr**2,
                       keep=np.ones(len(se_arr), dtype=bool))

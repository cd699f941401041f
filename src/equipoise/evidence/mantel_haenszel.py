"""Mantel-Haenszel (RR, OR, RD) and Peto (OR) fixed-effect pooling of 2x2 tables, as metafor's ``rma.mh`` and
``rma.peto`` with their defaults.

The pooled estimate uses the tables as they are (``add=c(1/2, 0)``, ``to=c("only0", "none")``: no continuity
correction in the estimate); the heterogeneity statistics use per-trial effect sizes with 1/2 added to trials
with a zero cell and double-zero trials dropped (``drop00=c(TRUE, FALSE)``). Q for MH is
sum w_i (y_i - mu_MH)^2 with w_i = 1/v_i around the MH estimate; Peto's Q is sum (O - E)^2/V - (sum(O - E))^2 /
sum V. I^2 = 100 (Q - df)/Q truncated at 0, H^2 = Q/df.

References
----------
Mantel N, Haenszel W (1959). J Natl Cancer Inst 22:719-748. Robins J, Breslow N, Greenland S (1986).
Biometrics 42:311-323 (variance of log OR_MH). Greenland S, Robins JM (1985). Biometrics 41:55-68 (RR and RD
variances). Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Prog Cardiovasc Dis 27:335-371 (Peto).
metafor 3.8-1, ``rma.mh`` and ``rma.peto``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.stats import chi2, norm

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import (
    EffectSizes,
    Measure,
    ZeroCellRule,
    adjust_cells,
    binary_effect_sizes,
)
from equipoise.evidence.pooled import Method, Pooled

NAN = float("nan")


def _cells(events_t: np.ndarray, n_t: np.ndarray, events_c: np.ndarray,
           n_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ai, ci = np.asarray(events_t, float), np.asarray(events_c, float)
    return ai, np.asarray(n_t, float) - ai, ci, np.asarray(n_c, float) - ci


def _q_stats(q: float, df: int) -> tuple[float, float, float]:
    if df < 1:
        return 1.0, 0.0, 1.0
    return float(chi2.sf(q, df)), max(0.0, 100 * (q - df) / q) if q > 0 else 0.0, q / df


def mantel_haenszel(studies: list[str], events_t: np.ndarray, n_t: np.ndarray, events_c: np.ndarray,
                    n_c: np.ndarray, measure: Measure, level: float = 0.95,
                    rule: ZeroCellRule | None = None) -> Pooled:
    """The Mantel-Haenszel pooled RR, OR or RD (``rma.mh``)."""
    if not measure.is_binary:
        raise UserError("--method MH needs 2x2 counts and --measure RR, OR or RD")
    rule = rule or ZeroCellRule(drop00=True)
    effects = binary_effect_sizes(studies, events_t, n_t, events_c, n_c, measure, rule)
    ai, bi, ci, di = _cells(events_t, n_t, events_c, n_c)
    n1, n2 = ai + bi, ci + di
    N = n1 + n2
    if measure is Measure.OR:
        Ri, Si = ai / N * di, bi / N * ci
        R, S = Ri.sum(), Si.sum()
        if R == 0 or S == 0:
            raise UserError("the Mantel-Haenszel odds ratio is undefined: no events (or no non-events) in one arm "
                            "across all trials")
        Pi, Qi = (ai + di) / N, (bi + ci) / N
        beta = math.log(R / S)
        se = math.sqrt(0.5 * (np.sum(Pi * Ri) / R**2 + np.sum(Pi * Si + Qi * Ri) / (R * S)
                              + np.sum(Qi * Si) / S**2))
        weights = Si
    elif measure is Measure.RR:
        R, S = np.sum(ai * n2 / N), np.sum(ci * n1 / N)
        if ai.sum() == 0 or ci.sum() == 0:
            raise UserError("the Mantel-Haenszel risk ratio is undefined: no events in one arm across all trials")
        beta = math.log(R / S)
        se = math.sqrt(np.sum(n1 / N * (n2 / N) * (ai + ci) - ai / N * ci) / (R * S))
        weights = ci * n1 / N
    else:
        denom = np.sum(n1 * (n2 / N))
        beta = float(np.sum(ai * (n2 / N) - ci * (n1 / N)) / denom)
        se = math.sqrt((beta * np.sum(ci * (n1 / N) ** 2 - ai * (n2 / N) ** 2 + n1 / N * (n2 / N) * (n2 - n1) / 2)
                        + np.sum(ai * (n2 - ci) / N + ci * (n1 - ai) / N) / 2) / denom**2)
        weights = n1 * n2 / N
    crit = float(norm.ppf(1 - (1 - level) / 2))
    y, v = effects.yi, effects.vi
    q = max(0.0, float(np.sum((y - beta) ** 2 / v))) if len(y) > 1 else 0.0
    q_p, i2, h2 = _q_stats(q, len(y) - 1)
    w = weights[effects.keep]
    stat = beta / se
    return Pooled(
        measure=measure, method=Method.MH, hksj=False, effects=effects, k=len(ai), beta=beta, se=se,
        statistic=stat, p_value=float(2 * norm.sf(abs(stat))), ci_lb=beta - crit * se, ci_ub=beta + crit * se,
        tau2=0.0, tau2_ci_lb=NAN, tau2_ci_ub=NAN, q=q, q_p=q_p, i2=i2, h2=h2, pi_lb=beta - crit * se,
        pi_ub=beta + crit * se, weights=100 * w / w.sum())


def _peto_effect_sizes(base: EffectSizes, ai: np.ndarray, bi: np.ndarray, ci: np.ndarray,
                       di: np.ndarray) -> EffectSizes:
    """Per-trial Peto log odds ratios (O - E)/V with variance 1/V (metafor ``escalc(measure="PETO")``)."""
    assert base.rule is not None
    keep = base.keep
    a, b, c, d, _ = adjust_cells(ai[keep], bi[keep], ci[keep], di[keep], base.rule)
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        vi_ = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
        yi = (a - xt * n1 / n) / vi_
    return replace(base, yi=yi, vi=1 / vi_)


def peto(studies: list[str], events_t: np.ndarray, n_t: np.ndarray, events_c: np.ndarray, n_c: np.ndarray,
         level: float = 0.95, rule: ZeroCellRule | None = None) -> Pooled:
    """Peto's one-step odds ratio (``rma.peto``): log OR = sum(O - E) / sum V, se = 1/sqrt(sum V)."""
    rule = rule or ZeroCellRule(drop00=True)
    effects = _peto_effect_sizes(binary_effect_sizes(studies, events_t, n_t, events_c, n_c, Measure.OR, rule),
                                 *_cells(events_t, n_t, events_c, n_c))
    ai, bi, ci, di = _cells(events_t, n_t, events_c, n_c)
    n1, n2 = ai + bi, ci + di
    N = n1 + n2
    xt, yt = ai + ci, bi + di
    Ei = xt * n1 / N
    with np.errstate(divide="ignore", invalid="ignore"):
        Vi = np.where(N > 1, xt * yt * (n1 / N) * (n2 / N) / (N - 1), 0.0)
    if Vi.sum() == 0:
        raise UserError("Peto's method cannot be used: one of the two outcomes never occurred in any trial")
    beta = float(np.sum(ai - Ei) / Vi.sum())
    se = math.sqrt(1 / Vi.sum())
    pos = Vi > 0
    q = max(0.0, float(np.sum((ai - Ei)[pos] ** 2 / Vi[pos]) - np.sum(ai - Ei) ** 2 / Vi[pos].sum()))
    k_yi = effects.k
    q_p, i2, h2 = _q_stats(q, k_yi - 1) if pos.sum() > 1 else (1.0, 0.0, 1.0)
    crit = float(norm.ppf(1 - (1 - level) / 2))
    # Peto's own per-trial estimates (O - E)/V are what its forest plot shows
    w = Vi[effects.keep]
    stat = beta / se
    return Pooled(
        measure=Measure.OR, method=Method.PETO, hksj=False, effects=effects, k=len(ai), beta=beta, se=se,
        statistic=stat, p_value=float(2 * norm.sf(abs(stat))), ci_lb=beta - crit * se, ci_ub=beta + crit * se,
        tau2=0.0, tau2_ci_lb=NAN, tau2_ci_ub=NAN, q=q, q_p=q_p, i2=i2, h2=h2, pi_lb=beta - crit * se,
        pi_ub=beta + crit * se, weights=100 * w / w.sum())

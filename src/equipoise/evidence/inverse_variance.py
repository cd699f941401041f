"""Inverse-variance pooling, fixed (``FE``) and random effects, as metafor's ``rma.uni`` with ``predict`` and
``confint``.

- Estimate: sum(w y) / sum(w), w = 1/(v + tau^2), se = 1/sqrt(sum w).
- HKSJ (metafor ``test="knha"``): se multiplied by sqrt(sum w (y - mu)^2 / (k - 1)) (no truncation), t with
  k - 1 degrees of freedom for the test, the CI and the prediction interval.
- Prediction interval (``predict.rma``): mu +/- crit sqrt(se^2 + tau^2), crit from t(k-1) under HKSJ, the normal
  otherwise; it equals the CI under a fixed-effect model.
- Q = sum w_FE (y - mu_FE)^2; I^2 = 100 tau^2 / (tau^2 + s^2), H^2 = (tau^2 + s^2)/s^2 with the typical
  within-trial variance s^2 = (k - 1)/tr(P) (Higgins & Thompson 2002, metafor's ``i2def="1"``); under FE,
  I^2 = 100 (Q - (k-1))/Q truncated at 0 and H^2 = Q/(k - 1).

References
----------
Hartung J, Knapp G (2001). Stat Med 20:3875-3889; Sidik K, Jonkman JN (2002). Stat Med 21:3153-3159 (HKSJ).
Higgins JPT, Thompson SG (2002). Stat Med 21:1539-1558 (I^2, H^2). Higgins JPT, Thompson SG, Spiegelhalter DJ
(2009). J R Stat Soc A 172:137-159 (prediction interval). Viechtbauer W (2010), J Stat Softw 36(3).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2, norm, t

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import EffectSizes
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.tau2 import estimate_tau2, projection, q_profile_interval

NAN = float("nan")


def heterogeneity(y: np.ndarray, v: np.ndarray, tau2: float, fixed: bool) -> tuple[float, float, float, float]:
    """Q, its p-value, I^2 (percent) and H^2, as ``rma.uni`` reports them."""
    k = len(y)
    if k <= 1:
        return 0.0, 1.0, 0.0, 1.0
    w = 1 / v
    mu = np.sum(w * y) / w.sum()
    q = max(0.0, float(np.sum(w * (y - mu) ** 2)))
    q_p = float(chi2.sf(q, k - 1))
    if fixed:
        i2 = max(0.0, 100 * (q - (k - 1)) / q) if q > 0 else 0.0
        h2 = q / (k - 1)
    else:
        trP = float(np.trace(projection(w, np.ones((k, 1)))))
        vt = (k - 1) / trP
        i2 = 100 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1
    return q, q_p, i2, h2


def fit_inverse_variance(effects: EffectSizes, method: Method, hksj: bool = False, level: float = 0.95,
                         tau2_ci: bool = True) -> Pooled:
    """Pool ``effects`` by inverse variance; ``method`` FE or a tau^2 estimator."""
    if method in (Method.MH, Method.PETO):
        raise UserError(f"{method.value} pools 2x2 tables; use mantel_haenszel / peto")
    y, v = effects.yi, effects.vi
    k = len(y)
    if k == 0:
        raise UserError("no trials left to pool")
    if np.any(v <= 0):
        raise UserError("every trial needs a positive sampling variance")
    fixed = method is Method.FE
    tau2 = 0.0 if fixed else estimate_tau2(method.tau2_method, y, v)
    w = 1 / (v + tau2)
    beta = float(np.sum(w * y) / w.sum())
    se = math.sqrt(1 / w.sum())
    df: int | None = None
    alpha = 1 - level
    if hksj and k > 1:  # metafor falls back to z with one trial
        df = k - 1
        rss = float(np.sum(w * (y - beta) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        se = se * math.sqrt(s2w)
        crit = float(t.ppf(1 - alpha / 2, df))
        stat = beta / se if se > 0 else NAN
        p = float(2 * t.sf(abs(stat), df)) if math.isfinite(stat) else NAN
    else:
        crit = float(norm.ppf(1 - alpha / 2))
        stat = beta / se
        p = float(2 * norm.sf(abs(stat)))
    q, q_p, i2, h2 = heterogeneity(y, v, tau2, fixed)
    if fixed or k < 2:
        t_lb = t_ub = NAN
    elif tau2_ci:
        t_lb, t_ub = q_profile_interval(y, v, tau2, level)
    else:
        t_lb = t_ub = NAN
    half_pi = crit * math.sqrt(se**2 + tau2)
    return Pooled(
        measure=effects.measure, method=method, hksj=hksj, effects=effects, k=k, beta=beta, se=se,
        statistic=stat, p_value=p, ci_lb=beta - crit * se, ci_ub=beta + crit * se, tau2=tau2,
        tau2_ci_lb=t_lb, tau2_ci_ub=t_ub, q=q, q_p=q_p, i2=i2, h2=h2, pi_lb=beta - half_pi,
        pi_ub=beta + half_pi, weights=100 * w / w.sum(), df=df)

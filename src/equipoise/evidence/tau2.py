"""Between-trial variance tau^2: the estimators of metafor's ``rma.uni``, computed as metafor computes them.

DL, HE, HS and SJ are closed forms; ML, REML and EB use metafor's Fisher scoring (start at the HE estimate,
step halving at 0, stop when tau^2 changes by at most 1e-5, at most 100 iterations); PM solves the generalised
Q equation with R's ``uniroot`` (tol = eps^0.25) on [0, max(100, 10 mad(y)^2)]: the same algorithm with the same
tolerances gives the same numbers, not numbers close to them. The Q-profile confidence interval is metafor's
``confint(type="QP")``. Every function takes a design matrix ``X`` so Egger's regression test can reuse it.

References
----------
DerSimonian R, Laird N (1986). Control Clin Trials 7:177-188 (DL). Hedges LV (1983). Psychol Bull 93:388-395
(HE). Hunter JE, Schmidt FL (2004). Methods of Meta-Analysis, 2nd ed. (HS). Sidik K, Jonkman JN (2005). Stat Med
24:2649-2659 (SJ). Paule RC, Mandel J (1982). J Res Natl Bur Stand 87:377-385 (PM). Morris CN (1983). JASA
78:47-55 (EB). Viechtbauer W (2005). J Educ Behav Stat 30:261-293 (ML, REML, Fisher scoring). Viechtbauer W
(2007). Stat Med 26:37-52 (Q-profile CI). metafor 3.8-1, ``rma.uni`` and ``confint.rma.uni``.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from equipoise.errors import UserError
from equipoise.evidence.root_finding import r_uniroot

FloatArray = NDArray[np.float64]
THRESHOLD = 1e-5
MAXITER = 100


class Tau2Method(StrEnum):
    DL = "DL"
    REML = "REML"
    ML = "ML"
    PM = "PM"
    SJ = "SJ"
    HE = "HE"
    HS = "HS"
    EB = "EB"

    @property
    def reference(self) -> str:
        return _REFERENCES[self]


_REFERENCES = {
    Tau2Method.DL: "DerSimonian & Laird (1986)", Tau2Method.REML: "restricted maximum likelihood, Viechtbauer (2005)",
    Tau2Method.ML: "maximum likelihood, Viechtbauer (2005)", Tau2Method.PM: "Paule & Mandel (1982)",
    Tau2Method.SJ: "Sidik & Jonkman (2005)", Tau2Method.HE: "Hedges (1983)",
    Tau2Method.HS: "Hunter & Schmidt (2004)", Tau2Method.EB: "empirical Bayes, Morris (1983)",
}


def projection(w: FloatArray, X: FloatArray) -> FloatArray:
    """P = W - W X (X'WX)^-1 X'W, the residual-making matrix of weighted least squares."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def generalised_q(tau2: float, y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    """Q(tau^2) = y' P(tau^2) y with weights 1/(v + tau^2)."""
    P = projection(1 / (v + tau2), X)
    return float(y @ P @ y)


def _scoring(method: Tau2Method, y: FloatArray, v: FloatArray, X: FloatArray, start: float) -> float:
    k, p = X.shape
    tau2 = max(0.0, start)
    for _ in range(MAXITER + 1):
        old = tau2
        w = 1 / (v + tau2)
        P = projection(w, X)
        Py = P @ y
        if method is Tau2Method.ML:
            adj = (Py @ Py - w.sum()) / (w**2).sum()
        elif method is Tau2Method.REML:
            adj = (Py @ Py - np.trace(P)) / np.sum(P * P.T)
        else:
            adj = (y @ Py * k / (k - p) - k) / w.sum()
        if not np.isfinite(adj):
            adj = 0.0
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        if abs(old - tau2) <= THRESHOLD:
            return float(tau2)
    raise UserError(f"the Fisher scoring algorithm for tau^2 ({method.value}) did not converge in {MAXITER} "
                    "iterations; try another --method")


def _ll(method: Tau2Method, y: FloatArray, v: FloatArray, X: FloatArray, tau2: float) -> float:
    w = 1 / (v + tau2)
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ y)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    k, p = X.shape
    if method is Tau2Method.ML:
        return float(-0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss)
    return float(-0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2))
                 - 0.5 * np.linalg.slogdet(X.T @ WX)[1] - 0.5 * rss)


def _mad(y: FloatArray) -> float:
    return float(1.4826 * np.median(np.abs(y - np.median(y))))


def estimate_tau2(method: Tau2Method, y: FloatArray, v: FloatArray, X: FloatArray | None = None) -> float:
    """tau^2 by ``method`` for the model y = X beta + u + e, u ~ N(0, tau^2), e ~ N(0, v)."""
    k = len(y)
    X = np.ones((k, 1)) if X is None else X
    p = X.shape[1]
    if k == 1:
        return 0.0
    if np.any(v <= 0) and method in (Tau2Method.DL, Tau2Method.HS, Tau2Method.PM):
        raise UserError(f"the {method.value} estimator needs positive sampling variances in every trial")
    ymc = y - y.mean()  # metafor centres y first (Ymc); Q is unchanged, rounding follows metafor
    if method is Tau2Method.DL:
        P = projection(1 / v, X)
        tau2 = (ymc @ P @ ymc - (k - p)) / np.trace(P)
    elif method is Tau2Method.HS:
        w = 1 / v
        tau2 = (ymc @ projection(w, X) @ ymc - k) / w.sum()
    elif method is Tau2Method.SJ:
        tau2_0 = float(np.var(ymc, ddof=1) * (k - 1) / k)
        P = projection(1 / (v + tau2_0), X)
        tau2 = tau2_0 * (ymc @ P @ ymc) / (k - p)
    elif method is Tau2Method.PM:
        target = float(k - p)
        upper = max(100.0, 10 * _mad(y) ** 2)
        if generalised_q(0.0, ymc, v, X) < target:
            tau2 = 0.0
        elif generalised_q(upper, ymc, v, X) > target:
            raise UserError("Paule-Mandel: tau^2 exceeds its search interval; try another --method")
        else:
            tau2 = r_uniroot(lambda t: generalised_q(t, ymc, v, X) - target, 0.0, upper)
    else:
        Pols = projection(np.ones(k), X)
        he = float((ymc @ Pols @ ymc - np.sum(np.diag(Pols) * v)) / (k - p))
        if method is Tau2Method.HE:
            tau2 = he
        else:
            tau2 = _scoring(method, ymc, v, X, he)
            if method in (Tau2Method.ML, Tau2Method.REML) and np.all(v > 0) and tau2 > THRESHOLD \
                    and _ll(method, ymc, v, X, 0.0) - _ll(method, ymc, v, X, tau2) > 1.220703125e-4:
                tau2 = 0.0  # metafor's ll0check: a local maximum worse than tau^2 = 0
    return max(0.0, float(tau2))


def q_profile_interval(y: FloatArray, v: FloatArray, tau2: float, level: float = 0.95) -> tuple[float, float]:
    """The Q-profile confidence interval for tau^2 (Viechtbauer 2007), as metafor's ``confint``."""
    k = len(y)
    if k < 2:
        return float("nan"), float("nan")
    X = np.ones((k, 1))
    alpha = 1 - level
    crit_u = float(chi2.ppf(1 - alpha / 2, k - 1))
    crit_l = float(chi2.ppf(alpha / 2, k - 1))
    lo_bound, hi_bound = 0.0, max(100.0, tau2 * 10, 0.0)
    q_min = generalised_q(lo_bound, y, v, X)
    q_max = generalised_q(hi_bound, y, v, X)
    if q_min < crit_l:
        return lo_bound, lo_bound
    ub = hi_bound if q_max > crit_l else r_uniroot(lambda t: generalised_q(t, y, v, X) - crit_l, lo_bound, hi_bound)
    if q_max > crit_u:
        return hi_bound, hi_bound
    lb = lo_bound if q_min < crit_u else r_uniroot(lambda t: generalised_q(t, y, v, X) - crit_u, lo_bound, hi_bound)
    return lb, ub

"""Many meta-analyses at once: REML (with or without HKSJ) and Mantel-Haenszel risk ratios vectorised across
analyses, for simulation studies and living reviews that refit thousands of models.

Each row of the padded arrays is one meta-analysis (``mask`` marks its trials). The arithmetic is that of
``inverse_variance``/``tau2`` (metafor's Fisher scoring from the HE start with step halving, threshold 1e-5,
the ll0 check) and of ``mantel_haenszel``, written for intercept-only models with closed-form traces, so the
results agree with the one-at-a-time functions (and metafor) to rounding; ``tests/evidence/test_batch.py``
checks that.

References
----------
Viechtbauer W (2005). J Educ Behav Stat 30:261-293 (Fisher scoring for REML). Hartung J, Knapp G (2001).
Stat Med 20:3875-3889. Greenland S, Robins JM (1985). Biometrics 41:55-68 (variance of log RR_MH).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2, norm, t

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
THRESHOLD = 1e-5
MAXITER = 100
LL_TOL = 1.220703125e-4  # metafor's con$tol = .Machine$double.eps^0.25


@dataclass(frozen=True)
class BatchResult:
    """One entry per meta-analysis (analysis scale: log for ratios). NaN where a fit failed to converge."""

    beta: FloatArray
    se: FloatArray
    ci_lb: FloatArray
    ci_ub: FloatArray
    tau2: FloatArray
    q: FloatArray
    i2: FloatArray
    k: NDArray[np.int64]

    def to_dict(self) -> dict[str, list[float]]:
        return {name: getattr(self, name).tolist() for name in ("beta", "se", "ci_lb", "ci_ub", "tau2", "q", "i2")}

    def __str__(self) -> str:
        shown = 10
        lines = [f"{len(self.beta)} meta-analyses (analysis scale: log for ratios)",
                 f"  {'#':>4}{'k':>5}{'estimate':>10}{'se':>9}{'95% CI':>22}{'tau^2':>9}{'I^2':>8}"]
        for i in range(min(shown, len(self.beta))):
            lines.append(f"  {i + 1:>4}{int(self.k[i]):>5}{self.beta[i]:>10.4f}{self.se[i]:>9.4f}"
                         f"{f'{self.ci_lb[i]:.4f} to {self.ci_ub[i]:.4f}':>22}{self.tau2[i]:>9.4f}{self.i2[i]:>7.1f}%")
        if len(self.beta) > shown:
            lines.append(f"  ... and {len(self.beta) - shown} more")
        return "\n".join(lines)


def _reml_ll(y: FloatArray, v: FloatArray, mask: BoolArray, tau2: FloatArray) -> FloatArray:
    w = np.where(mask, 1 / (v + tau2[:, None]), 0.0)
    sw = w.sum(1)
    mu = (w * y).sum(1) / sw
    rss = (w * (y - mu[:, None]) ** 2).sum(1)
    logdet = np.where(mask, np.log(np.where(mask, v + tau2[:, None], 1.0)), 0.0).sum(1)
    ll: FloatArray = -0.5 * logdet - 0.5 * np.log(sw) - 0.5 * rss  # constants cancel in the ll0 comparison
    return ll


def reml_tau2(y: FloatArray, v: FloatArray, mask: BoolArray) -> FloatArray:
    """REML tau^2 of every row, as ``estimate_tau2(Tau2Method.REML, ...)``."""
    k = mask.sum(1).astype(float)
    ybar = np.where(mask, y, 0.0).sum(1) / k
    ymc = np.where(mask, y - ybar[:, None], 0.0)
    rss = (ymc**2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 1: tau^2 is 0 below
        he = (rss - (1 - 1 / k) * np.where(mask, v, 0.0).sum(1)) / (k - 1)
    tau2 = np.maximum(he, 0.0)
    active = k > 1
    tau2[~active] = 0.0
    failed = np.zeros(len(k), dtype=bool)
    for _ in range(MAXITER + 1):
        if not active.any():
            break
        ta = tau2[active]
        m = mask[active]
        w = np.where(m, 1 / (v[active] + ta[:, None]), 0.0)
        sw = w.sum(1)
        sw2 = (w**2).sum(1)
        sw3 = (w**3).sum(1)
        mu = (w * ymc[active]).sum(1) / sw
        py = w * (ymc[active] - mu[:, None])
        trp = sw - sw2 / sw
        trpp = sw2 - 2 * sw3 / sw + sw2**2 / sw**2
        adj = ((py**2).sum(1) - trp) / trpp
        adj = np.where(np.isfinite(adj), adj, 0.0)
        while np.any(neg := ta + adj < 0):
            adj = np.where(neg, adj / 2, adj)
        new = ta + adj
        done = np.abs(new - ta) <= THRESHOLD
        idx = np.flatnonzero(active)
        tau2[idx] = new
        active[idx[done]] = False
    else:
        failed = active.copy()
    # metafor's ll0 check: a local maximum worse than tau^2 = 0 becomes 0
    check = (tau2 > THRESHOLD) & (k > 1) & ~failed
    if check.any():
        ll0 = _reml_ll(y[check], v[check], mask[check], np.zeros(check.sum()))
        ll = _reml_ll(y[check], v[check], mask[check], tau2[check])
        idx = np.flatnonzero(check)
        tau2[idx[ll0 - ll > LL_TOL]] = 0.0
    tau2[failed] = np.nan
    out: FloatArray = np.maximum(tau2, 0.0)
    return out


def _q_i2(y: FloatArray, v: FloatArray, mask: BoolArray, k: FloatArray) -> tuple[FloatArray, FloatArray,
                                                                                   FloatArray]:
    w = np.where(mask, 1 / v, 0.0)
    sw = w.sum(1)
    mu = (w * y).sum(1) / sw
    q = np.maximum((w * (y - mu[:, None]) ** 2).sum(1), 0.0)
    trp = sw - (w**2).sum(1) / sw
    vt = (k - 1) / trp
    return q, vt, sw


def random_effects_batch(y: FloatArray, v: FloatArray, mask: BoolArray, hksj: bool = True,
                         level: float = 0.95) -> BatchResult:
    """REML random-effects meta-analyses, one per row; HKSJ (metafor ``test="knha"``) by default."""
    y = np.where(mask, y, 0.0)
    v = np.where(mask, v, 1.0)
    k = mask.sum(1)
    kf = k.astype(float)
    tau2 = reml_tau2(y, v, mask)
    w = np.where(mask, 1 / (v + tau2[:, None]), 0.0)
    sw = w.sum(1)
    beta = (w * y).sum(1) / sw
    se = np.sqrt(1 / sw)
    alpha = 1 - level
    if hksj:
        rss = (w * (y - beta[:, None]) ** 2).sum(1)
        s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / np.maximum(kf - 1, 1))
        multi = k > 1
        se = np.where(multi, se * np.sqrt(s2w), se)
        crit = np.where(multi, t.ppf(1 - alpha / 2, np.maximum(kf - 1, 1)), norm.ppf(1 - alpha / 2))
    else:
        crit = np.full(len(k), norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 1 has no heterogeneity statistics
        q, vt, _ = _q_i2(y, v, mask, kf)
        i2 = np.where(k > 1, 100 * tau2 / (vt + tau2), 0.0)
    return BatchResult(beta, se, beta - crit * se, beta + crit * se, tau2, np.where(k > 1, q, 0.0), i2, k)


def mantel_haenszel_rr_batch(events_t: FloatArray, n_t: FloatArray, events_c: FloatArray, n_c: FloatArray,
                             mask: BoolArray, level: float = 0.95) -> BatchResult:
    """Mantel-Haenszel risk ratios, one per row, with Q and I^2 as ``rma.mh`` (1/2 added to trials with a zero
    cell, double-zero trials dropped, for Q only)."""
    ai = np.where(mask, events_t, 0.0)
    ci = np.where(mask, events_c, 0.0)
    n1 = np.where(mask, n_t, 0.0)
    n2 = np.where(mask, n_c, 0.0)
    big_n = np.where(mask, n1 + n2, 1.0)
    r = (ai * n2 / big_n).sum(1)
    s = (ci * n1 / big_n).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.log(r / s)
        se = np.sqrt((n1 / big_n * (n2 / big_n) * (ai + ci) - ai / big_n * ci).sum(1) / (r * s))
    undefined = (ai.sum(1) == 0) | (ci.sum(1) == 0)
    beta[undefined] = np.nan
    se[undefined] = np.nan
    crit = norm.ppf(1 - (1 - level) / 2)
    bi, di = n1 - ai, n2 - ci
    keep = mask & ~(((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0)))
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    add = np.where(zero, 0.5, 0.0)
    a, b, c, d = ai + add, bi + add, ci + add, di + add
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(a / (a + b)) - np.log(c / (c + d))
        vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
        q = np.where(keep, (yi - beta[:, None]) ** 2 / vi, 0.0).sum(1)
    kyi = keep.sum(1)
    q = np.where(kyi > 1, np.maximum(q, 0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where((kyi > 1) & (q > 0), np.maximum(0.0, 100 * (q - (kyi - 1)) / q), 0.0)
    return BatchResult(beta, se, beta - crit * se, beta + crit * se, np.zeros(len(beta)), q, i2, mask.sum(1))


def q_p_values(result: BatchResult) -> FloatArray:
    """p-values of the Q statistics (k - 1 df)."""
    return np.asarray(chi2.sf(result.q, np.maximum(result.k - 1, 1)), dtype=float)

"""Maximum likelihood for the cumulative logit (proportional-odds) model by Newton–Raphson.

Model (McCullagh 1980; the parameterisation of R's ordinal::clm):

    logit P(Y <= j | x, w) = theta_j' w - beta' x,   j = 1..J-1,

where ``x`` holds the covariates with common (proportional-odds) effects and ``w`` the "nominal" design of the
thresholds: ``w = 1`` gives the proportional-odds model; ``w = (1, treatment)`` gives the partial
proportional-odds model in which the treatment effect may differ at each threshold (clm's ``nominal = ~arm``).

Written here rather than taken from statsmodels' OrderedModel because OrderedModel uses numerical derivatives
and BFGS, which are slow beyond ~10^5 patients; this uses the analytic gradient and observed Hessian,
aggregated with ``np.bincount`` so one Newton step costs O(n p^2).

References
----------
McCullagh P (1980). Regression models for ordinal data. J R Stat Soc B 42:109-142.
Peterson B, Harrell FE (1990). Partial proportional odds models for ordinal response variables. Appl Stat
39:205-217.
Christensen RHB. ordinal: regression models for ordinal data, R package (``clm``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from equipoise.errors import UserError


@dataclass(frozen=True)
class CumulativeLogitFit:
    thresholds: npt.NDArray[np.float64]  # (J-1, q)
    beta: npt.NDArray[np.float64]  # (p,)
    covariance: npt.NDArray[np.float64]  # over (thresholds.ravel(), beta)
    log_likelihood: float
    iterations: int
    converged: bool
    # Parameters (indices into thresholds.ravel() then beta) that separation sends to infinity: the fit is the
    # limit as they grow (``converged`` stays False), with infinite variance for them and the limit's covariance
    # for the others (``_separated_limit``).
    separated: tuple[int, ...] = ()

    @property
    def beta_se(self) -> npt.NDArray[np.float64]:
        p = len(self.beta)
        if not p:
            return np.zeros(0, dtype=np.float64)
        with np.errstate(invalid="ignore"):  # a fit on the boundary has no finite variance: NaN, said by the caller
            return np.sqrt(np.diag(self.covariance)[-p:])




def _linear_cuts(W: npt.NDArray[np.float64] | None, theta: npt.NDArray[np.float64], y: npt.NDArray[np.intp],
                 J: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """theta_{y}' w_i (upper cut) and theta_{y-1}' w_i (lower cut), +-inf at the ends; ``W=None`` means w = 1."""
    if W is None:  # proportional odds: a table lookup
        ext = np.concatenate([[-np.inf], theta[:, 0], [np.inf]])
        return ext[y + 1], ext[y]
    n = len(y)
    up = np.full(n, np.inf)
    lo = np.full(n, -np.inf)
    has_up = y < J - 1
    has_lo = y > 0
    up[has_up] = np.einsum("ij,ij->i", W[has_up], theta[y[has_up]])
    lo[has_lo] = np.einsum("ij,ij->i", W[has_lo], theta[y[has_lo] - 1])
    return up, lo


def _loglik_terms(y: npt.NDArray[np.intp], J: int, W: npt.NDArray[np.float64] | None, X: npt.NDArray[np.float64],
                  theta: npt.NDArray[np.float64], beta: npt.NDArray[np.float64],
                  offset: npt.NDArray[np.float64] | None = None
                  ) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
                             npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    eta = X @ beta if X.shape[1] else np.zeros(len(y))
    if offset is not None:
        eta = eta + offset
    up, lo = _linear_cuts(W, theta, y, J)
    a, b = up - eta, lo - eta
    Fa, Fb = expit(a), expit(b)
    fa, fb = Fa * (1 - Fa), Fb * (1 - Fb)
    P = Fa - Fb
    if np.any(P <= 0):
        return -math.inf, P, P, P, P, P
    # P(Y = y) = F(upper cut) - F(lower cut) for every category (the end categories have a cut at -inf or +inf,
    # where F is exactly 0 or 1); a non-positive difference means the parameters left the model's domain.
    ll = float(np.sum(np.log(P)))
    u, v = fa / P, fb / P
    du, dv = fa * (1 - 2 * Fa) / P, fb * (1 - 2 * Fb) / P
    return ll, P, u, v, du, dv


def fit_cumulative_logit(y: npt.ArrayLike, X: npt.ArrayLike | None = None, W: npt.ArrayLike | None = None,
                         *, offset: npt.ArrayLike | None = None, start: CumulativeLogitFit | None = None,
                         tol: float = 1e-9, max_iter: int = 100) -> CumulativeLogitFit:
    """Fit the model; ``y`` holds category indices 0..J-1 (every category observed), ``X`` (n, p), ``W`` (n, q).

    ``offset`` is added to the linear predictor x'beta (clm's offset()); ``start`` warm-starts from a fit."""
    yv = np.asarray(y, dtype=np.intp)
    n = len(yv)
    J = int(yv.max()) + 1
    Xv = np.zeros((n, 0)) if X is None else np.asarray(X, float).reshape(n, -1)
    Wv = None if W is None else np.asarray(W, float).reshape(n, -1)
    p, q = Xv.shape[1], 1 if Wv is None else Wv.shape[1]
    counts = np.bincount(yv, minlength=J)
    if J < 2 or np.any(counts == 0):
        raise UserError("the ordinal outcome needs at least two observed levels")
    cum = np.cumsum(counts)[:-1] / n
    theta = np.zeros((J - 1, q))
    theta[:, 0] = np.log(cum / (1 - cum))
    beta = np.zeros(p)
    if start is not None:
        theta, beta = start.thresholds.copy(), start.beta.copy()
    off = None if offset is None else np.asarray(offset, float)
    k = (J - 1) * q
    ll, _, u, v, du, dv = _loglik_terms(yv, J, Wv, Xv, theta, beta, off)
    converged = False
    full_rank = True
    it = 0
    for it in range(1, max_iter + 1):
        g, H = _gradient_hessian(yv, J, Wv, Xv, u, v, du, dv)
        singular = False
        try:
            step = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            singular = True
            full_rank = full_rank and it > 1
            # separation (a level empty in one group) sends some parameters to infinity while the
            # log-likelihood approaches its supremum: keep climbing along the least-squares step
            step = np.linalg.lstsq(H, -g, rcond=None)[0]
        if it == 1 and not np.all(np.isfinite(step)):
            raise UserError("the proportional-odds model cannot be fitted: the information matrix is singular "
                            "(a covariate may be constant or perfectly predict the outcome)")
        old_ll = ll
        scale = 1.0
        while True:
            new_theta = theta + scale * step[:k].reshape(J - 1, q)
            new_beta = beta + scale * step[k:]
            new_ll, _, nu, nv, ndu, ndv = _loglik_terms(yv, J, Wv, Xv, new_theta, new_beta, off)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            scale /= 2
            if scale < 1e-8:
                break
        if scale < 1e-8:
            # No point along the Newton direction is better: stop where we are, not converged (the halved step
            # is tiny because the search gave up, not because the estimate settled).
            break
        theta, beta, ll, u, v, du, dv = new_theta, new_beta, new_ll, nu, nv, ndu, ndv
        if np.max(np.abs(step)) < tol:  # the full Newton step, not the halved one
            converged = True
            break
        if singular and abs(ll - old_ll) < 1e-13 * (1 + abs(ll)):
            break  # the likelihood no longer moves (an estimate on the boundary); converged stays False
    g, H = _gradient_hessian(yv, J, Wv, Xv, u, v, du, dv)
    try:
        cov = np.asarray(np.linalg.inv(-H), dtype=np.float64) if converged else np.full_like(H, np.nan)
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    if not converged and full_rank:
        limit = _separated_limit(np.concatenate([theta.ravel(), beta]), g, H, ll)
        if limit is not None:
            # Not "converged": there is no maximum; but the settled parameters' estimates and variances stand.
            return CumulativeLogitFit(theta, beta, limit[0], ll, it, False, limit[1])
    return CumulativeLogitFit(theta, beta, cov, ll, it, converged)


# On the logit scale a coefficient beyond this is an odds ratio above 5e8: no real effect, only separation.
DIVERGED = 20.0


def _separated_limit(params: npt.NDArray[np.float64], g: npt.NDArray[np.float64], H: npt.NDArray[np.float64],
                     ll: float) -> tuple[npt.NDArray[np.float64], tuple[int, ...]] | None:
    """The fit under (quasi-)complete separation, where the likelihood has a supremum but no maximum.

    Some parameters run off to infinity (Albert & Anderson 1984, Biometrika 71:1-10) while the others settle at
    the maximum of the limiting likelihood, where the diverged ones no longer matter: their derivatives, and
    the information they share with the others, vanish. Newton's search stalls there. If the settled
    parameters' score is zero to working precision, the fit is that limit: the covariance of the settled
    parameters is the inverse of their own information block, the diverged ones get an infinite variance (as
    R's clm, which warns that the Hessian is singular, reports them with no usable standard error). A design
    whose information is singular from the start (aliased columns) is not separation and is not treated so.
    """
    diverged = np.abs(params) > DIVERGED
    if not diverged.any() or diverged.all():
        return None
    settled = np.flatnonzero(~diverged)
    if np.max(np.abs(g[settled])) > 1e-6 * (1 + abs(ll)):
        return None
    try:
        block = np.linalg.inv(-H[np.ix_(settled, settled)])
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(block)) or np.any(np.diag(block) <= 0):
        return None
    cov = np.full_like(H, np.nan)
    cov[np.ix_(settled, settled)] = block
    cov[np.flatnonzero(diverged), np.flatnonzero(diverged)] = np.inf
    return cov, tuple(int(i) for i in np.flatnonzero(diverged))


def _gradient_hessian(y: npt.NDArray[np.intp], J: int, W: npt.NDArray[np.float64] | None, X: npt.NDArray[np.float64],
                      u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], du: npt.NDArray[np.float64],
                      dv: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Analytic gradient and observed Hessian of the log-likelihood.

    For one patient with a = upper cut − eta, b = lower cut − eta, P = F(a) − F(b), u = f(a)/P, v = f(b)/P,
    du = f'(a)/P, dv = f'(b)/P (F logistic, f' = f (1 − 2F)): d/d(upper cut) = u, d/d(lower cut) = −v,
    d/d(beta) = −x (u − v); second derivatives: upper² du − u², lower² −dv − v², upper·lower u v,
    upper·beta x (−du + u (u − v)), lower·beta x (dv − v (u − v)), beta·beta' x x' (du − dv − (u − v)²);
    each threshold derivative is multiplied by that threshold's w."""
    q = 1 if W is None else W.shape[1]
    p = X.shape[1]

    def w(s: int) -> npt.NDArray[np.float64] | float:
        return 1.0 if W is None else W[:, s]

    m = J - 1
    k = m * q
    up_idx = np.where(y < J - 1, y, m)  # index m collects the (absent) term for the top category
    lo_idx = np.where(y > 0, y - 1, m)
    g = np.zeros(k + p)
    H = np.zeros((k + p, k + p))

    def agg(idx: npt.NDArray[np.intp], w: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(np.bincount(idx, weights=w, minlength=m + 1)[:m], dtype=np.float64)

    # thresholds: gradient
    for s in range(q):
        g[s:k:q] = agg(up_idx, u * w(s)) - agg(lo_idx, v * w(s))
    if p:
        g[k:] = -(X.T @ (u - v))
    # threshold x threshold blocks
    for s in range(q):
        for t in range(s, q):
            ws = w(s) * w(t)
            diag = agg(up_idx, (du - u * u) * ws) + agg(lo_idx, (-dv - v * v) * ws)
            off = agg(up_idx, np.where(y > 0, u * v, 0.0) * ws)  # pair (y, y-1) for obs with both cuts
            for j in range(m):
                H[j * q + s, j * q + t] += diag[j]
                if t != s:
                    H[j * q + t, j * q + s] += diag[j]
                if j >= 1:
                    H[j * q + s, (j - 1) * q + t] += off[j]
                    H[(j - 1) * q + t, j * q + s] += off[j]
                    if t != s:
                        H[j * q + t, (j - 1) * q + s] += off[j]
                        H[(j - 1) * q + s, j * q + t] += off[j]
    if p:
        diff = u - v
        for s in range(q):
            wu = (-du + u * diff) * w(s)
            wv = (dv - v * diff) * w(s)
            for col in range(p):
                block = agg(up_idx, wu * X[:, col]) + agg(lo_idx, wv * X[:, col])
                H[s:k:q, k + col] = block
                H[k + col, s:k:q] = block
        wb = (du - dv) - diff * diff
        H[k:, k:] = (X * wb[:, None]).T @ X
    return g, H

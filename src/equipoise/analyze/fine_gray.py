"""Fine–Gray proportional subdistribution hazards model for an event with a competing event.

The subdistribution hazard of the event of interest keeps patients who had the competing event in the risk set,
down-weighted by the probability of remaining uncensored: at an event time t a patient with a competing event at
T_i < t counts with weight G(t-)/G(T_i-), G being the Kaplan–Meier estimate of the censoring distribution (Fine &
Gray 1999, JASA 94:496, eq. 6 with inverse-probability-of-censoring weights). Because the weight factorises into
G(t-) times a per-patient term, every risk-set sum is a cumulative sum over sorted times, as in the Cox fit.

Which R it matches, exactly (tests/reference/analyze.R):

- the estimate, naive SE and log-likelihood equal ``coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights = fgwt,
  ties = "breslow")`` on the data ``survival::finegray()`` expands (to 1e-8; Breslow-type ties as in Fine & Gray's
  paper and ``cmprsk::crr``). With ``strata`` the censoring distribution and the baseline subdistribution hazard
  are estimated per stratum, as finegray()'s ``strata()`` term with a ``strata()`` term in coxph (Zhou et al.
  2011, Biometrics 67:661);
- ``cmprsk::crr()`` gives the same estimate (to its 1e-6 tolerance) unless censorings tie with events: crr's
  censoring Kaplan–Meier keeps a patient with an event at t at risk of censoring at t, finegray's (and this) does
  not, which moves the estimate by ~0.1% on survival::mgus2 (monthly times);
- the standard error is the robust sandwich coxph reports with ``cluster = id`` (each patient's score residuals
  summed over the rows finegray() made for them). It treats the censoring weights as known; ``crr``'s variance
  (Fine & Gray 1999, section 3) adds a term for estimating G, so its SE differs slightly (in the third
  significant digit on the reference data).

Ties between an event and a censoring are resolved as in finegray(): events first, so G(t-) does not include
censorings at t and a censoring at t does not count the events at t as at risk.

References
----------
Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing risk. JASA
94:496-509.
Zhou B, Latouche A, Rocha V, Fine J (2011). Competing risks regression for stratified data.
Biometrics 67:661-670.
Therneau T, Crowson C, Atkinson E. Multi-state models and competing risks, vignette of the R package
survival (``finegray``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from equipoise.errors import UserError


@dataclass(frozen=True)
class FineGrayFit:
    beta: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]  # robust sandwich (coxph with cluster = id)
    naive_covariance: npt.NDArray[np.float64]  # inverse information of the weighted partial likelihood
    log_likelihood: float
    log_likelihood_null: float
    iterations: int
    converged: bool
    n: int
    events: int
    competing: int

    @property
    def se(self) -> npt.NDArray[np.float64]:
        return np.sqrt(np.diag(self.covariance))

    @property
    def naive_se(self) -> npt.NDArray[np.float64]:
        return np.sqrt(np.diag(self.naive_covariance))


def censoring_survival_before(time: npt.NDArray[np.float64], censored: npt.NDArray[np.bool_],
                              at: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """G(t-) at each time in ``at``: the Kaplan–Meier estimate of staying uncensored, left-continuous, with
    events leaving the risk set before censorings at the same time."""
    ctimes, inverse = np.unique(time, return_inverse=True)
    m = np.bincount(inverse, weights=censored, minlength=len(ctimes))
    # at risk of censoring at c: still followed after c, plus those censored at c (events at c left just before)
    after = len(time) - np.cumsum(np.bincount(inverse, minlength=len(ctimes)))
    at_risk = after + m
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(m > 0, 1 - m / at_risk, 1.0)
    g = np.cumprod(factor)
    i = np.searchsorted(ctimes, at, side="left")  # censoring times strictly before t
    return np.asarray(np.concatenate([[1.0], g])[i], dtype=np.float64)


class _Stratum:
    """One stratum's data, sorted by time, and what the risk-set sums need."""

    def __init__(self, time: npt.NDArray[np.float64], status: npt.NDArray[np.int64],
                 X: npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> None:
        order = np.argsort(time, kind="stable")
        self.rows = rows[order]
        self.t, self.status, self.X = time[order], status[order], X[order]
        ev = self.status == 1
        self.u, inverse = np.unique(self.t[ev], return_inverse=True)  # distinct event times
        self.d = np.bincount(inverse, minlength=len(self.u)).astype(float)
        self.event_x_sum = self.X[ev].sum(axis=0)
        self.event_x_by_time = np.zeros((len(self.u), X.shape[1]))
        np.add.at(self.event_x_by_time, inverse, self.X[ev])
        self.g_event = censoring_survival_before(self.t, self.status == 0, self.u)
        self.comp = self.status == 2
        self.g_comp = censoring_survival_before(self.t, self.status == 0, self.t[self.comp])
        # risk set at u_j: patients with T >= u_j (sorted, so a suffix) ...
        self.first_at_risk = np.searchsorted(self.t, self.u, side="left")
        # ... plus competing-event patients with T < u_j (a prefix of the competing ones)
        self.n_comp_before = np.searchsorted(self.t[self.comp], self.u, side="left")
        # event times up to each patient's own time (for the score residuals)
        self.n_events_to = np.searchsorted(self.u, self.t, side="right")

    def risk_sums(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Weighted sum of per-patient ``values`` (already multiplied by exp(eta)) over each event time's
        subdistribution risk set."""
        suffix = np.concatenate([np.cumsum(values[::-1], axis=0)[::-1], np.zeros((1, *values.shape[1:]))])
        scaled = values[self.comp] / self.g_comp.reshape(-1, *([1] * (values.ndim - 1)))
        prefix = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(scaled, axis=0)])
        g = self.g_event.reshape(-1, *([1] * (values.ndim - 1)))
        return np.asarray(suffix[self.first_at_risk] + g * prefix[self.n_comp_before], dtype=np.float64)


def _loglik(strata: list[_Stratum], beta: npt.NDArray[np.float64]
            ) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Breslow-tied weighted partial log-likelihood, score and Hessian."""
    p = len(beta)
    ll, grad, hess = 0.0, np.zeros(p), np.zeros((p, p))
    for s in strata:
        eta = s.X @ beta  # covariates are centred, so exp() stays in range
        r = np.exp(eta)
        S0 = s.risk_sums(r)
        S1 = s.risk_sums(r[:, None] * s.X)
        S2 = s.risk_sums(r[:, None, None] * s.X[:, :, None] * s.X[:, None, :])
        xbar = S1 / S0[:, None]
        ll += float(eta[s.status == 1].sum() - s.d @ np.log(S0))
        grad += s.event_x_sum - s.d @ xbar
        hess -= np.einsum("j,jkl->kl", s.d, S2 / S0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])
    return ll, grad, hess


def _score_residuals(strata: list[_Stratum], beta: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """Each patient's score residual summed over the rows finegray() would give them (coxph's dfbeta before the
    information is applied)."""
    U = np.zeros((n, len(beta)))
    for s in strata:
        r = np.exp(s.X @ beta)
        S0 = s.risk_sums(r)
        xbar = s.risk_sums(r[:, None] * s.X) / S0[:, None]
        a = s.d / S0  # Breslow increments of the baseline subdistribution hazard
        zero = np.zeros((1, len(beta)))
        A = np.concatenate([[0.0], np.cumsum(a)])
        B = np.concatenate([zero, np.cumsum(a[:, None] * xbar, axis=0)])
        ga = s.g_event * a
        C = np.concatenate([np.cumsum(ga[::-1])[::-1], [0.0]])  # over event times after index k
        D = np.concatenate([np.cumsum((ga[:, None] * xbar)[::-1], axis=0)[::-1], zero])
        k = s.n_events_to
        res = -r[:, None] * (s.X * A[k][:, None] - B[k])
        ci = np.flatnonzero(s.comp)
        kc = k[ci]
        res[ci] -= (r[ci] / s.g_comp)[:, None] * (s.X[ci] * C[kc][:, None] - D[kc])
        ev = np.flatnonzero(s.status == 1)
        res[ev] += s.X[ev] - xbar[np.searchsorted(s.u, s.t[ev])]
        U[s.rows] = res
    return U


def fit_fine_gray(time: npt.ArrayLike, status: npt.ArrayLike, X: npt.ArrayLike,
                  strata: npt.ArrayLike | None = None, *, tol: float = 1e-9, max_iter: int = 30) -> FineGrayFit:
    """Fit the subdistribution hazards model for ``status`` 1 (0 censored, 1 event of interest, 2 competing
    event) by Newton–Raphson; see the module docstring for the estimator and the variance.

    References
    ----------
    Fine JP, Gray RJ (1999). A proportional hazards model for the subdistribution of a competing risk. JASA
    94:496-509.
    """
    t = np.asarray(time, float)
    st = np.asarray(status).astype(np.int64)
    n = len(t)
    Xv = np.asarray(X, float).reshape(n, -1)
    if not set(np.unique(st).tolist()) <= {0, 1, 2}:
        raise UserError("Fine–Gray: status must be 0 (censored), 1 (event) or 2 (competing event)")
    if not (st == 1).any():
        raise UserError("the Fine–Gray model needs at least one event")
    keys = np.zeros(n, np.intp) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    Xc = Xv - Xv.mean(axis=0)  # centring keeps exp() in range and changes no estimate
    groups = [_Stratum(t[keys == k], st[keys == k], Xc[keys == k], np.flatnonzero(keys == k))
              for k in np.unique(keys)]
    groups = [g for g in groups if len(g.u)]  # a stratum without events adds nothing (finegray drops it too)
    p = Xv.shape[1]
    beta = np.zeros(p)
    ll0, g, H = _loglik(groups, beta)
    ll = ll0
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        try:
            step = np.linalg.solve(-H, g)
        except np.linalg.LinAlgError:
            raise UserError("the Fine–Gray model cannot be fitted: a covariate is constant or collinear") from None
        scale = 1.0
        while True:
            nb = beta + scale * step
            nll, ng, nH = _loglik(groups, nb)
            if nll >= ll - 1e-12 * abs(ll) or scale < 1e-8:
                break
            scale /= 2
        done = np.max(np.abs(scale * step)) < tol or (abs(nll - ll) < 1e-13 and np.max(np.abs(ng)) < 1e-8)
        beta, ll, g, H = nb, nll, ng, nH
        if done:
            converged = True
            break
    try:
        naive = np.asarray(np.linalg.inv(-H), dtype=np.float64)
    except np.linalg.LinAlgError:
        naive = np.full((p, p), math.nan)
    U = _score_residuals(groups, beta, n)
    robust = np.asarray(naive @ (U.T @ U) @ naive, dtype=np.float64)
    return FineGrayFit(beta, robust, naive, ll, ll0, it, converged, n, int((st == 1).sum()), int((st == 2).sum()))

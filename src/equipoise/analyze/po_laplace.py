"""Bayesian proportional-odds model by the Laplace approximation, fitted to tables of counts (many at once).

Model (arm a, level j = 0..K-1): logit P(Y > j | a) = beta_a - theta_j for j = 0..K-2, with beta_control = 0;
a positive beta_a moves patients to higher levels. Priors: theta_j ~ Normal(0, intercept_sd^2) and each
beta_a ~ Normal(0, log_or_sd^2), independent. The likelihood depends on the data only through the counts
n[a, j], so one fit per table of counts serves a whole adaptive analysis. The posterior mode is found by Newton's
method with the exact gradient and Hessian (the log posterior is concave: Pratt 1981), vectorised over tables;
the posterior is approximated by Normal(mode, (-Hessian)^-1) (Laplace; Tierney & Kadane 1986).

References
----------
McCullagh P. Regression models for ordinal data. *J R Stat Soc B* 1980;42:109-142 (the model).
Pratt JW. Concavity of the log likelihood. *JASA* 1981;76:103-106.
Tierney L, Kadane JB. Accurate approximations for posterior moments and marginal densities. *JASA*
1986;81:82-86.
Angus DC et al. The REMAP-CAP design. *Ann Am Thorac Soc* 2020;17:879-891 (a Bayesian cumulative-logistic
primary model with Normal(0, 1) priors on the treatment log odds ratios).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LaplaceFit:
    """Posterior modes and covariances of many tables: ``theta`` (T, K-1); ``beta`` (T, A) with 0 at the
    control; ``cov`` (T, P, P) over (theta, non-control betas); ``beta_sd`` (T, A) with 0 at the control."""

    theta: FloatArray
    beta: FloatArray
    cov: FloatArray
    beta_sd: FloatArray
    control: int
    iterations: int

    def beta_cov(self) -> FloatArray:
        """(T, A, A) posterior covariance of the betas, zero rows and columns at the control."""
        t, a = self.beta.shape
        k1 = self.theta.shape[1]
        others = [i for i in range(a) if i != self.control]
        out = np.zeros((t, a, a))
        block = self.cov[:, k1:, k1:]
        out[np.ix_(range(t), others, others)] = block
        return out


def _jacobians(n_arms: int, n_levels: int, control: int) -> tuple[FloatArray, FloatArray]:
    """d eta_lo / d params and d eta_hi / d params for every cell (arm, level): (A, K, P).

    A patient at level j has P(Y = j) = G(eta_{j-1}) - G(eta_j) with eta_j = beta_a - theta_j; eta_lo = eta_{j-1}
    (absent for j = 0: G = 1) and eta_hi = eta_j (absent for j = K-1: G = 0)."""
    k1 = n_levels - 1
    others = [i for i in range(n_arms) if i != control]
    p = k1 + len(others)
    lo = np.zeros((n_arms, n_levels, p))
    hi = np.zeros((n_arms, n_levels, p))
    for a in range(n_arms):
        for j in range(n_levels):
            if j >= 1:
                lo[a, j, j - 1] = -1.0
                if a != control:
                    lo[a, j, k1 + others.index(a)] = 1.0
            if j <= k1 - 1:
                hi[a, j, j] = -1.0
                if a != control:
                    hi[a, j, k1 + others.index(a)] = 1.0
    return lo, hi


def fit_proportional_odds(counts: FloatArray, control: int, log_or_sd: float, intercept_sd: float = 10.0,
                          max_iter: int = 50, tol: float = 1e-9) -> LaplaceFit:
    """Laplace fits of ``counts`` (T, A, K): T tables, A arms, K ordered levels (lowest first)."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim == 2:
        counts = counts[None]
    t, n_arms, n_levels = counts.shape
    if n_levels < 2 or n_arms < 1 or not 0 <= control < n_arms:
        raise ValueError("counts must be (tables, arms, levels) with at least 2 levels and a valid control")
    k1 = n_levels - 1
    jlo, jhi = _jacobians(n_arms, n_levels, control)
    p = jlo.shape[2]
    has_lo = np.arange(n_levels) >= 1
    has_hi = np.arange(n_levels) <= k1 - 1
    prior_prec = np.concatenate([np.full(k1, 1 / intercept_sd**2), np.full(p - k1, 1 / log_or_sd**2)])
    # start: cut points from the pooled cumulative proportions, no arm effects
    pooled = counts.sum(axis=1) + 0.5
    above = 1 - np.cumsum(pooled, axis=1)[:, :-1] / pooled.sum(axis=1, keepdims=True)
    params = np.zeros((t, p))
    params[:, :k1] = -np.log(above / (1 - above))
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        grad, hess = _gradient_hessian(params, counts, jlo, jhi, has_lo, has_hi)
        grad -= params * prior_prec
        hess -= np.eye(p) * prior_prec
        step = np.linalg.solve(-hess, grad[..., None])[..., 0]
        # damp: no coordinate moves more than 2 per iteration (keeps the first steps inside the region where the
        # cut points stay ordered; the log posterior is concave, so Newton converges from there)
        scale = np.minimum(1.0, 2.0 / np.maximum(np.abs(step).max(axis=1, keepdims=True), 1e-300))
        params = params + step * scale
        if np.abs(step).max() < tol:
            break
    _, hess = _gradient_hessian(params, counts, jlo, jhi, has_lo, has_hi)
    hess -= np.eye(p) * prior_prec
    cov = np.asarray(np.linalg.inv(-hess), dtype=float)
    beta = np.zeros((t, n_arms))
    beta_sd = np.zeros((t, n_arms))
    others = [i for i in range(n_arms) if i != control]
    beta[:, others] = params[:, k1:]
    beta_sd[:, others] = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, k1:])
    return LaplaceFit(theta=params[:, :k1], beta=beta, cov=cov, beta_sd=beta_sd, control=control,
                      iterations=iterations)


def _gradient_hessian(params: FloatArray, counts: FloatArray, jlo: FloatArray, jhi: FloatArray,
                      has_lo: NDArray[np.bool_], has_hi: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Gradient (T, P) and Hessian (T, P, P) of the log likelihood at ``params``."""
    eta_lo = np.einsum("akp,tp->tak", jlo, params)
    eta_hi = np.einsum("akp,tp->tak", jhi, params)
    g_lo = np.where(has_lo, expit(eta_lo), 1.0)
    g_hi = np.where(has_hi, expit(eta_hi), 0.0)
    # an empty cell contributes nothing; evaluating it at probability 1 keeps 0 * (1/p)^2 from overflowing
    prob = np.where(counts > 0, np.maximum(g_lo - g_hi, 1e-300), 1.0)
    d_lo = np.where(has_lo, g_lo * (1 - g_lo), 0.0)  # density of the logistic at eta_lo
    d_hi = np.where(has_hi, g_hi * (1 - g_hi), 0.0)
    dd_lo = d_lo * (1 - 2 * g_lo)
    dd_hi = d_hi * (1 - 2 * g_hi)
    # d log p / d eta_lo = d_lo / p, d log p / d eta_hi = -d_hi / p
    s_lo = counts * d_lo / prob
    s_hi = -counts * d_hi / prob
    grad = np.einsum("tak,akp->tp", s_lo, jlo) + np.einsum("tak,akp->tp", s_hi, jhi)
    h_ll = counts * (dd_lo / prob - (d_lo / prob) ** 2)
    h_hh = counts * (-dd_hi / prob - (d_hi / prob) ** 2)
    h_lh = counts * (d_lo * d_hi / prob**2)
    hess = (np.einsum("tak,akp,akq->tpq", h_ll, jlo, jlo) + np.einsum("tak,akp,akq->tpq", h_hh, jhi, jhi)
            + np.einsum("tak,akp,akq->tpq", h_lh, jlo, jhi) + np.einsum("tak,akp,akq->tpq", h_lh, jhi, jlo))
    return grad, hess

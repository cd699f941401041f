"""Two-sided designs with beta-spending futility: stop for futility when |Z_k| is small.

This follows rpact's two-sided beta-spending approach (rpact >= 3.3, documented there as experimental), so
that results agree with ``getDesignGroupSequential(sided = 2, typeBetaSpending = ...)``:

1. The one-sided design at alpha/2 with the same spending gives one-sided futility bounds; at looks where
   that bound is negative no two-sided futility bound is used (the band would be empty), and the beta that
   would have been spent there is either dropped or, with ``beta_adjustment`` (rpact's default), the
   spending function is rescaled to start at the first look with a futility bound.
2. For a drift theta, futility bound k solves P_theta(|Z_j| < f_j for the first time at some j <= k) =
   beta(t_k), capped at the efficacy bound; theta is the root of f_K(theta) = c_K (J&T section 7.3).
3. Binding futility recomputes each efficacy bound with the earlier futility bands in force.

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 7.3 (error spending for futility).
Wassmer G, Pahlke F. rpact: Confirmatory Adaptive Clinical Trial Design and Analysis, R package 3.3.4
(``getDesignGroupSequential``, ``typeBetaSpending`` with ``sided = 2``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from equipoise.design.boundaries import (
    FUTILITY_RANGE,
    _root,
    _step,
    beta_spending_one_sided,
    drift_root,
    efficacy_bound,
    efficacy_bounds,
    fixed_drift,
)
from equipoise.design.integration import DEFAULT_QUADRATURE, Interval, Quadrature, StageDensity, exit_below

FloatArray = NDArray[np.float64]

NO_FUTILITY = 1e-5  # rpact reports two-sided futility bounds at or below this as "none"


def _region(upper: float, futility: float) -> list[Interval]:
    if futility > 0:
        return [(-upper, -futility), (futility, upper)]
    return [(-upper, upper)]


def _inner_exit(prev: StageDensity | None, f: float, t: float, drift: float) -> float:
    if f <= 0:
        return 0.0
    if prev is None:
        m = drift * np.sqrt(t)
        return float(ndtr(f - m) - ndtr(-f - m))
    return float(exit_below(prev, f, t, drift) - exit_below(prev, -f, t, drift))


def _futility_bound(prev: StageDensity | None, t: float, target: float, drift: float, cap: float,
                    allowed: bool) -> float:
    if not allowed:
        return 0.0
    if prev is None:
        m = drift * np.sqrt(t)
        f = _root(lambda u: float(ndtr(u - m) - ndtr(-u - m)) - target, -8.0, 8.0)
    else:
        f = _root(lambda u: _inner_exit(prev, u, t, drift) - target, *FUTILITY_RANGE)
    return float(min(max(f, 0.0), cap))


def _path(t: FloatArray, upper: FloatArray, cumulative_alpha: FloatArray | None, cumulative_beta: FloatArray,
          allowed: NDArray[np.bool_], drift: float, q: Quadrature) -> tuple[FloatArray, FloatArray]:
    """Futility bounds for a drift; with ``cumulative_alpha`` (binding) the efficacy bounds are recomputed."""
    k_max = t.size
    up = upper.copy()
    fut = np.zeros(k_max)
    prev0: StageDensity | None = None
    prev1: StageDensity | None = None
    spent = None if cumulative_alpha is None else np.diff(np.concatenate(([0.0], cumulative_alpha)))
    stopped = 0.0
    for k in range(k_max):
        tk = float(t[k])
        if spent is not None:
            up[k] = efficacy_bound(prev0, tk, float(spent[k]), 2)
        # no cap at the last look: the drift search needs f_K - c_K to change sign, not to stick at 0
        cap = float(up[k]) if k < k_max - 1 else np.inf
        fut[k] = _futility_bound(prev1, tk, float(cumulative_beta[k]) - stopped, drift, cap, bool(allowed[k]))
        stopped += _inner_exit(prev1, float(fut[k]), tk, drift)
        if k < k_max - 1:
            region = _region(float(up[k]), float(fut[k]))
            if spent is not None:
                prev0 = _step(prev0, region, t, k, 0.0, q)
            prev1 = _step(prev1, region, t, k, drift, q)
    return up, fut


def beta_spending_two_sided(
    t: FloatArray, cumulative_alpha: FloatArray, cumulative_beta: FloatArray, binding: bool,
    beta_adjustment: bool = True, q: Quadrature = DEFAULT_QUADRATURE,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Efficacy bounds, inner futility bounds (0 where there is none; the last equals the last efficacy
    bound), the cumulative beta actually spent (after the adjustment) and the drift of a two-sided
    beta-spending design."""
    k_max = t.size
    upper0 = efficacy_bounds(t, cumulative_alpha, 2, q)
    one_sided = beta_spending_one_sided(t, cumulative_alpha / 2.0, cumulative_beta, binding, q,
                                        upper=None if binding else upper0)
    assert one_sided.lower is not None
    allowed = np.ones(k_max, dtype=bool)
    allowed[: k_max - 1] = one_sided.lower[: k_max - 1] >= 0.0
    beta = cumulative_beta.copy()
    positive = np.flatnonzero(one_sided.lower[: k_max - 1] > 0.0)
    k_min = int(positive[0]) if positive.size else -1
    if k_min > 0:
        beta[:k_min] = 0.0
        if beta_adjustment:
            base = cumulative_beta[k_min - 1]
            scale = cumulative_beta[-1] / (cumulative_beta[-1] - base)
            beta[k_min - 1:] = (cumulative_beta[k_min - 1:] - base) * scale
    alpha_for_binding = cumulative_alpha if binding else None

    def gap(d: float) -> float:
        up, fut = _path(t, upper0, alpha_for_binding, beta, allowed, d, q)
        return float(fut[-1] - up[-1])

    drift = drift_root(gap, 0.9 * fixed_drift(float(cumulative_alpha[-1]), float(cumulative_beta[-1]), 2))
    upper, futility = _path(t, upper0, alpha_for_binding, beta, allowed, drift, q)
    futility[: k_max - 1][futility[: k_max - 1] <= NO_FUTILITY] = 0.0
    futility[-1] = upper[-1]
    return upper, futility, beta, drift

"""Solving for group-sequential boundaries: efficacy bounds from alpha spending, futility bounds from beta
spending (binding or not), constant-shape designs, and the drift that gives the planned power.

The algorithms follow Jennison & Turnbull (2000) chapter 7 (error spending, sections 7.2–7.3) with the
numerical integration of chapter 19 (``integration.py``). Conventions are rpact's (``getDesignGroupSequential``,
``getDesignCharacteristics``), so that results can be compared with it to 1e-6:

- Efficacy bound k solves P_0(first exit above at look k) = alpha(t_k) - alpha(t_{k-1}) given the earlier bounds;
  two-sided designs are symmetric (reject when |Z_k| >= c_k) and count both tails.
- Beta spending (one-sided): for a drift theta, futility bound k solves
  P_theta(stop for futility by look k) = beta(t_k); theta is the root of f_K(theta) = c_K (J&T section 7.3).
  Non-binding: the efficacy bounds ignore the futility bounds. Binding: each efficacy bound is computed with the
  earlier futility bounds in force, inside the search for theta.
- Bounds are searched in [0, 8] (efficacy) and [-6, 5] (futility), as rpact does; a bound beyond the range is
  set to its end (the crossing probability there is below 1e-15).

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, ch. 7 (error spending, sections 7.2-7.3) and ch. 19 (numerical computations).
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Pampallona S, Tsiatis AA, Kim K (2001). Interim monitoring of group sequential trials using spending functions
for the type I and type II error probabilities. Drug Inf J 35:1113-1121 (beta spending, binding or not).
Pocock SJ (1977). Group sequential methods in the design and analysis of clinical trials. Biometrika
64:191-199. O'Brien PC, Fleming TR (1979). A multiple testing procedure for clinical trials. Biometrics
35:549-556 (the constant-shape designs). Wang SK, Tsiatis AA (1987). Approximately optimal one-parameter
boundaries for group sequential trials. Biometrics 43:193-199 (the power family of shapes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq, toms748
from scipy.special import ndtr, ndtri

from equipoise.design.integration import (
    DEFAULT_QUADRATURE,
    Interval,
    Quadrature,
    StageDensity,
    advance,
    exit_above,
    exit_below,
    first_stage,
    regions_probabilities,
)

FloatArray = NDArray[np.float64]

EFFICACY_RANGE = (0.0, 8.0)
FUTILITY_RANGE = (-6.0, 5.0)
DRIFT_LIMITS = (-4.0, 15.0)
XTOL = 1e-13


def _root(fun: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of a monotone function on [lo, hi]; the nearer end when it has no sign change there."""
    f_lo, f_hi = fun(lo), fun(hi)
    if f_lo == 0.0:
        return lo
    if f_hi == 0.0:
        return hi
    if (f_lo > 0) == (f_hi > 0):
        return lo if abs(f_lo) < abs(f_hi) else hi
    return float(brentq(fun, lo, hi, xtol=XTOL, rtol=4 * np.finfo(float).eps, maxiter=200))


def drift_root(fun: Callable[[float], float], guess: float, step: float = 0.25) -> float:
    """Root of ``fun`` (negative below the root, positive above) searched outwards from ``guess``.

    The drift searches need this instead of one bracket on a wide range: far above the root the efficacy
    bounds saturate at the top of their range and the function can change sign again.
    """
    a, f_a = guess, fun(guess)
    direction = 1.0 if f_a < 0 else -1.0
    for _ in range(200):
        if f_a == 0.0:
            return a
        b = a + direction * step
        if b < DRIFT_LIMITS[0] or b > DRIFT_LIMITS[1]:
            return a
        f_b = fun(b)
        if (f_a < 0) != (f_b < 0):
            lo, hi = (a, b) if a < b else (b, a)
            return float(toms748(fun, lo, hi, xtol=XTOL, rtol=4 * np.finfo(float).eps, maxiter=200))
        a, f_a = b, f_b
    return a


def _step(prev: StageDensity | None, region: list[Interval], t: FloatArray, k: int, drift: float,
          q: Quadrature) -> StageDensity:
    """The density at look k (0-based) from the one at look k-1."""
    tk, t_next = float(t[k]), (float(t[k + 1]) if k + 1 < t.size else None)
    return first_stage(region, tk, drift, q, t_next) if prev is None else advance(prev, region, tk, drift, q, t_next)


def efficacy_bound(prev: StageDensity | None, t: float, target: float, sided: int,
                   inner: float | None = None) -> float:
    """Efficacy bound at one look: P_0(exit beyond it here | earlier bounds) = ``target``.

    ``inner`` is unused for the bound itself (an inner futility band at this look does not change the
    probability of crossing the outer bounds), kept for symmetry with the futility solver.
    """
    del inner
    if target <= 0.0:
        return EFFICACY_RANGE[1]
    if prev is None:
        return float(min(max(-ndtri(target / sided), EFFICACY_RANGE[0]), 20.0))

    def excess(c: float) -> float:
        p = float(exit_above(prev, c, t, 0.0))
        if sided == 2:
            p += float(exit_below(prev, -c, t, 0.0))
        return p - target

    return _root(excess, *EFFICACY_RANGE)


def futility_bound_one_sided(prev: StageDensity | None, t: float, target: float, drift: float) -> float:
    """Futility bound at one look: P_theta(exit below it here | earlier bounds) = ``target``."""
    if prev is None:
        return float(ndtri(min(max(target, 1e-300), 1.0)) + drift * np.sqrt(t))

    def excess(f: float) -> float:
        return float(exit_below(prev, f, t, drift)) - target

    return _root(excess, *FUTILITY_RANGE)


@dataclass(frozen=True)
class OneSidedSolution:
    upper: FloatArray
    lower: FloatArray | None
    drift: float | None


def efficacy_bounds(t: FloatArray, cumulative_alpha: FloatArray, sided: int,
                    q: Quadrature = DEFAULT_QUADRATURE) -> FloatArray:
    """Efficacy bounds of a spending design without binding futility (one- or two-sided)."""
    k_max = t.size
    upper = np.empty(k_max)
    prev: StageDensity | None = None
    spent = np.diff(np.concatenate(([0.0], cumulative_alpha)))
    for k in range(k_max):
        upper[k] = efficacy_bound(prev, float(t[k]), float(spent[k]), sided)
        if k < k_max - 1:
            region: list[Interval] = [(-upper[k], upper[k])] if sided == 2 else [(-np.inf, upper[k])]
            prev = _step(prev, region, t, k, 0.0, q)
    return upper


def _futility_path(t: FloatArray, upper: FloatArray, cumulative_beta: FloatArray, drift: float,
                   q: Quadrature) -> FloatArray:
    """One-sided futility bounds for a given drift and fixed efficacy bounds (non-binding case)."""
    k_max = t.size
    lower = np.empty(k_max)
    prev: StageDensity | None = None
    stopped = 0.0
    for k in range(k_max):
        tk = float(t[k])
        lower[k] = futility_bound_one_sided(prev, tk, float(cumulative_beta[k]) - stopped, drift)
        stopped += float(exit_below(prev, lower[k], tk, drift))
        if k < k_max - 1:
            prev = _step(prev, [(lower[k], upper[k])], t, k, drift, q)
    return lower


def _binding_path(t: FloatArray, cumulative_alpha: FloatArray, cumulative_beta: FloatArray, drift: float,
                  q: Quadrature) -> tuple[FloatArray, FloatArray]:
    """Efficacy and futility bounds together when futility is binding: efficacy bound k is computed under H0
    with futility bounds 1..k-1 in force, futility bound k under the drift with efficacy bounds 1..k."""
    k_max = t.size
    upper = np.empty(k_max)
    lower = np.empty(k_max)
    prev0: StageDensity | None = None
    prev1: StageDensity | None = None
    spent = np.diff(np.concatenate(([0.0], cumulative_alpha)))
    stopped = 0.0
    for k in range(k_max):
        tk = float(t[k])
        upper[k] = efficacy_bound(prev0, tk, float(spent[k]), 1)
        lower[k] = futility_bound_one_sided(prev1, tk, float(cumulative_beta[k]) - stopped, drift)
        stopped += float(exit_below(prev1, lower[k], tk, drift))
        if k < k_max - 1:
            region: list[Interval] = [(lower[k], upper[k])]
            prev0 = _step(prev0, region, t, k, 0.0, q)
            prev1 = _step(prev1, region, t, k, drift, q)
    return upper, lower


def beta_spending_one_sided(
    t: FloatArray, cumulative_alpha: FloatArray, cumulative_beta: FloatArray, binding: bool,
    q: Quadrature = DEFAULT_QUADRATURE, upper: FloatArray | None = None,
) -> OneSidedSolution:
    """One-sided design with beta-spending futility bounds; returns bounds and the drift theta with
    f_K(theta) = c_K (the drift at which the design has power 1 - beta). Non-binding designs may pass the
    efficacy bounds (``upper``) instead of having them computed from ``cumulative_alpha``."""
    guess = 0.9 * fixed_drift(float(cumulative_alpha[-1]), float(cumulative_beta[-1]), 1)
    if not binding:
        if upper is None:
            upper = efficacy_bounds(t, cumulative_alpha, 1, q)
        fixed_upper = upper
        drift = drift_root(
            lambda d: float(_futility_path(t, fixed_upper, cumulative_beta, d, q)[-1] - fixed_upper[-1]), guess)
        lower = _futility_path(t, fixed_upper, cumulative_beta, drift, q)
        return OneSidedSolution(fixed_upper, lower, drift)

    def gap(d: float) -> float:
        up, low = _binding_path(t, cumulative_alpha, cumulative_beta, d, q)
        return float(low[-1] - up[-1])

    drift = drift_root(gap, guess)
    upper, lower = _binding_path(t, cumulative_alpha, cumulative_beta, drift, q)
    return OneSidedSolution(upper, lower, drift)


def constant_shape_bounds(t: FloatArray, alpha: float, sided: int, exponent: float,
                          q: Quadrature = DEFAULT_QUADRATURE) -> FloatArray:
    """Wang & Tsiatis (1987) shape c_k = C * t_k^(exponent - 1/2): exponent 0 is O'Brien–Fleming, 1/2 is
    Pocock; C gives total (one- or two-sided) type I error alpha."""
    shape = t ** (exponent - 0.5)

    def excess(scale: float) -> float:
        up = scale * shape
        low = -up if sided == 2 else None
        regions = [[(-u if low is not None else -np.inf, u)] for u in up]
        above, below, _ = regions_probabilities(regions, t, 0.0, q)
        return float(above.sum() + (below.sum() if sided == 2 else 0.0)) - alpha

    scale = _root(excess, *EFFICACY_RANGE)
    return np.asarray(scale * shape)


def exit_probabilities(
    t: FloatArray, upper: FloatArray, lower: FloatArray | None, sided: int, drift: float,
    futility: FloatArray | None = None, q: Quadrature = DEFAULT_QUADRATURE,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-look probabilities (efficacy above, crossing below, stopping for futility) at a drift.

    One-sided: continuation lower_k < Z < upper_k; ``lower`` (futility) may be ``None``. Crossing below is
    futility. Two-sided: continuation -upper_k < Z < upper_k, minus the band |Z| < futility_k when given.
    At the last look nobody continues: for one-sided designs only the efficacy crossing counts there
    (rpact's convention), for two-sided both tails.
    """
    k_max = t.size
    regions: list[list[Interval]] = []
    for k in range(k_max):
        if sided == 2:
            f = 0.0 if futility is None or k == k_max - 1 else float(futility[k])
            regions.append([(-upper[k], -f), (f, upper[k])] if f > 0 else [(-upper[k], upper[k])])
        else:
            low = -np.inf if lower is None or k == k_max - 1 else float(lower[k])
            regions.append([(low, upper[k])])
    above, below, inner = regions_probabilities(regions, t, drift, q)
    if sided == 2:
        return above, below, inner
    return above, np.zeros(k_max), below


def drift_for_power(t: FloatArray, upper: FloatArray, lower: FloatArray | None, sided: int, power: float,
                    futility: FloatArray | None = None, q: Quadrature = DEFAULT_QUADRATURE,
                    guess: float | None = None) -> float:
    """The drift at which P(reject through the upper bound) = ``power`` (rpact: two-sided power counts only
    the upper tail unless asked otherwise). ``guess`` (e.g. the single-look drift) only speeds the search."""

    def shortfall(d: float) -> float:
        above, _, _ = exit_probabilities(t, upper, lower, sided, d, futility, q)
        return float(above.sum()) - power

    start = guess if guess is not None and guess > 0 else float(-ndtri(1 - power)) + 2.0
    lo, hi = 0.95 * start, 1.25 * start
    f_lo, f_hi = shortfall(lo), shortfall(hi)
    for _ in range(60):
        if f_lo <= 0:
            break
        lo, f_lo = lo / 1.5 - 0.1, shortfall(lo / 1.5 - 0.1)
    for _ in range(60):
        if f_hi >= 0:
            break
        hi, f_hi = hi * 1.5 + 0.1, shortfall(hi * 1.5 + 0.1)
    if f_lo > 0 or f_hi < 0:
        raise ValueError("no drift gives the requested power with these bounds")
    return float(toms748(shortfall, lo, hi, xtol=XTOL, rtol=4 * np.finfo(float).eps, maxiter=200))


def fixed_drift(alpha: float, beta: float, sided: int) -> float:
    """z_{1-alpha/sided} + z_{1-beta}: the drift of a single-look test with this alpha and power."""
    return float(-ndtri(alpha / sided) - ndtri(beta))


def normal_tail(z: float) -> float:
    return float(ndtr(-z))

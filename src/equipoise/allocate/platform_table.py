"""The adaptive platform's allocation rule: the next table of allocation probabilities from the posteriors.

For many trials at once (the simulation) or one (the trial's own adaptive analysis): the control's share is fixed
by the square-root rule sqrt(k)/(sqrt(k)+k) for k active experimental arms (or a fixed number); each active
experimental arm's raw share is P(best experimental arm)^power (Thompson's rule tempered towards equal allocation
by power < 1), and the shares are s_i = min(cap, max(floor, c * raw_i)) with the one scale c that fills what the
control leaves (water-filling, as ``equipoise.allocate.adaptive.bounded`` applies a published table: a table
made here is applied by the server unchanged). Fixed allocation shares by the arms' weights.

References
----------
Thall PF, Wathen JK. Practical Bayesian adaptive randomisation in clinical trials. *Eur J Cancer*
2007;43:859-866 (the tempering power).
Park JJH et al. Critical concepts in adaptive clinical trials (square-root control allocation, after Dunnett).
*Clin Epidemiol* 2018;10:343-351. Granholm A et al. adaptr. *JOSS* 2022;7:4284 (``control_prob_fixed = "sqrt"``).
Robertson DS et al. Response-adaptive randomization in clinical trials. *Stat Sci* 2023;38:185-208 (floors, caps).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from equipoise.protocol.adaptive_platform import Allocation, AllocationRule

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def control_share(n_experimental: NDArray[np.int64], control: str | float) -> FloatArray:
    """The control's probability for k active experimental arms: sqrt(k)/(sqrt(k)+k), or the fixed number."""
    k = np.maximum(np.asarray(n_experimental, dtype=float), 1.0)
    if control == "sqrt":
        return np.asarray(np.sqrt(k) / (np.sqrt(k) + k), dtype=float)
    return np.full(k.shape, float(control))


def water_fill(raw: FloatArray, active: BoolArray, mass: FloatArray, floor: float, cap: float) -> FloatArray:
    """Shares min(cap, max(floor, c raw)) of the active arms summing to ``mass`` per row (bisection on c).

    Rows whose bounds leave no room (floors or caps alone use up the mass) share it equally, as ``bounded``."""
    raw = np.where(active, np.maximum(raw, 0.0), 0.0)
    k = active.sum(axis=1)
    top = raw.max(axis=1, keepdims=True)
    rel = np.where(raw >= 1e-12 * np.maximum(top, 1e-300), raw / np.maximum(top, 1e-300), 0.0)
    equal = (floor * k >= mass - 1e-15) | (cap * k <= mass + 1e-15) | (top[:, 0] <= 0)
    lo = np.zeros(len(raw))
    positive_min = np.where(rel > 0, rel, np.inf).min(axis=1)
    hi = np.where(np.isfinite(positive_min), cap / np.where(np.isfinite(positive_min), positive_min, 1.0), 1.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        total = np.where(active, np.clip(mid[:, None] * rel, floor, cap), 0.0).sum(axis=1)
        below = total < mass
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    shares = np.where(active, np.clip(hi[:, None] * rel, floor, cap), 0.0)
    # the capped arms and the others' floors may leave mass over (every positive arm capped): the zero arms share it
    short = mass - shares.sum(axis=1)
    zero = active & (rel == 0)
    n_zero = zero.sum(axis=1)
    shares = np.where(zero & (n_zero > 0)[:, None] & (short > 1e-12)[:, None],
                      floor + short[:, None] / np.maximum(n_zero, 1)[:, None], shares)
    equal_shares = np.where(active, (mass / np.maximum(k, 1))[:, None], 0.0)
    return np.asarray(np.where(equal[:, None], equal_shares, shares), dtype=float)


def allocation_table(p_best: FloatArray, active: BoolArray, control: int, rule: Allocation,
                     weights: FloatArray | None = None) -> FloatArray:
    """Allocation probabilities (T, A) for the arms still randomized (``active``, the control included).

    ``p_best`` (T, A): each experimental arm's posterior probability of being the best experimental arm (the
    control's entry is ignored); ``weights`` (A,): the arms' fixed weights, for ``rule: fixed``."""
    p_best = np.atleast_2d(np.asarray(p_best, dtype=float))
    active = np.atleast_2d(np.asarray(active, dtype=bool))
    n_arms = p_best.shape[1]
    is_control = np.arange(n_arms) == control
    if rule.rule is AllocationRule.FIXED:
        w = np.ones(n_arms) if weights is None else np.asarray(weights, dtype=float)
        base = np.where(active, w[None, :], 0.0)
        return np.asarray(base / np.maximum(base.sum(axis=1, keepdims=True), 1e-300), dtype=float)
    experimental = active & ~is_control[None, :]
    k = experimental.sum(axis=1)
    c = np.where(active[:, control] & (k > 0), control_share(k, rule.control), 0.0)
    c = np.where(active[:, control] & (k == 0), 1.0, c)
    raw = np.power(np.maximum(p_best, 0.0), rule.power)
    shares = water_fill(raw, experimental, 1.0 - c, rule.floor, rule.cap)
    shares[:, control] = c
    return np.asarray(shares, dtype=float)

"""Boundary-crossing probabilities of a group-sequential test by recursive numerical integration.

Method: Jennison & Turnbull (2000), *Group Sequential Methods with Applications to Clinical Trials*,
chapter 19 ("Numerical computations for group sequential tests"), sections 19.2-19.3. The standardised
statistics Z_1..Z_K have the canonical joint distribution (J&T section 3.1): Z_k ~ N(theta*sqrt(t_k), 1) and
Cov(Z_j, Z_k) = sqrt(t_j / t_k) for j <= k, where t_k is the information fraction at look k and theta the
drift (the expected Z at full information). The sub-density of Z_k on the continuation region is carried from
look to look on a quadrature grid (J&T eq. 19.4); the probability of leaving the region at look k is one more
integral against the normal tail (J&T eq. 19.5 and 19.6).

Two quadrature rules are available (``Quadrature``):

- ``"gl"`` (default): composite Gauss-Legendre, 8 nodes per panel, panels no wider than 1 nor than twice
  the narrowest kernel the grid must resolve (sqrt of the information increment relative to t_k), on the
  continuation interval cut to mean +- 8.5. Boundaries agree to 1e-11 with a 20-node, 0.05-wide reference
  grid and with exact bivariate-normal (TVPACK) computations, also where one look follows another closely.
- ``"jt"``: J&T's grid of section 19.2.1 (6r - 1 points concentrated around the mean, trimmed to the interval,
  Simpson's rule on the midpoints; r = 18 in gsDesign). With r = 40 boundaries are within about 1e-7 of the
  Gauss-Legendre ones, but the error grows when looks are very close together (7e-7 for rates 0.505, 0.51).

Everything is vectorised with numpy: one n x m kernel evaluation per look.

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, ch. 19, sections 19.2-19.3.
Armitage P, McPherson CK, Rowe BC (1969). Repeated significance tests on accumulating data. J R Stat Soc A
132:235-244 (the recursive integration).
Davis PJ, Rabinowitz P (1984). Methods of Numerical Integration, 2nd ed. Academic Press (Gauss-Legendre rules).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

FloatArray = NDArray[np.float64]

INV_SQRT_2PI = 0.3989422804014327
TAIL = 8.5  # the sub-density of Z_k is below phi(8.5) ~ 1e-16 of its peak beyond mean +- 8.5

Interval = tuple[float, float]


def jt_grid(lower: float, upper: float, mean: float, r: int = 18) -> tuple[FloatArray, FloatArray]:
    """Nodes and Simpson weights on ``[lower, upper]`` for a density centred near ``mean`` (J&T 19.2.1).

    Odd points x_i = mean - 3 - 4 log(r/i) (i < r), mean - 3 + 3(i - r)/(2r) (r <= i <= 5r),
    mean + 3 + 4 log(r/(6r - i)) (i > 5r); points outside the interval are replaced by its ends, then
    midpoints are added and Simpson's rule gives the weights. The ends may be infinite.
    """
    i = np.arange(1, 6 * r)
    x = np.empty(6 * r - 1)
    low = i < r
    mid = (i >= r) & (i <= 5 * r)
    high = i > 5 * r
    x[low] = mean - 3.0 - 4.0 * np.log(r / i[low])
    x[mid] = mean - 3.0 + 3.0 * (i[mid] - r) / (2.0 * r)
    x[high] = mean + 3.0 + 4.0 * np.log(r / (6.0 * r - i[high]))
    inside = x[(x > lower) & (x < upper)]
    lo = max(lower, x[0])
    hi = min(upper, x[-1])
    if hi <= lo:
        return np.empty(0), np.empty(0)
    odd = np.concatenate(([lo], inside, [hi]))
    odd = odd[np.concatenate(([True], np.diff(odd) > 0))]
    if odd.size < 2:
        return np.empty(0), np.empty(0)
    nodes = np.empty(2 * odd.size - 1)
    nodes[0::2] = odd
    nodes[1::2] = 0.5 * (odd[:-1] + odd[1:])
    widths = np.diff(odd)
    weights = np.zeros_like(nodes)
    weights[0:-1:2] += widths / 6.0
    weights[2::2] += widths / 6.0
    weights[1::2] = 4.0 * widths / 6.0
    return nodes, weights


_GL_CACHE: dict[int, tuple[FloatArray, FloatArray]] = {}


def gauss_legendre_grid(lower: float, upper: float, mean: float, width: float,
                        order: int = 8) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on ``[lower, upper]`` cut to ``mean +- TAIL``, with equal
    panels no wider than ``width``."""
    lo = max(lower, mean - TAIL)
    hi = min(upper, mean + TAIL)
    if not hi > lo:
        return np.empty(0), np.empty(0)
    if order not in _GL_CACHE:
        _GL_CACHE[order] = np.polynomial.legendre.leggauss(order)
    x, w = _GL_CACHE[order]
    panels = max(1, int(np.ceil((hi - lo) / width - 1e-9)))
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)
    centre = 0.5 * (edges[:-1] + edges[1:])
    return (centre[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


@dataclass(frozen=True)
class Quadrature:
    """How each look's continuation region is discretised (see the module docstring)."""

    kind: Literal["gl", "jt"] = "gl"
    r: int = 40
    order: int = 8
    max_width: float = 1.0

    def grid(self, lower: float, upper: float, mean: float, scale: float) -> tuple[FloatArray, FloatArray]:
        if self.kind == "jt":
            return jt_grid(lower, upper, mean, self.r)
        width = min(self.max_width, max(0.02, 2.0 * scale))
        return gauss_legendre_grid(lower, upper, mean, width, self.order)

    def describe(self) -> str:
        if self.kind == "jt":
            return f"J&T grid (section 19.2.1), r={self.r}, Simpson's rule"
        return f"composite Gauss-Legendre, {self.order} nodes per panel of width <= {self.max_width:g}"


DEFAULT_QUADRATURE = Quadrature()


def resolution(t: float, t_prev: float, t_next: float | None) -> float:
    """The narrowest length scale (on the z scale at look k) the look-k grid must resolve: the kernel from
    the previous look, sqrt((t_k - t_{k-1})/t_k), and the one to the next, sqrt((t_{k+1} - t_k)/t_k)."""
    own = np.sqrt((t - t_prev) / t)
    if t_next is None:
        return float(own)
    return float(min(own, np.sqrt((t_next - t) / t)))


@dataclass(frozen=True)
class StageDensity:
    """The sub-density of Z_k on the continuation region at look k, as quadrature nodes and masses.

    ``mass[i]`` is the Simpson weight times the sub-density at ``nodes[i]``, so ``mass.sum()`` is the
    probability of continuing past look k.
    """

    nodes: FloatArray
    mass: FloatArray
    t: float


def _grid_on(intervals: Sequence[Interval], mean: float, q: Quadrature,
             scale: float) -> tuple[FloatArray, FloatArray]:
    parts = [q.grid(a, b, mean, scale) for a, b in intervals if b > a]
    if not parts:
        return np.empty(0), np.empty(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def first_stage(intervals: Sequence[Interval], t1: float, drift: float, q: Quadrature = DEFAULT_QUADRATURE,
                t_next: float | None = None) -> StageDensity:
    """Density of Z_1 ~ N(drift*sqrt(t1), 1) restricted to the continuation intervals of look 1."""
    mean = drift * np.sqrt(t1)
    nodes, weights = _grid_on(intervals, mean, q, resolution(t1, 0.0, t_next))
    d = nodes - mean
    return StageDensity(nodes, weights * INV_SQRT_2PI * np.exp(-0.5 * d * d), t1)


def advance(prev: StageDensity, intervals: Sequence[Interval], t: float, drift: float,
            q: Quadrature = DEFAULT_QUADRATURE, t_next: float | None = None) -> StageDensity:
    """Carry the sub-density from look k-1 to look k (J&T eq. 19.4) on the continuation intervals of look k.

    Given Z_{k-1} = x, Z_k*sqrt(t_k) = x*sqrt(t_{k-1}) + N(drift*(t_k - t_{k-1}), t_k - t_{k-1}).
    """
    delta = t - prev.t
    mean = drift * np.sqrt(t)
    nodes, weights = _grid_on(intervals, mean, q, resolution(t, prev.t, t_next))
    if nodes.size == 0 or prev.nodes.size == 0:
        return StageDensity(nodes, np.zeros_like(nodes), t)
    sd = np.sqrt(delta)
    scale = np.sqrt(t) / sd
    shift = (prev.nodes * np.sqrt(prev.t) + drift * delta) / sd
    u = nodes[:, None] * scale - shift[None, :]
    np.multiply(u, u, out=u)
    u *= -0.5
    np.exp(u, out=u)
    density = (u @ prev.mass) * (INV_SQRT_2PI * scale)
    return StageDensity(nodes, weights * density, t)


def exit_above(prev: StageDensity | None, bound: float | FloatArray, t: float, drift: float) -> FloatArray:
    """P(continue to look k and Z_k >= bound) for look k at information ``t`` (J&T eq. 19.5).

    ``prev`` is the density at look k-1, or ``None`` at the first look. ``bound`` may be an array of
    candidate bounds (for root finding); the result has its shape.
    """
    b = np.asarray(bound, dtype=float)
    if prev is None:
        return np.asarray(ndtr(drift * np.sqrt(t) - b))
    delta = t - prev.t
    sd = np.sqrt(delta)
    shift = (prev.nodes * np.sqrt(prev.t) + drift * delta) / sd
    arg = shift[None, :] - (b.reshape(-1, 1) * np.sqrt(t) / sd)
    return np.asarray((ndtr(arg) @ prev.mass).reshape(b.shape))


def exit_below(prev: StageDensity | None, bound: float | FloatArray, t: float, drift: float) -> FloatArray:
    """P(continue to look k and Z_k <= bound) (J&T eq. 19.6)."""
    b = np.asarray(bound, dtype=float)
    if prev is None:
        return np.asarray(ndtr(b - drift * np.sqrt(t)))
    delta = t - prev.t
    sd = np.sqrt(delta)
    shift = (prev.nodes * np.sqrt(prev.t) + drift * delta) / sd
    arg = (b.reshape(-1, 1) * np.sqrt(t) / sd) - shift[None, :]
    return np.asarray((ndtr(arg) @ prev.mass).reshape(b.shape))


def regions_probabilities(
    regions: Sequence[Sequence[Interval]],
    information_rates: FloatArray,
    drift: float,
    q: Quadrature = DEFAULT_QUADRATURE,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Exit probabilities for a general continuation region per look (a union of intervals).

    Returns per look: P(exit above the region's top), P(exit below the region's bottom) and P(exit through a
    gap inside the region) (two-sided futility, where the test stops when |Z| is small). The region of the
    last look is used only for these exits; nobody continues after it.
    """
    k_max = len(regions)
    above = np.zeros(k_max)
    below = np.zeros(k_max)
    inner = np.zeros(k_max)
    prev: StageDensity | None = None
    for k in range(k_max):
        t = float(information_rates[k])
        region = sorted(regions[k])
        top = region[-1][1]
        bottom = region[0][0]
        above[k] = float(exit_above(prev, top, t, drift)) if np.isfinite(top) else 0.0
        below[k] = float(exit_below(prev, bottom, t, drift)) if np.isfinite(bottom) else 0.0
        for (_, b1), (a2, _) in itertools.pairwise(region):
            inner[k] += float(exit_below(prev, a2, t, drift) - exit_below(prev, b1, t, drift))
        if k < k_max - 1:
            t_next = float(information_rates[k + 1])
            prev = (first_stage(region, t, drift, q, t_next) if prev is None
                    else advance(prev, region, t, drift, q, t_next))
    return above, below, inner


def crossing_probabilities(
    upper: Sequence[float] | FloatArray,
    lower: Sequence[float] | FloatArray | None,
    information_rates: Sequence[float] | FloatArray,
    drift: float,
    q: Quadrature = DEFAULT_QUADRATURE,
) -> tuple[FloatArray, FloatArray]:
    """Per-look probabilities of first crossing the upper and the lower boundary.

    Z_k ~ N(drift*sqrt(t_k), 1) with the canonical joint distribution (J&T section 3.1); the test continues
    while lower_k < Z_k < upper_k. ``lower=None`` means no lower boundary. For a symmetric two-sided design
    pass ``lower = -upper``. Entries of ``upper`` may be ``inf`` and of ``lower`` ``-inf`` (no stopping on
    that side at that look).

    Returns ``(p_upper, p_lower)``, each of length K; ``p_upper.sum()`` is the power (or the type I error at
    drift 0) of rejecting through the upper boundary.

    References
    ----------
    Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials.
    Chapman & Hall/CRC, sections 19.2-19.3. Armitage P, McPherson CK, Rowe BC (1969). J R Stat Soc A 132:235-244.
    """
    up = np.asarray(upper, dtype=float)
    t = np.asarray(information_rates, dtype=float)
    low = np.full_like(up, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    if not (up.shape == low.shape == t.shape) or up.ndim != 1:
        raise ValueError("upper, lower and information_rates must be vectors of the same length")
    regions = [[(float(a), float(b))] for a, b in zip(low, up, strict=True)]
    above, below, _ = regions_probabilities(regions, t, drift, q)
    return above, below

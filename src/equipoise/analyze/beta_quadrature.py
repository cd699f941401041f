"""Posterior probabilities of independent Beta posteriors by quadrature on a grid shared by a trial's arms.

P(arm a best) = integral f_a(x) prod_{b != a} S_b(x) dx (lower rate best unless ``highest_is_best``); P(all active
arms within d of each other) = sum_a integral f_a(x) prod_{b != a} [F_b(x + d) - F_b(x)] dx; P(arm better than a
reference by a margin) = integral f_ref(y) F_arm(y - margin) dy. The grid covers every active arm's posterior
(mean +- 9 SD) with GRID points (trapezoid rule); it vectorises over trials, arms and grid points at once, which
removes the Monte Carlo error of posterior draws (adaptr draws 5000 per arm).

References
----------
Granholm A et al. adaptr. *JOSS* 2022;7:4284 (the probabilities its rules read).
Cook JD. Exact calculation of beta inequalities. UT MD Anderson Biostatistics technical report 2005 (the
closed form the tests compare with, ``tests/reference/platform_posteriors.R``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

FloatArray = NDArray[np.float64]
GRID = 160  # grid points across the posterior mass of one trial's active arms (trapezoid rule)


def _grid(a: FloatArray, b: FloatArray, active: NDArray[np.bool_], extra: float) -> tuple[FloatArray, float]:
    """Per trial, a uniform grid (trials, G) covering every active arm's posterior (mean +- 9 SD) plus ``extra``."""
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    lo = np.where(active, mean - 9 * sd, np.inf).min(axis=1)
    hi = np.where(active, mean + 9 * sd, -np.inf).max(axis=1)
    lo = np.clip(lo, 0.0, 1.0)
    hi = np.clip(hi + extra, 0.0, 1.0)
    steps = np.linspace(0.0, 1.0, GRID)
    x = lo[:, None] + (hi - lo)[:, None] * steps[None, :]
    return x, 1.0 / (GRID - 1)


def _pdf_cdf(a: FloatArray, b: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Beta densities and CDFs of every arm on each trial's grid: (trials, arms, G); CDF by the trapezoid rule.

    Written with in-place operations (fewer temporary arrays); every floating-point operation and its order are
    those of the plain expression ``exp(logc + (a - 1) log x + (b - 1) log(1 - x))``, so the values are
    bit-identical to it."""
    xx = np.clip(x[:, None, :], 1e-300, 1 - 1e-16)
    logc = gammaln(a + b) - gammaln(a) - gammaln(b)
    pdf = (a[..., None] - 1) * np.log(xx)
    np.add(logc[..., None], pdf, out=pdf)
    pdf += (b[..., None] - 1) * np.log1p(-xx)
    np.exp(pdf, out=pdf)
    width = (x[:, -1] - x[:, 0])[:, None, None] / (x.shape[1] - 1)
    cdf = np.empty_like(pdf)
    cdf[..., 0] = 0.0
    steps = cdf[..., 1:]
    np.add(pdf[..., 1:], pdf[..., :-1], out=steps)
    steps /= 2
    np.cumsum(steps, axis=2, out=steps)
    cdf *= width
    # mass outside the grid is below 1e-15 (9 SD); renormalise the discretisation error away
    total = np.maximum(cdf[..., -1:], 1e-300)
    pdf /= total
    cdf /= total
    return pdf, cdf


def _gather(values: FloatArray, index: NDArray[np.int64]) -> FloatArray:
    """``values[t, arm, index[t, g]]`` for every arm, as a (T, G, A) array (row gathers of the transposed view,
    faster than one three-index fancy gather; the same values)."""
    rows = np.arange(values.shape[0])[:, None]
    return np.asarray(values.transpose(0, 2, 1)[rows, index], dtype=float)


def prob_best(a: FloatArray, b: FloatArray, active: NDArray[np.bool_], highest_is_best: bool,
              grid: tuple[FloatArray, FloatArray, FloatArray] | None = None) -> FloatArray:
    """P(each active arm has the best rate) under independent Beta(a, b) posteriors; 0 for inactive arms.

    ``grid`` = (x, pdf, cdf) from ``posterior_grid`` lets several probabilities share one evaluation."""
    x, pdf, cdf = grid if grid is not None else posterior_grid(a, b, active, 0.0)
    logbeat = cdf.copy() if highest_is_best else np.subtract(1.0, cdf)  # P(other arm worse than x)
    np.copyto(logbeat, 1.0, where=~active[..., None])
    np.maximum(logbeat, 1e-300, out=logbeat)
    np.log(logbeat, out=logbeat)
    total = logbeat.sum(axis=1, keepdims=True)
    integrand = np.subtract(total, logbeat, out=logbeat)
    np.exp(integrand, out=integrand)  # prod over the other arms
    integrand *= pdf
    width = (x[:, -1] - x[:, 0])[:, None]
    p = (integrand[..., 1:] + integrand[..., :-1]).sum(axis=2) / 2 * width / (x.shape[1] - 1)
    p = np.where(active, p, 0.0)
    return np.asarray(p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), dtype=float)


def posterior_grid(a: FloatArray, b: FloatArray, active: NDArray[np.bool_],
                   extra: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, _ = _grid(a, b, active, extra)
    pdf, cdf = _pdf_cdf(a, b, x)
    return x, pdf, cdf


def prob_within(a: FloatArray, b: FloatArray, active: NDArray[np.bool_], diff: float,
                grid: tuple[FloatArray, FloatArray, FloatArray] | None = None) -> FloatArray:
    """P(max - min of the active arms' rates < diff) per trial (``grid`` must extend ``diff`` beyond the arms)."""
    x, pdf, cdf = grid if grid is not None else posterior_grid(a, b, active, diff)
    xs = x + diff
    # F_b(x + d): the grid is uniform, so interpolate on the index scale
    pos = (xs - x[:, :1]) / np.maximum(x[:, -1:] - x[:, :1], 1e-300) * (x.shape[1] - 1)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, x.shape[1] - 1)
    i1 = np.clip(i0 + 1, 0, x.shape[1] - 1)
    w = np.clip(pos - i0, 0.0, 1.0)
    up = _gather(cdf, i0) * (1 - w[:, :, None]) + _gather(cdf, i1) * w[:, :, None]  # (T, G, A)
    np.copyto(up, 1.0, where=(pos >= x.shape[1] - 1)[:, :, None])
    band = np.subtract(up.transpose(0, 2, 1), cdf, out=np.empty_like(cdf))  # C-ordered (T, A, G) for the sums
    np.clip(band, 0.0, 1.0, out=band)
    np.copyto(band, 1.0, where=~active[..., None])
    np.maximum(band, 1e-300, out=band)
    np.log(band, out=band)
    total = band.sum(axis=1, keepdims=True)
    terms = np.subtract(total, band, out=band)
    np.exp(terms, out=terms)  # prod over the other arms
    terms *= pdf
    np.copyto(terms, 0.0, where=~active[..., None])
    integrand = terms.sum(axis=1)
    width = (x[:, -1] - x[:, 0]) / (x.shape[1] - 1)
    return np.asarray((integrand[:, 1:] + integrand[:, :-1]).sum(axis=1) / 2 * width)


def prob_better_than(a: FloatArray, b: FloatArray, ref: NDArray[np.int64], margin: float,
                     highest_is_best: bool) -> FloatArray:
    """P(rate_arm better than rate_ref by more than ``margin``) for every arm, per trial."""
    rows = np.arange(a.shape[0])
    ra, rb = a[rows, ref], b[rows, ref]
    active = np.ones(a.shape, dtype=bool)
    x, _ = _grid(a, b, active, margin)
    _, cdf = _pdf_cdf(a, b, x)
    ref_pdf, _ = _pdf_cdf(ra[:, None], rb[:, None], x)
    # P(arm better than ref by margin) = integral f_ref(y) P(arm < y - margin) dy (lower best)
    shift = -margin if not highest_is_best else margin
    pos = (x + shift - x[:, :1]) / np.maximum(x[:, -1:] - x[:, :1], 1e-300) * (x.shape[1] - 1)
    pos = np.clip(pos, 0, x.shape[1] - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.clip(i0 + 1, 0, x.shape[1] - 1)
    w = pos - i0
    cdf_s = np.ascontiguousarray((_gather(cdf, i0) * (1 - w[:, :, None]) + _gather(cdf, i1) * w[:, :, None])
                                 .transpose(0, 2, 1))
    better = cdf_s if not highest_is_best else 1.0 - cdf_s
    integrand = ref_pdf * better
    width = ((x[:, -1] - x[:, 0]) / (x.shape[1] - 1))[:, None]
    return np.asarray((integrand[..., 1:] + integrand[..., :-1]).sum(axis=2) / 2 * width)

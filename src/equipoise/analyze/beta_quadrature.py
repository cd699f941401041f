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
    """Beta densities and CDFs of every arm on each trial's grid: (trials, arms, G); CDF by the trapezoid rule."""
    xx = np.clip(x[:, None, :], 1e-300, 1 - 1e-16)
    logc = gammaln(a + b) - gammaln(a) - gammaln(b)
    pdf = np.exp(logc[..., None] + (a[..., None] - 1) * np.log(xx) + (b[..., None] - 1) * np.log1p(-xx))
    width = (x[:, -1] - x[:, 0])[:, None, None] / (x.shape[1] - 1)
    cdf = np.concatenate([np.zeros((*pdf.shape[:2], 1)), np.cumsum((pdf[..., 1:] + pdf[..., :-1]) / 2, axis=2)],
                         axis=2) * width
    # mass outside the grid is below 1e-15 (9 SD); renormalise the discretisation error away
    total = np.maximum(cdf[..., -1:], 1e-300)
    return pdf / total, cdf / total


def prob_best(a: FloatArray, b: FloatArray, active: NDArray[np.bool_], highest_is_best: bool,
              grid: tuple[FloatArray, FloatArray, FloatArray] | None = None) -> FloatArray:
    """P(each active arm has the best rate) under independent Beta(a, b) posteriors; 0 for inactive arms.

    ``grid`` = (x, pdf, cdf) from ``posterior_grid`` lets several probabilities share one evaluation."""
    x, pdf, cdf = grid if grid is not None else posterior_grid(a, b, active, 0.0)
    beat = cdf if highest_is_best else 1.0 - cdf  # P(other arm worse than x)
    beat = np.where(active[..., None], beat, 1.0)
    logbeat = np.log(np.maximum(beat, 1e-300))
    others = np.exp(logbeat.sum(axis=1, keepdims=True) - logbeat)
    width = (x[:, -1] - x[:, 0])[:, None]
    integrand = pdf * others
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
    rows = np.arange(x.shape[0])[:, None, None]
    arms = np.arange(a.shape[1])[None, :, None]
    up = cdf[rows, arms, i0[:, None, :]] * (1 - w[:, None, :]) + cdf[rows, arms, i1[:, None, :]] * w[:, None, :]
    up = np.where(pos[:, None, :] >= x.shape[1] - 1, 1.0, up)
    band = np.where(active[..., None], np.clip(up - cdf, 0.0, 1.0), 1.0)
    logband = np.log(np.maximum(band, 1e-300))
    others = np.exp(logband.sum(axis=1, keepdims=True) - logband)
    integrand = np.where(active[..., None], pdf * others, 0.0).sum(axis=1)
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
    arms = np.arange(a.shape[1])[None, :, None]
    cdf_s = cdf[rows[:, None, None], arms, i0[:, None, :]] * (1 - w[:, None, :]) \
        + cdf[rows[:, None, None], arms, i1[:, None, :]] * w[:, None, :]
    better = cdf_s if not highest_is_best else 1.0 - cdf_s
    integrand = ref_pdf * better
    width = ((x[:, -1] - x[:, 0]) / (x.shape[1] - 1))[:, None]
    return np.asarray((integrand[..., 1:] + integrand[..., :-1]).sum(axis=2) / 2 * width)

"""The speed-ups of the Beta quadrature change no value: each trial's probabilities are the same computed alone,
in blocks, or with all trials at once (the engines rely on it to be bit-identical for any chunking)."""

from __future__ import annotations

import numpy as np

from equipoise.analyze.beta_quadrature import posterior_grid, prob_best, prob_better_than, prob_within
from equipoise.analyze.platform_posteriors import BLOCK, binary_posteriors
from equipoise.protocol.adaptive_platform import BetaPrior

RNG = np.random.default_rng(19)
N = RNG.integers(20, 400, (2 * BLOCK + 7, 4)).astype(float)
Y = RNG.binomial(N.astype(int), 0.3).astype(float)
A, B = 1 + Y, 1 + N - Y
ACTIVE = RNG.random(N.shape) < 0.85


def test_each_trial_alone_equals_all_at_once():
    grid = posterior_grid(A, B, ACTIVE, 0.05)
    best = prob_best(A, B, ACTIVE, False, grid)
    within = prob_within(A, B, ACTIVE, 0.05, grid)
    better = prob_better_than(A, B, np.zeros(len(A), dtype=np.int64), 0.02, True)
    for t in (0, 5, BLOCK, len(A) - 1):
        r = slice(t, t + 1)
        g = posterior_grid(A[r], B[r], ACTIVE[r], 0.05)
        assert np.array_equal(prob_best(A[r], B[r], ACTIVE[r], False, g), best[r])
        assert np.array_equal(prob_within(A[r], B[r], ACTIVE[r], 0.05, g), within[r])
        assert np.array_equal(prob_better_than(A[r], B[r], np.zeros(1, dtype=np.int64), 0.02, True), better[r])


def test_binary_posteriors_in_blocks_equal_one_block():
    prior = BetaPrior(alpha=1, beta=1)
    whole = binary_posteriors(Y, N, 0, ACTIVE, prior, True, 0.03, 0.05)
    assert whole.p_better.shape == N.shape
    for start in (0, BLOCK, 2 * BLOCK):
        r = slice(start, start + BLOCK)
        part = binary_posteriors(Y[r], N[r], 0, ACTIVE[r], prior, True, 0.03, 0.05)
        for name in ("p_better", "p_better_margin", "p_equivalent", "p_best", "estimate", "estimate_sd"):
            assert np.array_equal(getattr(part, name), getattr(whole, name)[r]), name
    assert binary_posteriors(Y, N, 0, ACTIVE, prior, True).p_equivalent is None

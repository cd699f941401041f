"""Posterior probabilities each arm's decision rules read, and the decisions, at an adaptive analysis.

Vectorised over trials (T) and arms (A, the control at index ``control``), so the simulation and the trial's own
analysis apply exactly the same functions. Binary outcomes: independent Beta posteriors by quadrature
(``equipoise.analyze.beta_quadrature``). Ordinal outcomes: the Bayesian proportional-odds model by the Laplace
approximation (``equipoise.analyze.po_laplace``); the probabilities against the control are then normal
probabilities of the arm's log odds ratio, and P(best experimental arm) is estimated from draws of the
approximate joint normal posterior (the arms share the control and the cut points, so they are correlated).

References
----------
Granholm A et al. adaptr. *JOSS* 2022;7:4284 (the rules: superiority/inferiority against a common control,
futility and equivalence with a margin). Angus DC et al. REMAP-CAP. *Ann Am Thorac Soc* 2020;17:879-891.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from equipoise.analyze.beta_quadrature import prob_best, prob_better_than
from equipoise.analyze.po_laplace import fit_proportional_odds
from equipoise.protocol.adaptive_platform import BetaPrior, DecisionRules

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
BLOCK = 128  # trials per quadrature call (see binary_posteriors)
BEST_DRAWS = 2000  # normal draws for P(best) under the ordinal model (Monte Carlo SE <= 0.011)


class Decision(IntEnum):
    CONTINUE = 0
    SUPERIORITY = 1
    INFERIORITY = 2
    FUTILITY = 3
    EQUIVALENCE = 4


@dataclass(frozen=True)
class ArmPosteriors:
    """(T, A) arrays; the control's entries are 0 except ``estimate``'s control rate (binary)."""

    p_better: FloatArray  # P(arm better than control)
    p_better_margin: FloatArray | None  # P(better by more than the futility margin)
    p_equivalent: FloatArray | None  # P(difference within the equivalence margin)
    p_best: FloatArray  # P(best of the active experimental arms)
    estimate: FloatArray  # binary: posterior mean rate; ordinal: posterior mode of the log odds ratio vs control
    estimate_sd: FloatArray


def binary_posteriors(events: FloatArray, n: FloatArray, control: int, active: BoolArray, prior: BetaPrior,
                      lower_is_better: bool, futility_margin: float | None = None,
                      equivalence_margin: float | None = None) -> ArmPosteriors:
    """Beta-binomial posteriors of (T, A) event counts; ``active`` marks the experimental arms still randomized.

    Computed in blocks of ``BLOCK`` trials: each trial's values use only its own row, so they are bit-identical
    to one call on all trials, and the quadrature's (block, arms, grid) arrays stay in the processor's cache."""
    events, n, active = np.asarray(events, dtype=float), np.asarray(n, dtype=float), np.asarray(active, dtype=bool)
    if events.shape[0] <= BLOCK:
        return _binary_posteriors(events, n, control, active, prior, lower_is_better, futility_margin,
                                  equivalence_margin)
    parts = [_binary_posteriors(events[s:s + BLOCK], n[s:s + BLOCK], control, active[s:s + BLOCK], prior,
                                lower_is_better, futility_margin, equivalence_margin)
             for s in range(0, events.shape[0], BLOCK)]
    def stack(name: str) -> FloatArray:
        return np.concatenate([getattr(p, name) for p in parts])

    return ArmPosteriors(
        p_better=stack("p_better"), p_better_margin=None if futility_margin is None else stack("p_better_margin"),
        p_equivalent=None if equivalence_margin is None else stack("p_equivalent"), p_best=stack("p_best"),
        estimate=stack("estimate"), estimate_sd=stack("estimate_sd"))


def _binary_posteriors(events: FloatArray, n: FloatArray, control: int, active: BoolArray, prior: BetaPrior,
                       lower_is_better: bool, futility_margin: float | None,
                       equivalence_margin: float | None) -> ArmPosteriors:
    a = prior.alpha + np.asarray(events, dtype=float)
    b = prior.beta + np.asarray(n, dtype=float) - np.asarray(events, dtype=float)
    ref = np.full(a.shape[0], control, dtype=np.int64)
    not_control = np.arange(a.shape[1]) != control
    higher = not lower_is_better
    p_better = np.where(not_control, prob_better_than(a, b, ref, 0.0, higher), 0.0)
    p_margin = None if futility_margin is None else np.where(
        not_control, prob_better_than(a, b, ref, futility_margin, higher), 0.0)
    p_equiv = None
    if equivalence_margin is not None:
        above = prob_better_than(a, b, ref, equivalence_margin, True)
        below = prob_better_than(a, b, ref, equivalence_margin, False)
        p_equiv = np.where(not_control, np.clip(1.0 - above - below, 0.0, 1.0), 0.0)
    experimental = active & not_control[None, :]
    p_best = np.zeros(a.shape)
    some = experimental.any(axis=1)
    if some.any():
        p_best[some] = prob_best(a[some], b[some], experimental[some], higher)
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    return ArmPosteriors(p_better, p_margin, p_equiv, p_best, mean, sd)


def ordinal_posteriors(counts: FloatArray, control: int, active: BoolArray, log_or_sd: float, intercept_sd: float,
                       lower_is_better: bool, rng: np.random.Generator, futility_margin: float | None = None,
                       equivalence_margin: float | None = None) -> ArmPosteriors:
    """Proportional-odds posteriors of (T, A, K) counts; margins are odds ratios (>= 1)."""
    fit = fit_proportional_odds(counts, control, log_or_sd, intercept_sd)
    beta, sd = fit.beta, np.maximum(fit.beta_sd, 1e-300)
    not_control = np.arange(beta.shape[1]) != control
    sign = -1.0 if lower_is_better else 1.0  # better = beta below 0 when lower levels are better
    p_better = np.where(not_control, ndtr(sign * beta / sd), 0.0)
    p_margin = None if futility_margin is None else np.where(
        not_control, ndtr((sign * beta - np.log(futility_margin)) / sd), 0.0)
    p_equiv = None
    if equivalence_margin is not None:
        m = np.log(equivalence_margin)
        p_equiv = np.where(not_control, np.clip(ndtr((m - beta) / sd) - ndtr((-m - beta) / sd), 0.0, 1.0), 0.0)
    experimental = active & not_control[None, :]
    cov = fit.beta_cov() + np.eye(beta.shape[1]) * 1e-12
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((beta.shape[0], BEST_DRAWS, beta.shape[1]))
    draws = beta[:, None, :] + np.einsum("tij,tdj->tdi", chol, z)
    score = np.where(experimental[:, None, :], sign * draws, -np.inf)
    winner = score.argmax(axis=2)
    p_best = np.stack([(winner == j).mean(axis=1) for j in range(beta.shape[1])], axis=1)
    p_best = np.where(experimental, p_best, 0.0)
    return ArmPosteriors(p_better, p_margin, p_equiv, p_best, beta, fit.beta_sd)


def decide(post: ArmPosteriors, n_with_data: FloatArray, active: BoolArray, control: int,
           rules: DecisionRules) -> NDArray[np.int8]:
    """The decision for each active experimental arm (``Decision`` codes, (T, A)); superiority is checked first,
    then inferiority, futility and equivalence. No rule acts before the arm and the control each have
    ``min_patients_per_arm`` patients with outcome data."""
    n = np.asarray(n_with_data, dtype=float)
    enough = active & (n >= rules.min_patients_per_arm) & (n[:, [control]] >= rules.min_patients_per_arm)
    enough[:, control] = False
    out = np.zeros(n.shape, dtype=np.int8)
    undecided = enough.copy()

    def mark(hit: BoolArray, code: Decision) -> None:
        nonlocal undecided
        hit = hit & undecided
        out[hit] = code
        undecided = undecided & ~hit

    if rules.superiority is not None:
        mark(post.p_better > rules.superiority.probability, Decision.SUPERIORITY)
    if rules.inferiority is not None:
        mark(post.p_better < rules.inferiority.probability, Decision.INFERIORITY)
    if rules.futility is not None and post.p_better_margin is not None:
        mark(post.p_better_margin < rules.futility.probability, Decision.FUTILITY)
    if rules.equivalence is not None and post.p_equivalent is not None:
        mark(post.p_equivalent > rules.equivalence.probability, Decision.EQUIVALENCE)
    return out

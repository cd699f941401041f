"""Simulate a protocol's adaptive platform: the protocol's own model, analyses, allocation and decision rules run
on virtual patients, with accrual, outcome lag and arms entering by amendment date.

Each virtual trial: patients arrive as a Poisson process (``accrual_per_day``); a patient's outcome is known
``lag_days`` (the outcome's day) after randomization. Adaptive analyses happen when the protocol's schedule says
(every N patients with outcome data, or every N days), and a last one when every randomized patient's outcome is
known. At each analysis the posteriors of ``equipoise.analyze.platform_posteriors`` are computed from the data
then available, ``decide`` applies the rules, and ``equipoise.allocate.platform_table`` gives the next table.
Allocation follows the server (``ResponseAdaptiveScheme``): the arms' fixed weights until the first table, and
also while an arm that opened (by amendment date) is not yet in the table; from the next analysis the arm is
in it. Binary outcomes are Bernoulli(rate of the arm); ordinal outcomes follow proportional odds from the
control distribution (odds ratio of a higher level per arm).

Decisions act as the protocol says: ``drop-arm`` stops randomizing to the arm (a superior arm graduates),
``stop-platform`` stops the trial, ``promote-to-control`` makes the superior arm (the one most probably better,
if several) the control from this analysis on: the old control stops recruiting and the other arms are compared
with the new one (their P(best) of this analysis sets the next table). The platform also stops when no
experimental arm is left to randomize and none is still to open.

References
----------
Granholm A et al. adaptr. *JOSS* 2022;7:4284 (the simulation design: looks, lag as ``randomised_at_looks``,
arm dropping, RAR). Berry SM et al. *Bayesian adaptive methods for clinical trials*. CRC 2010, ch. 4-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from equipoise.allocate.platform_table import allocation_table
from equipoise.analyze.platform_posteriors import (
    ArmPosteriors,
    Decision,
    binary_posteriors,
    decide,
    ordinal_posteriors,
)
from equipoise.errors import UserError
from equipoise.protocol.adaptive_platform import Action, AdaptivePlatform, PlatformModel
from equipoise.simulate.engine import Records, rng_for

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AdaptivePlatformDesign:
    """Everything one simulated platform needs, read from the protocol (``design_from_protocol``)."""

    arms: tuple[str, ...]
    control: int
    weights: tuple[float, ...]
    entry_day: tuple[float, ...]  # day each arm opens (0: from the start)
    rules: AdaptivePlatform
    lower_is_better: bool
    lag_days: float
    accrual_per_day: float
    n_levels: int  # 2 for a binary outcome

    def __post_init__(self) -> None:
        if self.accrual_per_day <= 0:
            raise UserError(f"the accrual rate must be positive, not {self.accrual_per_day}")

    @property
    def ordinal(self) -> bool:
        return self.rules.model.type is PlatformModel.PROPORTIONAL_ODDS

    @property
    def max_n(self) -> int:
        return self.rules.analyses.max_patients

    @property
    def max_looks(self) -> int:
        """Analyses a trial can have: the schedule's, or for a calendar schedule enough for accrual 50% slower
        than expected (the last one is then forced to be the final analysis)."""
        every_days = self.rules.analyses.every_days
        if every_days is None:
            return len(data_looks(self))
        expected_days = 1.5 * self.max_n / self.accrual_per_day + self.lag_days
        return int(np.ceil(expected_days / every_days)) + 2


@dataclass(frozen=True)
class Scenario:
    """True outcome laws per arm: binary ``rates`` (one per arm), or ordinal ``control_distribution`` over the
    levels and ``odds_ratios`` (odds of a higher level against the control, one per arm, 1 for the control)."""

    name: str
    rates: tuple[float, ...] | None = None
    control_distribution: tuple[float, ...] | None = None
    odds_ratios: tuple[float, ...] | None = None

    def level_probabilities(self) -> FloatArray:
        """(A, K) probability of each level in each arm."""
        if self.rates is not None:
            r = np.asarray(self.rates, dtype=float)
            return np.stack([1 - r, r], axis=1)
        if self.control_distribution is None or self.odds_ratios is None:
            raise UserError("an ordinal scenario needs the control distribution and an odds ratio per arm")
        p0 = np.asarray(self.control_distribution, dtype=float)
        above = np.clip(1 - np.cumsum(p0)[:-1], 1e-12, 1 - 1e-12)
        shifted = expit(logit(above)[None, :] + np.log(np.asarray(self.odds_ratios, dtype=float))[:, None])
        cum_above = np.concatenate([np.ones((len(self.odds_ratios), 1)), shifted,
                                    np.zeros((len(self.odds_ratios), 1))], axis=1)
        return np.asarray(np.clip(cum_above[:, :-1] - cum_above[:, 1:], 0.0, 1.0), dtype=float)

    def true_effects(self, control: int) -> FloatArray:
        """Binary: the rate of each arm; ordinal: each arm's log odds ratio against the control."""
        if self.rates is not None:
            return np.asarray(self.rates, dtype=float)
        ors = np.asarray(self.odds_ratios, dtype=float)
        return np.asarray(np.log(ors / ors[control]), dtype=float)


def data_looks(design: AdaptivePlatformDesign) -> list[int]:
    """Patients with outcome data at each analysis of an every-N-patients schedule (the last: all patients)."""
    s = design.rules.analyses
    step = s.every_patients or 0
    first = s.first_at or step
    looks = list(range(first, design.max_n, step)) if step else []
    return [*looks, design.max_n]


@dataclass(frozen=True)
class PlatformTask:
    design: AdaptivePlatformDesign
    scenario: Scenario

    def __call__(self, n: int, seed: np.random.SeedSequence) -> Records:
        d = self.design
        rng = rng_for(seed)
        n_arms = len(d.arms)
        max_n = d.max_n
        levels = self.scenario.level_probabilities()
        cum_levels = np.cumsum(levels, axis=1)
        cum_levels[:, -1] = 1.0
        weights = np.asarray(d.weights, dtype=float)
        entry = np.asarray(d.entry_day, dtype=float)
        rules = d.rules
        decisions = rules.decisions
        margin_f = decisions.futility.margin if decisions.futility is not None else None
        margin_e = decisions.equivalence.margin if decisions.equivalence is not None else None
        actions = {Decision.SUPERIORITY: decisions.superiority, Decision.INFERIORITY: decisions.inferiority,
                   Decision.FUTILITY: decisions.futility, Decision.EQUIVALENCE: decisions.equivalence}

        arrival = np.cumsum(rng.exponential(1.0 / d.accrual_per_day, (n, max_n)), axis=1)
        u_arm = rng.random((n, max_n))
        u_outcome = rng.random((n, max_n))
        arm_of = np.full((n, max_n), -1, dtype=np.int64)
        level_of = np.zeros((n, max_n), dtype=np.int64)
        counts = np.zeros((n, n_arms, d.n_levels))  # outcome data by arm and level
        n_data = np.zeros(n, dtype=np.int64)
        n_rand = np.zeros(n, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        # an arm is "open" from its entry day until a decision closes it; "tabled" once an analysis included it
        closed = np.zeros((n, n_arms), dtype=bool)
        tabled = np.zeros((n, n_arms), dtype=bool)
        table = np.zeros((n, n_arms))
        has_table = np.zeros(n, dtype=bool)
        decision = np.zeros((n, n_arms), dtype=np.int8)
        decision_look = np.full((n, n_arms), -1, dtype=np.int16)
        stop_look = np.zeros(n, dtype=np.int16)
        duration = np.zeros(n)
        estimate = np.full((n, n_arms), np.nan)
        control = np.full(n, d.control, dtype=np.int64)
        max_looks = d.max_looks
        alloc_history = np.full((n, max_looks, n_arms), np.nan, dtype=np.float32)
        look_day = np.full((n, max_looks), np.nan, dtype=np.float32)

        def randomise(upto: NDArray[np.int64]) -> None:
            """Randomize every patient up to ``upto`` (per trial) by the allocation in force at arrival."""
            rows = np.nonzero(upto > n_rand)[0]  # only the trials with patients to randomize, only their columns
            if len(rows) == 0:
                return
            lo, hi = int(n_rand[rows].min()), int(upto[rows].max())
            cols = np.arange(lo, hi)
            todo = (cols[None, :] >= n_rand[rows, None]) & (cols[None, :] < upto[rows, None])
            t = arrival[rows, lo:hi]
            shut = closed[rows]
            open_now = (entry[None, None, :] <= t[..., None]) & ~shut[:, None, :]
            untabled = (open_now & ~tabled[rows, None, :]).any(axis=2) | ~has_table[rows, None]
            fixed = np.where(open_now, weights[None, None, :], 0.0)
            probs = np.where(untabled[..., None], fixed, np.where(open_now, table[rows, None, :], 0.0))
            cum = np.cumsum(probs, axis=2)
            cum = cum / np.maximum(cum[..., -1:], 1e-300)
            arms = (u_arm[rows, lo:hi, None] > cum).sum(axis=2)
            arms = np.minimum(arms, n_arms - 1)
            arm_of[rows, lo:hi] = np.where(todo, arms, arm_of[rows, lo:hi])
            lev = (u_outcome[rows, lo:hi, None] > cum_levels[arms]).sum(axis=2)
            level_of[rows, lo:hi] = np.where(todo, lev, level_of[rows, lo:hi])
            n_rand[:] = np.maximum(n_rand, upto)

        look = 0
        every_days = rules.analyses.every_days
        patient_looks = data_looks(d)
        while alive.any() and look < max_looks:
            # when this analysis happens and how many patients it has data on
            if every_days is None:
                m = np.full(n, patient_looks[min(look, len(patient_looks) - 1)], dtype=np.int64)
                when = arrival[:, m[0] - 1] + d.lag_days
            else:
                when = np.full(n, every_days * (look + 1), dtype=float)
                m = (arrival + d.lag_days <= when[:, None]).sum(axis=1)
                last = arrival[:, -1] + d.lag_days
                is_last = (when >= last) | (look == max_looks - 1)
                m = np.where(is_last, max_n, m)
                when = np.where(is_last, last, when)
            final = m >= max_n
            randomised = np.minimum((arrival <= when[:, None]).sum(axis=1), max_n)
            randomised = np.maximum(randomised, m)
            randomise(np.where(alive, randomised, n_rand))
            # outcome data of the patients whose outcome is now known
            # (integer counts by trial, arm and level: a bincount over the new columns only, exact)
            lo, hi = int(n_data[alive].min()), int(m[alive].max())
            if hi > lo:
                cols = np.arange(lo, hi)
                new = alive[:, None] & (cols[None, :] >= n_data[:, None]) & (cols[None, :] < m[:, None])
                trial, col = np.nonzero(new)
                cell = (trial * n_arms + arm_of[trial, col + lo]) * d.n_levels + level_of[trial, col + lo]
                counts += np.bincount(cell, minlength=counts.size).reshape(counts.shape)
            n_data[:] = np.where(alive, m, n_data)
            idx = np.nonzero(alive)[0]
            ctrl = control[idx]
            is_ctrl = np.arange(n_arms)[None, :] == ctrl[:, None]
            active = (entry[None, :] <= when[idx, None]) & ~closed[idx]
            experimental = active & ~is_ctrl
            codes = np.zeros((len(idx), n_arms), dtype=np.int8)
            p_best = np.zeros((len(idx), n_arms))
            p_better = np.zeros((len(idx), n_arms))
            for c in np.unique(ctrl):  # trials grouped by their control in force (promotion changes it)
                rows = ctrl == c
                post = self._posteriors(counts[idx[rows]], experimental[rows], int(c), rng, margin_f, margin_e)
                codes[rows] = decide(post, counts[idx[rows]].sum(axis=2), experimental[rows], int(c), decisions)
                p_best[rows] = post.p_best
                p_better[rows] = post.p_better
                estimate[idx[rows]] = post.estimate
            stop = np.zeros(len(idx), dtype=bool)
            promote = np.zeros((len(idx), n_arms), dtype=bool)
            for code, rule in actions.items():
                if rule is None:
                    continue
                hit = codes == code
                if rule.action is Action.STOP_PLATFORM:
                    stop |= hit.any(axis=1)
                elif rule.action is Action.PROMOTE_TO_CONTROL:
                    promote |= hit
            decided = codes != Decision.CONTINUE
            decision[idx] = np.where(decided, codes, decision[idx])
            decision_look[idx] = np.where(decided, look, decision_look[idx])
            closing = decided.copy()
            promoted = promote.any(axis=1) & ~stop
            if promoted.any():
                winner = np.where(promote, p_better, -1.0).argmax(axis=1)
                rows = np.nonzero(promoted)[0]
                closing[rows, ctrl[rows]] = True  # the old control stops recruiting
                closing[rows, winner[rows]] = False  # the winner recruits on, as the control
                ctrl = np.where(promoted, winner, ctrl)
                control[idx] = ctrl
                is_ctrl = np.arange(n_arms)[None, :] == ctrl[:, None]
            closed[idx] |= closing
            still = experimental & ~decided & ~is_ctrl
            pending = (entry[None, :] > when[idx, None]) & ~is_ctrl
            stop |= ~still.any(axis=1) & ~pending.any(axis=1)
            stop |= final[idx]
            # the next table, for the arms still randomized
            open_next = active & ~closing
            new_table = np.zeros((len(idx), n_arms))
            for c in np.unique(ctrl):
                rows = ctrl == c
                new_table[rows] = allocation_table(p_best[rows], open_next[rows], int(c), rules.allocation, weights)
            table[idx] = new_table
            tabled[idx] = open_next
            has_table[idx] = True
            alloc_history[idx, look] = new_table
            look_day[idx, look] = when[idx]
            ended = idx[stop]
            alive[ended] = False
            stop_look[ended] = look
            duration[ended] = when[ended]
            look += 1
        per_arm_n = np.stack([((arm_of == a) & (np.arange(max_n)[None, :] < n_rand[:, None])).sum(axis=1)
                              for a in range(n_arms)], axis=1)
        return {
            "decision": decision, "decision_look": decision_look, "stop_look": stop_look, "size": n_rand.copy(),
            "duration": duration, "arm_n": per_arm_n, "estimate": estimate, "control": control,
            "allocation": alloc_history, "look_day": look_day,
        }

    def _posteriors(self, counts: FloatArray, experimental: NDArray[np.bool_], control: int,
                    rng: np.random.Generator, futility_margin: float | None,
                    equivalence_margin: float | None) -> ArmPosteriors:
        d = self.design
        model = d.rules.model
        if d.ordinal:
            return ordinal_posteriors(counts, control, experimental, model.log_or_sd or 1.0,
                                      model.intercept_sd or 10.0, d.lower_is_better, rng, futility_margin,
                                      equivalence_margin)
        return binary_posteriors(counts[:, :, 1], counts.sum(axis=2), control, experimental, model.beta_prior,
                                 d.lower_is_better, futility_margin, equivalence_margin)

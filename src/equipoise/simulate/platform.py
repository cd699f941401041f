"""Multi-arm Bayesian adaptive platform trials with a binary outcome (adaptr's feature set, vectorised).

Features (after Granholm et al., adaptr, JOSS 2022;7:4284, ``setup_trial_binom``): arms added at a later look
and dropped for inferiority or futility; a common (shared) control or none; response-adaptive randomisation
proportional to P(best)^soften_power with minimum/maximum allocation floors, or with the control fixed at the
square-root rule; stopping for superiority, equivalence, inferiority and futility; outcome data lagging behind
randomisation (``randomised_at_looks``).

Posteriors are conjugate Beta(1 + events, 1 + non-events). Instead of adaptr's 5000 posterior draws, every
probability is computed by numerical integration over a fine grid shared by the arms of a trial:
P(arm a best) = integral of f_a(x) prod_{b != a} S_b(x) dx (lower event rate is best unless
``highest_is_best``), and the probability that all active arms lie within ``d`` of each other is
sum_a integral f_a(x) prod_{b != a} [F_b(x + d) - F_b(x)] dx. This removes the Monte Carlo error of the draws
and vectorises over trials, arms and grid points at once.

References
----------
Granholm A et al. (2022). adaptr: an R package for simulating and comparing adaptive clinical trials.
JOSS 7:4284 (``setup_trial_binom``).
Thall PF, Wathen JK (2007). Practical Bayesian adaptive randomisation in clinical trials. Eur J Cancer
43:859-866. Berry SM, Carlin BP, Lee JJ, Müller P (2010). Bayesian Adaptive Methods for Clinical Trials. CRC.
Thompson WR (1933). On the likelihood that one unknown probability exceeds another in view of the evidence of
two samples. Biometrika 25:285-294.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from equipoise.analyze.beta_quadrature import (
    posterior_grid,
    prob_best,
    prob_better_than,
    prob_within,
)
from equipoise.errors import UserError
from equipoise.simulate.engine import ProgressHook, Records, rng_for, run_chunks

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PlatformDesign:
    arms: tuple[str, ...]
    true_rates: tuple[float, ...]
    data_looks: tuple[int, ...]
    randomised_at_looks: tuple[int, ...] | None = None
    control: str | None = None
    start_probs: tuple[float, ...] | None = None
    min_probs: tuple[float, ...] | None = None
    max_probs: tuple[float, ...] | None = None
    control_prob_fixed: float | str | None = None  # a probability, "sqrt" (square-root rule) or None
    adaptive: bool = True
    soften_power: float = 1.0
    superiority: float = 0.99
    inferiority: float = 0.01
    equivalence_prob: float | None = None
    equivalence_diff: float | None = None
    futility_prob: float | None = None
    futility_diff: float | None = None
    highest_is_best: bool = False
    added_at_look: dict[str, int] = field(default_factory=dict)  # arm -> first look (0-based) it is randomised

    def __post_init__(self) -> None:
        a = len(self.arms)
        if a < 2 or len(self.true_rates) != a or len(set(self.arms)) != a:
            raise UserError("a platform needs at least two distinct arms, each with a true event rate")
        if any(not 0 <= p <= 1 for p in self.true_rates):
            raise UserError("true event rates must be between 0 and 1")
        if not self.data_looks or any(b <= x for x, b in zip(self.data_looks, self.data_looks[1:], strict=False)):
            raise UserError("data_looks must be increasing")
        rand = self.randomised
        if len(rand) != len(self.data_looks) or any(r < d for r, d in zip(rand, self.data_looks, strict=True)) \
                or any(b < x for x, b in itertools.pairwise(rand)):
            raise UserError("randomised_at_looks must be non-decreasing, one per look, each >= the data look")
        if self.control is not None and self.control not in self.arms:
            raise UserError(f"control arm {self.control!r} is not one of the arms")
        for name, probs in (("start_probs", self.start_probs), ("min_probs", self.min_probs),
                            ("max_probs", self.max_probs)):
            if probs is not None and len(probs) != a:
                raise UserError(f"{name} needs one value per arm")
        if self.min_probs is not None and sum(self.min_probs) > 1:
            raise UserError("min_probs must sum to at most 1")
        unknown = set(self.added_at_look) - set(self.arms)
        if unknown:
            raise UserError(f"added_at_look names unknown arms: {', '.join(sorted(unknown))}")
        if not 0.5 <= self.superiority <= 1 or not 0 <= self.inferiority <= 0.5:
            raise UserError("thresholds: superiority in [0.5, 1], inferiority in [0, 0.5]")

    @property
    def randomised(self) -> tuple[int, ...]:
        return self.randomised_at_looks if self.randomised_at_looks is not None else self.data_looks

    @property
    def max_n(self) -> int:
        return self.randomised[-1]

    def best_arms(self) -> list[int]:
        rates = np.asarray(self.true_rates)
        best = rates.max() if self.highest_is_best else rates.min()
        return [i for i, r in enumerate(rates) if abs(r - best) < 1e-12]


# ---------------------------------------------------------------------------------------------------- maths
def constrain(probs: FloatArray, active: NDArray[np.bool_], lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Allocation probabilities within [lo, hi] for the active arms, summing to 1: clip, then hand the surplus
    (or deficit) to the arms that still have room, in proportion to their room, until nothing moves."""
    p = np.where(active, probs, 0.0)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    lo = np.where(active, np.broadcast_to(lo, p.shape), 0.0)
    hi = np.where(active, np.broadcast_to(hi, p.shape), 0.0)
    for _ in range(50):
        p = np.clip(p, lo, hi)
        residual = 1.0 - p.sum(axis=1, keepdims=True)
        if np.all(np.abs(residual) < 1e-12):
            break
        room = np.where(residual > 0, hi - p, p - lo)
        total = room.sum(axis=1, keepdims=True)
        p = p + np.where(total > 0, residual * room / np.maximum(total, 1e-300), 0.0)
    return np.asarray(p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), dtype=float)


# ---------------------------------------------------------------------------------------------------- engine
OUTCOMES = ("superiority", "equivalence", "futility", "max")


BLOCK = 128  # trials per quadrature call: (128, arms, GRID) arrays stay in the processor's cache


def _blocks(n: int) -> list[slice]:
    """Rows of ``n`` trials in blocks of ``BLOCK``; the posterior of a trial uses only its own row, so blocking
    leaves every value bit-identical and only makes the arrays small enough to stay in cache."""
    return [slice(s, s + BLOCK) for s in range(0, n, BLOCK)]


def _better_by_blocks(a: FloatArray, b: FloatArray, ref: NDArray[np.int64], margin: float,
                      highest_is_best: bool) -> FloatArray:
    """``prob_better_than`` block by block (see ``_blocks``)."""
    return np.concatenate([prob_better_than(a[r], b[r], ref[r], margin, highest_is_best) for r in _blocks(len(a))])


@dataclass(frozen=True)
class _PlatformTask:
    design: PlatformDesign

    def __call__(self, n: int, seed: np.random.SeedSequence) -> Records:
        d = self.design
        rng = rng_for(seed)
        n_arms = len(d.arms)
        rates = np.asarray(d.true_rates)
        ctrl = d.arms.index(d.control) if d.control is not None else -1
        first_look = np.array([d.added_at_look.get(arm, 0) for arm in d.arms])
        lo = np.asarray(d.min_probs if d.min_probs is not None else [0.0] * n_arms, dtype=float)
        hi = np.asarray(d.max_probs if d.max_probs is not None else [1.0] * n_arms, dtype=float)
        start = np.asarray(d.start_probs if d.start_probs is not None else [1.0] * n_arms, dtype=float)
        max_n = d.max_n
        arm_of = np.full((n, max_n), -1, dtype=np.int8)
        event = np.zeros((n, max_n), dtype=bool)
        alive = np.ones(n, dtype=bool)  # trial still running
        dropped = np.zeros((n, n_arms), dtype=bool)
        superior = np.zeros((n, n_arms), dtype=bool)
        status = np.full(n, OUTCOMES.index("max"), dtype=np.int8)
        stop_look = np.full(n, len(d.data_looks) - 1, dtype=np.int16)
        size = np.full(n, max_n, dtype=np.int64)
        last_pbest = np.zeros((n, n_arms))
        counts_n = np.zeros((n, n_arms))
        counts_y = np.zeros((n, n_arms))
        data_done = 0
        randomised = 0
        alloc = np.tile(start, (n, 1))

        def randomise(upto: int, probs: FloatArray) -> None:
            nonlocal randomised
            if upto <= randomised:
                return
            m = upto - randomised
            cum = np.cumsum(probs, axis=1)
            cum[:, -1] = 1.0
            u = rng.random((n, m))
            arms = (u[..., None] > cum[:, None, :]).sum(axis=2).astype(np.int8)
            arm_of[:, randomised:upto] = arms
            event[:, randomised:upto] = rng.random((n, m)) < rates[arms]
            randomised = upto

        def allocation(look: int, pbest: FloatArray | None) -> FloatArray:
            active = ~dropped & ~superior & (first_look[None, :] <= look)
            if pbest is None or not d.adaptive:
                base = np.where(active, start[None, :], 0.0)
            else:
                base = np.where(active, np.power(np.maximum(pbest, 0.0), d.soften_power), 0.0)
            if ctrl >= 0 and d.control_prob_fixed is not None:
                k_active = active.sum(axis=1) - active[:, ctrl]
                if d.control_prob_fixed == "sqrt":
                    c = np.sqrt(np.maximum(k_active, 1)) / (np.sqrt(np.maximum(k_active, 1)) + k_active)
                else:
                    c = np.full(n, float(d.control_prob_fixed))
                rest = np.where(np.arange(n_arms)[None, :] == ctrl, 0.0, base)
                rest = constrain(rest, active & (np.arange(n_arms)[None, :] != ctrl), lo[None, :], hi[None, :])
                p = rest * (1 - c)[:, None]
                p[:, ctrl] = np.where(active[:, ctrl], c, 0.0)
                return np.asarray(p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), dtype=float)
            return constrain(base, active, np.broadcast_to(lo, base.shape), np.broadcast_to(hi, base.shape))

        alloc = allocation(0, None)
        for look, (n_data, n_rand) in enumerate(zip(d.data_looks, d.randomised, strict=True)):
            randomise(n_data, alloc)
            new_arms = arm_of[:, data_done:n_data]
            new_y = event[:, data_done:n_data]
            onehot = new_arms[..., None] == np.arange(n_arms)[None, None, :]
            counts_n += onehot.sum(axis=1)
            counts_y += (onehot & new_y[..., None]).sum(axis=1)
            data_done = n_data
            running = alive.copy()
            if not running.any():
                break
            idx = np.nonzero(running)[0]
            a = 1.0 + counts_y[idx]
            b = 1.0 + counts_n[idx] - counts_y[idx]
            active = (~dropped[idx]) & (~superior[idx]) & (first_look[None, :] <= look)
            equivalence = ctrl < 0 and d.equivalence_prob is not None and d.equivalence_diff is not None
            within = np.zeros(len(idx))
            pbest = np.zeros(a.shape)
            for rows in _blocks(len(idx)):  # every row is computed alone: the blocks only keep arrays in cache
                grid = posterior_grid(a[rows], b[rows], active[rows],
                                      d.equivalence_diff if equivalence and d.equivalence_diff else 0.0)
                pbest[rows] = prob_best(a[rows], b[rows], active[rows], d.highest_is_best, grid)
                if equivalence and d.equivalence_diff is not None:
                    p = pbest[rows]
                    left = active[rows] & ~((p < d.inferiority) & ~(p > d.superiority))
                    within[rows] = prob_within(a[rows], b[rows], left, d.equivalence_diff, grid)
            last_pbest[idx] = pbest
            stop_now = np.zeros(len(idx), dtype=bool)
            if ctrl < 0:
                sup = (pbest > d.superiority) & active
                inf = (pbest < d.inferiority) & active
                newly_dropped = inf & ~sup
                dropped[idx] |= newly_dropped
                left = active & ~newly_dropped
                one_left = left.sum(axis=1) == 1
                sup |= left & one_left[:, None]
                has_sup = sup.any(axis=1)
                superior[idx] |= sup
                stop_now |= has_sup
                status[idx[has_sup]] = OUTCOMES.index("superiority")
                if d.equivalence_prob is not None and d.equivalence_diff is not None:
                    left = active & ~newly_dropped
                    equiv = within > d.equivalence_prob
                    equiv &= ~stop_now & (left.sum(axis=1) >= 2)
                    stop_now |= equiv
                    status[idx[equiv]] = OUTCOMES.index("equivalence")
            else:
                ref = np.full(len(idx), ctrl, dtype=np.int64)
                p_vs = _better_by_blocks(a, b, ref, 0.0, d.highest_is_best)
                exp = active & (np.arange(n_arms)[None, :] != ctrl)
                sup = exp & (p_vs > d.superiority)
                inf = exp & (p_vs < d.inferiority)
                fut = np.zeros_like(sup)
                if d.futility_prob is not None and d.futility_diff is not None:
                    fut = exp & (_better_by_blocks(a, b, ref, d.futility_diff, d.highest_is_best) < d.futility_prob)
                superior[idx] |= sup
                dropped[idx] |= (inf | fut) & ~sup
                remaining = exp & ~sup & ~inf & ~fut
                pending = (first_look[None, :] > look) & (np.arange(n_arms)[None, :] != ctrl)
                done = ~remaining.any(axis=1) & ~pending.any(axis=1)
                stop_now |= done
                any_sup = superior[idx].any(axis=1)
                status[idx[done & any_sup]] = OUTCOMES.index("superiority")
                status[idx[done & ~any_sup & fut.any(axis=1)]] = OUTCOMES.index("futility")
            stopped = idx[stop_now]
            alive[stopped] = False
            stop_look[stopped] = look
            size[stopped] = n_rand
            if look + 1 < len(d.data_looks):
                new_alloc = allocation(look + 1, last_pbest if d.adaptive else None)
                alloc = np.where(alive[:, None], new_alloc, alloc)
                randomise(n_rand, alloc)
        # status "max": superiority may still have happened for an arm in a common-control platform
        any_sup_final = superior.any(axis=1)
        status = np.where((status == OUTCOMES.index("max")) & any_sup_final & (ctrl >= 0),
                          OUTCOMES.index("superiority"), status).astype(np.int8)
        # selection: a superior arm (the most probable best among them), else the most probable best remaining
        score = np.where(superior, last_pbest + 2.0, np.where(dropped, -1.0, last_pbest))
        selected = score.argmax(axis=1)
        sel_rate = rates[selected]
        enrolled = np.arange(max_n)[None, :] < size[:, None]
        return {
            "status": status, "look": stop_look, "size": size, "selected": selected.astype(np.int8),
            "selected_rate": sel_rate, "events": (event & enrolled).sum(axis=1),
            "dropped": dropped, "superior": superior,
        }


@dataclass(frozen=True)
class PlatformResult:
    design: PlatformDesign
    n_trials: int
    seed: int | None
    probabilities: dict[str, float]
    mc_se: dict[str, float]
    select_probabilities: dict[str, float]
    probability_select_best: float
    expected_n: float
    sd_n: float
    n_quantiles: dict[str, float]
    stop_probability_by_look: list[float]
    drop_probability: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "platform", "arms": list(self.design.arms), "true_rates": list(self.design.true_rates),
            "control": self.design.control, "n_trials": self.n_trials, "seed": self.seed,
            **{f"probability_{k}": v for k, v in self.probabilities.items()},
            "rejection_probability": self.probabilities["superiority"],
            "mc_se": self.mc_se,
            "probability_select": self.select_probabilities,
            "probability_select_best": self.probability_select_best,
            "expected_n": self.expected_n, "sd_n": self.sd_n, "n_quantiles": self.n_quantiles,
            "stop_probability_by_look": self.stop_probability_by_look,
            "probability_dropped": self.drop_probability,
        }

    def __str__(self) -> str:
        p = self.probabilities
        arms = ", ".join(f"{a}: {r:g}" for a, r in zip(self.design.arms, self.design.true_rates, strict=True))
        lines = [
            f"Platform trial, {len(self.design.arms)} arms ({arms}), {len(self.design.data_looks)} looks, "
            f"{self.n_trials:,} simulated trials",
            f"  superiority {p['superiority']:.3f}  equivalence {p['equivalence']:.3f}  futility {p['futility']:.3f}  "
            f"inconclusive at max {p['max']:.3f}",
            f"  sample size: mean {self.expected_n:.1f} (SD {self.sd_n:.1f}), median {self.n_quantiles['50%']:.0f}",
            "  selected: " + ", ".join(f"{a} {v:.3f}" for a, v in self.select_probabilities.items())
            + f"; a truly best arm {self.probability_select_best:.3f}",
        ]
        return "\n".join(lines)


def simulate_platform(design: PlatformDesign, *, n_trials: int = 1000, seed: int | None = 4131,
                      scheduler: Any = None, progress: ProgressHook | None = None,
                      chunk_size: int = 500) -> PlatformResult:
    rec = run_chunks(_PlatformTask(design), n_trials, seed, chunk_size=chunk_size, scheduler=scheduler,
                     progress=progress)
    n = n_trials
    status = rec["status"]
    probs = {name: float(np.mean(status == i)) for i, name in enumerate(OUTCOMES)}
    mc = {name: math.sqrt(v * (1 - v) / n) for name, v in probs.items()}
    sel = {arm: float(np.mean(rec["selected"] == i)) for i, arm in enumerate(design.arms)}
    best = design.best_arms()
    sizes = rec["size"].astype(float)
    return PlatformResult(
        design=design, n_trials=n, seed=seed, probabilities=probs, mc_se=mc, select_probabilities=sel,
        probability_select_best=float(np.mean(np.isin(rec["selected"], best))),
        expected_n=float(sizes.mean()), sd_n=float(sizes.std(ddof=1)) if n > 1 else 0.0,
        n_quantiles={q: float(np.quantile(sizes, float(q[:-1]) / 100)) for q in ("10%", "25%", "50%", "75%", "90%")},
        stop_probability_by_look=[float(np.mean(rec["look"] == k)) for k in range(len(design.data_looks))],
        drop_probability={arm: float(np.mean(rec["dropped"][:, i])) for i, arm in enumerate(design.arms)},
    )

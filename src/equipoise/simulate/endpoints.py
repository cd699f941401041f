"""Two-arm endpoints for group-sequential simulation: the data at each look and the pre-specified test.

Each endpoint's ``looks(n, rng)`` simulates ``n`` trials and returns, per trial and look, the standardised
test statistic ``z`` (positive = experimental arm better, the design layer's convention), the effect estimate
and its standard error, and the sample size (or events) reached. Binary, normal and ordinal endpoints draw
the per-stage sufficient statistics (counts per arm, or sums), which is exact and fast; survival is simulated
patient by patient.

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, ch. 3 (the canonical joint distribution of the standardised statistics).
Whitehead J (1993). Sample size calculations for ordered categorical data. Stat Med 12:2257-2271 (the ordinal
score statistic).
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials. Springer
(rpact's ``getSimulationRates``, ``getSimulationMeans``, ``getSimulationSurvival``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from equipoise.errors import UserError
from equipoise.simulate.generators import PiecewiseExponential

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LookData:
    z: FloatArray  # (n, K)
    estimate: FloatArray  # (n, K)
    se: FloatArray  # (n, K)
    sample_size: FloatArray  # (n, K): patients randomised when the look happens
    events: FloatArray | None = None  # (n, K): survival only


class Endpoint(Protocol):
    @property
    def true_effect(self) -> float: ...

    @property
    def estimand(self) -> str: ...

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData: ...


def per_arm(totals: tuple[float, ...], ratio: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Cumulative patients per arm (experimental, control) for cumulative totals and allocation ratio e:c."""
    total = np.asarray(totals, dtype=float)
    n_e = np.round(total * ratio / (1 + ratio)).astype(np.int64)
    n_c = np.round(total).astype(np.int64) - n_e
    if np.any(np.diff(n_e) < 0) or np.any(np.diff(n_c) < 0) or n_e[0] < 1 or n_c[0] < 1:
        raise UserError(f"planned sample sizes {list(totals)} must increase and give each arm at least 1 patient")
    return n_e, n_c


def _stagewise(cumulative: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.diff(np.concatenate([[0], cumulative]))


@dataclass(frozen=True)
class BinaryEndpoint:
    """Difference in proportions; z uses the pooled variance under H0 (rpact ``getSimulationRates`` default,
    Farrington & Manning 1990 with delta0 = 0); the estimate's SE is unpooled (Wald)."""

    p_control: float
    p_treatment: float
    planned: tuple[float, ...]
    ratio: float = 1.0
    higher_is_better: bool = True

    @property
    def true_effect(self) -> float:
        return self.p_treatment - self.p_control

    @property
    def estimand(self) -> str:
        return "risk difference (experimental - control)"

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        n_e, n_c = per_arm(self.planned, self.ratio)
        x_e = np.cumsum(rng.binomial(_stagewise(n_e), self.p_treatment, size=(n_trials, len(n_e))), axis=1)
        x_c = np.cumsum(rng.binomial(_stagewise(n_c), self.p_control, size=(n_trials, len(n_c))), axis=1)
        pe, pc = x_e / n_e, x_c / n_c
        pooled = (x_e + x_c) / (n_e + n_c)
        var0 = pooled * (1 - pooled) * (1 / n_e + 1 / n_c)
        diff = pe - pc
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(var0 > 0, diff / np.sqrt(var0), 0.0)
        sign = 1.0 if self.higher_is_better else -1.0
        se = np.sqrt(pe * (1 - pe) / n_e + pc * (1 - pc) / n_c)
        size = np.broadcast_to((n_e + n_c).astype(float), diff.shape)
        return LookData(sign * z, diff, se, np.array(size))


@dataclass(frozen=True)
class NormalEndpoint:
    """Difference in means with known SD (rpact ``getSimulationMeans`` with ``normalApproximation = TRUE``)."""

    delta: float
    sd: float
    planned: tuple[float, ...]
    ratio: float = 1.0
    higher_is_better: bool = True

    @property
    def true_effect(self) -> float:
        return self.delta

    @property
    def estimand(self) -> str:
        return "mean difference (experimental - control)"

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        n_e, n_c = per_arm(self.planned, self.ratio)
        k = len(n_e)
        # stage-wise sums of the difference: exact sufficient statistic under a known SD
        s_e = np.cumsum(self.delta * _stagewise(n_e) + self.sd * np.sqrt(_stagewise(n_e))
                        * rng.standard_normal((n_trials, k)), axis=1)
        s_c = np.cumsum(self.sd * np.sqrt(_stagewise(n_c)) * rng.standard_normal((n_trials, k)), axis=1)
        diff = s_e / n_e - s_c / n_c
        se = self.sd * np.sqrt(1 / n_e + 1 / n_c)
        sign = 1.0 if self.higher_is_better else -1.0
        size = np.broadcast_to((n_e + n_c).astype(float), diff.shape)
        return LookData(sign * diff / se, diff, np.array(np.broadcast_to(se, diff.shape)), np.array(size))


def po_treatment_distribution(control: FloatArray, odds_ratio: float) -> FloatArray:
    """Category probabilities (best first) under proportional odds: the odds of being in category <= j are
    multiplied by ``odds_ratio`` for every j (McCullagh 1980)."""
    cum = np.cumsum(control)[:-1]
    with np.errstate(divide="ignore"):
        odds = cum / (1 - cum) * odds_ratio
    new_cum = np.where(np.isfinite(odds), odds / (1 + odds), 1.0)
    return np.diff(np.concatenate([[0.0], new_cum, [1.0]]))


@dataclass(frozen=True)
class OrdinalEndpoint:
    """Proportional-odds comparison of an ordinal outcome (categories ordered best first).

    The test is the score test of the PO model at log OR = 0, U = sum over treated patients of
    1 - C(j) - C(j - 1) (C = pooled cumulative proportion), which is the centred Wilcoxon rank sum with
    mid-ranks times -2/N; V is its permutation variance with ties, asymptotically n_e n_c / N (1 - sum p_j^3) / 3
    (Whitehead 1993, Stat Med 12:2257, eqs 2-4). So ``z = U / sqrt(V)`` is the Wilcoxon-Mann-Whitney z
    (checked against R's ``wilcox.test``), and the log odds ratio is estimated by ``U / V`` (Whitehead's
    one-step estimate, SE ``1 / sqrt(V)``).
    """

    control: tuple[float, ...]
    odds_ratio: float
    planned: tuple[float, ...]
    ratio: float = 1.0
    treatment: tuple[float, ...] | None = field(default=None)

    @property
    def true_effect(self) -> float:
        return float(np.log(self.odds_ratio))

    @property
    def estimand(self) -> str:
        return "log common odds ratio of a better category (experimental vs control)"

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        pc = np.asarray(self.control, dtype=float)
        pc = pc / pc.sum()
        pe = (np.asarray(self.treatment, dtype=float) if self.treatment is not None
              else po_treatment_distribution(pc, self.odds_ratio))
        pe = pe / pe.sum()
        n_e, n_c = per_arm(self.planned, self.ratio)
        k, m = len(n_e), len(pc)
        ce = np.zeros((n_trials, k, m))
        cc = np.zeros((n_trials, k, m))
        for look, (de, dc) in enumerate(zip(_stagewise(n_e), _stagewise(n_c), strict=True)):
            ce[:, look] = rng.multinomial(de, pe, size=n_trials)
            cc[:, look] = rng.multinomial(dc, pc, size=n_trials)
        ce, cc = np.cumsum(ce, axis=1), np.cumsum(cc, axis=1)
        total = (n_e + n_c)[None, :, None].astype(float)
        pbar = (ce + cc) / total
        cum = np.cumsum(pbar, axis=2)
        s = 1.0 - cum - np.concatenate([np.zeros((n_trials, k, 1)), cum[..., :-1]], axis=2)
        u = (ce * s).sum(axis=2)
        big_n = (n_e + n_c).astype(float)[None, :]
        # permutation variance of U with ties (= the Wilcoxon test's); ~ n_e n_c / N (1 - sum p^3) / 3
        v = (n_e * n_c)[None, :] / (3 * big_n ** 2) * ((big_n + 1) - (big_n ** 2 * (pbar ** 3).sum(axis=2) - 1)
                                                         / (big_n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(v > 0, u / np.sqrt(v), 0.0)
            est = np.where(v > 0, u / v, 0.0)
            se = np.where(v > 0, 1 / np.sqrt(v), np.inf)
        size = np.broadcast_to((n_e + n_c).astype(float), z.shape)
        return LookData(z, est, se, np.array(size))


@dataclass(frozen=True)
class SurvivalEndpoint:
    """Patient-level time to event with staggered entry, dropout and event-driven looks; log-rank test.

    Entry is uniform over ``accrual_time`` in deterministic steps and the arms alternate (experimental,
    control, ...), as rpact ``getSimulationSurvival`` does with ``allocation1 = allocation2 = 1``. Event times
    follow ``control`` (piecewise exponential) and, in the experimental arm, ``hazard_ratio`` times its hazard;
    dropout is exponential with ``dropout_rate`` by ``dropout_time``. Look k happens when ``planned_events[k]``
    events have been observed. z is the log-rank statistic, positive when the experimental arm has fewer events
    than expected if ``lower_hazard_is_better``; the log hazard ratio is estimated by (O - E) / V (Peto).
    """

    control: PiecewiseExponential
    hazard_ratio: float
    planned_events: tuple[int, ...]
    max_subjects: int
    accrual_time: float
    dropout_rate: float = 0.0
    dropout_time: float = 12.0
    lower_hazard_is_better: bool = True

    @property
    def true_effect(self) -> float:
        return float(np.log(self.hazard_ratio))

    @property
    def estimand(self) -> str:
        return "log hazard ratio (experimental vs control)"

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        n = self.max_subjects
        if max(self.planned_events) > n:
            raise UserError("the planned number of events exceeds the number of patients")
        entry = self.accrual_time * np.arange(1, n + 1) / n
        treated = (np.arange(n) % 2 == 0)
        e = rng.standard_exponential((n_trials, n))
        e *= np.where(treated, 1.0 / self.hazard_ratio, 1.0)[None, :]  # T = H0^-1(E / HR) in the treated arm
        follow = self.control.quantile_of_cumhaz(e)
        event = np.ones((n_trials, n), dtype=bool)
        if self.dropout_rate > 0:
            rate = -np.log(1 - self.dropout_rate) / self.dropout_time
            drop = rng.standard_exponential((n_trials, n)) / rate
            event = follow <= drop
            np.minimum(follow, drop, out=follow)
        # lazy: the kernel imports numba (about 0.4 s of CPU) and loads its compiled cache, which only survival
        # simulations need; one of the few function-level imports tests/test_import_graph.py allows
        from equipoise.simulate._logrank_kernel import logrank_looks

        # argsort of each row at the speed of numpy's integer sort: the patient index rides in the low bits of
        # the (non-negative) float64 times viewed as int64, which perturbs a time by < 1e-12 of itself
        mask = np.int64((1 << max(1, (n - 1).bit_length())) - 1)
        key = follow.view(np.int64) & ~mask
        key |= np.arange(n, dtype=np.int64)[None, :]
        key.sort(axis=1)
        orders = key & mask
        calendar = np.where(event, entry + follow, np.inf)
        planned = np.asarray(self.planned_events, np.int64)
        # the analysis times are order statistics of the event times: a selection, not a full sort
        taus = np.partition(calendar, planned - 1, axis=1)[:, planned - 1]
        u, v, size, events = logrank_looks(follow, event, entry, treated, taus, orders)
        sign = -1.0 if self.lower_hazard_is_better else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(v > 0, sign * u / np.sqrt(v), 0.0)
            est = np.where(v > 0, u / v, 0.0)
            se = np.where(v > 0, 1 / np.sqrt(v), np.inf)
        return LookData(z, est, se, size, events)

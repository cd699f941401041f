"""Outcome generators for generic use: binary, normal, exponential and piecewise-exponential survival.

Each generator draws patient outcomes for one arm; the two-arm engines use the sufficient statistics of
binary and normal outcomes directly (sums per stage), which is exact, and patient-level times for survival.

References
----------
Bender R, Augustin T, Blettner M (2005). Generating survival times to simulate Cox proportional hazards models.
Stat Med 24:1713-1723 (inverse-CDF draws, piecewise-constant hazards).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from equipoise.errors import UserError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Binary:
    p: float

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise UserError(f"a probability must be between 0 and 1, not {self.p}")

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> NDArray[np.bool_]:
        return rng.random(size) < self.p


@dataclass(frozen=True)
class Normal:
    mean: float
    sd: float = 1.0

    def __post_init__(self) -> None:
        if self.sd <= 0:
            raise UserError(f"a standard deviation must be positive, not {self.sd}")

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        return self.mean + self.sd * rng.standard_normal(size)


@dataclass(frozen=True)
class PiecewiseExponential:
    """Hazard ``rates[j]`` on ``[starts[j], starts[j+1])``, ``starts[0] = 0`` (rpact's piecewiseSurvivalTime)."""

    rates: tuple[float, ...]
    starts: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        if len(self.rates) != len(self.starts) or self.starts[0] != 0 or any(r <= 0 for r in self.rates):
            raise UserError("piecewise-exponential survival needs positive rates, one per interval starting at 0")
        if any(b <= a for a, b in itertools.pairwise(self.starts)):
            raise UserError("piecewise-exponential interval starts must increase")

    @classmethod
    def from_median(cls, median: float) -> PiecewiseExponential:
        return cls((np.log(2) / median,))

    def scaled(self, hazard_ratio: float) -> PiecewiseExponential:
        return PiecewiseExponential(tuple(r * hazard_ratio for r in self.rates), self.starts)

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        """Inversion of the cumulative hazard: T = H^-1(E), E ~ Exp(1)."""
        return self.quantile_of_cumhaz(rng.standard_exponential(size))

    def quantile_of_cumhaz(self, e: FloatArray) -> FloatArray:
        rates = np.asarray(self.rates)
        starts = np.asarray(self.starts)
        if len(rates) == 1:
            return np.asarray(e / rates[0], dtype=float)
        widths = np.diff(starts)
        cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * widths)])  # H at each interval start
        j = np.searchsorted(cum, e, side="right") - 1
        return np.asarray(starts[j] + (e - cum[j]) / rates[j], dtype=float)


def exponential(rate: float) -> PiecewiseExponential:
    return PiecewiseExponential((rate,))


def piecewise_exponential(rates: Sequence[float], starts: Sequence[float]) -> PiecewiseExponential:
    return PiecewiseExponential(tuple(float(r) for r in rates), tuple(float(s) for s in starts))

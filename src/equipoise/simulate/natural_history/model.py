"""A daily state model of hospitalised COVID-19 on the WHO clinical progression scale (0-10).

Each day a hospitalised patient (WHO level 4-9) moves one level down, stays, moves one level up, or dies.
The four moves are ordered from best to worst and follow a cumulative-logit (proportional-odds) model,

    P(move <= c | state s, day t) = expit(theta[s, c] - lp),   lp = frailty + age + setting + trend(t) - log(OR),

so a treatment with odds ratio OR > 1 shifts every daily transition towards the better moves by the same
odds ratio (McCullagh 1980, J R Stat Soc B 42:109, proportional odds; applied to daily transitions as in the
multistate COVID-19 outcome models of Brown et al. 2022, Stat Med 41:2791). ``theta`` is derived from the
daily probabilities at the reference (``lp = 0``) written in the parameter file. A discharged patient (level
3) moves on through levels 2, 1 and 0 and is not readmitted. Death (level 10) is absorbing.

The patient frailty is normal with the file's ``frailty_sd``; exact state distributions integrate it with
Gauss-Hermite quadrature, so calibration needs no Monte Carlo.

References
----------
McCullagh P (1980). Regression models for ordinal data. J R Stat Soc B 42:109-142.
Brown et al. (2022). Stat Med 41:2791 (multistate COVID-19 outcome models on daily transitions).
WHO Working Group on the Clinical Characterisation and Management of COVID-19 infection (2020). Lancet Infect Dis
20:e192-e197 (the WHO clinical progression scale).
Abramowitz M, Stegun IA (1964). Handbook of Mathematical Functions, eq. 25.4.46 (Gauss-Hermite quadrature).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from equipoise.errors import UserError
from equipoise.protocol.yaml_source import load_yaml_data
from equipoise.user_files import read_user_text

DEAD = 10
DISCHARGED = 3  # a level <= 3 means at home (ambulatory)
HOSPITAL_LEVELS = (4, 5, 6, 7, 8, 9)
N_LEVELS = 11
MOVES = 4  # down, stay, up, die
HERE = Path(__file__).resolve().parent
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Population:
    """Who is enrolled: a distribution of baseline WHO levels and of age groups, and a setting shift."""

    start: dict[int, float]
    age: dict[str, float]
    setting_shift: float = 0.0

    def __post_init__(self) -> None:
        for name, dist in (("start", self.start), ("age", self.age)):
            total = sum(dist.values())
            if not np.isclose(total, 1.0, atol=1e-6) or any(v < 0 for v in dist.values()):
                raise UserError(f"population {name} probabilities must be >= 0 and sum to 1 (they sum to {total:g})")
        if any(level not in HOSPITAL_LEVELS for level in self.start):
            raise UserError(f"baseline WHO levels must be hospital levels 4 to 9, not {sorted(self.start)}")


@dataclass(frozen=True)
class NaturalHistory:
    """Parameters of the daily model (see the module docstring); ``load_natural_history`` reads them."""

    name: str
    days: int
    down: dict[int, float]
    up: dict[int, float]
    death: dict[int, float]
    post_discharge: tuple[float, float, float]  # daily P(3 -> 2), P(2 -> 1), P(1 -> 0)
    frailty_sd: float
    trend_start: float  # log-odds shift (worse) on day 0, falling linearly ...
    trend_slope: float  # ... by this much per day ...
    trend_until: int  # ... until this day, then constant
    age_shift: dict[str, float]
    severities: dict[str, Population]
    settings: dict[str, float] = field(default_factory=lambda: {"reference": 0.0})
    populations: dict[str, Population] = field(default_factory=dict)
    ct_lag_days: int = 7
    source: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def thresholds(self) -> FloatArray:
        """theta[s, c] for c = down, stay, up (cumulative logits), levels 0..10; only 4..9 are used."""
        theta = np.zeros((N_LEVELS, 3))
        for s in HOSPITAL_LEVELS:
            p_down, p_up, p_die = self.down[s], self.up.get(s, 0.0), self.death[s]
            if min(p_down, p_up, p_die) < 0 or p_down + p_up + p_die >= 1 or p_down <= 0 or p_die <= 0:
                raise UserError(f"natural history {self.name}: level {s} daily probabilities are not valid")
            theta[s] = logit([p_down, 1 - p_up - p_die, 1 - p_die])
        return theta

    def trend(self, day: int) -> float:
        return self.trend_start - self.trend_slope * min(day, self.trend_until)

    def population(self, severity: str | None = None, age: dict[str, float] | None = None,
                   name: str | None = None) -> Population:
        """A population by name, or by baseline severity (mild, severe, critical) with an age mix."""
        if name is not None:
            if name not in self.populations:
                raise UserError(f"unknown population {name!r}; known: {', '.join(self.populations)}")
            return self.populations[name]
        if severity is None:
            raise UserError("give a population name or a baseline severity")
        if severity not in self.severities:
            raise UserError(f"unknown baseline severity {severity!r}; known: {', '.join(self.severities)}")
        pop = self.severities[severity]
        return pop if age is None else Population(pop.start, age, pop.setting_shift)

    # ------------------------------------------------------------------ daily transition probabilities
    def move_probabilities(self, state: IntArray, lp: FloatArray, harm: float = 1.0) -> FloatArray:
        """P(down, stay, up, die) for hospitalised patients in ``state`` with linear predictor ``lp``."""
        theta = self.thresholds[state]  # (..., 3)
        cum = expit(theta - lp[..., None])
        probs = np.empty((*state.shape, MOVES))
        probs[..., 0] = cum[..., 0]
        probs[..., 1] = cum[..., 1] - cum[..., 0]
        probs[..., 2] = cum[..., 2] - cum[..., 1]
        probs[..., 3] = 1.0 - cum[..., 2]
        if harm != 1.0:  # harm multiplies the odds of dying that day (not proportional odds on purpose)
            die = probs[..., 3]
            new_die = harm * die / (1.0 - die + harm * die)
            probs[..., :3] *= ((1.0 - new_die) / np.maximum(1.0 - die, 1e-300))[..., None]
            probs[..., 3] = new_die
        return probs

    def transition_matrix(self, day: int, shift: float, harm: float = 1.0) -> FloatArray:
        """The 11 x 11 matrix of day ``day`` -> ``day + 1`` for a patient with fixed linear predictor ``shift``."""
        m = np.zeros((N_LEVELS, N_LEVELS))
        levels = np.array(HOSPITAL_LEVELS)
        probs = self.move_probabilities(levels, np.full(len(levels), shift + self.trend(day)), harm)
        for i, s in enumerate(levels):
            m[s, s - 1] += probs[i, 0]
            m[s, s] += probs[i, 1]
            m[s, min(s + 1, DEAD)] += probs[i, 2]
            m[s, DEAD] += probs[i, 3]
        p32, p21, p10 = self.post_discharge
        m[3, 2], m[3, 3] = p32, 1 - p32
        m[2, 1], m[2, 2] = p21, 1 - p21
        m[1, 0], m[1, 1] = p10, 1 - p10
        m[0, 0] = 1.0
        m[DEAD, DEAD] = 1.0
        return m

    # ------------------------------------------------------------------ exact state distributions
    def state_distribution(self, population: Population, odds_ratio: float = 1.0, harm: float = 1.0,
                           days: int | None = None, nodes: int = 24) -> FloatArray:
        """P(level at day t) for t = 0..days: array (days + 1, 11), exact up to Gauss-Hermite quadrature."""
        days = self.days if days is None else days
        x, w = np.polynomial.hermite_e.hermegauss(nodes)
        w = w / w.sum()
        start = np.zeros(N_LEVELS)
        for level, p in population.start.items():
            start[level] += p
        out = np.zeros((days + 1, N_LEVELS))
        for group, p_age in population.age.items():
            if p_age == 0:
                continue
            base = self.age_shift[group] + population.setting_shift - np.log(odds_ratio)
            for xi, wi in zip(x, w, strict=True):
                dist = start.copy()
                out[0] += p_age * wi * dist
                shift = base + self.frailty_sd * xi
                for t in range(days):
                    dist = dist @ self.transition_matrix(t, shift, harm)
                    out[t + 1] += p_age * wi * dist
        return out

    # ------------------------------------------------------------------ patient-level paths
    def simulate_paths(self, start: IntArray, age_shift: FloatArray, rng: np.random.Generator,
                       log_or: FloatArray | float = 0.0, harm: FloatArray | float = 1.0,
                       days: int | None = None) -> NDArray[np.int8]:
        """Daily WHO levels (n, days + 1) of patients with baseline levels ``start`` (any shape ``(n,)``).

        ``log_or`` and ``harm`` may be per patient (treated vs not). One uniform draw per patient per day.
        """
        days = self.days if days is None else days
        n = start.shape[0]
        paths = np.empty((n, days + 1), dtype=np.int8)
        state = start.astype(np.int64).copy()
        paths[:, 0] = state
        lp_fixed = age_shift + self.frailty_sd * rng.standard_normal(n) - np.asarray(log_or, dtype=float)
        harm_arr = np.broadcast_to(np.asarray(harm, dtype=float), (n,))
        p32, p21, p10 = self.post_discharge
        home_p = np.array([p10, p21, p32])
        theta = self.thresholds
        for t in range(days):
            u = rng.random(n)
            hosp = (state >= 4) & (state <= 9)
            cum = expit(theta[np.where(hosp, state, 4)] - (lp_fixed + self.trend(t))[:, None])
            if np.any(harm_arr != 1.0):
                die = 1.0 - cum[:, 2]
                new_die = harm_arr * die / (1.0 - die + harm_arr * die)
                cum = cum * ((1.0 - new_die) / np.maximum(1.0 - die, 1e-300))[:, None]
            move = (u >= cum[:, 0]).astype(np.int64) + (u >= cum[:, 1]) + (u >= cum[:, 2])
            step = np.where(move == 0, -1, np.where(move == 1, 0, 1))
            new_hosp = np.where(move == 3, DEAD, np.minimum(state + step, DEAD))
            home = (state >= 1) & (state <= 3)
            home_move = home & (u < home_p[np.clip(state - 1, 0, 2)])
            state = np.where(hosp, new_hosp, np.where(home_move, state - 1, state))
            paths[:, t + 1] = state
        return paths


def _levels(mapping: dict[Any, Any], what: str) -> dict[int, float]:
    try:
        return {int(k): float(v) for k, v in mapping.items()}
    except (TypeError, ValueError):
        raise UserError(f"natural history: {what} must map WHO levels to probabilities") from None


def _population(name: str, p: dict[str, Any], settings: dict[str, float]) -> Population:
    """A population entry: ``start`` levels, ``age`` mix, a named ``setting`` and an extra ``shift``."""
    setting = str(p.get("setting", "reference"))
    if setting not in settings:
        raise UserError(f"natural history: population {name} names unknown setting {setting!r}")
    return Population(_levels(p["start"], f"population {name} start"), {k: float(v) for k, v in p["age"].items()},
                      settings[setting] + float(p.get("shift", 0.0)))


# A year of daily transitions is far beyond any trial's outcome day; more would only make simulation hang.
MAX_DAYS = 365


def natural_history_from_dict(data: dict[str, Any]) -> NaturalHistory:
    """Build the model from a parsed parameter file (see ``covid19.yaml`` for the format)."""
    try:
        daily = data["daily"]
        trend = data["trend"]
        settings = {str(k): float(v) for k, v in data.get("settings", {"reference": 0.0}).items()}
        pops = {name: _population(name, p, settings) for name, p in data.get("populations", {}).items()}
        severities = {name: _population(name, p, settings) for name, p in data["severities"].items()}
        days = int(data.get("days", 28))
        if not 1 <= days <= MAX_DAYS:
            raise UserError(f"natural history parameter file: days must be 1 to {MAX_DAYS} (got {days})")
        return NaturalHistory(
            name=str(data["name"]),
            days=days,
            down=_levels(daily["down"], "daily.down"),
            up=_levels(daily["up"], "daily.up"),
            death=_levels(daily["death"], "daily.death"),
            post_discharge=tuple(float(x) for x in data["post_discharge"]),  # type: ignore[arg-type]
            frailty_sd=float(data["frailty_sd"]),
            trend_start=float(trend["start"]),
            trend_slope=float(trend["slope"]),
            trend_until=int(trend["until_day"]),
            age_shift={k: float(v) for k, v in data["age_shift"].items()},
            severities=severities,
            populations=pops,
            settings=settings,
            ct_lag_days=int(data.get("ct_lag_days", 7)),
            source=data,
        )
    except KeyError as exc:
        raise UserError(f"natural history parameter file: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # a section of the wrong shape (a list for a mapping, text for a number): say which value, not where
        raise UserError(f"natural history parameter file: a value has the wrong form ({exc})") from None


def load_natural_history(name_or_path: str | Path = "covid19") -> NaturalHistory:
    """Load a parameter file: a built-in name (``covid19``) or a path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = HERE / f"{name_or_path}.yaml"
    if not path.exists():
        raise UserError(f"natural history {str(name_or_path)!r}: no such parameter file")
    data = load_yaml_data(read_user_text(path, option="--natural-history"), str(path))
    if not isinstance(data, dict):
        raise UserError(f"{path}: a natural history file must be a mapping")
    return natural_history_from_dict(data)

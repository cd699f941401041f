"""Calibration targets of a natural history: compute each from the model and compare with the published value.

``check(model)`` returns one ``TargetCheck`` per target of the parameter file. ``fit(model)`` re-estimates the
fitted parameters (see the header of ``covid19.yaml``) by least squares on the targets marked ``fit: true``;
it was run once to write the numbers in the file, and is kept so that anyone can redo it.

References
----------
RECOVERY Collaborative Group, Horby P et al. (2021). Dexamethasone in hospitalized patients with Covid-19.
N Engl J Med 384:693-704.
Beigel JH et al. (2020). Remdesivir for the treatment of Covid-19: final report (ACTT-1). N Engl J Med
383:1813-1826.
Wu Z, McGoogan JM (2020). Characteristics of and important lessons from the coronavirus
disease 2019 (COVID-19) outbreak in China. JAMA 323:1239-1242 (the China CDC figures).
The targets and their sources are listed in ``covid19.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from equipoise.simulate.natural_history.model import DEAD, DISCHARGED, HOSPITAL_LEVELS, NaturalHistory, Population


@dataclass(frozen=True)
class TargetCheck:
    id: str
    statistic: str
    target: float
    tolerance: float
    model: float
    fitted: bool
    source: str

    @property
    def ok(self) -> bool:
        return abs(self.model - self.target) <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok}

    def __str__(self) -> str:
        mark = "ok " if self.ok else "OFF"
        return (f"{mark} {self.id}: model {self.model:.3f}, target {self.target:.3f} ± {self.tolerance:g}"
                f"{'' if self.fitted else ' (not fitted)'}")


def median_crossing(cumulative: np.ndarray, level: float = 0.5) -> float:
    """First (linearly interpolated) day at which a cumulative proportion reaches ``level``; inf if never."""
    above = np.nonzero(cumulative >= level)[0]
    if len(above) == 0:
        return float("inf")
    t = int(above[0])
    if t == 0:
        return 0.0
    lo, hi = cumulative[t - 1], cumulative[t]
    return float(t - 1 + (level - lo) / (hi - lo))


def statistic(model: NaturalHistory, population: str, name: str, day: int) -> float:
    dist = model.state_distribution(model.population(name=population), days=day)
    if name == "mortality":
        return float(dist[day, DEAD])
    if name == "median_recovery_days":
        return median_crossing(dist[:, : DISCHARGED + 1].sum(axis=1))
    if name == "discharged":
        return float(dist[day, : DISCHARGED + 1].sum())
    raise ValueError(f"unknown calibration statistic {name!r}")


def check(model: NaturalHistory) -> list[TargetCheck]:
    out = []
    for t in model.source.get("targets", []):
        value = statistic(model, t["population"], t["statistic"], int(t["day"]))
        out.append(TargetCheck(t["id"], t["statistic"], float(t["value"]), float(t["tolerance"]), value,
                               bool(t.get("fit", True)), t["source"]))
    return out


FITTED_SETTINGS = ("actt1-2020", "china-2020")
FITTED_SHIFTS = ("china-mild",)  # populations with a fitted extra shift


def _with(model: NaturalHistory, params: np.ndarray) -> NaturalHistory:
    """The model with the fitted quantities changed: log factors on the daily death probabilities (level 4,
    levels 5-6, levels 7-9) and on the improvement probabilities, and the fitted setting shifts (added)."""
    d4, d56, d79, down, *rest = params
    shifts, extra = rest[: len(FITTED_SETTINGS)], dict(zip(FITTED_SHIFTS, rest[len(FITTED_SETTINGS):], strict=True))
    factor = {4: d4, 5: d56, 6: d56, 7: d79, 8: d79, 9: d79}
    death = {s: float(model.death[s] * np.exp(factor[s])) for s in HOSPITAL_LEVELS}
    down_p = {s: float(model.down[s] * np.exp(down)) for s in HOSPITAL_LEVELS}
    settings = dict(model.settings)
    for name, shift in zip(FITTED_SETTINGS, shifts, strict=True):
        settings[name] = settings[name] + float(shift)
    data = model.source

    def shifted(name: str, entry: dict[str, Any], pop: Population) -> Population:
        shift = float(entry.get("shift", 0.0)) + float(extra.get(name, 0.0))
        return dataclasses.replace(pop, setting_shift=settings[entry.get("setting", "reference")] + shift)

    pops = {name: shifted(name, data["populations"][name], pop) for name, pop in model.populations.items()}
    return dataclasses.replace(model, death=death, down=down_p, settings=settings, populations=pops)


def fit(model: NaturalHistory) -> tuple[NaturalHistory, np.ndarray]:
    """Least-squares fit (residuals scaled by tolerance) of the fitted quantities to the ``fit: true`` targets."""
    targets = [t for t in model.source.get("targets", []) if t.get("fit", True)]

    def residuals(params: np.ndarray) -> np.ndarray:
        m = _with(model, params)
        return np.array([(statistic(m, t["population"], t["statistic"], int(t["day"])) - t["value"]) / t["tolerance"]
                         for t in targets])

    n_params = 4 + len(FITTED_SETTINGS) + len(FITTED_SHIFTS)
    result = least_squares(residuals, np.zeros(n_params), diff_step=[1e-3] * n_params)
    return _with(model, result.x), result.x

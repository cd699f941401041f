"""Every outcome the protocols use, derived from daily WHO-level paths (patients x days + 1).

Definitions (day ``d`` counted from randomisation, day 0 = baseline):

- ``who_at(d)``: the WHO clinical progression scale level on day d (0-10).
- ``dead_by(d)``: level 10 on day d.
- ``discharged_by(d)``: alive at home (level <= 3) on day d; the model has no readmission, so this is also
  "discharged alive at some day <= d".
- ``time_to_discharge``: first day at level <= 3 (``None``/censored at the horizon; death competes).
- ``improved_at(d)``: alive and at least one level better than at baseline, or discharged (WHO Working Group
  2020, Lancet Infect Dis 20:e192, "improvement" as a decrease of at least one level).
- ``ct_improved_at(d)``: the chest-CT proxy. Alive, not worse than at baseline, and the last clinical
  worsening at least ``ct_lag_days`` days before d. Radiological change lags the clinical course: lung
  involvement on CT peaks about 10 days after symptom onset and resolves afterwards (Pan F et al., Radiology
  2020;295:715-21), so a patient is counted as improved on CT once a week has passed since their worst day.

References
----------
WHO Working Group on the Clinical Characterisation and Management of COVID-19 infection (2020). Lancet Infect Dis
20:e192-e197. Pan F et al. (2020). Time course of lung changes at chest CT during recovery from coronavirus
disease 2019 (COVID-19). Radiology 295:715-721.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from equipoise.simulate.natural_history.model import DEAD, DISCHARGED

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Paths:
    """Daily WHO levels of simulated patients, with the outcome definitions above as methods."""

    levels: NDArray[np.int8]
    ct_lag_days: int = 7

    @property
    def baseline(self) -> NDArray[np.int8]:
        return self.levels[..., 0]

    @property
    def horizon(self) -> int:
        return int(self.levels.shape[-1] - 1)

    def _day(self, day: int) -> int:
        if not 0 <= day <= self.horizon:
            raise ValueError(f"day {day} is outside the simulated follow-up 0..{self.horizon}")
        return day

    def who_at(self, day: int) -> NDArray[np.int8]:
        return self.levels[..., self._day(day)]

    def dead_by(self, day: int) -> BoolArray:
        return np.asarray(self.who_at(day) == DEAD)

    def discharged_by(self, day: int) -> BoolArray:
        return np.asarray(self.who_at(day) <= DISCHARGED)

    def improved_at(self, day: int) -> BoolArray:
        level = self.who_at(day).astype(np.int16)
        return np.asarray((level != DEAD) & (level <= self.baseline.astype(np.int16) - 1))

    def time_to_discharge(self) -> tuple[NDArray[np.int64], BoolArray]:
        """(day of discharge or the horizon, discharged?) per patient."""
        home = self.levels <= DISCHARGED
        event = np.asarray(home.any(axis=-1))
        day = np.where(event, home.argmax(axis=-1), self.horizon)
        return day.astype(np.int64), event

    def ct_improved_at(self, day: int) -> BoolArray:
        d = self._day(day)
        window = self.levels[..., : d + 1].astype(np.int16)
        worsened = np.diff(window, axis=-1) > 0  # day j -> j + 1 went up
        any_worse = worsened.any(axis=-1)
        last_worse = np.where(any_worse, d - np.argmax(worsened[..., ::-1], axis=-1), 0)
        level = window[..., -1]
        return np.asarray((level != DEAD) & (level <= window[..., 0]) & (d - last_worse >= self.ct_lag_days))

"""Patients needed for a number of events: uniform accrual, exponential survival, exponential dropout.

The model of rpact's ``getSampleSizeSurvival`` (Lachin & Foulkes 1986, Biometrics 42:507–519, with the
competing dropout hazard): patients enter uniformly over [0, a]; in arm j the event hazard is lambda_j and the
dropout hazard phi_j = -log(1 - dropout)/dropout_time. By calendar time x the expected fraction of the N
planned patients with an event is

    omega(x) = sum_j w_j (1/a) int_0^min(x, a) lambda_j/(lambda_j + phi_j) (1 - exp(-(lambda_j + phi_j)(x - u))) du

with w_j the allocation shares. The final analysis is at a + follow-up, so N = D_K / omega(a + f); interim
analyses happen when omega(x) N reaches D_k, and the patients enrolled then are N min(x, a)/a.

References
----------
Lachin JM, Foulkes MA (1986). Evaluation of sample size and power for analyses of survival with allowance for
nonuniform patient entry, losses to follow-up, noncompliance, and stratification. Biometrics 42:507-519.
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials. Springer
(rpact's ``getSampleSizeSurvival``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from equipoise.errors import UserError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Accrual:
    accrual: float
    follow_up: float
    lambda_control: float
    hazard_ratio: float
    ratio: float
    dropout: float = 0.0
    dropout_time: float = 12.0

    @property
    def lambda_treatment(self) -> float:
        return self.hazard_ratio * self.lambda_control

    @property
    def dropout_hazard(self) -> float:
        return -math.log(1.0 - self.dropout) / self.dropout_time if self.dropout > 0 else 0.0

    @property
    def study_end(self) -> float:
        return self.accrual + self.follow_up

    def _arm(self, x: float, lam: float) -> float:
        total = lam + self.dropout_hazard
        m = min(x, self.accrual)
        if m <= 0:
            return 0.0
        integral = m - (math.exp(-total * (x - m)) - math.exp(-total * x)) / total
        return lam / total * integral / self.accrual

    def event_fraction(self, x: float) -> float:
        """omega(x): expected events by calendar time x per planned patient."""
        w1 = self.ratio / (1.0 + self.ratio)
        return w1 * self._arm(x, self.lambda_treatment) + (1 - w1) * self._arm(x, self.lambda_control)

    def patients_for(self, events: float) -> float:
        return events / self.event_fraction(self.study_end)

    def analysis_time(self, events: float, patients: float) -> float:
        """Calendar time at which ``patients`` planned patients are expected to have had ``events`` events."""
        target = events / patients
        end = self.study_end
        if target >= self.event_fraction(end) - 1e-15:
            return end
        return float(brentq(lambda x: self.event_fraction(x) - target, 0.0, end, xtol=1e-12))

    def enrolled_by(self, x: float, patients: float) -> float:
        return patients * min(x, self.accrual) / self.accrual

    def times_and_patients(self, events: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        n = self.patients_for(float(events[-1]))
        times = np.array([self.analysis_time(float(d), n) for d in events])
        times[-1] = self.study_end
        enrolled = np.array([self.enrolled_by(float(x), n) for x in times])
        return n, times, enrolled


def accrual_model(*, hazard_ratio: float, ratio: float, median_control: float | None, p_control: float | None,
                  event_time: float | None, accrual: float | None, follow_up: float | None,
                  dropout: float | None, dropout_time: float | None) -> Accrual | None:
    """The accrual model when enough is given (a control hazard, accrual and follow-up), else ``None``."""
    if median_control is None and p_control is None:
        if accrual is not None or follow_up is not None:
            raise UserError("patients from accrual and follow-up need the control arm's median survival "
                            "(median_control) or event probability (p_control with event_time)")
        return None
    if accrual is None or follow_up is None:
        raise UserError("time-to-event: give both accrual and follow_up (durations, in the units of the median) to "
                        "compute the number of patients")
    if median_control is not None and p_control is not None:
        raise UserError("give either median_control or p_control for the control arm, not both")
    if median_control is not None:
        if not median_control > 0:
            raise UserError(f"median_control must be > 0, got {median_control}")
        lam = math.log(2.0) / median_control
    else:
        assert p_control is not None
        if not 0 < p_control < 1:
            raise UserError(f"p_control must be between 0 and 1 (exclusive), got {p_control}")
        horizon = 12.0 if event_time is None else event_time
        if not horizon > 0:
            raise UserError(f"event_time must be > 0, got {event_time}")
        lam = -math.log(1.0 - p_control) / horizon
    if not accrual > 0:
        raise UserError(f"accrual must be > 0, got {accrual}")
    if not follow_up >= 0:
        raise UserError(f"follow_up must be >= 0, got {follow_up}")
    d = 0.0 if dropout is None else float(dropout)
    if not 0 <= d < 1:
        raise UserError(f"dropout must be in [0, 1), got {dropout}")
    dt = 12.0 if dropout_time is None else float(dropout_time)
    if not dt > 0:
        raise UserError(f"dropout_time must be > 0, got {dropout_time}")
    return Accrual(accrual=float(accrual), follow_up=float(follow_up), lambda_control=lam,
                   hazard_ratio=hazard_ratio, ratio=ratio, dropout=d, dropout_time=dt)

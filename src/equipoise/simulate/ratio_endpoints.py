"""Binary outcomes compared on a ratio scale: the Wald test of the log risk ratio or the log odds ratio.

This is the statistic `equipoise analyze interim` monitors for a protocol whose primary method is
``risk-ratio`` or ``odds-ratio`` (``analyze.interim_inputs.oriented_effect`` takes the log ratio and its Wald
SE from ``analyze.binary.two_by_two``), so `simulate protocol` crosses the boundaries with the same z:

- log risk ratio, SE^2 = 1/a - 1/(a+b) + 1/c - 1/(c+d) (Katz et al. 1978, Biometrics 34:469);
- log odds ratio, SE^2 = 1/a + 1/b + 1/c + 1/d (Woolf 1955, Ann Hum Genet 19:251);

with a, b the experimental arm's events and non-events and c, d the control arm's. When any of the four cells
is zero, 0.5 is added to every cell (Haldane 1956, Ann Hum Genet 20:309), the rule ``two_by_two`` applies,
so every simulated look has a finite z. Counts per look are drawn stage by stage from binomials (the exact
sufficient statistic), vectorised over trials.

References
----------
Katz D, Baptista J, Azen SP, Pike MC (1978). Obtaining confidence intervals for the risk ratio in cohort
studies. Biometrics 34:469-474. Woolf B (1955). On estimating the relation between blood group and disease.
Ann Hum Genet 19:251-253. Haldane JBS (1956). The estimation and significance of the logarithm of a ratio of
frequencies. Ann Hum Genet 20:309-311.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from equipoise.analyze.binary import RatioMeasure, log_ratio_wald
from equipoise.errors import UserError
from equipoise.simulate.endpoints import LookData, _stagewise, per_arm


@dataclass(frozen=True)
class BinaryRatioEndpoint:
    """Two arms, a binary outcome, the Wald z of the log risk ratio or log odds ratio (module docstring).

    z is positive when the experimental arm does better: more events if ``higher_is_better``, fewer otherwise.
    The estimate is the log ratio (experimental / control) with its Wald SE.
    """

    p_control: float
    p_treatment: float
    planned: tuple[float, ...]
    ratio: float = 1.0
    higher_is_better: bool = True
    measure: RatioMeasure = "risk-ratio"

    def __post_init__(self) -> None:
        if self.measure not in ("risk-ratio", "odds-ratio"):
            raise UserError(f"a binary ratio endpoint measures risk-ratio or odds-ratio, not {self.measure!r}")
        if not (0 < self.p_control < 1 and 0 < self.p_treatment < 1):
            raise UserError("a risk or odds ratio needs both event probabilities strictly between 0 and 1, not "
                            f"{self.p_control:g} and {self.p_treatment:g}")

    @property
    def true_effect(self) -> float:
        pe, pc = self.p_treatment, self.p_control
        if self.measure == "risk-ratio":
            return float(np.log(pe / pc))
        return float(np.log(pe / (1 - pe)) - np.log(pc / (1 - pc)))

    @property
    def estimand(self) -> str:
        name = "risk" if self.measure == "risk-ratio" else "odds"
        return f"log {name} ratio (experimental / control)"

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        n_e, n_c = per_arm(self.planned, self.ratio)
        x_e = np.cumsum(rng.binomial(_stagewise(n_e), self.p_treatment, size=(n_trials, len(n_e))), axis=1)
        x_c = np.cumsum(rng.binomial(_stagewise(n_c), self.p_control, size=(n_trials, len(n_c))), axis=1)
        ne = np.broadcast_to(n_e.astype(float), x_e.shape)
        nc = np.broadcast_to(n_c.astype(float), x_c.shape)
        est, se = log_ratio_wald(x_e, ne, x_c, nc, self.measure)
        sign = 1.0 if self.higher_is_better else -1.0
        size = np.broadcast_to((n_e + n_c).astype(float), est.shape)
        return LookData(sign * est / se, est, se, np.array(size))

"""Boundaries at the information actually observed: the point of error spending (Lan & DeMets 1983; J&T
section 7.2.2) is that looks may come at other information fractions than planned, and the bounds follow.

``bounds_at(plan, observed)`` is the one place where this is done (``equipoise.analyze.interim.monitor`` uses it):
the looks are the observed information fractions (relative to the planned maximum information) followed by the
planned looks still to come, and the plan's design is recomputed at those fractions (``gsd``: the spending
functions evaluated there, beta-spending futility bounds re-solved, as rpact's ``getDesignGroupSequential`` with
the observed ``informationRates`` does). ``final=True``, or an observed fraction of 1 or more (over-running),
makes the last observed look the final analysis: it spends all remaining alpha (and its futility bound is its
efficacy bound).

References
----------
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 7.2.2 (information fractions other than planned) and 7.3 (beta spending).
Pampallona S, Tsiatis AA, Kim K (2001). Interim monitoring of group sequential trials using spending functions
for the type I and type II error probabilities. Drug Inf J 35:1113-1121.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from equipoise.design.group_sequential import GroupSequentialDesign
from equipoise.design.sequential_plan import GroupSequentialPlan
from equipoise.errors import UserError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class InterimBounds:
    """Bounds for looks at observed information fractions (see the module docstring). Arrays have one entry per
    look: the ``observed`` looks first, then the planned looks still to come (none when ``final``)."""

    information_rates: FloatArray
    upper: FloatArray
    futility: FloatArray | None
    cumulative_alpha: FloatArray
    observed: int
    final: bool
    design: GroupSequentialDesign

    def to_dict(self) -> dict[str, Any]:
        def arr(a: FloatArray | None) -> list[float] | None:
            return None if a is None else [float(x) for x in a]

        return {"information_rates": arr(self.information_rates), "upper": arr(self.upper),
                "futility": arr(self.futility), "cumulative_alpha": arr(self.cumulative_alpha),
                "observed": self.observed, "final": self.final}

    def __str__(self) -> str:
        kind = "the last look is the final analysis" if self.final else "interim looks"
        lines = [f"Bounds at the observed information ({self.observed} observed; {kind}):",
                 "  look  info    efficacy  futility  cumulative alpha"]
        for i, t in enumerate(self.information_rates):
            fut = "—" if self.futility is None else f"{self.futility[i]:.4f}"
            lines.append(f"  {i + 1:<5} {t:<7.3f} {self.upper[i]:<9.4f} {fut:<9} {self.cumulative_alpha[i]:.6f}")
        return "\n".join(lines)



def look_schedule(planned: Sequence[float], observed: Sequence[float], final: bool) -> list[float]:
    """The information fractions of the looks: the observed ones, then the planned ones still to come; a final
    observed look is placed at 1 (it spends all remaining alpha)."""
    if final:
        return [*observed[:-1], 1.0]
    rates = [*observed, *[r for r in planned[len(observed):] if r > observed[-1]]]
    if rates[-1] < 1.0:
        rates.append(1.0)
    return rates


def bounds_at(plan: GroupSequentialPlan | GroupSequentialDesign, observed: Any, final: bool = False
              ) -> InterimBounds:
    """Boundaries for looks at the ``observed`` information fractions (see the module docstring). ``plan`` is a
    ``GroupSequentialPlan`` or a computed design (whose quadrature is kept)."""
    try:
        t = [float(x) for x in observed]
    except (TypeError, ValueError):
        raise UserError(f"observed information fractions must be numbers, got {observed!r}") from None
    if not t or not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise UserError("observed information fractions must be positive and strictly increasing")
    final = final or t[-1] >= 1.0
    if isinstance(plan, GroupSequentialDesign):
        source = plan
        plan = GroupSequentialPlan.from_design(source)
        design = plan.design(look_schedule(plan.information_rates, t, final),
                             beta_adjustment=source.beta_adjustment, quadrature=source.quadrature)
    else:
        design = plan.design(look_schedule(plan.information_rates, t, final))
    return InterimBounds(design.information_rates, design.upper, design.futility, design.cumulative_alpha,
                         len(t), final, design)

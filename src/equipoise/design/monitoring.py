"""Boundaries at the information actually observed: the point of error spending (Lan & DeMets 1983; J&T
section 7.2.2) is that looks may come at other information fractions than planned, and the bounds follow.

``bounds_at(design, observed)`` recomputes the efficacy bounds for looks at the observed information fractions
(relative to the planned maximum information; values above 1 mean over-running, where the spending function is
capped at the total alpha) and, for one-sided designs with beta-spending futility, the futility bounds at the
design's drift. ``final=True`` makes the last observed look the final analysis: it spends all remaining alpha
(and its futility bound is its efficacy bound).

References
----------
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 7.2.2 (information fractions other than planned) and 7.3 (beta spending).
Pampallona S, Tsiatis AA, Kim K (2001). Interim monitoring of group sequential trials using spending functions
for the type I and type II error probabilities. Drug Inf J 35:1113-1121.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from equipoise.design.boundaries import _binding_path, _futility_path, efficacy_bounds
from equipoise.design.spending import Family, cumulative_spending
from equipoise.errors import UserError

if TYPE_CHECKING:
    from equipoise.design.group_sequential import GroupSequentialDesign

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class InterimBounds:
    """Bounds for looks at observed information fractions (see the module docstring)."""

    information_rates: FloatArray
    upper: FloatArray
    futility: FloatArray | None
    cumulative_alpha: FloatArray
    final: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def arr(a: FloatArray | None) -> list[float] | None:
            return None if a is None else [float(x) for x in a]

        return {"information_rates": arr(self.information_rates), "upper": arr(self.upper),
                "futility": arr(self.futility), "cumulative_alpha": arr(self.cumulative_alpha),
                "final": self.final, "note": self.note}

    def __str__(self) -> str:
        kind = "the last look is the final analysis" if self.final else "interim looks"
        lines = [f"Bounds at the observed information ({kind}):",
                 "  look  info    efficacy  futility  cumulative alpha"]
        for i, t in enumerate(self.information_rates):
            fut = "—" if self.futility is None else f"{self.futility[i]:.4f}"
            lines.append(f"  {i + 1:<5} {t:<7.3f} {self.upper[i]:<9.4f} {fut:<9} {self.cumulative_alpha[i]:.6f}")
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines)


def bounds_at(design: GroupSequentialDesign, observed: Any, final: bool = False) -> InterimBounds:
    try:
        t = np.asarray([float(x) for x in observed], dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"observed information fractions must be numbers, got {observed!r}") from None
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise UserError("observed information fractions must be positive and strictly increasing")
    family = Family(design.spending)
    capped = np.minimum(t, 1.0)
    note = None
    if not family.is_spending:
        # constant-shape designs have no spending function: keep the planned constant
        exponent = 0.0 if family is Family.OF_CONSTANT else 0.5
        scale = float(design.upper[-1]) if family is Family.OF_CONSTANT else float(design.upper[0])
        upper = scale * t ** (exponent - 0.5)
        note = "constant-shape design: the planned constant is kept, so the type I error is only approximately alpha"
        return InterimBounds(t, upper, None, np.full(t.size, np.nan), final, note)
    parameter = design.gamma if family is Family.HSD else design.rho
    cum_alpha = cumulative_spending(family, design.alpha, capped, design.sided, parameter)
    if final:
        cum_alpha[-1] = design.alpha
    futility: FloatArray | None = None
    if design.futility_spending is not None and design.sided == 1:
        fut_family = Family(design.futility_spending)
        fut_parameter = design.futility_gamma if fut_family is Family.HSD else design.futility_rho
        cum_beta = cumulative_spending(fut_family, design.beta, capped, 1, fut_parameter, beta=True)
        if design.binding:
            upper, futility = _binding_path(t, cum_alpha, cum_beta, design.drift, design.quadrature)
        else:
            upper = efficacy_bounds(t, cum_alpha, 1, design.quadrature)
            futility = _futility_path(t, upper, cum_beta, design.drift, design.quadrature)
        futility = np.minimum(futility, upper)
        if final:
            futility[-1] = upper[-1]
    else:
        upper = efficacy_bounds(t, cum_alpha, design.sided, design.quadrature)
        if design.futility_spending is not None:
            note = "two-sided futility bounds are not recomputed at observed information; efficacy bounds only"
    return InterimBounds(t, upper, futility, cum_alpha, final, note)

"""Error-spending functions and the names of the boundary families.

- O'Brien–Fleming type (Lan & DeMets 1983, Biometrika 70:659–663): alpha(t) = 2 - 2*Phi(z_{1-alpha/2}/sqrt(t)).
- Pocock type (Lan & DeMets 1983): alpha(t) = alpha*log(1 + (e - 1)*t).
- Hwang, Shih & DeCani (1990, Stat Med 9:1439–1445): alpha(t) = alpha*(1 - exp(-gamma*t))/(1 - exp(-gamma)),
  alpha*t when gamma = 0.
- Kim & DeMets power family (1987, Biometrika 74:149–154): alpha(t) = alpha*t^rho.

Two-sided designs spend the total two-sided alpha; the O'Brien–Fleming-type function is then applied to
alpha/2 per side and doubled (rpact's and gsDesign's convention), the others are linear in alpha. Beta
spending uses the same families on beta (J&T section 7.3; rpact ``typeBetaSpending``).

References
----------
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Kim K, DeMets DL (1987). Design and analysis of group sequential tests based on the type I error spending rate
function. Biometrika 74:149-154.
Hwang IK, Shih WJ, DeCani JS (1990). Group sequential designs using a family of type I error probability
spending functions. Stat Med 9:1439-1445.
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 7.3 (beta spending).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from equipoise.errors import UserError


class Family(StrEnum):
    """Boundary families: four Lan–DeMets spending families and the two classical constant-shape designs
    (Pocock 1977, Biometrika 64:191–199; O'Brien & Fleming 1979, Biometrics 35:549–556)."""

    OBF = "obf"
    POCOCK = "pocock"
    HSD = "hsd"
    KD = "kd"
    OF_CONSTANT = "of-constant"
    POCOCK_CONSTANT = "pocock-constant"

    @property
    def is_spending(self) -> bool:
        return self in SPENDING_FAMILIES

    @property
    def rpact_name(self) -> str:
        """The matching ``typeOfDesign`` of rpact's ``getDesignGroupSequential``."""
        return _RPACT[self]


SPENDING_FAMILIES = frozenset({Family.OBF, Family.POCOCK, Family.HSD, Family.KD})

_RPACT = {
    Family.OBF: "asOF", Family.POCOCK: "asP", Family.HSD: "asHSD", Family.KD: "asKD",
    Family.OF_CONSTANT: "OF", Family.POCOCK_CONSTANT: "P",
}

_ALIASES = {
    "obf": Family.OBF, "asof": Family.OBF, "bsof": Family.OBF, "ldof": Family.OBF,
    "obrien-fleming": Family.OBF,
    "pocock": Family.POCOCK, "asp": Family.POCOCK, "bsp": Family.POCOCK,
    "ldpocock": Family.POCOCK,
    "hsd": Family.HSD, "ashsd": Family.HSD, "bshsd": Family.HSD,
    "kd": Family.KD, "askd": Family.KD, "bskd": Family.KD, "power": Family.KD,
    "of-constant": Family.OF_CONSTANT, "obf-constant": Family.OF_CONSTANT,
    "pocock-constant": Family.POCOCK_CONSTANT,
}

FAMILY_CHOICES = "obf, pocock, hsd, kd, of-constant, pocock-constant"


def parse_family(name: str | Family, option: str = "spending") -> Family:
    """Case-insensitive family name (``"oF-constant"`` is ``of-constant``; rpact's ``asOF`` etc. are accepted)."""
    if isinstance(name, Family):
        return name
    key = str(name).strip().lower().replace("_", "-")
    try:
        return _ALIASES[key]
    except KeyError:
        raise UserError(f"{option}: {name!r} is not a boundary family; choose one of {FAMILY_CHOICES}") from None


def spending_parameter(family: Family, gamma: float | None, rho: float | None, option: str) -> float | None:
    """The family's shape parameter: gamma for hsd, rho for kd, none for the others."""
    if family is Family.HSD:
        if gamma is None:
            raise UserError(f"{option}: hsd spending needs gamma (e.g. -4 for O'Brien-Fleming-like, 1 for "
                            "Pocock-like)")
        if not np.isfinite(gamma):
            raise UserError(f"{option}: gamma must be a finite number, got {gamma}")
        return float(gamma)
    if family is Family.KD:
        if rho is None:
            raise UserError(f"{option}: kd spending needs rho > 0 (e.g. 3 for O'Brien-Fleming-like, 1 for linear)")
        if not (np.isfinite(rho) and rho > 0):
            raise UserError(f"{option}: rho must be a number > 0, got {rho}")
        return float(rho)
    return None


def cumulative_spending(
    family: Family, total: float, t: NDArray[np.float64], sided: int = 1, parameter: float | None = None,
    *, beta: bool = False,
) -> NDArray[np.float64]:
    """Error spent up to information fractions ``t`` (a vector ending at 1), summing to ``total`` at t = 1.

    For alpha, ``total`` is the whole (one- or two-sided) alpha. For beta (``beta=True``) ``sided`` is
    ignored, as in rpact.

    References
    ----------
    Lan KKG, DeMets DL (1983). Biometrika 70:659-663. Kim K, DeMets DL (1987). Biometrika 74:149-154. Hwang IK,
    Shih WJ, DeCani JS (1990). Stat Med 9:1439-1445.
    """
    t = np.asarray(t, dtype=float)
    if family is Family.OBF:
        per_side = 1 if beta else sided
        z = -ndtri(total / (2.0 * per_side))
        with np.errstate(divide="ignore"):
            return np.asarray(2.0 * per_side * ndtr(-z / np.sqrt(t)))
    if family is Family.POCOCK:
        return np.asarray(total * np.log1p((np.e - 1.0) * t))
    if family is Family.HSD:
        g = float(parameter if parameter is not None else 0.0)
        if g == 0.0:
            return np.asarray(total * t)
        return np.asarray(total * np.expm1(-g * t) / np.expm1(-g))
    if family is Family.KD:
        return np.asarray(total * t ** float(parameter if parameter is not None else 1.0))
    raise ValueError(f"{family} is not a spending family")

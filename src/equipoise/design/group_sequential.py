"""Group-sequential designs: ``gsd()`` and its result, ``GroupSequentialDesign``.

Boundaries follow Jennison & Turnbull (2000), chapters 2 (Pocock and O'Brien–Fleming constant designs), 7
(error spending, Lan & DeMets 1983) and 19 (numerical integration); characteristics (drift, inflation factor,
expected sample size) follow J&T section 2.7 and rpact's ``getDesignCharacteristics``.

Sign convention: Z > 0 favours the experimental arm. One-sided designs reject H0 when Z_k >= upper_k and stop
for futility when Z_k <= lower_k. Two-sided designs are symmetric: they reject when |Z_k| >= upper_k
(``lower = -upper``) and, with futility, stop for futility when |Z_k| < futility_k.

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, sections 2.7 (inflation factor, expected sample size), 7.2-7.3 and 19.2.
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Kim K, DeMets DL (1987). Design and analysis of group sequential tests based on the type I error spending rate
function. Biometrika 74:149-154. Hwang IK, Shih WJ, DeCani JS (1990). Group sequential designs using a family
of type I error probability spending functions. Stat Med 9:1439-1445.
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials.
Springer (the methods of rpact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from equipoise.design.boundaries import (
    beta_spending_one_sided,
    constant_shape_bounds,
    drift_for_power,
    efficacy_bounds,
    exit_probabilities,
    fixed_drift,
)
from equipoise.design.integration import DEFAULT_QUADRATURE, Quadrature
from equipoise.design.spending import Family, cumulative_spending, parse_family, spending_parameter
from equipoise.design.text import design_text
from equipoise.design.two_sided_futility import beta_spending_two_sided
from equipoise.errors import UserError
from equipoise.figures.boundaries import boundaries_plot
from equipoise.plan_defaults import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_SIDED, DEFAULT_SPENDING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.design.sample_size import SampleSizeResult

FloatArray = NDArray[np.float64]

MAX_LOOKS = 20
BOUND_DISPLAY_CAP = 7.5  # bounds above this cannot be crossed in practice (P < 1e-13); rpact prints them as Inf


@dataclass(frozen=True, eq=False)
class GroupSequentialDesign:
    """A group-sequential design on the z scale, with its operating characteristics.

    Attributes (arrays have one entry per look):

    - ``information_rates``: information fraction t_k at each look (ends at 1).
    - ``upper``: efficacy bounds; reject H0 in favour of the experimental arm when Z_k >= upper_k.
    - ``lower``: one-sided designs: futility bounds (stop when Z_k <= lower_k; the last equals ``upper[-1]``)
      or ``None``; two-sided designs: ``-upper`` (reject in the other direction when Z_k <= -upper_k).
    - ``futility``: futility bounds in both cases (one-sided: same as ``lower``; two-sided: stop for futility
      when |Z_k| < futility_k, 0 meaning no futility stop at that look) or ``None``.
    - ``cumulative_alpha`` / ``alpha_spent``: type I error spent up to / at each look (two-sided: both tails).
      For spending designs these are the spending function's values; for the constant designs the
      crossing probabilities under H0. Non-binding futility bounds are ignored here, as they must be.
    - ``cumulative_beta`` / ``beta_spent``: type II error spent by the futility bounds (or ``None``).
    - ``drift``: the expected Z at full information giving power 1 - beta (rpact's ``shift`` is drift²).
    - ``inflation_factor``: maximum information relative to a single-look test with the same alpha and power.
    - ``rejection_h0``/``futility_h0``/``rejection_h1``/``futility_h1``: per-look stopping probabilities
      under H0 (drift 0) and H1 (``drift``), futility bounds applied.
    - ``expected_sample_size_h0``/``_h01``/``_h1``: expected sample size relative to the fixed design under
      drift 0, drift/2 and drift (J&T's E(N)/n_fixed; rpact's ASN).
    """

    information_rates: FloatArray
    upper: FloatArray
    lower: FloatArray | None
    futility: FloatArray | None
    sided: int
    alpha: float
    beta: float
    spending: str
    gamma: float | None
    rho: float | None
    futility_spending: str | None
    futility_gamma: float | None
    futility_rho: float | None
    binding: bool
    beta_adjustment: bool
    cumulative_alpha: FloatArray
    cumulative_beta: FloatArray | None
    drift: float
    inflation_factor: float
    rejection_h0: FloatArray
    futility_h0: FloatArray
    rejection_h1: FloatArray
    futility_h1: FloatArray
    expected_sample_size_h0: float
    expected_sample_size_h01: float
    expected_sample_size_h1: float
    quadrature: Quadrature = field(default=DEFAULT_QUADRATURE, repr=False)

    @property
    def looks(self) -> int:
        return int(self.information_rates.size)

    @property
    def alpha_spent(self) -> FloatArray:
        """Type I error spent at each look (increments of ``cumulative_alpha``)."""
        return np.diff(np.concatenate(([0.0], self.cumulative_alpha)))

    @property
    def beta_spent(self) -> FloatArray | None:
        if self.cumulative_beta is None:
            return None
        return np.diff(np.concatenate(([0.0], self.cumulative_beta)))

    @property
    def power(self) -> FloatArray:
        """Cumulative power at each look under H1."""
        return np.cumsum(self.rejection_h1)

    @property
    def stage_levels(self) -> FloatArray:
        """One-sided nominal significance level of each efficacy bound, 1 - Phi(upper_k)."""
        return np.asarray(ndtr(-self.upper))

    @property
    def fixed_drift(self) -> float:
        """z_{1-alpha/sided} + z_{1-beta}: the drift of the single-look design."""
        return fixed_drift(self.alpha, self.beta, self.sided)

    def with_beta(self, beta: float) -> GroupSequentialDesign:
        """The same design planned for another type II error (beta-spending bounds are recomputed)."""
        if math.isclose(beta, self.beta, rel_tol=0, abs_tol=1e-15):
            return self
        return gsd(looks=self.looks, alpha=self.alpha, sided=self.sided, spending=self.spending,
                   information_rates=self.information_rates, gamma=self.gamma, rho=self.rho, beta=beta,
                   futility_spending=self.futility_spending, futility_gamma=self.futility_gamma,
                   futility_rho=self.futility_rho, binding=self.binding, beta_adjustment=self.beta_adjustment,
                   quadrature=self.quadrature)

    def crossing_probabilities(self, drift: float) -> tuple[FloatArray, FloatArray]:
        """Per-look probabilities of stopping for efficacy (upper; two-sided: either tail) and for futility at
        a given drift, with all bounds applied."""
        up, down, fut = exit_probabilities(self.information_rates, self.upper, self.futility if self.sided == 1
                                           else None, self.sided, drift,
                                           self.futility if self.sided == 2 else None, self.quadrature)
        if self.sided == 2:
            return up + down, fut
        return up, fut

    def decision(self, look: int, z: float) -> str:
        """What the design says at ``look`` (1-based) for a statistic ``z``: ``efficacy``, ``harm`` (two-sided,
        significant in favour of control), ``futility`` or ``continue`` (``accept`` at the last look)."""
        if not 1 <= look <= self.looks:
            raise UserError(f"look must be between 1 and {self.looks}, got {look}")
        k = look - 1
        last = look == self.looks
        if z >= self.upper[k]:
            return "efficacy"
        if self.sided == 2 and z <= -self.upper[k]:
            return "harm"
        if self.futility is not None and not last:
            if self.sided == 1 and z <= self.futility[k]:
                return "futility"
            if self.sided == 2 and abs(z) < self.futility[k]:
                return "futility"
        return "accept" if last else "continue"

    def to_dict(self) -> dict[str, Any]:
        def arr(a: FloatArray | None) -> list[float] | None:
            return None if a is None else [float(x) for x in a]

        return {
            "looks": self.looks,
            "information_rates": arr(self.information_rates),
            "sided": self.sided,
            "alpha": self.alpha,
            "beta": self.beta,
            "power": 1.0 - self.beta,
            "spending": self.spending,
            "gamma": self.gamma,
            "rho": self.rho,
            "futility_spending": self.futility_spending,
            "futility_gamma": self.futility_gamma,
            "futility_rho": self.futility_rho,
            "binding": self.binding,
            "upper": arr(self.upper),
            "lower": arr(self.lower),
            "futility": arr(self.futility),
            "stage_levels": arr(self.stage_levels),
            "cumulative_alpha": arr(self.cumulative_alpha),
            "alpha_spent": arr(self.alpha_spent),
            "cumulative_beta": arr(self.cumulative_beta),
            "beta_spent": arr(self.beta_spent),
            "drift": self.drift,
            "inflation_factor": self.inflation_factor,
            "cumulative_power": arr(self.power),
            "rejection_h0": arr(self.rejection_h0),
            "futility_h0": arr(self.futility_h0),
            "rejection_h1": arr(self.rejection_h1),
            "futility_h1": arr(self.futility_h1),
            "expected_sample_size_h0": self.expected_sample_size_h0,
            "expected_sample_size_h01": self.expected_sample_size_h01,
            "expected_sample_size_h1": self.expected_sample_size_h1,
            "method": "Lan-DeMets error spending / Pocock and O'Brien-Fleming constants; recursive numerical "
                      f"integration (Jennison & Turnbull 2000, ch. 19), {self.quadrature.describe()}",
        }

    def __str__(self) -> str:
        return design_text(self)

    def plot(self, sample_size: SampleSizeResult | None = None) -> Figure:
        """Boundaries on the z scale, on the effect scale and the sample-size path (``figures/boundaries.py``)."""

        return boundaries_plot(self, sample_size)


def information_schedule(information_rates: Any, looks: int | None) -> tuple[FloatArray, int]:
    """The information fractions of the looks and their number: ``information_rates`` checked (increasing, above 0,
    ending at 1, one per look), or ``looks`` (default 3) equally spaced."""
    if information_rates is None:
        k = 3 if looks is None else looks
        _check_looks(k)
        return np.arange(1, k + 1, dtype=float) / k, k
    try:
        t = np.asarray([float(x) for x in information_rates], dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"information rates must be numbers, got {information_rates!r}") from None
    k = t.size
    if looks is not None and looks != k:
        raise UserError(f"{k} information rates given for {looks} looks; give one rate per look")
    _check_looks(k)
    if not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise UserError(f"information rates must be strictly increasing and above 0, got "
                        f"{', '.join(f'{x:g}' for x in t)}")
    if abs(t[-1] - 1.0) > 1e-9:
        raise UserError(f"the last information rate must be 1 (the final analysis), got {t[-1]:g}")
    t[-1] = 1.0
    return t, k


def _check_looks(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_LOOKS:
        raise UserError(f"looks must be a whole number between 1 and {MAX_LOOKS}, got {k}")


def _check_probability(name: str, value: float, upper: float = 1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not (0.0 < v < upper):
        raise UserError(f"{name} must be between 0 and {upper:g} (exclusive), got {value}")
    return v


def gsd(
    looks: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    sided: int = DEFAULT_SIDED,
    spending: str | Family = DEFAULT_SPENDING,
    information_rates: Any = None,
    gamma: float | None = None,
    rho: float | None = None,
    beta: float | None = None,
    futility_spending: str | Family | None = None,
    futility_gamma: float | None = None,
    futility_rho: float | None = None,
    binding: bool = False,
    *,
    beta_adjustment: bool = True,
    quadrature: Quadrature = DEFAULT_QUADRATURE,
) -> GroupSequentialDesign:
    """Compute a group-sequential design.

    ``looks`` (default 3, or the number of ``information_rates``) equally spaced unless ``information_rates``
    is given; ``alpha`` is the total type I error (two-sided when ``sided=2``); ``spending`` one of ``obf``,
    ``pocock``, ``hsd`` (with ``gamma``), ``kd`` (with ``rho``), ``of-constant``, ``pocock-constant``
    (case-insensitive). ``beta`` (default 0.2) is used for the characteristics and, with
    ``futility_spending`` (same spending families, own ``futility_gamma``/``futility_rho``), for beta-spending
    futility bounds, ``binding`` or not. ``beta_adjustment`` (two-sided futility only) rescales beta spending
    to the first look with a futility bound, as rpact does by default. ``quadrature`` selects the integration
    grid (``integration.Quadrature``; default composite Gauss-Legendre, or J&T's grid with ``kind="jt"``).

    References
    ----------
    Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials.
    Chapman & Hall/CRC, ch. 2 and 7. Lan KKG, DeMets DL (1983). Biometrika 70:659-663. Pampallona S, Tsiatis AA,
    Kim K (2001). Drug Inf J 35:1113-1121 (beta spending).
    """
    t, k_max = information_schedule(information_rates, looks)
    if sided not in (1, 2) or isinstance(sided, bool):
        raise UserError(f"sided must be 1 or 2, got {sided}")
    alpha = _check_probability("alpha", alpha, 0.5)
    beta = DEFAULT_BETA if beta is None else _check_probability("beta", beta, 1.0 - alpha / sided)
    family = parse_family(spending, "spending")
    parameter = spending_parameter(family, gamma, rho, "spending")
    fut_family = None if futility_spending is None else parse_family(futility_spending, "futility spending")
    fut_parameter = None
    if fut_family is not None:
        if not fut_family.is_spending:
            raise UserError("futility spending must be one of obf, pocock, hsd, kd (beta spending); "
                            f"got {fut_family.value}")
        if not family.is_spending:
            raise UserError(f"beta-spending futility needs an alpha-spending efficacy boundary (obf, pocock, hsd, "
                            f"kd), not {family.value}")
        if k_max < 2:
            raise UserError("futility bounds need at least 2 looks")
        fut_parameter = spending_parameter(fut_family, futility_gamma, futility_rho, "futility spending")
    elif binding:
        raise UserError("binding futility needs a futility spending function (futility_spending)")
    q = quadrature

    lower: FloatArray | None = None
    futility: FloatArray | None = None
    cumulative_beta: FloatArray | None = None
    if family.is_spending:
        cumulative_alpha = cumulative_spending(family, alpha, t, sided, parameter)
        cumulative_alpha[-1] = alpha
        if fut_family is None:
            upper = efficacy_bounds(t, cumulative_alpha, sided, q)
        else:
            cumulative_beta = cumulative_spending(fut_family, beta, t, 1, fut_parameter, beta=True)
            cumulative_beta[-1] = beta
            if sided == 1:
                solution = beta_spending_one_sided(t, cumulative_alpha, cumulative_beta, binding, q)
                upper = solution.upper
                assert solution.lower is not None
                futility = solution.lower.copy()
                futility[-1] = upper[-1]
                lower = futility
            else:
                upper, futility, cumulative_beta, _ = beta_spending_two_sided(
                    t, cumulative_alpha, cumulative_beta, binding, beta_adjustment, q)
    else:
        exponent = 0.0 if family is Family.OF_CONSTANT else 0.5
        upper = constant_shape_bounds(t, alpha, sided, exponent, q)
        h0_up, h0_down, _ = exit_probabilities(t, upper, None, sided, 0.0, None, q)
        cumulative_alpha = np.cumsum(h0_up + h0_down)
    if sided == 2:
        lower = -upper

    design = GroupSequentialDesign(
        information_rates=t, upper=upper, lower=lower, futility=futility, sided=sided, alpha=alpha, beta=beta,
        spending=family.value, gamma=parameter if family is Family.HSD else None,
        rho=parameter if family is Family.KD else None,
        futility_spending=None if fut_family is None else fut_family.value,
        futility_gamma=fut_parameter if fut_family is Family.HSD else None,
        futility_rho=fut_parameter if fut_family is Family.KD else None,
        binding=binding if fut_family is not None else False, beta_adjustment=beta_adjustment,
        cumulative_alpha=cumulative_alpha, cumulative_beta=cumulative_beta, drift=float("nan"),
        inflation_factor=float("nan"), rejection_h0=np.zeros(k_max), futility_h0=np.zeros(k_max),
        rejection_h1=np.zeros(k_max), futility_h1=np.zeros(k_max), expected_sample_size_h0=float("nan"),
        expected_sample_size_h01=float("nan"), expected_sample_size_h1=float("nan"), quadrature=q,
    )
    return _with_characteristics(design)


def _with_characteristics(design: GroupSequentialDesign) -> GroupSequentialDesign:
    """Drift for power 1 - beta, inflation factor, stopping probabilities and expected sample sizes
    (J&T section 2.7; rpact ``getDesignCharacteristics``: two-sided power counts the upper tail only)."""
    t = design.information_rates
    fixed = design.fixed_drift
    capped = np.minimum(design.upper, BOUND_DISPLAY_CAP)
    one_sided_futility = design.futility if design.sided == 1 else None
    inner = design.futility if design.sided == 2 else None
    if design.looks == 1:
        drift = fixed
    else:
        drift = drift_for_power(t, capped, one_sided_futility, design.sided, 1.0 - design.beta, inner,
                                design.quadrature, guess=fixed * (1.0 + 0.05 * design.looks) ** 0.5)
    inflation = (drift / fixed) ** 2

    def stops(d: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        return exit_probabilities(t, capped, one_sided_futility, design.sided, d, inner, design.quadrature)

    def expected(probabilities: tuple[FloatArray, FloatArray, FloatArray]) -> float:
        up, down, fut = probabilities
        stop = (up + down + fut)[:-1]
        return float(inflation * (1.0 - np.sum(stop * (1.0 - t[:-1]))))

    at0, at_half, at1 = stops(0.0), stops(drift / 2.0), stops(drift)
    up0, down0, fut0 = (a.copy() for a in at0)
    up1, _, fut1 = (a.copy() for a in at1)
    fut0[-1] = fut1[-1] = 0.0  # at the last look, not rejecting is acceptance, not a futility stop
    single = design.looks == 1
    return replace(
        design, drift=float(drift), inflation_factor=float(inflation),
        rejection_h0=up0 + down0, futility_h0=fut0, rejection_h1=up1, futility_h1=fut1,
        expected_sample_size_h0=1.0 if single else expected(at0),
        expected_sample_size_h01=1.0 if single else expected(at_half),
        expected_sample_size_h1=1.0 if single else expected(at1),
    )


def z_quantile(p: float) -> float:
    return float(-ndtri(p))

"""Simultaneous confidence bands for a Kaplan–Meier curve over a time range [t_L, t_U]: the Hall–Wellner (1980)
band and the equal-precision band (Nair 1984), each with the linear, log(−log) and arcsine-square-root
transformations, as Klein & Moeschberger, *Survival Analysis* (2nd ed., 2003), §4.4, eqs 4.4.1–4.4.6 state them.

With σ_S²(t) = Σ_{t_i ≤ t} d_i / (Y_i (Y_i − d_i)) (Greenwood's variance of Ŝ(t) divided by Ŝ(t)², the square of
survfit's ``std.err``) and n patients, the band's range enters through a_L = n σ_S²(t_L) / (1 + n σ_S²(t_L)) and
a_U likewise. The critical values are the upper α points of

* Hall–Wellner: sup_{a_L ≤ x ≤ a_U} |W°(x)| (W° a Brownian bridge), K&M's c_α(a_L, a_U), Table C.3;
* equal precision: sup_{a_L ≤ x ≤ a_U} |W°(x)| / √(x(1 − x)), K&M's e_α(a_L, a_U), Table C.4.

Both are computed here to about 1e-9 instead of being read and interpolated from the printed tables:

* Hall–Wellner: given W°(a_L) = y, the bridge on [a_L, 1] is Brownian motion conditioned to reach 0 at time 1,
  so the probability of staying inside (−c, c) up to a_U is the strip transition density of Brownian motion
  (the method of images, Feller 1971, §X.5) times the Gaussian density of reaching 0 from W°(a_U), divided by
  that of reaching 0 from y. The integral over W°(a_U) has a closed form for each image term; the one over
  y is Gauss–Legendre on panels narrower than the densities' scales. a_L = 0, a_U = 1 gives Kolmogorov's
  distribution exactly.
* Equal precision: with s = x / (1 − x), W°(x) / √(x(1 − x)) = W(s) / √s, and U(u) = W(e^u) e^{−u/2} is the
  stationary Ornstein–Uhlenbeck process dU = −U/2 du + dB. The probability is that U, started from N(0, 1),
  stays in (−e, e) for a time T = log(s_U / s_L): the backward Kolmogorov equation with absorbing ends, solved
  by Chebyshev collocation (Trefethen, *Spectral Methods in MATLAB*, 2000, ch. 6–7) and a matrix exponential,
  integrated against the normal density with Clenshaw–Curtis weights. It converges spectrally (48 nodes give
  1e-12 for spans above 0.05; shorter spans get more nodes), checked against a finite-difference solution in R
  (tests/reference/analyze_km_bands.R).

References
----------
Hall WJ, Wellner JA (1980). Confidence bands for a survival curve from censored data. Biometrika 67:133-143.
Nair VN (1984). Confidence bands for survival functions with censored data: a comparative study.
Technometrics 26:265-275.
Klein JP, Moeschberger ML (2003). Survival Analysis: Techniques for Censored and Truncated Data, 2nd ed.
Springer, section 4.4 and tables C.3-C.4.
Feller W (1971). An Introduction to Probability Theory and Its Applications, vol. 2, 2nd ed. Wiley, section X.5.
Trefethen LN (2000). Spectral Methods in MATLAB. SIAM, ch. 6-7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from numpy.polynomial.legendre import leggauss
from scipy import linalg, optimize, special, stats

from equipoise.analyze.results import clean, fmt
from equipoise.errors import UserError

if TYPE_CHECKING:
    from equipoise.analyze.kaplan_meier import KaplanMeier

BandMethod = Literal["hall-wellner", "equal-precision"]
BandTransform = Literal["linear", "log-log", "arcsine"]

BAND_METHODS: tuple[str, ...] = ("hall-wellner", "equal-precision")
BAND_TRANSFORMS: tuple[str, ...] = ("linear", "log-log", "arcsine")
# K&M call the log(-log) band "log-transformed"; survfit calls the linear interval "plain"
_TRANSFORM_ALIASES = {"linear": "linear", "plain": "linear", "log-log": "log-log", "loglog": "log-log",
                      "log": "log-log", "arcsine": "arcsine", "arcsin": "arcsine", "asin": "arcsine"}
_METHOD_ALIASES = {"hall-wellner": "hall-wellner", "hw": "hall-wellner", "hall_wellner": "hall-wellner",
                   "equal-precision": "equal-precision", "ep": "equal-precision", "nair": "equal-precision",
                   "equal_precision": "equal-precision"}
METHOD_NAMES = {"hall-wellner": "Hall–Wellner", "equal-precision": "equal-precision (Nair)"}


def band_method(name: str) -> BandMethod:
    """The canonical method name for ``name`` (also hw, ep, nair); a UserError names the choices."""
    key = _METHOD_ALIASES.get(name.strip().lower())
    if key is None:
        raise UserError(f"band method {name!r} must be one of {', '.join(BAND_METHODS)}")
    return key  # type: ignore[return-value]


def band_transform(name: str) -> BandTransform:
    """The canonical transformation for ``name``: linear (plain), log-log (K&M's "log"), arcsine."""
    key = _TRANSFORM_ALIASES.get(name.strip().lower())
    if key is None:
        raise UserError(f"band transform {name!r} must be one of {', '.join(BAND_TRANSFORMS)} "
                        "(log means log(-log), as in Klein & Moeschberger)")
    return key  # type: ignore[return-value]


# ---- Hall–Wellner: sup of |Brownian bridge| over [a_L, a_U] ---------------------------------------------------

def _gauss_density(x: npt.NDArray[np.float64], var: float) -> npt.NDArray[np.float64]:
    return np.asarray(np.exp(-x * x / (2 * var)) / math.sqrt(2 * math.pi * var), dtype=np.float64)


def _panel_nodes(edges: list[tuple[float, float, float]], per_panel: int = 12
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Composite Gauss–Legendre nodes and weights on segments (lo, hi, widest panel)."""
    x, w = leggauss(per_panel)
    nodes, weights = [], []
    for lo, hi, width in edges:
        if hi <= lo:
            continue
        cuts = np.linspace(lo, hi, max(1, math.ceil((hi - lo) / width)) + 1)
        half = np.diff(cuts)[:, None] / 2
        mid = (cuts[:-1] + cuts[1:])[:, None] / 2
        nodes.append((mid + half * x).ravel())
        weights.append((half * w).ravel())
    return np.concatenate(nodes), np.concatenate(weights)


def hall_wellner_probability(c: float, a_lower: float, a_upper: float) -> float:
    """P(sup_{a_L ≤ x ≤ a_U} |W°(x)| ≤ c) for a standard Brownian bridge W° (0 ≤ a_L ≤ a_U ≤ 1)."""
    if c <= 0:
        return 0.0
    if not 0 <= a_lower <= a_upper <= 1:
        raise ValueError("need 0 <= a_lower <= a_upper <= 1")
    if a_upper - a_lower < 1e-12:  # one time point: W°(a) ~ N(0, a(1 - a))
        var = a_lower * (1 - a_lower)
        return 1.0 if var == 0 else float(special.erf(c / math.sqrt(2 * var)))
    tau, v = a_upper - a_lower, 1.0 - a_upper
    # images of the strip (-c, c): + at y + 4kc, - at -y + 2c(2k - 1); terms beyond |k| ~ 1 + 2/c are < 1e-16
    reach_k = min(400, int(2.5 / c) + 3)
    k = np.arange(-reach_k, reach_k + 1)

    def reach(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # ∫_{-c}^{c} φ_τ(z - m) φ_v(z) dz: the path moves from an image m to z in time τ, then to 0 in time v
        if v <= 0:
            return _gauss_density(m, tau)
        s2 = tau + v
        mu, sd = m * v / s2, math.sqrt(tau * v / s2)
        inside = special.ndtr((c - mu) / sd) - special.ndtr((-c - mu) / sd)
        return np.asarray(_gauss_density(m, s2) * inside, dtype=np.float64)

    if a_lower <= 0:
        y, w, ratio = np.zeros(1), np.ones(1), np.array([1.0 / _gauss_density(np.zeros(1), 1.0)[0]])
    else:
        sd_start = math.sqrt(a_lower * (1 - a_lower))
        far = min(c, 12 * sd_start)  # W°(a_L) beyond 12 SD carries < 1e-30 of the mass
        # the integrand is smooth on the scale of sd_start except within a few sqrt(tau) of the barriers
        inner = far - min(far, 12 * math.sqrt(tau)) if far >= c else far
        smooth, sharp = 0.5 * min(sd_start, c), 0.5 * math.sqrt(tau)
        y, w = _panel_nodes([(-far, -inner, sharp), (-inner, inner, smooth), (inner, far, sharp)])
        ratio = _gauss_density(y, a_lower * (1 - a_lower)) / _gauss_density(y, 1 - a_lower)
    yy = y[:, None]
    survive = reach(yy + 4 * k * c).sum(axis=1) - reach(-yy + 2 * c * (2 * k - 1)).sum(axis=1)
    return float(np.clip(np.sum(w * ratio * survive), 0.0, 1.0))


# ---- equal precision: sup of |W°(x)| / sqrt(x(1 - x)) over [a_L, a_U] -----------------------------------------

@lru_cache(maxsize=8)
def _chebyshev(n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Chebyshev points, differentiation matrix (Trefethen 2000, cheb.m) and Clenshaw–Curtis weights."""
    theta = np.pi * np.arange(n + 1) / n
    x = np.cos(theta)
    c = np.concatenate([[2.0], np.ones(n - 1), [2.0]]) * (-1.0) ** np.arange(n + 1)
    dx = x[:, None] - x[None, :]
    d = np.outer(c, 1 / c) / (dx + np.eye(n + 1))
    d -= np.diag(d.sum(axis=1))
    w = np.zeros(n + 1)
    inner = np.ones(n - 1)
    ii = np.arange(1, n)
    if n % 2 == 0:
        w[0] = w[n] = 1.0 / (n * n - 1)
        for j in range(1, n // 2):
            inner -= 2 * np.cos(2 * j * theta[ii]) / (4 * j * j - 1)
        inner -= np.cos(n * theta[ii]) / (n * n - 1)
    else:
        w[0] = w[n] = 1.0 / (n * n)
        for j in range(1, (n - 1) // 2 + 1):
            inner -= 2 * np.cos(2 * j * theta[ii]) / (4 * j * j - 1)
    w[ii] = 2 * inner / n
    return x, d, w


def _nodes_for(span: float) -> int:
    # the absorbing ends meet the initial value 1 in a layer of width sqrt(span): short spans need more nodes
    # (Chebyshev points cluster as 1/n^2 at the ends); these counts keep the error below 1e-10 (checked to 768)
    for nodes, shortest in ((48, 0.05), (96, 1e-3), (192, 1e-5), (384, 1e-7)):
        if span >= shortest:
            return nodes
    return 768


def equal_precision_probability(e: float, a_lower: float, a_upper: float, nodes: int | None = None) -> float:
    """P(sup_{a_L ≤ x ≤ a_U} |W°(x)| / √(x(1 − x)) ≤ e) for a standard Brownian bridge (0 < a_L ≤ a_U < 1).
    ``nodes`` (Chebyshev points) defaults to what the span log(s_U / s_L) needs."""
    if e <= 0:
        return 0.0
    if not 0 < a_lower <= a_upper < 1:
        raise ValueError("need 0 < a_lower <= a_upper < 1")
    span = math.log(a_upper * (1 - a_lower) / (a_lower * (1 - a_upper)))
    if span < 1e-12:
        return float(special.erf(e / math.sqrt(2)))
    nodes = nodes or _nodes_for(span)
    x, d, w = _chebyshev(nodes)
    # generator of dU = -U/2 du + dB on (-e, e) with x = e ξ, absorbing (Dirichlet) ends removed
    a = (d @ d)[1:-1, 1:-1] / (2 * e * e) - (x[1:-1, None] / 2) * d[1:-1, 1:-1]
    survive = linalg.expm(a * span) @ np.ones(nodes - 1)
    return float(np.clip(e * np.sum(w[1:-1] * stats.norm.pdf(e * x[1:-1]) * survive), 0.0, 1.0))


# ---- critical values ------------------------------------------------------------------------------------------

def _solve(prob: Any, target: float, lo: float, hi: float) -> float:
    while prob(hi) < target:
        hi *= 1.5
    return float(optimize.brentq(lambda c: prob(c) - target, lo, hi, xtol=1e-12, rtol=1e-12))


@lru_cache(maxsize=512)
def hall_wellner_critical_value(a_lower: float, a_upper: float, conf_level: float = 0.95) -> float:
    """K&M's c_α(a_L, a_U) with α = 1 − conf_level (Table C.3): the upper α point of sup |W°(x)| on [a_L, a_U]."""
    _check_level(conf_level)
    if not 0 <= a_lower <= a_upper <= 1 or a_upper <= 0 or a_lower >= 1:
        raise ValueError("need 0 <= a_lower <= a_upper <= 1, a_upper > 0 and a_lower < 1")
    widest = min(max(0.5, a_lower), a_upper)  # where x(1 - x) is largest in the range
    # the sup is at least |W°(x)| at any one x, so c >= z sqrt(x(1 - x)): half of that brackets the root
    lo = 0.5 * float(stats.norm.ppf(0.5 + conf_level / 2)) * math.sqrt(widest * (1 - widest))
    return _solve(lambda c: hall_wellner_probability(c, a_lower, a_upper), conf_level, lo, 3.0)


@lru_cache(maxsize=512)
def equal_precision_critical_value(a_lower: float, a_upper: float, conf_level: float = 0.95) -> float:
    """K&M's e_α(a_L, a_U) with α = 1 − conf_level (Table C.4): the upper α point of sup |W°(x)| / √(x(1 − x))."""
    _check_level(conf_level)
    if not 0 < a_lower <= a_upper < 1:
        raise ValueError("need 0 < a_lower <= a_upper < 1")
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    return _solve(lambda e: equal_precision_probability(e, a_lower, a_upper), conf_level, z * (1 - 1e-9), z + 3.0)


def _check_level(conf_level: float) -> None:
    if not 0 < conf_level < 1:
        raise UserError(f"confidence level {conf_level} must be between 0 and 1")


# ---- the band ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KMBand:
    """A simultaneous band for S(t) on [t_lower, t_upper]. Row i holds the band on [time[i], time[i + 1]) (the
    last row up to t_upper): time[0] = t_lower, then each event time in (t_lower, t_upper]."""

    method: str
    transform: str
    conf_level: float
    t_lower: float
    t_upper: float
    n: int
    a_lower: float
    a_upper: float
    critical_value: float
    time: npt.NDArray[np.float64]
    surv: npt.NDArray[np.float64]
    sigma2: npt.NDArray[np.float64]  # σ_S²(t) = Greenwood variance / Ŝ(t)²
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]

    def at(self, t: float) -> tuple[float, float]:
        """The band (lower, upper) at time t in [t_lower, t_upper]."""
        if not self.t_lower <= t <= self.t_upper:
            raise ValueError(f"time {t} is outside the band's range [{self.t_lower:g}, {self.t_upper:g}]")
        i = int(np.searchsorted(self.time, t, side="right")) - 1
        return float(self.lower[i]), float(self.upper[i])

    @property
    def label(self) -> str:
        return f"{100 * self.conf_level:g}% {METHOD_NAMES[self.method]} simultaneous band, {self.transform} transform"

    @property
    def description(self) -> str:
        return f"{self.label}, over [{self.t_lower:g}, {self.t_upper:g}]"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "transform": self.transform, "conf_level": self.conf_level,
                "t_lower": self.t_lower, "t_upper": self.t_upper, "n": self.n,
                "a_lower": clean(self.a_lower), "a_upper": clean(self.a_upper),
                "critical_value": clean(self.critical_value),
                "critical_value_name": "c_alpha(a_L, a_U)" if self.method == "hall-wellner" else "e_alpha(a_L, a_U)",
                "time": self.time.tolist(), "surv": [clean(v) for v in self.surv],
                "lower": [clean(v) for v in self.lower], "upper": [clean(v) for v in self.upper],
                "source": "Klein & Moeschberger (2003), section 4.4, eqs 4.4.1-4.4.6"}

    def table(self, max_rows: int = 12) -> list[str]:
        """Readable rows (time, survival, band), thinned evenly to at most ``max_rows``."""
        idx = np.arange(len(self.time))
        if len(idx) > max_rows:
            idx = np.unique(np.round(np.linspace(0, len(idx) - 1, max_rows)).astype(int))
        rows = [f"{'time':>10} {'survival':>9}  band"]
        rows += [f"{self.time[i]:>10g} {fmt(float(self.surv[i])):>9}  {fmt(float(self.lower[i]))} to "
                 f"{fmt(float(self.upper[i]))}" for i in idx]
        if len(idx) < len(self.time):
            rows.append(f"({len(idx)} of {len(self.time)} steps shown; all of them with --json)")
        return rows

    def __str__(self) -> str:
        name = "c" if self.method == "hall-wellner" else "e"
        head = (f"{self.description}: {name}_alpha(a_L = {self.a_lower:.4f}, a_U = {self.a_upper:.4f}) = "
                f"{self.critical_value:.4f}")
        return "\n".join([head] + ["  " + r for r in self.table()])


def km_confidence_band(km: KaplanMeier, method: str = "hall-wellner", transform: str = "log-log",
                       t_range: tuple[float, float] | None = None, conf_level: float = 0.95) -> KMBand:
    """Simultaneous band for the Kaplan–Meier curve ``km`` over ``t_range`` = (t_L, t_U) (Klein & Moeschberger
    2003, §4.4): Hall–Wellner (eqs 4.4.1–4.4.3) or equal precision (eqs 4.4.4–4.4.6), on the linear, log(−log)
    or arcsine-square-root scale. Linear bands are cut to [0, 1], as survfit cuts its plain interval.

    The default range runs from the first event time to the last event time at which Ŝ stays above 0 (as
    km.ci and SAS's PROC LIFETEST do). t_U may not pass the last observed time, nor a time where Ŝ = 0; the
    equal-precision band needs an event at or before t_L (a_L > 0), the Hall–Wellner band does not.

    References
    ----------
    Hall WJ, Wellner JA (1980). Biometrika 67:133-143. Nair VN (1984). Technometrics 26:265-275. Klein JP,
    Moeschberger ML (2003). Survival Analysis, 2nd ed. Springer, section 4.4.
    """
    meth = band_method(method)
    trans = band_transform(transform)
    _check_level(conf_level)
    event_times = km.time[km.n_event > 0]
    if len(event_times) == 0:
        raise UserError("confidence band: the data have no events, so there is no curve to bound")
    n = int(km.n_risk[0]) if len(km.n_risk) else 0
    positive = (km.n_risk > km.n_event) & (km.n_event > 0)
    if t_range is None:
        if not positive.any():
            raise UserError("confidence band: the curve drops to 0 at its first event; there is no range to bound")
        t_lower, t_upper = float(event_times[0]), float(km.time[positive][-1])
    else:
        t_lower, t_upper = float(t_range[0]), float(t_range[1])
    if not (math.isfinite(t_lower) and math.isfinite(t_upper)):
        raise UserError(f"confidence band: the range [{t_lower:g}, {t_upper:g}] must be finite")
    if t_lower >= t_upper:
        raise UserError(f"confidence band: t_L = {t_lower:g} must be below t_U = {t_upper:g}")
    if t_lower < 0:
        raise UserError(f"confidence band: t_L = {t_lower:g} is negative")
    last = float(km.time[-1])
    if t_upper > last:
        raise UserError(f"confidence band: t_U = {t_upper:g} is beyond the last observed time {last:g}")

    def step(t: float) -> int:
        return int(np.searchsorted(km.time, t, side="right")) - 1

    iu = step(t_upper)
    if iu >= 0 and not km.surv[iu] > 0:
        raise UserError(f"confidence band: the curve is 0 at t_U = {t_upper:g}; choose a t_U before "
                        f"{float(km.time[km.surv > 0][-1]) if (km.surv > 0).any() else 0:g}")
    inside = (km.time > t_lower) & (km.time <= t_upper) & (km.n_event > 0)
    if not inside.any():
        raise UserError(f"confidence band: no event in ({t_lower:g}, {t_upper:g}]; the curve is flat there")
    il = step(t_lower)
    sigma2_all = np.asarray(km.std_err, float) ** 2
    s_lower = 1.0 if il < 0 else float(km.surv[il])
    v_lower = 0.0 if il < 0 else float(sigma2_all[il])
    a_lower = n * v_lower / (1 + n * v_lower)
    a_upper = n * float(sigma2_all[iu]) / (1 + n * float(sigma2_all[iu]))
    if meth == "equal-precision":
        if a_lower <= 0:
            raise UserError(f"confidence band: the equal-precision band needs an event at or before t_L = "
                            f"{t_lower:g} (the first is at {float(event_times[0]):g}); the Hall–Wellner band "
                            "does not")
        crit = equal_precision_critical_value(a_lower, a_upper, conf_level)
    else:
        crit = hall_wellner_critical_value(a_lower, a_upper, conf_level)
    time = np.concatenate([[t_lower], km.time[inside]])
    surv = np.concatenate([[s_lower], km.surv[inside]])
    sigma2 = np.concatenate([[v_lower], sigma2_all[inside]])
    # the half-width on the scale of log S (EP: e σ_S; HW: c (1 + n σ_S²) / √n), K&M eqs 4.4.1-4.4.6
    half = crit * np.sqrt(sigma2) if meth == "equal-precision" else crit * (1 + n * sigma2) / math.sqrt(n)
    lower, upper = _transform_band(surv, half, trans)
    return KMBand(meth, trans, conf_level, t_lower, t_upper, n, a_lower, a_upper, crit, time, surv, sigma2,
                  lower, upper)


def _transform_band(surv: npt.NDArray[np.float64], half: npt.NDArray[np.float64], transform: str
                    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "linear":
            lower, upper = np.maximum(0.0, surv - half * surv), np.minimum(1.0, surv + half * surv)
        elif transform == "log-log":
            # [Ŝ^(1/θ), Ŝ^θ] with θ = exp(half / log Ŝ); at Ŝ = 1 (before the first event) the band is [1, 1]
            theta = np.exp(half / np.log(surv))
            lower = np.where(surv < 1, surv ** (1 / theta), 1.0)
            upper = np.where(surv < 1, surv ** theta, 1.0)
        else:
            root = np.arcsin(np.sqrt(surv))
            shift = 0.5 * half * np.sqrt(surv / (1 - surv))
            lower = np.where(surv < 1, np.sin(np.maximum(0.0, root - shift)) ** 2, 1.0)
            upper = np.where(surv < 1, np.sin(np.minimum(math.pi / 2, root + shift)) ** 2, 1.0)
    return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)

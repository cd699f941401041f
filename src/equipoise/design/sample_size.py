"""Sample size and power for fixed and group-sequential designs.

A group-sequential design needs the fixed-design size times the design's inflation factor (J&T section 2.7;
rpact ``getSampleSize*``: ``maxNumberOfSubjects = nFixed * inflationFactor``), reached in proportion to the
information rates. Power for a given size uses the same standardisation: with the test statistic standardised
under H0, its mean under H1 is drift*sqrt(t_k) and its sd sigma1/sigma0, so crossing c_k under H0 units is
crossing c_k*sigma0/sigma1 in H1 units (exact for the normal approximation, and how pooled-variance power is
computed, e.g. rpact ``getPowerRates``).

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 2.7 (maximum sample size = fixed size x inflation factor) and ch. 4 (power at a given size).
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials.
Springer (the methods of rpact).
Chow SC, Shao J, Wang H (2008). Sample Size Calculations in Clinical Research, 2nd ed. Chapman & Hall/CRC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from equipoise.design.accrual import Accrual, accrual_model
from equipoise.design.boundaries import exit_probabilities
from equipoise.design.endpoints import (
    Endpoint,
    binary_endpoint,
    continuous_endpoint,
    ordinal_endpoint,
    survival_endpoint,
)
from equipoise.design.group_sequential import GroupSequentialDesign, gsd
from equipoise.design.text import sample_size_text
from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_SIDED, DEFAULT_SPENDING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FloatArray = NDArray[np.float64]

OUTCOMES = ("binary", "continuous", "time-to-event", "ordinal")


def _nan_to_none(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _list(a: FloatArray | None) -> list[float | None] | None:
    return None if a is None else [_nan_to_none(float(x)) for x in a]


@dataclass(frozen=True, eq=False)
class SampleSizeResult:
    """Size of a fixed or group-sequential trial.

    ``n_total`` is the maximum number of patients over both arms, unrounded (``None`` for a time-to-event
    outcome without an accrual model); ``n_per_arm`` splits it by the allocation ratio; ``n_per_look`` is the
    cumulative number of patients at each look (for time-to-event, those enrolled by the expected analysis
    time). ``events``/``events_per_look`` are the required events (time-to-event only). ``expected_n_*`` are
    expected patients (events for time-to-event) under H0, H1/2 and H1. ``effect_upper``/``effect_futility``
    are the boundaries on the natural effect scale (``effect_name``) at each look.
    """

    outcome: str
    design: GroupSequentialDesign
    alpha: float
    sided: int
    power: float
    ratio: float
    assumptions: dict[str, Any]
    method: str
    effect_name: str
    direction_upper: bool
    n_fixed: float | None
    n_total: float | None
    n_per_look: FloatArray | None
    events_fixed: float | None = None
    events: float | None = None
    events_per_look: FloatArray | None = None
    analysis_times: FloatArray | None = None
    expected_n_h0: float | None = None
    expected_n_h01: float | None = None
    expected_n_h1: float | None = None
    expected_patients_h1: float | None = None
    expected_duration_h1: float | None = None
    effect_upper: FloatArray | None = None
    effect_lower: FloatArray | None = None
    effect_futility: FloatArray | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_per_arm(self) -> dict[str, float] | None:
        if self.n_total is None:
            return None
        return {"experimental": self.n_total * self.ratio / (1 + self.ratio),
                "control": self.n_total / (1 + self.ratio)}

    @property
    def n_per_arm_rounded(self) -> dict[str, int] | None:
        """Each arm rounded up (a common convention; rpact reports unrounded numbers)."""
        arms = self.n_per_arm
        if arms is None:
            return None
        return {k: math.ceil(v - 1e-9) for k, v in arms.items()}

    @property
    def n_per_look_rounded(self) -> list[int] | None:
        """Cumulative patients per look with each arm rounded up at each look (gsDesign's convention)."""
        if self.n_per_look is None:
            return None
        share = self.ratio / (1 + self.ratio)
        return [math.ceil(n * share - 1e-9) + math.ceil(n * (1 - share) - 1e-9) for n in self.n_per_look]

    @property
    def n_total_rounded(self) -> int | None:
        arms = self.n_per_arm_rounded
        return None if arms is None else sum(arms.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "alpha": self.alpha,
            "sided": self.sided,
            "power": self.power,
            "ratio": self.ratio,
            "assumptions": self.assumptions,
            "method": self.method,
            "looks": self.design.looks,
            "information_rates": _list(self.design.information_rates),
            "inflation_factor": self.design.inflation_factor,
            "n_fixed": _nan_to_none(self.n_fixed),
            "n_total": _nan_to_none(self.n_total),
            "n_per_arm": self.n_per_arm,
            "n_total_rounded": self.n_total_rounded,
            "n_per_arm_rounded": self.n_per_arm_rounded,
            "n_per_look": _list(self.n_per_look),
            "n_per_look_rounded": self.n_per_look_rounded,
            "events_fixed": _nan_to_none(self.events_fixed),
            "events": _nan_to_none(self.events),
            "events_per_look": _list(self.events_per_look),
            "analysis_times": _list(self.analysis_times),
            "expected_n_h0": _nan_to_none(self.expected_n_h0),
            "expected_n_h01": _nan_to_none(self.expected_n_h01),
            "expected_n_h1": _nan_to_none(self.expected_n_h1),
            "expected_patients_h1": _nan_to_none(self.expected_patients_h1),
            "expected_duration_h1": _nan_to_none(self.expected_duration_h1),
            "effect_scale": {
                "name": self.effect_name,
                "upper": _list(self.effect_upper),
                "lower": _list(self.effect_lower),
                "futility": _list(self.effect_futility),
            },
            "design": self.design.to_dict(),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        return sample_size_text(self)

    def plot(self) -> Figure:
        """The design's boundaries (z and effect scale) and this sample-size path."""
        return self.design.plot(self)


def _ratio(ratio: Any) -> float:
    if isinstance(ratio, str):
        text = ratio.strip()
        if ":" in text:
            left, _, right = text.partition(":")
            try:
                value = float(left) / float(right)
            except (ValueError, ZeroDivisionError):
                raise UserError(f"ratio: {ratio!r} is not of the form experimental:control, e.g. 2:1") from None
        else:
            try:
                value = float(text)
            except ValueError:
                raise UserError(f"ratio: {ratio!r} is not a number or experimental:control") from None
    else:
        try:
            value = float(ratio)
        except (TypeError, ValueError):
            raise UserError(f"ratio must be a number (experimental / control), got {ratio!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"ratio must be > 0 (n experimental / n control), got {ratio}")
    return value


def _resolve_design(design: GroupSequentialDesign | None, alpha: float | None, sided: int | None,
                    power: float | None) -> GroupSequentialDesign:
    if design is None:
        beta = None if power is None else 1.0 - _power(power)
        return gsd(looks=1, alpha=DEFAULT_ALPHA if alpha is None else alpha,
                   sided=DEFAULT_SIDED if sided is None else sided, spending=DEFAULT_SPENDING,
                   beta=DEFAULT_BETA if beta is None else beta)
    if alpha is not None and not math.isclose(alpha, design.alpha, rel_tol=1e-12):
        raise UserError(f"alpha {alpha} differs from the design's alpha {design.alpha}; give it once")
    if sided is not None and sided != design.sided:
        raise UserError(f"sided {sided} differs from the design's sided {design.sided}; give it once")
    if power is not None:
        return design.with_beta(1.0 - _power(power))
    return design


def _power(power: float) -> float:
    try:
        p = float(power)
    except (TypeError, ValueError):
        raise UserError(f"power must be a number, got {power!r}") from None
    if not 0 < p < 1:
        raise UserError(f"power must be between 0 and 1 (exclusive), got {power}")
    return p


def endpoint_for(outcome: str, params: dict[str, Any]) -> Endpoint:
    """Build the outcome's formulas from keyword parameters (those not used are an error)."""
    key = str(outcome).strip().lower().replace("_", "-")
    if key in {"tte", "survival"}:
        key = "time-to-event"
    p = dict(params)

    def take(*names: str) -> dict[str, Any]:
        return {n: p.pop(n) for n in names if n in p and p[n] is not None}

    if key == "binary":
        args = take("p_control", "p_treatment", "risk_ratio", "odds_ratio", "effect_measure", "variance", "theta_h0")
        if "p_control" not in args:
            raise UserError("binary outcome: p_control is required")
        endpoint: Endpoint = binary_endpoint(**args)
    elif key == "continuous":
        args = take("delta", "sd", "sd_known", "theta_h0")
        if "delta" not in args:
            raise UserError("continuous outcome: delta (difference in means) is required")
        endpoint = continuous_endpoint(**args)
    elif key == "time-to-event":
        args = take("hazard_ratio", "method", "theta_h0")
        if "hazard_ratio" not in args:
            raise UserError("time-to-event outcome: hazard_ratio is required")
        endpoint = survival_endpoint(**args)
    elif key == "ordinal":
        args = take("p_control", "odds_ratio")
        if "p_control" not in args or "odds_ratio" not in args:
            raise UserError("ordinal outcome: p_control (control distribution over categories, best first) and "
                            "odds_ratio are required")
        endpoint = ordinal_endpoint(**args)
    else:
        raise UserError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    leftover = {k for k, v in p.items() if v is not None}
    if key == "time-to-event":
        leftover -= {"median_control", "p_control", "event_time", "accrual", "follow_up", "dropout", "dropout_time"}
    if leftover:
        raise UserError(f"{key} outcome: unexpected parameter(s) {', '.join(sorted(leftover))}")
    return endpoint


def sample_size(
    outcome: str,
    *,
    alpha: float | None = None,
    sided: int | None = None,
    power: float | None = None,
    ratio: float | str = 1.0,
    design: GroupSequentialDesign | None = None,
    **params: Any,
) -> SampleSizeResult:
    """Patients (and events) needed for a fixed or group-sequential trial comparing two arms.

    ``outcome`` is ``binary`` (``p_control`` with ``p_treatment``, ``risk_ratio`` or ``odds_ratio``;
    ``effect_measure`` difference|risk-ratio|odds-ratio; ``variance`` pooled|unpooled), ``continuous``
    (``delta``, ``sd``, ``sd_known``), ``time-to-event`` (``hazard_ratio``, ``method``
    schoenfeld|freedman|hsieh-freedman; for patients ``median_control`` or ``p_control`` with ``event_time``,
    ``accrual``, ``follow_up``, ``dropout``, ``dropout_time``) or ``ordinal`` (``p_control`` per category,
    best first; ``odds_ratio`` > 1 favours the experimental arm). ``theta_h0`` (binary risk difference,
    continuous mean difference, time-to-event hazard ratio) is the effect under H0 of a non-inferiority test
    (rpact's ``thetaH0``; one-sided designs only). ``ratio`` is n_experimental / n_control
    (or ``"2:1"``). Without ``design`` the trial has one look (alpha default 0.025 one-sided, power 0.8).

    References
    ----------
    Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials.
    Chapman & Hall/CRC, section 2.7. Schoenfeld D (1981). Biometrika 68:316-319. Whitehead J (1993). Stat Med
    12:2257-2271. Farrington CP, Manning G (1990). Stat Med 9:1447-1454. (More in ``endpoints.py``.)
    """
    gs = _resolve_design(design, alpha, sided, power)
    r = _ratio(ratio)
    if params.get("theta_h0") is not None and gs.sided != 1:
        raise UserError("a non-inferiority margin needs a one-sided test (sided 1)")
    tte_params = {k: params.pop(k, None) for k in ("median_control", "event_time", "accrual", "follow_up",
                                                   "dropout", "dropout_time")}
    key = str(outcome).strip().lower()
    if key in {"time-to-event", "tte", "survival", "time_to_event"} and "p_control" in params:
        tte_params["p_control"] = params.pop("p_control")
    endpoint = endpoint_for(outcome, {**params, **{k: v for k, v in tte_params.items() if v is not None}})
    fixed = endpoint.fixed_size(gs.alpha, gs.sided, gs.beta, r)
    t = gs.information_rates
    size_max = fixed * gs.inflation_factor
    size_per_look = size_max * t
    expected = (fixed * gs.expected_sample_size_h0, fixed * gs.expected_sample_size_h01,
                fixed * gs.expected_sample_size_h1)
    effect_upper = np.array([endpoint.effect_at(float(c), float(n), r) for c, n in zip(gs.upper, size_per_look,
                                                                                        strict=True)])
    effect_lower = None
    if gs.sided == 2:
        effect_lower = np.array([endpoint.effect_at(-float(c), float(n), r)
                                 for c, n in zip(gs.upper, size_per_look, strict=True)])
    effect_futility = None
    if gs.futility is not None:
        effect_futility = np.array([endpoint.effect_at(float(f), float(n), r) if k < gs.looks - 1 else float("nan")
                                    for k, (f, n) in enumerate(zip(gs.futility, size_per_look, strict=True))])
    common: dict[str, Any] = {
        "outcome": endpoint.outcome, "design": gs, "alpha": gs.alpha, "sided": gs.sided, "power": 1.0 - gs.beta,
        "ratio": r, "assumptions": dict(endpoint.assumptions), "method": endpoint.method,
        "effect_name": endpoint.effect_name, "direction_upper": endpoint.direction_upper,
        "effect_upper": effect_upper, "effect_lower": effect_lower, "effect_futility": effect_futility,
    }
    if not endpoint.counts_events:
        return SampleSizeResult(
            **common, n_fixed=fixed, n_total=size_max, n_per_look=size_per_look,
            expected_n_h0=expected[0], expected_n_h01=expected[1], expected_n_h1=expected[2],
        )
    hr = float(endpoint.assumptions["hazard_ratio"])
    model = accrual_model(hazard_ratio=hr, ratio=r, median_control=tte_params["median_control"],
                          p_control=tte_params.get("p_control"), event_time=tte_params["event_time"],
                          accrual=tte_params["accrual"], follow_up=tte_params["follow_up"],
                          dropout=tte_params["dropout"], dropout_time=tte_params["dropout_time"])
    return _with_patients(common, model, fixed, size_max, size_per_look, expected)


def _with_patients(common: dict[str, Any], model: Accrual | None, events_fixed: float, events_max: float,
                   events_per_look: FloatArray, expected: tuple[float, float, float]) -> SampleSizeResult:
    gs: GroupSequentialDesign = common["design"]
    if model is None:
        return SampleSizeResult(
            **common, n_fixed=None, n_total=None, n_per_look=None, events_fixed=events_fixed, events=events_max,
            events_per_look=events_per_look, expected_n_h0=expected[0], expected_n_h01=expected[1],
            expected_n_h1=expected[2],
            notes=("patients not computed: give median_control (or p_control), accrual and follow_up",),
        )
    n_max, times, enrolled = model.times_and_patients(events_per_look)
    n_fixed = model.patients_for(events_fixed)
    stop = gs.rejection_h1 + gs.futility_h1
    stop = stop.copy()
    stop[-1] = 1.0 - float(stop[:-1].sum())
    assumptions = dict(common.pop("assumptions"))
    assumptions.update({"lambda_control": model.lambda_control, "lambda_treatment": model.lambda_treatment,
                        "accrual": model.accrual, "follow_up": model.follow_up, "dropout": model.dropout,
                        "dropout_time": model.dropout_time})
    return SampleSizeResult(
        **common, assumptions=assumptions, n_fixed=n_fixed, n_total=n_max, n_per_look=enrolled,
        events_fixed=events_fixed, events=events_max, events_per_look=events_per_look, analysis_times=times,
        expected_n_h0=expected[0], expected_n_h01=expected[1], expected_n_h1=expected[2],
        expected_patients_h1=float(enrolled @ stop), expected_duration_h1=float(times @ stop),
    )


@dataclass(frozen=True)
class PowerResult:
    """Power of a fixed or group-sequential trial of a given size.

    ``power`` is the probability of rejecting H0 (in either direction for a two-sided design: rpact's
    ``overallReject``); ``power_effect_direction`` counts only rejections in the direction of the assumed
    effect (the power a sample size is planned for).
    """

    outcome: str
    n_total: float
    power: float
    power_effect_direction: float
    cumulative_power: FloatArray
    drift: float
    design: GroupSequentialDesign
    assumptions: dict[str, Any]
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "n_total": self.n_total, "power": self.power,
                "power_effect_direction": self.power_effect_direction,
                "cumulative_power": _list(self.cumulative_power), "drift": self.drift,
                "assumptions": self.assumptions, "method": self.method, "design": self.design.to_dict()}

    def __str__(self) -> str:
        per_look = ", ".join(f"{p:.4f}" for p in self.cumulative_power)
        unit = "events" if self.outcome == "time-to-event" else "patients"
        return (f"Power {self.power:.4f} with {self.n_total:g} {unit} ({self.method}); "
                f"cumulative by look: {per_look}")


def power(
    outcome: str,
    n_total: float,
    *,
    alpha: float | None = None,
    sided: int | None = None,
    ratio: float | str = 1.0,
    design: GroupSequentialDesign | None = None,
    **params: Any,
) -> PowerResult:
    """Power of a trial with ``n_total`` patients (events for time-to-event), following rpact's
    ``getPower*`` conventions (normal approximation; see ``PowerResult``). Parameters as in ``sample_size``.

    References
    ----------
    Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials.
    Chapman & Hall/CRC, ch. 4. Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in
    Clinical Trials. Springer.
    """
    gs = _resolve_design(design, alpha, sided, None)
    r = _ratio(ratio)
    try:
        n = float(n_total)
    except (TypeError, ValueError):
        raise UserError(f"n_total must be a number, got {n_total!r}") from None
    if not (math.isfinite(n) and n > 0):
        raise UserError(f"n_total must be > 0, got {n_total}")
    for name in ("median_control", "event_time", "accrual", "follow_up", "dropout", "dropout_time"):
        params.pop(name, None)
    endpoint = endpoint_for(outcome, params)
    drift = endpoint.drift(n, r, gs.alpha, gs.sided)
    upper = np.minimum(gs.upper, 7.5)
    futility = gs.futility
    p_up, p_down, _ = exit_probabilities(gs.information_rates, upper, futility if gs.sided == 1 else None, gs.sided,
                                         drift, futility if gs.sided == 2 else None, gs.quadrature)
    return PowerResult(outcome=endpoint.outcome, n_total=n, power=float(p_up.sum() + p_down.sum()),
                       power_effect_direction=float(p_up.sum()), cumulative_power=np.cumsum(p_up + p_down),
                       drift=drift, design=gs, assumptions=dict(endpoint.assumptions), method=endpoint.method)

"""The looks of an interim analysis, from patient-level data analysed as the protocol says, or from a summary
table with one row per look.

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC, section 3.1 (estimates, information I_k = 1 / se_k^2 and the canonical joint distribution of Z_k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from equipoise.analyze.binary import BinaryResult
from equipoise.analyze.data import line_of, numeric_column, require_columns
from equipoise.analyze.interim import LookData
from equipoise.analyze.ordinal import OrdinalResult
from equipoise.analyze.protocol_analysis import run_comparison
from equipoise.analyze.survival import SurvivalResult
from equipoise.errors import UserError
from equipoise.protocol import AnalysisMethod, Protocol


@dataclass(frozen=True)
class ProtocolLooks:
    looks: list[LookData]
    theta_design: float | None
    measure: str
    log_scale: bool
    description: str


def oriented_effect(result: object, method: AnalysisMethod, better: str) -> tuple[float, float, str, bool]:
    """(estimate, se, measure, log scale) of a comparison, with positive values favouring experimental."""
    sign = 1.0
    if isinstance(result, OrdinalResult):
        return result.log_odds_ratio, result.se, "odds_ratio", True  # already oriented towards benefit
    if isinstance(result, SurvivalResult):
        if result.not_estimable is not None:
            raise UserError(f"interim: {result.not_estimable}")
        sign = 1.0 if better == "lower" else -1.0  # an earlier event better: HR > 1 favours experimental
        return sign * result.log_hazard_ratio, result.se, "hazard_ratio", True
    if isinstance(result, BinaryResult):
        sign = -1.0 if better == "lower" else 1.0
        wald = result.all_intervals
        if method is AnalysisMethod.RISK_DIFFERENCE:
            est = wald["risk_difference.wald"]
            return sign * est.estimate, float(est.se or math.nan), "risk_difference", False
        key = "risk_ratio.wald" if method is AnalysisMethod.RISK_RATIO else "odds_ratio.wald"
        est = wald[key]
        return sign * math.log(est.estimate), float(est.se or math.nan), key.split(".")[0], True
    raise UserError("interim: monitoring is implemented for binary, ordinal and time-to-event primary outcomes")


def design_effect(protocol: Protocol) -> float | None:
    """The effect the trial is sized for, on the oriented monitoring scale."""
    plan = protocol.analysis
    if plan is None or plan.primary.assumptions is None:
        return None
    a = plan.primary.assumptions
    outcome = protocol.outcome(plan.primary.outcome)
    better = outcome.better.value if outcome else "lower"
    method = plan.primary.method
    if a.odds_ratio is not None and method in (AnalysisMethod.PROPORTIONAL_ODDS,
                                               AnalysisMethod.BAYESIAN_PROPORTIONAL_ODDS):
        # the protocol states the odds ratio for a better level
        return abs(math.log(a.odds_ratio))
    if a.hazard_ratio is not None:
        return (1 if better == "lower" else -1) * math.log(a.hazard_ratio)
    if a.p_control is not None and a.p_treatment is not None:
        sign = -1.0 if better == "lower" else 1.0
        if method is AnalysisMethod.RISK_DIFFERENCE:
            return sign * (a.p_treatment - a.p_control)
        if method is AnalysisMethod.RISK_RATIO:
            return sign * math.log(a.p_treatment / a.p_control)
        odds = (a.p_treatment / (1 - a.p_treatment)) / (a.p_control / (1 - a.p_control))
        return sign * math.log(odds)
    return None


def design_effect_source(protocol: Protocol) -> str:
    """Where :func:`design_effect` read the effect: the protocol's assumptions, named."""
    plan = protocol.analysis
    a = plan.primary.assumptions if plan is not None else None
    if plan is None or a is None:
        return "from the protocol"
    stated = {k: v for k, v in (("p_control", a.p_control), ("p_treatment", a.p_treatment),
                                ("odds_ratio", a.odds_ratio), ("hazard_ratio", a.hazard_ratio)) if v is not None}
    return (f"from {protocol.trial.id}'s analysis.primary.assumptions ("
            + ", ".join(f"{k} {v:g}" for k, v in stated.items()) + f"; method {plan.primary.method.value})")


def risk_difference_design_effect(protocol: Protocol, better: str | None) -> float | None:
    """The design effect on the risk-difference scale a table of binary counts is monitored on, oriented by
    ``better`` (fewer events better: control minus experimental risk)."""
    plan = protocol.analysis
    a = plan.primary.assumptions if plan is not None else None
    if a is None or a.p_control is None or a.p_treatment is None or better not in ("lower", "higher"):
        return None
    return (-1.0 if better == "lower" else 1.0) * (a.p_treatment - a.p_control)


def looks_from_protocol(protocol: Protocol, df: pd.DataFrame, *, look_column: str = "look", arm: str = "arm",
                        max_information: float | None = None, planned_n: int | None = None) -> ProtocolLooks:
    """Analyse the primary comparison on the patients of looks 1..k for each look k in ``look_column``.

    Information fraction: observed information / ``max_information`` when given, else patients analysed /
    planned sample size (``planned_n`` or the protocol's enrolment target)."""
    plan = protocol.analysis
    control = protocol.control_arm
    if plan is None or control is None:
        raise UserError("protocol: interim monitoring needs an analysis section with a control arm")
    require_columns(df, [look_column])
    look_of = numeric_column(df, look_column, integer=True, minimum=1)
    if np.isnan(look_of).any():
        pos = int(np.flatnonzero(np.isnan(look_of))[0])
        raise UserError(f"data: line {line_of(df, pos)}: column {look_column!r} is empty")
    target = planned_n or (protocol.enrolment.target.total if protocol.enrolment.target else None)
    if max_information is None and not target:
        raise UserError("interim: give --planned-n or --max-information (the protocol has no target sample size)")
    experimental = [a.id for a in protocol.arms if a.id != control.id]
    if len(experimental) != 1:
        raise UserError("interim: monitoring of one experimental arm against control; this protocol has "
                        f"{len(experimental)} experimental arms")
    outcome = protocol.outcome(plan.primary.outcome)
    assert outcome is not None
    looks: list[LookData] = []
    measure, log_scale = "effect", False
    for k in range(1, int(look_of.max()) + 1):
        sub = df.loc[look_of <= k].reset_index(drop=True)
        try:
            comp = run_comparison(protocol, sub, plan.primary, arm=arm, control=control.id,
                                  experimental=experimental[0], role="primary")
        except UserError as error:
            # Early looks are the ones with too few patients (one arm only, say): say which look it is.
            raise UserError(f"look {k} ({len(sub)} patients, looks 1 to {k}): {error}; choose later look dates or "
                            "fewer looks") from None
        est, se, measure, log_scale = oriented_effect(comp.result, plan.primary.method, outcome.better.value)
        n = _analysed(comp.result)
        fraction = (1 / se**2) / max_information if max_information else n / float(target or 1)
        looks.append(LookData(est, se, fraction, n, f"look {k}"))
    return ProtocolLooks(looks, design_effect(protocol), measure, log_scale,
                         f"primary: {outcome.name} ({plan.primary.method.value})")


def _analysed(result: object) -> int:
    if isinstance(result, OrdinalResult):
        return result.n
    if isinstance(result, BinaryResult):
        return sum(a.n for a in result.arms)
    if isinstance(result, SurvivalResult):
        return sum(result.n.values())
    return 0


def looks_from_table(df: pd.DataFrame, *, better: str | None = None) -> tuple[list[LookData], str]:
    """One row per look: ``information_fraction`` and either ``estimate`` and ``se`` (oriented: positive favours
    experimental) or binary counts ``events_experimental, n_experimental, events_control, n_control`` (then the
    estimate is the risk difference, oriented by ``better``)."""
    require_columns(df, ["information_fraction"], "looks")
    frac = numeric_column(df, "information_fraction", "looks", minimum=0)
    counts = ["events_experimental", "n_experimental", "events_control", "n_control"]
    looks: list[LookData] = []
    if all(c in df.columns for c in counts):
        if better not in ("lower", "higher"):
            raise UserError("--better: say whether fewer (lower) or more (higher) events are better")
        x1, n1, x0, n0 = (numeric_column(df, c, "looks", minimum=0, integer=True) for c in counts)
        sign = -1.0 if better == "lower" else 1.0
        for i in range(len(df)):
            if x1[i] > n1[i] or x0[i] > n0[i]:
                raise UserError(f"looks: line {line_of(df, i)}: more events than patients")
            if n1[i] == 0 or n0[i] == 0:
                raise UserError(f"looks: line {line_of(df, i)}: an arm has no patients at this look; there is "
                                "nothing to compare")
            p1, p0 = x1[i] / n1[i], x0[i] / n0[i]
            se = math.sqrt(p1 * (1 - p1) / n1[i] + p0 * (1 - p0) / n0[i])
            if se == 0:
                raise UserError(f"looks: line {line_of(df, i)}: every patient or none had the event in both arms; "
                                "the risk difference has no standard error at this look")
            looks.append(LookData(sign * (p1 - p0), se, float(frac[i]), int(n1[i] + n0[i]), f"look {i + 1}"))
        return looks, "risk_difference"
    require_columns(df, ["estimate", "se"], "looks")
    est = numeric_column(df, "estimate", "looks")
    se_col = numeric_column(df, "se", "looks", minimum=0)
    for i in range(len(df)):
        if not se_col[i] > 0:
            raise UserError(f"looks: line {line_of(df, i)}: se must be positive")
        if not math.isfinite(est[i] / se_col[i]):
            raise UserError(f"looks: line {line_of(df, i)}: estimate / se is too large to be a Z statistic")
        looks.append(LookData(float(est[i]), float(se_col[i]), float(frac[i]), None, f"look {i + 1}"))
    return looks, "effect"

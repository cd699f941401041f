"""The analyses the monitoring committee's reports show, run on the trial's data; ``equipoise.report`` renders
them and runs none itself.

Inputs are DataFrames in the wide layout (README, "Data layout"): ``patients`` (one row per randomised patient),
optional ``screening`` (screened, not randomised, with ``reason``) and ``adverse_events`` (``patient_id``,
``term``, ``grade``, ``related``). The closed report gets every comparison by arm (``closed_report_inputs``); the
open report gets pooled survival only (``open_report_inputs``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from equipoise.analyze.bayes import Posterior
from equipoise.analyze.data import check_known_arms, require_columns
from equipoise.analyze.frame import analyze_ordinal, ordinal_posterior
from equipoise.analyze.interim import InterimResult, MonitoringPlan, monitor
from equipoise.analyze.interim_inputs import ProtocolLooks, looks_from_protocol
from equipoise.analyze.kaplan_meier import KaplanMeier, kaplan_meier
from equipoise.analyze.ordinal import OrdinalResult
from equipoise.analyze.platform_analysis import PlatformAnalysis, analyze_platform
from equipoise.analyze.protocol_analysis import ProtocolAnalysis, derived_column, outcome_column, run_protocol
from equipoise.analyze.server_export import MASKED
from equipoise.errors import UserError
from equipoise.protocol import OutcomeType, Protocol

POOLED = "all patients"  # the pooled reports' single pseudo-arm

SubgroupRow = tuple[str, float, float, float, str]  # label, estimate, low, high, n text; a heading has NaNs


@dataclass(frozen=True)
class TrialData:
    patients: pd.DataFrame
    screening: pd.DataFrame | None = None
    adverse_events: pd.DataFrame | None = None
    arm: str = "arm"


@dataclass(frozen=True)
class InterimMonitoring:
    """The primary comparison at each look (``looks``) and the group-sequential decision at the latest."""

    looks: ProtocolLooks
    result: InterimResult


@dataclass(frozen=True)
class BayesianSummary:
    """The ordinal primary's posterior under a neutral prior, or why there is none (``refusal``)."""

    prior_sd: float
    important_or: float
    posterior: Posterior | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class ClosedReportInputs:
    """What the closed report shows beyond descriptive tables: every analysis by arm."""

    arms: list[str]  # present arms, experimental first, the control last
    analysis: ProtocolAnalysis
    bayesian: BayesianSummary | None  # for an ordinal primary
    subgroups: list[SubgroupRow]  # for an ordinal primary; empty otherwise
    deaths: dict[str, KaplanMeier]  # survival to day 28 by arm (empty without death dates)
    interim: InterimMonitoring | None  # with planned looks and a look column
    platform: PlatformAnalysis | None  # for a protocol with an adaptive section
    platform_patients: pd.DataFrame | None = None  # the data the platform analysis read (arm column "arm")


@dataclass(frozen=True)
class OpenReportInputs:
    """What the open report shows beyond descriptive tables: pooled survival only."""

    arms: list[str]  # empty when the export masks every arm
    masked: bool  # a blinded export (the trial server's, for the blinded team) masks every arm
    deaths: dict[str, KaplanMeier]


def utc_today() -> dt.date:
    """Today's date in UTC: the report's clock, whatever the machine's time zone."""
    return dt.datetime.now(dt.UTC).date()


def report_arms(protocol: Protocol, data: TrialData) -> list[str]:
    """The arms present in the data, the control last; refuses data without arm, site or date columns."""
    require_columns(data.patients, [data.arm, "site", "randomised_on"], "data")
    check_known_arms(data.patients, data.arm, [a.id for a in protocol.arms])
    control = protocol.control_arm
    present = set(data.patients[data.arm].astype(str))
    ordered = [a.id for a in protocol.arms if a.id in present and (control is None or a.id != control.id)]
    if control is not None and control.id in present:
        ordered.append(control.id)
    return ordered


def with_factor_columns(patients: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """A copy of ``patients`` with the protocol's randomization factors derived where the data lack them."""
    work = patients.copy()
    for factor in (protocol.randomization.factors if protocol.randomization else []):
        if factor.id not in work.columns:
            with contextlib.suppress(UserError):
                work[factor.id] = derived_column(work, factor.id, protocol)
    return work


def groups(df: pd.DataFrame, arm: str, arms: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Patients per arm, or every patient under one pooled heading when ``arms`` is ``[POOLED]``."""
    if list(arms) == [POOLED]:
        return {POOLED: df}
    return {a: df[df[arm].astype(str) == a] for a in arms}


def closed_report_inputs(protocol: Protocol, data: TrialData, *, cutoff: dt.date, prior_sd: float = 1.0,
                         important_or: float = 1.2, cp_futility: float | None = None) -> ClosedReportInputs:
    """Every analysis of the closed report: the protocol's comparisons, group-sequential monitoring, the Bayesian
    summary and subgroups of an ordinal primary, the adaptive platform's posteriors at ``cutoff`` and survival to
    day 28 (patients whose day-28 death outcome is still missing censored at ``cutoff``)."""
    p = data.patients
    arms = report_arms(protocol, data)
    control = protocol.control_arm.id if protocol.control_arm else arms[-1]
    analysis = run_protocol(protocol, p, arm=data.arm)
    interim = _interim(protocol, data, cp_futility)
    work = with_factor_columns(p, protocol)
    prim = analysis.comparisons[0]
    bayesian = None
    if isinstance(prim.result, OrdinalResult):
        adjusted = list(protocol.analysis.primary.covariates) if protocol.analysis else []
        bayesian = _bayesian(work, prim.result, data.arm, adjusted, prior_sd, important_or)
    subgroups = _subgroups(work, protocol, data.arm, control, arms[0])
    platform, platform_patients = None, None
    if protocol.adaptive is not None:
        platform_patients = p.rename(columns={data.arm: "arm"}) if data.arm != "arm" else p
        platform = analyze_platform(protocol, platform_patients, cutoff)
    deaths = death_curves(p, data.arm, arms, protocol=protocol, cutoff=cutoff)
    return ClosedReportInputs(arms, analysis, bayesian, subgroups, deaths, interim, platform, platform_patients)


def open_report_inputs(protocol: Protocol, data: TrialData, *, cutoff: dt.date) -> OpenReportInputs:
    """The open report's one analysis: survival to day 28 of all patients together (patients whose day-28 death
    outcome is still missing censored at ``cutoff``). A blinded export masks every arm: the open report needs
    none, and its arm column is then not checked against the protocol."""
    p = data.patients
    masked = data.arm in p.columns and set(p[data.arm].astype(str)) == {MASKED}
    if masked:
        require_columns(p, [data.arm, "site", "randomised_on"], "data")
    arms = [] if masked else report_arms(protocol, data)
    return OpenReportInputs(arms, masked, death_curves(p, data.arm, [POOLED], protocol=protocol, cutoff=cutoff))


def _interim(protocol: Protocol, data: TrialData, cp_futility: float | None) -> InterimMonitoring | None:
    """Group-sequential monitoring of the primary comparison, when the protocol has looks and the data a look
    column."""
    if protocol.analysis is None or protocol.analysis.looks is None or "look" not in data.patients.columns:
        return None
    inputs = looks_from_protocol(protocol, data.patients, arm=data.arm)
    result = monitor(MonitoringPlan.from_protocol(protocol.analysis), inputs.looks,
                     theta_design=inputs.theta_design, cp_futility=cp_futility,
                     measure=inputs.measure, log_scale=inputs.log_scale)
    return InterimMonitoring(inputs, result)


def _bayesian(work: pd.DataFrame, result: OrdinalResult, arm: str, covariates: list[str], prior_sd: float,
              important_or: float) -> BayesianSummary:
    """The primary's posterior, or why there is none: a sparse early look (separated data, say) has no computable
    posterior, and the committee still gets the rest of the report."""
    try:
        post = ordinal_posterior(work, result, arm=arm, covariates=covariates, prior_sd=prior_sd,
                                 important=important_or)
    except UserError as refusal:
        return BayesianSummary(prior_sd, important_or, refusal=str(refusal).splitlines()[0])
    return BayesianSummary(prior_sd, important_or, posterior=post)


def _subgroups(patients: pd.DataFrame, protocol: Protocol, arm: str, control: str, experimental: str
               ) -> list[SubgroupRow]:
    """Unadjusted proportional-odds odds ratios overall and in each level of the primary's covariates, strata, sex
    and site (levels with no finite interval left out); none unless the primary outcome is ordinal.

    References
    ----------
    McCullagh P (1980). Regression models for ordinal data. J R Stat Soc B 42:109-142 (the model:
    ``equipoise.analyze.ordinal``).
    """
    plan = protocol.analysis
    assert plan is not None
    outcome = protocol.outcome(plan.primary.outcome)
    if outcome is None or outcome.type is not OutcomeType.ORDINAL:
        return []
    col = outcome_column(patients, outcome)
    rows: list[SubgroupRow] = []
    overall = analyze_ordinal(patients, outcome=col, arm=arm, control=control, experimental=experimental,
                              better=outcome.better.value, refuse_not_estimable=False)
    rows.append(("All patients", overall.odds_ratio.estimate, overall.odds_ratio.ci_low, overall.odds_ratio.ci_high,
                 f"n = {overall.n}"))
    candidates = list(dict.fromkeys([*plan.primary.covariates, *plan.primary.strata, "sex", "site"]))
    for name in candidates:
        try:
            values = derived_column(patients, name, protocol)
        except UserError:
            continue
        rows.append((name, math.nan, math.nan, math.nan, ""))
        for level in sorted(values.dropna().astype(str).unique()):
            sub = patients[values.astype(str) == level].reset_index(drop=True)
            try:
                res = analyze_ordinal(sub, outcome=col, arm=arm, control=control, experimental=experimental,
                                      better=outcome.better.value, refuse_not_estimable=False)
            except UserError:
                continue
            if not all(map(math.isfinite, (res.odds_ratio.ci_low, res.odds_ratio.ci_high))):
                continue
            rows.append((f"  {level}", res.odds_ratio.estimate, res.odds_ratio.ci_low, res.odds_ratio.ci_high,
                         f"n = {res.n}"))
    return rows


def death_curves(patients: pd.DataFrame, arm: str, arms: Sequence[str], horizon: int = 28,
                 protocol: Protocol | None = None, cutoff: dt.date | None = None) -> dict[str, KaplanMeier]:
    """Kaplan–Meier survival from ``death_date``. A patient without a death date is alive at ``horizon``, unless
    the protocol's death outcome is missing for them (followed for less than ``horizon`` days, e.g. in an
    interim export of the trial server): then they are censored at the data cut-off (default: the report date),
    not counted as survivors to ``horizon``.

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. J Am Stat Assoc
    53:457-481 (the estimator: ``equipoise.analyze.kaplan_meier``).
    """
    if "death_date" not in patients.columns or "randomised_on" not in patients.columns:
        return {}
    start = pd.to_datetime(patients["randomised_on"])
    death = pd.to_datetime(patients["death_date"], errors="coerce")
    days = (death - start).dt.days
    event = days.notna() & (days <= horizon)
    alive_to = np.full(len(patients), float(horizon))
    death_outcome = next((o for o in (protocol.outcomes if protocol else []) if o.type is OutcomeType.BINARY
                          and "death" in f"{o.id} {o.event or ''}".lower()), None)
    if death_outcome is not None and cutoff is not None:
        with contextlib.suppress(UserError):
            unknown = pd.to_numeric(patients[outcome_column(patients, death_outcome)], errors="coerce").isna()
            followed = (pd.Timestamp(cutoff) - start).dt.days.clip(lower=0, upper=horizon).astype(float)
            alive_to = np.where(unknown.to_numpy(), followed.to_numpy(), alive_to)
    time = np.where(event, days.fillna(horizon), alive_to).astype(float)
    curves: dict[str, KaplanMeier] = {}
    for name, g in groups(patients.assign(_t=time, _e=event.astype(int)), arm, arms).items():
        curves[name] = kaplan_meier(g["_t"], g["_e"])
    return curves

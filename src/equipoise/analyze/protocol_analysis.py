"""Run the analyses a protocol names (``analysis.primary`` and ``secondary``) on a wide patient-level table.

Column resolution, for each comparison (first match wins):

- the outcome: a column named like the outcome id (``who_day28``), its ``source`` (``clinical_status.who_score``)
  or the source's field (``who_score``);
- time-to-event outcomes: ``<id>_time`` and ``<id>_status`` (0 censored, 1 event, 2 competing event); or, when
  absent, derived from dates: the ``source`` date column (e.g. ``outcome.discharge_date`` / ``discharge_date``)
  and ``randomised_on``; a ``death_date`` column marks death as the competing event when the outcome lists
  competing events; follow-up is censored at the outcome's ``day``;
- covariates and strata: a column of that name, or a randomisation factor of that id derived from its field
  (``age65`` from ``age`` cut at 65).

References
----------
ICH E9 (1998). Statistical principles for clinical trials, section 5 (the pre-specified analyses).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from equipoise.analyze.bayes import Posterior
from equipoise.analyze.binary import BinaryResult, Interval
from equipoise.analyze.continuous import ContinuousResult
from equipoise.analyze.data import PART_ARM_PREFIX, check_known_arms, is_missing, line_of, require_columns
from equipoise.analyze.events import event_time
from equipoise.analyze.frame import (
    analyze_binary,
    analyze_continuous,
    analyze_ordinal,
    analyze_survival,
    ordinal_posterior,
)
from equipoise.analyze.ordinal import OrdinalResult
from equipoise.analyze.survival import SurvivalResult
from equipoise.errors import UserError
from equipoise.protocol import AnalysisMethod, Comparison, Outcome, OutcomeType, Protocol
from equipoise.protocol.amending import with_every_field

AnyResult = BinaryResult | OrdinalResult | SurvivalResult | ContinuousResult

RANDOMISED_ON = ("randomised_on", "randomized_on", "randomisation_date", "randomization_date")


@dataclass(frozen=True)
class ComparisonResult:
    role: str  # "primary" or "secondary"
    outcome: Outcome
    method: str
    result: AnyResult
    posterior: Posterior | None = None
    part: str | None = None  # a further randomization whose arms are compared (a factorial part)

    @property
    def title(self) -> str:
        """e.g. "secondary, part ivermectin, risk-difference"."""
        return ", ".join([self.role, *([f"part {self.part}"] if self.part else []), self.method])

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "part": self.part, "outcome": self.outcome.id, "outcome_name": self.outcome.name,
                "method": self.method, "better": self.outcome.better.value, "result": self.result.to_dict(),
                "posterior": self.posterior.to_dict() if self.posterior else None}

    def __str__(self) -> str:
        lines = [f"[{self.title}] {self.outcome.name}", str(self.result)]
        if self.posterior is not None:
            lines.append(f"  {self.posterior}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ProtocolAnalysis:
    trial: str
    version: str
    control: str
    experimental: tuple[str, ...]
    n: int
    comparisons: tuple[ComparisonResult, ...]
    not_run: tuple[str, ...] = ()  # pre-specified comparisons the data cannot give yet, and why

    def to_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "version": self.version, "control": self.control,
                "experimental": list(self.experimental), "n": self.n,
                "comparisons": [c.to_dict() for c in self.comparisons], "not_run": list(self.not_run)}

    def __str__(self) -> str:
        lines = [f"{self.trial} (protocol version {self.version}): {self.n} patients; control arm {self.control}"]
        for c in self.comparisons:
            role = f"{c.role}, part {c.part}" if c.part else c.role
            lines += ["", f"[{role}] {c.outcome.name} — {c.method}", str(c.result)]
            if c.posterior is not None:
                lines.append("  " + str(c.posterior))
        lines += ["", *(f"not run: {why}" for why in self.not_run)] if self.not_run else []
        return "\n".join(lines)


def outcome_column(df: pd.DataFrame, outcome: Outcome) -> str:
    candidates = [outcome.id]
    if outcome.source:
        candidates += [outcome.source, outcome.source.split(".", 1)[1]]
    for c in candidates:
        if c in df.columns:
            return c
    raise UserError(f"data: no column for outcome {outcome.id!r} (looked for {', '.join(map(repr, candidates))})")


def derived_column(df: pd.DataFrame, name: str, protocol: Protocol) -> pd.Series:
    """A covariate or stratum: a column of that name, or a randomisation factor derived from its field."""
    if name in df.columns:
        return df[name]
    factor = protocol.randomization.factor(name) if protocol.randomization else None
    if factor is not None and factor.field in df.columns:
        values = [None if is_missing(v) else factor.level_of(_plain(v)) for v in df[factor.field].tolist()]
        return pd.Series(values, index=df.index, dtype=object)
    hint = f" or its field {factor.field!r}" if factor is not None else ""
    raise UserError(f"data: no column {name!r}{hint} for a covariate or stratum of the protocol")


def _plain(v: object) -> object:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return int(v) if float(v).is_integer() else float(v)
    return v


def _dates(df: pd.DataFrame, column: str) -> list[dt.date | None]:
    out: list[dt.date | None] = []
    for pos, v in enumerate(df[column].tolist()):
        if is_missing(v):
            out.append(None)
            continue
        try:
            out.append(dt.date.fromisoformat(str(v)[:10]))
        except ValueError:
            raise UserError(f"data: line {line_of(df, pos)}: column {column!r} = {v!r} is not a date YYYY-MM-DD"
                            ) from None
    return out


def time_to_event_columns(df: pd.DataFrame, outcome: Outcome) -> tuple[pd.DataFrame, str, str]:
    """Add ``<id>_time`` / ``<id>_status`` derived from dates when they are not given."""
    t_col, s_col = f"{outcome.id}_time", f"{outcome.id}_status"
    if t_col in df.columns and s_col in df.columns:
        return df, t_col, s_col
    source = None
    if outcome.source:
        for c in (outcome.source, outcome.source.split(".", 1)[1]):
            if c in df.columns:
                source = c
    start = next((c for c in RANDOMISED_ON if c in df.columns), None)
    if source is None or start is None:
        raise UserError(f"data: outcome {outcome.id!r} needs columns {t_col!r} and {s_col!r}, or the date column "
                        f"{outcome.source or '(source)'!r} and 'randomised_on'")
    death = next((c for c in ("death_date", "outcome.death_date") if c in df.columns), None)
    start_d, event_d = _dates(df, start), _dates(df, source)
    death_d = _dates(df, death) if death and outcome.competing_events else [None] * len(df)
    times, status = [], []
    for pos, (s, e, d) in enumerate(zip(start_d, event_d, death_d, strict=True)):
        if s is None:
            raise UserError(f"data: line {line_of(df, int(pos))}: column {start!r} is empty")
        if e is not None and (e - s).days < 0:
            raise UserError(f"data: line {line_of(df, pos)}: {source!r} ({e}) is before {start!r} ({s})")
        t, st = event_time(s, e, d, float(outcome.day))
        times.append(t)
        status.append(st)
    out = df.copy()
    out[t_col] = times
    out[s_col] = status
    return out, t_col, s_col


def run_comparison(protocol: Protocol, df: pd.DataFrame, comparison: Comparison, *, arm: str, control: str,
                   experimental: str, role: str, part: str | None = None) -> ComparisonResult:
    outcome = protocol.outcome(comparison.outcome)
    if outcome is None:  # the protocol validator prevents this
        raise UserError(f"protocol: comparison names unknown outcome {comparison.outcome!r}")
    work = df.copy()
    names = list(dict.fromkeys([*comparison.covariates, *comparison.strata]))
    for name in names:
        work[name] = derived_column(work, name, protocol)
    better = outcome.better.value
    method = comparison.method
    common: dict[str, Any] = {"arm": arm, "control": control, "experimental": experimental, "better": better}
    result: AnyResult
    if outcome.type is OutcomeType.BINARY:
        col = outcome_column(work, outcome)
        interval: Interval = "exact" if method is AnalysisMethod.ODDS_RATIO else "newcombe"
        result = analyze_binary(work, outcome=col, strata=comparison.strata, covariates=comparison.covariates,
                                interval=interval, **common)
    elif outcome.type is OutcomeType.ORDINAL:
        col = outcome_column(work, outcome)
        result = analyze_ordinal(work, outcome=col, covariates=comparison.covariates, scale=outcome.resolved_scale,
                                 refuse_not_estimable=False, **common)
        if method is AnalysisMethod.BAYESIAN_PROPORTIONAL_ODDS:
            # the protocol format has no prior yet: a neutral N(0, 1) prior on the log odds ratio, stated in output
            # a posterior that cannot be computed (too few patients at an early look) leaves the frequentist
            # result standing, as a Cox fit without events does
            try:
                posterior = ordinal_posterior(work, result, arm=arm, covariates=comparison.covariates,
                                              prior_sd=1.0, important=1.2)
            except UserError:
                posterior = None
            return ComparisonResult(role, outcome, method.value, result, posterior, part)
    elif outcome.type is OutcomeType.TIME_TO_EVENT:
        work, t_col, s_col = time_to_event_columns(work, outcome)
        # an arm without events (early in a trial) leaves the ratios NaN with the reason, and the other
        # comparisons go on
        result = analyze_survival(work, time=t_col, event=s_col, covariates=comparison.covariates,
                                  strata=comparison.strata, competing=bool(outcome.competing_events),
                                  horizon=float(outcome.day), outcome=outcome.id, refuse_not_estimable=False,
                                  **common)
    else:
        col = outcome_column(work, outcome)
        result = analyze_continuous(work, outcome=col, covariates=comparison.covariates, **common)
    return ComparisonResult(role, outcome, method.value, result, part=part)


def concurrent_patients(protocol: Protocol, df: pd.DataFrame, experimental: str, *, arm: str = "arm",
                        site: str = "site") -> npt.NDArray[np.bool_]:
    """Patients for the comparison of ``experimental`` with control: those of that arm, and controls randomised
    while the arm was open (per the amendments in force on their randomisation date) at a site offering it.

    Non-concurrent controls would confound the comparison with calendar time (RECOVERY's and every platform
    trial's rule). Without ``randomised_on`` and ``site`` columns every control patient is used."""
    arms = df[arm].astype(str).to_numpy()
    keep = arms == experimental
    start = next((c for c in RANDOMISED_ON if c in df.columns), None)
    if start is None or site not in df.columns or (not protocol.amendments and all(
            s.arms is None for s in protocol.sites)):
        return np.asarray(keep | (arms != experimental), dtype=np.bool_)
    open_cache: dict[tuple[dt.date, str], bool] = {}
    dates = _dates(df, start)
    sites = df[site].astype(str).tolist()
    for pos in np.flatnonzero(arms != experimental):
        date = dates[pos]
        if date is None:
            raise UserError(f"data: line {line_of(df, int(pos))}: column {start!r} is empty")
        key = (date, sites[pos])
        if key not in open_cache:
            try:
                version = protocol.in_force(date)
                open_cache[key] = experimental in [a.id for a in version.arms_at_site(sites[pos])]
            except (ValueError, KeyError):
                open_cache[key] = False
        keep[pos] = open_cache[key]
    return np.asarray(keep, dtype=np.bool_)


def run_protocol(protocol: Protocol, df: pd.DataFrame, *, arm: str = "arm", experimental: str | None = None,
                 which: str = "all") -> ProtocolAnalysis:
    """The primary (and, with ``which="all"``, secondary) comparisons for each experimental arm vs its
    concurrent controls (see :func:`concurrent_patients`)."""
    plan = protocol.analysis
    if plan is None:
        raise UserError("protocol: it has no analysis section")
    control = protocol.control_arm
    if control is None:
        raise UserError("protocol: no control arm (set analysis.control_arm)")
    require_columns(df, [arm])
    check_known_arms(df, arm, [a.id for a in protocol.arms])
    experimental_arms = [experimental] if experimental else [a.id for a in protocol.arms if a.id != control.id]
    present = set(df[arm].astype(str))
    experimental_arms = [a for a in experimental_arms if a in present]
    if control.id not in present or not experimental_arms:
        raise UserError(f"data: column {arm!r} must hold the control arm {control.id!r} and at least one other arm")
    secondary = plan.secondary if which == "all" else []
    comparisons = [("primary", plan.primary)] + [("secondary", c) for c in secondary if c.part is None]
    results = []
    for e in experimental_arms:
        concurrent = concurrent_patients(protocol, df, e, arm=arm)
        sub = df.loc[concurrent].reset_index(drop=True) if not concurrent.all() else df
        results += [run_comparison(protocol, sub, comp, arm=arm, control=control.id, experimental=e, role=role)
                    for role, comp in comparisons]
    not_run: list[str] = []
    for comp in (c for c in secondary if c.part is not None):
        done, why = _part_comparisons(protocol, df, comp)
        results += done
        not_run += [why] if why else []
    return ProtocolAnalysis(protocol.trial.id, protocol.trial.version, control.id, tuple(experimental_arms), len(df),
                            tuple(results), tuple(not_run))


def _part_comparisons(protocol: Protocol, df: pd.DataFrame, comparison: Comparison
                      ) -> tuple[list[ComparisonResult], str | None]:
    """A factorial part's comparison (Kahan et al. 2023, CONSORT factorial extension: each factor compared
    among the patients randomized in it, "at the margins"), for each experimental arm of the part; or why it
    cannot run yet (no patient randomized in the part, or one of its arms still empty)."""
    part = with_every_field(protocol).further_randomization(comparison.part or "")  # opened by an amendment too
    control = part.control_arm if part is not None else None
    if part is None or control is None:  # the protocol check refuses both
        raise UserError(f"protocol: comparison names further randomization {comparison.part!r}, which has no "
                        "single control arm")
    column = f"{PART_ARM_PREFIX}{part.id}"
    require_columns(df, [column], f"the comparison of part {part.id}")
    randomized = df[~df[column].map(is_missing)].reset_index(drop=True)
    present = set(randomized[column].astype(str))
    experimental = [a.id for a in part.arms if a.id != control.id and a.id in present]
    if control.id not in present or not experimental:
        return [], (f"{comparison.outcome} by part {part.id}: {len(randomized)} patients randomized in it, and its "
                    f"control arm {control.id!r} and another arm are not both among them yet")
    return [run_comparison(protocol, randomized, comparison, arm=column, control=control.id, experimental=e,
                           role="secondary", part=part.id) for e in experimental], None

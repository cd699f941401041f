"""The monitoring committee's closed report (by arm) and the open report (pooled) for a protocol and its data.

The data (``TrialData``) are DataFrames in the wide layout (README, "Data layout"); the analyses come done, from
``equipoise.analyze.report_inputs`` (``closed_report_inputs``, ``open_report_inputs``): this module renders
them with the descriptive tables and figures. The open report is built from the same inputs but never groups an
outcome by arm: tests check that shuffling the arm labels leaves it unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from equipoise import __version__
from equipoise.analyze.binary import BinaryResult
from equipoise.analyze.ordinal import OrdinalResult
from equipoise.analyze.protocol_analysis import ComparisonResult, outcome_column, time_to_event_columns
from equipoise.analyze.report_inputs import (
    POOLED,
    BayesianSummary,
    ClosedReportInputs,
    InterimMonitoring,
    OpenReportInputs,
    TrialData,
    groups,
    utc_today,
    with_factor_columns,
)
from equipoise.analyze.results import fmt, fmt_p
from equipoise.analyze.survival import SurvivalResult
from equipoise.errors import UserError
from equipoise.figures.consort import consort_plot
from equipoise.figures.enrolment import enrolment_plot
from equipoise.figures.kaplan_meier import km_plot
from equipoise.figures.ordinal_distribution import who_stacked_bars
from equipoise.figures.subgroup_forest import subgroup_forest_plot
from equipoise.protocol import Outcome, OutcomeType, Protocol
from equipoise.report.document import Report, Section, render
from equipoise.report.platform_section import platform_section
from equipoise.report.tables import Table, baseline_table, consort_counts, enrolment_table, plural, safety_tables

__all__ = ["ReportOptions", "TrialData", "closed_report", "open_report", "readable_covariates"]


@dataclass(frozen=True)
class ReportOptions:
    report_date: dt.date | None = None  # the UTC date (default: today in UTC)
    prior_sd: float = 1.0  # neutral normal prior on the log odds ratio for the Bayesian summary
    important_or: float = 1.2
    cp_futility: float | None = None
    data_cutoff: dt.date | None = None  # when the data were extracted (default: the report date)
    data_source: str | None = None  # where the data come from, e.g. the trial server's export and its file hash

    def cutoff(self) -> dt.date:
        """The data cut-off the analyses use: ``data_cutoff``, else the report date, else today in UTC."""
        return self.data_cutoff or self.report_date or utc_today()


def readable_covariates(names: Sequence[str], data: pd.DataFrame) -> str:
    """The model's covariate terms as a reader says them: ``severity (mild, severe vs critical); age``.

    A factor enters the model as one indicator per level but its reference level (R's treatment contrasts: the
    first level in sorted order), named column+level as R names them (``severitymild``); a numeric covariate
    keeps its column's name."""
    columns = [str(c) for c in data.columns]
    levels: dict[str, list[str]] = {}
    for name in names:
        column = max((c for c in columns if name.startswith(c)), key=len, default=name)
        levels.setdefault(column, [])
        if name != column:
            levels[column].append(name[len(column):])
    parts = []
    for column, shown in levels.items():
        if not shown:
            parts.append(column)
            continue
        observed = sorted(set(data[column].dropna().astype(str))) if column in columns else []
        reference = [lv for lv in observed if lv not in shown]
        parts.append(f"{column} ({', '.join(shown)}" + (f" vs {reference[0]})" if len(reference) == 1 else ")"))
    return "; ".join(parts)


def _meta(protocol: Protocol, data: TrialData, options: ReportOptions) -> list[str]:
    p = data.patients
    cut = str(p["randomised_on"].max()) if "randomised_on" in p.columns else "unknown"
    date = options.report_date or utc_today()
    ids = ", ".join(f"{r.registry} {r.id}" for r in protocol.trial.registry_ids)
    # Two clocks, each named: the report is dated in UTC, randomisation dates are the site's own date (the day
    # the coordinator saw), which east of Greenwich can be a day ahead of UTC.
    return [f"Protocol {protocol.trial.id}, version {protocol.trial.version} ({ids})",
            f"Report date {date.isoformat()} (UTC); last randomisation in the data {cut} (the site's local date); "
            f"{plural(len(p), 'patient')} randomised",
            f"Sponsor: {protocol.trial.sponsor}; blinding: {protocol.trial.blinding.value}",
            *([f"Data: {options.data_source}"] if options.data_source else [])]


def _who_columns(patients: pd.DataFrame, outcome_id: str) -> list[tuple[int, str]]:
    m = re.match(r"^(.+)_day(\d+)$", outcome_id)
    if not m:
        return [(0, outcome_id)] if outcome_id in patients.columns else []
    prefix = m.group(1)
    cols = []
    for c in patients.columns:
        mm = re.match(rf"^{re.escape(prefix)}_day(\d+)$", str(c))
        if mm:
            cols.append((int(mm.group(1)), str(c)))
    return sorted(cols)


def _ordinal_counts(patients: pd.DataFrame, protocol: Protocol, arm: str, arms: Sequence[str]
                    ) -> tuple[dict[str, dict[str, list[int]]], list[int], dict[int, str]] | None:
    plan = protocol.analysis
    if plan is None:
        return None
    outcome = protocol.outcome(plan.primary.outcome)
    if outcome is None or outcome.type is not OutcomeType.ORDINAL or outcome.resolved_scale is None:
        return None
    scale = outcome.resolved_scale
    levels = scale.values
    counts: dict[str, dict[str, list[int]]] = {}
    for day, col in _who_columns(patients, outcome.id):
        by = {}
        for name, g in groups(patients, arm, arms).items():
            v = pd.to_numeric(g[col], errors="coerce").dropna().astype(int)
            by[name] = [int((v == lv).sum()) for lv in levels]
        counts[f"day {day}"] = by
    if not counts:
        return None
    return counts, levels, {lv.value: lv.label for lv in scale.levels}


def _result_table(comp: ComparisonResult, data: pd.DataFrame) -> Table:
    """``data``: the patients analysed, to read the model's covariate terms back as column and level."""
    r = comp.result
    rows: list[list[str]] = []
    if isinstance(r, OrdinalResult):
        rows = [["Common odds ratio (95% CI)", f"{fmt(r.odds_ratio.estimate, 2)} ({fmt(r.odds_ratio.ci_low, 2)} to "
                 f"{fmt(r.odds_ratio.ci_high, 2)})"], ["p-value (Wald, two-sided)", fmt_p(r.odds_ratio.p_value)],
                ["Log odds ratio (SE)", f"{fmt(r.log_odds_ratio, 4)} ({fmt(r.se, 4)})"],
                ["Adjusted for", readable_covariates(r.covariates, data) or "nothing"],
                ["Patients analysed", str(r.n)]]
        if r.po_test:
            rows.append(["Proportional-odds LR test", f"chi-square {fmt(r.po_test.chisq, 2)} on {r.po_test.df} df, "
                         f"p = {fmt_p(r.po_test.p_value)}"])
        rows.append(["Wilcoxon–Mann–Whitney", f"p = {fmt_p(r.wilcoxon.p_value)}"])
        note = r.direction
    elif isinstance(r, BinaryResult):
        for count in r.arms:
            rows.append([f"{count.arm}: events / patients",
                         f"{count.events} / {count.n} ({100 * count.proportion:.1f}%)"])
        for label, est in (("Risk difference", r.risk_difference), ("Risk ratio", r.risk_ratio),
                           ("Odds ratio", r.odds_ratio)):
            rows.append([f"{label} (95% CI)", f"{fmt(est.estimate)} ({fmt(est.ci_low)} to {fmt(est.ci_high)}); "
                         f"p = {fmt_p(est.p_value)}"])
        if r.strata:
            rows.append(["Stratified by", ", ".join(r.strata) + " (Mantel–Haenszel)"])
        note = r.direction
    elif isinstance(r, SurvivalResult):
        for name in (r.experimental, r.control):
            m = r.medians[name]
            rows.append([f"{name}: events / patients; median (95% CI)", f"{r.events[name]} / {r.n[name]}; "
                         f"{fmt(m.estimate, 1)} ({fmt(m.ci_low, 1)} to {fmt(m.ci_high, 1)})"])
        cs = " (cause-specific)" if r.incidence is not None else ""
        rows.append([f"Hazard ratio{cs} (95% CI)", f"not estimable: {r.not_estimable}" if r.not_estimable else
                     f"{fmt(r.hazard_ratio.estimate, 2)} ({fmt(r.hazard_ratio.ci_low, 2)} to "
                     f"{fmt(r.hazard_ratio.ci_high, 2)}); p = {fmt_p(r.hazard_ratio.p_value)}"])
        if r.subdistribution is not None:
            shr = r.subdistribution[2]
            rows.append(["Subdistribution hazard ratio, Fine–Gray (95% CI)", f"{fmt(shr.estimate, 2)} "
                         f"({fmt(shr.ci_low, 2)} to {fmt(shr.ci_high, 2)}); p = {fmt_p(shr.p_value)}"])
        rows.append(["Log-rank", f"chi-square {fmt(r.logrank.chisq, 2)}, p = {fmt_p(r.logrank.p_value)}"])
        if r.incidence is not None and r.horizon is not None:
            for name, ci in r.incidence.items():
                low, high = ci.interval_at(r.horizon)
                rows.append([f"{name}: cumulative incidence by day {r.horizon:g} (95% CI)",
                             f"{100 * ci.at(r.horizon):.1f}% ({100 * low:.1f}% to {100 * high:.1f}%)"])
        note = r.direction + ("; " + "; ".join(r.notes) if r.notes else "")
    else:
        rows = [["Mean difference (95% CI)", str(r.mean_difference)]]
        note = r.direction
    return Table(f"{comp.outcome.name} ({comp.title})", ["", "Result"], rows, note)


def _due(patients: pd.DataFrame, outcome: Outcome | None, options: ReportOptions) -> pd.Series | None:
    """Per patient: was the outcome due (randomisation + the outcome's day) by the data cut-off?"""
    if outcome is None or "randomised_on" not in patients.columns:
        return None
    start = pd.to_datetime(patients["randomised_on"], errors="coerce")
    return (start + pd.Timedelta(days=outcome.day)) <= pd.Timestamp(options.cutoff())


def _interim_section(interim: InterimMonitoring) -> Section:
    """Group-sequential monitoring of the primary comparison: the decision, the looks so far and the boundaries."""
    inputs, result = interim.looks, interim.result
    sec = Section("Group-sequential monitoring of the primary outcome")
    sec.callout(f"Look {result.look} of {result.planned_looks}: {result.decision}", result.reasons)
    d = result.to_dict()
    rows = [[str(lk["look"]), str(lk["n"]), f"{lk['information_fraction']:.3f}", fmt(lk["estimate"], 2),
             fmt(lk["z"], 3), fmt(result.upper[i], 3), fmt(result.lower[i], 3) if result.lower[i] is not None else "—",
             f"{fmt(lk['repeated_ci'][0], 2)} to {fmt(lk['repeated_ci'][1], 2)}"]
            for i, lk in enumerate(d["looks"])]
    sec.table(Table("Looks so far", ["Look", "Patients", "Information", inputs.measure.replace("_", " "), "Z",
                                     "Efficacy bound", "Futility bound", "Repeated 95% CI"], rows,
                    f"Plan: {result.plan.describe()}. {inputs.description}. Z > 0 favours the experimental arm."))
    sec.figure(result.plot(), "Efficacy (green) and futility (red) boundaries on the Z scale, recalculated at "
                              "the observed information fractions, with the observed path (black).")
    return sec


def closed_report(protocol: Protocol, data: TrialData, inputs: ClosedReportInputs,
                  options: ReportOptions | None = None) -> Report:
    """The committee's closed report: every table and figure by arm, the analyses from ``closed_report_inputs``
    on the same protocol and data."""
    options = options or ReportOptions()
    p = data.patients
    arms = inputs.arms
    control = protocol.control_arm.id if protocol.control_arm else arms[-1]
    analysis = inputs.analysis
    sections: list[Section] = []
    primary_outcome = protocol.outcome(protocol.analysis.primary.outcome) if protocol.analysis else None
    primary_col = outcome_column(p, primary_outcome) if primary_outcome else None
    interim = _interim_section(inputs.interim) if inputs.interim is not None else None
    summary = Section("Summary for the committee")
    prim = analysis.comparisons[0]
    summary.text(f"Primary outcome: {prim.outcome.name}. " + _headline(prim))
    if interim is not None and interim.blocks and interim.blocks[0].kind == "callout":
        summary.blocks.append(interim.blocks[0])
    sections.append(summary)
    flow = Section("Participant flow (CONSORT)")
    boxes = consort_counts(p, data.screening, arm=data.arm, arms=arms, primary_column=primary_col,
                           pooled_follow_up=False, due=_due(p, primary_outcome, options))
    flow.figure(consort_plot(boxes, arms), "CONSORT 2010 flow diagram by arm.")
    sections.append(flow)
    enrol = Section("Enrolment")
    target = protocol.enrolment.target.total if protocol.enrolment.target else None
    enrol.figure(enrolment_plot(p["randomised_on"], p["site"], target), "Cumulative randomisations by site.")
    enrol.table(enrolment_table(p, arm=data.arm, arms=arms))
    sections.append(enrol)
    base = Section("Baseline characteristics")
    work = with_factor_columns(p, protocol)
    base.table(baseline_table(work, arm=data.arm, arms=arms, numeric=["age"],
                              categorical=["sex", "severity", "age65", "who_baseline", "site"],
                              labels={"age": "Age (years)", "who_baseline": "WHO scale at enrolment"}))
    sections.append(base)
    prim_sec = Section("Primary outcome")
    prim_sec.table(_result_table(prim, work))
    if inputs.bayesian is not None:
        prim_sec.bullets([_bayesian_summary(inputs.bayesian)])
    counts = _ordinal_counts(work, protocol, data.arm, arms)
    if counts:
        prim_sec.figure(who_stacked_bars(*counts), "Distribution of the WHO clinical progression scale by arm and "
                                                   "day (percent of patients with the assessment).")
    if inputs.subgroups:
        prim_sec.figure(subgroup_forest_plot(inputs.subgroups, measure="common odds ratio (lower WHO level)",
                                             favours=(control, arms[0]), title="Primary outcome by subgroup "
                                             "(unadjusted proportional-odds odds ratios)"),
                        "Subgroup estimates are descriptive: the trial is not powered for them.")
    sections.append(prim_sec)
    platform = (platform_section(inputs.platform, inputs.platform_patients)
                if inputs.platform is not None and inputs.platform_patients is not None else None)
    if platform is not None:
        summary.blocks.append(platform.blocks[0])  # the rules' decisions
        sections.append(platform)
    sec = Section("Secondary outcomes")
    for comp in analysis.comparisons[1:]:
        sec.table(_result_table(comp, work))
        r = comp.result
        if isinstance(r, SurvivalResult):
            sec.figure(km_plot(r.curves, title=f"{comp.outcome.name}", horizon=r.horizon, incidence=True,
                               aalen_johansen=r.incidence),
                       "Cumulative incidence by arm (Aalen–Johansen, death competing; 95% pointwise band)"
                       if r.incidence else "Cumulative incidence by arm (1 − Kaplan–Meier, 95% pointwise band)")
    for why in analysis.not_run:
        sec.text(f"Not analysable yet: {why}.")
    if inputs.deaths:
        sec.figure(km_plot(inputs.deaths, title="Survival to day 28", horizon=28),
                   "Kaplan–Meier survival by arm with 95% pointwise bands (log transform) and numbers at risk.")
    sections.append(sec)
    safety = Section("Safety")
    for t in safety_tables(p, data.adverse_events, arm=data.arm, arms=arms):
        safety.table(t)
    if not safety.blocks:
        safety.text("No adverse-event data were supplied.")
    sections.append(safety)
    if interim is not None:
        sections.append(interim)
    sections.append(_methods_section(analysis.comparisons))
    return render("closed", f"{protocol.trial.title}: closed report for the data monitoring committee",
                  "CLOSED REPORT — CONFIDENTIAL — FOR THE DATA MONITORING COMMITTEE ONLY",
                  _meta(protocol, data, options), sections, _footer())


def open_report(protocol: Protocol, data: TrialData, inputs: OpenReportInputs,
                options: ReportOptions | None = None) -> Report:
    """The open report for the blinded trial team and the open session: pooled data only, the analyses from
    ``open_report_inputs`` on the same protocol and data."""
    options = options or ReportOptions()
    p = data.patients
    masked, arms = inputs.masked, inputs.arms
    primary_outcome = protocol.outcome(protocol.analysis.primary.outcome) if protocol.analysis else None
    primary_col = outcome_column(p, primary_outcome) if primary_outcome else None
    sections: list[Section] = []
    flow = Section("Participant flow (pooled)")
    boxes = consort_counts(p, data.screening, arm=data.arm, arms=[POOLED], primary_column=primary_col,
                           pooled_follow_up=True, due=_due(p, primary_outcome, options))
    alloc = "arms masked" if masked else ", ".join(f"{a}: {int((p[data.arm].astype(str) == a).sum())}" for a in arms)
    boxes[f"allocated:{POOLED}"] = boxes[f"allocated:{POOLED}"].replace(f"Allocated to {POOLED}", "Allocated") + \
        f"\n({alloc})"
    flow.figure(consort_plot(boxes, [POOLED]), "CONSORT flow diagram, pooled over arms after allocation.")
    sections.append(flow)
    enrol = Section("Enrolment")
    target = protocol.enrolment.target.total if protocol.enrolment.target else None
    enrol.figure(enrolment_plot(p["randomised_on"], p["site"], target), "Cumulative randomisations by site.")
    enrol.table(enrolment_table(p, arm=data.arm, arms=[POOLED]))
    sections.append(enrol)
    work = with_factor_columns(p, protocol)
    base = Section("Baseline characteristics (pooled)")
    base.table(baseline_table(work, arm=data.arm, arms=[POOLED], numeric=["age"],
                              categorical=["sex", "severity", "age65", "who_baseline", "site"],
                              labels={"age": "Age (years)", "who_baseline": "WHO scale at enrolment"}))
    sections.append(base)
    outc = Section("Outcomes (pooled over arms)")
    outc.text("Outcome data are shown for all patients together; no comparison between arms is made in this report.")
    counts = _ordinal_counts(work, protocol, data.arm, [POOLED])
    if counts:
        outc.figure(who_stacked_bars(*counts), "WHO clinical progression scale, all patients, by day.")
    rows = []
    for o in protocol.outcomes:
        try:
            if o.type is OutcomeType.TIME_TO_EVENT:
                w, _t, s_col = time_to_event_columns(work, o)
                known = int(w[s_col].notna().sum())
                rows.append([o.name, f"{plural(int((w[s_col] == 1).sum()), 'event')} in {plural(known, 'patient')}"
                             + (f"; missing {len(w) - known}" if known < len(w) else "")])
            else:
                col = outcome_column(work, o)
                v = pd.to_numeric(work[col], errors="coerce")
                summary = (f"{int(v.sum())} / {int(v.notna().sum())} ({100 * v.mean():.1f}%)"
                           if o.type is OutcomeType.BINARY else f"median {v.median():g} (n = {int(v.notna().sum())})")
                rows.append([o.name, summary + f"; missing {int(v.isna().sum())}"])
        except UserError:
            rows.append([o.name, "not in the data"])
    outc.table(Table("Outcome summaries, all patients", ["Outcome", "Pooled"], rows))
    if inputs.deaths:
        outc.figure(km_plot(inputs.deaths, title="Survival to day 28, all patients", horizon=28),
                    "Kaplan–Meier survival, all patients, with 95% pointwise band and numbers at risk.")
    sections.append(outc)
    safety = Section("Safety (pooled)")
    for t in safety_tables(p, data.adverse_events, arm=data.arm, arms=[POOLED]):
        safety.table(t)
    sections.append(safety)
    if protocol.analysis and protocol.analysis.looks and "look" in p.columns and primary_col:
        info = Section("Information accrued")
        rows = []
        planned = protocol.analysis.looks.information_rates
        for k in sorted(pd.to_numeric(p["look"], errors="coerce").dropna().astype(int).unique()):
            n = int(p.loc[pd.to_numeric(p["look"]) <= k, primary_col].notna().sum())
            rows.append([str(k), str(n), f"{n / (target or 1):.3f}", f"{planned[k - 1]:.3f}" if k <= len(planned)
                         else "—"])
        info.table(Table("Looks", ["Look", "Patients with the primary outcome", "Information fraction",
                                   "Planned fraction"], rows, "Interim results are reviewed in the closed session."))
        sections.append(info)
    return render("open", f"{protocol.trial.title}: open report", "OPEN REPORT — POOLED DATA, NO COMPARISON BY ARM",
                  _meta(protocol, data, options), sections, _footer())


def _headline(comp: ComparisonResult) -> str:
    r = comp.result
    if isinstance(r, OrdinalResult):
        return (f"common odds ratio {fmt(r.odds_ratio.estimate, 2)} (95% CI {fmt(r.odds_ratio.ci_low, 2)} to "
                f"{fmt(r.odds_ratio.ci_high, 2)}), p = {fmt_p(r.odds_ratio.p_value)}; {r.direction}.")
    if isinstance(r, BinaryResult):
        return f"risk difference {r.risk_difference}; {r.direction}."
    if isinstance(r, SurvivalResult):
        if r.not_estimable is not None:
            return f"hazard ratio not estimable: {r.not_estimable}."
        return f"hazard ratio {r.hazard_ratio}; {r.direction}."
    return f"mean difference {r.mean_difference}."


def _methods_section(comparisons: Sequence[ComparisonResult]) -> Section:
    sec = Section("Methods")
    sec.bullets([
        "Proportional-odds (cumulative logit) model by maximum likelihood, Wald intervals; proportional odds checked "
        "by a likelihood-ratio test against the partial proportional-odds model for treatment (validated against "
        "R ordinal::clm).",
        "Binary outcomes: Newcombe hybrid-score interval for the risk difference, log-Wald intervals for ratios, "
        "Mantel–Haenszel estimates across strata with the Cochran–Mantel–Haenszel test (validated against R stats "
        "and metafor).",
        "Time to discharge: Aalen–Johansen cumulative incidence with death as a competing event; cause-specific Cox "
        "model with Efron ties; Fine–Gray subdistribution hazards model (Kaplan–Meier censoring weights, Breslow "
        "ties, robust sandwich SE); log-rank test (validated against R survival, finegray() with coxph(), and "
        "cmprsk).",
        "Interim monitoring: Lan–DeMets error spending at the observed information fractions, repeated confidence "
        "intervals, conditional power (validated against rpact).",
        "All p-values two-sided unless stated; the group-sequential test is one-sided as the protocol specifies.",
    ])
    return sec


def _footer() -> str:
    return (f"Produced by Equipoise {__version__}. Every number in this report is computed from the data it names "
            "(the files on the command line, or the trial server's export); rerun `equipoise report` to reproduce it.")


def _bayesian_summary(bayes: BayesianSummary) -> str:
    """The primary's Bayesian line, or why there is none: a sparse early look (separated data, say) has no
    computable posterior, and the committee still gets the rest of the report."""
    post = bayes.posterior
    if post is None:
        return f"No Bayesian summary at this look: {bayes.refusal}"
    return (f"Bayesian summary (neutral prior N(0, {bayes.prior_sd:g}²) on the log odds ratio, "
            "proportional-odds likelihood with thresholds and covariates integrated out by the Laplace "
            f"approximation): P(OR > 1) = {post.probability_of_benefit:.3f}; "
            f"P(OR > {bayes.important_or:g}) = {post.probability_important:.3f}; posterior median OR "
            f"{post.posterior_median:.2f} (95% credible interval {post.credible_low:.2f} to "
            f"{post.credible_high:.2f}).")

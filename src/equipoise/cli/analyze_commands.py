"""``equipoise analyze``: the estimators on a CSV file, the protocol's analyses, and interim decisions."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import typer

from equipoise.cli.data_input import read_csv, split_list
from equipoise.cli.database_option import DbOption
from equipoise.cli.output import JsonOption, parse_date, require_positive, show
from equipoise.cli.server_data import LookDatesOpt, ServerOpt, TrialOpt, resolve
from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_SIDED, DEFAULT_SPENDING

analyze_app = typer.Typer(help="Analyse trial data: binary, ordinal, time-to-event and continuous outcomes, the "
                               "protocol's pre-specified analyses, and interim monitoring.", no_args_is_help=True)

DataOpt = typer.Option(..., "--data", help="CSV file, one row per patient (wide layout).")
ArmOpt = typer.Option("arm", "--arm", help="Column holding each patient's arm.")
ControlOpt = typer.Option(None, "--control", help="Control arm (default: the protocol's control arm).")
ExperimentalOpt = typer.Option(None, "--experimental", help="Experimental arm (default: the only other arm).")
ProtocolOpt = typer.Option(None, "--protocol", help="Protocol file: reads 'better', the scale and the control arm.")
BetterOpt = typer.Option(None, "--better", help="Which direction is better: lower or higher (default: protocol).")
CovariatesOpt = typer.Option(None, "--covariates", help="Comma-separated covariate columns.")
StrataOpt = typer.Option(None, "--strata", help="Comma-separated stratum columns.")
ConfOpt = typer.Option(0.95, "--conf-level", min=0.5, max=0.9999, help="Confidence level.")
PriorSdOpt = typer.Option(None, "--prior-sd", help="Add a Bayesian posterior: SD of a normal prior, mean 0, on the log "
                                                   "ratio (e.g. 0.5).")
ImportantOpt = typer.Option(None, "--important", help="Ratio threshold of a clinically important effect for the "
                                                      "posterior (e.g. 1.2 for an OR, 0.8 for a risk ratio).")


class _Context:
    def __init__(self, protocol_path: Path | None, outcome: str | None, control: str | None, better: str | None
                 ) -> None:
        from equipoise.protocol import load_protocol

        self.protocol = load_protocol(protocol_path) if protocol_path is not None else None
        self.outcome = None
        if self.protocol is not None and outcome is not None:
            self.outcome = self.protocol.outcome(outcome)
            if self.outcome is None:  # a column may be named after the outcome's source field
                self.outcome = next((o for o in self.protocol.outcomes if o.source and outcome in
                                     (o.source, o.source.split(".", 1)[1])), None)
        if better is not None and better not in ("lower", "higher"):
            raise UserError(f"--better: {better!r} must be 'lower' or 'higher'")
        self.better = better or (self.outcome.better.value if self.outcome is not None else None)
        if control is None and self.protocol is not None and self.protocol.control_arm is not None:
            control = self.protocol.control_arm.id
        if control is None:
            raise UserError("--control: name the control arm (or give --protocol with a control arm)")
        self.control = control


@analyze_app.command("binary")
def binary(
    data: Path = DataOpt, outcome: str = typer.Option(..., "--outcome", help="0/1 outcome column."),
    arm: str = ArmOpt, control: str | None = ControlOpt, experimental: str | None = ExperimentalOpt,
    strata: str | None = StrataOpt, covariates: str | None = CovariatesOpt,
    interval: str = typer.Option("newcombe", "--interval", help="Headline interval: newcombe, wald or exact."),
    protocol: Path | None = ProtocolOpt, better: str | None = BetterOpt, conf_level: float = ConfOpt,
    prior_sd: float | None = PriorSdOpt, important: float | None = ImportantOpt, as_json: bool = JsonOption,
) -> None:
    """Risk difference, risk ratio and odds ratio (stratified Mantel–Haenszel with --strata; logistic
    regression with --covariates)."""
    from equipoise.analyze.bayes import beta_binomial_posterior
    from equipoise.analyze.binary import INTERVALS
    from equipoise.analyze.frame import analyze_binary

    if interval not in INTERVALS:
        raise UserError(f"--interval: {interval!r} must be one of {', '.join(INTERVALS)}")
    require_positive(prior_sd, "--prior-sd")
    require_positive(important, "--important")
    ctx = _Context(protocol, outcome, control, better)
    df = read_csv(data)
    res = analyze_binary(df, outcome=outcome, arm=arm, control=ctx.control, experimental=experimental,
                         strata=split_list(strata), covariates=split_list(covariates), interval=interval,  # type: ignore[arg-type]
                         better=ctx.better, conf_level=conf_level, what=str(data))
    post = None
    if prior_sd is not None or important is not None:
        if ctx.better is None:
            raise UserError("--better: a posterior probability of benefit needs to know which direction is better")
        e, c = res.arms
        # a Beta(1, 1) prior on each arm's risk; --prior-sd does not apply to this exact model
        post = beta_binomial_posterior(e.events, e.n, c.events, c.n, better=ctx.better,  # type: ignore[arg-type]
                                       important_rr=important)
    show(res, as_json, extra={"posterior": post})


@analyze_app.command("ordinal")
def ordinal(
    data: Path = DataOpt, outcome: str = typer.Option(..., "--outcome", help="Ordinal outcome column (integers)."),
    arm: str = ArmOpt, control: str | None = ControlOpt, experimental: str | None = ExperimentalOpt,
    covariates: str | None = CovariatesOpt,
    scale: str | None = typer.Option(None, "--scale", help="Check values against a scale (who-cps, or none); "
                                     "default: the protocol outcome's scale, or who-cps for a column named who_..."),
    protocol: Path | None = ProtocolOpt, better: str | None = BetterOpt, conf_level: float = ConfOpt,
    prior_sd: float | None = PriorSdOpt, important: float | None = ImportantOpt,
    posterior_method: str = typer.Option("laplace", "--posterior-method", help="laplace (PO likelihood, nuisance "
                                         "parameters integrated out) or normal (normal approximation)."),
    as_json: bool = JsonOption,
) -> None:
    """Proportional-odds model: common odds ratio, thresholds, test of proportional odds, Wilcoxon; with
    --prior-sd / --important, the posterior probability of benefit and of an important effect."""
    from equipoise.analyze.frame import analyze_ordinal, ordinal_posterior
    from equipoise.protocol.scales import BUILTIN_SCALES

    require_positive(prior_sd, "--prior-sd")
    require_positive(important, "--important")
    ctx = _Context(protocol, outcome, control, better)
    resolved = ctx.outcome.resolved_scale if ctx.outcome is not None else None
    if scale is None and resolved is None and re.match(r"^who[_\-]", outcome, re.IGNORECASE):
        resolved = BUILTIN_SCALES["who-cps"]  # a WHO-named column is read on the WHO scale unless --scale none
    elif scale is not None and scale.lower() == "none":
        resolved = None
    elif scale is not None:
        resolved = BUILTIN_SCALES.get(scale)
        if resolved is None:
            raise UserError(f"--scale: unknown scale {scale!r} (built in: {', '.join(BUILTIN_SCALES)}, or none)")
    df = read_csv(data)
    res = analyze_ordinal(df, outcome=outcome, arm=arm, control=ctx.control, experimental=experimental,
                          covariates=split_list(covariates), scale=resolved, better=ctx.better, conf_level=conf_level,
                          what=str(data))
    post = None
    if prior_sd is not None or important is not None:
        if ctx.better is None:
            raise UserError("--better: a posterior probability of benefit needs to know which direction is better")
        # the reported odds ratio is oriented so that above 1 favours the experimental arm
        post = ordinal_posterior(df, res, arm=arm, covariates=split_list(covariates),
                                 prior_sd=prior_sd if prior_sd is not None else 1.0, important=important,
                                 method=posterior_method, what=str(data))
    show(res, as_json, extra={"posterior": post})


@analyze_app.command("survival")
def survival(
    data: Path = DataOpt, time: str | None = typer.Option(None, "--time", help="Follow-up time column (>= 0); or "
                                                               "give dates (--start-date, --event-date)."),
    event: str | None = typer.Option(None, "--event", help="Status column: 0 censored, 1 event (2 competing event "
                                                          "with --competing)."),
    start_date: str | None = typer.Option(None, "--start-date", help="Instead of --time/--event: the column of the "
                                          "date follow-up starts (randomisation), YYYY-MM-DD."),
    event_date: str | None = typer.Option(None, "--event-date", help="With --start-date: the column of the event's "
                                          "date (empty: no event)."),
    competing_date: str | None = typer.Option(None, "--competing-date", help="With --start-date: the column of a "
                                              "competing event's date (e.g. death_date); status 2 with --competing, "
                                              "else it censors."),
    censor_date: str | None = typer.Option(None, "--censor-date", help="With --start-date: the column of the date "
                                           "each patient's follow-up ended (last seen, withdrawal)."),
    follow_up_days: float | None = typer.Option(None, "--follow-up-days", help="With --start-date: follow-up ends "
                                                "this many days after the start (e.g. 28)."),
    cutoff: str | None = typer.Option(None, "--cutoff", help="With --start-date: the data cut-off date, YYYY-MM-DD; "
                                      "follow-up ends at the earliest of --censor-date, --follow-up-days, --cutoff."),
    arm: str = ArmOpt, control: str | None = ControlOpt, experimental: str | None = ExperimentalOpt,
    covariates: str | None = CovariatesOpt, strata: str | None = StrataOpt,
    competing: bool = typer.Option(False, "--competing", help="Status 2 is a competing event (e.g. death): the Cox "
                                   "model becomes cause-specific, and the Aalen–Johansen cumulative incidence and the "
                                   "Fine–Gray subdistribution hazard ratio are added."),
    horizon: float | None = typer.Option(None, "--horizon", help="Report cumulative incidence at this time."),
    outcome: str | None = typer.Option(None, "--outcome", help="Protocol outcome id (for 'better')."),
    protocol: Path | None = ProtocolOpt, better: str | None = BetterOpt, conf_level: float = ConfOpt,
    prior_sd: float | None = PriorSdOpt, important: float | None = ImportantOpt,
    band: str | None = typer.Option(None, "--band", help="Add a simultaneous confidence band to each arm's "
                                    "Kaplan–Meier curve: hall-wellner or equal-precision (Klein & Moeschberger "
                                    "4.4)."),
    band_transform: str = typer.Option("log-log", "--band-transform", help="Scale of the band: linear, log-log "
                                       "(K&M's 'log') or arcsine."),
    band_range: str | None = typer.Option(None, "--band-range", help="Time range of the band, t_L,t_U (default: "
                                          "first to last event time with S > 0, per arm)."),
    plot: Path | None = typer.Option(None, "--plot", help="Also write the Kaplan–Meier figure (PNG, SVG or PDF); "
                                     "with --band it shades the simultaneous band."),
    as_json: bool = JsonOption,
) -> None:
    """Cox hazard ratio (Efron ties), log-rank test and Kaplan–Meier medians per arm; with --competing, the
    cumulative incidence and the Fine–Gray subdistribution hazard ratio; with --band, simultaneous confidence bands
    for the Kaplan–Meier curves (Hall–Wellner or equal precision)."""
    from equipoise.analyze.bayes import normal_posterior
    from equipoise.analyze.frame import analyze_survival
    from equipoise.analyze.survival_dates import STATUS_COLUMN, TIME_COLUMN, DateRule, times_from_dates

    require_positive(prior_sd, "--prior-sd")
    require_positive(important, "--important")
    require_positive(horizon, "--horizon", zero=True)
    ctx = _Context(protocol, outcome, control, better)
    df = read_csv(data)
    rule = None
    if start_date is not None or event_date is not None:
        if time is not None or event is not None:
            raise UserError("--time/--event or --start-date/--event-date: give the times or the dates, not both")
        if start_date is None or event_date is None:
            raise UserError("--start-date and --event-date: both are needed to compute times from dates")
        rule = DateRule(start_date, event_date, competing_date, censor_date, follow_up_days,
                        parse_date(cutoff, "--cutoff") if cutoff is not None else None, competing)
        df = times_from_dates(df, rule, str(data))
        time, event = TIME_COLUMN, STATUS_COLUMN
        outcome = outcome or f"time to {event_date}"
    elif any(v is not None for v in (competing_date, censor_date, follow_up_days, cutoff)):
        raise UserError("--competing-date/--censor-date/--follow-up-days/--cutoff: only with --start-date and "
                        "--event-date")
    if time is None or event is None:
        raise UserError("--time and --event (or --start-date and --event-date): say which columns hold the times")
    res = analyze_survival(df, time=time, event=event, arm=arm, control=ctx.control, experimental=experimental,
                           covariates=split_list(covariates), strata=split_list(strata), better=ctx.better,
                           competing=competing, conf_level=conf_level, horizon=horizon, outcome=outcome,
                           what=str(data))
    if band is not None:
        res = res.with_bands(band, band_transform, _time_range(band_range))
    elif band_range is not None or band_transform != "log-log":
        raise UserError("--band-range/--band-transform: name the band with --band hall-wellner or equal-precision")
    if rule is not None:
        res = replace(res, notes=(*res.notes, rule.describe()))
    post = None
    if prior_sd is not None or important is not None:
        if ctx.better is None:
            raise UserError("--better: a posterior probability of benefit needs to know which direction is better")
        post = normal_posterior(res.log_hazard_ratio, res.se, measure="hazard_ratio",
                                benefit="above" if ctx.better == "lower" else "below",
                                prior_sd=prior_sd if prior_sd is not None else 10.0, important=important)
    show(res, as_json, plot, extra={"posterior": post}, tight=True)


def _time_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = split_list(text)
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"--band-range: {text!r} must be two times, t_L,t_U (e.g. 100,600)") from None
    return low, high


@analyze_app.command("continuous")
def continuous(
    data: Path = DataOpt, outcome: str = typer.Option(..., "--outcome", help="Numeric outcome column."),
    arm: str = ArmOpt, control: str | None = ControlOpt, experimental: str | None = ExperimentalOpt,
    covariates: str | None = CovariatesOpt, protocol: Path | None = ProtocolOpt, better: str | None = BetterOpt,
    conf_level: float = ConfOpt, as_json: bool = JsonOption,
) -> None:
    """Difference in means (Welch and pooled t) and ANCOVA with --covariates."""
    from equipoise.analyze.frame import analyze_continuous

    ctx = _Context(protocol, outcome, control, better)
    df = read_csv(data)
    show(analyze_continuous(df, outcome=outcome, arm=arm, control=ctx.control, experimental=experimental,
                            covariates=split_list(covariates), better=ctx.better, conf_level=conf_level,
                            what=str(data)), as_json)


@analyze_app.command("protocol")
def protocol_analyses(
    file: Path | None = typer.Argument(None, help="Protocol file (YAML); with --trial, the server's protocol is used "
                                       "(a file given must be of that trial)."),
    data: Path | None = typer.Option(None, "--data", help="CSV file, one row per patient (wide layout), or an export "
                                     "directory or zip ('equipoise export csv')."),
    trial: str | None = TrialOpt, db: str | None = DbOption, server: str | None = ServerOpt, arm: str = ArmOpt,
    experimental: str | None = ExperimentalOpt,
    primary_only: bool = typer.Option(False, "--primary-only", help="Only the primary comparison."),
    as_json: bool = JsonOption,
) -> None:
    """Run the analyses the protocol names (analysis.primary and secondary) on a CSV file, an export, or the
    trial server's data (--trial: an audited, unblinded export)."""
    from equipoise.analyze.protocol_analysis import run_protocol

    proto, export, csv_path = resolve(protocol_file=file, data=data, trial=trial, db=db, server=server,
                                      unblinded=True, purpose="the protocol's analyses", what="analyze protocol")
    if export is not None:
        export.require_arms("analyze protocol")
        df = export.patients
    else:
        assert csv_path is not None
        df = read_csv(csv_path)
    show(run_protocol(proto, df, arm=arm, experimental=experimental, which="primary" if primary_only else "all"),
         as_json)


@analyze_app.command("interim")
def interim(
    design: Path | None = typer.Option(None, "--design", help="The plan: a protocol file (analysis.looks) or a JSON "
                                       "file of gsd options / a design's to_dict() (equipoise design ... --json)."),
    protocol: Path | None = typer.Option(None, "--protocol", help="Protocol file: its analysis.looks is the plan and "
                                                                   "its primary comparison is analysed."),
    data: Path | None = typer.Option(None, "--data", help="Patient-level CSV with a look column (needs --protocol), "
                                     "or an export directory or zip (looks from --look-dates)."),
    trial: str | None = TrialOpt, db: str | None = DbOption, server: str | None = ServerOpt,
    look_dates_text: str | None = LookDatesOpt,
    looks: Path | None = typer.Option(None, "--looks", help="Summary CSV, one row per look: information_fraction and "
                                                            "estimate, se (or binary counts)."),
    look_column: str = typer.Option("look", "--look-column", help="Column giving the look at which each patient's "
                                                                   "primary outcome was first analysed."),
    arm: str = ArmOpt,
    planned_n: int | None = typer.Option(None, "--planned-n", min=1, help="Planned sample size (default: protocol "
                                         "target)."),
    max_information: float | None = typer.Option(None, "--max-information", help="Planned maximum information "
                                                 "(1/SE^2); information fractions then use it instead of patients."),
    information_rates: str | None = typer.Option(None, "--information-rates", "--info-rates",
                                                 help="Planned fractions, e.g. 0.33,0.67,1 (instead of --protocol)."),
    alpha: float = typer.Option(DEFAULT_ALPHA, "--alpha"), sided: int = typer.Option(DEFAULT_SIDED, "--sided"),
    spending: str = typer.Option(DEFAULT_SPENDING, "--spending",
                                 help="obf, pocock, hsd, kd, of-constant, pocock-constant."),
    gamma: float | None = typer.Option(None, "--gamma"), rho: float | None = typer.Option(None, "--rho"),
    futility_spending: str | None = typer.Option(None, "--futility-spending"),
    futility_gamma: float | None = typer.Option(None, "--futility-gamma"),
    binding: bool = typer.Option(False, "--binding", help="Futility bounds are binding."),
    beta: float = typer.Option(DEFAULT_BETA, "--beta", help="Type II error for beta-spending futility bounds."),
    theta_design: float | None = typer.Option(
        None, "--design-effect", help="The effect the trial was sized for, for the conditional power 'under the design "
        "effect' (the chance of crossing a later efficacy bound if it were the true effect). On the monitored scale, "
        "positive = benefit: a risk difference for a table of counts (mortality 40% -> 22.8% is 0.172), else the log "
        "odds/risk/hazard ratio or the difference. Default: from the protocol's analysis.primary.assumptions."),
    cp_futility: float | None = typer.Option(None, "--cp-futility", help="Also stop for futility when conditional "
                                             "power under the design effect is below this (e.g. 0.1)."),
    better: str | None = BetterOpt,
    plot: Path | None = typer.Option(None, "--plot", help="Also write the boundary plot with the observed Z path "
                                     "(PNG, SVG or PDF)."),
    as_json: bool = JsonOption,
) -> None:
    """The decision at the current look (continue / stop for efficacy / stop for futility) with its reasons.

    The plan comes from --design (a protocol file or a design's JSON), --protocol (analysis.looks, alpha,
    power) or the gsd options (--information-rates, --alpha, --spending, --futility-spending, ...). The data
    are either patient-level (--protocol --data, analysed as the protocol's primary comparison at each look) or
    a summary --looks table.
    """
    from equipoise.analyze.interim import monitor
    from equipoise.cli.interim_sources import (
        DataOptions,
        PlanOptions,
        check_thresholds,
        choose_plan,
        observed_looks,
        plan_from_design_file,
        protocol_and_export,
    )

    plan_from_design = None
    if design is not None:
        if design.suffix.lower() in (".yaml", ".yml"):
            protocol = protocol or design  # a protocol given as the plan is also the protocol analysed
        plan_from_design = plan_from_design_file(design)
    check_thresholds(max_information, cp_futility)
    source = DataOptions(protocol, data, trial, db, server, look_dates_text, looks, look_column, arm, planned_n,
                         max_information, better)
    proto, export = protocol_and_export(source)
    plan = choose_plan(plan_from_design, PlanOptions(information_rates, alpha, sided, spending, gamma, rho,
                                                     futility_spending, futility_gamma, binding, beta), proto)
    seen = observed_looks(source, proto, export, theta_design)
    result = monitor(plan, seen.looks, theta_design=seen.theta_design, cp_futility=cp_futility, measure=seen.measure,
                     log_scale=seen.log_scale, theta_design_source=seen.theta_source)
    show(result, as_json, plot, tight=True)


@analyze_app.command("platform")
def platform_analysis(
    file: Path | None = typer.Argument(None, help="Protocol file with an adaptive section; with --trial, the server's "
                                       "protocol is used (a file given must be of that trial)."),
    data: Path | None = typer.Option(None, "--data", help="An export directory or zip ('equipoise export csv'), or a "
                                     "CSV file in its analysis.csv layout."),
    trial: str | None = TrialOpt, db: str | None = DbOption, server: str | None = ServerOpt,
    on: str | None = typer.Option(None, "--on", help="Date of the adaptive analysis (YYYY-MM-DD; default: today): "
                                  "the arms in force then."),
    seed: int = typer.Option(20200316, "--seed", help="Seed of the normal draws behind P(best) (ordinal model)."),
    as_json: bool = JsonOption,
) -> None:
    """An adaptive analysis of the platform: each arm's posteriors, the decisions of the protocol's rules and the
    next allocation table (reads the trial server's data as an audited, unblinded export)."""
    import datetime as dt

    from equipoise.analyze.platform_analysis import analyze_platform
    from equipoise.cli.output import parse_date

    proto, export, csv_path = resolve(protocol_file=file, data=data, trial=trial, db=db, server=server,
                                      unblinded=True, purpose="an adaptive analysis of the platform",
                                      what="analyze platform")
    if export is not None:
        export.require_arms("analyze platform")
        df = export.patients
    else:
        assert csv_path is not None
        df = read_csv(csv_path)
    day = parse_date(on, "--on") if on else dt.datetime.now(dt.UTC).date()
    try:
        result = analyze_platform(proto, df, day, seed)
    except ValueError as exc:  # a date before the protocol took effect
        raise UserError(f"--on: {exc}") from None
    show(result, as_json)

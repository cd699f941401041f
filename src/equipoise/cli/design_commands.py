"""``equipoise design``: group-sequential boundaries, sample size and power, and sizing a protocol."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from equipoise.cli.output import JsonOption, parse_date, print_json, print_plain
from equipoise.errors import UserError

design_app = typer.Typer(
    help="Sample size, power and group-sequential boundaries (validated against rpact).", no_args_is_help=True
)

LooksOption = typer.Option(None, "--looks", help="Number of analyses including the final one (1-20).")
AlphaOption = typer.Option(None, "--alpha", help="Type I error (two-sided total when --sided 2). Default 0.025.")
SidedOption = typer.Option(None, "--sided", help="1 or 2. Default 1.")
SpendingOption = typer.Option(
    "obf", "--spending",
    help="Efficacy boundary: obf, pocock, hsd (with --gamma), kd (with --rho), of-constant, pocock-constant.")
GammaOption = typer.Option(None, "--gamma", help="Hwang-Shih-DeCani gamma (hsd).")
RhoOption = typer.Option(None, "--rho", help="Kim-DeMets power rho (kd).")
RatesOption = typer.Option(None, "--info-rates", help="Information rates, comma-separated, ending at 1.")
FutilityOption = typer.Option(None, "--futility-spending", help="Beta-spending futility: obf, pocock, hsd, kd.")
FutilityGammaOption = typer.Option(None, "--futility-gamma", help="gamma of hsd futility spending.")
FutilityRhoOption = typer.Option(None, "--futility-rho", help="rho of kd futility spending.")
BindingOption = typer.Option(False, "--binding", help="Binding futility bounds (default non-binding).")
PlotOption = typer.Option(None, "--plot", help="Also save a picture of the design (PNG, SVG or PDF).")


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a comma-separated list of numbers") from None


def _float(text: str | None, option: str) -> float | None:
    values = _floats(text, option)
    if values is None:
        return None
    if len(values) != 1:
        raise UserError(f"{option}: expected one number, got {text!r}")
    return values[0]


def _gsd_kwargs(looks: int | None, alpha: float | None, sided: int | None, spending: str, gamma: float | None,
                rho: float | None, info_rates: str | None, beta: float | None, futility_spending: str | None,
                futility_gamma: float | None, futility_rho: float | None, binding: bool) -> dict[str, Any]:
    return {
        "looks": looks, "alpha": 0.025 if alpha is None else alpha, "sided": 1 if sided is None else sided,
        "spending": spending, "gamma": gamma, "rho": rho,
        "information_rates": _floats(info_rates, "--info-rates"), "beta": beta,
        "futility_spending": futility_spending, "futility_gamma": futility_gamma, "futility_rho": futility_rho,
        "binding": binding,
    }


def _save_plot(result: Any, path: Path | None) -> None:
    if path is None:
        return
    fig = result.plot()
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--plot: cannot write {path}: {exc}") from None


@design_app.command("gsd")
def gsd_command(
    looks: int | None = LooksOption,
    alpha: float | None = AlphaOption,
    sided: int | None = SidedOption,
    spending: str = SpendingOption,
    gamma: float | None = GammaOption,
    rho: float | None = RhoOption,
    info_rates: str | None = RatesOption,
    beta: float | None = typer.Option(None, "--beta", help="Type II error (default 0.2): power 1 - beta."),
    futility_spending: str | None = FutilityOption,
    futility_gamma: float | None = FutilityGammaOption,
    futility_rho: float | None = FutilityRhoOption,
    binding: bool = BindingOption,
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Group-sequential boundaries: upper, lower, cumulative alpha, inflation factor and more."""
    from equipoise.design import gsd

    design = gsd(**_gsd_kwargs(looks, alpha, sided, spending, gamma, rho, info_rates, beta, futility_spending,
                               futility_gamma, futility_rho, binding))
    _save_plot(design, plot)
    if as_json:
        print_json(design.to_dict())
    else:
        print_plain(str(design))


def _outcome_params(outcome: str, p_control: str | None, p_treatment: float | None, risk_ratio: float | None,
                    odds_ratio: float | None, effect_measure: str | None, variance: str | None,
                    delta: float | None, sd: float | None, sd_known: bool, hazard_ratio: float | None,
                    median_control: float | None, event_time: float | None, accrual: float | None,
                    follow_up: float | None, dropout: float | None, dropout_time: float | None,
                    method: str | None) -> dict[str, Any]:
    key = outcome.strip().lower()
    if key in {"tte", "survival", "time_to_event"}:
        key = "time-to-event"
    params: dict[str, Any]
    if key == "binary":
        params = {"p_control": _float(p_control, "--p-control"), "p_treatment": p_treatment,
                  "risk_ratio": risk_ratio, "odds_ratio": odds_ratio,
                  "effect_measure": effect_measure or "difference", "variance": variance or "pooled"}
    elif key == "continuous":
        params = {"delta": delta, "sd": 1.0 if sd is None else sd, "sd_known": sd_known}
    elif key == "time-to-event":
        params = {"hazard_ratio": hazard_ratio, "median_control": median_control,
                  "p_control": _float(p_control, "--p-control"), "event_time": event_time, "accrual": accrual,
                  "follow_up": follow_up, "dropout": dropout, "dropout_time": dropout_time,
                  "method": method or "schoenfeld"}
    elif key == "ordinal":
        params = {"p_control": _floats(p_control, "--p-control"), "odds_ratio": odds_ratio}
    else:
        raise UserError(f"--outcome: {outcome!r} is not one of binary, continuous, time-to-event, ordinal")
    given = {
        "--p-treatment": p_treatment, "--risk-ratio": risk_ratio, "--effect-measure": effect_measure,
        "--variance": variance, "--delta": delta, "--sd": sd, "--hazard-ratio": hazard_ratio,
        "--median-control": median_control, "--event-time": event_time, "--accrual": accrual,
        "--follow-up": follow_up, "--dropout": dropout, "--dropout-time": dropout_time, "--method": method,
        "--odds-ratio": odds_ratio, "--p-control": p_control,
    }
    allowed = {
        "binary": {"--p-control", "--p-treatment", "--risk-ratio", "--odds-ratio", "--effect-measure", "--variance"},
        "continuous": {"--delta", "--sd"},
        "time-to-event": {"--hazard-ratio", "--median-control", "--p-control", "--event-time", "--accrual",
                          "--follow-up", "--dropout", "--dropout-time", "--method"},
        "ordinal": {"--p-control", "--odds-ratio"},
    }[key]
    extra = sorted(name for name, value in given.items() if value is not None and name not in allowed)
    if sd_known and key != "continuous":
        extra.append("--sd-known")
    if extra:
        raise UserError(f"{', '.join(extra)} do(es) not apply to a {key} outcome")
    return {k: v for k, v in params.items() if v is not None}


OutcomeOption = typer.Option(..., "--outcome", help="binary, continuous, time-to-event or ordinal.")
PControlOption = typer.Option(
    None, "--p-control",
    help="Control event rate (binary; time-to-event with --event-time) or category probabilities, "
         "comma-separated, best category first (ordinal).")
PTreatmentOption = typer.Option(None, "--p-treatment", help="Experimental event rate (binary).")
RiskRatioOption = typer.Option(None, "--risk-ratio", help="Binary: experimental/control risk ratio (instead of "
                               "--p-treatment).")
OddsRatioOption = typer.Option(None, "--odds-ratio", help="Binary: odds ratio (instead of --p-treatment); "
                               "ordinal: common odds ratio of a better category, > 1 favours experimental.")
MeasureOption = typer.Option(None, "--effect-measure", help="Binary: difference (default), risk-ratio, odds-ratio.")
VarianceOption = typer.Option(None, "--variance", help="Binary: pooled (default, as rpact) or unpooled variance.")
DeltaOption = typer.Option(None, "--delta", help="Continuous: difference in means (experimental - control).")
SdOption = typer.Option(None, "--sd", help="Continuous: standard deviation (default 1).")
SdKnownOption = typer.Option(False, "--sd-known", help="Continuous: known SD (normal test) instead of the t test.")
HazardRatioOption = typer.Option(None, "--hazard-ratio", help="Time-to-event: hazard ratio experimental/control.")
MedianOption = typer.Option(None, "--median-control", help="Time-to-event: median survival in the control arm.")
EventTimeOption = typer.Option(None, "--event-time", help="Time-to-event: time at which --p-control applies "
                               "(default 12).")
AccrualOption = typer.Option(None, "--accrual", help="Time-to-event: accrual duration (uniform accrual).")
FollowUpOption = typer.Option(None, "--follow-up", help="Time-to-event: follow-up after the last patient enters.")
DropoutOption = typer.Option(None, "--dropout", help="Time-to-event: probability of dropping out by --dropout-time.")
DropoutTimeOption = typer.Option(None, "--dropout-time", help="Time-to-event: see --dropout (default 12).")
MethodOption = typer.Option(None, "--method", help="Time-to-event events: schoenfeld (default), freedman, "
                            "hsieh-freedman.")
RatioOption = typer.Option("1", "--ratio", help="Allocation n_experimental / n_control, e.g. 2 or 2:1 or 0.5.")
MarginOption = typer.Option(
    None, "--margin", help="Non-inferiority margin (one-sided test): binary and continuous, the largest loss "
    "acceptable as a positive risk or mean difference, with --better; time-to-event, the hazard ratio under H0 "
    "(e.g. 1.3 when events are harmful). As rpact's thetaH0.")
BetterOption = typer.Option(None, "--better", help="With --margin for a binary or continuous outcome: lower (fewer "
                            "events, a lower mean is better: H0 difference >= margin) or higher (H0 difference "
                            "<= -margin).")


def _theta_h0(outcome: str, margin: float | None, better: str | None) -> float | None:
    """rpact's thetaH0 from a margin and the direction that is better."""
    if margin is None:
        if better is not None:
            raise UserError("--better applies only with --margin (a non-inferiority test)")
        return None
    key = outcome.strip().lower()
    if key in {"tte", "survival", "time_to_event", "time-to-event"}:
        if margin <= 0 or margin == 1:
            raise UserError(f"--margin {margin:g}: a time-to-event margin is the hazard ratio under H0, positive "
                            "and not 1 (e.g. 1.3 when events are harmful)")
        if better is not None and (better == "lower") != (margin > 1):
            raise UserError(f"--margin {margin:g} with --better {better}: when a lower hazard is better the margin is "
                            "above 1, and below 1 otherwise")
        return margin
    if key not in ("binary", "continuous"):
        raise UserError(f"--margin: a non-inferiority margin is for binary, continuous and time-to-event outcomes, "
                        f"not {outcome}")
    if margin <= 0:
        raise UserError(f"--margin {margin:g}: give the margin as a positive difference, and the direction with "
                        "--better")
    if better not in ("lower", "higher"):
        raise UserError("--better: with --margin, say whether lower or higher values (fewer or more events) are "
                        "better")
    return margin if better == "lower" else -margin


@design_app.command("sample-size")
def sample_size_command(
    outcome: str = OutcomeOption,
    p_control: str | None = PControlOption,
    p_treatment: float | None = PTreatmentOption,
    risk_ratio: float | None = RiskRatioOption,
    odds_ratio: float | None = OddsRatioOption,
    effect_measure: str | None = MeasureOption,
    variance: str | None = VarianceOption,
    delta: float | None = DeltaOption,
    sd: float | None = SdOption,
    sd_known: bool = SdKnownOption,
    hazard_ratio: float | None = HazardRatioOption,
    median_control: float | None = MedianOption,
    event_time: float | None = EventTimeOption,
    accrual: float | None = AccrualOption,
    follow_up: float | None = FollowUpOption,
    dropout: float | None = DropoutOption,
    dropout_time: float | None = DropoutTimeOption,
    method: str | None = MethodOption,
    alpha: float | None = AlphaOption,
    sided: int | None = SidedOption,
    power: float | None = typer.Option(None, "--power", help="Power (default 0.8)."),
    ratio: str = RatioOption,
    margin: float | None = MarginOption,
    better: str | None = BetterOption,
    looks: int | None = LooksOption,
    spending: str = SpendingOption,
    gamma: float | None = GammaOption,
    rho: float | None = RhoOption,
    info_rates: str | None = RatesOption,
    futility_spending: str | None = FutilityOption,
    futility_gamma: float | None = FutilityGammaOption,
    futility_rho: float | None = FutilityRhoOption,
    binding: bool = BindingOption,
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Patients (and events) for a fixed design or, with --looks/--info-rates, a group-sequential one; with
    --margin, for a non-inferiority test."""
    from equipoise.design import gsd, sample_size

    params = _outcome_params(outcome, p_control, p_treatment, risk_ratio, odds_ratio, effect_measure, variance,
                             delta, sd, sd_known, hazard_ratio, median_control, event_time, accrual, follow_up,
                             dropout, dropout_time, method)
    theta_h0 = _theta_h0(outcome, margin, better)
    if theta_h0 is not None:
        params["theta_h0"] = theta_h0
    if power is not None and not 0 < power < 1:
        raise UserError(f"--power must be between 0 and 1 (exclusive), got {power}")
    beta = None if power is None else 1.0 - power
    design = gsd(**_gsd_kwargs(looks if looks is not None or info_rates is not None else 1, alpha, sided, spending,
                               gamma, rho, info_rates, beta, futility_spending, futility_gamma, futility_rho,
                               binding))
    result = sample_size(outcome, design=design, ratio=ratio, **params)
    _save_plot(result, plot)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))


@design_app.command("power")
def power_command(
    outcome: str = OutcomeOption,
    n_total: float = typer.Option(..., "--n-total", help="Patients over both arms (events for time-to-event)."),
    p_control: str | None = PControlOption,
    p_treatment: float | None = PTreatmentOption,
    risk_ratio: float | None = RiskRatioOption,
    odds_ratio: float | None = OddsRatioOption,
    effect_measure: str | None = MeasureOption,
    variance: str | None = VarianceOption,
    delta: float | None = DeltaOption,
    sd: float | None = SdOption,
    sd_known: bool = SdKnownOption,
    hazard_ratio: float | None = HazardRatioOption,
    method: str | None = MethodOption,
    alpha: float | None = AlphaOption,
    sided: int | None = SidedOption,
    ratio: str = RatioOption,
    looks: int | None = LooksOption,
    spending: str = SpendingOption,
    gamma: float | None = GammaOption,
    rho: float | None = RhoOption,
    info_rates: str | None = RatesOption,
    futility_spending: str | None = FutilityOption,
    futility_gamma: float | None = FutilityGammaOption,
    futility_rho: float | None = FutilityRhoOption,
    binding: bool = BindingOption,
    as_json: bool = JsonOption,
) -> None:
    """Power of a trial with --n-total patients (normal approximation; t test for estimated SD uses z)."""
    from equipoise.design import gsd, power

    params = _outcome_params(outcome, p_control, p_treatment, risk_ratio, odds_ratio, effect_measure, variance,
                             delta, sd, sd_known, hazard_ratio, None, None, None, None, None, None, method)
    params.pop("sd_known", None)
    design = gsd(**_gsd_kwargs(looks if looks is not None or info_rates is not None else 1, alpha, sided, spending,
                               gamma, rho, info_rates, None, futility_spending, futility_gamma, futility_rho,
                               binding))
    result = power(outcome, n_total, design=design, ratio=ratio, **params)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))


@design_app.command("protocol")
def protocol_command(
    file: Path = typer.Argument(..., help="Protocol file (YAML)."),
    on: str | None = typer.Option(None, "--on", help="Size the protocol in force on this date (YYYY-MM-DD); "
                                  "default: its first version."),
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Size a protocol's primary comparison and print the boundaries its analysis plan implies."""
    from equipoise.design import design_protocol
    from equipoise.protocol import load_protocol

    protocol = load_protocol(file)
    date: dt.date | None = parse_date(on, "--on") if on is not None else None
    try:
        result = design_protocol(protocol, on=date)
    except ValueError as exc:  # Protocol.in_force: a date before the first version
        raise UserError(f"--on: {exc}") from None
    _save_plot(result, plot)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))

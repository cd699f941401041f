"""Options shared by ``equipoise design``'s commands, declared once: the plan's error rates and looks
(``ErrorOptions``, ``LooksOptions``, made into a ``GroupSequentialPlan`` by ``plan_of``), the effect to size for
(``EffectOptions``) and the time-to-event accrual (``EventOptions``). See ``option_groups.with_options``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_ALPHA, DEFAULT_SIDED, DEFAULT_SPENDING

if TYPE_CHECKING:
    from equipoise.design import GroupSequentialPlan

LooksOption = typer.Option(None, "--looks", help="Number of analyses including the final one (1-20).")
AlphaOption = typer.Option(None, "--alpha", help="Type I error (two-sided total when --sided 2). "
                           f"Default {DEFAULT_ALPHA:g}.")
SidedOption = typer.Option(None, "--sided", help=f"1 or 2. Default {DEFAULT_SIDED}.")
SpendingOption = typer.Option(
    DEFAULT_SPENDING, "--spending",
    help="Efficacy boundary: obf, pocock, hsd (with --gamma), kd (with --rho), of-constant, pocock-constant.")
GammaOption = typer.Option(None, "--gamma", help="Hwang-Shih-DeCani gamma (hsd).")
RhoOption = typer.Option(None, "--rho", help="Kim-DeMets power rho (kd).")
RatesOption = typer.Option(None, "--info-rates", help="Information rates, comma-separated, ending at 1.")
FutilityOption = typer.Option(None, "--futility-spending", help="Beta-spending futility: obf, pocock, hsd, kd.")
FutilityGammaOption = typer.Option(None, "--futility-gamma", help="gamma of hsd futility spending.")
FutilityRhoOption = typer.Option(None, "--futility-rho", help="rho of kd futility spending.")
BindingOption = typer.Option(False, "--binding", help="Binding futility bounds (default non-binding).")
PlotOption = typer.Option(None, "--plot", help="Also save a picture of the design (PNG, SVG or PDF).")


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



@dataclass(frozen=True)
class ErrorOptions:
    alpha: float | None = AlphaOption
    sided: int | None = SidedOption


@dataclass(frozen=True)
class LooksOptions:
    looks: int | None = LooksOption
    spending: str = SpendingOption
    gamma: float | None = GammaOption
    rho: float | None = RhoOption
    info_rates: str | None = RatesOption
    futility_spending: str | None = FutilityOption
    futility_gamma: float | None = FutilityGammaOption
    futility_rho: float | None = FutilityRhoOption
    binding: bool = BindingOption


@dataclass(frozen=True)
class EffectOptions:
    p_control: str | None = PControlOption
    p_treatment: float | None = PTreatmentOption
    risk_ratio: float | None = RiskRatioOption
    odds_ratio: float | None = OddsRatioOption
    effect_measure: str | None = MeasureOption
    variance: str | None = VarianceOption
    delta: float | None = DeltaOption
    sd: float | None = SdOption
    sd_known: bool = SdKnownOption
    hazard_ratio: float | None = HazardRatioOption


@dataclass(frozen=True)
class EventOptions:
    median_control: float | None = MedianOption
    event_time: float | None = EventTimeOption
    accrual: float | None = AccrualOption
    follow_up: float | None = FollowUpOption
    dropout: float | None = DropoutOption
    dropout_time: float | None = DropoutTimeOption


def plan_of(errors: ErrorOptions, looks: LooksOptions, beta: float | None, *, fixed_by_default: bool = False
            ) -> GroupSequentialPlan:
    """The plan the options describe; with ``fixed_by_default`` one look unless --looks or --info-rates is given."""
    from equipoise.design import GroupSequentialPlan

    count = looks.looks
    if fixed_by_default and count is None and looks.info_rates is None:
        count = 1
    return GroupSequentialPlan.from_options(
        looks=count, information_rates=floats(looks.info_rates, "--info-rates"), alpha=errors.alpha,
        sided=errors.sided, spending=looks.spending, gamma=looks.gamma, rho=looks.rho, beta=beta,
        futility_spending=looks.futility_spending, futility_gamma=looks.futility_gamma,
        futility_rho=looks.futility_rho, binding=looks.binding)


def floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a comma-separated list of numbers") from None


def one_float(text: str | None, option: str) -> float | None:
    values = floats(text, option)
    if values is None:
        return None
    if len(values) != 1:
        raise UserError(f"{option}: expected one number, got {text!r}")
    return values[0]


def outcome_params(outcome: str, effect: EffectOptions, events: EventOptions | None, method: str | None
                   ) -> dict[str, Any]:
    """Keyword parameters of ``sample_size``/``power`` for the outcome (``events``: none for power); options of
    another outcome are refused."""
    events = events or EventOptions(None, None, None, None, None, None)
    p_control, p_treatment, risk_ratio, odds_ratio = effect.p_control, effect.p_treatment, effect.risk_ratio, \
        effect.odds_ratio
    effect_measure, variance, delta, sd, sd_known = effect.effect_measure, effect.variance, effect.delta, effect.sd, \
        effect.sd_known
    hazard_ratio, median_control, event_time, accrual = effect.hazard_ratio, events.median_control, \
        events.event_time, events.accrual
    follow_up, dropout, dropout_time = events.follow_up, events.dropout, events.dropout_time
    key = outcome.strip().lower()
    if key in {"tte", "survival", "time_to_event"}:
        key = "time-to-event"
    params: dict[str, Any]
    if key == "binary":
        params = {"p_control": one_float(p_control, "--p-control"), "p_treatment": p_treatment,
                  "risk_ratio": risk_ratio, "odds_ratio": odds_ratio,
                  "effect_measure": effect_measure or "difference", "variance": variance or "pooled"}
    elif key == "continuous":
        params = {"delta": delta, "sd": 1.0 if sd is None else sd, "sd_known": sd_known}
    elif key == "time-to-event":
        params = {"hazard_ratio": hazard_ratio, "median_control": median_control,
                  "p_control": one_float(p_control, "--p-control"), "event_time": event_time, "accrual": accrual,
                  "follow_up": follow_up, "dropout": dropout, "dropout_time": dropout_time,
                  "method": method or "schoenfeld"}
    elif key == "ordinal":
        params = {"p_control": floats(p_control, "--p-control"), "odds_ratio": odds_ratio}
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



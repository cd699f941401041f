"""``equipoise design``: group-sequential boundaries, sample size and power, and sizing a protocol."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from equipoise.cli.design_options import (
    AlphaOption,
    BetterOption,
    BindingOption,
    EffectOptions,
    ErrorOptions,
    EventOptions,
    FutilityGammaOption,
    FutilityOption,
    FutilityRhoOption,
    GammaOption,
    LooksOption,
    LooksOptions,
    MarginOption,
    MethodOption,
    OutcomeOption,
    PlotOption,
    RatesOption,
    RatioOption,
    RhoOption,
    SidedOption,
    SpendingOption,
    outcome_params,
    plan_of,
)
from equipoise.cli.option_groups import with_options
from equipoise.cli.output import JsonOption, parse_date, show
from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_BETA

design_app = typer.Typer(
    help="Sample size, power and group-sequential boundaries (validated against rpact).", no_args_is_help=True
)

@design_app.command("gsd")
def gsd_command(
    looks: int | None = LooksOption,
    alpha: float | None = AlphaOption,
    sided: int | None = SidedOption,
    spending: str = SpendingOption,
    gamma: float | None = GammaOption,
    rho: float | None = RhoOption,
    info_rates: str | None = RatesOption,
    beta: float | None = typer.Option(None, "--beta",
                                      help=f"Type II error (default {DEFAULT_BETA:g}): power 1 - beta."),
    futility_spending: str | None = FutilityOption,
    futility_gamma: float | None = FutilityGammaOption,
    futility_rho: float | None = FutilityRhoOption,
    binding: bool = BindingOption,
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Group-sequential boundaries: upper, lower, cumulative alpha, inflation factor and more."""
    plan = plan_of(ErrorOptions(alpha, sided), LooksOptions(looks, spending, gamma, rho, info_rates, futility_spending,
                                                            futility_gamma, futility_rho, binding), beta)
    show(plan.design(), as_json, plot)


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
@with_options(effect=EffectOptions, events=EventOptions, errors=ErrorOptions, looks=LooksOptions)
def sample_size_command(
    outcome: str = OutcomeOption,
    effect: EffectOptions = ...,  # type: ignore[assignment]  # with_options: each field is an option
    events: EventOptions = ...,  # type: ignore[assignment]
    method: str | None = MethodOption,
    errors: ErrorOptions = ...,  # type: ignore[assignment]
    power: float | None = typer.Option(None, "--power", help="Power (default 0.8)."),
    ratio: str = RatioOption,
    margin: float | None = MarginOption,
    better: str | None = BetterOption,
    looks: LooksOptions = ...,  # type: ignore[assignment]
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Patients (and events) for a fixed design or, with --looks/--info-rates, a group-sequential one; with
    --margin, for a non-inferiority test."""
    from equipoise.design import sample_size

    params = outcome_params(outcome, effect, events, method)
    theta_h0 = _theta_h0(outcome, margin, better)
    if theta_h0 is not None:
        params["theta_h0"] = theta_h0
    if power is not None and not 0 < power < 1:
        raise UserError(f"--power must be between 0 and 1 (exclusive), got {power}")
    plan = plan_of(errors, looks, None if power is None else 1.0 - power, fixed_by_default=True)
    show(sample_size(outcome, design=plan.design(), ratio=ratio, **params), as_json, plot)


@design_app.command("power")
@with_options(effect=EffectOptions, errors=ErrorOptions, looks=LooksOptions)
def power_command(
    outcome: str = OutcomeOption,
    n_total: float = typer.Option(..., "--n-total", help="Patients over both arms (events for time-to-event)."),
    effect: EffectOptions = ...,  # type: ignore[assignment]  # with_options: each field is an option
    method: str | None = MethodOption,
    errors: ErrorOptions = ...,  # type: ignore[assignment]
    ratio: str = RatioOption,
    looks: LooksOptions = ...,  # type: ignore[assignment]
    as_json: bool = JsonOption,
) -> None:
    """Power of a trial with --n-total patients (normal approximation; t test for estimated SD uses z)."""
    from equipoise.design import power

    params = outcome_params(outcome, effect, None, method)
    params.pop("sd_known", None)
    plan = plan_of(errors, looks, None, fixed_by_default=True)
    show(power(outcome, n_total, design=plan.design(), ratio=ratio, **params), as_json)


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
    show(result, as_json, plot)

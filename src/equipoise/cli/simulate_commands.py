"""``equipoise simulate``: operating characteristics of a design on virtual patients."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from equipoise.cli.output import JsonOption, error_console, print_json, print_plain, require_positive, show
from equipoise.errors import UserError
from equipoise.protocol import load_protocol

simulate_app = typer.Typer(help="Simulate designs on virtual patients: type I error, power, sample size, claims.",
                           no_args_is_help=True)

# A million trials of the largest built-in design take hours on a laptop; more is a typo, not a plan (use
# --scheduler to spread a large run over a Dask cluster, in several runs with different seeds).
MAX_SIMULATED_TRIALS = 1_000_000
# Looks of a platform simulation, and the most patients it may enrol (each look re-fits every arm).
MAX_PLATFORM_LOOKS = 1_000
MAX_PLATFORM_PATIENTS = 1_000_000
TrialsOption = typer.Option(None, "--n-trials", "-n", help=f"Number of simulated trials (1 to "
                            f"{MAX_SIMULATED_TRIALS:,}).", min=1, max=MAX_SIMULATED_TRIALS)
SeedOption = typer.Option(20200214, "--seed", min=0, help="Random seed, 0 or more (the same seed gives the same "
                          "result).")
SchedulerOption = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786.")
NaturalHistoryOption = typer.Option("covid19", "--natural-history",
                                    help="Natural-history parameter file: a built-in name or a YAML path.")
PlotOption = typer.Option(None, "--plot", help="Write a picture of the result to this file (PNG, SVG or PDF).")


@contextmanager
def _progress(enabled: bool, what: str) -> Iterator[Any]:
    """A Rich progress bar on stderr, fed by the engine's (done, total) hook."""
    if not enabled:
        yield None
        return
    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task(what, total=None)

        def hook(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield hook


def _effect_or(text: str, option: str = "--effect") -> tuple[float, float]:
    from equipoise.simulate.protocol import Effect

    effect = Effect.parse(text)
    if effect.kind == "none":
        return 1.0, 1.0
    if effect.kind == "or" and effect.value is not None:
        return effect.value, 1.0
    raise UserError(f"{option} {text!r}: a single-arm simulation takes none or or=VALUE (an odds ratio on the "
                    "daily transitions of the WHO scale)")


@simulate_app.command("single-arm")
def single_arm(
    file: Path = typer.Argument(..., help="Protocol file of a single-arm study (enrolment.target.composition)."),
    effect: str = typer.Option("or=3", "--effect", help="The large (claimed) effect set against no effect: or=VALUE, "
                               "an odds ratio on every daily transition of the WHO scale (not an outcome odds "
                               "ratio); none leaves it out."),
    plausible: str = typer.Option("or=1.3", "--plausible", help="A plausible effect, the size randomized trials of "
                                  "COVID-19 therapies found: or=VALUE on the daily transitions; none leaves it out."),
    harm: float = typer.Option(1.0, "--harm", help="Odds ratio on the daily risk of death (harm) with the therapy, "
                               "1 = none."),
    n_trials: int | None = typer.Option(None, "--n-trials", "-n", help="Simulated studies per effect (default "
                                        "10000).", min=1),
    seed: int = SeedOption,
    natural_history: str = NaturalHistoryOption,
    scheduler: str | None = SchedulerOption,
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """The claim check: what a single-arm study would show with no effect, a plausible effect and a large one,
    side by side, and so what a claim such as 'all 31 improved' can and cannot tell."""
    from equipoise.simulate.claim_check import Scenario, check_claim
    from equipoise.simulate.natural_history import load_natural_history
    from equipoise.simulate.single_arm import single_arm_design_from_protocol

    require_positive(harm, "--harm")
    model = load_natural_history(natural_history)
    design = single_arm_design_from_protocol(load_protocol(file), model)
    scenarios = [Scenario("no effect", 1.0)]
    plausible_or, _ = _effect_or(plausible, "--plausible")
    large_or, _ = _effect_or(effect, "--effect")
    if plausible_or != 1 or harm != 1:
        scenarios.append(Scenario("a plausible effect", plausible_or, harm))
    if large_or != 1 or harm != 1:
        scenarios.append(Scenario("a large effect", large_or, harm))
    with _progress(not as_json, "simulating studies") as hook:
        result = check_claim(design, model, scenarios, n_trials=n_trials or 10000, seed=seed, scheduler=scheduler,
                             progress=hook)
    show(result, as_json, plot)


@simulate_app.command("protocol")
def protocol(
    file: Path = typer.Argument(..., help="Protocol file with an analysis plan and a control arm."),
    effect: str = typer.Option("assumed", "--effect", help="none, assumed, or or=/rr=/hr=/rd=/p=/delta=VALUE. or= is "
                               "an outcome odds ratio, but with --natural-history an odds ratio on every daily "
                               "transition of the WHO scale (the only effect a natural history takes)."),
    n_trials: int | None = TrialsOption,
    seed: int = SeedOption,
    natural_history: str | None = typer.Option(
        None, "--natural-history", help="Generate outcomes from virtual patients (e.g. covid19) instead of the "
        "design assumptions; the effect is then an odds ratio on daily transitions."),
    population: str = typer.Option("actt1-placebo", "--population",
                                   help="Natural-history population enrolled (with --natural-history)."),
    scenario: str | None = typer.Option(
        None, "--scenario", help="Adaptive platform: null, assumed, or ARM=VALUE,... (binary: event rates; "
        "ordinal: odds ratios of a higher level against the control)."),
    accrual: float = typer.Option(10.0, "--accrual", help="Adaptive platform: patients randomized per day."),
    scheduler: str | None = SchedulerOption,
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Operating characteristics of a protocol: its primary comparison (type I error or power, sample size,
    looks), or for an adaptive platform its own rules per arm (decisions, patients, error rates, selection)."""
    from equipoise.simulate.natural_history import load_natural_history
    from equipoise.simulate.protocol import Effect, simulate_protocol

    loaded = load_protocol(file)
    if loaded.adaptive is not None:
        _simulate_platform_protocol(loaded, scenario or "null", accrual, n_trials, seed, scheduler, plot, as_json)
        return
    if scenario is not None:
        raise UserError(f"--scenario applies to a protocol with an adaptive section; {file} has none (use --effect)")
    model = load_natural_history(natural_history) if natural_history else None
    pop = model.population(name=population) if model is not None else None
    with _progress(not as_json, "simulating trials") as hook:
        result = simulate_protocol(loaded, Effect.parse(effect), natural_history=model, population=pop,
                                   n_trials=n_trials or 10000, seed=seed, scheduler=scheduler, progress=hook)
    show(result, as_json, plot)


def _simulate_platform_protocol(protocol: Any, scenario: str, accrual: float, n_trials: int | None, seed: int,
                                scheduler: str | None, plot: Path | None, as_json: bool) -> None:
    from equipoise.simulate.adaptive_platform_protocol import design_from_protocol, scenario_from_text
    from equipoise.simulate.adaptive_platform_result import simulate_adaptive_platform

    design = design_from_protocol(protocol, accrual)
    truth = scenario_from_text(protocol, design, scenario)
    with _progress(not as_json, "simulating platforms") as hook:
        result = simulate_adaptive_platform(design, truth, n_trials=n_trials or 1000, seed=seed, scheduler=scheduler,
                                            progress=hook)
    show(result, as_json, plot)


@simulate_app.command("calibrate-threshold")
def calibrate_threshold(
    file: Path = typer.Argument(..., help="Protocol file with an adaptive section (its platform and rules)."),
    target: float = typer.Option(0.05, "--target", help="Largest family-wise type I error under the null."),
    low: float = typer.Option(0.95, "--low", help="Lowest superiority threshold searched."),
    high: float = typer.Option(0.9999, "--high", help="Highest superiority threshold searched."),
    steps: int = typer.Option(8, "--steps", min=1, max=30, help="Bisection steps (resolution (high-low)/2^steps)."),
    symmetric: bool = typer.Option(False, "--symmetric-inferiority",
                                   help="Move the inferiority threshold to 1 - threshold too (adaptr's default)."),
    accrual: float = typer.Option(10.0, "--accrual", help="Patients randomized per day."),
    n_trials: int | None = TrialsOption,
    seed: int = SeedOption,
    scheduler: str | None = SchedulerOption,
    as_json: bool = JsonOption,
) -> None:
    """The smallest superiority threshold of an adaptive platform whose simulated family-wise type I error under
    the null is at most --target (bisection; every threshold simulates the same trials)."""
    from equipoise.simulate.adaptive_platform_calibration import calibrate_superiority
    from equipoise.simulate.adaptive_platform_protocol import design_from_protocol, scenario_from_text

    require_positive(accrual, "--accrual")
    loaded = load_protocol(file)
    design = design_from_protocol(loaded, accrual)
    result = calibrate_superiority(design, scenario_from_text(loaded, design, "null"), target=target, low=low,
                                   high=high, steps=steps, n_trials=n_trials or 1000, seed=seed,
                                   symmetric_inferiority=symmetric, scheduler=scheduler)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))


@simulate_app.command("curve")
def curve(
    file: Path = typer.Argument(..., help="Protocol file with an analysis plan and a control arm."),
    effect: str = typer.Option(..., "--effect", help="NAME=V1,V2,... e.g. or=1,1.2,1.4,1.6 or hr=1,0.8,0.7 or "
                               "p=0.2,0.18 (experimental arm's risk). or= is an outcome odds ratio, but with "
                               "--natural-history an odds ratio on every daily transition of the WHO scale."),
    n_trials: int | None = typer.Option(None, "--n-trials", "-n", help="Simulated trials per effect (default 5000).",
                                        min=1),
    seed: int = SeedOption,
    natural_history: str | None = typer.Option(
        None, "--natural-history", help="Generate outcomes from virtual patients (e.g. covid19); the effect is then "
        "or=, an odds ratio on every daily transition."),
    population: str = typer.Option("actt1-placebo", "--population",
                                   help="Natural-history population enrolled (with --natural-history)."),
    plot: Path | None = PlotOption,
    as_json: bool = JsonOption,
) -> None:
    """Power (the probability of rejecting H0; the type I error at no effect) and expected sample size of the
    protocol's primary comparison against the true effect, with how many trials each point is."""
    from equipoise.simulate.natural_history import load_natural_history
    from equipoise.simulate.protocol import power_curve

    name, _, values = effect.partition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--effect {effect!r}: expected NAME=V1,V2,... with numbers") from None
    if not numbers:
        raise UserError(f"--effect {effect!r}: expected NAME=V1,V2,...")
    model = load_natural_history(natural_history) if natural_history else None
    pop = model.population(name=population) if model is not None else None
    with _progress(not as_json, "simulating trials") as hook:
        result = power_curve(load_protocol(file), name.strip().lower(), numbers, natural_history=model,
                             population=pop, n_trials=n_trials or 5000, seed=seed, progress=hook)
    show(result, as_json, plot)


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a comma-separated list of numbers") from None


def _range(text: str, option: str) -> tuple[int, ...]:
    """Patients at each look: START:STOP:STEP or a list; positive, increasing and within the limits above."""
    parts = text.split(":")
    try:
        if len(parts) == 3:
            start, stop, step = (int(p) for p in parts)
            if step <= 0:
                raise ValueError
            numbers: range | tuple[int, ...] = range(start, stop + 1, step)  # a range: never built if too long
        else:
            numbers = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{option}: {text!r} is not START:STOP:STEP or a comma-separated list") from None
    if not numbers:
        raise UserError(f"{option}: {text!r} gives no look")
    if len(numbers) > MAX_PLATFORM_LOOKS:
        raise UserError(f"{option}: {text!r} gives {len(numbers):,} looks; at most {MAX_PLATFORM_LOOKS:,}")
    if numbers[0] < 1 or any(b <= a for a, b in itertools.pairwise(numbers)):
        raise UserError(f"{option}: {text!r}: patients at each look must be positive and increase")
    if numbers[-1] > MAX_PLATFORM_PATIENTS:
        raise UserError(f"{option}: {text!r} enrols {numbers[-1]:,} patients; at most {MAX_PLATFORM_PATIENTS:,}")
    return tuple(numbers)


@simulate_app.command("platform")
def platform(
    rates: str = typer.Option(..., "--rates", help="True event rate per arm, e.g. 0.25,0.25,0.25."),
    looks: str = typer.Option(..., "--looks", help="Patients with outcome data at each look, START:STOP:STEP."),
    arms: str | None = typer.Option(None, "--arms", help="Arm names (default A, B, C, ...)."),
    control: str | None = typer.Option(None, "--control", help="Common control arm (default: none)."),
    lag: int = typer.Option(0, "--lag", help="Patients randomised but without outcome data at each look.", min=0),
    min_prob: float = typer.Option(0.0, "--min-prob", help="Allocation floor per arm (RAR)."),
    fixed: bool = typer.Option(False, "--fixed-allocation", help="Equal allocation instead of RAR."),
    sqrt_control: bool = typer.Option(False, "--sqrt-control", help="Control allocation by the square-root rule."),
    superiority: float = typer.Option(0.99, "--superiority", help="Stop for superiority above this probability."),
    inferiority: float | None = typer.Option(None, "--inferiority", help="Drop an arm below this (default "
                                             "1 - superiority)."),
    equivalence: str | None = typer.Option(None, "--equivalence", help="PROB,DIFF: stop when P(all within DIFF) "
                                           "> PROB."),
    futility: str | None = typer.Option(None, "--futility", help="PROB,DIFF: drop an arm when P(better than "
                                        "control by DIFF) < PROB."),
    higher_is_better: bool = typer.Option(False, "--higher-is-better", help="The outcome is desirable."),
    n_trials: int | None = TrialsOption,
    seed: int = SeedOption,
    scheduler: str | None = SchedulerOption,
    as_json: bool = JsonOption,
) -> None:
    """A Bayesian adaptive multi-arm trial (binary outcome): stopping, arm dropping, adaptive randomisation."""
    from equipoise.simulate.platform import PlatformDesign, simulate_platform

    true_rates = _floats(rates, "--rates")
    names = tuple(a.strip() for a in arms.split(",")) if arms else tuple(chr(65 + i) for i in range(len(true_rates)))
    if len(names) != len(true_rates):
        raise UserError("--arms and --rates must have the same length")
    data_looks = _range(looks, "--looks")
    randomised = tuple(min(n + lag, data_looks[-1]) for n in data_looks)
    eq = _floats(equivalence, "--equivalence") if equivalence else None
    fu = _floats(futility, "--futility") if futility else None
    for name, pair in (("--equivalence", eq), ("--futility", fu)):
        if pair is not None and len(pair) != 2:
            raise UserError(f"{name}: expected PROB,DIFF")
    design = PlatformDesign(
        arms=names, true_rates=true_rates, data_looks=data_looks, randomised_at_looks=randomised, control=control,
        min_probs=(min_prob,) * len(names) if min_prob else None, adaptive=not fixed,
        control_prob_fixed="sqrt" if sqrt_control else None, superiority=superiority,
        inferiority=1 - superiority if inferiority is None else inferiority,
        equivalence_prob=eq[0] if eq else None, equivalence_diff=eq[1] if eq else None,
        futility_prob=fu[0] if fu else None, futility_diff=fu[1] if fu else None, highest_is_best=higher_is_better,
    )
    with _progress(not as_json, "simulating trials") as hook:
        result = simulate_platform(design, n_trials=n_trials or 1000, seed=seed, scheduler=scheduler, progress=hook)
    show(result, as_json)


@simulate_app.command("calibration")
def calibration(
    natural_history: str = NaturalHistoryOption,
    as_json: bool = JsonOption,
) -> None:
    """Each published target of a natural history next to what the model gives (exit 2 if one is off)."""
    from equipoise.simulate.natural_history import check, load_natural_history

    checks = check(load_natural_history(natural_history))
    if as_json:
        print_json({"targets": [c.to_dict() for c in checks], "all_ok": all(c.ok for c in checks)})
    else:
        for c in checks:
            print_plain(f"{c}\n    {c.source}")
    if not all(c.ok for c in checks):
        raise typer.Exit(2)

"""``equipoise evidence tsa``: trial sequential analysis of a cumulative meta-analysis (required information
size, diversity, Lan-DeMets monitoring boundaries, futility, the TSA plot)."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.evidence_meta_csv import parse_column_map, read_study_table
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import parse_measure
from equipoise.evidence.pooled import parse_method
from equipoise.evidence.tsa import trial_sequential_analysis

tsa_commands = typer.Typer()


@tsa_commands.command("tsa")
def tsa(
    file: Path = typer.Argument(..., help="CSV, one row per trial, as for 'evidence meta'."),
    measure: str = typer.Option("RR", "--measure", help="RR, OR, RD, MD or SMD."),
    method: str = typer.Option("DL", "--method", help="Pooling method of the z-curve (default DL, as the TSA "
                                                      "program)."),
    control_risk: float | None = typer.Option(None, "--control-risk", help="Assumed control-arm risk (binary)."),
    rrr: float | None = typer.Option(None, "--rrr", help="Assumed relative risk reduction, e.g. 0.2 (binary)."),
    mean_difference: float | None = typer.Option(None, "--mean-difference", help="Assumed mean difference."),
    sd: float | None = typer.Option(None, "--sd", help="Assumed standard deviation (continuous)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided type I error."),
    power: float = typer.Option(0.8, "--power", help="Power (1 - beta)."),
    diversity: float | None = typer.Option(None, "--diversity", help="D^2 to assume (default: from the data)."),
    futility: bool = typer.Option(False, "--futility", help="Add non-binding futility boundaries."),
    plot: Path | None = typer.Option(None, "--plot", help="Save the TSA plot (PNG, SVG or PDF)."),
    column: list[str] | None = typer.Option(None, "--column", help="Map a column: NAME=CSV_COLUMN (repeatable)."),
    as_json: bool = JsonOption,
) -> None:
    """When did the evidence become enough, or how many more patients are needed?"""
    the_measure = parse_measure(measure)
    if plot is not None and plot.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise UserError(f"--plot: {plot} should end in .png, .svg or .pdf")
    table = read_study_table(file, the_measure, parse_column_map(column))
    result = trial_sequential_analysis(
        table, the_measure, parse_method(method), control_risk=control_risk, rrr=rrr,
        mean_difference=mean_difference, sd=sd, alpha=alpha, beta=1 - power, diversity_value=diversity,
        futility=futility)
    if plot is not None:
        try:
            result.plot().savefig(plot, dpi=110)
        except OSError as exc:
            raise UserError(f"cannot write {plot}: {exc.strerror or exc}") from None
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))

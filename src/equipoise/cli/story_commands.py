"""``equipoise demo story``: the seed story in the terminal (``report/story.py`` computes it)."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.evidence_meta_csv import read_study_table
from equipoise.cli.output import JsonOption, error_console, print_json, print_plain
from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure
from equipoise.protocol import load_protocol
from equipoise.report.story import DEMO_SEED, seed_story
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import single_arm_design_from_protocol


def story(
    rct: Path = typer.Option(Path("examples/covid19-msc-rct.yaml"), "--rct", help="The randomized trial that should "
                             "have been run (a protocol file with an analysis plan and looks)."),
    single_arm: Path = typer.Option(Path("examples/covid19-msc-single-arm.yaml"), "--single-arm",
                                    help="The single-arm case series (a protocol file with one arm)."),
    evidence: Path | None = typer.Option(Path("examples/evidence/msc-covid-mortality.csv"), "--evidence",
                                         help="Randomized trials' deaths, one row per trial (the columns of "
                                         "`evidence meta`); --no-evidence leaves the pooled evidence out."),
    no_evidence: bool = typer.Option(False, "--no-evidence", help="Leave the pooled evidence out."),
    n_trials: int = typer.Option(2000, "--n-trials", "-n", min=1, max=100_000, help="Simulated single-arm studies "
                                 "per effect (1 to 100,000; the 'all improved' probabilities are exact anyway)."),
    seed: int = typer.Option(DEMO_SEED, "--seed", min=0, help="Seed of the simulated trial's patients and "
                             "allocations (default: the demo's)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the story's picture to this file (PNG, SVG or "
                                     "PDF)."),
    as_json: bool = JsonOption,
) -> None:
    """The seed story: what the 2020 Beijing single-arm study would show with no effect and with a real one, the
    randomized trial that should have been run, its simulated first interim look, and the pooled evidence."""
    model = load_natural_history("covid19")
    design = single_arm_design_from_protocol(load_protocol(single_arm), model)
    table = None if no_evidence or evidence is None else read_study_table(evidence, Measure.RR)
    result = seed_story(design, load_protocol(rct), model, table, n_trials=n_trials, seed=seed)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))
    if plot is not None:
        try:
            result.plot().savefig(plot)
        except (OSError, ValueError) as exc:
            raise UserError(f"--plot {plot}: {exc}") from None
        error_console.print(f"wrote {plot}", markup=False)

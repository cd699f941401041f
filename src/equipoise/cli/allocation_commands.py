"""``equipoise allocation``: recompute stored allocations from their inputs and random draws."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain

allocation_app = typer.Typer(help="Replay allocations; generate a randomization list to upload.",
                             no_args_is_help=True)


@allocation_app.command("replay")
def replay(trial: str | None = typer.Option(None, "--trial", help="Trial id; default: every trial."),
           db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Recompute every allocation in order; report any difference (arms are never printed). Exit 1 if any."""
    from equipoise.identity.principal import system_principal
    from equipoise.services.replay import replay_trial
    from equipoise.services.trials import list_trials

    database = open_database(db)
    ids = [trial] if trial else [t.id for t in list_trials(database, system_principal())]
    reports = [replay_trial(database, t) for t in ids]
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        for report in reports:
            print_plain(str(report))
        if not reports:
            print_plain("no trials")
    if not all(r.identical for r in reports):
        raise typer.Exit(1)


@allocation_app.command("generate-list")
def generate_list_command(
    protocol: Path = typer.Argument(..., help="The protocol file (randomization method: list)."),
    output: Path = typer.Option(..., "--output", "-o", help="The CSV file to write (it must not exist)."),
    per_stratum: int = typer.Option(..., "--per-stratum", min=1, max=100_000, help="Entries per stratum, at least "
                                    "(whole blocks)."),
    seed: int = typer.Option(..., "--seed", min=0, help="The seed (0 or more): keep it secret; with it the list can "
                             "be generated again."),
    block_sizes: str | None = typer.Option(None, "--block-sizes", help="e.g. 4,6 (multiples of the allocation "
                                           "weights' sum); default: 2 and 3 times that sum."),
) -> None:
    """Generate a stratified permuted-block list from a seed, to upload with POST /randomization-lists (RND-11).

    The file and the seed are the allocation sequence: keep both away from everyone who enrols patients."""
    import hashlib

    from equipoise.allocate.list_generation import generate_list, list_csv
    from equipoise.errors import UserError
    from equipoise.protocol import load_protocol
    from equipoise.protocol.randomization import RandomizationMethod

    parsed = load_protocol(protocol)
    if parsed.randomization is None or parsed.randomization.method is not RandomizationMethod.LIST:
        raise UserError(f"{protocol}: randomization method must be 'list' to use an uploaded list")
    if output.exists():
        raise UserError(f"{output} exists already: choose a new file name")
    try:
        sizes = [int(x) for x in block_sizes.split(",")] if block_sizes else None
    except ValueError:
        raise UserError(f"--block-sizes: whole numbers separated by commas, not {block_sizes!r}") from None
    text = list_csv(parsed, generate_list(parsed, per_stratum, seed, sizes))
    output.write_text(text, encoding="utf-8")
    output.chmod(0o600)
    print_plain(f"{output}: {text.count(chr(10)) - 1} entries; SHA-256 {hashlib.sha256(text.encode()).hexdigest()} "
                "(give it with the upload)")

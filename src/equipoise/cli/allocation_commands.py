"""``equipoise allocation``: recompute stored allocations from their inputs and random draws."""

from __future__ import annotations

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain

allocation_app = typer.Typer(help="Replay allocations.", no_args_is_help=True)


@allocation_app.command("replay")
def replay(trial: str | None = typer.Option(None, "--trial", help="Trial id; default: every trial."),
           db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Recompute every allocation in order; report any difference (arms are never printed). Exit 1 if any."""
    from equipoise.store.principal import system_principal
    from equipoise.store.replay import replay_trial
    from equipoise.store.trials import list_trials

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

"""``equipoise trial``: activate protocol files on the trial server's database."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.store.principal import system_principal
from equipoise.store.trials import create_trial_from_file, list_trials

trial_app = typer.Typer(help="Activate and list trials on the server's database.", no_args_is_help=True)


@trial_app.command("create")
def create(file: Path = typer.Argument(..., help="Protocol file (YAML)."), db: str | None = DbOption,
           as_json: bool = JsonOption) -> None:
    """Activate a protocol file (validated, stored verbatim with its SHA-256; audited)."""
    view = create_trial_from_file(open_database(db), system_principal(), file)
    if as_json:
        print_json(view.to_dict())
    else:
        print_plain(f"trial {view.id} created: {view.title} (version {view.version}, "
                    f"{'blinded' if view.blinded else 'open-label'}, {len(view.sites)} sites)")


@trial_app.command("list")
def list_(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """List the trials."""
    views = list_trials(open_database(db), system_principal())
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    for v in views:
        print_plain(f"{v.id}\tversion {v.version}\t{v.status}\t{v.title}")

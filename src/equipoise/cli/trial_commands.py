"""``equipoise trial``: activate protocol files on the trial server's database."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.identity.principal import system_principal
from equipoise.protocol import InvalidProtocolError, validate_text
from equipoise.services.trials import amend_trial, create_trial, list_trials
from equipoise.user_files import read_user_text

trial_app = typer.Typer(help="Activate and list trials on the server's database.", no_args_is_help=True)


@trial_app.command("create")
def create(file: Path = typer.Argument(..., help="Protocol file (YAML)."), db: str | None = DbOption,
           test: bool = typer.Option(False, "--test", help="A test trial, to try the setup out (its own id in the "
                                     "file, e.g. MSC-COVID-RCT-TEST): it takes test randomization lists only."),
           as_json: bool = JsonOption) -> None:
    """Activate a protocol file (validated, stored verbatim with its SHA-256; audited).

    The file is read and validated before the database is opened: a missing or invalid file creates nothing."""
    text = read_user_text(file)
    report = validate_text(text, str(file))
    if report.protocol is None:
        raise InvalidProtocolError(report.problems)
    view = create_trial(open_database(db, create=True), system_principal(), text, str(file), test=test)
    if as_json:
        print_json(view.to_dict())
    else:
        print_plain(f"{'test ' if test else ''}trial {view.id} created: {view.title} (version {view.version}, "
                    f"{'blinded' if view.blinded else 'open-label'}, {len(view.sites)} sites)")


@trial_app.command("amend")
def amend(file: Path = typer.Argument(..., help="The whole protocol file with the new amendment(s) added."),
          reason: str = typer.Option(..., "--reason", help="Why (e.g. the ethics approval reference)."),
          db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Load a new version of a trial's protocol file that adds amendments (effective today or later)."""
    text = read_user_text(file)
    view = amend_trial(open_database(db), system_principal(), text, reason, str(file))
    if as_json:
        print_json(view.to_dict())
    else:
        print_plain(f"trial {view.id} amended: versions {', '.join(v['version'] for v in view.versions)}")


@trial_app.command("list")
def list_(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """List the trials."""
    views = list_trials(open_database(db), system_principal())
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    for v in views:
        print_plain(f"{v.id}\tversion {v.version}\t{v.status}\t{v.title}")

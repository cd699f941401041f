"""``equipoise user``: accounts and roles on the trial server (every change audited)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.errors import UserError
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role, parse_role
from equipoise.services.users import (
    activate_user,
    add_user,
    deactivate_user,
    grant_role,
    list_users,
    reset_single_sign_on,
    reset_two_factor,
    revoke_role,
)

user_app = typer.Typer(help="Add users and give them roles.", no_args_is_help=True)


def _role(text: str) -> Role:
    try:
        return parse_role(text)
    except ValueError as exc:
        raise UserError(f"--role: {exc}") from None


def _password(password: str | None, password_file: Path | None = None, from_stdin: bool = False) -> str:
    """The new user's password: --password, --password-file, --password-stdin, $EQUIPOISE_PASSWORD, else asked
    (asking needs a terminal; a script gives a file or standard input, which stay out of the process list)."""
    if sum([password is not None, password_file is not None, from_stdin]) > 1:
        raise UserError("give the password one way: --password, --password-file or --password-stdin")
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--password-file: cannot read {password_file} ({exc})") from None
        return _first_line(text, f"--password-file: {password_file}")
    if from_stdin:
        return _first_line(sys.stdin.read(), "--password-stdin: standard input")
    value = password or os.environ.get("EQUIPOISE_PASSWORD")
    if value:
        return value
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the password on: give --password-file FILE or --password-stdin "
                        "(or $EQUIPOISE_PASSWORD)")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _first_line(text: str, where: str) -> str:
    """The password is the first line, without its line ending (``echo`` and editors add one)."""
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise UserError(f"{where} is empty: the password is its first line")
    return lines[0]


@user_app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., "--role", help="admin, site-coordinator, investigator, monitor, "
                             "blinded-statistician, unblinded-statistician or dmc."),
    trial: str | None = typer.Option(None, "--trial", help="Trial id (every role except admin)."),
    site: str | None = typer.Option(None, "--site", help="Site id (site coordinators and investigators)."),
    full_name: str | None = typer.Option(None, "--name", help="Full name as shown on records."),
    email: str | None = typer.Option(None, "--email"),
    password: str | None = typer.Option(None, "--password", help="Default: $EQUIPOISE_PASSWORD, else asked "
                                        "(on a terminal)."),
    password_file: Path | None = typer.Option(None, "--password-file", help="Read the password from the first "
                                              "line of this file (no terminal needed)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first line of "
                                        "standard input (no terminal needed)."),
    db: str | None = DbOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a user with one role."""
    grant = (_role(role), trial, site)
    secret = _password(password, password_file, password_stdin)
    # A role in a trial needs the trial's database: a missing file is a wrong --db, not a new installation.
    database = open_database(db, create=trial is None)
    view = add_user(database, system_principal(), username, full_name or username, secret, email, [grant])
    if as_json:
        print_json(view.to_dict())
    else:
        print_plain(f"user {view.username} added as {role}" + (f" in {trial}" if trial else "")
                    + (f" at site {site}" if site else ""))


@user_app.command("grant")
def grant(username: str = typer.Argument(...), role: str = typer.Option(..., "--role"),
          trial: str | None = typer.Option(None, "--trial"), site: str | None = typer.Option(None, "--site"),
          reason: str | None = typer.Option(None, "--reason"), db: str | None = DbOption) -> None:
    """Give an existing user another role."""
    grant_role(open_database(db), system_principal(), username, _role(role), trial, site, reason)
    print_plain(f"{username}: role {role} granted")


@user_app.command("deactivate")
def deactivate(username: str = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
               db: str | None = DbOption) -> None:
    """Deactivate a user (audited): no login, and their sessions and API tokens stop working at once."""
    deactivate_user(open_database(db), system_principal(), username, reason)
    print_plain(f"{username}: deactivated; their sessions and API tokens have ended")


@user_app.command("activate")
def activate(username: str = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
             db: str | None = DbOption) -> None:
    """Activate a deactivated user again (audited)."""
    activate_user(open_database(db), system_principal(), username, reason)
    print_plain(f"{username}: active again")


@user_app.command("revoke")
def revoke(role_id: int = typer.Argument(..., help="Role assignment id (see `user list`)."),
           reason: str = typer.Option(..., "--reason"), db: str | None = DbOption) -> None:
    """Withdraw a role (the assignment is kept, inactive, in the audit trail)."""
    revoke_role(open_database(db), system_principal(), role_id, reason)
    print_plain(f"role assignment {role_id} revoked")


@user_app.command("reset-2fa")
def reset_2fa(username: str = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
              db: str | None = DbOption) -> None:
    """Turn off a user's two-factor login (a lost phone), with a reason; audited."""
    reset_two_factor(open_database(db), system_principal(), username, reason)
    print_plain(f"two-factor login of {username} reset: they log in with the password and set it up again")


@user_app.command("reset-sso")
def reset_sso(username: str = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
              db: str | None = DbOption) -> None:
    """Unbind a user's single sign-on identity (the provider gave them a new one), with a reason; audited."""
    reset_single_sign_on(open_database(db), system_principal(), username, reason)
    print_plain(f"single sign-on of {username} reset: their next sign-on binds the identity it brings")


@user_app.command("list")
def list_(db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """List users and their roles."""
    views = list_users(open_database(db), system_principal())
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    for v in views:
        roles = ", ".join(f"#{r.id} {r.role}" + (f" {r.trial_id}" if r.trial_id else "")
                          + (f"@{r.site_id}" if r.site_id else "") + ("" if r.active else " (revoked)")
                          for r in v.roles)
        marks = ("  LOCKED" if v.locked else "") + ("" if v.active else "  DEACTIVATED")
        print_plain(f"{v.username}\t{v.full_name}\t{roles}{marks}")

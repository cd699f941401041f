"""``equipoise audit``: verify the hash-chained audit trail against the records."""

from __future__ import annotations

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_report

audit_app = typer.Typer(help="Verify the audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(db: str | None = DbOption, as_json: bool = JsonOption,
                   expect_head: str | None = typer.Option(
                       None, "--expect-head", help="A head hash recorded earlier (e.g. printed by a previous "
                       "verify): the chain must still contain it as an entry's hash.")) -> None:
    """Recompute the chain and replay every record's history; exit 1 naming the first bad entry if any."""
    from equipoise.store.verify import Finding, chain_contains, verify

    database = open_database(db, existing=True)
    report = verify(database)
    if expect_head and not chain_contains(database, expect_head):
        report.findings.append(Finding("chain", None, "audit_log", None,
                                       f"no entry has the expected hash {expect_head[:16]}…"))
    print_report(report, as_json)

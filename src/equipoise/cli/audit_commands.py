"""``equipoise audit``: verify the hash-chained audit trail against the records; rotate the key that signs it."""

from __future__ import annotations

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_plain, print_report

audit_app = typer.Typer(help="Verify the audit trail; rotate its key.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(db: str | None = DbOption, as_json: bool = JsonOption,
                   expect_head: str | None = typer.Option(
                       None, "--expect-head", help="A head hash recorded earlier (e.g. printed by a previous "
                       "verify): the chain must still contain it as an entry's hash.")) -> None:
    """Recompute the chain, check its MACs with the audit key, replay every record's history and every allocation;
    exit 1 naming the first bad entry if any. Without the key file only the unkeyed hashes are checked (said so)."""
    from equipoise.integrity.audit_verify import Finding, chain_contains, verify

    database = open_database(db)
    report = verify(database)
    if expect_head and not chain_contains(database, expect_head):
        report.findings.append(Finding("chain", None, "audit_log", None,
                                       f"no entry has the expected hash {expect_head[:16]}…"))
    print_report(report, as_json)


@audit_app.command("rotate-key")
def rotate_key_command() -> None:
    """Add a new audit key ($EQUIPOISE_AUDIT_KEY_FILE, else audit-keys in the data directory): it signs new entries
    and tokens once the server restarts; the old keys stay in the file, so old entries keep verifying."""
    from equipoise.store.audit_keys import key_file_path, rotate_key

    path = key_file_path()
    keys = rotate_key(path)
    print_plain(f"{path}: new key {keys.current_id} signs from the next server start; "
                f"{len(keys.ids) - 1} older key(s) kept for verification")

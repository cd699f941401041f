"""``equipoise forms``: the state of a trial's case report forms (missing and overdue forms, per site and patient)."""

from __future__ import annotations

from typing import Any

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.errors import UserError

forms_app = typer.Typer(help="Track case report forms: due, overdue, incomplete, open queries.", no_args_is_help=True)


def _service(db: str | None) -> Any:
    from equipoise.services.forms import FormService

    return FormService(open_database(db))


@forms_app.command("tracking")
def tracking(trial: str = typer.Argument(..., help="Trial id."),
             site: str | None = typer.Option(None, "--site", help="Only this site."),
             db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Per site: forms complete, incomplete, due and overdue, open queries; then every overdue form."""
    from equipoise.identity.principal import system_principal

    report = _service(db).tracking(system_principal(), trial, site)
    if as_json:
        print_json(report)
        return
    print_plain(f"{trial}: case report forms at {report['generated_at']}")
    print_plain(f"{'site':<20}{'patients':>9}{'complete':>9}{'incompl.':>9}{'not done':>9}{'not needed':>11}"
                f"{'due':>6}{'overdue':>8}{'queries':>8}")
    for site_id, s in report["sites"].items():
        print_plain(f"{site_id:<20}{s['patients']:>9}{s['complete']:>9}{s['incomplete']:>9}{s['not-done']:>9}"
                    f"{s['not-needed']:>11}{s['due']:>6}{s['overdue']:>8}"
                    f"{s['open_queries'] + s['answered_queries']:>8}")
    if report["overdue"]:
        print_plain("\noverdue forms (most overdue first):")
        for o in report["overdue"]:
            print_plain(f"  {o['patient_code']} ({o['site_id']})  {o['form_id']} at {o['visit_id']}: window closed "
                        f"{o['closed']}, {o['days_overdue']} days ago")
    else:
        print_plain("\nno overdue forms")


@forms_app.command("schedule")
def schedule(trial: str = typer.Argument(..., help="Trial id."),
             patient: str = typer.Argument(..., help="The patient's code (P-000012) or number (12)."),
             db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """One patient's visits, windows and the state of each form."""
    from equipoise.identity.principal import system_principal
    from equipoise.store.models import patient_number

    try:
        number = patient_number(patient)
    except ValueError as exc:
        raise UserError(f"patient: {exc}") from None
    result = _service(db).patient_schedule(system_principal(), trial, number)
    if as_json:
        print_json(result)
        return
    print_plain(f"{result['patient_code']} ({result['site_id']}), day 0 {result['day0'] or 'not randomized yet'}, "
                f"today {result['today']}" + ("  LOCKED" if result["locked"] else ""))
    for f in result["forms"]:
        window = f"{f['opens']} to {f['closes']}" if f["opens"] else "after randomization"
        print_plain(f"  {f['visit_id']:<10} day {f['day']:>3}  {f['form_id']:<20} {window:<26} {f['state']}"
                    + (" (late)" if f["late"] and f["state"] != "overdue" else "")
                    + (f" ({f['records']} records)" if f.get("repeating") and f["records"] > 1 else ""))

"""``equipoise serve`` and ``equipoise demo``: run the trial server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import parse_date, print_plain
from equipoise.cli.story_commands import story
from equipoise.errors import UserError
from equipoise.server.tls import TLS_CERT_ENV, TLS_KEY_ENV, TlsFiles, tls_files
from equipoise.store.db import DATABASE_URL_ENV, Database

if TYPE_CHECKING:
    from equipoise.cli.demo_population import PopulationSummary

DEMO_PASSWORD = "equipoise-demo"
DEMO_USERS = [
    # username, full name, role, site
    ("admin", "Demo administrator", "admin", None),
    ("coordinator", "Li Wei (site coordinator, PUMCH)", "site-coordinator", "pumch"),
    ("investigator", "Dr Zhang Min (investigator, PUMCH)", "investigator", "pumch"),
    ("milan", "Giulia Rossi (site coordinator, Milan)", "site-coordinator", "milan-sacco"),
    ("wuhan", "Chen Jing (site coordinator, Wuhan Jinyintan)", "site-coordinator", "wuhan-jinyintan"),
    ("nyc", "Maria Lopez (site coordinator, NewYork-Presbyterian)", "site-coordinator", "nyc-presbyterian"),
    ("monitor", "Demo monitor", "monitor", None),
    ("statistician", "Demo blinded statistician", "blinded-statistician", None),
    ("unblinded", "Demo unblinded statistician", "unblinded-statistician", None),
    ("dmc", "Demo data monitoring committee", "dmc", None),
]


def run_server(url: str, host: str, port: int, workers: int, tls: TlsFiles | None = None) -> None:
    import uvicorn

    if workers < 1:
        raise UserError("--workers: give at least 1")
    # Worker processes build their own app from the environment: hand them the database URL (and whether they
    # serve HTTPS) that way.
    os.environ[DATABASE_URL_ENV] = url
    if tls is not None:
        os.environ[TLS_CERT_ENV], os.environ[TLS_KEY_ENV] = str(tls.cert), str(tls.key)
    from equipoise.server.nodelay_protocol import NoDelayHttpProtocol
    from equipoise.server.tls import tls_context

    # httptools' HTTP parser, and uvloop's event loop (uvicorn's "auto" loop picks it where it is installed).
    uvicorn.run("equipoise.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                http=NoDelayHttpProtocol, log_level="warning", access_log=False,
                # A worker answers the supervisor's health pings only once it has imported the app; on a busy
                # machine that takes longer than uvicorn's 5 s default, and the supervisor would kill and
                # respawn it for ever.
                timeout_worker_healthcheck=60,
                ssl_certfile=str(tls.cert) if tls else None, ssl_keyfile=str(tls.key) if tls else None,
                ssl_context_factory=tls_context if tls else None)


def serve(
    db: str | None = DbOption,
    workers: int = typer.Option(1, "--workers", "-w", help="Server processes (they share the database)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (1 to 65535)."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="Serve HTTPS with this PEM certificate (chain) "
                                         "[env: EQUIPOISE_TLS_CERT]; without it, plain HTTP (behind a TLS proxy)."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="The certificate's PEM private key "
                                        "[env: EQUIPOISE_TLS_KEY]."),
) -> None:
    """Run the trial server (JSON API; schema at /openapi.json, browsable at /docs)."""
    tls = tls_files(tls_cert, tls_key)
    # the server is how a new installation starts (README), so it creates a database, but says so: a mistyped
    # --db path shows up here instead of as an empty trial list
    database = open_database(db, create=True, announce=True)
    url = database.url
    keys = database.keys_for_writing()  # created here at the first start (0600), before any worker forks
    database.dispose()
    scheme = "https" if tls else "http"
    print_plain(f"Equipoise trial server on {scheme}://{host}:{port} (API docs: {scheme}://{host}:{port}/docs)")
    print_plain(f"database: {url.split('@')[-1] if '@' in url else url}; {workers} process(es)"
                + (f"; TLS certificate valid until {tls.expires:%Y-%m-%d}" if tls else ""))
    print_plain(f"audit key: {keys.path} (key {keys.current_id}): keep a copy apart from the database and backups")
    run_server(url, host, port, workers, tls)


def _populate(database: Database, trial_id: str, patients: int, seed: int, as_of: str | None,
              effect: float) -> PopulationSummary:
    import datetime as dt

    from equipoise.cli.demo_population import DemoStaff, populate

    if not effect > 0:
        raise UserError(f"--effect: the treatment effect is an odds ratio above 0 (1: none), not {effect:g}")
    now = dt.datetime.now(dt.UTC)
    moment = now
    if as_of is not None:
        day = parse_date(as_of, "--as-of")
        if day < now.date():  # the end of that day; today or later is now (nothing is entered in the future)
            moment = dt.datetime.combine(day, dt.time(23, 0), dt.UTC)
    staff = DemoStaff({site: user for user, _n, role, site in DEMO_USERS if role == "site-coordinator" and site},
                      investigator="investigator", monitor="monitor", password=DEMO_PASSWORD)
    print_plain(f"Filling trial {trial_id} with {patients} virtual patients (seed {seed})...")
    return populate(database, trial_id, staff, patients=patients, seed=seed, as_of=moment, odds_ratio=effect,
                    progress=print_plain)


def _shown(url: str) -> str:
    """A database URL fit to print: without the user and password of a PostgreSQL URL."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.split('@', 1)[-1]}" if "@" in rest else url


def demo(
    ctx: typer.Context,
    data_dir: Path = typer.Option(Path(".equipoise-demo"), "--data-dir", help="Where the demo database lives "
                                  "(an embedded SQLite file), unless --db or $EQUIPOISE_DATABASE_URL names one."),
    db: str | None = typer.Option(None, "--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...); "
                                  "default: $EQUIPOISE_DATABASE_URL, else a SQLite file in --data-dir."),
    protocol: Path = typer.Option(Path("examples/covid19-msc-rct.yaml"), "--protocol", help="Demo trial."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (1 to 65535)."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Set up the demo and exit."),
    patients: int = typer.Option(120, "--patients", min=0, max=100_000, help="Virtual patients to randomize into a "
                                 "new demo trial (0: none; at most 100,000). A trial that has patients is left as it "
                                 "is."),
    seed: int = typer.Option(20200316, "--seed", min=0, help="Seed of the virtual population (arms come from the "
                             "server's own random numbers)."),
    as_of: str | None = typer.Option(None, "--as-of", help="The demo's today (YYYY-MM-DD): patients are enrolled "
                                     "over the 150 days before it (default: now)."),
    effect: float = typer.Option(1.0, "--effect", help="True common odds ratio of the experimental arm on daily "
                                 "transitions (above 1 helps; 1: no effect)."),
) -> None:
    """Set up a demo (embedded SQLite or --db, the demo trial with virtual patients, one user per role) and run the
    server.

    `equipoise demo story` tells the seed story instead (the demo's options do not apply to it)."""
    if ctx.invoked_subcommand is not None:
        return
    from equipoise.identity.principal import system_principal
    from equipoise.identity.roles import Role
    from equipoise.services.trials import create_trial_from_file, list_trials
    from equipoise.services.users import add_user, list_users

    url = db or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{(data_dir / 'equipoise.sqlite3').resolve()}"
    database = open_database(url, create=True)
    url = database.url
    operator = system_principal("make run")
    trials = {t.id for t in list_trials(database, operator)}
    trial_id = next(iter(sorted(trials)), None)
    if not trials:
        trial_id = create_trial_from_file(database, operator, protocol).id
    existing = {u.username for u in list_users(database, operator)}
    created = []
    for username, full_name, role, site in DEMO_USERS:
        if username in existing:
            continue
        grant = (Role(role), None if role == "admin" else trial_id, site)
        add_user(database, operator, username, full_name, DEMO_PASSWORD, roles=[grant])
        created.append((username, role, site))
    if created:
        # the passwords are printed once, when the users are made (a later run of the demo only names them)
        print_plain(f"Demo users created (one per role; password for each: {DEMO_PASSWORD}, printed only now):")
        for username, role, site in created:
            print_plain(f"  {username:<13} {role}" + (f" at {site}" if site else ""))
    if patients and trial_id is not None:
        summary = _populate(database, trial_id, patients, seed, as_of, effect)
        print_plain(str(summary))
    key_file = database.keys_for_writing().path
    database.dispose()
    base = f"http://{host}:{port}"
    password = DEMO_PASSWORD if created else "<password>"
    shown_password = (f"password for all: {DEMO_PASSWORD}" if created else
                      "their password was printed when the demo created them")
    print_plain(f"""Equipoise demo: trial {trial_id} ({protocol}) in {_shown(url)}

  Server:    {base}        API docs: {base}/docs        schema: {base}/openapi.json
  Users:     {', '.join(u[0] for u in DEMO_USERS)}  ({shown_password})
  Log in:    curl -s -X POST {base}/api/auth/login -H 'content-type: application/json' \\
               -d '{{"username": "coordinator", "password": "{password}"}}'
  Then send: -H 'Authorization: Bearer <token>' e.g. GET {base}/api/trials/{trial_id}
  Story:     equipoise demo story  (the seed story: why this trial, what its first interim look shows)
  Reports:   equipoise report dmc --trial {trial_id} --db {_shown(url)} --output dmc.html
             (also: report open, analyze protocol, analyze interim; each is an audited export)
  Audit key: {key_file}  (signs the audit trail and session tokens; docs/operations.md)
""")
    if not no_serve:
        run_server(url, host, port, 1)


# `equipoise demo` sets up and runs the demo; `equipoise demo story` tells the seed story.
demo_app = typer.Typer(rich_markup_mode=None)
demo_app.callback(invoke_without_command=True)(demo)
demo_app.command("story")(story)

"""The demo population on PostgreSQL: the same services fill it, and the audit trail, the allocations, the
analysis and the committee's report work on it as on SQLite."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from equipoise.cli.demo_population import DemoStaff, populate
from equipoise.cli.serve_commands import DEMO_PASSWORD, DEMO_USERS
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user
from equipoise.store.db import Database
from equipoise.store.migrate import upgrade
from tests.integration.conftest import TRIAL, cli
from tests.store.support import DEMO, PostgresSchemas, pg_schemas

__all__ = ["pg_schemas"]


@pytest.mark.postgres
def test_population_analysis_and_report_on_postgresql(pg_schemas: PostgresSchemas, tmp_path: Path):
    url = pg_schemas.new()
    database = Database(url)
    upgrade(database)
    operator = system_principal("test")
    create_trial_from_file(database, operator, DEMO)
    for username, name, role, site in DEMO_USERS:
        add_user(database, operator, username, name, DEMO_PASSWORD,
                 roles=[(Role(role), None if role == "admin" else TRIAL, site)])
    staff = DemoStaff({site: user for user, _n, role, site in DEMO_USERS if role == "site-coordinator" and site},
                      "investigator", "monitor", DEMO_PASSWORD)
    summary = populate(database, TRIAL, staff, patients=30, seed=5,
                       as_of=dt.datetime(2025, 3, 31, 20, tzinfo=dt.UTC))
    database.dispose()
    assert summary.randomized == 30
    assert summary.refused > 0
    assert summary.signatures == summary.unblindings == 1
    assert cli("audit", "verify", "--db", url).code == 0
    replay = cli("allocation", "replay", "--db", url)
    assert "every allocation identical" in replay.stdout
    analysed = cli("analyze", "protocol", "--trial", TRIAL, "--db", url, "--json")
    assert analysed.code == 0, analysed.stderr
    assert json.loads(analysed.stdout)["n"] == 30
    report = cli("report", "dmc", "--trial", TRIAL, "--db", url, "--output", tmp_path / "dmc.html")
    assert report.code == 0, report.stderr
    assert "Randomised (n = 30)" in (tmp_path / "dmc.html").read_text()
    # the living evidence: the trial's day-28 mortality as a row of an evidence CSV, through an audited export
    evidence = tmp_path / "msc.csv"
    added = cli("evidence", "add-trial", "--trial", TRIAL, "--db", url, "--outcome", "death_day28", "--csv", evidence)
    assert added.code == 0, added.stderr
    with evidence.open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["study"] == TRIAL
    assert 0 < int(row["n_treatment"]) + int(row["n_control"]) <= 30

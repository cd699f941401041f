"""Building the demo trial through the services: the bulk path against the per-call path (issue 18).

``equipoise demo`` fills the demo trial with virtual patients through the server's own services
(``cli/demo_population.py``). The anchor is the per-call path, what every client of the server gets: each
service call in its own transaction with a durable commit, each saved form read back. The bulk path makes the
same calls in one held transaction committed every ``CHECKPOINT_EVERY`` calls (``store/held_transaction.py``),
without reading saved forms back; what is stored is the same. Both build the same population (same seed and
date) on fresh SQLite files in this process, one after the other, for each size in ``EQUIPOISE_DEMO_BUILD_SIZES``
(default ``120``); the result is CPU and wall milliseconds per patient and their ratios (above 1: the bulk path
is faster).

Run alone: ``python benchmarks/demo_build.py`` (prints the Markdown section).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from equipoise.cli.database_option import open_database
from equipoise.cli.demo_population import DemoStaff, populate
from equipoise.cli.serve_commands import DEMO_PASSWORD, DEMO_USERS
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
SEED = 20200316
AS_OF = dt.datetime(2020, 8, 31, 23, tzinfo=dt.UTC)


def _sizes() -> list[int]:
    return [int(s) for s in os.environ.get("EQUIPOISE_DEMO_BUILD_SIZES", "120").split(",") if s.strip()]


def build(n: int, *, bulk: bool) -> tuple[float, float, int]:
    """CPU seconds and wall seconds of populating ``n`` patients (the set-up is not counted), and the number of
    patients randomized."""
    with tempfile.TemporaryDirectory(prefix="demo-build-") as scratch:
        db = open_database(f"sqlite:///{scratch}/demo.sqlite3", create=True)
        operator = system_principal("benchmark")
        trial = create_trial_from_file(db, operator, PROTOCOL).id
        for username, name, role, site in DEMO_USERS:
            add_user(db, operator, username, name, DEMO_PASSWORD,
                     roles=[(Role(role), None if role == "admin" else trial, site)])
        staff = DemoStaff({site: user for user, _n, role, site in DEMO_USERS if role == "site-coordinator" and site},
                          investigator="investigator", monitor="monitor", password=DEMO_PASSWORD)
        cpu, wall = time.process_time(), time.perf_counter()
        summary = populate(db, trial, staff, patients=n, seed=SEED, as_of=AS_OF, bulk=bulk)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        db.dispose()
    return cpu, wall, summary.randomized


def run() -> str:
    lines = ["## Building the demo trial through the services (`equipoise demo`)", "",
             "Per patient (forms, queries and all), the per-call path (a commit and a read-back per call, as a "
             "server client gets) against the bulk path (one held transaction, a commit every 500 calls, no "
             "read-back); the same population, built one after the other in one process.", "",
             "| patients | per-call: CPU ms / wall ms per patient | bulk: CPU ms / wall ms per patient | "
             "ratio CPU | ratio wall |", "|---|---|---|---|---|"]
    for n in _sizes():
        anchor_cpu, anchor_wall, randomized = build(n, bulk=False)
        cpu, wall, again = build(n, bulk=True)
        if again != randomized:
            raise RuntimeError(f"the two paths randomized {randomized} and {again} patients")
        per = 1000 / randomized
        lines.append(f"| {randomized:,} | {anchor_cpu * per:.0f} / {anchor_wall * per:.0f} | {cpu * per:.0f} / "
                     f"{wall * per:.0f} | {anchor_cpu / cpu:.2f} | {anchor_wall / wall:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())

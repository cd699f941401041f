"""One migrated database, app and set of logged-in users per test module and backend; a fresh trial per test.

Seeding users (argon2 hashes) and logging them in costs seconds; doing it once per module and giving each test
its own copy of the demo trial (a new trial id, every user granted the same roles in it) keeps the tests
independent and the suite fast. Tests that tamper with the database use their own database instead.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from equipoise.exports import ExportService
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.server import create_app
from equipoise.server.form_routes import CrfServices
from equipoise.services.database_lock import DatabaseLockService
from equipoise.services.forms import FormService
from equipoise.services.further_randomization import FurtherRandomizationService
from equipoise.services.locks import LockService
from equipoise.services.off_study import OffStudyService
from equipoise.services.queries import QueryService
from equipoise.services.signatures import SignatureService
from equipoise.services.trials import create_trial
from equipoise.services.users import add_user, grant_role
from equipoise.store.db import Database
from equipoise.store.migrate import upgrade
from tests.server.conftest import USERS
from tests.store.support import DEMO, PASSWORD, PostgresSchemas, db, db_url, pg_schemas

__all__ = ["db", "db_url", "pg_schemas"]

DEMO_ID = "MSC-COVID-RCT"
_counter = itertools.count(1)


PUMCH = ZoneInfo("Asia/Shanghai")  # the demo site most tests enrol at


def site_date(when: dt.datetime | None = None, zone: ZoneInfo = PUMCH) -> dt.date:
    """The date at the site (PUMCH, UTC+8, unless ``zone``) at ``when`` (default: now): the date the server checks
    form dates against. From 16:00 to 24:00 UTC it is a day ahead of UTC's date, and a test that used UTC's
    date for "today" failed in those hours."""
    return (when or dt.datetime.now(dt.UTC)).astimezone(zone).date()


def demo_values(today: dt.date | None = None, **changes: object) -> dict[str, object]:
    """Enrolment values of an eligible patient whose symptoms began 3 days before ``today``."""
    day = today or site_date()
    values: dict[str, object] = {"age": 54, "sex": "female", "severity": "severe", "sars_cov_2_pcr": True,
                                 "symptom_onset": (day - dt.timedelta(days=3)).isoformat(), "who_baseline": 5,
                                 "pregnant": False, "malignancy": False, "consent": True}
    values.update(changes)
    return values


@dataclass
class Trial:
    """One test's own trial on the module's server."""

    world: World
    id: str

    @property
    def base(self) -> str:
        return f"/api/trials/{self.id}"

    def h(self, user: str, **extra: str) -> dict[str, str]:
        return self.world.headers(user, **extra)

    def get(self, path: str, user: str, **kw: Any) -> Any:
        return self.world.client.get(self.base + path, headers=self.h(user), **kw)

    def post(self, path: str, user: str, body: Any = None, **kw: Any) -> Any:
        return self.world.client.post(self.base + path, json=body, headers=self.h(user), **kw)

    def put(self, path: str, user: str, body: Any, **kw: Any) -> Any:
        return self.world.client.put(self.base + path, json=body, headers=self.h(user), **kw)

    def patch(self, path: str, user: str, body: Any, **kw: Any) -> Any:
        return self.world.client.patch(self.base + path, json=body, headers=self.h(user), **kw)

    def enrol(self, user: str = "coord", site: str = "pumch", today: dt.date | None = None, **changes: object) -> int:
        values = demo_values(today or self.world.today(), **changes)
        response = self.post("/patients", user, {"site_id": site, "values": values})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def randomize(self, pid: int, user: str = "coord") -> dict[str, Any]:
        response = self.world.client.post(f"{self.base}/patients/{pid}/randomize",
                                          headers=self.h(user, **{"Idempotency-Key": f"{self.id}-{pid}"}))
        assert response.status_code == 201, response.text
        return dict(response.json())

    def patient(self, user: str = "coord", site: str = "pumch") -> int:
        """An enrolled and randomized patient."""
        pid = self.enrol(user, site)
        self.randomize(pid, user)
        return pid

    def form(self, pid: int, form: str, visit: str) -> str:
        return f"/patients/{pid}/forms/{form}/{visit}"


@dataclass
class World:
    db: Database
    client: TestClient
    tokens: dict[str, str]
    crf: CrfServices
    clocks: list[Any] = field(default_factory=list)
    now: dt.datetime | None = None  # the clock set by ``at``, if any

    def today(self) -> dt.date:
        return site_date(self.now)

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def trial(self, protocol_text: str | None = None) -> Trial:
        trial_id = f"T{next(_counter):04d}"
        text = (protocol_text or DEMO.read_text()).replace(f"id: {DEMO_ID}\n", f"id: {trial_id}\n", 1)
        operator = system_principal("test")
        create_trial(self.db, operator, text, f"{trial_id}.yaml")
        for name, (role, site) in USERS.items():
            if role is not Role.ADMIN:
                grant_role(self.db, operator, name, role, trial_id, site)
        return Trial(self, trial_id)

    @contextmanager
    def at(self, when: dt.datetime) -> Iterator[None]:
        """Run as if the server's clock said ``when`` (enrolment, randomization and the form services)."""
        def clock() -> dt.datetime:
            return when

        saved = [(svc, svc.clock) for svc in self.clocks]
        for svc, _old in saved:
            svc.clock = clock
        self.now = when
        try:
            yield
        finally:
            self.now = None
            for svc, old in saved:
                svc.clock = old


def make_world(url: str) -> Iterator[World]:
    database = Database(url)
    upgrade(database)
    operator = system_principal("test")
    for name, (role, _site) in USERS.items():
        add_user(database, operator, name, f"{name.replace('_', ' ').title()} (full name)", PASSWORD,
                 roles=[(role, None, None)] if role is Role.ADMIN else [])
    app = create_app(database)
    core = app.state.services
    crf = CrfServices(FormService(database), QueryService(database), LockService(database),
                      SignatureService(database, core.auth), ExportService(database),
                      OffStudyService(database), DatabaseLockService(database, core.auth))
    app.state.crf_services = crf
    parts = FurtherRandomizationService(database)  # the part routes' service, so ``at`` moves its clock too
    app.state.further_randomization = parts
    with TestClient(app) as client:
        tokens = {}
        for name in USERS:
            response = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert response.status_code == 200, response.text
            tokens[name] = response.json()["token"]
        clocks = [core.patients, core.randomization, crf.forms, crf.queries, crf.locks, crf.signatures, crf.exports,
                  crf.off_study, parts]
        yield World(database, client, tokens, crf, clocks)
    database.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if request.param == "postgres":
        schemas: PostgresSchemas = request.getfixturevalue("pg_schemas")
        url = schemas.new()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('forms') / 'equipoise.sqlite3'}"
    yield from make_world(url)


@pytest.fixture
def trial(world: World) -> Trial:
    return world.trial()


def days_ago(n: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=n)

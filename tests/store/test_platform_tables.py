"""An adaptive analysis of a platform reads the server's data (an audited export), proposes the next allocation
table by the protocol's rules, and the table, published by the unblinded statistician, is exactly what the
server then allocates from; the allocations replay."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from equipoise.errors import InvalidError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal, system_principal
from equipoise.identity.roles import Role
from equipoise.services.forms import FormService
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.replay import replay_trial
from equipoise.services.trials import create_trial
from equipoise.services.unblinding import UnblindingService
from equipoise.services.users import add_user
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AuditEntry
from tests.conftest import EXAMPLES
from tests.store.support import PASSWORD

TRIAL = "COVID-ADAPTIVE-PLATFORM"
START = dt.date(2020, 4, 1)
# Day-28 WHO level by arm: dexamethasone patients do better, so the table leans towards it.
WHO = {"usual_care": [2, 4, 6, 10, 10], "msc": [2, 4, 6, 9, 10], "tocilizumab": [2, 3, 6, 8, 10],
       "dexamethasone": [2, 2, 2, 3, 5]}


class Clock:
    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def users(db: Database) -> tuple[Principal, Principal]:
    operator = system_principal("test")
    create_trial(db, operator, (EXAMPLES / "covid19-adaptive-platform.yaml").read_text(encoding="utf-8"),
                 "platform.yaml")
    add_user(db, operator, "coord", "Coordinator", PASSWORD, roles=[(Role.COORDINATOR, TRIAL, "pumch")])
    add_user(db, operator, "stat", "Unblinded statistician", PASSWORD,
             roles=[(Role.UNBLINDED_STATISTICIAN, TRIAL, None)])
    auth = AuthService(db)
    return (auth.authenticate(auth.login("coord", PASSWORD).token),
            auth.authenticate(auth.login("stat", PASSWORD).token))


def randomize(db: Database, clock: Clock, who: Principal, key: str) -> tuple[int, Allocation]:
    values = {"age": 61, "sex": "female", "who_baseline": 5, "sars_cov_2": True, "malignancy": False,
              "consent": True}
    patient = PatientService(db, clock).enrol(who, TRIAL, "pumch", values)
    view = RandomizationService(db, clock).randomize(who, TRIAL, patient.id, key)
    with db.read() as s:
        return patient.id, s.get_one(Allocation, view.allocation_id)


def test_the_proposed_table_is_what_the_server_allocates_from(db_url: str, run_cli):
    db = Database(db_url)
    coord, stat = users(db)
    clock = Clock(START)
    made = [randomize(db, clock, coord, f"k{i}") for i in range(48)]
    assert {a.diagnostics["phase"] for _, a in made} == {"no-table"}  # equal weights until a table is published
    clock.set(START + dt.timedelta(days=30))
    seen: dict[str, int] = {}
    forms = FormService(db, clock)
    for pid, allocation in made:
        i = seen.get(allocation.arm, 0)
        seen[allocation.arm] = i + 1
        level = WHO[allocation.arm][i % 5]
        forms.save(coord, TRIAL, pid, "day28", "day28",
                   {"assessment_date": (START + dt.timedelta(days=28)).isoformat(), "who_score": level,
                    "died": level == 10})
    result = run_cli("analyze", "platform", "--trial", TRIAL, "--db", db_url, "--on", clock.now.date().isoformat(),
                     "--json")
    assert result.code == 0, result.stderr
    analysis = json.loads(result.stdout)
    table = analysis["proposed_table"]
    assert analysis["publishable"]
    assert set(table) == {"usual_care", "msc", "tocilizumab", "dexamethasone"}
    assert sum(table.values()) == pytest.approx(1)
    assert table["usual_care"] == pytest.approx(3 ** 0.5 / (3 ** 0.5 + 3))  # square-root rule, 3 therapies
    assert table["dexamethasone"] == max(table[a] for a in ("msc", "tocilizumab", "dexamethasone"))
    primary = {a["arm"]: a for a in analysis["primary"]["arms"]}
    assert primary["dexamethasone"]["with_outcome"] == seen["dexamethasone"]
    assert primary["dexamethasone"]["p_better"] > 0.9
    assert {a["decision"] for a in primary.values()} == {"control", "continue"}  # below 100 patients per arm
    assert [s["outcome"] for s in analysis["secondary"]] == ["death_day28"]
    with db.read() as s:  # reading the data was an audited, unblinded export with its purpose
        last = s.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id.desc())
                         ).first()
    assert last is not None
    assert last.reason == "csv export for an adaptive analysis of the platform"
    service = UnblindingService(db, AuthService(db), clock)
    with pytest.raises(InvalidError):  # the server re-checks what it is given
        service.publish_table(stat, TRIAL, {**table, "msc": 0.0, "usual_care": table["usual_care"] + table["msc"]},
                              "adaptive analysis 1", PASSWORD)
    published = service.publish_table(stat, TRIAL, table, "adaptive analysis 1", PASSWORD)
    assert published["version"] == 1
    after = [randomize(db, clock, coord, f"n{i}")[1] for i in range(6)]
    for allocation in after:
        assert allocation.adaptive_table_version == 1
        assert allocation.request["adaptive_probabilities"] == pytest.approx(table)
        assert allocation.diagnostics["phase"] == "adaptive"
        assert allocation.diagnostics["probabilities"] == pytest.approx(table, abs=1e-9)
    assert replay_trial(db, TRIAL).identical
    db.dispose()

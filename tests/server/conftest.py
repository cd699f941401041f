"""An in-process app over a fresh database, with the demo trial and one user per role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.server import create_app
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user
from equipoise.store.db import Database
from tests.store.support import DEMO, PASSWORD, db, db_url, pg_schemas

__all__ = ["db", "db_url", "pg_schemas"]

TRIAL = "MSC-COVID-RCT"
USERS = {
    "admin": (Role.ADMIN, None),
    "coord": (Role.COORDINATOR, "pumch"),
    "coord_milan": (Role.COORDINATOR, "milan-sacco"),
    "investigator": (Role.INVESTIGATOR, "pumch"),
    "monitor": (Role.MONITOR, None),
    "blinded_stat": (Role.BLINDED_STATISTICIAN, None),
    "unblinded_stat": (Role.UNBLINDED_STATISTICIAN, None),
    "dmc": (Role.DMC, None),
    "pv": (Role.PHARMACOVIGILANCE, None),
}



def eligible(**changes: object) -> dict[str, object]:
    """Enrolment values of an eligible patient of the demo trial (symptoms began 3 days ago)."""
    onset = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    values: dict[str, object] = {"age": 54, "sex": "female", "severity": "severe", "sars_cov_2_pcr": True,
                                 "symptom_onset": onset, "who_baseline": 5, "pregnant": False,
                                 "malignancy": False, "consent": True}
    values.update(changes)
    return values


@dataclass
class Api:
    client: TestClient
    db: Database
    tokens: dict[str, str]

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}


def seed(database: Database) -> None:
    operator = system_principal("test")
    create_trial_from_file(database, operator, DEMO)
    for name, (role, site) in USERS.items():
        add_user(database, operator, name, name.title(), PASSWORD,
                 roles=[(role, None if role is Role.ADMIN else TRIAL, site)])


@pytest.fixture
def api(db: Database) -> Iterator[Api]:
    seed(db)
    with TestClient(create_app(db)) as client:
        tokens = {}
        for name in USERS:
            response = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert response.status_code == 200, response.text
            tokens[name] = response.json()["token"]
        yield Api(client, db, tokens)

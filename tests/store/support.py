"""Databases for the trial-server tests: a fresh migrated SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from equipoise.store.db import Database
from equipoise.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "covid19-msc-rct.yaml"
PLATFORM = ROOT / "examples" / "covid19-platform.yaml"
PASSWORD = "correct horse battery"


def plain_pg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class PostgresSchemas:
    """Fresh schemas in the ``test`` database, dropped at the end of the session (tests clean up)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    def new(self) -> str:
        name = f"eqp_{secrets.token_hex(6)}"
        with psycopg.connect(plain_pg_url(self.url), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        self.created.append(name)
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{name}"

    def drop_all(self) -> None:
        with psycopg.connect(plain_pg_url(self.url), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(scope="session")
def pg_schemas(postgres_url: str) -> Iterator[PostgresSchemas]:
    schemas = PostgresSchemas(postgres_url)
    yield schemas
    schemas.drop_all()


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        schemas: PostgresSchemas = request.getfixturevalue("pg_schemas")
        return schemas.new()
    return f"sqlite:///{tmp_path / 'equipoise.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty, migrated database URL: every test runs on SQLite and on PostgreSQL."""
    url = database_url(request, tmp_path)
    database = Database(url)
    upgrade(database)
    database.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()

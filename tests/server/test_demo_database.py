"""``equipoise demo`` sets up its trial in the database named by ``--db`` or ``$EQUIPOISE_DATABASE_URL``
(PostgreSQL too), and in its own SQLite file only when neither names one (issue 18)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from equipoise.store.db import DATABASE_URL_ENV
from tests.conftest import CliResult
from tests.store.support import DEMO


def _roles(run_cli: Callable[..., CliResult], url: str) -> set[str]:
    users = json.loads(run_cli("user", "list", "--db", url, "--json").stdout)
    return {r["role"] for u in users for r in u["roles"]}


def test_demo_fills_the_database_of_db_option(run_cli: Callable[..., CliResult], db_url: str,
                                              tmp_path: Path) -> None:
    result = run_cli("demo", "--no-serve", "--db", db_url, "--data-dir", tmp_path / "unused", "--protocol", DEMO,
                     "--patients", "3", "--seed", "7")
    assert result.code == 0, result.stderr
    assert not (tmp_path / "unused" / "equipoise.sqlite3").exists()
    trials = json.loads(run_cli("trial", "list", "--db", db_url, "--json").stdout)
    assert len(trials) == 1
    assert "dmc" in _roles(run_cli, db_url)
    assert run_cli("audit", "verify", "--db", db_url).code == 0
    again = run_cli("demo", "--no-serve", "--db", db_url, "--protocol", DEMO, "--patients", "3")
    assert again.code == 0, again.stderr


def test_demo_fills_the_database_of_the_environment(run_cli: Callable[..., CliResult], db_url: str,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, db_url)
    result = run_cli("demo", "--no-serve", "--data-dir", tmp_path / "unused", "--protocol", DEMO, "--patients", "0")
    assert result.code == 0, result.stderr
    assert not (tmp_path / "unused").exists()
    assert "admin" in _roles(run_cli, db_url)
    if db_url.startswith("postgresql"):
        assert "@" not in result.stdout.split("Server:")[0]  # no user or password printed

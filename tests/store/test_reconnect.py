"""A PostgreSQL connection that dies in the pool (server restart, dropped idle connection) is recovered.

The pool pings a connection only after it has been idle (``db._ping_when_idle``); these tests kill the real
backend with ``pg_terminate_backend``, as a restart would.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from equipoise.store import db as db_module
from equipoise.store.db import Database
from tests.store.support import PostgresSchemas, plain_pg_url

pytestmark = pytest.mark.postgres


def _backend_pid(database: Database) -> int:
    with database.read() as s:
        return int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(plain_pg_url(url), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def pg_db(pg_schemas: PostgresSchemas) -> Iterator[Database]:
    database = Database(pg_schemas.new(), pool_size=1)
    yield database
    database.dispose()


def test_an_idle_connection_killed_in_the_pool_is_replaced_before_use(pg_db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch):
    pid = _backend_pid(pg_db)
    _terminate(pg_db.url, pid)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", -1.0)  # as if it had been idle for long
    assert _backend_pid(pg_db) != pid


def test_a_connection_killed_while_in_use_fails_one_transaction_then_the_pool_recovers(pg_db: Database):
    pid = _backend_pid(pg_db)
    _terminate(pg_db.url, pid)
    with pytest.raises(OperationalError):
        _backend_pid(pg_db)  # just used: not pinged, so the dead connection fails this transaction
    assert _backend_pid(pg_db) != pid

"""A held transaction (``store.held_transaction``, ``Database.held_transaction``): this thread's reads see its
writes before any commit, a failing write loses only its own work, a checkpoint commits, an error in the block
rolls back to the last checkpoint, and the audit chain verifies afterwards. Real SQLite file, real audit chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from equipoise.integrity.audit_verify import verify
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.migrate import upgrade
from equipoise.store.models import AuditEntry


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'held.sqlite3'}")
    upgrade(database)
    yield database
    database.dispose()


def events(db: Database) -> list[str]:
    with db.read() as s:
        return sorted(e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("test.%"))))


def write_event(db: Database, name: str, fail: bool = False) -> None:
    with db.write(AuditContext(actor=name)) as s:
        record_event(s, f"test.{name}")
        s.flush()
        if fail:
            raise ValueError(f"{name} fails after writing")


def committed(db: Database) -> list[str]:
    """What another thread sees (its own connection: only committed work)."""
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.extend(events(db)))
    thread.start()
    thread.join()
    return seen


def test_reads_see_the_writes_before_and_commits_happen_at_checkpoints(sqlite_db: Database) -> None:
    commits = [0]

    @event.listens_for(sqlite_db.write_engine, "commit")
    def _count(_conn: object) -> None:
        commits[0] += 1

    with sqlite_db.held_transaction() as held:
        write_event(sqlite_db, "a")
        write_event(sqlite_db, "b")
        assert events(sqlite_db) == ["test.a", "test.b"]  # this thread reads its own uncommitted writes
        assert committed(sqlite_db) == []
        with pytest.raises(ValueError, match="fails"):
            write_event(sqlite_db, "c", fail=True)
        assert events(sqlite_db) == ["test.a", "test.b"]  # the failed write rolled back alone
        held.checkpoint()
        assert committed(sqlite_db) == ["test.a", "test.b"]
        write_event(sqlite_db, "d")
    assert commits[0] == 2
    assert held.commits == 2
    assert events(sqlite_db) == ["test.a", "test.b", "test.d"]
    assert verify(sqlite_db).ok


def _kept_then_lost(db: Database) -> None:
    with db.held_transaction() as held:
        write_event(db, "kept")
        held.checkpoint()
        write_event(db, "lost")
        raise RuntimeError("stop")


def test_an_error_in_the_block_rolls_back_to_the_last_checkpoint(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError, match="stop"):
        _kept_then_lost(sqlite_db)
    assert events(sqlite_db) == ["test.kept"]
    write_event(sqlite_db, "after")  # the database is usable again, outside any held transaction
    assert events(sqlite_db) == ["test.after", "test.kept"]
    assert verify(sqlite_db).ok


def test_one_held_transaction_per_thread(sqlite_db: Database) -> None:
    with sqlite_db.held_transaction(), pytest.raises(RuntimeError, match="already open"), \
            sqlite_db.held_transaction():
        pass

"""Group commit on SQLite (``store.group_commit``): writers that queue share one transaction and one fsync,
each in its own savepoint; a failing writer loses only its own work; a failed commit loses the whole batch and
tells every writer; nobody returns before the commit.

Real threads, a real SQLite file and the real audit chain; the engine's own ``commit`` event counts commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from equipoise.integrity.audit_verify import verify
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.migrate import upgrade
from equipoise.store.models import AuditEntry


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'group.sqlite3'}")
    upgrade(database)
    yield database
    database.dispose()


def commits(db: Database) -> list[int]:
    counter = [0]

    @event.listens_for(db.write_engine, "commit")
    def _count(_conn: object) -> None:
        counter[0] += 1

    return counter


def events(db: Database) -> list[str]:
    with db.read() as s:
        return sorted(e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("test.%"))))


def write_event(db: Database, name: str, fail: bool = False) -> None:
    with db.write(AuditContext(actor=name)) as s:
        record_event(s, f"test.{name}")
        s.flush()
        if fail:
            raise ValueError(f"{name} fails after writing")


def run_batch(db: Database, first: Callable[[threading.Event, threading.Event], None],
              others: dict[str, Callable[[], None]]) -> dict[str, BaseException | None]:
    """``first`` holds the turn (it sets ``inside``, then waits for ``release``) until every one of ``others``
    waits for it, so all of them join its batch."""
    inside, release = threading.Event(), threading.Event()
    outcome: dict[str, BaseException | None] = {}

    def run(name: str, work: Callable[[], None]) -> None:
        try:
            work()
            outcome[name] = None
        except BaseException as error:
            outcome[name] = error

    group = db.group_commit
    assert group is not None
    holder = threading.Thread(target=run, args=("first", lambda: first(inside, release)))
    holder.start()
    assert inside.wait(30)
    threads = [threading.Thread(target=run, args=(name, work)) for name, work in others.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while group.waiting < len(others) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert group.waiting == len(others)
    release.set()
    for thread in [holder, *threads]:
        thread.join(30)
    return outcome


def slow_writer(db: Database, name: str) -> Callable[[threading.Event, threading.Event], None]:
    def work(inside: threading.Event, release: threading.Event) -> None:
        with db.write(AuditContext(actor=name)) as s:
            record_event(s, f"test.{name}")
            s.flush()
            inside.set()
            assert release.wait(30)
    return work


def test_queued_writers_share_one_commit_and_the_chain_stays_whole(sqlite_db: Database):
    counter = commits(sqlite_db)
    others: dict[str, Callable[[], None]] = {f"w{i}": partial(write_event, sqlite_db, f"w{i}") for i in range(8)}
    outcome = run_batch(sqlite_db, slow_writer(sqlite_db, "first"), others)
    assert outcome == dict.fromkeys(["first", *others])
    assert counter[0] == 1  # nine writers, one transaction, one fsync
    assert events(sqlite_db) == sorted(f"test.{n}" for n in ["first", *others])
    assert verify(sqlite_db).ok


def test_a_failing_writer_loses_only_its_own_work(sqlite_db: Database):
    others: dict[str, Callable[[], None]] = {
        "ok1": lambda: write_event(sqlite_db, "ok1"),
        "bad": lambda: write_event(sqlite_db, "bad", fail=True),
        "ok2": lambda: write_event(sqlite_db, "ok2"),
    }
    outcome = run_batch(sqlite_db, slow_writer(sqlite_db, "first"), others)
    assert isinstance(outcome["bad"], ValueError)
    assert [outcome[n] for n in ("first", "ok1", "ok2")] == [None, None, None]
    assert events(sqlite_db) == ["test.first", "test.ok1", "test.ok2"]
    assert verify(sqlite_db).ok


def test_a_failed_commit_fails_every_writer_of_the_batch_and_writes_nothing(sqlite_db: Database):
    def first(inside: threading.Event, release: threading.Event) -> None:
        with sqlite_db.write(AuditContext(actor="first")) as s:
            record_event(s, "test.first")
            # A foreign key checked only at COMMIT (deferred), pointing nowhere: the batch's commit must fail.
            s.connection().execute(text("PRAGMA defer_foreign_keys = ON"))
            s.connection().execute(text(
                "INSERT INTO memberships (user_id, trial_id, role, site_id, active, created_at) "
                "VALUES (999999, NULL, 'monitor', NULL, 1, '2020-01-01 00:00:00')"))
            inside.set()
            assert release.wait(30)

    others: dict[str, Callable[[], None]] = {f"w{i}": partial(write_event, sqlite_db, f"w{i}") for i in range(3)}
    outcome = run_batch(sqlite_db, first, others)
    assert all(isinstance(error, IntegrityError) for error in outcome.values()), outcome
    assert events(sqlite_db) == []
    with sqlite_db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
    write_event(sqlite_db, "after")  # the next batch starts clean
    assert events(sqlite_db) == ["test.after"]
    assert verify(sqlite_db).ok


def test_a_writer_returns_only_after_its_batch_is_committed(sqlite_db: Database):
    seen: dict[str, list[str]] = {}

    def then_read(name: str) -> Callable[[], None]:
        def work() -> None:
            write_event(sqlite_db, name)
            seen[name] = events(sqlite_db)  # another connection: only committed data
        return work

    outcome = run_batch(sqlite_db, slow_writer(sqlite_db, "first"), {"a": then_read("a"), "b": then_read("b")})
    assert set(outcome.values()) == {None}
    assert seen["a"] == seen["b"] == ["test.a", "test.b", "test.first"]

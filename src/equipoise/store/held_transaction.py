"""One transaction held open over many service calls, for bulk work by one thread (the demo's virtual trial).

Each service call opens its own read and write transactions: a form save reads the patient, then writes in a
transaction of its own, then returns once its ``COMMIT`` is on disk. Bulk work that makes thousands of such
calls in a row (``equipoise demo`` building a trial of 40,000 patients) pays a durable commit and fresh
connections per call. While a ``HeldTransaction`` is open, the calls of the thread that opened it run in one
write transaction instead: each write in a SAVEPOINT of it (so a write that fails rolls back alone, and its
audit entries are sealed into the chain when its savepoint is released, exactly as under group commit), each
read in the same transaction (so it sees the writes before it). ``checkpoint()`` commits what is done so far and
begins again; leaving the block commits, or rolls back everything since the last checkpoint on an error. What is
stored is the same as without it; only the number of commits changes.

Other threads are not affected: they use the database as usual (and, on SQLite, wait for the write lock the held
transaction keeps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.orm import Session

from equipoise.store.audit import AuditContext, set_context


class HeldTransaction:
    """A write transaction on one connection, shared by the reads and writes of the thread that opened it."""

    def __init__(self, connect: Callable[[], Connection], write_lock: Callable[[], AbstractContextManager[None]]
                 ) -> None:
        self._connect = connect
        self._write_lock = write_lock
        self.owner = threading.get_ident()
        self.commits = 0
        self._lock: AbstractContextManager[None] | None = None
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None

    def begin(self) -> None:
        lock = self._write_lock()
        lock.__enter__()
        try:
            connection = self._connect()
            self._transaction = connection.begin()  # BEGIN IMMEDIATE on SQLite (the engine's "begin" event)
        except BaseException as error:
            lock.__exit__(type(error), error, error.__traceback__)
            raise
        self._lock, self._connection = lock, connection

    def end(self, commit: bool) -> None:
        """Commit (or roll back) and give back the connection and the write lock."""
        transaction, connection, lock = self._transaction, self._connection, self._lock
        self._transaction = self._connection = self._lock = None
        try:
            if transaction is not None:
                if commit:
                    transaction.commit()
                    self.commits += 1
                else:
                    transaction.rollback()
        finally:
            if connection is not None:
                connection.close()
            if lock is not None:
                lock.__exit__(None, None, None)

    def checkpoint(self) -> None:
        """Make what is done so far durable, and go on in a new transaction."""
        self.end(commit=True)
        self.begin()

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the held transaction is not open")
        return self._connection

    @contextmanager
    def write(self, context: AuditContext) -> Iterator[Session]:
        session = Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        set_context(session, context)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        # joins the transaction without committing or rolling it back (a read leaves nothing to commit)
        session = Session(bind=self.connection, join_transaction_mode="conditional_savepoint",
                          expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()

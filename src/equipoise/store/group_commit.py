"""Group commit for SQLite: concurrent write transactions of one process share one ``BEGIN IMMEDIATE`` and
one durable ``COMMIT``.

SQLite lets one writer in at a time, and each commit at ``synchronous=FULL`` waits for the disk. Under load the
write lock, not the CPU, decided the rate: every transaction held it for its statements and then for its own
fsync. Here the first writer of a process opens a *batch*: it takes the cross-process write lock and begins the
transaction. Each writer, in turn, runs its work in a SAVEPOINT of that transaction through its own Session
(SQLAlchemy's "joining a Session into an external transaction", ``join_transaction_mode="create_savepoint"``),
so a writer whose work fails rolls back to its savepoint and leaves the others' work alone. Its audit entries are
sealed into the chain when its savepoint is released, in turn, so the chain is the same as without batching.
The writer that finds nobody waiting commits the batch; every writer returns only after that commit, so a
client is never answered before its change is on disk (and if the commit fails, every writer in the batch gets
the error and nothing of the batch is written).

This is the classic group commit of database servers (Gray & Reuter, *Transaction Processing*, 1993, §9.4.7);
SQLite has none of its own, and PostgreSQL does it itself, so only SQLite uses this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.orm import Session

from equipoise.store.audit import AuditContext, set_context

MAX_BATCH = 64  # writers per batch: bounds how long one batch keeps other processes from writing


@dataclass
class _Batch:
    lock: AbstractContextManager[None]
    connection: Connection
    transaction: RootTransaction
    writers: int = 0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class GroupCommit:
    """The write transactions of one process (one ``Database``) on one SQLite file."""

    def __init__(self, connect: Callable[[], Connection], write_lock: Callable[[], AbstractContextManager[None]]
                 ) -> None:
        self._connect = connect
        self._write_lock = write_lock
        self._turn = threading.Lock()  # one writer at a time runs its work in the open batch
        self._state = threading.Lock()  # guards _waiting
        self._waiting = 0
        self._batch: _Batch | None = None

    @property
    def waiting(self) -> int:
        """Writers of this process waiting for their turn (they will join the open batch, if there is one)."""
        with self._state:
            return self._waiting

    @contextmanager
    def write(self, context: AuditContext) -> Iterator[Session]:
        with self._state:
            self._waiting += 1
        self._turn.acquire()
        with self._state:
            self._waiting -= 1
        try:
            batch = self._batch or self._open()
            session = Session(bind=batch.connection, join_transaction_mode="create_savepoint",
                              expire_on_commit=False)
            set_context(session, context)
            try:
                with session.begin():
                    yield session
            finally:
                session.close()
            batch.writers += 1
            succeeded = True
        except BaseException:
            succeeded = False
            raise
        finally:
            # Whether this writer's work succeeded or not, the batch goes on or is committed: the last writer
            # commits the work of everyone before it.
            self._hand_over_or_commit()
            if succeeded:
                batch.done.wait()
                if batch.error is not None:
                    raise batch.error

    def _open(self) -> _Batch:
        lock = self._write_lock()
        lock.__enter__()
        try:
            connection = self._connect()
            transaction = connection.begin()  # BEGIN IMMEDIATE (the engine's "begin" event)
        except BaseException as error:
            lock.__exit__(type(error), error, error.__traceback__)
            raise
        self._batch = _Batch(lock, connection, transaction)
        return self._batch

    def _hand_over_or_commit(self) -> None:
        """Let the next waiting writer into the open batch, or commit it if nobody waits (or it is full).

        Called by the writer that holds the turn.
        """
        batch = self._batch
        with self._state:
            others = self._waiting > 0
        if batch is not None and others and batch.writers < MAX_BATCH:
            self._turn.release()
            return
        try:
            if batch is not None:
                self._batch = None
                try:
                    if batch.writers:
                        batch.transaction.commit()
                    else:
                        batch.transaction.rollback()
                except BaseException as error:  # every writer of the batch gets it
                    batch.error = error
                    # SQLite keeps the transaction open after a failed COMMIT: close the connection for good
                    # (which rolls it back) rather than return it to the pool inside that transaction.
                    batch.connection.invalidate()
                finally:
                    batch.connection.close()
                    batch.lock.__exit__(None, None, None)
                    batch.done.set()
        finally:
            self._turn.release()

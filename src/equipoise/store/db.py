"""Database connections: SQLite (embedded default) or PostgreSQL, and transactions that are safe with
several server processes.

Concurrency comes from the database, never from an in-process lock: on PostgreSQL, write transactions take
row locks (``SELECT ... FOR UPDATE``); on SQLite, every write transaction starts with ``BEGIN IMMEDIATE``
(one writer at a time, across processes) in WAL mode, and readers use plain deferred transactions. On a
SQLite file the writers of one process take turns inside one shared transaction (``group_commit``): that turn
only groups them, the safety still comes from ``BEGIN IMMEDIATE`` and the constraints.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: SQLite's own busy handler alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from equipoise.errors import UserError
from equipoise.store.audit import KEYS, AuditContext, set_context
from equipoise.store.audit_keys import AuditKeys, key_file_path, keys_for_writing, load_keys
from equipoise.store.group_commit import GroupCommit
from equipoise.store.held_transaction import HeldTransaction

DATABASE_URL_ENV = "EQUIPOISE_DATABASE_URL"
DATA_DIR_ENV = "EQUIPOISE_DATA_DIR"
# A pooled PostgreSQL connection idle for longer than this is pinged before use (see ``_ping_when_idle``).
PING_AFTER_IDLE_SECONDS = 5.0


def data_directory() -> Path:
    """Where the embedded database lives: $EQUIPOISE_DATA_DIR, else ~/.local/share/equipoise."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "equipoise"


def default_database_url() -> str:
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{data_directory() / 'equipoise.sqlite3'}"


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and a bare SQLite file path; use psycopg 3 for PostgreSQL."""
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it has been idle for a while.

    ``pool_pre_ping`` pings on every checkout: one extra round trip per transaction, four per patient on the
    enrol and randomize path. A connection in steady use has just proved itself alive, so only one idle for
    more than ``PING_AFTER_IDLE_SECONDS`` is pinged (a PostgreSQL restart, a firewall dropping idle
    connections). A connection that fails the ping is replaced: raising ``DisconnectionError`` in ``checkout``
    makes the pool discard it and check out another (SQLAlchemy, "Disconnect Handling - Pessimistic", custom
    recipe). A restart within the idle window surfaces on the first statement instead; SQLAlchemy then
    invalidates the whole pool, so one transaction fails and is rolled back (never retried here: the client's
    retry with the same idempotency key is safe), and the next gets fresh connections.
    """

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _used(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("last_used", 0.0) <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


WRITER_SETTING = "equipoise.writer"
SQLITE_WRITER_FUNCTION = "only_equipoise_writes_these_tables"


def _one() -> int:
    return 1


def _mark_as_writer(engine: Engine) -> None:
    """PostgreSQL: say on each new connection that it is Equipoise's, which the tables' triggers require of every
    write (migration 0015, AUD-2). Once per connection, in autocommit so no rollback undoes it."""

    @event.listens_for(engine, "connect")
    def _writer(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        try:
            dbapi_conn.execute(f"SET {WRITER_SETTING} = 'on'")
        finally:
            dbapi_conn.autocommit = autocommit


class Database:
    """One database: a write engine and a read engine sharing its URL."""

    def __init__(self, url: str | None = None, *, pool_size: int = 5, max_overflow: int | None = None,
                 audit_key_file: Path | None = None) -> None:
        """``pool_size``: connections kept open per engine, at least the threads that use it at once. A pool
        smaller than that closes every connection beyond it when it is returned and opens a new one for the
        next request (QueuePool overflow): a new PostgreSQL backend, or a new SQLite connection with its
        PRAGMAs, per request. ``max_overflow`` (default: ``pool_size``) bounds the connections opened beyond
        it: each server process may hold ``pool_size + max_overflow`` PostgreSQL connections, and all of them
        together must stay under the server's ``max_connections`` (100 by default). ``audit_key_file``: the key
        file that signs the audit trail and session tokens (default: ``audit_keys.key_file_path()``)."""
        overflow = pool_size if max_overflow is None else max_overflow
        self.url = normalize_url(url or default_database_url())
        try:
            parsed = make_url(self.url)
        except Exception:
            raise UserError(f"not a database URL: {self.url!r}") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise UserError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL (postgresql+psycopg://)")
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._lock_path = f"{database}.writelock" if database and database != ":memory:" and fcntl else None
            self.write_engine = self._sqlite_engine(immediate=True, pool_size=pool_size, max_overflow=overflow)
            self.read_engine = self._sqlite_engine(immediate=False, pool_size=pool_size, max_overflow=overflow)
            self._lookup_engine = self.read_engine
        else:
            self._lock_path = None
            self.write_engine = create_engine(self.url, pool_size=pool_size, max_overflow=overflow)
            _ping_when_idle(self.write_engine)
            _mark_as_writer(self.write_engine)
            self.read_engine = self.write_engine
            self._lookup_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        self.audit_key_file = audit_key_file or key_file_path()
        self._audit_keys: AuditKeys | None = None

        @event.listens_for(self.write_engine, "connect")
        def _keys(_dbapi_conn: Any, record: Any) -> None:
            # Every session writing through this engine (this class's, group commit's) finds the keys that sign its
            # audit entries on its connection (``audit._seal``); read from the file at the first write only.
            record.info[KEYS] = self.keys_for_writing

        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        # SQLite files: concurrent writers of this process share transactions and fsyncs (group_commit).
        self.group_commit = (GroupCommit(self.write_engine.connect, self._writer_turn)
                             if self.dialect == "sqlite" and self._lock_path is not None else None)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)
        self._held = threading.local()  # this thread's HeldTransaction, while ``held_transaction`` is open

    def _held_here(self) -> HeldTransaction | None:
        held: HeldTransaction | None = getattr(self._held, "transaction", None)
        return held

    @contextmanager
    def held_transaction(self) -> Iterator[HeldTransaction]:
        """Bulk work by this thread in one write transaction (``held_transaction.py``): every ``write``, ``read``
        and ``lookup`` of this thread runs in it until the block ends (commit) or raises (roll back to the last
        ``checkpoint()``)."""
        if self._held_here() is not None:
            raise RuntimeError("a held transaction is already open in this thread")
        held = HeldTransaction(self.write_engine.connect, self._writer_turn)
        held.begin()
        self._held.transaction = held
        try:
            yield held
        except BaseException:
            self._held.transaction = None
            held.end(commit=False)
            raise
        self._held.transaction = None
        held.end(commit=True)

    def _sqlite_engine(self, *, immediate: bool, pool_size: int, max_overflow: int) -> Engine:
        engine = create_engine(self.url, connect_args={"timeout": 60, "check_same_thread": False},
                               pool_size=pool_size, max_overflow=max_overflow)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: object) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is DEFERRED).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()
            # The tables' triggers call it (migration 0017, AUD-2): another program's connection lacks it, so its
            # writes fail ("no such function: only_equipoise_writes_these_tables").
            dbapi_conn.create_function(SQLITE_WRITER_FUNCTION, 0, _one, deterministic=True)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def write(self, context: AuditContext | None = None) -> Iterator[Session]:
        """A write transaction: commits (with its audit entries) on success, rolls back on any error.

        It returns only once the change is durable. On a SQLite file it may share its transaction (and fsync)
        with other writers of this process, each in its own savepoint (``group_commit``). Inside this thread's
        ``held_transaction`` it is a savepoint of that transaction, durable at its next checkpoint.
        """
        held = self._held_here()
        if held is not None:
            with held.write(context or AuditContext()) as session:
                yield session
            return
        if self.group_commit is not None:
            with self.group_commit.write(context or AuditContext()) as session:
                yield session
            return
        with self._writer_turn(), self._writer() as session:
            set_context(session, context or AuditContext())
            with session.begin():
                yield session

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On SQLite, queue writers on a kernel file lock before ``BEGIN IMMEDIATE``.

        Correctness does not depend on it (``BEGIN IMMEDIATE`` still serializes writers), but SQLite's busy
        handler makes a waiting writer sleep in growing steps (up to 100 ms) even after the lock is free, so
        under load most of the time is spent asleep and a few writers starve (p99 of seconds). ``flock`` wakes
        the next writer, in any process, the moment the previous one commits. Each acquisition opens the file
        anew: flock locks belong to an open file description, so threads must not share one.
        """
        if self._lock_path is None:
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    @contextmanager
    def read(self) -> Iterator[Session]:
        held = self._held_here()
        if held is not None:
            with held.read() as session:
                yield session
            return
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def lookup(self) -> Iterator[Connection]:
        """A connection for reads that need no shared snapshot (each statement stands alone), for the hot path.

        On PostgreSQL it runs in autocommit: no BEGIN and no COMMIT, two round trips fewer than ``read`` per
        request. Reads in ``read`` run at READ COMMITTED, where every statement takes its own snapshot anyway,
        so what a lookup sees is what the same statements would see in a transaction. Not for server-side
        cursors (``yield_per``), which need a transaction. On SQLite it is a plain deferred read transaction.
        Inside this thread's ``held_transaction``, it is that transaction's connection.
        """
        held = self._held_here()
        if held is not None:
            yield held.connection
            return
        with self._lookup_engine.connect() as conn:
            if self.dialect == "sqlite":
                with conn.begin():
                    yield conn
            else:
                yield conn

    def keys_for_writing(self) -> AuditKeys:
        """The keys that sign new audit entries and tokens: read once, the key file created at the first write."""
        if self._audit_keys is None:
            self._audit_keys = keys_for_writing(self.audit_key_file)
        return self._audit_keys

    def keys_if_present(self) -> AuditKeys | None:
        """The keys as the key file holds them now, or None without one (verification never creates a key)."""
        return load_keys(self.audit_key_file)

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

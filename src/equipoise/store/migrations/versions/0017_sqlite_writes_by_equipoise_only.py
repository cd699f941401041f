"""SQLite: every table refuses writes from connections that are not Equipoise's (AUD-2), as 0015 does on
PostgreSQL.

SQLite has no session settings, so the guard is a function: each table has BEFORE INSERT, UPDATE and DELETE
triggers that call ``only_equipoise_writes_these_tables()``, which ``Database`` registers on every connection it
opens (it returns 1, and the trigger lets the write through). Another program's connection (the sqlite3 shell, a
script) has no such function, so SQLite refuses its write with "no such function:
only_equipoise_writes_these_tables", and the name says why. Like 0015 it guards against mistakes and tools, not
against someone who drops the triggers first; the hash chain (``audit verify``) still shows what they changed.

SQLite drops a table's triggers when a migration rebuilds the table (Alembic's batch mode): a later revision that
rebuilds one creates its triggers again (tests/store/test_schema.py checks that every table has them).

Revision ID: 0017_sqlite_writer_only
Revises: 0016_blinded_parts
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = '0017_sqlite_writer_only'
down_revision = '0016_blinded_parts'
branch_labels = None
depends_on = None

TABLES = ("audit_head", "audit_log", "trials", "users", "adaptive_tables", "allocation_states", "auth_sessions",
          "memberships", "patients", "randomization_lists", "allocations", "discrepancies", "emergency_envelopes",
          "form_queries", "form_records", "notifications", "off_study", "part_allocations", "patient_locks",
          "randomization_list_entries", "unblinding_requests", "unblindings", "allocation_flags",
          "notification_deliveries", "signatures")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(f"CREATE TRIGGER {table}_writer_only_{operation.lower()} BEFORE {operation} ON {table} "
                       "WHEN only_equipoise_writes_these_tables() IS NOT 1 BEGIN "
                       f"SELECT RAISE(ABORT, '{operation} on {table} refused: only Equipoise writes its tables'); "
                       "END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_writer_only_{operation.lower()}")

"""PostgreSQL: every table refuses writes from connections that are not Equipoise's (AUD-2).

Equipoise writes each change and its audit entry in one transaction; a write from psql, a script or another
application would change data with no entry. ``audit verify`` finds such a change afterwards; this refuses it
before: a statement-level trigger on every table raises unless the session says it is Equipoise's (the setting
``equipoise.writer``, which ``Database`` sets on each connection it opens). It is a guard against mistakes and
tools, not against a superuser (who can set the same setting, or disable triggers; the hash chain still shows
what they changed). SQLite has no session settings to check: there, ``audit verify`` is the guard.

Revision ID: 0015_writes_by_equipoise_only
Revises: 0014_notification_deliveries
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = '0015_writes_by_equipoise_only'
down_revision = '0014_notification_deliveries'
branch_labels = None
depends_on = None

# Every table of this revision; a later revision that adds a table adds its trigger too (tests/store/test_schema.py
# checks that every table has one).
TABLES = ("audit_head", "audit_log", "trials", "users", "adaptive_tables", "allocation_states", "auth_sessions",
          "memberships", "patients", "randomization_lists", "allocations", "discrepancies", "emergency_envelopes",
          "form_queries", "form_records", "notifications", "off_study", "part_allocations", "patient_locks",
          "randomization_list_entries", "unblinding_requests", "unblindings", "allocation_flags",
          "notification_deliveries", "signatures")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION equipoise_writer_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF coalesce(current_setting('equipoise.writer', true), '') <> 'on' THEN
                RAISE EXCEPTION '% on % refused: only Equipoise writes its tables, so that every change is in '
                                'its audit trail', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_writer_only BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION equipoise_writer_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_writer_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS equipoise_writer_only()")

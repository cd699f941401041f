"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from equipoise.store.db import Database
from equipoise.store.migrate import current_revision, head_revision, upgrade
from equipoise.store.schema import audited_models, metadata


def test_migrations_match_the_models(db: Database):
    assert current_revision(db) == head_revision()
    with db.write_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(db: Database):
    upgrade(db)
    assert current_revision(db) == head_revision()


def test_every_audited_table_has_an_integer_id_for_the_generic_replay():
    tables = {m.__tablename__ for m in audited_models()}
    assert {"trials", "users", "memberships", "patients", "allocations", "allocation_states", "discrepancies",
            "unblindings", "unblinding_requests", "notifications", "randomization_lists", "emergency_envelopes",
            "allocation_flags", "adaptive_tables", "part_allocations", "notification_deliveries",
            "form_records", "form_queries", "patient_locks", "signatures", "off_study"} == tables


def test_revision_ids_fit_alembic_version():
    """alembic_version.version_num is VARCHAR(32): a longer id upgrades SQLite (which ignores lengths) and fails
    on PostgreSQL."""
    from alembic.script import ScriptDirectory

    from equipoise.store.migrate import alembic_config_from_path

    revisions = list(ScriptDirectory.from_config(alembic_config_from_path()).walk_revisions())
    assert len(revisions) >= 13
    assert [r.revision for r in revisions if len(r.revision) > 32] == []

"""An index on the audit trail's (table_name, record_id), so one patient's history (``GET /api/audit?patient_id=``)
costs what that history holds, not what the trial holds (issue 18).

Revision ID: 0022_audit_record_index
Revises: 0021_keyed_audit_chain
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = '0022_audit_record_index'
down_revision = '0021_keyed_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CREATE INDEX keeps the table (and its append-only and writer-only triggers): no batch rebuild.
    op.create_index('ix_audit_log_table_record', 'audit_log', ['table_name', 'record_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_log_table_record', table_name='audit_log')

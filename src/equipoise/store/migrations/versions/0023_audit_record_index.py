"""An index on the audit trail's (table_name, record_id), so one patient's history (``GET /api/audit?patient_id=``)
costs what that history holds, not what the trial holds (issue 18).

Numbered 0023: 0021 and 0022 are taken by work merged alongside this one; at merge, ``down_revision`` becomes the
last of those.

Revision ID: 0023_audit_record_index
Revises: 0020_audit_site
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = '0023_audit_record_index'
down_revision = '0020_audit_site'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CREATE INDEX keeps the table (and its append-only and writer-only triggers): no batch rebuild.
    op.create_index('ix_audit_log_table_record', 'audit_log', ['table_name', 'record_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_log_table_record', table_name='audit_log')

"""Audit entries name the site whose record or event they are (AUD-1), so that site-scoped readers of the trail
see their own sites' entries only.

The column stays empty on entries written before; an entry's hash covers it only when it is set, so the existing
chain verifies unchanged.

Revision ID: 0020_audit_site
Revises: 0019_single_sign_on
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020_audit_site'
down_revision = '0019_single_sign_on'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN keeps the table (and its append-only and writer-only triggers): no batch rebuild.
    op.add_column('audit_log', sa.Column('site_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('site_id')

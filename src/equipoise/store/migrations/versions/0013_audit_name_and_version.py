"""Audit entries name the actor as a signature prints them and the Equipoise version that wrote them (AUD-1).

Both columns stay empty on entries written before; an entry's hash covers them only when they are set, so the
existing chain verifies unchanged.

Revision ID: 0013_audit_name_and_version
Revises: 0012_further_randomizations
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_audit_name_and_version'
down_revision = '0012_further_randomizations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('app_version', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('app_version')
        batch_op.drop_column('actor_name')

"""Database lock of a trial (EDC-3): when and by whom (trials.status 'locked' while it holds).

Revision ID: 0007_database_lock
Revises: 0006_emergency_envelopes
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_database_lock'
down_revision = '0006_emergency_envelopes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('trials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_by', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trials', schema=None) as batch_op:
        batch_op.drop_column('locked_by')
        batch_op.drop_column('locked_at')

"""Response-adaptive tables published ahead of the time they allocate from (RND-13: effective-dated).

Revision ID: 0009_adaptive_effective_at
Revises: 0008_allocation_flags
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_adaptive_effective_at'
down_revision = '0008_allocation_flags'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('adaptive_tables', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('adaptive_tables', schema=None) as batch_op:
        batch_op.drop_column('effective_at')

"""Blinded further randomizations: a part's allocation may carry a kit code (RND-6). Rows written before are of
open-label parts and have none.

Revision ID: 0016_blinded_parts
Revises: 0015_writes_by_equipoise_only
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016_blinded_parts'
down_revision = '0015_writes_by_equipoise_only'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('part_allocations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kit_code', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('part_allocations', schema=None) as batch_op:
        batch_op.drop_column('kit_code')

"""Uploaded randomization lists and their entries (RND-8, RND-9).

Revision ID: 0005_randomization_lists
Revises: 0004_unblinding_requests
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_randomization_lists'
down_revision = '0004_unblinding_requests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('randomization_lists',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('entries_sha256', sa.String(length=64), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('randomization_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_randomization_lists_trial_id'), ['trial_id'], unique=False)
    op.create_table('randomization_list_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=400), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('arm', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['randomization_lists.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'stratum', 'position')
    )


def downgrade() -> None:
    op.drop_table('randomization_list_entries')
    with op.batch_alter_table('randomization_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_randomization_lists_trial_id'))
    op.drop_table('randomization_lists')

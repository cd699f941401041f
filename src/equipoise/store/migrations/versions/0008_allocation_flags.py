"""Flags on allocations made in error (RND-10): the allocation stands, the flag says what went wrong.

Revision ID: 0008_allocation_flags
Revises: 0007_database_lock
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_allocation_flags'
down_revision = '0007_database_lock'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('allocation_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('allocation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('flagged_by', sa.Integer(), nullable=True),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdraw_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'], ),
    sa.ForeignKeyConstraint(['flagged_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.ForeignKeyConstraint(['withdrawn_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('allocation_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocation_flags_trial_id'), ['trial_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('allocation_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allocation_flags_trial_id'))
    op.drop_table('allocation_flags')

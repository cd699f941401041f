"""Requests to unblind one patient outside an emergency, and their review (UNB-2).

Revision ID: 0004_unblinding_requests
Revises: 0003_off_study
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_unblinding_requests'
down_revision = '0003_off_study'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unblinding_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('unblinding_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unblinding_requests_trial_id'), ['trial_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unblinding_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unblinding_requests_trial_id'))
    op.drop_table('unblinding_requests')

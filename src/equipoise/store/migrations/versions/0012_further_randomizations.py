"""Further randomizations: factorial parts and later re-randomizations of randomized patients (RND-6).

Revision ID: 0012_further_randomizations
Revises: 0011_repeating_forms
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_further_randomizations'
down_revision = '0011_repeating_forms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('part_allocations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.String(length=64), nullable=False),
    sa.Column('state_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=400), nullable=False),
    sa.Column('factors', sa.JSON(), nullable=False),
    sa.Column('part_values', sa.JSON(), nullable=False),
    sa.Column('arm', sa.String(length=64), nullable=False),
    sa.Column('protocol_version', sa.String(length=32), nullable=False),
    sa.Column('allocation_date', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('draws', sa.JSON(), nullable=False),
    sa.Column('diagnostics', sa.JSON(), nullable=False),
    sa.Column('state_after', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('allocated_by', sa.Integer(), nullable=True),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['allocated_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['state_id'], ['allocation_states.id'], ),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'part_id', name='uq_part_allocations_patient_part'),
    sa.UniqueConstraint('state_id', 'sequence', name='uq_part_allocations_state_sequence'),
    sa.UniqueConstraint('trial_id', 'idempotency_key', name='uq_part_allocations_trial_idempotency')
    )
    with op.batch_alter_table('part_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_part_allocations_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_part_allocations_trial_id'), ['trial_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('part_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_part_allocations_trial_id'))
        batch_op.drop_index(batch_op.f('ix_part_allocations_patient_id'))
    op.drop_table('part_allocations')

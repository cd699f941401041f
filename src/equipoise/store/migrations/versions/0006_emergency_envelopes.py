"""Emergency envelopes: pre-drawn allocations for when a site cannot reach the server (RND-12).

Revision ID: 0006_emergency_envelopes
Revises: 0005_randomization_lists
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_emergency_envelopes'
down_revision = '0005_randomization_lists'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('emergency_envelopes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('arm', sa.String(length=64), nullable=False),
    sa.Column('kit_code', sa.String(length=64), nullable=True),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('entered_by', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['issued_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id'),
    sa.UniqueConstraint('trial_id', 'site_id', 'number')
    )
    with op.batch_alter_table('emergency_envelopes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_envelopes_trial_id'), ['trial_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('emergency_envelopes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_envelopes_trial_id'))
    op.drop_table('emergency_envelopes')

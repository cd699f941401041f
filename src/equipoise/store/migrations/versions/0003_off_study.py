"""Patients off study: withdrawal of consent, lost to follow-up, investigator's decision.

Revision ID: 0003_off_study
Revises: 0002_forms
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_off_study'
down_revision = '0002_forms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('off_study',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('trial_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['trial_id'], ['trials.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id')
    )
    with op.batch_alter_table('off_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_off_study_trial_id'), ['trial_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('off_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_off_study_trial_id'))
    op.drop_table('off_study')

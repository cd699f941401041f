"""Repeating (log) forms: several records of one form at one visit, numbered by ``instance`` (1 for every other
form, and for every record saved before this revision).

Revision ID: 0011_repeating_forms
Revises: 0010_two_factor
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_repeating_forms'
down_revision = '0010_two_factor'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('form_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance', sa.Integer(), server_default='1', nullable=False))
        batch_op.drop_constraint('uq_form_records_patient_form_visit', type_='unique')
        batch_op.create_unique_constraint('uq_form_records_patient_form_visit_instance',
                                          ['patient_id', 'form_id', 'visit_id', 'instance'])
    with op.batch_alter_table('form_queries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('form_queries', schema=None) as batch_op:
        batch_op.drop_column('instance')
    with op.batch_alter_table('form_records', schema=None) as batch_op:
        batch_op.drop_constraint('uq_form_records_patient_form_visit_instance', type_='unique')
        batch_op.create_unique_constraint('uq_form_records_patient_form_visit',
                                          ['patient_id', 'form_id', 'visit_id'])
        batch_op.drop_column('instance')

"""Test and production (RND-8): a trial is a production trial or a test trial (a copy to try the setup out), and
each randomization list says which it is for. Existing trials and lists are production ones.

Revision ID: 0018_test_and_production
Revises: 0017_sqlite_writer_only
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_test_and_production'
down_revision = '0017_sqlite_writer_only'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN keeps the tables (and on SQLite their writer-only triggers of 0017): no batch rebuild.
    op.add_column('trials', sa.Column('purpose', sa.String(length=16), server_default='production', nullable=False))
    op.add_column('randomization_lists', sa.Column('purpose', sa.String(length=16), server_default='production',
                                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('randomization_lists', schema=None) as batch_op:
        batch_op.drop_column('purpose')
    with op.batch_alter_table('trials', schema=None) as batch_op:
        batch_op.drop_column('purpose')

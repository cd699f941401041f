"""Single sign-on (ACC-4): a user's OpenID Connect identity, bound at their first sign-on.

Revision ID: 0019_single_sign_on
Revises: 0018_test_and_production
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019_single_sign_on'
down_revision = '0018_test_and_production'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN keeps the table (and on SQLite its writer-only triggers of 0017): no batch rebuild.
    op.add_column('users', sa.Column('oidc_subject', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('oidc_subject')

"""A keyed audit chain (issue 14): each entry and the chain's head carry an HMAC-SHA256 under a key kept outside the
database, and that key's id.

The columns stay empty on the entries written before: they remain verifiable by their SHA-256 chain as an unkeyed
prefix, and the first keyed entry seals that prefix, since it carries the prefix's last hash under its MAC
(``equipoise.store.migrate.upgrade`` writes that entry, ``audit.keyed``, right after this migration). Tampering
done before the seal cannot be detected; tampering after it can. Session tokens are from now on stored as HMACs
under the same key: the sessions and API tokens made before no longer match, so everyone logs in again and API
tokens are made anew.

Revision ID: 0021_keyed_audit_chain
Revises: 0020_audit_site
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021_keyed_audit_chain'
down_revision = '0020_audit_site'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN keeps the tables (and their append-only and writer-only triggers): no batch rebuild.
    for table in ('audit_log', 'audit_head'):
        op.add_column(table, sa.Column('key_id', sa.String(length=32), nullable=True))
        op.add_column(table, sa.Column('mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ('audit_log', 'audit_head'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('mac')
            batch_op.drop_column('key_id')

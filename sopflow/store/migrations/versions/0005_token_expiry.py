"""API tokens expire

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
import sopflow.store.tables


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # tokens issued before expiry existed keep working until revoked (NULL: no expiry)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sopflow.store.tables.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')

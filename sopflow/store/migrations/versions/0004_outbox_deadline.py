"""outbox: the request's deadline as of the event a notice belongs to

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
import sopflow.store.tables


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline', sopflow.store.tables.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('deadline')

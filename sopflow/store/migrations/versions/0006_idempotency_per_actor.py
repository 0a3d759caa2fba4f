"""idempotency keys per actor: the primary key is (actor_id, key), not key alone

Revision ID: 0006
Revises: 0005

A key was shared by every user of every organisation: one could spend another's key (their
retry was then refused) and learn from the refusal that it had been used. Each caller now
has keys of their own. The rows kept are unchanged (each already names its actor).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import sopflow.store.tables


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PK = 'idempotency_keys_pkey'  # PostgreSQL's name for the primary key of 0001


def _table(columns: list[str]) -> sa.Table:
    """The table as 0001 made it, with the primary key over ``columns``."""
    return sa.Table(
        'idempotency_keys', sa.MetaData(),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('actor_id', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column('command', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('created_at', sopflow.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*columns, name=PK),
    )


def _primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot alter a primary key: batch mode copies the rows into a new table of
        # this definition, which then takes the old one's place
        with op.batch_alter_table('idempotency_keys', copy_from=_table(columns),
                                  recreate='always'):
            pass
    else:
        with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
            batch_op.drop_constraint(PK, type_='primary')
            batch_op.create_primary_key(PK, columns)


def upgrade() -> None:
    _primary_key(['actor_id', 'key'])


def downgrade() -> None:
    # a key used by several actors fits the old primary key once only: the first use is
    # kept (the later ones would be applied again if retried, as before 0006)
    op.execute(sa.text(
        'DELETE FROM idempotency_keys WHERE EXISTS (SELECT 1 FROM idempotency_keys AS o '
        'WHERE o.key = idempotency_keys.key AND (o.created_at < idempotency_keys.created_at '
        'OR (o.created_at = idempotency_keys.created_at '
        'AND o.actor_id < idempotency_keys.actor_id)))'))
    _primary_key(['key'])

"""the directory log: who changed the directory (organisations, licences, users) and when

Revision ID: 0007
Revises: 0006

An append-only, hash-chained table (sopflow.domain.directory_log) with its head in
chain_head row 2. The directory's rows that exist already get one baseline entry each,
``organisation-recorded`` or ``user-recorded`` by ``migration``, dated at the upgrade: what
the directory held when its log began (the changes before it were never recorded), so
that ``audit verify`` finds the present directory as the log says. Organisations first
(by creation), then users (by id).
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel
import sopflow.store.tables
from sopflow.domain.chain import GENESIS, canonical_json
from sopflow.domain.directory_log import (ORG_RECORDED, USER_RECORDED, entry_hash, org_record,
                                          user_record)


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BY = 'migration'
HEAD_ID = 2


def upgrade() -> None:
    op.create_table('directory_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sopflow.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('change', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('directory_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_log_subject'), ['subject'], unique=False)

    conn = op.get_bind()
    baseline = [(ORG_RECORDED, row['id'], org_record(row)) for row in conn.execute(sa.text(
        'SELECT id, name, kind, country, licence_number, licence_status, licence_expires '
        'FROM organisations ORDER BY created_at, id')).mappings()]
    baseline += [(USER_RECORDED, row['email'], user_record(row)) for row in conn.execute(sa.text(
        'SELECT email, name, organisation_id, roles, locale, active FROM users '
        'ORDER BY id')).mappings()]
    at = datetime.now(UTC)
    insert = sa.text(
        'INSERT INTO directory_log (seq, at, actor, action, subject, change, prev_hash, hash) '
        'VALUES (:seq, :at, :actor, :action, :subject, :change, :prev_hash, :hash)'
    ).bindparams(sa.bindparam('at', type_=sopflow.store.tables.UTCDateTime()))
    seq, prev = 0, GENESIS
    for action, subject, change in baseline:
        seq += 1
        text = canonical_json(change)
        own = entry_hash(seq, at, BY, action, subject, text, prev)
        conn.execute(insert, {'seq': seq, 'at': at, 'actor': BY, 'action': action,
                              'subject': subject, 'change': text, 'prev_hash': prev,
                              'hash': own})
        prev = own
    conn.execute(sa.text('INSERT INTO chain_head (id, chain_seq, chain_hash) '
                         'VALUES (:id, :seq, :hash)'), {'id': HEAD_ID, 'seq': seq, 'hash': prev})


def downgrade() -> None:
    op.execute(sa.text(f'DELETE FROM chain_head WHERE id = {HEAD_ID}'))
    with op.batch_alter_table('directory_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_log_subject'))
    op.drop_table('directory_log')

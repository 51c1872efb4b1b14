"""audit anchoring: batch transactions, manifests, archives; idempotent event recording

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import app.database

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('pending', 'anchored', 'failed')"
NEW_STATUSES = "status IN ('pending', 'submitted', 'anchored', 'failed')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    with op.batch_alter_table('audit_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_audit_batches_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_audit_batches_status_valid'), NEW_STATUSES)
        # Filled for new rows by the application; the defaults only cover existing rows.
        batch_op.add_column(sa.Column('last_event_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('manifest_cid', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('signer', sa.String(length=42), nullable=True))
        batch_op.add_column(sa.Column('tx_nonce', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('raw_tx', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('replaced_tx_hashes', JSON, nullable=True))
        batch_op.add_column(sa.Column('submitted_at', app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('block_hash', sa.String(length=66), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('anchor_history', JSON, nullable=True))
        batch_op.add_column(sa.Column('archive_cid', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('archived_at', app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_batches_first_event_id'), ['first_event_id'])
    with op.batch_alter_table('audit_batches', schema=None) as batch_op:
        batch_op.alter_column('last_event_hash', server_default=None)
        batch_op.alter_column('attempts', server_default=None)
    # On SQLite the table is rebuilt with AUTOINCREMENT so ids freed by archiving are never
    # handed out again (PostgreSQL's sequence never reuses them anyway).
    with op.batch_alter_table('audit_events', schema=None,
                              table_kwargs={'sqlite_autoincrement': True},
                              recreate='auto') as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_idempotency_key'), ['idempotency_key'])


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_idempotency_key'), type_='unique')
        batch_op.drop_column('idempotency_key')
    with op.batch_alter_table('audit_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_batches_first_event_id'), type_='unique')
        for column in ('archived_at', 'archive_cid', 'anchor_history', 'attempts', 'block_hash',
                       'submitted_at', 'replaced_tx_hashes', 'raw_tx', 'tx_nonce', 'signer', 'manifest_cid',
                       'last_event_hash'):
            batch_op.drop_column(column)
        batch_op.drop_constraint(batch_op.f('ck_audit_batches_status_valid'), type_='check')
        batch_op.create_check_constraint(op.f('ck_audit_batches_status_valid'), OLD_STATUSES)

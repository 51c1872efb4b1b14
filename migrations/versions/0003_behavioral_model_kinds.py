"""behavioural models: a kind per row, versions per user and kind, one active, population rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

KINDS = "kind IN ('keystroke', 'mouse')"


def upgrade():
    with op.batch_alter_table('behavioral_models', schema=None) as batch_op:
        # Rows written before kinds existed were keystroke templates or nothing at all.
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='keystroke'))
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('uq_behavioral_models_uv', type_='unique')
        batch_op.create_unique_constraint('uq_behavioral_models_ukv', ['user_id', 'kind', 'version'])
        batch_op.create_check_constraint(op.f('ck_behavioral_models_kind_valid'), KINDS)
    with op.batch_alter_table('behavioral_models', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
        batch_op.create_index('uq_behavioral_models_one_active', ['user_id', 'kind'], unique=True,
                              postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active'))


def downgrade():
    op.execute("DELETE FROM behavioral_models WHERE user_id IS NULL OR kind <> 'keystroke'")
    with op.batch_alter_table('behavioral_models', schema=None) as batch_op:
        batch_op.drop_index('uq_behavioral_models_one_active')
        batch_op.drop_constraint(op.f('ck_behavioral_models_kind_valid'), type_='check')
        batch_op.drop_constraint('uq_behavioral_models_ukv', type_='unique')
        batch_op.create_unique_constraint('uq_behavioral_models_uv', ['user_id', 'version'])
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('kind')

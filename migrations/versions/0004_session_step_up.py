"""login sessions: step-up state (since when, wrong passwords counted)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:45:00

"""
from alembic import op
import sqlalchemy as sa

import app.database

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step_up_required_at', app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('step_up_failures', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('step_up_failures')
        batch_op.drop_column('step_up_required_at')

"""session_revocations (web app logouts that outlive the process)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Not append-only: rows whose cookie has expired anyway are deleted when new ones arrive.
    op.create_table(
        "session_revocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("revoked_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_session_revocations_expires", "session_revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_session_revocations_expires", table_name="session_revocations")
    op.drop_table("session_revocations")

"""web_assignments: the work the web app last served each reviewer at each stage

The screening engine takes a web user's first vote on a work only when it served them that
work; the assignment lived in the app's memory, so after a restart a reviewer got 403 on
the work on their screen until they reloaded. With the assignment stored, a restarted app
serves them the same work and takes their vote on it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per reviewer and stage, overwritten at each new work served (the decisions
    # table keeps the history; this is the queue's state, like the session revocations).
    op.create_table(
        "web_assignments",
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("reviewer", sa.String(64), primary_key=True),
        sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id"), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_assignments")

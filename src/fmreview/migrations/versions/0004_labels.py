"""labels (append-only)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fmreview.migrations.triggers import append_only, drop_append_only

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id"), nullable=False),
        sa.Column("axis", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("role", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(128)),
        sa.Column("supersedes", sa.Integer, sa.ForeignKey("labels.id")),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_labels_work_axis", "labels", ["work_id", "axis"])
    append_only("labels")


def downgrade() -> None:
    drop_append_only("labels")
    op.drop_table("labels")

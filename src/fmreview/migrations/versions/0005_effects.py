"""effects

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NUMERIC = (
    "yi",
    "vi",
    "ai",
    "bi",
    "ci",
    "di",
    "n1i",
    "n2i",
    "m1i",
    "m2i",
    "sd1i",
    "sd2i",
    "xi",
    "ni",
    "ri",
)


def upgrade() -> None:
    op.create_table(
        "effects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id")),
        sa.Column("study", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(128), nullable=False),
        sa.Column("measure", sa.String(16)),
        sa.Column("subgroup", sa.String(128)),
        *[sa.Column(name, sa.Float) for name in NUMERIC],
        sa.Column("moderators", sa.JSON, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("effects")

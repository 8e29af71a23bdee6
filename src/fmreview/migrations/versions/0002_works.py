"""works, work_records, dedupe_pairs, dedupe_decisions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fmreview.migrations.triggers import append_only, drop_append_only

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "works",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("canonical_record_id", sa.Integer, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("date", sa.String(10)),
        sa.Column("venue", sa.Text, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("doi", sa.String(255)),
        sa.Column("arxiv", sa.String(64)),
        sa.Column("pmid", sa.String(16)),
        sa.Column("openalex", sa.String(32)),
        sa.Column("source_labels", sa.JSON, nullable=False),
        sa.Column("created_run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("updated_run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("merged_into", sa.Integer, sa.ForeignKey("works.id")),
    )
    op.create_table(
        "work_records",
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id"), primary_key=True),
        sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id"), nullable=False),
        sa.Column("link", sa.String(16), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("reason", sa.JSON, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_index("ix_work_records_work", "work_records", ["work_id"])
    op.create_table(
        "dedupe_pairs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_a", sa.Integer, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("record_b", sa.Integer, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason", sa.JSON, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.UniqueConstraint("record_a", "record_b", name="uq_dedupe_pairs_ab"),
    )
    op.create_table(
        "dedupe_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("record_a", sa.Integer, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("record_b", sa.Integer, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("same", sa.Boolean, nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    append_only("dedupe_decisions")


def downgrade() -> None:
    drop_append_only("dedupe_decisions")
    for t in ("dedupe_decisions", "dedupe_pairs", "work_records", "works"):
        op.drop_table(t)

"""records, runs, searches, quarantine

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "searches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("query", sa.JSON, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("since", sa.String(32)),
        sa.Column("until", sa.String(32)),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("total_hits", sa.Integer),
        sa.Column("fetched", sa.Integer, nullable=False),
        sa.Column("cursor", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("origin", sa.Text),
        sa.Column("format", sa.String(32)),
        sa.Column("position", sa.Integer),
        sa.Column("line", sa.Integer),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("search_id", sa.Integer, sa.ForeignKey("searches.id")),
        sa.Column("retrieved_at", TS, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("date", sa.String(10)),
        sa.Column("venue", sa.Text, nullable=False),
        sa.Column("volume", sa.String(64), nullable=False),
        sa.Column("issue", sa.String(64), nullable=False),
        sa.Column("pages", sa.String(64), nullable=False),
        sa.Column("publisher", sa.Text, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("doi", sa.String(255)),
        sa.Column("arxiv", sa.String(64)),
        sa.Column("pmid", sa.String(16)),
        sa.Column("pmcid", sa.String(16)),
        sa.Column("openalex", sa.String(32)),
        sa.Column("s2", sa.String(64)),
        sa.Column("isbn", sa.String(16)),
        sa.Column("issn", sa.String(16)),
        sa.Column("source_labels", sa.JSON, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("raw", sa.JSON),
    )
    for col in ("doi", "arxiv", "pmid", "openalex"):
        op.create_index(f"ix_records_{col}", "records", [col])
    op.create_index("ix_records_run", "records", ["run_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("format", sa.String(32)),
        sa.Column("position", sa.Integer),
        sa.Column("line", sa.Integer),
        sa.Column("field", sa.String(64)),
        sa.Column("found", sa.Text),
        sa.Column("expected", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for t in ("quarantine", "records", "searches", "runs"):
        op.drop_table(t)

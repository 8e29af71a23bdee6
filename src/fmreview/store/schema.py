"""The review store's tables (SQLAlchemy Core), the single description of the schema.

The schema is created and changed only by the Alembic migrations in
``fmreview/migrations/versions``; this module mirrors their result so library code can
build queries (never SQL strings). ``tests/test_store_schema.py`` checks that the two agree.

Append-only tables (``decisions``, ``labels``, ``dedupe_decisions``) are protected by
triggers that refuse UPDATE and DELETE: a correction is a new row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from fmreview.record import OPTIONAL_FIELDS, STANDARD_FIELDS, TEXT_FIELDS, WORK_FIELDS

metadata = MetaData()


# The columns most tables share, written once.
def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _ref(name: str, table: str, **kw: Any) -> Column[int]:
    """A column holding the id of a row of ``table``."""
    return Column(name, Integer, ForeignKey(f"{table}.id"), **kw)


def _run(*, nullable: bool = True) -> Column[int]:
    """The run that wrote the row."""
    return _ref("run_id", "runs", nullable=nullable)


def _record_pair() -> list[Column[int]]:
    """The two records a dedupe pair or decision is about."""
    return [_ref(name, "records", nullable=False) for name in ("record_a", "record_b")]


def _time(name: str) -> Column[Any]:
    """A required timestamp with its time zone."""
    return Column(name, DateTime(timezone=True), nullable=False)


#: The column type of each bibliographic field (:data:`fmreview.record.STANDARD_FIELDS`).
_FIELD_TYPES: dict[str, Any] = {
    "title": Text,
    "abstract": Text,
    "authors": JSON,  # [[family, given], ...]
    "year": Integer,
    "date": String(10),
    "venue": Text,
    "volume": String(64),
    "issue": String(64),
    "pages": String(64),
    "publisher": Text,
    "type": String(32),
    "keywords": JSON,
    "language": String(32),
    "url": Text,
    "doi": String(255),
    "arxiv": String(64),
    "pmid": String(16),
    "pmcid": String(16),
    "openalex": String(32),
    "s2": String(64),
    "isbn": String(16),
    "issn": String(16),
    "source_labels": JSON,
}


def _field_columns(names: Iterable[str]) -> list[Column[Any]]:
    """The columns of bibliographic fields (records and works hold them alike): text is ""
    when empty, lists are JSON lists, a year, a date or an identifier is NULL when absent."""
    out: list[Column[Any]] = []
    for name in names:
        if name in OPTIONAL_FIELDS:
            out.append(Column(name, _FIELD_TYPES[name]))
        elif name in TEXT_FIELDS:
            out.append(Column(name, _FIELD_TYPES[name], nullable=False, default=""))
        else:
            out.append(Column(name, _FIELD_TYPES[name], nullable=False, default=list))
    return out


#: Every command run: the PRISMA numbers and the methods paragraph are derived from here.
runs = Table(
    "runs",
    metadata,
    _id(),
    Column("command", String(64), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("version", String(64), nullable=False),
    _time("started_at"),
    Column("ended_at", DateTime(timezone=True)),
    Column(
        "status", String(16), nullable=False, default="running"
    ),  # running|ok|failed|interrupted
    Column("counts", JSON, nullable=False, default=dict),
    Column("config", JSON, nullable=False, default=dict),
    Column("error", Text),
    # the process running the run: a run whose process is gone is marked interrupted
    Column("pid", Integer),
    Column("host", String(255)),
)

#: One literature search (one source, one query, one run): PRISMA identification per database.
searches = Table(
    "searches",
    metadata,
    _id(),
    _run(nullable=False),
    Column("source", String(32), nullable=False),
    Column("query", JSON, nullable=False),
    Column("url", Text),
    Column("since", String(32)),
    Column("until", String(32)),
    _time("started_at"),
    Column("finished_at", DateTime(timezone=True)),
    Column("total_hits", Integer),
    Column("fetched", Integer, nullable=False, default=0),
    Column("cursor", JSON),  # resume state
    Column("status", String(16), nullable=False, default="running"),  # running|done|failed
    Column("error", Text),
)

#: One row per retrieved or imported item; never deleted.
records = Table(
    "records",
    metadata,
    _id(),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("source", String(128), nullable=False),
    Column("source_kind", String(16), nullable=False),  # database|other|file
    Column("origin", Text),  # file path, or the query
    Column("format", String(32)),
    Column("position", Integer),
    Column("line", Integer),
    _run(nullable=False),
    _ref("search_id", "searches"),
    _time("retrieved_at"),
    *_field_columns(STANDARD_FIELDS),
    Column("extra", JSON, nullable=False, default=dict),
    Column("raw", JSON),
)
Index("ix_records_doi", records.c.doi)
Index("ix_records_arxiv", records.c.arxiv)
Index("ix_records_pmid", records.c.pmid)
Index("ix_records_openalex", records.c.openalex)
Index("ix_records_run", records.c.run_id)

#: Bad records kept aside by an import (never silently dropped).
quarantine = Table(
    "quarantine",
    metadata,
    _id(),
    _run(nullable=False),
    Column("file", Text, nullable=False),
    Column("format", String(32)),
    Column("position", Integer),
    Column("line", Integer),
    Column("field", String(64)),
    Column("found", Text),
    Column("expected", Text),
    Column("message", Text, nullable=False),
)

# ----------------------------------------------------------------------------- 0002 works
#: Dedupe clusters: one work per cluster, with merged best values per field.
works = Table(
    "works",
    metadata,
    _id(),
    _ref("canonical_record_id", "records", nullable=False),
    *_field_columns(WORK_FIELDS),
    _ref("created_run_id", "runs", nullable=False),
    _ref("updated_run_id", "runs"),
    _ref("merged_into", "works"),  # set when a later run merges works
)

#: Membership of records in works, with the reason for each link.
work_records = Table(
    "work_records",
    metadata,
    _ref("record_id", "records", primary_key=True),
    _ref("work_id", "works", nullable=False),
    Column("link", String(16), nullable=False),  # canonical|duplicate|version-of
    Column("score", Float),
    Column("reason", JSON, nullable=False, default=dict),
    _run(nullable=False),
)
Index("ix_work_records_work", work_records.c.work_id)

#: Uncertain pairs waiting for a person.
dedupe_pairs = Table(
    "dedupe_pairs",
    metadata,
    _id(),
    *_record_pair(),
    Column("score", Float, nullable=False),
    Column("reason", JSON, nullable=False, default=dict),
    _run(nullable=False),
    UniqueConstraint("record_a", "record_b", name="uq_dedupe_pairs_ab"),
)

#: Human answers on pairs (append-only): later runs respect them.
dedupe_decisions = Table(
    "dedupe_decisions",
    metadata,
    _id(),
    *_record_pair(),
    Column("same", Boolean, nullable=False),
    Column("reviewer", String(128), nullable=False),
    Column("note", Text, nullable=False, default=""),
    _time("created_at"),
)

# ----------------------------------------------------------------------------- 0003 screening
#: Screening decisions (append-only): the current state of a work is derived from its history.
decisions = Table(
    "decisions",
    metadata,
    _id(),
    _ref("work_id", "works", nullable=False),
    Column("stage", String(32), nullable=False),  # automation|title_abstract|full_text|resolution
    Column("reviewer", String(128), nullable=False),
    Column("label", String(16), nullable=False),  # include|exclude|maybe
    Column("criterion", String(64)),
    Column("note", Text, nullable=False, default=""),
    _time("created_at"),
    Column("model", JSON),  # ranking model config, rank and score at that moment
    _run(),
)
Index("ix_decisions_work", decisions.c.work_id)

#: Cached computations: feature matrices, trained models, analysis results.
artifacts = Table(
    "artifacts",
    metadata,
    _id(),
    Column("kind", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    _run(),
    _time("created_at"),
    Column("content_type", String(64), nullable=False, default="application/json"),
    Column("data", LargeBinary),
    Column("meta", JSON, nullable=False, default=dict),
)
Index("ix_artifacts_kind_key", artifacts.c.kind, artifacts.c.key)

# ----------------------------------------------------------------------------- 0004 labels
#: Extracted values per work and axis (append-only; a human override is a new row).
labels = Table(
    "labels",
    metadata,
    _id(),
    _ref("work_id", "works", nullable=False),
    Column("axis", String(64), nullable=False),
    Column("value", String(255), nullable=False),
    Column("method", String(16), nullable=False),  # list|rule|model|llm|human
    Column("confidence", Float),
    Column("evidence", JSON, nullable=False, default=list),  # [{field,start,end,text}]
    Column("role", String(32)),  # datasets: pretraining|evaluation|...
    Column(
        "status", String(16), nullable=False, default="auto"
    ),  # auto|confirmed|corrected|rejected
    Column("reviewer", String(128)),
    _ref("supersedes", "labels"),
    _run(),
    _time("created_at"),
)
Index("ix_labels_work_axis", labels.c.work_id, labels.c.axis)

# ----------------------------------------------------------------------------- 0005 effects
#: Study-level outcomes for meta-analysis (raw counts or yi/vi).
effects = Table(
    "effects",
    metadata,
    _id(),
    _ref("work_id", "works"),
    Column("study", Text, nullable=False),
    Column("outcome", String(128), nullable=False),
    Column("measure", String(16)),
    Column("subgroup", String(128)),
    Column("yi", Float),
    Column("vi", Float),
    Column("ai", Float),
    Column("bi", Float),
    Column("ci", Float),
    Column("di", Float),
    Column("n1i", Float),
    Column("n2i", Float),
    Column("m1i", Float),
    Column("m2i", Float),
    Column("sd1i", Float),
    Column("sd2i", Float),
    Column("xi", Float),
    Column("ni", Float),
    Column("ri", Float),
    Column("moderators", JSON, nullable=False, default=dict),
    Column("source", Text, nullable=False, default=""),
    _run(),
    _time("created_at"),
)

# ----------------------------------------------------------------------------- 0006 versions, users
#: Review versions (living updates): the PRISMA "previous version" arm and "what changed".
versions = Table(
    "versions",
    metadata,
    _id(),
    _run(nullable=False),
    _time("created_at"),
    Column("counts", JSON, nullable=False, default=dict),
    Column("included", JSON, nullable=False, default=list),  # work ids included at that version
    Column("note", Text, nullable=False, default=""),
)

#: Web-app accounts.
users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),  # admin|reviewer
    Column("active", Boolean, nullable=False, default=True),
    _time("created_at"),
)

# ----------------------------------------------------------------------------- 0007 session revocations
#: Web-app sessions ended by a logout, until their cookie would have expired anyway: every app
#: process (and the next one after a restart) refuses their cookie. Expired rows are deleted.
session_revocations = Table(
    "session_revocations",
    metadata,
    _id(),
    Column("sid", String(64), nullable=False),
    _time("revoked_at"),
    _time("expires_at"),
)
Index("ix_session_revocations_expires", session_revocations.c.expires_at)

# ----------------------------------------------------------------------------- 0009 web assignments
#: The work the web app last served each reviewer at each stage (the screening engine takes a
#: web user's first vote only on it), so a restarted app keeps it. Overwritten, not appended.
web_assignments = Table(
    "web_assignments",
    metadata,
    Column("stage", String(32), primary_key=True),
    Column("reviewer", String(64), primary_key=True),
    Column("work_id", Integer, ForeignKey("works.id"), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("rank", Integer, nullable=True),
    Column("score", Float, nullable=True),
    Column("served_at", DateTime(timezone=True), nullable=False),
)

APPEND_ONLY = ("decisions", "labels", "dedupe_decisions")

"""The review store (SQLAlchemy Core over SQLite or PostgreSQL, Alembic migrations)."""

from fmreview.store.records import ImportCounts, add_records
from fmreview.store.store import Run, Store, make_engine, migrate

__all__ = ["ImportCounts", "Run", "Store", "add_records", "make_engine", "migrate"]

"""Alembic environment: runs migrations on the connection the Store hands over."""

from __future__ import annotations

from alembic import context

from fmreview.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # pragma: no cover - alembic CLI use
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

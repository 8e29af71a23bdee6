"""Works: the unit that screening and extraction act on (one per dedupe cluster)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fmreview.record import WORK_FIELDS
from fmreview.store import schema


def work_values_from_record(rec: dict[str, Any]) -> dict[str, Any]:
    """The values a work copies from ``rec`` (:data:`~fmreview.record.WORK_FIELDS`)."""
    return {k: rec.get(k) for k in WORK_FIELDS}


def works_from_records(store: Any, run_id: int) -> int:
    """Make one work per record that is not yet in a work (no deduplication).

    Used by tests and as the fallback when dedupe is not run; returns the number of works made.
    """
    r, wr = schema.records, schema.work_records
    made = 0
    with store.begin() as conn:
        rows = conn.execute(
            sa.select(r).where(~sa.exists().where(wr.c.record_id == r.c.id)).order_by(r.c.id)
        ).all()
        for row in rows:
            m = dict(row._mapping)
            wid = conn.execute(
                sa.insert(schema.works).values(
                    canonical_record_id=m["id"], created_run_id=run_id, **work_values_from_record(m)
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(wr).values(
                    record_id=m["id"],
                    work_id=wid,
                    link="canonical",
                    score=None,
                    reason={},
                    run_id=run_id,
                )
            )
            made += 1
    return made


def active_works(conn: sa.engine.Connection) -> sa.Select[Any]:
    """Select the works that have not been merged into another."""
    return sa.select(schema.works).where(schema.works.c.merged_into.is_(None))

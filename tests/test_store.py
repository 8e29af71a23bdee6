"""The store: migrations, runs, idempotent records, append-only tables — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from fmreview.errors import StoreError
from fmreview.record import Author, Record
from fmreview.store import Store, add_records, schema
from fmreview.store.records import count_records, row_to_record
from fmreview.store.store import schema_revision
from fmreview.store.works import works_from_records

from .conftest import DATA


def _records(n: int, prefix: str = "T") -> list[Record]:
    return [
        Record(
            title=f"{prefix} title {i}",
            abstract=f"abstract {i}",
            authors=[Author("Smith", "J"), Author("Doe", "A")],
            year=2020 + i % 5,
            doi=f"10.1000/{prefix.lower()}{i}",
            keywords=["a", "b"],
            raw={"TI": f"{prefix} title {i}", "n": i},
            position=i + 1,
        )
        for i in range(n)
    ]


def test_migrations_match_schema(any_store: Store) -> None:
    insp = sa.inspect(any_store.engine)
    for table in schema.metadata.sorted_tables:
        cols = {c["name"] for c in insp.get_columns(table.name)}
        assert cols == {c.name for c in table.columns}, table.name
    assert schema_revision(any_store.engine) == "0009"


def test_add_records_is_idempotent(any_store: Store) -> None:
    with any_store.run("import", {}) as run:
        first = add_records(
            any_store, _records(7), source="x.ris", source_kind="file", run_id=run.id
        )
    with any_store.run("import", {}) as run:
        again = add_records(
            any_store, _records(7), source="x.ris", source_kind="file", run_id=run.id
        )
    assert (first.added, first.already_present) == (7, 0)
    assert (again.added, again.already_present) == (0, 7)
    assert count_records(any_store) == 7


def test_identical_entries_in_one_file_are_both_kept(any_store: Store) -> None:
    recs = _records(1) + _records(1)
    with any_store.run("import", {}) as run:
        c = add_records(any_store, recs, source="x.ris", source_kind="file", run_id=run.id)
    assert c.added == 2
    with any_store.run("import", {}) as run:
        c = add_records(any_store, recs, source="x.ris", source_kind="file", run_id=run.id)
    assert c.added == 0


def test_same_entry_from_two_sources_is_two_records(any_store: Store) -> None:
    with any_store.run("import", {}) as run:
        add_records(any_store, _records(3), source="a", source_kind="database", run_id=run.id)
        add_records(any_store, _records(3), source="b", source_kind="database", run_id=run.id)
    assert count_records(any_store) == 6


def test_record_round_trips_through_the_store(any_store: Store) -> None:
    rec = _records(1)[0]
    rec.extra = {"k": "v"}
    rec.source_labels = ["list-a"]
    with any_store.run("import", {}) as run:
        add_records(any_store, [rec], source="a", source_kind="file", run_id=run.id)
    with any_store.connect() as conn:
        back = row_to_record(conn.execute(sa.select(schema.records)).one())
    for f in (
        "title",
        "abstract",
        "authors",
        "year",
        "doi",
        "keywords",
        "extra",
        "source_labels",
        "raw",
    ):
        assert getattr(back, f) == getattr(rec, f), f


def test_run_records_failure_and_counts(any_store: Store) -> None:
    with pytest.raises(RuntimeError):
        with any_store.run("boom", {"p": 1}) as run:
            run.counts["done"] = 3
            raise RuntimeError("disk on fire")
    (row,) = any_store.runs("boom")
    assert row["status"] == "failed"
    assert row["counts"] == {"done": 3}
    assert "disk on fire" in row["error"]
    assert row["ended_at"] is not None and row["version"]


@pytest.mark.parametrize("table", ["decisions", "labels", "dedupe_decisions"])
def test_append_only_tables_refuse_update_and_delete(any_store: Store, table: str) -> None:
    with any_store.run("import", {}) as run:
        add_records(any_store, _records(2), source="a", source_kind="file", run_id=run.id)
        works_from_records(any_store, run.id)
    now = any_store.clock()
    values = {
        "decisions": dict(
            work_id=1,
            stage="title_abstract",
            reviewer="r",
            label="include",
            note="",
            created_at=now,
        ),
        "labels": dict(
            work_id=1,
            axis="modality",
            value="CT",
            method="rule",
            evidence=[],
            status="auto",
            created_at=now,
        ),
        "dedupe_decisions": dict(
            record_a=1, record_b=2, same=True, reviewer="r", note="", created_at=now
        ),
    }[table]
    t = schema.metadata.tables[table]
    with any_store.begin() as conn:
        conn.execute(sa.insert(t).values(**values))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with any_store.begin() as conn:
            conn.execute(sa.update(t).values(id=t.c.id))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with any_store.begin() as conn:
            conn.execute(sa.delete(t))
    with any_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 1


def test_crash_inside_a_transaction_leaves_nothing(any_store: Store) -> None:
    with pytest.raises(ZeroDivisionError):
        with any_store.run("import", {}) as run, any_store.begin() as conn:
            add_records(
                any_store, _records(50), source="a", source_kind="file", run_id=run.id, conn=conn
            )
            1 / 0  # noqa: B018
    assert count_records(any_store) == 0


def test_open_reopens_and_rejects_non_review(tmp_path: Path) -> None:
    s = Store.create(tmp_path / "r", protocol_path=DATA / "protocol-minimal.yaml")
    with s.run("import", {}) as run:
        add_records(s, _records(2), source="a", source_kind="file", run_id=run.id)
    s.close()
    again = Store.open(tmp_path / "r")
    assert count_records(again) == 2
    assert again.protocol.name == "minimal"
    again.close()
    with pytest.raises(StoreError, match="not a review folder"):
        Store.open(tmp_path)
    with pytest.raises(StoreError, match="already holds a review"):
        Store.create(tmp_path / "r")


def test_postgres_folder_keeps_its_url(pg_url: str, tmp_path: Path) -> None:
    s = Store.create(tmp_path / "r", protocol_path=DATA / "protocol-minimal.yaml", db_url=pg_url)
    assert s.dialect == "postgresql"
    s.close()
    assert json.loads((tmp_path / "r" / "review.json").read_text())["db"] == pg_url
    again = Store.open(tmp_path / "r")
    assert again.dialect == "postgresql"
    again.close()


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot reach the database"):
        Store.create(
            tmp_path / "r",
            protocol_path=DATA / "protocol-minimal.yaml",
            db_url="postgresql://nobody:secret@127.0.0.1:9/none",
        )


def test_postgres_pool_replaces_a_dropped_connection(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no pool_pre_ping (a round trip per checkout): a connection idle in the pool for
    # PING_IDLE_SECONDS is pinged at checkout, and a dead one is replaced, not handed out
    from fmreview.store import store as store_mod

    engine = store_mod.make_engine(pg_url)
    admin = store_mod.make_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            killed = conn.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            ).scalar()
        assert killed is True
        monkeypatch.setattr(store_mod, "PING_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            new_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert new_pid != pid
    finally:
        engine.dispose()
        admin.dispose()


def test_postgres_pool_skips_the_ping_for_a_busy_connection(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a connection back within PING_IDLE_SECONDS is handed out without a round trip
    from fmreview.store import store as store_mod

    engine = store_mod.make_engine(pg_url)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or True)
    try:
        monkeypatch.setattr(store_mod, "PING_IDLE_SECONDS", 3600.0)
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        assert pings == []
        monkeypatch.setattr(store_mod, "PING_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert len(pings) == 1
    finally:
        engine.dispose()

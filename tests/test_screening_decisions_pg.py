"""The decision writer's row lock on PostgreSQL: a vote waiting for the lock reads the
decisions committed by the transaction that held it (the two concurrent first votes of the
module docstring), also now that the lock and the read travel in one pipelined round trip."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from fmreview.errors import InputError
from fmreview.record import Record
from fmreview.screening import decisions
from fmreview.screening.decisions import Actor, read_work, write_decision
from fmreview.store import Store, schema
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records

DATA = Path(__file__).parent / "data"


def _store_with_work(folder: Path, url: str) -> tuple[Store, int]:
    store = Store.create(folder, protocol_path=DATA / "protocol-minimal.yaml", db_url=url)
    with store.run("import") as run:
        add_records(
            store,
            [Record(title="A work", year=2024)],
            source="t",
            source_kind="file",
            run_id=run.id,
        )
        works_from_records(store, run.id)
    with store.connect() as conn:
        work_id = int(conn.execute(sa.select(schema.works.c.id)).scalar_one())
    return store, work_id


def _waiting_for_lock(store: Store) -> bool:
    q = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with store.connect() as conn:
        return int(conn.execute(q).scalar_one()) > 0


def test_a_vote_waiting_for_the_lock_sees_the_vote_committed_before_it(
    pg_url: str, tmp_path: Path
) -> None:
    store, wid = _store_with_work(tmp_path / "r", pg_url)
    try:
        me = Actor("ana")
        second: list[BaseException | int] = []
        holder = store.engine.connect()
        tx = holder.begin()
        work = read_work(holder, wid, lock=True)  # the first request holds the row
        assert work.votes["title_abstract"] == {}

        def vote_again() -> None:
            try:
                second.append(write_decision(store, actor=me, work_id=wid, label="exclude"))
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                second.append(exc)

        t = threading.Thread(target=vote_again)
        t.start()
        for _ in range(2000):  # until the second request waits for the row lock
            if _waiting_for_lock(store) or not t.is_alive():
                break
            threading.Event().wait(0.005)
        assert t.is_alive(), f"the second vote did not wait for the lock: {second}"
        decisions._append(  # the first request's first vote, then its commit
            holder,
            store,
            {
                "work_id": wid,
                "stage": "title_abstract",
                "reviewer": "ana",
                "label": "include",
                "criterion": None,
                "note": "",
                "model": None,
                "run_id": None,
            },
        )
        tx.commit()
        holder.close()
        t.join(30)
        # the second request saw the first vote: a change without a reason is refused
        assert len(second) == 1 and isinstance(second[0], InputError), second
        assert "already voted 'include'" in str(second[0])
        with store.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(schema.decisions))
            assert n.scalar_one() == 1
    finally:
        store.close()


def test_the_locked_read_reports_a_missing_or_merged_work(pg_url: str, tmp_path: Path) -> None:
    store, wid = _store_with_work(tmp_path / "r", pg_url)
    try:
        with store.begin() as conn, pytest.raises(Exception, match="no work with id"):
            read_work(conn, wid + 1000, lock=True)
        with store.begin() as conn:
            got = read_work(conn, wid, lock=True)
        assert got.work_id == wid and got.votes["title_abstract"] == {}
    finally:
        store.close()

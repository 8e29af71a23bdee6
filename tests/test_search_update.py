"""The living update: since the last retrieval, stages, versions, the lock."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from fmreview.errors import FmreviewError, SourceError, StoreError
from fmreview.search import ReviewLock, update
from fmreview.search.update import LOCK_FILE, last_retrievals, update_since
from fmreview.store import Store, schema
from tests.test_search_fakes import CrossrefServer, OpenAlexServer, fake_http, make_protocol


class Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when


def rows(store, table):
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def review(tmp_path: Path, sources_yaml: str, clock=None) -> Store:
    proto = tmp_path / "protocol.yaml"
    proto.write_text(
        "name: t\ntitle: T\nquestion: Q?\ndate_range:\n  start: 2019-01-01\n"
        "search:\n  email: a@b.org\n  overlap_days: 7\nsources:\n" + sources_yaml,
        encoding="utf-8",
    )
    kw = {"clock": clock} if clock else {}
    return Store.create(tmp_path / "review", protocol_path=proto, **kw)


OA = "  openalex:\n    query:\n      search: sam\n    params:\n      page_size: 5\n"
CR = "  crossref:\n    query: sam\n    params:\n      page_size: 5\n"


def test_update_searches_since_last_retrieval_runs_stages_and_records_versions(tmp_path) -> None:
    clock = Clock(dt.datetime(2024, 3, 10, 6, 0, tzinfo=dt.UTC))
    store = review(tmp_path, OA, clock)
    calls: list[tuple[str, int]] = []

    def dedupe(store, run):
        calls.append(("dedupe", run.id))
        return {"merged": 0}

    def rank(store, run):
        calls.append(("rank", run.id))
        return None

    first_server = OpenAlexServer(6)
    out = update(
        store,
        stages=[("dedupe", dedupe), ("rank", rank)],
        http=fake_http(first_server),
        included=lambda s: [1, 2],
    )
    assert out["since"] == {"openalex": None}  # never searched: the whole date range
    assert "from_publication_date:2019-01-01" in first_server.calls[0].url.params["filter"]
    assert out["new_records"] == 6 and out["stages"] == {"dedupe": {"merged": 0}, "rank": {}}
    assert [c[0] for c in calls] == ["dedupe", "rank"]
    (v1,) = rows(store, schema.versions)
    assert v1["id"] == out["version"] and v1["included"] == [1, 2]
    assert v1["counts"]["new_records"] == 6 and v1["counts"]["stages"]["dedupe"] == {"merged": 0}
    run = [r for r in store.runs("update")][0]
    assert v1["run_id"] == run["id"] == calls[0][1] and run["status"] == "ok"

    # eleven days later: search again from the last retrieval minus 7 days of overlap
    clock.when = dt.datetime(2024, 3, 21, 6, 0, tzinfo=dt.UTC)
    second = OpenAlexServer(8)
    out2 = update(store, stages=[("dedupe", dedupe)], http=fake_http(second))
    assert out2["since"] == {"openalex": dt.date(2024, 3, 3)}
    assert "from_publication_date:2024-03-03" in second.calls[0].url.params["filter"]
    assert out2["new_records"] == 2  # six already known
    assert len(rows(store, schema.versions)) == 2
    assert last_retrievals(store)["openalex"].date() == dt.date(2024, 3, 21)
    assert not (tmp_path / "review" / LOCK_FILE).exists()


def test_update_since_uses_only_successful_searches(tmp_path) -> None:
    clock = Clock(dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
    store = review(tmp_path, OA + CR, clock)
    cr = CrossrefServer(3, fail={k: httpx.Response(500) for k in range(1, 10)})
    router = _router(openalex=OpenAlexServer(3), crossref=cr)
    with pytest.raises(SourceError) as info:
        update(store, stages=[], http=fake_http(router, max_retries=1))
    msg = str(info.value)
    assert (
        "update recorded version 1 but crossref failed" in msg
        and "retries from the same date" in msg
    )
    assert len(rows(store, schema.versions)) == 1
    since = update_since(store, ["openalex", "crossref"], 7)
    assert since == {"openalex": dt.date(2024, 1, 13), "crossref": None}


def test_failing_stage_stops_without_a_version(tmp_path) -> None:
    store = review(tmp_path, OA)

    def broken(store, run):
        raise KeyError("labels")

    with pytest.raises(FmreviewError, match=r"update stage 'extract' failed: KeyError: 'labels'"):
        update(store, stages=[("extract", broken)], http=fake_http(OpenAlexServer(2)))
    assert rows(store, schema.versions) == []
    assert store.runs("update")[0]["status"] == "failed"
    assert not (tmp_path / "review" / LOCK_FILE).exists()  # lock released on failure


def test_lock_prevents_a_second_concurrent_update(tmp_path) -> None:
    store = review(tmp_path, OA)
    server = OpenAlexServer(2)
    with ReviewLock(tmp_path / "review" / LOCK_FILE):
        with pytest.raises(StoreError, match="another fmreview update is running"):
            update(store, stages=[], http=fake_http(server))
    assert server.calls == [] and store.runs("update") == []
    update(store, stages=[], http=fake_http(server))  # free again
    assert len(rows(store, schema.versions)) == 1


def test_stage_sees_the_lock_held(tmp_path) -> None:
    store = review(tmp_path, OA)
    seen = []

    def stage(store, run):
        with pytest.raises(StoreError):
            ReviewLock(tmp_path / "review" / LOCK_FILE).acquire()
        seen.append(True)
        return {}

    update(store, stages=[("check", stage)], http=fake_http(OpenAlexServer(1)))
    assert seen == [True]


def test_exclusive_file_lock_records_owner_and_detects_stale(tmp_path) -> None:
    path = tmp_path / LOCK_FILE
    lock = ReviewLock(path, backend="exclusive-file")
    lock.acquire()
    info = json.loads(path.read_text())
    assert info["pid"] == os.getpid()
    with pytest.raises(StoreError, match=f"held by pid {os.getpid()}"):
        ReviewLock(path, backend="exclusive-file").acquire()
    lock.release()
    assert not path.exists()
    # a lock left by a dead process on this host is taken over
    import socket

    path.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(), "started": 0}))
    fresh = ReviewLock(path, backend="exclusive-file", clock=lambda: 10.0)
    fresh.acquire()
    assert json.loads(path.read_text())["pid"] == os.getpid()
    fresh.release()
    # a lock from another host is respected until it is older than stale_after
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": 100.0}))
    with pytest.raises(StoreError):
        ReviewLock(path, backend="exclusive-file", clock=lambda: 200.0, stale_after=3600).acquire()
    old = ReviewLock(path, backend="exclusive-file", clock=lambda: 100.0 + 7200, stale_after=3600)
    old.acquire()
    old.release()


def test_lock_waits_up_to_its_timeout(tmp_path) -> None:
    path = tmp_path / LOCK_FILE
    holder = ReviewLock(path, backend="exclusive-file")
    holder.acquire()
    ticks = iter([0.0, 0.0, 0.05, 0.3])
    slept: list[float] = []
    waiting = ReviewLock(
        path,
        backend="exclusive-file",
        timeout=0.2,
        clock=lambda: next(ticks, 1.0),
        sleep=slept.append,
    )
    with pytest.raises(StoreError):
        waiting.acquire()
    assert slept and set(slept) == {0.1}  # polled until the deadline, never really sleeping
    holder.release()


def test_in_memory_store_needs_no_lock() -> None:
    store = Store.memory(make_protocol({"openalex": {"query": {"search": "x"}}}))
    out = update(store, stages=[], http=fake_http(OpenAlexServer(1)))
    assert out["version"] == 1 and out["new_records"] == 1


def test_default_stages_come_from_the_hook_list(tmp_path, monkeypatch) -> None:
    import importlib

    update_mod = importlib.import_module("fmreview.search.update")  # the module, not the function
    called = []
    monkeypatch.setattr(
        update_mod, "UPDATE_STAGES", [("report", lambda s, r: called.append(r.id) or {"pages": 1})]
    )
    store = Store.memory(make_protocol({"openalex": {"query": {"search": "x"}}}))
    out = update_mod.update(store, http=fake_http(OpenAlexServer(1)))
    assert called and out["stages"] == {"report": {"pages": 1}}


def _router(**servers):
    def handle(request: httpx.Request) -> httpx.Response:
        for key, server in servers.items():
            if key in request.url.host:
                return server(request)
        raise AssertionError(request.url)

    return handle


def test_filelock_backend_when_installed(tmp_path) -> None:
    pytest.importorskip("filelock")
    path = tmp_path / LOCK_FILE
    holder = ReviewLock(path)
    assert holder.backend == "filelock"
    with holder, pytest.raises(StoreError, match="another fmreview update"):
        ReviewLock(path).acquire()
    with ReviewLock(path):
        pass


def test_update_since_per_source(tmp_path) -> None:
    clock = Clock(dt.datetime(2024, 6, 30, 23, 0, tzinfo=dt.UTC))
    store = review(tmp_path, OA, clock)
    assert update_since(store, ["openalex"], 7) == {"openalex": None}
    update(store, stages=[], http=fake_http(OpenAlexServer(1)))
    assert update_since(store, ["openalex"], 0) == {"openalex": dt.date(2024, 6, 30)}
    assert update_since(store, ["openalex", "arxiv"], 30) == {
        "openalex": dt.date(2024, 5, 31),
        "arxiv": None,
    }


def test_version_counts_are_what_the_prisma_report_reads(tmp_path) -> None:
    store = review(tmp_path, OA)
    out = update(store, stages=[], http=fake_http(OpenAlexServer(4)))
    (v,) = rows(store, schema.versions)
    assert v["id"] == out["version"]
    assert v["counts"]["records_identified"] == 4 and v["counts"]["max_record_id"] == 4
    assert v["counts"]["search"]["openalex"]["added"] == 4


def test_a_version_recorded_by_a_stage_is_completed_not_duplicated(tmp_path) -> None:
    store = review(tmp_path, OA)

    def report(store, run):
        with store.begin() as conn:
            conn.execute(
                sa.insert(schema.versions).values(
                    run_id=run.id,
                    created_at=store.clock(),
                    counts={"works": 0},
                    included=[],
                    note="",
                )
            )
        return {"pages": 1}

    out = update(store, stages=[("report", report)], http=fake_http(OpenAlexServer(2)), note="n")
    (v,) = rows(store, schema.versions)
    assert v["id"] == out["version"] and v["counts"]["new_records"] == 2 and v["note"] == "n"


def test_stage_domain_error_keeps_its_exit_code(tmp_path) -> None:
    from fmreview.errors import InputError

    store = review(tmp_path, OA)

    def bad(store, run):
        raise InputError("no taxonomy")

    with pytest.raises(FmreviewError) as info:
        update(store, stages=[("extract", bad)], http=fake_http(OpenAlexServer(1)))
    assert info.value.exit_code == 2 and "update stage 'extract' failed: no taxonomy" in str(
        info.value
    )

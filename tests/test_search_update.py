"""The living update (:mod:`fmreview.update`): since the last retrieval, stages, versions,
the lock, failures."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from fmreview.errors import FmreviewError, SourceError, StoreError
from fmreview.pipeline import Stage
from fmreview.stages import StageResult
from fmreview.store import Store, schema
from fmreview.update import (
    LOCK_FILE,
    ReviewLock,
    default_stages,
    last_retrievals,
    update,
    update_since,
)
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
    calls: list[str] = []

    def dedupe(store, *, reporter):
        calls.append("dedupe")
        return StageResult("dedupe", {"merged": 0})

    def rank(store, *, reporter):
        calls.append("rank")
        return StageResult("rank")

    first_server = OpenAlexServer(6)
    out = update(
        store,
        stages=[Stage("dedupe", dedupe), Stage("rank", rank)],
        http=fake_http(first_server),
        included=lambda s: [1, 2],
    )
    assert out.since == {"openalex": None}  # never searched: the whole date range
    assert "from_publication_date:2019-01-01" in first_server.calls[0].url.params["filter"]
    assert out.new_records == 6 and out.stages == {"dedupe": {"merged": 0}, "rank": {}}
    assert calls == ["dedupe", "rank"]
    (v1,) = rows(store, schema.versions)
    assert v1["id"] == out.version and v1["included"] == [1, 2]
    assert v1["counts"]["new_records"] == 6 and v1["counts"]["stages"]["dedupe"] == {"merged": 0}
    run = [r for r in store.runs("update")][0]
    assert v1["run_id"] == run["id"] and run["status"] == "ok"

    # eleven days later: search again from the last retrieval minus 7 days of overlap
    clock.when = dt.datetime(2024, 3, 21, 6, 0, tzinfo=dt.UTC)
    second = OpenAlexServer(8)
    out2 = update(store, stages=[Stage("dedupe", dedupe)], http=fake_http(second))
    assert out2.since == {"openalex": dt.date(2024, 3, 3)}
    assert "from_publication_date:2024-03-03" in second.calls[0].url.params["filter"]
    assert out2.new_records == 2  # six already known
    assert len(rows(store, schema.versions)) == 2
    assert last_retrievals(store)["openalex"].date() == dt.date(2024, 3, 21)
    ReviewLock(tmp_path / "review" / LOCK_FILE).acquire()  # released: free at once


def test_update_since_uses_only_successful_searches(tmp_path) -> None:
    clock = Clock(dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
    store = review(tmp_path, OA + CR, clock)
    cr = CrossrefServer(3, fail={k: httpx.Response(500) for k in range(1, 10)})
    router = _router(openalex=OpenAlexServer(3), crossref=cr)
    with pytest.raises(SourceError) as info:
        update(store, stages=[], http=fake_http(router, max_retries=1))
    msg = str(info.value)
    assert "update recorded version 1 from openalex, but 1 source(s) failed" in msg
    assert "retries them from the same date" in msg and "\n  crossref: " in msg
    assert len(rows(store, schema.versions)) == 1
    since = update_since(store, ["openalex", "crossref"], 7)
    assert since == {"openalex": dt.date(2024, 1, 13), "crossref": None}


def test_failing_stage_stops_without_a_version(tmp_path) -> None:
    store = review(tmp_path, OA)

    def broken(store, *, reporter):
        raise KeyError("labels")

    with pytest.raises(FmreviewError, match=r"update stage 'extract' failed: KeyError: 'labels'"):
        update(store, stages=[Stage("extract", broken)], http=fake_http(OpenAlexServer(2)))
    assert rows(store, schema.versions) == []
    assert store.runs("update")[0]["status"] == "failed"
    ReviewLock(tmp_path / "review" / LOCK_FILE).acquire()  # lock released on failure


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

    def stage(store, *, reporter):
        with pytest.raises(StoreError):
            ReviewLock(tmp_path / "review" / LOCK_FILE).acquire()
        seen.append(True)
        return StageResult("check")

    update(store, stages=[Stage("check", stage)], http=fake_http(OpenAlexServer(1)))
    assert seen == [True]


def test_lock_waits_up_to_its_timeout(tmp_path) -> None:
    path = tmp_path / LOCK_FILE
    with ReviewLock(path):
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="another fmreview update is running"):
            ReviewLock(path, timeout=0.2).acquire()
        assert time.monotonic() - t0 >= 0.2


def test_in_memory_store_needs_no_lock() -> None:
    store = Store.memory(make_protocol({"openalex": {"query": {"search": "x"}}}))
    out = update(store, stages=[], http=fake_http(OpenAlexServer(1)))
    assert out.version == 1 and out.new_records == 1


def test_default_stages_are_the_pipelines_without_registration() -> None:
    # a library caller of update() gets the whole update: no registry to fill first
    names = [s.name for s in default_stages()]
    assert names == ["dedupe", "eligibility", "extract", "analyze", "report"]


def _router(**servers):
    def handle(request: httpx.Request) -> httpx.Response:
        for key, server in servers.items():
            if key in request.url.host:
                return server(request)
        raise AssertionError(request.url)

    return handle


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
    assert v["id"] == out.version
    assert v["counts"]["records_identified"] == 4 and v["counts"]["max_record_id"] == 4
    assert v["counts"]["search"]["openalex"]["added"] == 4


def test_stage_domain_error_keeps_its_exit_code(tmp_path) -> None:
    from fmreview.errors import InputError

    store = review(tmp_path, OA)

    def bad(store, *, reporter):
        raise InputError("no taxonomy")

    with pytest.raises(FmreviewError) as info:
        update(store, stages=[Stage("extract", bad)], http=fake_http(OpenAlexServer(1)))
    assert info.value.exit_code == 2 and "update stage 'extract' failed: no taxonomy" in str(
        info.value
    )


def test_offline_update_fails_fast_and_records_no_version(tmp_path) -> None:
    from tests.test_search_fakes import FakeTime

    store = review(tmp_path, OA + CR)
    calls: list[str] = []

    def offline(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    t = FakeTime()
    ran: list[str] = []
    with pytest.raises(SourceError) as info:
        update(
            store,
            stages=[Stage("dedupe", lambda s, *, reporter: ran.append("dedupe"))],
            http=fake_http(offline, time=t),
        )
    lines = str(info.value).splitlines()
    assert lines[0].startswith("update failed: all 2 source(s) failed; no version recorded")
    assert [ln.split(":")[0].strip() for ln in lines[1:]] == ["openalex", "crossref"]
    assert lines[1] == (
        "  openalex: cannot connect to api.openalex.org (Temporary failure in name resolution)"
    )
    assert lines[2].startswith("  crossref: cannot connect to api.crossref.org (")
    # two attempts per source, one short backoff each: seconds, not minutes
    assert len(calls) == 4 and sum(t.sleeps) <= 2.0
    assert rows(store, schema.versions) == [] and ran == []
    assert store.runs("update")[0]["status"] == "failed"
    assert update_since(store, ["openalex", "crossref"], 7) == {"openalex": None, "crossref": None}


def _screening_review(tmp_path: Path, mode: str) -> Store:
    proto = tmp_path / "protocol.yaml"
    proto.write_text(
        "name: t\ntitle: T\nquestion: Q?\ndate_range:\n  start: 2019-01-01\n"
        f"screening:\n  mode: {mode}\n"
        "eligibility:\n"
        "  - id: E-OLD\n    description: Before 2020.\n    action: exclude\n"
        "    stage: title_abstract\n    rule:\n      field: year\n      max: 2019\n"
        "search:\n  email: a@b.org\nsources:\n" + OA,
        encoding="utf-8",
    )
    return Store.create(tmp_path / f"review-{mode}", protocol_path=proto)


@pytest.mark.parametrize("mode", ["human", "rules"])
def test_new_works_go_to_screening_or_are_marked_included_by_rules(tmp_path, mode) -> None:
    store = _screening_review(tmp_path, mode)
    keep = [s for s in default_stages() if s.name in ("dedupe", "eligibility")]
    out = update(store, stages=keep, http=fake_http(OpenAlexServer(3)))
    n = out.new_works  # the fake records are near-duplicates: dedupe decides how many
    assert out.mode == mode and out.new_records == 3 and n >= 1
    (v,) = rows(store, schema.versions)
    if mode == "human":
        # the title/abstract rule is for people; every new work waits for them
        assert (out.to_screen, out.included_by_rules) == (n, 0)
        assert out.stages["eligibility"]["excluded"] == 0
        assert v["counts"]["to_screen"] == n
    else:
        assert (out.to_screen, out.included_by_rules) == (0, n)
        assert v["counts"]["included_by_rules"] == n and v["counts"]["mode"] == "rules"
    eligibility = store.runs("eligibility")
    assert len(eligibility) == 1 and eligibility[0]["params"]["mode"] == mode

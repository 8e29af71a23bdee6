"""run_search: provenance in ``searches``, resumable paging, independent sources."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.errors import SourceError
from fmreview.progress import NullReporter
from fmreview.search import run_search
from fmreview.store import Store, schema
from tests.test_search_fakes import (
    ArxivServer,
    CrossrefServer,
    OpenAlexServer,
    PubMedServer,
    S2Server,
    fake_http,
    make_protocol,
)


def memory_store(sources, **extra) -> Store:
    return Store.memory(make_protocol(sources, **extra))


def rows(store, table):
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


class Router:
    """Send each request to the server of its host."""

    def __init__(self, **servers) -> None:
        self.servers = servers

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        for key, server in self.servers.items():
            if key in host:
                return server(request)
        raise AssertionError(f"unexpected host {host}")


def test_search_stores_records_with_provenance() -> None:
    store = memory_store(
        {"openalex": {"query": {"search": "sam"}, "params": {"page_size": 4}}},
        date_range={"start": "2020-01-01"},
    )
    server = OpenAlexServer(10)
    counts = run_search(store, http=fake_http(server))
    oa = counts["openalex"]
    assert (
        oa["status"] == "done"
        and oa["fetched"] == 10
        and oa["added"] == 10
        and oa["total_hits"] == 10
    )
    (search,) = rows(store, schema.searches)
    assert search["source"] == "openalex" and search["status"] == "done"
    assert search["query"] == {"query": {"search": "sam"}, "params": {}, "max": None}
    assert search["url"] == str(server.calls[0].url)
    assert search["since"] == "2020-01-01" and search["until"] is None
    assert search["total_hits"] == 10 and search["fetched"] == 10 and search["cursor"] is None
    assert search["finished_at"] is not None
    recs = rows(store, schema.records)
    assert len(recs) == 10
    assert {r["source"] for r in recs} == {"openalex"} and {r["source_kind"] for r in recs} == {
        "database"
    }
    assert {r["search_id"] for r in recs} == {search["id"]}
    assert {r["origin"] for r in recs} == {"search=sam"} and {r["format"] for r in recs} == {
        "openalex-json"
    }
    (run,) = store.runs("search")
    assert run["status"] == "ok" and run["counts"]["search"]["openalex"]["added"] == 10


def test_rerun_adds_nothing_new() -> None:
    store = memory_store({"crossref": {"query": "x", "params": {"page_size": 3}}})
    run_search(store, http=fake_http(CrossrefServer(7)))
    again = run_search(store, http=fake_http(CrossrefServer(7)))
    assert again["crossref"]["added"] == 0 and again["crossref"]["already_present"] == 7
    assert len(rows(store, schema.records)) == 7 and len(rows(store, schema.searches)) == 2


@pytest.mark.parametrize(
    "server_cls,name,query",
    [
        (OpenAlexServer, "openalex", {"search": "x"}),
        (CrossrefServer, "crossref", "x"),
        (ArxivServer, "arxiv", "all:x"),
        (PubMedServer, "pubmed", "x[tiab]"),
    ],
)
def test_interrupted_search_resumes_without_duplicates_or_gaps(server_cls, name, query) -> None:
    n, per = 11, 3
    sources = {name: {"query": query, "params": {"page_size": per}}}

    whole = memory_store(sources)
    run_search(whole, http=fake_http(server_cls(n)))
    expected = Counter(r["title"] for r in rows(whole, schema.records))
    assert sum(expected.values()) == n

    store = memory_store(sources)
    # PubMed's first request is the ESearch: the third page is the fourth request there
    boom = 4 if name == "pubmed" else 3
    broken = server_cls(n, fail={boom: RuntimeError("network cable pulled")})
    with pytest.raises(RuntimeError, match="cable"):
        run_search(store, http=fake_http(broken))
    (search,) = rows(store, schema.searches)
    assert search["status"] == "failed" and "cable" in search["error"]
    assert search["fetched"] == 2 * per and search["cursor"] is not None
    assert len(rows(store, schema.records)) == 2 * per

    server = server_cls(n)
    counts = run_search(store, http=fake_http(server))
    assert counts[name]["resumed"] is True and counts[name]["status"] == "done"
    got = Counter(r["title"] for r in rows(store, schema.records))
    assert got == expected  # union equals the uninterrupted run, no duplicates
    (search,) = rows(store, schema.searches)
    assert search["status"] == "done" and search["fetched"] == n
    # the resumed search starts at the third page: nothing before it is fetched again
    first = server.calls[0].url.params
    resumed_at = {
        "openalex": first.get("cursor"),
        "crossref": first.get("cursor"),
        "arxiv": first.get("start"),
        "pubmed": first.get("retstart"),
    }[name]
    assert resumed_at in ("c6", "DnF1-6", "6")
    if name == "pubmed":
        assert server.esearches == 0 and first["WebEnv"] == "MCID_1"


def test_interrupted_s2_search_resumes_from_token() -> None:
    sources = {"semantic_scholar": {"query": "x"}}
    store = memory_store(sources)
    with pytest.raises(RuntimeError):
        run_search(store, http=fake_http(S2Server(10, per=3, fail={3: RuntimeError("down")})))
    server = S2Server(10, per=3)
    run_search(store, http=fake_http(server))
    assert [c.url.params.get("token") for c in server.calls] == ["PCO6", "PCO9"]
    assert (
        len({r["s2"] for r in rows(store, schema.records)})
        == 10
        == len(rows(store, schema.records))
    )


def test_failed_source_keeps_others_and_raises_at_the_end() -> None:
    store = memory_store(
        {
            "openalex": {"query": {"search": "x"}, "params": {"page_size": 5}},
            "crossref": {"query": "x", "params": {"page_size": 2}},
        },
        search={"max_retries": 1},
    )
    cr = CrossrefServer(6, fail={2: httpx.Response(503), 3: httpx.Response(503)})
    router = Router(openalex=OpenAlexServer(7), crossref=cr)
    with pytest.raises(SourceError) as info:
        run_search(store, http=fake_http(router, max_retries=1))
    msg = str(info.value)
    assert "1 of 2 source(s) failed" in msg and "crossref" in msg and "HTTP 503" in msg
    counts = info.value.counts  # type: ignore[attr-defined]
    assert counts["openalex"]["status"] == "done" and counts["openalex"]["added"] == 7
    assert counts["crossref"]["status"] == "failed" and counts["crossref"]["added"] == 2
    by_source = Counter(r["source"] for r in rows(store, schema.records))
    assert by_source == {"openalex": 7, "crossref": 2}
    searches = {s["source"]: s for s in rows(store, schema.searches)}
    assert searches["crossref"]["status"] == "failed" and searches["crossref"]["cursor"] == {
        "cursor": "DnF1-2"
    }
    (run,) = store.runs("search")
    assert run["status"] == "failed" and run["counts"]["search"]["openalex"]["added"] == 7
    # next time, crossref resumes from its cursor
    again = run_search(
        store, http=fake_http(Router(openalex=OpenAlexServer(7), crossref=CrossrefServer(6)))
    )
    assert (
        again["crossref"]["resumed"]
        and Counter(r["source"] for r in rows(store, schema.records))["crossref"] == 6
    )


def test_rejected_query_is_recorded_with_source_query_and_message() -> None:
    from tests.test_search_fakes import load_json

    store = memory_store({"openalex": {"query": {"filter": "publication_yeer:2020"}}})
    http = fake_http(lambda r: httpx.Response(400, json=load_json("openalex_error.json")))
    with pytest.raises(SourceError) as info:
        run_search(store, http=http)
    for text in (str(info.value), rows(store, schema.searches)[0]["error"]):
        assert (
            "openalex" in text and "publication_yeer:2020" in text and "not a valid field" in text
        )


def test_since_per_source_and_max() -> None:
    store = memory_store(
        {
            "openalex": {"query": {"search": "x"}, "params": {"page_size": 2}},
            "arxiv": {"query": "all:x", "params": {"page_size": 2}},
        },
        date_range={"start": "2018-01-01"},
    )
    oa, ax = OpenAlexServer(9), ArxivServer(9)
    counts = run_search(
        store,
        http=fake_http(Router(openalex=oa, arxiv=ax)),
        since={"openalex": dt.date(2024, 3, 1), "arxiv": None},
        max=3,
    )
    assert counts["openalex"]["fetched"] == 3 and counts["arxiv"]["fetched"] == 3
    assert "from_publication_date:2024-03-01" in oa.calls[0].url.params["filter"]
    assert "201801010000" in ax.calls[0].url.params["search_query"]
    searches = {s["source"]: s for s in rows(store, schema.searches)}
    assert (
        searches["openalex"]["since"] == "2024-03-01" and searches["arxiv"]["since"] == "2018-01-01"
    )
    assert searches["openalex"]["query"]["max"] == 3


def test_only_selected_sources_and_disabled_ones() -> None:
    store = memory_store(
        {
            "openalex": {"query": {"search": "x"}},
            "crossref": {"query": "x", "enabled": False},
        }
    )
    counts = run_search(store, http=fake_http(Router(openalex=OpenAlexServer(2))))
    assert list(counts) == ["openalex"]
    counts = run_search(
        store, sources=["crossref"], http=fake_http(Router(crossref=CrossrefServer(1)))
    )
    assert list(counts) == ["crossref"]
    with pytest.raises(Exception, match="Unknown source 'wos'"):
        run_search(store, sources=["wos"], http=fake_http(Router()))


def test_no_enabled_source_is_an_input_error() -> None:
    from fmreview.errors import InputError

    store = memory_store({"crossref": {"query": "x", "enabled": False}})
    with pytest.raises(InputError, match="no enabled source"):
        run_search(store, http=fake_http(Router()))


def test_warnings_reach_the_reporter() -> None:
    store = memory_store({"openalex": {"query": {"search": "x"}, "params": {"page_size": 2}}})
    reporter = NullReporter()
    counts = run_search(
        store, http=fake_http(OpenAlexServer(9, repeat_cursor=True)), reporter=reporter
    )
    assert counts["openalex"]["status"] == "done"
    assert any("already given" in m for m in reporter.messages)
    assert any("already given" in w for w in counts["openalex"]["warnings"])


def test_a_changed_query_starts_a_new_search() -> None:
    store = memory_store({"openalex": {"query": {"search": "x"}, "params": {"page_size": 2}}})
    with pytest.raises(RuntimeError):
        run_search(store, http=fake_http(OpenAlexServer(6, fail={2: RuntimeError("x")})))
    store._protocol = make_protocol(
        {"openalex": {"query": {"search": "y"}, "params": {"page_size": 2}}}
    )
    counts = run_search(store, http=fake_http(OpenAlexServer(6)))
    assert counts["openalex"]["resumed"] is False and counts["openalex"]["fetched"] == 6


def test_search_with_the_real_client_factory_and_cache(tmp_path) -> None:
    """Through make_http: the cache in the review folder answers a repeated search."""
    proto = tmp_path / "protocol.yaml"
    proto.write_text(
        "name: t\ntitle: T\nquestion: Q?\nsearch:\n  email: a@b.org\nsources:\n"
        "  openalex:\n    query: x\n    params:\n      page_size: 2\n"
        "  crossref:\n    query: x\n    params:\n      page_size: 2\n",
        encoding="utf-8",
    )
    store = Store.create(tmp_path / "review", protocol_path=proto)
    oa, cr = OpenAlexServer(3), CrossrefServer(3)
    client = httpx.Client(transport=httpx.MockTransport(Router(openalex=oa, crossref=cr)))
    run_search(store, client=client)
    assert len(oa.calls) == 3 and len(cr.calls) == 3
    run_search(store, client=client)
    assert len(oa.calls) == 3  # every OpenAlex page came from .cache/http
    assert len(cr.calls) == 6  # Crossref cursors expire: never replayed from the cache
    assert (tmp_path / "review" / ".cache" / "http").is_dir()
    run_search(store, client=client, cache=False)
    assert len(oa.calls) == 6


# ----------------------------------------------------------------------------- property
_SHARED: dict[str, Store] = {}


def _shared_store() -> Store:
    if "store" not in _SHARED:
        _SHARED["store"] = memory_store({"openalex": {"query": {"search": "seed"}}})
    return _SHARED["store"]


_EXAMPLE = iter(range(1, 10**6))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 25), per=st.integers(1, 6), fail_at=st.integers(1, 9))
def test_resume_after_any_interruption_equals_an_uninterrupted_run(n, per, fail_at) -> None:
    """Property: wherever the network drops, search + resume stores each hit exactly once."""
    store = _shared_store()
    k = next(_EXAMPLE)
    query = {"search": f"example {k}"}
    store._protocol = make_protocol({"openalex": {"query": query, "params": {"page_size": per}}})
    broken = OpenAlexServer(n, start=k * 1000, fail={fail_at: RuntimeError("dropped")})
    try:
        run_search(store, http=fake_http(broken))
    except RuntimeError:
        assert fail_at <= len(broken.calls)
    run_search(store, http=fake_http(OpenAlexServer(n, start=k * 1000)))
    with store.connect() as conn:
        ids = [
            r.openalex
            for r in conn.execute(
                sa.select(schema.records.c.openalex)
                .join(schema.searches, schema.records.c.search_id == schema.searches.c.id)
                .where(schema.searches.c.query["query"]["search"].as_string() == query["search"])
            )
        ]
    assert sorted(ids) == [f"W{4000000000 + k * 1000 + i}" for i in range(n)]


def test_dates_in_params_are_stored_as_text_and_resume_matches() -> None:
    store = memory_store(
        {
            "crossref": {
                "query": "x",
                "params": {"page_size": 2, "until-created": dt.date(2024, 1, 1)},
            }
        }
    )
    with pytest.raises(RuntimeError):
        run_search(store, http=fake_http(CrossrefServer(5, fail={2: RuntimeError("x")})))
    (search,) = rows(store, schema.searches)
    assert search["query"]["params"] == {"until-created": "2024-01-01"}
    counts = run_search(store, http=fake_http(CrossrefServer(5)))
    assert counts["crossref"]["resumed"] is True
    assert len(rows(store, schema.records)) == 5


def test_keyboard_interrupt_leaves_a_resumable_search() -> None:
    store = memory_store({"openalex": {"query": {"search": "x"}, "params": {"page_size": 2}}})
    with pytest.raises(KeyboardInterrupt):
        run_search(store, http=fake_http(OpenAlexServer(6, fail={2: KeyboardInterrupt()})))
    (search,) = rows(store, schema.searches)
    assert search["status"] == "failed" and search["cursor"] == {"cursor": "c2"}
    assert store.runs("search")[0]["status"] == "interrupted"
    counts = run_search(store, http=fake_http(OpenAlexServer(6)))
    assert counts["openalex"]["resumed"] and len(rows(store, schema.records)) == 6

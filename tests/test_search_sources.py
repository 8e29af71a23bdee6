"""Each source client: requests in the API's own syntax, paging, last/empty pages, errors."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from fmreview.errors import InputError, SourceError
from fmreview.search import describe_requests, make_source
from fmreview.search.arxiv import ArxivSource
from fmreview.search.base import as_date
from fmreview.search.crossref import CrossrefSource
from fmreview.search.openalex import OpenAlexSource
from fmreview.search.pubmed import PubMedSource
from fmreview.search.semantic_scholar import SemanticScholarSource
from tests.test_search_fakes import (
    ArxivServer,
    CrossrefServer,
    FakeTime,
    OpenAlexServer,
    PubMedServer,
    S2Server,
    fake_http,
    load_json,
    load_text,
    make_protocol,
    pubmed_efetch,
    pubmed_esearch,
)


def collect(source, http, **kw):
    pages = list(source.pages(http, **kw))
    return pages, [r for p in pages for r in p.records]


# ----------------------------------------------------------------------------- OpenAlex
def test_openalex_cursor_paging_to_the_empty_last_page() -> None:
    server = OpenAlexServer(7)
    src = OpenAlexSource(
        {"search": "segment anything"}, params={"page_size": 3}, email="me@example.org"
    )
    pages, recs = collect(src, fake_http(server))
    assert [len(p.records) for p in pages] == [3, 3, 1, 0]
    assert pages[-1].next_cursor is None and all(p.total == 7 for p in pages)
    assert [r.openalex for r in recs] == [f"W{4000000000 + i}" for i in range(7)]
    assert (
        recs[0].abstract == "Large language models encode clinical knowledge."
    )  # inverted index rebuilt
    cursors = [c.url.params["cursor"] for c in server.calls]
    assert cursors == ["*", "c3", "c6", "c9"]
    assert all(c.url.params["mailto"] == "me@example.org" for c in server.calls)
    assert all(c.url.params["per_page"] == "3" for c in server.calls)


def test_openalex_empty_result() -> None:
    server = OpenAlexServer(0)
    pages, recs = collect(OpenAlexSource("nothing matches"), fake_http(server))
    assert recs == [] and len(pages) == 1 and pages[0].total == 0 and pages[0].next_cursor is None


def test_openalex_filters_dates_and_key() -> None:
    src = OpenAlexSource(
        {"search": "foundation model", "filter": "type:article"},
        params={"sort": "publication_date:asc"},
        api_key="SECRET",
        since=dt.date(2020, 1, 1),
        until=dt.date(2024, 12, 31),
    )
    req = src.request(src.first_cursor(), 100)
    assert (
        req.params["filter"]
        == "type:article,from_publication_date:2020-01-01,to_publication_date:2024-12-31"
    )
    assert req.params["sort"] == "publication_date:asc"
    assert req.secret_params == {"api_key": "SECRET"}
    assert "SECRET" not in req.display_url
    created = OpenAlexSource("x", params={"date_field": "created_date"}, since=dt.date(2024, 5, 1))
    assert created.request({"cursor": "*"}, 10).params["filter"] == "from_created_date:2024-05-01"
    assert "date_field" not in created.request({"cursor": "*"}, 10).params


def test_openalex_key_is_sent_but_not_shown() -> None:
    server = OpenAlexServer(2)
    src = OpenAlexSource("x", api_key="SECRET")
    pages, _ = collect(src, fake_http(server))
    assert server.calls[0].url.params["api_key"] == "SECRET"
    assert all("SECRET" not in p.url for p in pages)


def test_cursor_that_repeats_stops_with_a_warning() -> None:
    server = OpenAlexServer(50, repeat_cursor=True)
    src = OpenAlexSource("x", params={"page_size": 5})
    warnings: list[str] = []
    pages = list(src.pages(fake_http(server), warn=warnings.append))
    assert len(server.calls) == 2  # "*" then "c1", which hands back "c1" again
    assert pages[-1].next_cursor is None
    assert warnings and "already given" in warnings[0] and "openalex" in warnings[0]
    assert pages[-1].warnings == warnings


def test_openalex_400_names_source_query_and_message() -> None:
    body = load_json("openalex_error.json")
    http = fake_http(lambda r: httpx.Response(400, json=body))
    src = OpenAlexSource({"filter": "publication_yeer:2020"})
    with pytest.raises(SourceError) as info:
        list(src.pages(http))
    msg = str(info.value)
    assert "openalex" in msg and "publication_yeer:2020" in msg
    assert "publication_yeer is not a valid field" in msg and "HTTP 400" in msg


def test_max_cuts_pages_and_shrinks_the_last_request() -> None:
    server = OpenAlexServer(30)
    src = OpenAlexSource("x", params={"page_size": 10}, max=13)
    pages, recs = collect(src, fake_http(server))
    assert len(recs) == 13 and pages[-1].next_cursor is None
    assert [c.url.params["per_page"] for c in server.calls] == ["10", "3"]


def test_items_the_parser_rejects_are_skipped_not_fatal() -> None:
    works = OpenAlexServer(3).works
    works[1] = "not a work object"
    http = fake_http(
        lambda r: httpx.Response(
            200, json={"meta": {"count": 3, "next_cursor": None}, "results": works}
        )
    )
    pages, recs = collect(OpenAlexSource("x"), http)
    assert (
        len(recs) == 2 and len(pages[0].skipped) == 1 and "openalex item 2" in pages[0].skipped[0]
    )


# ----------------------------------------------------------------------------- Crossref
def test_crossref_cursor_paging_ends_on_empty_items() -> None:
    server = CrossrefServer(5)
    src = CrossrefSource(
        "foundation model",
        params={"page_size": 2},
        email="me@example.org",
        since=dt.date(2021, 1, 1),
    )
    pages, recs = collect(src, fake_http(server))
    assert [len(p.records) for p in pages] == [2, 2, 1, 0]
    assert [r.doi for r in recs] == [f"10.5555/cr.{i}" for i in range(5)]
    first = server.calls[0].url.params
    assert first["cursor"] == "*" and first["rows"] == "2" and first["mailto"] == "me@example.org"
    assert first["filter"] == "from-pub-date:2021-01-01" and first["query"] == "foundation model"
    assert pages[0].total == 5


def test_crossref_mapping_query_and_index_dates() -> None:
    src = CrossrefSource(
        {"query.bibliographic": "sam", "filter": "type:journal-article"},
        params={"date_field": "index"},
        since=dt.date(2024, 1, 1),
        until=dt.date(2024, 2, 1),
    )
    p = src.request(src.first_cursor(), 5).params
    assert p["query.bibliographic"] == "sam"
    assert (
        p["filter"] == "type:journal-article,from-index-date:2024-01-01,until-index-date:2024-02-01"
    )


def test_crossref_400_message() -> None:
    body = load_json("crossref_error.json")
    http = fake_http(lambda r: httpx.Response(400, json=body))
    with pytest.raises(SourceError) as info:
        list(CrossrefSource("x", params={"filter": "from-pub-dat:2020"}).pages(http))
    assert "crossref rejected the query 'x'" in str(info.value)
    assert "Filter from-pub-dat specified but there is no such filter" in str(info.value)


# ----------------------------------------------------------------------------- Semantic Scholar
def test_s2_token_paging_with_key_header_and_dates() -> None:
    server = S2Server(7, per=3)
    src = SemanticScholarSource(
        '"foundation model" + medical', api_key="S2KEY", since=dt.date(2022, 1, 1)
    )
    pages, recs = collect(src, fake_http(server))
    assert [len(p.records) for p in pages] == [3, 3, 1]
    assert len({r.s2 for r in recs}) == 7
    assert [c.url.params.get("token") for c in server.calls] == [None, "PCO3", "PCO6"]
    assert all(c.headers["x-api-key"] == "S2KEY" for c in server.calls)
    assert server.calls[0].url.params["publicationDateOrYear"] == "2022-01-01:"
    assert "abstract" in server.calls[0].url.params["fields"]
    assert pages[0].total == 7


def test_s2_query_must_be_a_string() -> None:
    with pytest.raises(InputError, match="semantic_scholar takes one query string"):
        SemanticScholarSource({"search": "x"}).first_url()


def test_s2_429_storm_then_success() -> None:
    server = S2Server(
        2,
        fail={
            1: httpx.Response(429, headers={"Retry-After": "1"}),
            2: httpx.Response(429, headers={"Retry-After": "1"}),
        },
    )
    t = FakeTime()
    http = fake_http(server, time=t)
    _, recs = collect(SemanticScholarSource("x"), http)
    assert len(recs) == 2
    assert [w for _, r, w in http.waits if r == "retry"] == [1.0, 1.0]


# ----------------------------------------------------------------------------- arXiv
def test_arxiv_start_paging_with_rate_limit() -> None:
    server = ArxivServer(5)
    t = FakeTime()
    http = fake_http(server, time=t)
    src = ArxivSource('all:"segment anything"', params={"page_size": 2})
    pages, recs = collect(src, http)
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [r.arxiv for r in recs] == [f"2304.{10000 + i}" for i in range(5)]  # no version suffix
    assert [c.url.params["start"] for c in server.calls] == ["0", "2", "4"]
    assert server.calls[0].url.params["sortBy"] == "submittedDate"
    assert [w for _, r, w in http.waits if r == "rate limit"] == pytest.approx([3.0, 3.0])
    assert pages[0].total == 5


def test_arxiv_dates_in_query() -> None:
    src = ArxivSource("cat:eess.IV", since=dt.date(2023, 1, 2))
    q = src.request(src.first_cursor(), 10).params["search_query"]
    assert q == "(cat:eess.IV) AND submittedDate:[202301020000 TO 209912312359]"
    both = ArxivSource("ti:sam", since=dt.date(2023, 1, 1), until=dt.date(2023, 12, 31))
    assert both.search_query().endswith("[202301010000 TO 202312312359]")


def test_arxiv_error_feed_names_query_and_message() -> None:
    body = load_text("arxiv_error.xml").encode()
    for status in (200, 400):
        http = fake_http(lambda r, s=status: httpx.Response(s, content=body))
        with pytest.raises(SourceError) as info:
            list(ArxivSource("ti:(").pages(http))
        assert "arxiv" in str(info.value) and "ti:(" in str(info.value)
        assert "unbalanced parentheses" in str(info.value)


def test_arxiv_spurious_empty_page_is_asked_again() -> None:
    from tests.test_search_fakes import arxiv_feed, arxiv_ids

    empty = httpx.Response(200, content=arxiv_feed([], start=2, total=4))
    server = ArxivServer(4, fail={2: empty})
    src = ArxivSource("x", params={"page_size": 2})
    pages, recs = collect(src, fake_http(server))
    assert [r.arxiv for r in recs] == arxiv_ids(4)
    assert len(server.calls) == 3


def test_arxiv_persistent_empty_page_stops_with_warning() -> None:
    from tests.test_search_fakes import arxiv_feed

    server = ArxivServer(4)
    real = server.respond

    def respond(request):
        if request.url.params["start"] == "2":
            return httpx.Response(200, content=arxiv_feed([], start=2, total=4))
        return real(request)

    server.respond = respond  # type: ignore[method-assign]
    pages, recs = collect(ArxivSource("x", params={"page_size": 2}), fake_http(server))
    assert len(recs) == 2
    assert "stopped early" in pages[-1].warnings[0]


# ----------------------------------------------------------------------------- PubMed
def test_pubmed_history_server_then_efetch_batches() -> None:
    server = PubMedServer(5)
    t = FakeTime()
    http = fake_http(server, time=t)
    src = PubMedSource(
        '"foundation model"[tiab]',
        params={"page_size": 2},
        email="me@example.org",
        since=dt.date(2020, 1, 1),
    )
    pages, recs = collect(src, http)
    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [r.pmid for r in recs] == [str(38000000 + i) for i in range(5)]
    es = server.calls[0].url.params
    assert server.calls[0].url.path.endswith("/esearch.fcgi")
    assert es["usehistory"] == "y" and es["retmode"] == "json" and es["tool"] == "fmreview"
    assert es["mindate"] == "2020/01/01" and es["maxdate"] == "3000" and es["datetype"] == "pdat"
    fetches = server.calls[1:]
    assert [c.url.params["retstart"] for c in fetches] == ["0", "2", "4"]
    assert all(
        c.url.params["WebEnv"] == "MCID_1" and c.url.params["query_key"] == "1" for c in fetches
    )
    assert pages[0].total == 5
    # 3 requests per second without a key
    assert all(w == pytest.approx(1 / 3) for _, r, w in http.waits if r == "rate limit")


def test_pubmed_api_key_raises_the_rate_and_stays_secret() -> None:
    src = PubMedSource("x", api_key="NCBIKEY")
    assert src.requests_per_second == 10.0 and PubMedSource("x").requests_per_second == 3.0
    server = PubMedServer(1)
    pages, _ = collect(src, fake_http(server))
    assert all(c.url.params["api_key"] == "NCBIKEY" for c in server.calls)
    assert "NCBIKEY" not in src.first_url() and all("NCBIKEY" not in p.url for p in pages)


def test_pubmed_zero_hits_fetches_nothing() -> None:
    server = PubMedServer(0)
    pages, recs = collect(PubMedSource("zzzz"), fake_http(server))
    assert recs == [] and len(server.calls) == 1 and pages[0].total == 0


def test_pubmed_esearch_error_names_query() -> None:
    body = load_text("pubmed_esearch_error.json").encode()
    http = fake_http(lambda r: httpx.Response(200, content=body))
    with pytest.raises(SourceError) as info:
        list(PubMedSource('"foundation model[tiab]').pages(http))
    assert "pubmed rejected the query" in str(info.value) and "unmatched quote" in str(info.value)


def test_pubmed_malformed_batch_is_retried_then_succeeds() -> None:
    bad = httpx.Response(200, content=pubmed_efetch(["38000002"])[:-40])
    server = PubMedServer(3, fail={3: bad})
    src = PubMedSource("x", params={"page_size": 2})
    _, recs = collect(src, fake_http(server))
    assert [r.pmid for r in recs] == ["38000000", "38000001", "38000002"]


def test_pubmed_always_malformed_batch_fails_keeping_earlier_pages() -> None:
    server = PubMedServer(4)
    real = server.respond

    def respond(request):
        if request.url.params.get("retstart") == "2":
            return httpx.Response(
                200, content=b"<PubmedArticleSet><PubmedArticle><MedlineCitation>"
            )
        return real(request)

    server.respond = respond  # type: ignore[method-assign]
    got = []
    with pytest.raises(SourceError, match=r"pubmed failed after 3 attempt\(s\).*malformed XML"):
        for page in PubMedSource("x", params={"page_size": 2}).pages(
            fake_http(server, max_retries=2)
        ):
            got.extend(page.records)
    assert [r.pmid for r in got] == ["38000000", "38000001"]


def test_pubmed_expired_webenv_is_searched_again() -> None:
    server = PubMedServer(4, webenv="MCID_NEW")
    src = PubMedSource("x", params={"page_size": 2})
    cursor = {"webenv": "MCID_OLD", "query_key": "1", "retstart": 2, "count": 4}
    pages, recs = collect(src, fake_http(server), cursor=cursor)
    assert [r.pmid for r in recs] == ["38000002", "38000003"]
    assert server.esearches == 1


def test_pubmed_esearch_warning_is_reported() -> None:
    data = json.loads(pubmed_esearch(0))
    data["esearchresult"]["warninglist"] = {
        "phrasesignored": ["the"],
        "quotedphrasesnotfound": [],
        "outputmessages": [],
    }
    http = fake_http(lambda r: httpx.Response(200, json=data))
    pages, _ = collect(PubMedSource("the x"), http)
    assert any("phrasesignored: the" in w for w in pages[0].warnings)


# ----------------------------------------------------------------------------- protocol
def test_make_source_reads_protocol_dates_caps_and_key_env() -> None:
    p = make_protocol(
        {"pubmed": {"query": "x", "max": 50}, "openalex": {"query": {"search": "y"}}},
        date_range={"start": "2019-01-01", "end": "2024-06-30"},
        search={"email": "a@b.org", "api_keys": {"pubmed": "NCBI_API_KEY"}},
    )
    src = make_source(
        p, "pubmed", since=dt.date(2023, 1, 1), max=10, environ={"NCBI_API_KEY": "k1"}
    )
    assert src.since == dt.date(2023, 1, 1) and src.until == dt.date(2024, 6, 30)
    assert src.max == 10 and src.api_key == "k1" and src.email == "a@b.org"
    early = make_source(p, "pubmed", since=dt.date(2010, 1, 1), environ={})
    assert early.since == dt.date(2019, 1, 1) and early.max == 50 and early.api_key is None
    with pytest.raises(Exception, match="Unknown source 'scopus'; available: arxiv"):
        make_source(p, "scopus")
    with pytest.raises(Exception, match="crossref"):
        make_source(p, "crossref")


def test_describe_requests_gives_the_exact_first_urls() -> None:
    p = make_protocol(
        {
            "openalex": {"query": {"search": "foundation model", "filter": "type:article"}},
            "arxiv": {"query": 'all:"foundation model"'},
            "pubmed": {"query": '"foundation model"[tiab]'},
            "semantic_scholar": {"query": "foundation model"},
            "crossref": {"query": "foundation model", "enabled": False},
        },
        date_range={"start": "2018-01-01"},
        search={"email": "a@b.org", "api_keys": {"pubmed": "NCBI_API_KEY"}},
    )
    urls = describe_requests(p)
    assert list(urls) == ["openalex", "arxiv", "pubmed", "semantic_scholar"]
    oa = httpx.URL(urls["openalex"])
    assert oa.host == "api.openalex.org" and oa.params["cursor"] == "*"
    assert oa.params["filter"] == "type:article,from_publication_date:2018-01-01"
    assert (
        httpx.URL(urls["arxiv"])
        .params["search_query"]
        .startswith('(all:"foundation model") AND submittedDate:')
    )
    assert httpx.URL(urls["pubmed"]).path.endswith("esearch.fcgi")
    assert "api_key" not in urls["pubmed"]
    # the URL described is the URL sent
    server = OpenAlexServer(1)
    src = make_source(p, "openalex")
    list(src.pages(fake_http(server)))
    assert str(server.calls[0].url) == urls["openalex"]


def test_as_date_forms() -> None:
    assert as_date("2024") == dt.date(2024, 1, 1)
    assert as_date("2024-03") == dt.date(2024, 3, 1)
    assert as_date("2024-03-05T10:00:00") == dt.date(2024, 3, 5)
    assert as_date(dt.datetime(2024, 1, 2, 3)) == dt.date(2024, 1, 2)
    assert as_date(None) is None
    with pytest.raises(InputError, match="expected YYYY-MM-DD"):
        as_date("last tuesday")


def test_401_suggests_the_api_key_setting() -> None:
    http = fake_http(lambda r: httpx.Response(401, json={"error": "API key required"}))
    with pytest.raises(SourceError) as info:
        list(OpenAlexSource("x").pages(http))
    assert "search.api_keys.openalex" in str(info.value) and "API key required" in str(info.value)


def test_pubmed_warns_beyond_its_retrieval_limit() -> None:
    http = fake_http(lambda r: httpx.Response(200, content=pubmed_esearch(25000)))
    src = PubMedSource("x")
    count, webenv, key, warnings = src.esearch(http)
    assert count == 25000 and webenv and key == "1"
    assert "10,000" in warnings[0] and "split the date range" in warnings[0]


def test_pubmed_expired_webenv_as_http_400_is_searched_again() -> None:
    server = PubMedServer(4, webenv="MCID_NEW")
    real = server.respond

    def respond(request):
        if request.url.params.get("WebEnv") == "MCID_OLD":
            return httpx.Response(400, json={"error": "Unable to obtain query #1"})
        return real(request)

    server.respond = respond  # type: ignore[method-assign]
    cursor = {"webenv": "MCID_OLD", "query_key": "1", "retstart": 2, "count": 4}
    pages, recs = collect(
        PubMedSource("x", params={"page_size": 2}), fake_http(server), cursor=cursor
    )
    assert [r.pmid for r in recs] == ["38000002", "38000003"] and server.esearches == 1


def test_pubmed_efetch_error_other_than_history_fails_clearly() -> None:
    server = PubMedServer(4)
    real = server.respond

    def respond(request):
        if "efetch" in request.url.path:
            return httpx.Response(
                200,
                content=b"<eFetchResult><ERROR>Database is not supported</ERROR></eFetchResult>",
            )
        return real(request)

    server.respond = respond  # type: ignore[method-assign]
    with pytest.raises(
        SourceError, match="pubmed EFetch failed at retstart=0: Database is not supported"
    ):
        list(PubMedSource("x").pages(fake_http(server)))


def test_pubmed_esearch_http_400_names_query() -> None:
    http = fake_http(lambda r: httpx.Response(400, json={"error": "Invalid term"}))
    with pytest.raises(SourceError) as info:
        list(PubMedSource("((x").pages(http))
    assert "pubmed rejected the query '((x'" in str(info.value) and "Invalid term" in str(
        info.value
    )


def test_openalex_403_rate_limit_is_retried() -> None:
    server = OpenAlexServer(2, fail={1: httpx.Response(403, json={"error": "Rate limit exceeded"})})
    _, recs = collect(OpenAlexSource("x"), fake_http(server))
    assert len(recs) == 2 and len(server.calls) == 3  # 403, page, empty last page


def test_other_sources_do_not_retry_403() -> None:
    server = CrossrefServer(2, fail={1: httpx.Response(403, text="Forbidden")})
    with pytest.raises(SourceError, match="crossref refused access"):
        list(CrossrefSource("x").pages(fake_http(server)))
    assert len(server.calls) == 1


def test_empty_date_window_is_an_input_error() -> None:
    p = make_protocol({"openalex": {"query": {"search": "x"}}}, date_range={"end": "2020-12-31"})
    with pytest.raises(InputError, match="window for openalex is empty: it starts 2024-01-01"):
        make_source(p, "openalex", since=dt.date(2024, 1, 1))
    assert make_source(p, "openalex", until=dt.date(2019, 1, 1)).until == dt.date(2019, 1, 1)
    assert make_source(p, "openalex", until=dt.date(2023, 1, 1)).until == dt.date(2020, 12, 31)


def test_enabled_sources_checks_names() -> None:
    from fmreview.search import enabled_sources

    p = make_protocol({"arxiv": {"query": "x"}, "pubmed": {"query": "y", "enabled": False}})
    assert enabled_sources(p) == ["arxiv"]
    assert enabled_sources(p, ["pubmed"]) == ["pubmed"]  # asked for by name: run even if disabled
    with pytest.raises(Exception, match="Unknown source in this protocol 'crossref'"):
        enabled_sources(p, ["crossref"])


def test_join_filters_drops_repeats_only() -> None:
    from fmreview.search.base import join_filters

    assert join_filters(["a:1,b:2", "b:2", "c:3"]) == "a:1,b:2,c:3"
    assert join_filters([]) is None
    assert join_filters(
        ["from_publication_date:2020-01-01", "from_publication_date:2024-01-01"]
    ) == ("from_publication_date:2020-01-01,from_publication_date:2024-01-01")

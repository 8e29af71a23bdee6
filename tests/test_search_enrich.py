"""enrich: missing abstracts fetched by identifier, stored as new, linked records."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from fmreview.errors import InputError
from fmreview.record import Record
from fmreview.search import enrich
from fmreview.store import Store, add_records, schema
from tests.test_search_fakes import (
    arxiv_feed,
    crossref_items,
    fake_http,
    make_protocol,
    openalex_works,
    pubmed_efetch,
)


def rows(store):
    with store.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(sa.select(schema.records).order_by(schema.records.c.id))
        ]


class Lookups:
    """Answers identifier lookups the way each API does."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        host, p = request.url.host, request.url.params
        if "arxiv" in host:
            ids = p["id_list"].split(",")
            return httpx.Response(200, content=arxiv_feed(ids, start=0, total=len(ids)))
        if "ncbi" in host:
            return httpx.Response(200, content=pubmed_efetch(p["id"].split(",")))
        if "openalex" in host:
            dois = p["filter"].removeprefix("doi:").split("|")
            works = [
                w for w in openalex_works(10) if w["doi"].removeprefix("https://doi.org/") in dois
            ]
            return httpx.Response(
                200, json={"meta": {"count": len(works), "next_cursor": None}, "results": works}
            )
        if "crossref" in host:
            dois = [f.removeprefix("doi:") for f in p["filter"].split(",")]
            items = [i for i in crossref_items(10) if i["DOI"] in dois]
            return httpx.Response(
                200, json={"status": "ok", "message": {"total-results": len(items), "items": items}}
            )
        raise AssertionError(request.url)


@pytest.fixture
def store():
    s = Store.memory(make_protocol({"openalex": {"query": {"search": "x"}}}))
    recs = [
        Record(title="A preprint", arxiv="2304.10000"),
        Record(title="A PubMed paper", pmid="38000000"),
        Record(title="An OpenAlex paper", doi="10.5555/fm.1"),
        Record(title="A Crossref paper", doi="10.5555/cr.2"),
        Record(title="Nobody has it", doi="10.9999/none"),
        Record(title="Known elsewhere", doi="10.5555/fm.3"),
        Record(
            title="Known elsewhere, with abstract", doi="10.5555/fm.3", abstract="Already here."
        ),
        Record(title="Has abstract", doi="10.5555/fm.4", abstract="Present."),
        Record(title="No identifier at all"),
    ]
    with s.run("import") as run:
        add_records(s, recs, source="export.ris", source_kind="file", run_id=run.id)
    yield s
    s.close()


def test_enrich_fills_abstracts_from_each_source(store) -> None:
    server = Lookups()
    counts = enrich(store, http=fake_http(server))
    assert counts["candidates"] == 5
    assert counts["looked_up"] == {"arxiv": 1, "pubmed": 1, "openalex": 3, "crossref": 2}
    assert counts["filled"] == {"arxiv": 1, "pubmed": 1, "openalex": 1, "crossref": 1}
    assert counts["new_records"] == 4 and counts["still_missing"] == 1
    new = [r for r in rows(store) if r["source_kind"] == "enrichment"]
    by_source = {r["source"]: r for r in new}
    assert set(by_source) == {"arxiv", "pubmed", "openalex", "crossref"}
    originals = {r["title"]: r["id"] for r in rows(store) if r["source_kind"] == "file"}
    e = by_source["pubmed"]["extra"]["enrichment"]
    assert (
        e["lookup"] == "pmid"
        and e["id"] == "38000000"
        and e["for_records"] == [originals["A PubMed paper"]]
    )
    assert "abstract" in e["filled"] and "doi" in e["filled"]
    assert by_source["pubmed"]["abstract"].startswith("BACKGROUND")
    assert by_source["openalex"]["extra"]["enrichment"]["for_records"] == [
        originals["An OpenAlex paper"]
    ]
    assert by_source["crossref"]["doi"] == "10.5555/cr.2"
    assert by_source["arxiv"]["extra"]["enrichment"]["lookup"] == "arxiv"
    # records are never edited
    with_abstract = {"Known elsewhere, with abstract", "Has abstract"}
    assert all(
        r["abstract"] == ""
        for r in rows(store)
        if r["source_kind"] == "file" and r["title"] not in with_abstract
    )
    # the OpenAlex lookup asked for all DOIs in one request, Crossref only for what was left
    oa = [c for c in server.calls if "openalex" in c.url.host]
    assert len(oa) == 1 and sorted(oa[0].url.params["filter"].removeprefix("doi:").split("|")) == [
        "10.5555/cr.2",
        "10.5555/fm.1",
        "10.9999/none",
    ]
    cr = [c for c in server.calls if "crossref" in c.url.host]
    assert sorted(cr[0].url.params["filter"].split(",")) == ["doi:10.5555/cr.2", "doi:10.9999/none"]
    (run,) = store.runs("enrich")
    assert run["status"] == "ok" and run["counts"]["new_records"] == 4


def test_enrich_twice_looks_up_only_what_is_still_missing(store) -> None:
    enrich(store, http=fake_http(Lookups()))
    server = Lookups()
    counts = enrich(store, http=fake_http(server))
    assert counts["candidates"] == 1 and counts["new_records"] == 0
    assert {c.url.host for c in server.calls} == {"api.openalex.org", "api.crossref.org"}


def test_enrich_source_failure_is_reported_and_others_continue(store) -> None:
    inner = Lookups()

    def handler(request: httpx.Request) -> httpx.Response:
        if "ncbi" in request.url.host:
            return httpx.Response(503)
        return inner(request)

    counts = enrich(store, http=fake_http(handler, max_retries=1))
    assert "pubmed" in counts["errors"] and "HTTP 503" in counts["errors"]["pubmed"]
    assert counts["filled"]["openalex"] == 1 and counts["still_missing"] == 2


def test_enrich_only_some_sources_and_limit(store) -> None:
    server = Lookups()
    counts = enrich(store, sources=["pubmed"], http=fake_http(server))
    assert counts["looked_up"] == {"pubmed": 1} and counts["new_records"] == 1
    counts = enrich(store, sources=["openalex"], limit=1, http=fake_http(server))
    assert counts["candidates"] == 1
    with pytest.raises(InputError, match="cannot look up abstracts in 'scopus'"):
        enrich(store, sources=["scopus"], http=fake_http(server))


def test_enrich_keeps_api_keys_out_of_urls(store) -> None:
    store._protocol = make_protocol(
        {"openalex": {"query": {"search": "x"}}}, search={"api_keys": {"pubmed": "NCBI_KEY"}}
    )
    server = Lookups()
    enrich(store, sources=["pubmed"], http=fake_http(server), environ={"NCBI_KEY": "k-123"})
    assert server.calls[0].url.params["api_key"] == "k-123"

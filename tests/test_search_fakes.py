"""Fakes shared by the search tests: a fake clock, paging servers for each API, protocols.

Every response is built from the small documented-format samples in ``data/search``.
Nothing here touches the network: servers are ``httpx.MockTransport`` handlers.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fmreview.protocol.model import Protocol
from fmreview.search.http import HttpClient, ResponseCache

DATA = Path(__file__).resolve().parent / "data" / "search"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def load_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; every sleep is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def fake_http(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    time: FakeTime | None = None,
    cache: ResponseCache | None = None,
    **kwargs: Any,
) -> HttpClient:
    time = time or FakeTime()
    return HttpClient(
        httpx.Client(transport=httpx.MockTransport(handler)),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(0),
        cache=cache,
        **kwargs,
    )


def make_protocol(sources: dict[str, Any], **extra: Any) -> Protocol:
    data: dict[str, Any] = {
        "name": "test-review",
        "title": "Test review",
        "question": "Does it work?",
        "search": {"email": "reviewer@example.org"},
        "sources": sources,
    }
    data.update(extra)
    return Protocol.model_validate(data)


# ----------------------------------------------------------------------------- records
def openalex_works(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = load_json("openalex_work.json")
    out = []
    for i in range(start, start + n):
        w = copy.deepcopy(base)
        wid = f"W{4000000000 + i}"
        w["id"] = w["ids"]["openalex"] = f"https://openalex.org/{wid}"
        w["doi"] = w["ids"]["doi"] = f"https://doi.org/10.5555/fm.{i}"
        w["ids"].pop("pmid", None)
        w["title"] = w["display_name"] = f"Foundation model study number {i}"
        out.append(w)
    return out


def crossref_items(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = load_json("crossref_item.json")
    out = []
    for i in range(start, start + n):
        it = copy.deepcopy(base)
        it["DOI"] = f"10.5555/cr.{i}"
        it["URL"] = f"https://doi.org/10.5555/cr.{i}"
        it["title"] = [f"Crossref foundation model paper {i}"]
        out.append(it)
    return out


def s2_papers(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = load_json("s2_paper.json")
    out = []
    for i in range(start, start + n):
        p = copy.deepcopy(base)
        p["paperId"] = f"{i:040x}"
        p["externalIds"] = {"DOI": f"10.5555/s2.{i}", "CorpusId": 1000 + i}
        p["title"] = f"Semantic Scholar paper {i}"
        out.append(p)
    return out


def arxiv_ids(n: int, start: int = 0) -> list[str]:
    return [f"2304.{10000 + i}" for i in range(start, start + n)]


def arxiv_feed(ids: list[str], *, start: int, total: int) -> bytes:
    head = (
        load_text("arxiv_feed_head.xml")
        .replace("{START}", str(start))
        .replace("{TOTAL}", str(total))
    )
    entry = load_text("arxiv_entry.xml")
    body = "".join(
        entry.replace("{ID}", i).replace("{TITLE}", f"Segment anything in medical images {i}")
        for i in ids
    )
    return (head + body + "</feed>\n").encode("utf-8")


def pubmed_esearch(count: int, webenv: str = "MCID_65a1b2c3d4e5f60718293a4b") -> bytes:
    text = load_text("pubmed_esearch.json").replace("{COUNT}", str(count))
    return text.replace("MCID_65a1b2c3d4e5f60718293a4b", webenv).encode("utf-8")


def pubmed_efetch(pmids: list[str]) -> bytes:
    art = load_text("pubmed_article.xml")
    body = "".join(
        art.replace("{PMID}", p).replace("{TITLE}", f"Segment anything in medical images ({p})")
        for p in pmids
    )
    return (
        '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
        '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n'
        + body
        + "</PubmedArticleSet>\n"
    ).encode("utf-8")


def pmids(n: int, start: int = 0) -> list[str]:
    return [str(38000000 + i) for i in range(start, start + n)]


# ----------------------------------------------------------------------------- servers
class Server:
    """A MockTransport handler that pages through ``n`` items of one API.

    ``fail`` maps a 1-based request number to an exception to raise or a response to send
    instead; ``calls`` records every request.
    """

    def __init__(self, n: int, *, fail: dict[int, Any] | None = None) -> None:
        self.n = n
        self.fail = fail or {}
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        k = len(self.calls)
        if k in self.fail:
            f = self.fail[k]
            if isinstance(f, BaseException):
                raise f
            if isinstance(f, httpx.Response):
                return f
        return self.respond(request)

    def respond(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def param(self, request: httpx.Request, name: str, default: str | None = None) -> str | None:
        return request.url.params.get(name, default)


class OpenAlexServer(Server):
    """Cursor paging: ``*`` is offset 0, ``c<k>`` offset k; the last page is empty."""

    def __init__(self, n: int, *, repeat_cursor: bool = False, start: int = 0, **kw: Any) -> None:
        super().__init__(n, **kw)
        self.works = openalex_works(n, start)
        self.repeat_cursor = repeat_cursor

    def respond(self, request: httpx.Request) -> httpx.Response:
        cursor = self.param(request, "cursor", "*")
        per = int(self.param(request, "per_page", "25") or 25)
        off = 0 if cursor == "*" else int(str(cursor)[1:])
        page = self.works[off : off + per]
        nxt = None if not page else ("c1" if self.repeat_cursor and off > 0 else f"c{off + per}")
        if self.repeat_cursor and off == 0:
            nxt = "c1"
        return httpx.Response(
            200,
            json={
                "meta": {
                    "count": self.n,
                    "db_response_time_ms": 12,
                    "page": None,
                    "per_page": per,
                    "next_cursor": nxt,
                },
                "results": page,
                "group_by": [],
            },
        )


class CrossrefServer(Server):
    def __init__(self, n: int, **kw: Any) -> None:
        super().__init__(n, **kw)
        self.items = crossref_items(n)

    def respond(self, request: httpx.Request) -> httpx.Response:
        cursor = self.param(request, "cursor", "*")
        rows = int(self.param(request, "rows", "20") or 20)
        off = 0 if cursor == "*" else int(str(cursor).split("-")[1])
        page = self.items[off : off + rows]
        return httpx.Response(
            200,
            json={
                "status": "ok",
                "message-type": "work-list",
                "message-version": "1.0.0",
                "message": {
                    "facets": {},
                    "total-results": self.n,
                    "items": page,
                    "items-per-page": rows,
                    "query": {"start-index": 0, "search-terms": self.param(request, "query")},
                    "next-cursor": f"DnF1-{off + rows}",
                },
            },
        )


class S2Server(Server):
    def __init__(self, n: int, *, per: int = 3, **kw: Any) -> None:
        super().__init__(n, **kw)
        self.papers = s2_papers(n)
        self.per = per

    def respond(self, request: httpx.Request) -> httpx.Response:
        token = self.param(request, "token")
        off = int(token[3:]) if token else 0
        page = self.papers[off : off + self.per]
        nxt = off + self.per
        body: dict[str, Any] = {"total": self.n, "data": page}
        if nxt < self.n:
            body["token"] = f"PCO{nxt}"
        return httpx.Response(200, json=body)


class ArxivServer(Server):
    def __init__(self, n: int, **kw: Any) -> None:
        super().__init__(n, **kw)
        self.ids = arxiv_ids(n)

    def respond(self, request: httpx.Request) -> httpx.Response:
        start = int(self.param(request, "start", "0") or 0)
        per = int(self.param(request, "max_results", "10") or 10)
        return httpx.Response(
            200,
            content=arxiv_feed(self.ids[start : start + per], start=start, total=self.n),
            headers={"content-type": "application/atom+xml"},
        )


class PubMedServer(Server):
    def __init__(self, n: int, *, webenv: str = "MCID_1", **kw: Any) -> None:
        super().__init__(n, **kw)
        self.pmids = pmids(n)
        self.webenv = webenv
        self.esearches = 0

    def respond(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("esearch.fcgi"):
            self.esearches += 1
            return httpx.Response(200, content=pubmed_esearch(self.n, self.webenv))
        if self.param(request, "WebEnv") != self.webenv:
            return httpx.Response(
                200,
                content=b'<?xml version="1.0" ?>\n<eFetchResult>\n\t<ERROR>Unable to obtain query #1</ERROR>\n</eFetchResult>\n',
            )
        start = int(self.param(request, "retstart", "0") or 0)
        per = int(self.param(request, "retmax", "20") or 20)
        return httpx.Response(200, content=pubmed_efetch(self.pmids[start : start + per]))


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def test_fake_time_moves_only_when_sleeping() -> None:
    t = FakeTime(5.0)
    assert t.clock() == 5.0
    t.sleep(2.5)
    assert t.clock() == 7.5 and t.sleeps == [2.5]


def test_samples_are_well_formed() -> None:
    from lxml import etree

    for name in (
        "openalex_work.json",
        "crossref_item.json",
        "s2_paper.json",
        "pubmed_esearch_error.json",
    ):
        load_json(name)
    etree.fromstring(arxiv_feed(arxiv_ids(2), start=0, total=2))
    etree.fromstring(pubmed_efetch(pmids(2)))
    etree.fromstring(load_text("arxiv_error.xml").encode())
    assert json.loads(pubmed_esearch(7))["esearchresult"]["count"] == "7"

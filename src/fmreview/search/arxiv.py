"""arXiv search through its Atom API: ``start``/``max_results`` paging, one request per 3 s.

Request (arXiv API User's Manual, section 3.1)::

    GET https://export.arxiv.org/api/query?search_query=...&start=0&max_results=200
        &sortBy=submittedDate&sortOrder=ascending

The answer is an Atom feed with ``opensearch:totalResults``; records are parsed by
:func:`fmreview.formats.parse_arxiv_feed` (version-less ids). The manual asks for a
3-second pause between calls, which the rate limiter enforces. Results are sorted by
submission date, ascending, so papers submitted while paging land at the end instead of
shifting the pages already read. Dates become ``submittedDate:[YYYYMMDD0000 TO YYYYMMDD2359]``.

arXiv now and then answers a page with no entries although more remain; such a page is
asked for again (without the cache) before giving up with a warning.
"""

from __future__ import annotations

import datetime as dt

from fmreview.errors import SourceError
from fmreview.search.base import Cursor, SearchPage, Source
from fmreview.search.http import HttpClient, Request, parse_xml

BASE_URL = "https://export.arxiv.org/api/query"
_ATOM = "{http://www.w3.org/2005/Atom}"
#: Open end of a date window (arXiv's range query needs both ends).
_OPEN_START = dt.date(1991, 1, 1)
_OPEN_END = dt.date(2099, 12, 31)
EMPTY_PAGE_RETRIES = 2


class ArxivSource(Source):
    name = "arxiv"
    rate = 1 / 3  # "no more than one request every three seconds"
    page_size = 200  # the manual allows up to 2,000 per call; smaller pages fail less
    format = "arxiv-atom"

    def first_cursor(self) -> Cursor:
        return {"start": 0}

    def search_query(self) -> str:
        q = self.query_string
        if self.since or self.until:
            lo = (self.since or _OPEN_START).strftime("%Y%m%d") + "0000"
            hi = (self.until or _OPEN_END).strftime("%Y%m%d") + "2359"
            q = f"({q}) AND submittedDate:[{lo} TO {hi}]"
        return q

    def request(self, cursor: Cursor, limit: int) -> Request:
        extra = self.extra_params()
        params = {
            "search_query": self.search_query(),
            "start": int(cursor.get("start", 0)),
            "max_results": limit,
            "sortBy": extra.pop("sortBy", "submittedDate"),
            "sortOrder": extra.pop("sortOrder", "ascending"),
            **extra,
        }
        return Request(BASE_URL, params, kind="xml")

    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        from fmreview.formats import arxiv_total_results, parse_arxiv_feed

        root = parse_xml(content)
        entries = root.findall(f"{_ATOM}entry")
        for e in entries:
            if "/api/errors" in (e.findtext(f"{_ATOM}id") or ""):
                msg = " ".join((e.findtext(f"{_ATOM}summary") or "unknown error").split())
                raise SourceError(
                    f"arxiv rejected the query {self.query_text!r}: {msg}; "
                    "check sources.arxiv.query in the protocol"
                )
        total = arxiv_total_results(content)
        records = parse_arxiv_feed(content) if entries else []
        start = int(cursor.get("start", 0))
        nxt = start + len(entries)
        more = bool(entries) and (total is None or nxt < total)
        return SearchPage(records, {"start": nxt} if more else None, total, items=len(entries))

    def fetch(self, http: HttpClient, cursor: Cursor, *, fetched: int = 0) -> SearchPage:
        page = super().fetch(http, cursor, fetched=fetched)
        start = int(cursor.get("start", 0))
        retries = 0
        while (
            page.items == 0 and page.total and start < page.total and retries < EMPTY_PAGE_RETRIES
        ):
            retries += 1
            req = self.request(cursor, self._limit(fetched))
            resp = http.get(self.name, req, use_cache=False)
            page = self.parse(resp.content, cursor)
            page.url = req.display_url
        if page.items == 0 and page.total and start < page.total:
            page.warnings.append(
                f"arxiv returned no entries at start={start} of {page.total} after "
                f"{retries + 1} tries; stopped early, run the search again later to resume"
            )
        return page

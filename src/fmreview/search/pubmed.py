"""PubMed through NCBI E-utilities: ESearch on the history server, then EFetch XML batches.

Requests (Entrez Programming Utilities Help, "ESearch" and "EFetch")::

    GET https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi?db=pubmed&term=...
        &usehistory=y&retmax=0&retmode=json&tool=fmreview&email=...
    GET https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi?db=pubmed&query_key=1
        &WebEnv=...&retstart=0&retmax=500&retmode=xml&tool=fmreview&email=...

ESearch returns the hit count, a ``WebEnv`` and a ``query_key``; EFetch pages through that
stored result set with ``retstart``/``retmax``. NCBI allows 3 requests per second, 10 with an
``api_key`` (sent, never shown or cached). Dates use ``mindate``/``maxdate`` (``YYYY/MM/DD``)
on ``datetype`` (``pdat`` publication date by default; ``edat`` = added to PubMed, the
right one for living updates).

A resumed search whose ``WebEnv`` has expired on NCBI's side runs ESearch again and goes
on at the same ``retstart``.
"""

from __future__ import annotations

import json
from typing import Any

from fmreview.errors import SourceError
from fmreview.search.base import Cursor, SearchPage, Source
from fmreview.search.http import HttpClient, Request, SourceRejected, parse_xml

EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
ESEARCH_URL = f"{EUTILS}/esearch.fcgi"
EFETCH_URL = f"{EUTILS}/efetch.fcgi"
TOOL = "fmreview"
#: NCBI documents that one PubMed query yields at most 10,000 records through E-utilities.
PUBMED_RETRIEVAL_LIMIT = 10_000


class PubMedSource(Source):
    name = "pubmed"
    rate = 3.0
    rate_with_key = 10.0
    page_size = 500  # EFetch retmax per batch (NCBI allows up to 10,000)
    format = "pubmed-xml"

    def _common(self) -> dict[str, Any]:
        return {"tool": TOOL, "email": self.email}

    def esearch_request(self) -> Request:
        extra = self.extra_params("datetype")
        params: dict[str, Any] = {
            "db": "pubmed",
            "term": self.query_string,
            "usehistory": "y",
            "retmax": 0,
            "retmode": "json",
        }
        if self.since or self.until:
            params["datetype"] = self.params.get("datetype", "pdat")
            params["mindate"] = self.since.strftime("%Y/%m/%d") if self.since else "1800"
            params["maxdate"] = self.until.strftime("%Y/%m/%d") if self.until else "3000"
        params.update(extra)
        params.update(self._common())
        return Request(ESEARCH_URL, params, secret_params={"api_key": self.api_key})

    def request(self, cursor: Cursor, limit: int) -> Request:
        if "webenv" not in cursor:
            return self.esearch_request()
        params = {
            "db": "pubmed",
            "query_key": cursor["query_key"],
            "WebEnv": cursor["webenv"],
            "retstart": int(cursor.get("retstart", 0)),
            "retmax": limit,
            "retmode": "xml",
            **self._common(),
        }
        return Request(EFETCH_URL, params, secret_params={"api_key": self.api_key}, kind="xml")

    # ---------------------------------------------------------------- esearch
    def esearch(self, http: HttpClient) -> tuple[int, str | None, str | None, list[str]]:
        """Run ESearch; return (count, WebEnv, query_key, warnings)."""
        req = self.esearch_request()
        try:
            resp = http.get(self.name, req, use_cache=False)  # a WebEnv is only valid for hours
        except SourceRejected as exc:
            raise self.rejected(exc) from exc
        data = json.loads(resp.content)
        result = data.get("esearchresult") or {}
        error = result.get("ERROR") or data.get("error")
        if error:
            raise SourceError(
                f"pubmed rejected the query {self.query_text!r}: {error}; "
                f"check sources.pubmed.query in the protocol (request: {req.display_url})"
            )
        warnings = []
        for key in ("errorlist", "warninglist"):
            for kind, values in (result.get(key) or {}).items():
                if values:
                    warnings.append(f"pubmed {key[:-4]} {kind}: {', '.join(map(str, values))}")
        count = int(result.get("count") or 0)
        if count > PUBMED_RETRIEVAL_LIMIT:
            warnings.append(
                f"pubmed reports {count} hits; NCBI may serve only the first "
                f"{PUBMED_RETRIEVAL_LIMIT:,} of one query: narrow the query or split the date range"
            )
        return count, result.get("webenv"), result.get("querykey"), warnings

    def fetch(self, http: HttpClient, cursor: Cursor, *, fetched: int = 0) -> SearchPage:
        warnings: list[str] = []
        if "webenv" not in cursor:
            count, webenv, query_key, warnings = self.esearch(http)
            if count == 0 or not webenv:
                return SearchPage(
                    [], None, count, url=self.esearch_request().display_url, warnings=warnings
                )
            cursor = {"webenv": webenv, "query_key": query_key, "retstart": 0, "count": count}
        try:
            page = self._efetch(http, cursor, fetched)
        except _HistoryExpired:
            count, webenv, query_key, more = self.esearch(http)
            warnings += more
            cursor = {**cursor, "webenv": webenv, "query_key": query_key, "count": count}
            page = self._efetch(http, cursor, fetched)
        page.warnings[:0] = warnings
        return page

    def _efetch(self, http: HttpClient, cursor: Cursor, fetched: int) -> SearchPage:
        req = self.request(cursor, self._limit(fetched))
        try:
            resp = http.get(self.name, req)
        except SourceRejected as exc:
            if _is_history_error(exc.message):
                raise _HistoryExpired from exc
            raise self.rejected(exc) from exc
        page = self.parse(resp.content, cursor)
        page.url = req.display_url
        return page

    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        from fmreview.formats import parse_pubmed_xml

        root = parse_xml(content)
        error = root.findtext(".//ERROR")
        if error is not None and root.find(".//PubmedArticle") is None:
            if _is_history_error(error):
                raise _HistoryExpired
            raise SourceError(
                f"pubmed EFetch failed at retstart={cursor.get('retstart')}: {error.strip()}"
            )
        items = len(root.findall("PubmedArticle")) + len(root.findall("PubmedBookArticle"))
        records = parse_pubmed_xml(content) if items else []
        count = int(cursor.get("count") or 0)
        nxt = int(cursor.get("retstart", 0)) + items
        more = bool(items) and nxt < count
        return SearchPage(
            records, {**cursor, "retstart": nxt} if more else None, count, items=items
        )

    def first_url(self) -> str:
        return self.esearch_request().display_url


class _HistoryExpired(Exception):
    """The WebEnv/query_key is no longer known to NCBI."""


def _is_history_error(message: str) -> bool:
    m = message.lower()
    return (
        "webenv" in m
        or "query_key" in m
        or "unable to obtain query" in m
        or "cannot retrieve query" in m
    )

"""Semantic Scholar bulk paper search: continuation-token paging, optional API key.

Request (Academic Graph API, ``/paper/search/bulk``)::

    GET https://api.semanticscholar.org/graph/v1/paper/search/bulk?query=...&fields=...&token=...

The answer is ``{"total": N, "token": "...", "data": [paper, ...]}`` with up to 1,000
papers per call; paging ends when ``token`` is absent. The key goes in the ``x-api-key``
header (never cached or shown). Dates become ``publicationDateOrYear=since:until`` (either
side may be open). The query uses the bulk syntax (``+`` and, ``|`` or, ``-`` not, quotes).
"""

from __future__ import annotations

import json
from typing import Any

from fmreview.search.base import Cursor, SearchPage, Source
from fmreview.search.http import Request

BASE_URL = "https://api.semanticscholar.org/graph/v1/paper/search/bulk"

#: Fields asked for (what the Record needs); override with ``params: {fields: ...}``.
FIELDS = (
    "paperId,externalIds,title,abstract,authors,year,publicationDate,venue,journal,"
    "publicationTypes,url"
)


class SemanticScholarSource(Source):
    name = "semantic_scholar"
    rate = 1.0  # the documented per-key limit for search endpoints
    page_size = 1000  # fixed by the API
    format = "s2-json"

    def first_cursor(self) -> Cursor:
        return {"token": None}

    def request(self, cursor: Cursor, limit: int) -> Request:
        extra = self.extra_params()
        params: dict[str, Any] = {"query": self.query_string}
        params["fields"] = extra.pop("fields", FIELDS)
        if self.since or self.until:
            since = self.since.isoformat() if self.since else ""
            until = self.until.isoformat() if self.until else ""
            params["publicationDateOrYear"] = f"{since}:{until}"
        params.update(extra)
        params["token"] = cursor.get("token")
        headers = {"x-api-key": self.api_key} if self.api_key else {}
        return Request(BASE_URL, params, headers=headers)

    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        from fmreview.formats import parse_s2_paper

        data = json.loads(content)
        papers = data.get("data") or []
        token = data.get("token")
        return self.json_page(
            papers, parse_s2_paper, {"token": token} if token else None, data.get("total")
        )

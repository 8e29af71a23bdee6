"""OpenAlex works search: cursor paging, polite pool, optional API key.

Request (documented at developers.openalex.org, "Page through results")::

    GET https://api.openalex.org/works?search=...&filter=...&per_page=100&cursor=*&mailto=...

The answer is ``{"meta": {"count": N, "next_cursor": "..."}, "results": [work, ...]}``;
paging ends when ``next_cursor`` is null or ``results`` is empty. Abstracts come as an
``abstract_inverted_index`` that :func:`fmreview.formats.parse_openalex_work` rebuilds.

Query: a mapping of OpenAlex list parameters (``search``, ``filter``, ``sort``, ...) or a
plain string used as ``search``. Dates become ``from_<date_field>:`` / ``to_<date_field>:``
filters (``date_field`` defaults to ``publication_date``; ``created_date`` needs a key).
The API key (``api_key`` parameter) is sent but never shown or cached.
"""

from __future__ import annotations

import json

from fmreview.search.base import Cursor, CursorPagedSource, SearchPage
from fmreview.search.http import RETRY_STATUSES, Request

BASE_URL = "https://api.openalex.org/works"
#: OpenAlex answers 403 when the per-second rate is exceeded (its error reference).
RETRY = RETRY_STATUSES | {403}


class OpenAlexSource(CursorPagedSource):
    name = "openalex"
    rate = 10.0  # the API allows 100/s; stay well below
    page_size = 100  # per_page maximum
    format = "openalex-json"

    def request(self, cursor: Cursor, limit: int) -> Request:
        field = self.params.get("date_field", "publication_date")
        params = self.cursor_params(
            cursor, "per_page", limit, "search", f"from_{field}:", f"to_{field}:"
        )
        return Request(
            BASE_URL, params, secret_params={"api_key": self.api_key}, retry_statuses=RETRY
        )

    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        from fmreview.formats import parse_openalex_work

        data = json.loads(content)
        results = data.get("results") or []
        meta = data.get("meta") or {}
        nxt = meta.get("next_cursor")
        return self.json_page(
            results, parse_openalex_work, {"cursor": nxt} if nxt else None, meta.get("count")
        )

"""Crossref works search: deep paging with cursors, polite pool via ``mailto``.

Request (Crossref REST API, "deep paging with cursors")::

    GET https://api.crossref.org/works?query=...&filter=from-pub-date:2020-01-01&rows=500&cursor=*&mailto=...

The answer is ``{"status": "ok", "message": {"total-results": N, "next-cursor": "...",
"items": [...]}}``; paging ends on an empty ``items`` list (Crossref keeps handing out a
cursor). Dates become ``from-<date_field>-date`` / ``until-<date_field>-date`` filters
(``date_field``: ``pub`` by default; ``index``, ``created``, ``update`` also exist).

Query: a string (``query``) or a mapping of Crossref parameters (``query.bibliographic``,
``filter``, ...).
"""

from __future__ import annotations

import json

from fmreview.search.base import Cursor, CursorPagedSource, SearchPage
from fmreview.search.http import Request

BASE_URL = "https://api.crossref.org/works"


class CrossrefSource(CursorPagedSource):
    name = "crossref"
    rate = 5.0  # public pool; the polite pool allows more, stay modest
    page_size = 500  # rows maximum is 1000
    format = "crossref-json"
    cacheable = False  # Crossref cursors expire after five minutes: never replay old pages

    def request(self, cursor: Cursor, limit: int) -> Request:
        field = self.params.get("date_field", "pub")
        params = self.cursor_params(
            cursor, "rows", limit, "query", f"from-{field}-date:", f"until-{field}-date:"
        )
        return Request(BASE_URL, params)

    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        from fmreview.formats import parse_crossref_item

        data = json.loads(content)
        message = data.get("message") or {}
        items = message.get("items") or []
        nxt = message.get("next-cursor")
        following = {"cursor": nxt} if (nxt and items) else None
        return self.json_page(items, parse_crossref_item, following, message.get("total-results"))

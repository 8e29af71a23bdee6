"""What every literature source does: build a request, fetch a page, parse it.

A :class:`Source` turns one protocol entry (:class:`~fmreview.protocol.model.SourceQuery`)
into a sequence of page requests. Paging state lives in a small JSON-able ``cursor`` dict
(``{"cursor": "*"}`` for OpenAlex/Crossref, ``{"start": 0}`` for arXiv, ...), which the
runner stores with every page so an interrupted search resumes where it stopped.

Parsing the source's payload into :class:`~fmreview.record.Record` objects is done by
:mod:`fmreview.formats` (one parser per API format); a source only finds the items.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fmreview.errors import FmreviewError, SourceError
from fmreview.record import Record
from fmreview.search.http import HttpClient, Request, SourceRejected

Cursor = dict[str, Any]


@dataclass
class SearchPage:
    """One page of results.

    Attributes
    ----------
    records : list of Record
        The page's records (already cut to the search's ``max``).
    next_cursor : dict or None
        Paging state for the next page; ``None`` when the search is complete.
    total : int or None
        Total hits the source reports for the query (PRISMA identification).
    url : str
        The URL fetched (secrets removed).
    items : int
        Items the source returned on this page, before parsing and cutting.
    skipped : list of str
        Items the parser rejected, one message each.
    warnings : list of str
        Anything the user should know (a repeating cursor, an early stop).
    """

    records: list[Record]
    next_cursor: Cursor | None
    total: int | None
    url: str = ""
    items: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def cursor_key(cursor: Cursor | None) -> str:
    return json.dumps(cursor, sort_keys=True, default=str)


def parse_items(
    items: list[Any], parse: Callable[[Any], Record], source: str
) -> tuple[list[Record], list[str]]:
    """Parse each item; an item the parser rejects is skipped with a message, never fatal."""
    records: list[Record] = []
    skipped: list[str] = []
    for i, item in enumerate(items, 1):
        try:
            records.append(parse(item))
        except (FmreviewError, ValueError, KeyError, TypeError, AttributeError) as exc:
            skipped.append(f"{source} item {i}: {exc}")
    return records, skipped


class Source(ABC):
    """A literature source searched through its API.

    Parameters
    ----------
    query : str or dict
        The query in the source's own syntax (OpenAlex: a dict of ``search``/``filter``).
    params : dict
        Extra request parameters from the protocol (e.g. ``sort``), plus control keys:
        ``page_size`` (at most the source's maximum), ``date_field`` (OpenAlex/Crossref),
        ``datetype`` (PubMed).
    email : str, optional
        Contact address (OpenAlex/Crossref ``mailto``, NCBI ``email``).
    api_key : str, optional
        The key itself (read from the environment variable the protocol names).
    since, until : date, optional
        Publication (or entry) date window, in the source's own filter syntax.
    max : int, optional
        Stop after this many records.
    """

    name: ClassVar[str]
    #: Requests per second without / with an API key.
    rate: ClassVar[float] = 1.0
    rate_with_key: ClassVar[float | None] = None
    #: Largest page the source allows (and that we ask for).
    page_size: int = 100
    #: The record format label stored with each record.
    format: ClassVar[str] = ""
    #: Whether pages may come from the response cache (not when cursors expire quickly).
    cacheable: ClassVar[bool] = True

    def __init__(
        self,
        query: str | dict[str, str],
        *,
        params: dict[str, Any] | None = None,
        email: str | None = None,
        api_key: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        max: int | None = None,
    ) -> None:
        self.query = query
        self.params = dict(params or {})
        size = self.params.pop("page_size", None)
        if size is not None:  # smaller pages than the source's maximum, never larger
            self.page_size = sorted((1, int(size), type(self).page_size))[1]  # clamp
        self.email = email
        self.api_key = api_key
        self.since = since
        self.until = until
        self.max = max

    # -------------------------------------------------------------- per source
    @property
    def requests_per_second(self) -> float:
        return self.rate_with_key if (self.api_key and self.rate_with_key) else self.rate

    @property
    def query_string(self) -> str:
        """The query as one string; sources other than OpenAlex/Crossref take no mapping."""
        if isinstance(self.query, str):
            return self.query
        from fmreview.errors import InputError

        raise InputError(
            f"sources.{self.name}.query is a mapping ({self.query!r}); {self.name} takes one query "
            "string in its own syntax"
        )

    @property
    def query_text(self) -> str:
        """The query as the user wrote it (for messages and provenance)."""
        if isinstance(self.query, str):
            return self.query
        return " ".join(f"{k}={v}" for k, v in self.query.items())

    def first_cursor(self) -> Cursor:
        return {}

    @abstractmethod
    def request(self, cursor: Cursor, limit: int) -> Request:
        """The request for the page at ``cursor``, asking for at most ``limit`` items."""

    @abstractmethod
    def parse(self, content: bytes, cursor: Cursor) -> SearchPage:
        """The page in ``content`` (``next_cursor`` set when the source says there is more)."""

    def first_url(self) -> str:
        """The exact first URL this search sends (no secrets): for the README and ``searches``."""
        return self.request(self.first_cursor(), self._limit(0)).display_url

    # -------------------------------------------------------------- shared
    def extra_params(self, *control: str) -> dict[str, Any]:
        """Protocol ``params`` passed through to the request (control keys removed)."""
        return {k: v for k, v in self.params.items() if k not in control}

    def filtered_params(self, text_key: str, since: str, until: str) -> dict[str, Any]:
        """Request parameters from the query and the protocol ``params``, for sources with
        one combined ``filter`` parameter (OpenAlex, Crossref).

        A query given as a string goes under ``text_key``; a mapping is used as parameters.
        ``filter`` joins the query's and the params' filters and the date window, written
        as ``since`` + the start date and ``until`` + the end date.
        """
        query = dict(self.query) if isinstance(self.query, dict) else {text_key: self.query}
        extra = self.extra_params("date_field")
        filters = [str(f) for f in (query.pop("filter", None), extra.pop("filter", None)) if f]
        for prefix, day in ((since, self.since), (until, self.until)):
            if day is not None:
                filters.append(prefix + day.isoformat())
        return {**query, **extra, "filter": join_filters(filters)}

    def json_page(
        self, items: list[Any], parse: Callable[[Any], Record], nxt: Cursor | None, total: Any
    ) -> SearchPage:
        """A page of API items (each through ``parse``; a rejected one is skipped with a
        message), the next page's cursor and the total the source reports."""
        records, skipped = parse_items(items, parse, self.name)
        return SearchPage(records, nxt, total, items=len(items), skipped=skipped)

    def _limit(self, fetched: int) -> int:
        if self.max is None:
            return self.page_size
        return max(1, min(self.page_size, self.max - fetched))

    def rejected(self, exc: SourceRejected) -> SourceError:
        """A rejected request as the error users see: source, query and the source's words."""
        if exc.status in (401, 403):
            return SourceError(
                f"{self.name} refused access (HTTP {exc.status}) for the query {self.query_text!r}: "
                f"{exc.message}; if it needs an API key, name the environment variable holding it "
                f"under search.api_keys.{self.name} in the protocol and set that variable"
            )
        return SourceError(
            f"{self.name} rejected the query {self.query_text!r} (HTTP {exc.status}): {exc.message}; "
            f"check the query syntax under sources.{self.name} in the protocol (request: {exc.url})"
        )

    def fetch(self, http: HttpClient, cursor: Cursor, *, fetched: int = 0) -> SearchPage:
        """Fetch and parse the page at ``cursor``."""
        req = self.request(cursor, self._limit(fetched))
        try:
            resp = http.get(self.name, req, use_cache=self.cacheable)
        except SourceRejected as exc:
            raise self.rejected(exc) from exc
        page = self.parse(resp.content, cursor)
        page.url = req.display_url
        return page

    def pages(
        self,
        http: HttpClient,
        cursor: Cursor | None = None,
        *,
        fetched: int = 0,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[SearchPage]:
        """Pages from ``cursor`` (default: the first) until the source is exhausted.

        Stops at an empty page, when ``max`` records have been fetched (``fetched``
        counts those of an earlier, interrupted attempt), or when the source hands back a
        cursor it already gave (with a warning, instead of looping for ever).
        """
        http.ensure_rate(self.name, self.requests_per_second)
        cursor = self.first_cursor() if cursor is None else cursor
        seen = {cursor_key(cursor)}
        while True:
            if self.max is not None and fetched >= self.max:
                return
            page = self.fetch(http, cursor, fetched=fetched)
            if self.max is not None and fetched + len(page.records) >= self.max:
                page.records = page.records[: self.max - fetched]
                page.next_cursor = None
            fetched += len(page.records)
            if page.items == 0:
                page.next_cursor = None
            if page.next_cursor is not None:
                key = cursor_key(page.next_cursor)
                if key in seen:
                    msg = (
                        f"{self.name} returned a cursor it had already given ({_short(key)}); "
                        f"stopped after {fetched} record(s) to avoid an endless loop"
                    )
                    page.warnings.append(msg)
                    if warn:
                        warn(msg)
                    page.next_cursor = None
                else:
                    seen.add(key)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def join_filters(parts: list[str]) -> str | None:
    """Comma-join filter expressions, dropping exact repeats (e.g. a date already in the query)."""
    out: list[str] = []
    for part in parts:
        for item in str(part).split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return ",".join(out) or None


def iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def as_date(value: dt.date | dt.datetime | str | None) -> dt.date | None:
    """A date from a date, a datetime or an ISO string (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 4:
            return dt.date(int(text), 1, 1)
        if len(text) == 7:
            return dt.date(int(text[:4]), int(text[5:7]), 1)
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        from fmreview.errors import InputError

        raise InputError(
            f"date {value!r} is not an ISO date; expected YYYY-MM-DD (e.g. 2024-01-31)"
        ) from exc


class CursorPagedSource(Source):
    """A source paged by the opaque cursor the server hands back, starting at ``*``, with
    one combined ``filter`` parameter and the ``mailto`` polite pool (OpenAlex, Crossref)."""

    def first_cursor(self) -> Cursor:
        return {"cursor": "*"}

    def cursor_params(
        self, cursor: Cursor, size_key: str, limit: int, *filter_keys: str
    ) -> dict[str, Any]:
        """:meth:`filtered_params` (``filter_keys``: text key, since, until), the page size
        under ``size_key``, the cursor and the contact address."""
        params = self.filtered_params(*filter_keys)
        params |= {size_key: limit, "cursor": cursor.get("cursor", "*"), "mailto": self.email}
        return params

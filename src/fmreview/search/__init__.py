"""Searching the literature where it lives: OpenAlex, arXiv, PubMed, Semantic Scholar, Crossref.

Public surface::

    run_search(store, *, sources=None, since=None, until=None, max=None, client=None, ...)
    enrich(store, *, sources=None, client=None, ...)         missing abstracts by identifier
    describe_requests(protocol) -> {source: first URL}
    make_http(settings, folder=..., client=...) -> HttpClient  the shared HTTP layer
    SOURCES, make_source, Source, SearchPage                   the clients

The living update that runs these searches and then the pipeline is
:func:`fmreview.update.update`.

Every client takes an injected :class:`httpx.Client`; nothing here touches the network in
tests.
"""

from __future__ import annotations

from fmreview.search.base import SearchPage, Source
from fmreview.search.enrich import enrich
from fmreview.search.http import (
    HttpClient,
    Request,
    ResponseCache,
    SourceRejected,
    TokenBucket,
    make_http,
)
from fmreview.search.runner import run_search
from fmreview.search.sources import SOURCES, enabled_sources, make_source
from fmreview.search.urls import describe_requests

__all__ = [
    "SOURCES",
    "HttpClient",
    "Request",
    "ResponseCache",
    "SearchPage",
    "Source",
    "SourceRejected",
    "TokenBucket",
    "describe_requests",
    "enabled_sources",
    "enrich",
    "make_http",
    "make_source",
    "run_search",
]

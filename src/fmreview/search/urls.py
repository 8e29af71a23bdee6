"""The exact first URL each source of a protocol receives (for the README and ``search urls``)."""

from __future__ import annotations

from fmreview.protocol.model import Protocol
from fmreview.search.sources import enabled_sources, make_source


def describe_requests(protocol: Protocol, *, sources: list[str] | None = None) -> dict[str, str]:
    """Source name -> the first request URL (API keys are never included).

    The URL is what :func:`fmreview.search.run_search` sends first and stores in
    ``searches.url``: the protocol's query, date range and cap, the page size, the first
    cursor and the contact e-mail.
    """
    return {
        name: make_source(protocol, name, environ={}).first_url()
        for name in enabled_sources(protocol, sources)
    }

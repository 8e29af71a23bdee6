"""The registry of literature sources and how a protocol entry becomes a :class:`Source`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from fmreview.errors import InputError, unknown_name
from fmreview.protocol.model import Protocol
from fmreview.search.arxiv import ArxivSource
from fmreview.search.base import Source
from fmreview.search.crossref import CrossrefSource
from fmreview.search.openalex import OpenAlexSource
from fmreview.search.pubmed import PubMedSource
from fmreview.search.semantic_scholar import SemanticScholarSource

#: Source name (as in the protocol) -> class.
SOURCES: dict[str, type[Source]] = {
    cls.name: cls
    for cls in (OpenAlexSource, ArxivSource, PubMedSource, SemanticScholarSource, CrossrefSource)
}


def enabled_sources(
    protocol: Protocol, names: list[str] | tuple[str, ...] | None = None
) -> list[str]:
    """The protocol's enabled sources, in protocol order, restricted to ``names`` if given."""
    if names:
        for n in names:
            if n not in SOURCES:
                raise unknown_name("source", n, list(SOURCES))
            if n not in protocol.sources:
                raise unknown_name("source in this protocol", n, list(protocol.sources))
        return [n for n in protocol.sources if n in names]
    return [n for n, sq in protocol.sources.items() if sq.enabled]


def api_key(protocol: Protocol, name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The API key of source ``name``: read from the environment variable the protocol names."""
    var = protocol.search.api_keys.get(name)
    if not var:
        return None
    return (os.environ if environ is None else environ).get(var) or None


def make_source(
    protocol: Protocol,
    name: str,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    max: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Source:
    """Build source ``name`` from the protocol.

    The date window is the protocol's ``date_range`` narrowed by ``since``/``until`` (the
    later start and the earlier end win); ``max`` is the smaller of the protocol's and the
    one given.
    """
    if name not in SOURCES:
        raise unknown_name("source", name, list(SOURCES))
    if name not in protocol.sources:
        raise unknown_name("source in this protocol", name, list(protocol.sources))
    sq = protocol.sources[name]
    start = protocol.date_range.start
    end = protocol.date_range.end
    if since is not None:
        start = max_date(start, since)
    if until is not None:
        end = until if end is None else min(end, until)
    if start is not None and end is not None and start > end:
        raise InputError(
            f"the search window for {name} is empty: it starts {start} but ends {end} "
            "(date_range.end in the protocol, or --until); choose an earlier --since"
        )
    cap = sq.max if max is None else (max if sq.max is None else min(sq.max, max))
    return SOURCES[name](
        sq.query,
        params=sq.params,
        email=protocol.search.email,
        api_key=api_key(protocol, name, environ),
        since=start,
        until=end,
        max=cap,
    )


def max_date(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b

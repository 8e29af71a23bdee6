"""The bundled FM snapshot: curated lists of medical-imaging FM studies, as records.

``data/fm/studies.csv`` holds one row per study merged from twelve curated public lists.
Each row becomes a record identified through *other methods: curated lists* (PRISMA), with
the row's columns kept in ``Record.extra`` and the list names in ``Record.source_labels``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from fmreview.ids import arxiv_from_doi, normalize_arxiv, normalize_doi
from fmreview.record import Record, clean_text, parse_year

SNAPSHOTS = {"fm-studies": "studies.csv"}
SOURCE = "curated lists"
SOURCE_KIND = "other"


def snapshot_path(name: str = "fm-studies") -> Path:
    from fmreview.errors import unknown_name

    if name not in SNAPSHOTS:
        raise unknown_name("snapshot", name, list(SNAPSHOTS))
    return Path(str(resources.files("fmreview") / "data" / "fm" / SNAPSHOTS[name]))


def gazetteer_path() -> Path:
    return Path(str(resources.files("fmreview") / "data" / "fm" / "datasets_gazetteer.csv"))


def _lists(value: str) -> list[str]:
    """'owner/repo@sha | owner2/repo2@sha' -> ['owner/repo', 'owner2/repo2']."""
    out = []
    for part in (value or "").split("|"):
        part = part.strip()
        if part:
            out.append(part.split("@", 1)[0])
    return out


def snapshot_year(row: dict[str, Any]) -> int | None:
    """A study's year from the snapshot's fields.

    ``year`` is what the first list said; ``years_seen`` every year the lists gave and
    ``year_from_arxiv_id`` the year of the arXiv posting. When the lists disagree and the
    arXiv id settles it, the arXiv year is taken (an EMNLP 2021 paper one list dates 2018,
    arXiv 2108.12126, is 2021); otherwise the earliest year a list gives.
    """
    seen = sorted(
        {y for y in (parse_year(p) for p in str(row.get("years_seen") or "").split("|")) if y}
    )
    year = parse_year(row.get("year"))
    if len(seen) > 1:
        arxiv_year = parse_year(row.get("year_from_arxiv_id"))
        return arxiv_year if arxiv_year in seen else seen[0]
    return year or (seen[0] if seen else None)


def row_to_record(row: dict[str, Any], position: int) -> Record:
    doi = normalize_doi(row.get("doi"))
    arxiv = normalize_arxiv(row.get("arxiv_id")) or arxiv_from_doi(doi)
    title = clean_text(row.get("title"))
    year = snapshot_year(row)
    venue = clean_text(row.get("venue_or_source"))
    rtype = "preprint" if venue.lower() in ("arxiv", "medrxiv", "biorxiv") else ""
    return Record(
        title=title,
        year=year,
        date=str(year) if year else None,
        venue=venue,
        type=rtype,
        url=(row.get("url") or "").strip(),
        doi=doi,
        arxiv=arxiv,
        source_labels=_lists(row.get("sources", "")),
        extra={k: v for k, v in row.items() if v not in (None, "")},
        raw=dict(row),
        position=position,
        line=position + 1,
    )


def read_snapshot(name: str = "fm-studies") -> Iterator[Record]:
    with snapshot_path(name).open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=1):
            yield row_to_record(row, i)


def import_snapshot(
    store: Any, name: str = "fm-studies", *, reporter: Any = None
) -> dict[str, int]:
    """Import a bundled snapshot as 'other methods: curated lists' records (idempotent)."""
    from fmreview.progress import NullReporter
    from fmreview.store.records import add_records

    reporter = reporter or NullReporter()
    with store.run("import-snapshot", {"snapshot": name}) as run:
        c = add_records(
            store,
            reporter.track(read_snapshot(name), f"import snapshot {name}"),
            source=SOURCE,
            source_kind=SOURCE_KIND,
            run_id=run.id,
            origin=f"bundled:{name}",
            format="fm-studies-csv",
        )
        run.counts.update(c.as_dict())
    return c.as_dict()

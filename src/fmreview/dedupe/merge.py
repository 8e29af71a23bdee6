"""One work from its member records: the best value per field, with provenance.

The canonical record is the published version when there is one (not a preprint), then
the record with an abstract, with a DOI, the newest, the lowest id. Each field takes the
canonical record's value when it has one, otherwise the best other value (the longest
abstract, the longest author list, any identifier); list fields are united. Provenance
names the record every value came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fmreview.ids import arxiv_from_doi
from fmreview.record import LIST_FIELDS, OPTIONAL_FIELDS, WORK_FIELDS

#: Fields a work takes from one member (the first that has a value); the abstract and
#: the authors are the longest of any member, and list fields are united.
SCALAR_FIELDS = tuple(f for f in WORK_FIELDS if f not in ("abstract", "authors", *LIST_FIELDS))


def _empty(value: Any) -> bool:
    return (
        value is None or value == "" or value == [] or (isinstance(value, float) and value != value)
    )


def _is_preprint(rec: Mapping[str, Any]) -> bool:
    doi = rec.get("doi") or ""
    venue = str(rec.get("venue") or "").lower()
    if doi and not arxiv_from_doi(doi) and not doi.startswith("10.1101/"):
        return False
    return bool(rec.get("arxiv")) or "arxiv" in venue or "rxiv" in venue or "preprint" in venue


def canonical_rank(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key: smaller is a better canonical record."""
    year = rec.get("year") or 0
    return (
        _is_preprint(rec),
        _empty(rec.get("abstract")),
        _empty(rec.get("doi")),
        -int(year) if str(year).isdigit() else 0,
        str(rec.get("id")),
    )


def merge_records(
    records: Sequence[Mapping[str, Any]],
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Merge the member records of one work.

    Parameters
    ----------
    records : sequence of mappings
        Member records with an ``id`` and any of the store's record fields.

    Returns
    -------
    canonical_id, values, provenance
        ``values`` holds the merged fields (:data:`SCALAR_FIELDS`, ``abstract``,
        ``authors``, :data:`LIST_FIELDS`); ``provenance`` maps each field to the id of the
        record its value came from (a list of ids for united list fields).
    """
    if not records:
        raise ValueError("merge_records needs at least one record")
    ordered = sorted(records, key=canonical_rank)
    canonical = ordered[0]
    values: dict[str, Any] = {}
    prov: dict[str, Any] = {}
    for f in SCALAR_FIELDS:
        candidates = ordered
        if f == "doi":
            # a journal DOI beats a preprint DOI
            candidates = sorted(ordered, key=lambda r: bool(arxiv_from_doi(r.get("doi") or "")))
        for rec in candidates:
            if not _empty(rec.get(f)):
                values[f] = rec.get(f)
                prov[f] = rec.get("id")
                break
        else:
            values[f] = None if f in OPTIONAL_FIELDS else ""
    best_abstract = max(ordered, key=lambda r: len(str(r.get("abstract") or "")))
    values["abstract"] = best_abstract.get("abstract") or ""
    if values["abstract"]:
        prov["abstract"] = best_abstract.get("id")
    best_authors = max(ordered, key=lambda r: len(r.get("authors") or []))
    values["authors"] = list(best_authors.get("authors") or [])
    if values["authors"]:
        prov["authors"] = best_authors.get("id")
    for f in LIST_FIELDS:
        seen: list[Any] = []
        sources = []
        for rec in ordered:
            added = False
            for item in rec.get(f) or []:
                if item not in seen:
                    seen.append(item)
                    added = True
            if added:
                sources.append(rec.get("id"))
        values[f] = seen
        if sources:
            prov[f] = sources
    return canonical.get("id"), values, prov

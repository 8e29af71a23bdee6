"""Known deduplication traps: pairs that look alike but are different works.

Each trap is a vectorised test over candidate pairs; a pair caught by a trap never merges
as a duplicate (the engine also turns it into a cannot-link constraint so that no chain of
other links merges it either). The traps:

``notice``
    An erratum, correction, retraction, reply or comment paired with anything that is not
    itself the same kind of notice ("Erratum: Deep learning for X" is not "Deep learning
    for X"). Catalogue annotations such as "[Erratum appears in ...]" are removed by
    :func:`fmreview.dedupe.keys.title_key` and do not count.
``generic_title``
    Generic titles ("Editorial", "Reply", "Introduction", "Correction", ...) need hard
    evidence: the same DOI, or the same venue volume and first page.
``shared_doi``
    One DOI on two records whose titles differ (supplement or proceedings DOIs shared by
    many abstracts).
``part``
    Numbered parts or different numbers in otherwise similar titles ("Part I" / "Part II",
    "... 2010" / "... 2011").
``series``
    Same title, years two or more apart, no shared identifier (annual reports, recurring
    guideline updates, a minitrack introduction every year).
``conference_abstract``
    A conference/meeting abstract paired with a full paper, unless the protocol setting
    ``dedupe.merge_conference_abstracts`` is on.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

TRAPS = ("notice", "generic_title", "shared_doi", "part", "series", "conference_abstract")

_GENERIC = re.compile(
    r"^(?:editorial|editor s note|editors note|guest editorial|erratum|errata|corrigendum|"
    r"correction|corrections|retraction|retraction note|reply|in reply|reply to|authors reply|"
    r"author s reply|the authors reply|response|authors response|letter|letters|"
    r"letter to the editor|comment|comments|commentary|introduction|preface|foreword|"
    r"abstract|abstracts|news|book review|book reviews|in this issue|announcement|"
    r"announcements|highlights|index|contents|table of contents|reviewers|acknowledgements?|"
    r"acknowledgments?|discussion|conclusion|conclusions|summary|proceedings|poster|posters|"
    r"oral presentations?|poster presentations?|untitled|notes|obituary|in memoriam|"
    r"correspondence|invited commentary|expression of concern|withdrawn)"
    r"(?: \d+)?$"
)
_NOTICE = re.compile(
    r"^(?:erratum|errata|corrigendum|correction|retraction|retracted|notice of retraction|"
    r"expression of concern|reply|in reply|response|comment on|commentary on|re )\b"
    r"|\b(?:erratum|corrigendum) (?:to|for|on)\b"
)
_PART = re.compile(r"\bpart (\d+|[ivx]{1,4}|one|two|three|four|five|a|b)\b")
_NUMBER = re.compile(r"\d+")
_THOUSANDS = re.compile(r"(\d) (\d{3})\b")
_ROMAN_END = re.compile(r"\b([ivx]{1,4})$")
_CONF_VENUE = re.compile(
    r"\b(?:abstracts?|meeting|congress|annual scientific|symposium abstracts|"
    r"conference abstracts?|poster|supplement|suppl)\b"
)
_SUPPL = re.compile(r"suppl|meeting|abstract|congress")
_ABSTRACT_PAGE = re.compile(r"^\s*[a-z]{1,2}\s*\d")
_CONF_PAPER = re.compile(
    r"\b(?:proceedings|proc|conference|conf|symposium|workshop|congress|amcis|icis|ecis|"
    r"hicss|miccai|cvpr|iccv|eccv|neurips|nips|icml|iclr|aaai|ijcai|isbi|midl|wacv|bmvc|"
    r"acl|emnlp|naacl|kdd|sigir|chi)\b"
)
_PREPRINT_VENUE = re.compile(
    r"\b(?:arxiv|biorxiv|medrxiv|ssrn|preprints?|research square|techrxiv|openreview)\b"
)


@lru_cache(maxsize=100_000)
def _venue_flags(venue: str) -> tuple[bool, bool, bool]:
    """(conference abstract venue, preprint server, conference proceedings) for a venue key."""
    return (
        bool(_CONF_VENUE.search(venue)),
        bool(_PREPRINT_VENUE.search(venue)),
        bool(_CONF_PAPER.search(venue)),
    )


def _numbers(title: str) -> str:
    """Numbers and part markers of a normalised title, as a canonical string."""
    parts: set[str] = set()
    if _NUMBER.search(title):
        title = _THOUSANDS.sub(r"\1\2", title)
        parts = {str(int(x)) for x in _NUMBER.findall(title)}
    if "part " in title:
        parts.update("p" + p for p in _PART.findall(title))
    if title[-1:] in ("i", "v", "x") and len(title) > 20:
        m = _ROMAN_END.search(title)
        if m:
            parts.add("r" + m.group(1))
    return " ".join(sorted(parts))


def record_flags(keys: pd.DataFrame) -> pd.DataFrame:
    """Per-record trap features: ``generic``, ``notice``, ``conf_abstract``, ``kind``, ``numbers``.

    ``kind`` is ``preprint``, ``conference`` or ``journal`` (used for version-of links).
    ``numbers`` is the set of numbers and part markers in the title, as a sorted string.
    """
    titles = keys["title"].tolist()
    venue = keys["venue"].tolist()
    types = keys["type"].tolist()
    pages = keys["pages_raw"].str.lower().tolist()
    vol = keys["volume_raw"].tolist()
    iss = keys["issue_raw"].tolist()
    arxiv = keys["arxiv"].tolist()
    doi = keys["doi"].tolist()
    generic = np.zeros(len(keys), dtype=bool)
    notice = np.zeros(len(keys), dtype=bool)
    conf_abs = np.zeros(len(keys), dtype=bool)
    kind = []
    numbers = []
    for n, t in enumerate(titles):
        generic[n] = bool(t) and (len(t) < 12 or bool(_GENERIC.match(t)))
        notice[n] = bool(t) and bool(_NOTICE.search(t))
        typ = types[n]
        v_abs, v_pre, v_conf = _venue_flags(venue[n])
        conf_abs[n] = (
            "abstract" in typ
            or "meeting" in typ
            or v_abs
            or bool(vol[n] and _SUPPL.search(vol[n]))
            or bool(iss[n] and _SUPPL.search(iss[n]))
            or bool(pages[n] and _ABSTRACT_PAGE.match(pages[n]))
        )
        if (arxiv[n] and not (doi[n] and not doi[n].startswith("10.48550"))) or v_pre:
            kind.append("preprint")
        elif (
            "proceedings" in typ
            or "conference" in typ
            or typ in ("inproceedings", "conf")
            or v_conf
        ):
            kind.append("conference")
        else:
            kind.append("journal")
        numbers.append(_numbers(t))
    return pd.DataFrame(
        {
            "generic": generic,
            "notice": notice,
            "conf_abstract": conf_abs,
            "kind": kind,
            "numbers": numbers,
        }
    )


def pair_traps(
    keys: pd.DataFrame,
    flags: pd.DataFrame,
    i: np.ndarray,
    j: np.ndarray,
    title_sim: np.ndarray,
    *,
    merge_conference_abstracts: bool = False,
) -> np.ndarray:
    """The first trap that catches each pair (an index into :data:`TRAPS`), -1 for none.

    ``title_sim`` is the pair's title similarity in [0, 1] (from :mod:`.scoring`).
    """
    out = np.full(len(i), -1, dtype=np.int8)
    if len(i) == 0:
        return out

    def mark(code: int, mask: np.ndarray) -> None:
        out[(out < 0) & mask] = code

    doi = keys["doi"].to_numpy(dtype=object)
    same_doi = (doi[i] == doi[j]) & (doi[i] != "")
    year = keys["year"].to_numpy()
    volume = keys["volume"].to_numpy(dtype=object)
    page = keys["page"].to_numpy(dtype=object)
    notice = flags["notice"].to_numpy()
    generic = flags["generic"].to_numpy()
    conf = flags["conf_abstract"].to_numpy()
    numbers = flags["numbers"].to_numpy(dtype=object)

    mark(0, notice[i] != notice[j])
    hard = same_doi | (
        (volume[i] == volume[j]) & (page[i] == page[j]) & (page[i] != "") & (volume[i] != "")
    )
    mark(1, (generic[i] | generic[j]) & ~hard)
    mark(2, same_doi & (title_sim < 0.6) & (keys["title"].to_numpy(dtype=object)[i] != ""))
    titles = keys["title"].to_numpy(dtype=object)
    differ = np.flatnonzero(
        (numbers[i] != numbers[j]) & (numbers[i] != "") & (numbers[j] != "") & ~hard
    )
    parts = np.zeros(len(i), dtype=bool)
    for n in differ:
        # compare only the common length: a truncated title loses its trailing numbers
        a, b = titles[i[n]], titles[j[n]]
        cut = min(len(a), len(b))
        parts[n] = _numbers(a[:cut]) != _numbers(b[:cut])
    mark(3, parts)
    mark(4, (year[i] > 0) & (year[j] > 0) & (np.abs(year[i] - year[j]) >= 2) & ~same_doi)
    if not merge_conference_abstracts:
        mark(5, conf[i] != conf[j])
    return out

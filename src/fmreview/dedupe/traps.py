"""Contradicting evidence and known traps: pairs that look alike but are different works.

Each trap is a vectorised test over candidate pairs; a pair caught by a trap never merges
automatically (the engine also turns it into a cannot-link constraint so that no chain of
other links merges it either). Traps come in two kinds.

*Contradictions* (:data:`HARD`) decide: the pair is two works, whatever else agrees.

``notice``
    An erratum, correction, retraction, reply or comment paired with anything that is not
    itself the same kind of notice ("Erratum: Deep learning for X" is not "Deep learning
    for X"). Catalogue annotations such as "[Erratum appears in ...]" are removed by
    :func:`fmreview.dedupe.keys.title_key` and do not count.
``doi_conflict``
    Both records have a DOI and the DOIs differ, and the difference is not a known version
    pattern (:func:`doi_versions`: a preprint server's DOI against any other, a component
    DOI such as ``.../abstract`` or ``.t001``, a Cochrane update ``.pub2``); records of
    different kinds (conference vs journal) are left to the version-of proposals. Two
    different arXiv ids count the same way, for records of any kind: arXiv keeps one id
    for all versions of a work.
``page_conflict``
    Different page ranges (neither overlapping nor within an export error of each other)
    in the same venue (or volume) and year.
``issue_conflict``
    Both records name a volume and the volumes differ, and so do the years or the venues
    (similarity below 0.5): two publications, not one record exported twice.
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

*Missing evidence* (:data:`SOFT`): the pair may be one work, but what it shares proves
nothing; it goes to a person (the review queue) when it would otherwise have merged.

``generic_title``
    A generic title (:func:`generic_titles`: a known serial title such as "Editorial" or
    "Editor's comments", a title the corpus itself shows recurring across years or author
    teams, a short title made only of common words) without hard evidence: the same DOI,
    or the same first page and issue (or volume) in the same year.
``title_conflict``
    Titles that differ beyond a typo (similarity below the engine's ``title_min``), even
    when every other field agrees: two papers that share author, venue, volume and pages
    by a data-entry error; a translated or re-titled version.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd

from .keys import one_of, per_value

TRAPS = (
    "notice",
    "doi_conflict",
    "page_conflict",
    "issue_conflict",
    "shared_doi",
    "part",
    "series",
    "conference_abstract",
    "generic_title",
    "title_conflict",
)
#: Traps that are contradicting evidence: the pair is two works.
HARD = frozenset(TRAPS[:8])
#: Traps that mean "not enough evidence": a person decides.
SOFT = frozenset(TRAPS[8:])

#: Known serial titles (after :func:`~fmreview.dedupe.keys.title_key`): items that every
#: journal issue carries, whose title says nothing about which item it is.
_GENERIC = re.compile(
    r"^(?:editorial|editorials|editor s note|editors note|editor s notes|editors notes|"
    r"guest editorial|editor s comments?|editors comments?|editor s introduction|"
    r"editorial introduction|editorial comments?|editorial notes?|editorial statement|"
    r"remarks from the editors?|from the editors?|from the editor in chief|"
    r"letter from the editors?|message from the editors?|a message from the editors?|"
    r"note from the editors?|notes from the editors?|welcome|about this issue|"
    r"guest editors? introduction|guest editor s introduction|"
    r"introduction to the special (?:issue|section|theme|topic)(?: .*)?|"
    r"introduction to the (?:minitrack|mini track|track|symposium)(?: .*)?|"
    r"special issue(?: introduction| editorial)?|special section introduction|"
    r"erratum|errata|corrigendum|correction|corrections|retraction|retraction note|"
    r"reply|in reply|reply to|authors reply|author s reply|the authors reply|response|"
    r"authors response|letter|letters|letter to the editor|letters to the editor|comment|"
    r"comments|commentary|introduction|preface|foreword|abstract|abstracts|news|"
    r"book reviews?(?: .*)?|review of books?|in this issue|this issue|announcement|"
    r"announcements|highlights|index|contents|table of contents|reviewers|"
    r"acknowledgements?|acknowledgments?|discussion|conclusion|conclusions|summary|"
    r"proceedings|poster|posters|oral presentations?|poster presentations?|untitled|notes|"
    r"obituary|in memoriam|correspondence|invited commentary|expression of concern|"
    r"withdrawn|call for papers|masthead|front matter|back matter|cover|issue information|"
    r"editorial board|title page|list of reviewers|thank you to our reviewers|"
    r"reviewer acknowledgements?|information for authors|instructions for authors)"
    r"(?: \d+)?$"
)
#: Words that make a title generic when it has nothing else (with the corpus's most
#: frequent title words, see :func:`generic_titles`).
_COMMON = frozenset(
    "a an and the of in on for to from with by at as or is are this that these our its "
    "editor editors editorial editorials guest comment comments commentary remarks note notes "
    "introduction intro preface foreword issue issues special section volume part new "
    "letter letters reply response review reviews book books news update updates message "
    "welcome overview perspective perspectives viewpoint column report reports annual "
    "s i ii iii iv v 1 2 3".split()
)
#: At most this many words for a title made only of common words to count as generic.
SHORT_TITLE_WORDS = 3
#: Share of titles a word must appear in to count as common in a corpus (and at least
#: :data:`COMMON_MIN_TITLES` titles).
COMMON_SHARE, COMMON_MIN_TITLES = 0.05, 20
#: A title found in this many different years is serial (two years apart are already
#: two works by the ``series`` trap; a same-year pair of such a title needs evidence).
RECURRING_YEARS = 3
#: A title carried by this many records is serial whatever its authors.
RECURRING_RECORDS = 20

#: A notice: a title that starts as one, or names the erratum of another work.
_NOTICE_START = re.compile(
    r"(?:erratum|errata|corrigendum|correction|retraction|retracted|notice of retraction|"
    r"expression of concern|reply|in reply|response|comment on|commentary on|re )\b"
)
_NOTICE_OF = re.compile(r"\b(?:erratum|corrigendum) (?:to|for|on)\b")
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
    r"\b"
    + one_of(
        """proceedings proc conference conf symposium workshop congress amcis icis ecis
        hicss pacis miccai cvpr iccv eccv neurips nips icml iclr aaai ijcai isbi midl wacv
        bmvc acl emnlp naacl kdd sigir chi cscw www"""
    )
    + r"\b"
)
_PREPRINT_VENUE = re.compile(
    r"\b"
    + one_of(
        """arxiv biorxiv medrxiv ssrn preprints? research_square techrxiv openreview
        psyarxiv socarxiv osf_preprints chemrxiv authorea"""
    )
    + r"\b"
)
#: DOI prefixes of preprint servers and repositories: arXiv, bioRxiv/medRxiv, SSRN,
#: Research Square, Preprints.org, OSF (and PsyArXiv, SocArXiv), TechRxiv, Authorea,
#: ChemRxiv, MetaArXiv, Zenodo.
_PREPRINT_DOI = re.compile(
    r"^10\.(?:48550|1101|2139|21203|20944|31219|31234|31235|31222|36227|22541|26434|"
    r"17605|5281)/"
)
_DOI_VERSION = re.compile(r"(?:\.pub\d+|[./]v\d+)$")


def is_preprint_doi(doi: str) -> bool:
    """Whether ``doi`` (normalised) belongs to a preprint server or repository."""
    return bool(_PREPRINT_DOI.match(doi))


@lru_cache(maxsize=100_000)
def doi_versions(a: str, b: str) -> bool:
    """Whether two different DOIs may name versions of one work rather than two works.

    True when either is a preprint DOI (:func:`is_preprint_doi`), one extends the other
    (component DOIs: ``.../abstract``, ``...t001``), or they differ only by a version
    suffix (Cochrane ``.pub2``, ``/v2``).

    >>> doi_versions("10.48550/arxiv.2301.00001", "10.1038/s41586-023-1")
    True
    >>> doi_versions("10.1016/j.appet.2012.05.003", "10.1016/j.regpep.2012.05.039")
    False
    """
    if is_preprint_doi(a) or is_preprint_doi(b):
        return True
    if a.startswith(b) or b.startswith(a):
        return True
    return _DOI_VERSION.sub("", a) == _DOI_VERSION.sub("", b)


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


def common_words(titles: list[str]) -> frozenset[str]:
    """Words common enough in ``titles`` to say nothing (with :data:`_COMMON`).

    A word is common when it appears in at least :data:`COMMON_SHARE` of the titles and
    in at least :data:`COMMON_MIN_TITLES` of them; shares are estimated on an evenly
    spaced sample of at most 50,000 titles, so a million titles cost no more.
    """
    step = max(1, len(titles) // 50_000)
    sample = [t for t in titles[::step] if t]
    if not sample:
        return _COMMON
    counts: Counter[str] = Counter()
    for t in sample:
        counts.update(set(t.split()))
    need = max(COMMON_SHARE * len(sample), COMMON_MIN_TITLES / step)
    return _COMMON | {w for w, c in counts.items() if c >= need}


def _recurring(keys: pd.DataFrame) -> np.ndarray:
    """Records whose exact title the corpus shows to recur as different works: carried by
    :data:`RECURRING_RECORDS` or more records, or found in :data:`RECURRING_YEARS`
    different years, or by author teams that share no name."""
    title = keys["title"].to_numpy(dtype=object)
    out = np.zeros(len(keys), dtype=bool)
    dup = keys["title"].duplicated(keep=False).to_numpy() & (title != "")
    if not dup.any():
        return out
    year = keys["year"].to_numpy()
    authors = keys["authors"].to_numpy(dtype=object)
    words = authors
    if "name_words" in keys.columns:
        words = keys["name_words"].to_numpy(dtype=object)
        words = np.where(words == "", authors, words)
    groups: dict[str, list[int]] = {}
    for k in np.flatnonzero(dup).tolist():
        groups.setdefault(title[k], []).append(k)
    for members in groups.values():
        if len(members) >= RECURRING_RECORDS or (
            len({year[k] for k in members if year[k] > 0}) >= RECURRING_YEARS
        ):
            out[members] = True
            continue
        teams: dict[str, set[str]] = {}
        for k in members:
            if authors[k] and authors[k] not in teams:
                teams[authors[k]] = set(words[k].split())
        if len(teams) < 2:
            continue
        named = [(set(a.split()), w) for a, w in teams.items()]
        # two teams are unrelated when no surname of one is a name (family or given,
        # names swapped by a source) of the other
        if any(
            not (sa & sb or sa & wb or sb & wa)
            for n, (sa, wa) in enumerate(named)
            for sb, wb in named[n + 1 :]
        ):
            out[members] = True
    return out


def generic_titles(keys: pd.DataFrame) -> np.ndarray:
    """Which records' titles are not evidence of identity (a bool per record).

    A title is generic when it is a known serial title (:data:`_GENERIC`, or under 12
    characters), when it has at most :data:`SHORT_TITLE_WORDS` words all of them common
    (:func:`common_words`), or when the corpus shows it recurring (:func:`_recurring`).
    """
    titles = keys["title"].tolist()
    common = common_words(titles)
    out = np.zeros(len(titles), dtype=bool)
    for n, t in enumerate(titles):
        if not t:
            continue
        if len(t) < 12 or _GENERIC.match(t):
            out[n] = True
            continue
        words = t.split()
        out[n] = len(words) <= SHORT_TITLE_WORDS and all(w in common for w in words)
    return out | _recurring(keys)


def _notice(title: str) -> bool:
    if not title:
        return False
    if _NOTICE_START.match(title):
        return True
    # the unanchored search only where its words occur (most titles have neither)
    return ("erratum " in title or "corrigendum " in title) and bool(_NOTICE_OF.search(title))


def _conf_type(typ: str) -> tuple[bool, bool]:
    """(a meeting-abstract type, a conference-paper type) for a type key."""
    return (
        "abstract" in typ or "meeting" in typ,
        "proceedings" in typ or "conference" in typ or typ in ("inproceedings", "conf"),
    )


def _suppl(raw: str) -> bool:
    return bool(raw) and bool(_SUPPL.search(raw))


def _abstract_page(raw: str) -> bool:
    return bool(raw) and bool(_ABSTRACT_PAGE.match(raw.lower()))


def record_flags(keys: pd.DataFrame) -> pd.DataFrame:
    """Per-record trap features: ``generic``, ``notice``, ``conf_abstract``, ``kind``, ``numbers``.

    ``kind`` is ``preprint``, ``conference`` or ``journal`` (used for version-of links).
    ``numbers`` is the set of numbers and part markers in the title, as a sorted string.
    ``generic`` is :func:`generic_titles` (learned from ``keys`` as a corpus).
    Each feature is computed once per distinct field value (:func:`per_value`).
    """
    title = keys["title"]
    venue = per_value(keys["venue"], _venue_flags, missing="")
    v_abs, v_pre, v_conf = (np.array([v[k] for v in venue], dtype=bool) for k in range(3))
    types = per_value(keys["type"], _conf_type, missing="")
    t_abs = np.array([t[0] for t in types], dtype=bool)
    t_conf = np.array([t[1] for t in types], dtype=bool)
    del venue, types
    conf_abs = (
        t_abs
        | v_abs
        | per_value(keys["volume_raw"], _suppl, bool, missing="")
        | per_value(keys["issue_raw"], _suppl, bool, missing="")
        | per_value(keys["pages_raw"], _abstract_page, bool, missing="")
    )
    doi = keys["doi"].to_numpy(dtype=object)
    has_doi = doi != ""
    pre_doi = per_value(keys["doi"], is_preprint_doi, bool, missing="") & has_doi
    has_arxiv = keys["arxiv"].to_numpy(dtype=object) != ""
    preprint = (has_arxiv & ~(has_doi & ~pre_doi)) | v_pre | pre_doi
    kind = np.where(preprint, "preprint", np.where(t_conf | v_conf, "conference", "journal"))
    return pd.DataFrame(
        {
            "generic": generic_titles(keys),
            "notice": per_value(title, _notice, bool, missing=""),
            "conf_abstract": conf_abs,
            "kind": pd.Series(kind.astype(object), dtype=object),
            "numbers": pd.Series(per_value(title, _numbers, missing=""), dtype=object),
        }
    )


def hard_evidence(keys: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Evidence that identifies an item whatever its title: the same DOI, or the same
    first page and the same issue (or, without issues, volume) and no other year. With
    the same volume *and* issue the years may differ by one (an issue appears in one
    year: the other is an online-first date or an export error).

    Issue numbers of three digits or more are ignored: the ``number`` field of some
    exports holds a record number, and no journal has a hundred issues a volume."""
    doi = keys["doi"].to_numpy(dtype=object)
    same_doi = (doi[i] == doi[j]) & (doi[i] != "")
    page = keys["page"].to_numpy(dtype=object)
    vol = keys["volume"].to_numpy(dtype=object)
    iss = keys["issue"].to_numpy(dtype=object)
    year = keys["year"].to_numpy()
    # an "issue" above ISSUE_MAX is an accession or record number in some exports
    ia = np.where([len(x) > 2 for x in iss[i]], "", iss[i])
    ib = np.where([len(x) > 2 for x in iss[j]], "", iss[j])
    same_page = (page[i] == page[j]) & (page[i] != "")
    same_issue = (ia == ib) & (ia != "")
    no_issue = (ia == "") | (ib == "")
    same_vol = (vol[i] == vol[j]) & (vol[i] != "")
    year_ok = (year[i] == year[j]) | (year[i] == 0) | (year[j] == 0)
    year_ok |= (np.abs(year[i] - year[j]) == 1) & same_vol & same_issue
    return same_doi | (same_page & (same_issue | (no_issue & same_vol)) & year_ok)


def pair_traps(
    keys: pd.DataFrame,
    flags: pd.DataFrame,
    i: np.ndarray,
    j: np.ndarray,
    title_sim: np.ndarray,
    *,
    page_code: np.ndarray | None = None,
    venue_sim: np.ndarray | None = None,
    title_min: float | None = None,
    merge_conference_abstracts: bool = False,
) -> np.ndarray:
    """The first trap that catches each pair (an index into :data:`TRAPS`), -1 for none.

    ``title_sim`` is the pair's title similarity in [0, 1]; ``page_code`` and
    ``venue_sim`` the page agreement code and venue similarity from :mod:`.scoring`
    (without them there is no ``page_conflict``); ``title_min`` the title similarity
    below which titles differ beyond a typo (without it there is no ``title_conflict``).
    """
    out = np.full(len(i), -1, dtype=np.int8)
    if len(i) == 0:
        return out

    def mark(name: str, mask: np.ndarray) -> None:
        out[(out < 0) & mask] = TRAPS.index(name)

    doi = keys["doi"].to_numpy(dtype=object)
    same_doi = (doi[i] == doi[j]) & (doi[i] != "")
    year = keys["year"].to_numpy()
    volume = keys["volume"].to_numpy(dtype=object)
    notice = flags["notice"].to_numpy()
    generic = flags["generic"].to_numpy()
    conf = flags["conf_abstract"].to_numpy()
    kind = flags["kind"].to_numpy(dtype=object)
    numbers = flags["numbers"].to_numpy(dtype=object)
    titles = keys["title"].to_numpy(dtype=object)

    mark("notice", notice[i] != notice[j])
    other_doi = np.flatnonzero((doi[i] != doi[j]) & (doi[i] != "") & (doi[j] != ""))
    conflict = np.zeros(len(i), dtype=bool)
    for n in other_doi:
        a, b = i[n], j[n]
        conflict[n] = kind[a] == kind[b] and not doi_versions(doi[a], doi[b])
    # an arXiv id names one work through all its versions (v1, v2, ...), so two records
    # with different ids are two works, whatever their kinds ("SAM-Path", 2307.09570, and
    # "SAM2-PATH", 2408.03651, have near-identical titles)
    arxiv = keys["arxiv"].to_numpy(dtype=object)
    conflict |= (arxiv[i] != arxiv[j]) & (arxiv[i] != "") & (arxiv[j] != "")
    mark("doi_conflict", conflict)
    if page_code is not None:
        same_place = (volume[i] == volume[j]) & (volume[i] != "")
        if venue_sim is not None:
            same_place |= np.nan_to_num(venue_sim, nan=0.0) >= 0.85
        mark(
            "page_conflict",
            (page_code == -1) & (year[i] == year[j]) & (year[i] > 0) & same_place & ~same_doi,
        )
        other_volume = (volume[i] != volume[j]) & (volume[i] != "") & (volume[j] != "")
        other_year = (year[i] != year[j]) & (year[i] > 0) & (year[j] > 0)
        other_venue = (
            np.zeros(len(i), dtype=bool)
            if venue_sim is None
            else np.nan_to_num(venue_sim, nan=1.0) < 0.5
        )
        mark("issue_conflict", other_volume & (other_year | other_venue) & ~same_doi)
    mark("shared_doi", same_doi & (title_sim < 0.6) & (titles[i] != ""))
    hard = hard_evidence(keys, i, j)
    differ = np.flatnonzero(
        (numbers[i] != numbers[j]) & (numbers[i] != "") & (numbers[j] != "") & ~hard
    )
    parts = np.zeros(len(i), dtype=bool)
    for n in differ:
        # compare only the common length: a truncated title loses its trailing numbers
        a, b = titles[i[n]], titles[j[n]]
        cut = min(len(a), len(b))
        parts[n] = _numbers(a[:cut]) != _numbers(b[:cut])
    mark("part", parts)
    mark("series", (year[i] > 0) & (year[j] > 0) & (np.abs(year[i] - year[j]) >= 2) & ~same_doi)
    if not merge_conference_abstracts:
        mark("conference_abstract", conf[i] != conf[j])
    mark("generic_title", (generic[i] | generic[j]) & ~hard)
    if title_min is not None:
        mark("title_conflict", title_conflict(keys, i, j, title_sim, title_min))
    return out


def title_conflict(
    keys: pd.DataFrame,
    i: np.ndarray,
    j: np.ndarray,
    title_sim: np.ndarray,
    title_min: float,
    citation: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs whose (non-empty) titles differ beyond a typo: similarity below ``title_min``.

    One exception: a title that its source marks as translated (MEDLINE's
    ``[Title in English].``, see :func:`~fmreview.dedupe.keys.translated_title`) paired
    with a record of the same citation (``citation``: year, volume, first page and
    authors agree) is the same article under its original title."""
    titles = keys["title"].to_numpy(dtype=object)
    out = (title_sim < title_min) & (titles[i] != "") & (titles[j] != "")
    if citation is not None and "translated" in keys.columns:
        tr = keys["translated"].to_numpy()
        out &= ~((tr[i] | tr[j]) & (citation == 1))
    return out

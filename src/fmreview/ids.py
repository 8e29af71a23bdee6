"""Normalisation of bibliographic identifiers.

Every identifier is stored in one canonical form so that exact-id deduplication and
lookups work across sources:

- DOI: lower case, no ``https://doi.org/`` / ``doi:`` prefix, no trailing punctuation.
- arXiv: no version suffix, no ``arXiv:`` prefix; new style ``2301.01234`` and old style
  ``hep-th/9901001`` (archive lower-cased).
- PMID: digits only. PMCID: ``PMC`` + digits.
- OpenAlex: ``W`` + digits (no URL). Semantic Scholar: 40-hex paper id.
- ISSN: ``NNNN-NNNX``. ISBN: digits (and X) only.

Each function returns ``None`` for input that holds no valid identifier.
"""

from __future__ import annotations

import re

_DOI_PREFIX = re.compile(
    r"^(?:https?://)?(?:dx\.)?(?:doi\.org/|doi:\s*|DOI:\s*|doi\s+)", re.IGNORECASE
)
_DOI_CORE = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)


def normalize_doi(value: str | None) -> str | None:
    """Return the canonical DOI or ``None``.

    >>> normalize_doi("https://doi.org/10.1000/ABC.123.")
    '10.1000/abc.123'
    """
    if not value:
        return None
    text = str(value).strip()
    text = _DOI_PREFIX.sub("", text)
    m = _DOI_CORE.search(text)
    if not m:
        return None
    doi = m.group(0).lower()
    doi = doi.replace("%2f", "/")
    return doi.rstrip(".,;:)]}'\"") or None


_ARXIV_NEW = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_ARXIV_OLD = re.compile(r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.IGNORECASE)


def normalize_arxiv(value: str | None) -> str | None:
    """Return the version-less arXiv id or ``None``.

    >>> normalize_arxiv("arXiv:2301.01234v3")
    '2301.01234'
    >>> normalize_arxiv("http://arxiv.org/abs/hep-th/9901001v2")
    'hep-th/9901001'
    """
    if not value:
        return None
    text = str(value).strip()
    text = re.sub(
        r"^(?:https?://)?(?:www\.)?(?:export\.)?arxiv\.org/(?:abs|pdf)/", "", text, flags=re.I
    )
    text = re.sub(r"^arxiv:\s*", "", text, flags=re.I)
    text = re.sub(r"\.pdf$", "", text, flags=re.I)
    m = _ARXIV_NEW.search(text)
    if m:
        return m.group(1)
    m = _ARXIV_OLD.search(text)
    if m:
        archive, num = m.group(1).split("/")
        return f"{archive.lower()}/{num}"
    # arXiv DOIs: 10.48550/arXiv.2301.01234
    return None


def arxiv_from_doi(doi: str | None) -> str | None:
    """The arXiv id inside an arXiv DOI (``10.48550/arxiv.2301.01234``)."""
    if doi and doi.lower().startswith("10.48550/arxiv."):
        return normalize_arxiv(doi[len("10.48550/arxiv.") :])
    return None


def normalize_pmid(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    text = re.sub(
        r"^(?:pmid:?\s*|https?://(?:www\.)?(?:pubmed\.ncbi\.nlm\.nih\.gov|ncbi\.nlm\.nih\.gov/pubmed)/)",
        "",
        text,
        flags=re.I,
    )
    m = re.match(r"^(\d{1,9})\b", text)
    return m.group(1).lstrip("0") or None if m else None


def normalize_pmcid(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"PMC\s*(\d+)", str(value), flags=re.I)
    if m:
        return f"PMC{m.group(1)}"
    text = str(value).strip()
    return f"PMC{text}" if text.isdigit() else None


def normalize_openalex(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"\b(W\d+)\b", str(value).strip(), flags=re.I)
    return m.group(1).upper() if m else None


def normalize_s2(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"\b([0-9a-f]{40})\b", str(value).strip().lower())
    return m.group(1) if m else None


def normalize_issn(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"(\d{4})-?(\d{3}[\dXx])", str(value))
    return f"{m.group(1)}-{m.group(2).upper()}" if m else None


def normalize_isbn(value: str | None) -> str | None:
    if not value:
        return None
    digits = re.sub(r"[^0-9Xx]", "", str(value)).upper()
    return digits if len(digits) in (10, 13) else None

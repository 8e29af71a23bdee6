"""Full text: fetch open-access PDFs, keep their methods/experiments sections, locate evidence.

Online (:func:`fetch_pdfs`): for each work without a PDF in the review folder's ``pdfs/``,
the arXiv PDF (``https://arxiv.org/pdf/<id>``) when the work has an arXiv id, else the
open-access PDF link OpenAlex (``best_oa_location.pdf_url``) or Unpaywall
(``best_oa_location.url_for_pdf``, needs an e-mail) gives for its DOI. A downloaded PDF is
saved as ``pdfs/<arXiv id>.pdf`` or ``pdfs/<doi with / as _>.pdf``: the folder is the cache
(nothing is fetched twice) and the same place a person drops PDFs into (offline use).

Sections (:func:`methods_text`): datasets, modality and task are taken from the methods /
experiments part of a paper only (introduction and related work name other people's
datasets and tasks): from a heading such as *Methods*, *Materials and methods*,
*Experiments*, *Datasets*, *Implementation*, *Evaluation* or *Results* up to *References*,
*Acknowledgements*, *Conclusion* or *Discussion*. When no heading is found the pages after
the first are used (the first holds the abstract and introduction).

Evidence (:class:`FullText`): every label found there cites the page and the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from fmreview.errors import FormatError
from fmreview.extract.label import Span
from fmreview.extract.rules import FULLTEXT_AXES
from fmreview.extract.sentences import sentence_bounds

__all__ = ["FULLTEXT_AXES", "FetchCounts", "FullText", "fetch_pdfs", "fulltexts_in", "methods_text"]
_START = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+|[IVX]+\.\s+)?(materials? and methods?|methods?|methodology|"
    r"experiments?(?:al (?:setup|settings?|results))?|datasets?(?: and [\w ]+)?|"
    r"implementation(?: details)?|evaluation|results)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_END = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?\s+|[IVX]+\.\s+)?(references|bibliography|acknowledge?ments?|"
    r"conclusions?|discussion|limitations)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class FullText:
    """The methods/experiments text of a paper, and where each part came from.

    ``text`` joins the kept parts of the pages; ``parts`` holds ``(offset, page)`` for
    each page's part (pages counted from 1).
    """

    text: str
    parts: list[tuple[int, int]] = field(default_factory=list)

    def locate(self, start: int) -> tuple[int, str]:
        """Page number and sentence containing character ``start`` of :attr:`text`."""
        page = 1
        for off, p in self.parts:
            if off <= start:
                page = p
        for a, b in sentence_bounds(self.text):
            if a <= start < b or start < a:
                return page, self.text[a:b].strip()
        return page, ""

    def evidence(self, span: Span, limit: int = 300) -> Span:
        """A ``fulltext`` rule span as page + sentence evidence."""
        page, sentence = self.locate(span.start or 0)
        if len(sentence) > limit:
            rel = (span.start or 0) - self.text.find(sentence)
            lo = max(0, min(rel - limit // 2, len(sentence) - limit))
            sentence = sentence[lo : lo + limit]
        return Span(f"fulltext p.{page}", span.start, span.end, sentence)


def methods_text(pages: Sequence[str]) -> FullText:
    """The methods/experiments sections of a paper's pages (see the module docstring)."""
    keep: list[tuple[int, str]] = []
    inside = False
    found = False
    for no, page in enumerate(pages, start=1):
        pos = 0
        chunk = []
        while pos < len(page):
            if inside:
                m = _END.search(page, pos)
                if m is None:
                    chunk.append(page[pos:])
                    break
                chunk.append(page[pos : m.start()])
                inside = False
                pos = m.end()
            else:
                m = _START.search(page, pos)
                if m is None:
                    break
                inside = found = True
                pos = m.end()
        text = " ".join(c.strip() for c in chunk if c.strip())
        if text:
            keep.append((no, text))
    if not found:
        keep = [(no, p.strip()) for no, p in enumerate(pages, start=1) if no > 1 and p.strip()]
        keep = [(no, _until_references(t)) for no, t in keep]
    parts: list[tuple[int, int]] = []
    out = ""
    for no, t in keep:
        if not t:
            continue
        if out:
            out += "\n\n"
        parts.append((len(out), no))
        out += t
    return FullText(out, parts)


def _until_references(text: str) -> str:
    m = _END.search(text)
    return text[: m.start()] if m else text


def pdf_pages(path: str | Path) -> list[str]:
    """The text of each page of a PDF (pypdf), hyphenated line breaks rejoined."""
    p = Path(path)
    try:
        pages = [(page.extract_text() or "") for page in PdfReader(str(p)).pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise FormatError(
            f"{p}: cannot read the PDF ({exc}); is it a valid, unencrypted PDF?"
        ) from exc
    return [re.sub(r"[ \t]+", " ", re.sub(r"(\w)-\n(\w)", r"\1\2", t)) for t in pages]


# ----------------------------------------------------------------------------- online
def pdf_name(work: dict[str, Any]) -> str | None:
    """The file name a work's PDF is cached under (None: no arXiv id or DOI)."""
    if work.get("arxiv"):
        return f"{str(work['arxiv']).lower()}.pdf"
    if work.get("doi"):
        return f"{str(work['doi']).lower().replace('/', '_')}.pdf"
    return None


def oa_pdf_urls(work: dict[str, Any], client: Any, *, email: str | None = None) -> list[str]:
    """Candidate open-access PDF URLs of a work, best first (arXiv, OpenAlex, Unpaywall)."""
    import httpx

    urls: list[str] = []
    if work.get("arxiv"):
        urls.append(f"https://arxiv.org/pdf/{work['arxiv']}")
    doi = work.get("doi")
    if doi:
        try:
            r = client.get(
                f"https://api.openalex.org/works/doi:{doi}",
                params={"mailto": email} if email else None,
            )
            if r.status_code == 200:
                data = r.json()
                loc = data.get("best_oa_location") or {}
                for u in (loc.get("pdf_url"), (data.get("open_access") or {}).get("oa_url")):
                    if u and u not in urls:
                        urls.append(str(u))
        except (httpx.HTTPError, ValueError):
            pass
        if email:
            try:
                r = client.get(f"https://api.unpaywall.org/v2/{doi}", params={"email": email})
                if r.status_code == 200:
                    loc = r.json().get("best_oa_location") or {}
                    u = loc.get("url_for_pdf")
                    if u and u not in urls:
                        urls.append(str(u))
            except (httpx.HTTPError, ValueError):
                pass
    return urls


@dataclass
class FetchCounts:
    """What :func:`fetch_pdfs` did."""

    cached: int = 0
    downloaded: int = 0
    not_found: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": len(self.failed)}


def fetch_pdfs(
    works: Iterable[dict[str, Any]],
    folder: str | Path,
    client: Any,
    *,
    email: str | None = None,
    reporter: Any = None,
) -> FetchCounts:
    """Download open-access PDFs of ``works`` into ``folder`` (skipping those cached there).

    ``client`` is an ``httpx.Client`` (tests pass one with ``httpx.MockTransport``). A
    response that is not a PDF (``%PDF`` magic) is not saved.
    """
    import httpx

    from fmreview.extract.pdf import match_pdfs
    from fmreview.progress import NullReporter

    reporter = reporter or NullReporter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    works = list(works)
    have = match_pdfs(folder, works)
    counts = FetchCounts()
    for w in reporter.track(works, "fetching open-access PDFs"):
        name = pdf_name(w)
        if int(w["id"]) in have:
            counts.cached += 1
            continue
        if name is None:
            counts.not_found += 1
            continue
        urls = oa_pdf_urls(w, client, email=email)
        if not urls:
            counts.not_found += 1
            continue
        saved = False
        for url in urls:
            try:
                r = client.get(url, follow_redirects=True)
            except httpx.HTTPError:
                continue
            if r.status_code == 200 and r.content[:5] == b"%PDF-":
                (folder / name).write_bytes(r.content)
                saved = True
                break
        if saved:
            counts.downloaded += 1
        else:
            counts.failed.append(name)
    return counts


def fulltexts_in(folder: str | Path, works: Iterable[dict[str, Any]]) -> dict[int, FullText]:
    """Work id -> methods/experiments text of its PDF in ``folder`` (unreadable PDFs skipped)."""
    from fmreview.extract.pdf import match_pdfs

    out: dict[int, FullText] = {}
    for wid, path in match_pdfs(folder, works).items():
        try:
            ft = methods_text(pdf_pages(path))
        except FormatError:
            continue
        if ft.text:
            out[wid] = ft
    return out

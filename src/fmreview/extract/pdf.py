"""Full text from PDFs a person supplies (text extraction with pypdf).

Put PDFs in the review folder's ``pdfs/`` and name each after its work: ``<work id>.pdf``,
``work-<id>.pdf``, the arXiv id (``2304.02643.pdf``, ``2304.02643v2.pdf``) or the DOI with
``/`` written as ``_`` (``10.1038_s41591-023-02504-3.pdf``). Rules then also search the
full text (``fulltext`` evidence spans, confidence below title/abstract matches).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from fmreview.errors import FormatError


def pdf_text(path: str | Path, *, max_pages: int | None = None) -> str:
    """The text of a PDF, pages joined by blank lines; hyphenated line breaks rejoined."""
    p = Path(path)
    try:
        reader = PdfReader(str(p))
        pages = reader.pages if max_pages is None else reader.pages[:max_pages]
        text = "\n\n".join((page.extract_text() or "") for page in pages)
    except (PdfReadError, OSError, ValueError) as exc:
        raise FormatError(
            f"{p}: cannot read the PDF ({exc}); is it a valid, unencrypted PDF?"
        ) from exc
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _keys(work: dict[str, Any]) -> list[str]:
    wid = int(work["id"])
    keys = [str(wid), f"work-{wid}", f"work{wid}"]
    if work.get("arxiv"):
        keys.append(str(work["arxiv"]).lower())
    if work.get("doi"):
        doi = str(work["doi"]).lower()
        keys += [doi.replace("/", "_"), doi.replace("/", "%2f")]
    return keys


def match_pdfs(folder: str | Path, works: Iterable[dict[str, Any]]) -> dict[int, Path]:
    """Work id -> PDF in ``folder``, matched by file name (see the module docstring)."""
    files: dict[str, Path] = {}
    for f in Path(folder).glob("*.pdf"):
        stem = f.stem.lower()
        files[stem] = f
        files.setdefault(re.sub(r"v\d+$", "", stem), f)  # arXiv version suffix
    out: dict[int, Path] = {}
    for w in works:
        for k in _keys(w):
            if k in files:
                out[int(w["id"])] = files[k]
                break
    return out

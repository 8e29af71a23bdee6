"""Templates and the text helpers that make untrusted text safe to show.

Every page is a Jinja2 template with autoescaping on. On top of that:

- every value printed by a template first loses its control characters (``finalize``), so
  a title holding NUL or ESC bytes cannot break an HTML parser;
- :func:`highlight` (protocol terms) and :func:`evidence` (extraction spans) build markup
  from untrusted text: they find match positions in the *raw* text and escape every piece
  — the text between matches and the matched text itself — before wrapping matches in
  ``<mark>``. No untrusted character reaches the page unescaped, and a term cannot match
  inside an entity such as ``&amp;`` (which searching already-escaped text would allow);
- links from records are kept only when they are ``http(s)`` URLs (:func:`safe_url`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent.parent / "static" / "web"

REPORT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "report"
#: The report's own policy: scripts only from the report folder or, inline, those whose text
#: is one of the report templates' script files (allowed by hash, see :func:`report_csp`);
#: styles may be inline (the report is one self-contained file); nothing is fetched.
REPORT_CSP = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_SCRIPT = re.compile(rb"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.S | re.I)
_DATA_BLOCK = re.compile(rb"type\s*=\s*[\"']?application/(ld\+)?json", re.I)


def _known_scripts() -> set[bytes]:
    """The script files of the report templates (stripped), read once per process."""
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = {
            p.read_bytes().strip() for p in sorted(REPORT_TEMPLATES.glob("*.js")) if p.is_file()
        }
    return _KNOWN


_KNOWN: set[bytes] | None = None


def report_csp(html: bytes = b"") -> str:
    """The Content-Security-Policy of a report page.

    An inline ``<script>`` of ``html`` is allowed (by its SHA-256 hash) only when its text
    is, whitespace aside, one of the report templates' ``*.js`` files: our own code, which a
    title or abstract smuggled into the report cannot be. Anything else inline is blocked;
    JSON data blocks (``type="application/json"``) are not run by browsers and need nothing.
    """
    known = _known_scripts()
    hashes: list[str] = []
    for m in _SCRIPT.finditer(html):
        if _DATA_BLOCK.search(m.group("attrs")):
            continue
        body = m.group("body")
        if body.strip() in known:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            if f"'sha256-{digest}'" not in hashes:
                hashes.append(f"'sha256-{digest}'")
    return REPORT_CSP.format(hashes="".join(" " + h for h in hashes))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def clean(value: Any) -> str:
    """``value`` as text without control characters (tab and newlines kept)."""
    if value is None:
        return ""
    return _CONTROL.sub("", str(value))


def short(value: Any, n: int = 300) -> str:
    """At most ``n`` characters (an ellipsis marks a cut); for lists and tables."""
    text = clean(value)
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return clean(value)


def _marked(text: str, spans: Iterable[tuple[int, int, str]]) -> Markup:
    """Escape ``text`` piece by piece, wrapping each (start, end, css class) span in <mark>."""
    out: list[str] = []
    pos = 0
    for start, end, css in sorted(spans):
        if start < pos or end <= start:
            continue  # overlapping or empty: the earlier span wins
        out.append(str(escape(text[pos:start])))
        out.append(f'<mark class="{css}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for literal ``terms``, longest first."""
    parts = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile("|".join(re.escape(p) for p in parts), re.IGNORECASE)


def highlight(value: Any, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Markup:
    """``value`` escaped, with the protocol's include terms and exclude terms marked."""
    text = clean(value)
    spans: list[tuple[int, int, str]] = []
    for terms, css in ((include, "hl-include"), (exclude, "hl-exclude")):
        pat = term_pattern(terms)
        if pat is not None:
            spans += [(m.start(), m.end(), css) for m in pat.finditer(text)]
    # include terms win ties at the same start (sorted puts hl-exclude after hl-include)
    return _marked(text, spans)


def evidence(value: Any, spans: Sequence[dict[str, Any]], field: str) -> Markup:
    """``value`` escaped with the evidence spans of ``field`` marked.

    A span whose offsets do not fit the text (the text changed since extraction) is found by
    its ``text`` instead; one found nowhere is skipped.
    """
    raw = "" if value is None else str(value)
    marks: list[tuple[int, int, str]] = []
    for sp in spans or []:
        if not isinstance(sp, dict) or sp.get("field") != field:
            continue
        start, end, snippet = sp.get("start"), sp.get("end"), str(sp.get("text") or "")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw):
            if not snippet or raw[start:end] == snippet:
                marks.append((start, end, "hl-evidence"))
                continue
        if snippet:
            i = raw.lower().find(snippet.lower())
            if i >= 0:
                marks.append((i, i + len(snippet), "hl-evidence"))
    # control characters are removed after the spans are placed, piece by piece
    out: list[str] = []
    pos = 0
    for start, end, css in sorted(marks):
        if start < pos:
            continue
        out.append(str(escape(clean(raw[pos:start]))))
        out.append(f'<mark class="{css}">{escape(clean(raw[start:end]))}</mark>')
        pos = end
    out.append(str(escape(clean(raw[pos:]))))
    return Markup("".join(out))


def safe_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL without controls or spaces, else None."""
    if not value:
        return None
    url = str(value).strip()
    if _CONTROL.search(url) or any(ch.isspace() for ch in url) or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def doi_url(doi: Any) -> str | None:
    if not doi:
        return None
    text = clean(doi).strip()
    if not text or any(unicodedata.category(c).startswith("Z") for c in text):
        return None
    return "https://doi.org/" + quote(text, safe="/:;()._-")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        clean=clean,
        short=short,
        highlight=highlight,
        evidence=evidence,
        safe_url=safe_url,
        doi_url=doi_url,
    )
    return env

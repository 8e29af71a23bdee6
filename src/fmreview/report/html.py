"""Rendering the self-contained HTML report (Jinja2, autoescape on).

Titles, abstracts, venues and labels come from the internet and are untrusted: the
template escapes every value; the only pre-built markup is the PRISMA SVG (built by
ElementTree, which escapes its text) and the atlas JSON, whose ``<``, ``>`` and ``&`` are
written as ``\\u`` escapes so no string can close the ``<script>`` element. Only
``http(s)`` URLs become links.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from fmreview.web.render import safe_url

TEMPLATE = "report.html.j2"


def template_dir() -> Path:
    return Path(str(resources.files("fmreview") / "templates" / "report"))


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 study', '2 studies', '1,062 studies': the count with a noun that agrees."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["plural"] = plural
    return env


def script_json(obj: Any) -> Markup:
    """JSON safe to embed in a ``<script type="application/json">`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host (the web app's
    :func:`~fmreview.web.render.safe_url`: no control characters or spaces) and without a
    quote or angle bracket, else None (``javascript:`` etc.)."""
    safe = safe_url(url)
    if safe is None or any(c in safe for c in '"<>'):
        return None
    return safe


def study_links(doi: str | None, arxiv: str | None, url: str | None) -> list[dict[str, str | None]]:
    """Links of a study: DOI, arXiv and its URL (only http(s); anything else shown as text)."""
    links: list[dict[str, str | None]] = []
    if doi:
        links.append(
            {"label": f"doi:{doi}", "href": "https://doi.org/" + quote(doi, safe="/:;()._-")}
        )
    if arxiv:
        links.append(
            {
                "label": f"arXiv:{arxiv}",
                "href": "https://arxiv.org/abs/" + quote(arxiv, safe="/._-"),
            }
        )
    if url:
        href = http_url(url)
        known = {str(x["href"]) for x in links}
        if href is None:
            links.append({"label": url, "href": None})
        elif href not in known:
            host = urlsplit(href).netloc
            links.append({"label": host or "link", "href": href})
    return links


#: The files the page loads, written next to index.html (no CDN; works from file://).
ASSETS = {"report.css": "report.css", "report.js": "atlas.js"}


def write_assets(folder: Path) -> dict[str, Path]:
    """Write ``report.css`` and ``report.js`` next to the page; returns their paths.

    External files rather than inline ``<style>``/``<script>``, so the report can be served
    under a Content-Security-Policy without ``'unsafe-inline'``. The bar widths are classes
    (``.w0`` … ``.w100``) for the same reason.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, src in ASSETS.items():
        text = (template_dir() / src).read_text(encoding="utf-8")
        if name == "report.css":
            text += "".join(f".w{i} {{ width: {i}%; }}\n" for i in range(101))
        path = folder / name
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def render_report(context: dict[str, Any]) -> str:
    """The report page for a context built by :func:`fmreview.report.build.report_context`."""
    ctx = dict(context)
    ctx["prisma_svg"] = Markup(ctx.get("prisma_svg", ""))  # built by ElementTree: escaped text
    ctx["atlas_json"] = script_json(ctx.get("atlas_data", {}))
    return environment().get_template(TEMPLATE).render(**ctx)

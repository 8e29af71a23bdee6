"""The atlas and the generated report (files under ``<review>/report`` only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from fmreview.errors import FmreviewError
from fmreview.extract.atlas import find
from fmreview.web.auth import User
from fmreview.web.context import page, require_user, web
from fmreview.web.render import report_csp

router = APIRouter()

ATLAS_FILTERS = ("modality", "task", "fm_type", "architecture", "anatomy", "dataset")


@router.get("/atlas")
def atlas_page(request: Request, user: User = Depends(require_user)) -> Response:
    st = web(request)
    filters = {k: request.query_params.get(k, "").strip()[:200] for k in ATLAS_FILTERS}
    rows: list[dict[str, Any]] = []
    error = None
    try:
        given: dict[str, Any] = {k: v for k, v in filters.items() if v}
        rows = find(st.store, limit=200, **given)
    except FmreviewError as exc:
        error = str(exc)
    choices = {
        a.name: [v.name for v in a.values]
        for a in st.store.protocol.taxonomy
        if a.name in ATLAS_FILTERS
    }
    return page(request, "atlas.html", rows=rows, filters=filters, choices=choices, error=error)


def report_file(folder: Path | None, relpath: str) -> Path:
    """The file ``relpath`` under ``<folder>/report``; anything else (``..``, absolute
    paths, symlinks leading out, hidden files, folders) is refused with 404."""
    if folder is None:
        raise HTTPException(404, "this review has no folder, so no report")
    root = (Path(folder) / "report").resolve()
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." or p.startswith(".") or ":" in p or "\x00" in p for p in parts):
        raise HTTPException(404, "no such report file")
    target = root.joinpath(*parts) if parts else root / "index.html"
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HTTPException(
            404, "no report yet: build it with `fmreview report` or from the admin page"
        ) from None
    if not real.is_relative_to(root) or not real.is_file():
        raise HTTPException(404, "no such report file")
    return real


def _report_response(path: Path) -> Response:
    """A report file; an HTML page with its own CSP (:func:`report_csp`)."""
    if path.suffix.lower() in (".html", ".htm"):
        html = path.read_bytes()
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": report_csp(html)},
        )
    return FileResponse(path, headers={"Content-Security-Policy": report_csp()})


@router.get("/report")
@router.get("/report/")
def report_index(request: Request, user: User = Depends(require_user)) -> Response:
    return _report_response(report_file(web(request).store.folder, "index.html"))


@router.get("/report/{path:path}")
def report_asset(request: Request, path: str, user: User = Depends(require_user)) -> Response:
    return _report_response(report_file(web(request).store.folder, path))

"""The other human checks: conflicts, the dedupe review queue, the extraction review."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from fmreview.errors import InputError
from fmreview.web.app import checked_form, json_response, page, redirect, require_user, web
from fmreview.web.auth import User
from fmreview.web.queue import STAGES, conflicts, resolve_conflict

router = APIRouter()


def _may_resolve(request: Request, user: User) -> None:
    """Conflicts show every vote side by side: admins only while blinding is on."""
    if not user.is_admin and web(request).store.protocol.screening.blinding:
        raise HTTPException(
            403, "with blinding on, conflicts are resolved by an admin (votes stay hidden)"
        )


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} {value!r} is not a number") from exc


# ----------------------------------------------------------------------------- conflicts
@router.get("/conflicts")
def conflicts_page(request: Request, user: User = Depends(require_user)) -> Response:
    _may_resolve(request, user)
    st = web(request)
    return page(
        request,
        "conflicts.html",
        conflicts=conflicts(st.store),
        criteria=[
            c
            for c in st.store.protocol.eligibility
            if c.action == "exclude" and c.stage != "automation"
        ],
    )


@router.get("/api/conflicts")
def conflicts_api(request: Request, user: User = Depends(require_user)) -> Response:
    _may_resolve(request, user)
    return json_response(conflicts(web(request).store))


@router.post("/conflicts/resolve")
async def resolve(request: Request) -> Response:
    form = await checked_form(request)
    user = require_user(request)
    _may_resolve(request, user)
    st = web(request)
    work_id = _int(form.get("work_id"), "work_id")
    stage = form.get("stage") or "title_abstract"
    if stage not in STAGES:
        raise InputError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    label = form.get("label", "")
    method = form.get("method") or "third reviewer"
    await st.writer.run(
        lambda: resolve_conflict(
            st.store,
            work_id=work_id,
            stage=stage,
            label=label,
            reviewer=user.username,
            method=method,
            criterion=form.get("criterion"),
            comment=form.get("comment", ""),
        ),
    )
    st.queue.refresh()  # the resolution moves the work on at once
    return redirect(request, "/conflicts")


# ----------------------------------------------------------------------------- dedupe
def _dedupe() -> Any:
    try:
        from fmreview.dedupe import store_io
    except ImportError:  # pragma: no cover - dedupe module absent
        return None
    return store_io


@router.get("/dedupe")
def dedupe_page(request: Request, user: User = Depends(require_user)) -> Response:
    io = _dedupe()
    pairs = io.pending_pairs(web(request).store)[:25] if io else []
    return page(request, "dedupe.html", pairs=pairs, available=io is not None)


@router.post("/dedupe/decide")
async def dedupe_decide(request: Request) -> Response:
    form = await checked_form(request)
    user = require_user(request)
    io = _dedupe()
    if io is None:
        raise HTTPException(404, "the dedupe module is not installed")
    st = web(request)
    a, b = _int(form.get("a"), "record a"), _int(form.get("b"), "record b")
    same = form.get("same")
    if same not in ("yes", "no"):
        raise InputError("answer 'same' with yes or no")
    note = form.get("note", "")[:10000]
    await st.writer.run(lambda: io.decide_pair(st.store, a, b, same == "yes", user.username, note))
    return redirect(request, "/dedupe")


# ----------------------------------------------------------------------------- extraction
def _extract() -> Any:
    try:
        from fmreview.extract import store_io
    except ImportError:  # pragma: no cover - extraction module absent
        return None
    return store_io


def _axis_choices(protocol: Any) -> dict[str, dict[str, Any]]:
    return {
        a.name: {"multi": a.multi, "free": a.from_gazetteer, "values": [v.name for v in a.values]}
        for a in protocol.taxonomy
    }


@router.get("/extraction")
def extraction_page(
    request: Request, axis: str | None = None, user: User = Depends(require_user)
) -> Response:
    io = _extract()
    st = web(request)
    axes = [axis] if axis else None
    items = io.review_queue(st.store, 20, axes=axes) if io else []
    return page(
        request,
        "extraction.html",
        items=items,
        axes=_axis_choices(st.store.protocol),
        axis=axis or "",
        available=io is not None,
    )


@router.post("/extraction/confirm")
async def extraction_confirm(request: Request) -> Response:
    form = await checked_form(request)
    user = require_user(request)
    io = _extract()
    if io is None:
        raise HTTPException(404, "the extraction module is not installed")
    st = web(request)
    label_id = _int(form.get("label_id"), "label_id")
    note = form.get("note", "")[:10000]
    await st.writer.run(lambda: io.confirm_label(st.store, label_id, user.username, note=note))
    return redirect(request, "/extraction")


@router.post("/extraction/correct")
async def extraction_correct(request: Request) -> Response:
    form = await checked_form(request)
    user = require_user(request)
    io = _extract()
    if io is None:
        raise HTTPException(404, "the extraction module is not installed")
    st = web(request)
    work_id = _int(form.get("work_id"), "work_id")
    axis = form.get("axis", "")
    values = [v.strip() for v in form.get("value", "").split(";") if v.strip()]
    if not values:
        raise InputError("give the corrected value (several separated by ';' on multi-valued axes)")
    note = form.get("note", "")[:10000]
    await st.writer.run(
        lambda: io.correct_label(st.store, work_id, axis, values, user.username, note=note)
    )
    return redirect(request, "/extraction")

"""The other human checks: conflicts, the dedupe review queue, the extraction review."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from fmreview.dedupe import store_io as dedupe_io
from fmreview.errors import ForbiddenError, InputError
from fmreview.extract import store_io as extract_io
from fmreview.screening.decisions import STAGES, conflicts, resolve_conflict
from fmreview.store import schema
from fmreview.web.auth import User
from fmreview.web.context import checked_form, json_response, page, redirect, require_user, web
from fmreview.web.routes.screening import parse_id

router = APIRouter()


def _may_resolve(request: Request, user: User) -> None:
    """Conflicts show every vote side by side: admins only while blinding is on."""
    if not user.is_admin and web(request).store.protocol.screening.blinding:
        raise HTTPException(
            403, "with blinding on, conflicts are resolved by an admin (votes stay hidden)"
        )


def _may(request: Request, user: User, what: str) -> None:
    """Refuse (403) a role the settings do not allow for ``what`` (dedupe, extraction)."""
    roles = getattr(web(request).settings, f"{what}_roles")
    if user.role not in roles:
        raise HTTPException(
            403, f"{what} decisions are for {' and '.join(roles)}s; your role is {user.role}"
        )


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
    work_id = parse_id(form.get("work_id"), "work_id")
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
@router.get("/dedupe")
def dedupe_page(request: Request, user: User = Depends(require_user)) -> Response:
    pairs = dedupe_io.pending_pairs(web(request).store)[:25]
    return page(request, "dedupe.html", pairs=pairs, available=True)


def _check_proposed(store: Any, a: int, b: int) -> None:
    """Only a pair the dedupe step proposed and no one has decided may be decided."""
    pending = {
        tuple(sorted((int(p["a"]["id"]), int(p["b"]["id"]))))
        for p in dedupe_io.pending_pairs(store)
    }
    if tuple(sorted((a, b))) not in pending:
        raise ForbiddenError(
            f"records {a} and {b} are not a pair the dedupe step proposed for review (or it "
            "was decided already); decide only the pairs listed on /dedupe"
        )


@router.post("/dedupe/decide")
async def dedupe_decide(request: Request) -> Response:
    form = await checked_form(request)
    user = require_user(request)
    _may(request, user, "dedupe")
    st = web(request)
    a, b = parse_id(form.get("a"), "record a"), parse_id(form.get("b"), "record b")
    same = form.get("same")
    if same not in ("yes", "no"):
        raise InputError("answer 'same' with yes or no")
    note = form.get("note", "")[:10000]

    def write() -> int:
        _check_proposed(st.store, a, b)
        return dedupe_io.decide_pair(st.store, a, b, same == "yes", user.username, note)

    await st.writer.run(write)
    return redirect(request, "/dedupe")


# ----------------------------------------------------------------------------- extraction
def _axis_choices(protocol: Any) -> dict[str, dict[str, Any]]:
    return {
        a.name: {"multi": a.multi, "free": a.from_gazetteer, "values": [v.name for v in a.values]}
        for a in protocol.taxonomy
    }


@router.get("/extraction")
def extraction_page(
    request: Request, axis: str | None = None, user: User = Depends(require_user)
) -> Response:
    st = web(request)
    axes = [axis] if axis else None
    items = extract_io.review_queue(st.store, 20, axes=axes)
    return page(
        request,
        "extraction.html",
        items=items,
        axes=_axis_choices(st.store.protocol),
        axis=axis or "",
        available=True,
    )


def _check_extracted(store: Any, work_id: int, axis: str | None = None) -> None:
    """Labels are confirmed or corrected only on works the extraction step labelled."""
    lab = schema.labels
    cond = [lab.c.work_id == work_id]
    if axis is not None:
        cond.append(lab.c.axis == axis)
    with store.connect() as conn:
        found = conn.execute(sa.select(lab.c.id).where(*cond).limit(1)).first()
    if found is None:
        where = f"work {work_id}" + (f" on axis {axis!r}" if axis else "")
        raise ForbiddenError(
            f"{where} has no extracted label to review; run `fmreview extract` first"
        )


async def _extraction_form(request: Request) -> tuple[dict[str, str], User]:
    """The posted form of an extraction review and its author (a role the protocol
    allows)."""
    form = await checked_form(request)
    user = require_user(request)
    _may(request, user, "extraction")
    return form, user


@router.post("/extraction/confirm")
async def extraction_confirm(request: Request) -> Response:
    form, user = await _extraction_form(request)
    st = web(request)
    label_id = parse_id(form.get("label_id"), "label_id")
    note = form.get("note", "")[:10000]
    await st.writer.run(
        lambda: extract_io.confirm_label(st.store, label_id, user.username, note=note)
    )
    return redirect(request, "/extraction")


@router.post("/extraction/correct")
async def extraction_correct(request: Request) -> Response:
    form, user = await _extraction_form(request)
    st = web(request)
    work_id = parse_id(form.get("work_id"), "work_id")
    axis = form.get("axis", "")
    st.store.protocol.axis(axis)  # an unknown axis lists the protocol's
    values = [v.strip() for v in form.get("value", "").split(";") if v.strip()]
    if not values:
        raise InputError("give the corrected value (several separated by ';' on multi-valued axes)")
    note = form.get("note", "")[:10000]

    def write() -> list[int]:
        _check_extracted(st.store, work_id, axis)
        return extract_io.correct_label(st.store, work_id, axis, values, user.username, note=note)

    await st.writer.run(write)
    return redirect(request, "/extraction")

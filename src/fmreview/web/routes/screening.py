"""Screening: the next work of the reviewer's queue, votes, and a work's (blinded) votes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from fmreview.errors import InputError
from fmreview.store import schema
from fmreview.web.app import (
    check_csrf_header,
    checked_form,
    json_response,
    page,
    redirect,
    require_user,
    web,
)
from fmreview.web.auth import User
from fmreview.web.queue import STAGES, QueueItem, add_vote, check_vote, visible_votes

router = APIRouter()

WORK_COLUMNS = (
    "id",
    "title",
    "abstract",
    "keywords",
    "year",
    "venue",
    "authors",
    "doi",
    "url",
    "arxiv",
    "pmid",
    "type",
)


_LOAD_WORK = sa.select(
    *[schema.works.c[c] for c in WORK_COLUMNS], schema.works.c.merged_into
).where(schema.works.c.id == sa.bindparam("wid"))


def load_work(store: Any, work_id: int) -> dict[str, Any] | None:
    with store.connect() as conn:
        row = conn.execute(_LOAD_WORK, {"wid": work_id}).first()
    return None if row is None else dict(row._mapping)


def criteria_for(protocol: Any, stage: str) -> dict[str, list[Any]]:
    """The protocol's criteria a reviewer applies at ``stage`` (automation rules aside)."""
    keep = [
        c
        for c in protocol.eligibility
        if c.stage in (stage, "title_abstract") and c.stage != "automation"
    ]
    if stage == "full_text":
        keep = [c for c in protocol.eligibility if c.stage != "automation"]
    return {
        "exclude": [c for c in keep if c.action == "exclude"],
        "include": [c for c in keep if c.action == "include"],
    }


def _stage(value: str | None) -> str:
    stage = value or "title_abstract"
    if stage not in STAGES:
        raise InputError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    return stage


def _authors(authors: Any) -> str:
    names = []
    for a in authors or []:
        if isinstance(a, list | tuple) and a:
            names.append(" ".join(str(x) for x in reversed(a) if x))
        elif isinstance(a, dict):
            names.append(" ".join(str(a.get(k) or "") for k in ("given", "family")).strip())
        else:
            names.append(str(a))
    if len(names) > 8:
        names = names[:8] + [f"and {len(names) - 8} more"]
    return ", ".join(n for n in names if n)


@router.get("/screen")
def screen_page(
    request: Request, stage: str | None = None, user: User = Depends(require_user)
) -> Response:
    st = web(request)
    stage = _stage(stage)
    item = st.queue.next_for(user.username, stage)
    work = load_work(st.store, item.work_id) if item else None
    progress = st.queue.progress(user.username)
    return page(
        request,
        "screen.html",
        stage=stage,
        item=item,
        work=work,
        authors=_authors(work.get("authors")) if work else "",
        criteria=criteria_for(st.store.protocol, stage),
        progress=progress,
        include_terms=st.store.protocol.screening.highlight_include,
        exclude_terms=st.store.protocol.screening.highlight_exclude,
    )


async def _vote(request: Request, user: User, data: dict[str, Any]) -> int:
    st = web(request)
    try:
        work_id = int(data.get("work_id") or "")
    except (TypeError, ValueError) as exc:
        raise InputError(f"work_id {data.get('work_id')!r} is not a work id") from exc
    stage = _stage(data.get("stage"))
    label = str(data.get("label") or "")
    criterion = check_vote(st.store, label=label, stage=stage, criterion=data.get("criterion"))
    item: QueueItem | None = st.queue.served(user.username, stage, work_id)
    model = st.queue.model_state(item)
    note = str(data.get("note") or "")
    decision_id = await st.writer.run(
        lambda: add_vote(
            st.store,
            work_id=work_id,
            reviewer=user.username,
            label=label,
            stage=stage,
            criterion=criterion,
            note=note,
            model=model,
        )
    )
    st.queue.note_vote(
        decision_id,
        work_id=work_id,
        stage=stage,
        reviewer=user.username,
        label=label,
        criterion=criterion,
        phase=model.get("phase"),
    )
    st.queue.release(user.username, stage)
    return decision_id


@router.post("/screen/vote")
async def vote_form(request: Request) -> Response:
    form = await checked_form(request)
    user = await run_in_threadpool(require_user, request)
    await _vote(request, user, form)
    return redirect(request, f"/screen?stage={_stage(form.get('stage'))}")


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: int, user: User = Depends(require_user)) -> Response:
    st = web(request)
    work = load_work(st.store, work_id)
    if work is None:
        raise HTTPException(404, f"no work with id {work_id}")
    votes = visible_votes(st.store, work_id, viewer=user.username, is_admin=user.is_admin)
    return page(
        request,
        "work.html",
        work=work,
        authors=_authors(work.get("authors")),
        votes=votes,
        include_terms=st.store.protocol.screening.highlight_include,
        exclude_terms=st.store.protocol.screening.highlight_exclude,
    )


# ----------------------------------------------------------------------------- JSON API
class VoteIn(BaseModel):
    work_id: int
    label: str
    stage: str = "title_abstract"
    criterion: str | None = None
    note: str = Field(default="", max_length=10000)


@router.get("/api/session")
def api_session(request: Request, user: User = Depends(require_user)) -> Response:
    return json_response(
        {
            "user": user.username,
            "role": user.role,
            "csrf": web(request).sessions.csrf_token(request.state.session),
        }
    )


def _next_payload(request: Request, user: User, stage: str) -> dict[str, Any]:
    st = web(request)
    item = st.queue.next_for(user.username, stage)
    if item is None:
        return {"stage": stage, "work": None, "remaining": 0}
    work = load_work(st.store, item.work_id) or {}
    work.pop("merged_into", None)
    return {
        "stage": stage,
        "work": work,
        "rank": item.rank,
        "score": item.score,
        "phase": item.phase,
        "remaining": item.remaining,
    }


@router.get("/api/next")
async def api_next(request: Request, stage: str | None = None) -> Response:
    # async on purpose: on SQLite the queue answers from memory after one small local query,
    # cheaper than a hop to the thread pool (the hot path of a screening team); a networked
    # database (PostgreSQL) is queried from the pool so the event loop never waits on it
    st = web(request)
    stage = _stage(stage)
    if st.writer.threaded:
        user = require_user(request)
        payload = _next_payload(request, user, stage)
    else:
        user = await run_in_threadpool(require_user, request)
        payload = await run_in_threadpool(_next_payload, request, user, stage)
    return JSONResponse(payload)  # every column of a work is JSON already (no dates)


@router.post("/api/votes")
async def api_vote(request: Request) -> Response:
    st = web(request)
    user = (
        require_user(request)
        if st.writer.threaded
        else await run_in_threadpool(require_user, request)
    )
    check_csrf_header(request)
    try:
        vote = VoteIn.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return JSONResponse(
            {"error": f"expected JSON {{work_id, label, stage, criterion, note}}: {exc}"}, 422
        )
    decision_id = await _vote(request, user, vote.model_dump())
    return JSONResponse({"id": decision_id}, status_code=201)


@router.get("/api/works/{work_id}/votes")
def api_votes(request: Request, work_id: int, user: User = Depends(require_user)) -> Response:
    st = web(request)
    return json_response(
        visible_votes(st.store, work_id, viewer=user.username, is_admin=user.is_admin)
    )

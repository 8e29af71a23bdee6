"""Screening: the next work of the reviewer's queue, votes, and a work's (blinded) votes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from fmreview.errors import InputError
from fmreview.screening.decisions import LABELS, MAX_NOTE, STAGES, Actor
from fmreview.store import schema
from fmreview.web.auth import User
from fmreview.web.context import (
    check_csrf_header,
    checked_form,
    json_response,
    page,
    reads,
    redirect,
    require_user,
    web,
)

router = APIRouter()
#: Database ids are signed 64-bit integers.
MAX_ID = 2**63 - 1
WorkId = Annotated[int, Path(ge=1, le=MAX_ID, description="a work id")]
_ID = re.compile(r"[1-9][0-9]{0,18}")


def parse_id(value: Any, what: str) -> int:
    """A form field holding an id: digits only (no sign, spaces or exponent), 1 to 2^63-1."""
    text = value if isinstance(value, str) else ""
    if not _ID.fullmatch(text) or int(text) > MAX_ID:
        raise InputError(f"{what} {value!r} is not an id (a whole number from 1 to {MAX_ID})")
    return int(text)


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
    with reads(store).connect() as conn:
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


def _decision(vote: VoteIn) -> dict[str, Any]:
    """The screening engine's arguments for a vote (the voter aside)."""
    return {
        "work_id": vote.work_id,
        "label": vote.label,
        "stage": vote.stage,
        "criterion": vote.criterion,
        "note": vote.note,
    }


async def _vote(request: Request, user: User, vote: VoteIn) -> int:
    """The vote through the screening engine's one decision writer (assignment, blinding
    and changed votes are checked there; a refusal is a 403 with the reason)."""
    st = web(request)
    return await st.queue.decide_async(
        Actor(user.username, user.role), **_decision(vote), run=st.writer.run
    )


@router.post("/screen/vote")
async def vote_form(request: Request) -> Response:
    form = await checked_form(request)
    user = await run_in_threadpool(require_user, request)
    stage = _stage(form.get("stage"))
    label = form.get("label", "")
    if label not in LABELS:
        raise InputError(f"decision label {label!r} is not one of {', '.join(LABELS)}")
    try:
        vote = VoteIn(
            work_id=parse_id(form.get("work_id"), "work_id"),
            label=label,  # type: ignore[arg-type]
            stage=stage,  # type: ignore[arg-type]
            criterion=form.get("criterion") or None,
            note=form.get("note", "")[:MAX_NOTE],
        )
    except ValidationError as exc:
        raise InputError(_errors(exc)) from None
    await _vote(request, user, vote)
    return redirect(request, f"/screen?stage={stage}")


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: WorkId, user: User = Depends(require_user)) -> Response:
    st = web(request)
    work = load_work(st.store, work_id)
    if work is None:
        raise HTTPException(404, f"no work with id {work_id}")
    votes = st.queue.visible_votes(work_id, viewer=user.username, is_admin=user.is_admin)
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
    """A vote, strictly typed: ``work_id`` a JSON integer (not ``true``, not ``" 7 "``)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    work_id: int = Field(ge=1, le=MAX_ID)
    label: Literal["include", "exclude", "maybe", "undo"]
    stage: Literal["title_abstract", "full_text"] = "title_abstract"
    criterion: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=MAX_NOTE)


def _errors(exc: ValidationError) -> str:
    """The validation errors in one line: field, what was wrong."""
    parts = []
    for e in exc.errors(include_url=False)[:5]:
        where = ".".join(str(x) for x in e.get("loc", ())) or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


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
    out = {"stage": stage, "work": work, "remaining": item.remaining}
    if not st.queue.blinded_for(is_admin=user.is_admin):
        # the rank, score and phase come from a model trained on everyone's votes
        out.update(rank=item.rank, score=item.score, phase=item.phase)
    return out


def _next_response(request: Request, stage: str) -> Response:
    user = require_user(request)
    return JSONResponse(_next_payload(request, user, stage))  # every column is JSON already


@router.get("/api/next")
async def api_next(request: Request, stage: str | None = None) -> Response:
    # async on purpose: on SQLite the queue answers from memory after one small local query,
    # cheaper than a hop to the thread pool (the hot path of a screening team); a networked
    # database (PostgreSQL) is queried from the pool so the event loop never waits on it, in
    # one hop for the user and the work (each hop cost ~0.2 ms of CPU under load)
    stage = _stage(stage)
    if web(request).writer.threaded:
        return _next_response(request, stage)
    return await run_in_threadpool(_next_response, request, stage)


def _checked_vote(request: Request, body: bytes) -> tuple[User, VoteIn] | Response:
    """The voter and their vote, or the answer refusing it (401, 403 CSRF, 422)."""
    user = require_user(request)
    check_csrf_header(request)
    try:
        # pydantic's JSON parser: strict types, and a nesting limit (no RecursionError)
        return user, VoteIn.model_validate_json(body)
    except ValidationError as exc:
        return JSONResponse(
            {
                "error": "expected JSON {work_id: integer, label, stage, criterion, note}: "
                + _errors(exc)
            },
            422,
        )


def _vote_in_thread(request: Request, body: bytes) -> Response:
    """PostgreSQL: check and write the vote in this (pool) thread, in one hop."""
    checked = _checked_vote(request, body)
    if isinstance(checked, Response):
        return checked
    user, vote = checked
    st = web(request)
    decision_id = st.writer.call(
        lambda: st.queue.decide(Actor(user.username, user.role), **_decision(vote))
    )
    return JSONResponse({"id": decision_id}, status_code=201)


@router.post("/api/votes")
async def api_vote(request: Request) -> Response:
    body = await request.body()  # at most max_body_bytes (BodyLimit)
    if not web(request).writer.threaded:
        return await run_in_threadpool(_vote_in_thread, request, body)
    checked = _checked_vote(request, body)
    if isinstance(checked, Response):
        return checked
    user, vote = checked
    decision_id = await _vote(request, user, vote)
    return JSONResponse({"id": decision_id}, status_code=201)


@router.get("/api/works/{work_id}/votes")
def api_votes(request: Request, work_id: WorkId, user: User = Depends(require_user)) -> Response:
    st = web(request)
    return json_response(
        st.queue.visible_votes(work_id, viewer=user.username, is_admin=user.is_admin)
    )

"""The admin page: reviewers (add, role, activate, password), settings, report rebuild."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fmreview.errors import InputError
from fmreview.web.app import checked_form, json_response, page, redirect, require_admin, web
from fmreview.web.auth import User, create_user, list_users, set_password, update_user

router = APIRouter()


@router.get("/admin")
def admin_page(request: Request, user: User = Depends(require_admin)) -> Response:
    st = web(request)
    s = st.store.protocol.screening
    settings = {
        "screening mode": s.mode,
        "reviewers per record": s.reviewers_per_record,
        "blinding": "on" if s.blinding else "off",
        "screening model": s.model,
        "stopping rule": s.stopping.rule,
        "active-learning refit": f"{st.settings.ranking}, every {st.settings.rank_every} votes",
        "secure cookies": "on" if st.settings.secure_cookies else "off",
        "store": st.store.dialect,
        "review folder": str(st.store.folder) if st.store.folder else "(in memory)",
    }
    return page(request, "admin.html", users=list_users(st.store), settings=settings, message=None)


@router.get("/api/users")
def users_api(request: Request, user: User = Depends(require_admin)) -> Response:
    return json_response([u.__dict__ for u in list_users(web(request).store)])


@router.post("/admin/users")
async def add_user(request: Request) -> Response:
    form = await checked_form(request)
    require_admin(request)
    st = web(request)
    name, password, role = (
        form.get("username", ""),
        form.get("password", ""),
        form.get("role", "reviewer"),
    )
    await st.writer.run(
        lambda: create_user(st.store, name, password, role=role, hasher=st.settings.password_hasher)
    )
    return redirect(request, "/admin")


@router.post("/admin/users/update")
async def change_user(request: Request) -> Response:
    form = await checked_form(request)
    admin = require_admin(request)
    st = web(request)
    name = form.get("username", "")
    action = form.get("action", "")
    if name == admin.username and action in ("deactivate", "reviewer"):
        raise InputError("you cannot demote or deactivate yourself; ask another admin")
    st.forget_users()
    if action in ("activate", "deactivate"):
        await st.writer.run(lambda: update_user(st.store, name, active=action == "activate"))
    elif action in ("admin", "reviewer"):
        await st.writer.run(lambda: update_user(st.store, name, role=action))
    elif action == "password":
        pw = form.get("password", "")
        await st.writer.run(
            lambda: set_password(st.store, name, pw, hasher=st.settings.password_hasher)
        )
    else:
        raise InputError(
            f"unknown action {action!r}; use activate, deactivate, admin, reviewer or password"
        )
    st.forget_users()
    return redirect(request, "/admin")


@router.post("/admin/report")
async def rebuild_report(request: Request) -> Response:
    await checked_form(request)
    require_admin(request)
    st = web(request)
    try:
        from fmreview.report.build import build_report
    except ImportError as exc:  # pragma: no cover - report module absent
        raise InputError("the report module is not installed") from exc
    # not through the writer: a report takes a while and makes its own short transactions;
    # votes keep flowing meanwhile (SQLite's busy timeout orders the two writers)
    await run_in_threadpool(build_report, st.store)
    return redirect(request, "/report/")

"""The admin page: reviewers (add, role, activate, password), screening settings (protocol
amendments), the random phase of the stopping rule, report rebuild."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fmreview.errors import FmreviewError, InputError
from fmreview.web import amendments
from fmreview.web.auth import (
    User,
    create_user,
    end_sessions,
    list_users,
    set_password,
    update_user,
)
from fmreview.web.context import (
    WebState,
    checked_form,
    json_response,
    page,
    redirect,
    require_admin,
    web,
)

router = APIRouter()


def _admin_page(
    request: Request,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    st = web(request)
    settings = {
        "screening mode": st.store.protocol.screening.mode,
        "active-learning refit": f"{st.settings.ranking}, every {st.queue.rank_every} votes",
        "secure cookies": "on" if st.settings.secure_cookies else "off",
        "store": st.store.dialect,
        "review folder": str(st.store.folder) if st.store.folder else "(in memory)",
    }
    values: dict[str, Any] = amendments.current(st.store, st.queue.rank_every)
    if form:  # after an error, show what was posted so nothing has to be typed again
        values = {**values, **{k: v for k, v in form.items() if k in values}}
        values["params"] = {
            k: form.get(f"param_{k}", v) for k, v in dict(values.get("params") or {}).items()
        }
    return page(
        request,
        "admin.html",
        status_code=status_code,
        users=list_users(st.store),
        settings=settings,
        values=values,
        choices=amendments.choices(),
        phase=st.queue.random_phase(),
        unblinded=st.queue.unblinded,
        history=amendments.amendments(st.store),
        message=message,
        error=error,
    )


@router.get("/admin")
def admin_page(
    request: Request, amended: int | None = None, user: User = Depends(require_admin)
) -> Response:
    message = None if amended is None else amendments.run_message(web(request).store, amended)
    return _admin_page(request, message=message)


@router.post("/admin/settings")
async def amend_settings(request: Request) -> Response:
    form = await checked_form(request)
    admin = require_admin(request)
    st = web(request)
    try:
        result = await st.writer.run(
            lambda: amendments.amend(
                st.store,
                form,
                user=admin.username,
                rank_every=st.queue.rank_every,
                expected_sha256=form.get("protocol_sha256") or None,
            )
        )
    except FmreviewError as exc:
        return _admin_page(request, status_code=400, error=str(exc), form=form)
    if not result.changes:
        return _admin_page(request, message=result.summary())
    if amendments.RANK_EVERY in result.changes:
        st.queue.rank_every = int(result.changes[amendments.RANK_EVERY][1])
    st.queue.reload_protocol()
    return redirect(request, f"/admin?amended={result.run_id}")


async def _irreversible(
    request: Request, why: str, action: Callable[[User, WebState], Awaitable[Response]]
) -> Response:
    """Run an admin's irreversible ``action`` once its box is ticked, else show the admin
    page again (400) saying ``why`` it needs one."""
    form = await checked_form(request)
    admin = require_admin(request)
    if form.get("confirm") != "yes":
        return _admin_page(request, status_code=400, error=f"Tick the box to confirm: {why}")
    return await action(admin, web(request))


@router.post("/admin/random-phase")
async def start_random_phase(request: Request) -> Response:
    async def start(admin: User, st: WebState) -> Response:
        phase = st.queue.random_phase()
        if not phase["needs_random_phase"]:
            return _admin_page(
                request,
                status_code=400,
                error=f"The stopping rule {phase['rule']!r} has no random phase; amend the "
                "protocol to the 'hypergeometric' rule first.",
            )
        if phase["active"]:
            return _admin_page(request, message="The random phase is already on.")
        run_id = await st.writer.run(
            lambda: amendments.start_random_phase(st.store, user=admin.username)
        )
        st.queue.start_random_phase()
        return redirect(request, f"/admin?amended={run_id}")

    return await _irreversible(request, "the random phase cannot be stopped once started.", start)


@router.post("/admin/unblind")
async def unblind(request: Request) -> Response:
    async def lift(admin: User, st: WebState) -> Response:
        run_id = await st.writer.run(lambda: amendments.unblind(st.store, user=admin.username))
        st.queue.unblinded = True
        return redirect(request, f"/admin?amended={run_id}")

    return await _irreversible(request, "every reviewer will see every vote, for good.", lift)


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
    elif action == "logout":
        await st.writer.run(lambda: end_sessions(st.store, name))
    else:
        raise InputError(
            f"unknown action {action!r}; use activate, deactivate, admin, reviewer, password "
            "or logout"
        )
    st.forget_users()
    st.sessions.sync(force=True)  # a password change, (de)activation or logout ends sessions
    return redirect(request, "/admin")


@router.post("/admin/report")
async def rebuild_report(request: Request) -> Response:
    await checked_form(request)
    require_admin(request)
    st = web(request)
    # the report stage, as `fmreview report` and the pipeline run it (it records its own run)
    from fmreview.stages import report as report_stage

    # not through the writer: a report takes a while and makes its own short transactions;
    # votes keep flowing meanwhile (SQLite's busy timeout orders the two writers)
    await run_in_threadpool(report_stage, st.store)
    return redirect(request, "/report/")

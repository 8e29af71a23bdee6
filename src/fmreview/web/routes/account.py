"""Logging in and out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fmreview.web.auth import authenticate
from fmreview.web.context import checked_form, current_user, page, redirect, web

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only a path inside this app (no scheme, no host, no ``//``): no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/dashboard"
    if any(ord(c) < 32 for c in value):
        return "/dashboard"
    return value


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def forwarded(request: Request) -> bool:
    """The request names a client in ``X-Forwarded-For`` (which uvicorn trusts from
    ``--forwarded-allow-ips``, loopback by default: any local client can set it)."""
    return "x-forwarded-for" in request.headers


async def _revoke(request: Request, session: dict[str, Any]) -> None:
    """End ``session``: a logged-in one is also stored (refused after a restart and by every
    process serving the review); an anonymous one only here, so that anonymous clients
    cannot fill the table."""
    st = web(request)
    sid = str(session["sid"])
    if session.get("uid") is None:
        st.sessions.revoke(sid, persist=False)
    else:
        await st.writer.run(lambda: st.sessions.revoke(sid))


@router.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/dashboard" if current_user(request) else "/login")


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002 - query name
    return page(request, "login.html", next=safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    st = web(request)
    form = await checked_form(request)
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")
    nxt = safe_next(form.get("next"))
    ip, fwd = client_ip(request), forwarded(request)
    # checked and counted in one step, before the password is (see auth.LoginLimiter)
    wait = st.limiter.attempt(username, ip, forwarded=fwd)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed logins; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    async with st.hashing:  # at most max_concurrent_hashes argon2 checks (64 MiB each)
        user = await run_in_threadpool(
            authenticate, st.store, username, password, hasher=st.settings.password_hasher
        )
    if user is None:
        return page(
            request, "login.html", status_code=401, next=nxt, error="Wrong user name or password."
        )
    st.limiter.succeeded(username, ip, forwarded=fwd)
    await _revoke(request, request.state.session)
    request.state.session = st.sessions.new(user.id)  # a new session id at login
    request.state.session_changed = True
    request.state.user = user
    return redirect(request, nxt)


@router.post("/logout")
async def logout(request: Request) -> Response:
    st = web(request)
    await checked_form(request)
    await _revoke(request, request.state.session)
    request.state.session = st.sessions.new()
    request.state.session_changed = True
    return redirect(request, "/login")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}

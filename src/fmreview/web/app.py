"""The web app for review teams: ``create_app(store, settings=...)`` returns a FastAPI app.

Pages are server-rendered (Jinja2, autoescaping on) with one small script of our own for
keyboard shortcuts; nothing is loaded from another site. Routes live in
:mod:`fmreview.web.routes`, what they share (the app's state, the current user, CSRF
checks, pages) in :mod:`fmreview.web.context`; this module builds the app: the session
middleware and security headers, error pages, and the state every route reads.

Run it with ``fmreview serve`` (uvicorn, one process: the SQLite writer lives in it).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser

from fmreview.errors import FmreviewError, ForbiddenError, NotFoundError
from fmreview.web.amendments import stored_rank_every
from fmreview.web.assignments import StoredQueue
from fmreview.web.auth import LoginLimiter, RevocationLog, Sessions
from fmreview.web.context import HashSlots, NotAuthenticated, WebState, page, prefix, url
from fmreview.web.limits import BodyLimit
from fmreview.web.render import STATIC, environment, report_csp
from fmreview.web.routes import register
from fmreview.web.settings import WebSettings, resolve_secret
from fmreview.web.writer import Writer

COOKIE = "fmr_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _wants_json(request: Request) -> bool:
    path = request.url.path.removeprefix(prefix(request))
    return path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


class SessionMiddleware:
    """Loads the signed session cookie into ``request.state.session`` (a new anonymous
    session when missing or invalid), writes it back when a route changed it, and adds the
    security headers. Plain ASGI: no extra task per request."""

    def __init__(self, app: Any, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        st = self.state
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        session = st.sessions.loads(cookies.get(COOKIE))
        fresh = session is None
        rs = scope.setdefault("state", {})
        rs["session"] = session if session is not None else st.sessions.new()
        rs["session_changed"] = fresh
        root = str(scope.get("root_path") or "").rstrip("/")
        path = str(scope.get("path") or "")
        if root and path.startswith(root):
            path = path[len(root) :]
        report = path == "/report" or path.startswith("/report/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if rs.get("session_changed"):
                    headers.append("set-cookie", self._cookie(rs["session"], root))
                headers.setdefault("Content-Security-Policy", st.report_csp if report else CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN" if report else "DENY")
                if not path.startswith("/static"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, session: dict[str, Any], root: str) -> str:
        r = Response()
        r.set_cookie(
            COOKIE,
            self.state.sessions.dumps(session),
            max_age=self.state.settings.session_max_age,
            path=(root or "") + "/",
            httponly=True,
            samesite="lax",
            secure=self.state.settings.secure_cookies,
        )
        return str(r.headers["set-cookie"])


def create_app(store: Any, *, settings: WebSettings | None = None) -> FastAPI:
    """The web app over ``store`` (see the module docstring)."""
    settings = settings or WebSettings()
    secret = resolve_secret(settings, getattr(store, "folder", None))
    # an admin's choice of refit cadence (recorded as a run) outlives the process
    rank_every = stored_rank_every(store) or settings.rank_every
    writer = Writer(store)
    state = WebState(
        store=store,
        settings=settings,
        sessions=Sessions(
            secret,
            max_age=settings.session_max_age,
            log=RevocationLog(store, refresh=settings.revocation_refresh, clock=settings.clock),
        ),
        limiter=LoginLimiter(
            per_user=settings.login_per_user,
            per_ip=settings.login_per_ip,
            per_forwarded=settings.login_per_forwarded,
            window=settings.login_window,
            clock=settings.clock,
        ),
        writer=writer,
        queue=StoredQueue(
            store,
            run_write=writer.call,
            flush_interval=settings.assignment_flush,
            ranking=settings.ranking,
            ranking_process=settings.ranking_process,
            rank_every=rank_every,
            rank_interval=settings.rank_interval,
            lease_seconds=settings.lease_seconds,
            refresh_interval=settings.queue_refresh,
            clock=settings.clock,
        ),
        env=environment(),
        hashing=HashSlots(settings.max_concurrent_hashes),
        report_csp=report_csp(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_freeze:
            # What exists at startup (the modules: sklearn, scipy, pandas... ~1M objects)
            # lives as long as the process. Left to the cyclic collector, each full
            # collection walked all of it: traced under benchmarks/load.py on PostgreSQL,
            # 12 collections took 2.2 s, up to 220 ms each, stalling every request in
            # flight (the slowest 1% came in bursts, one per collection). Frozen, they are
            # never walked; what requests create is collected as before.
            gc.collect()
            gc.freeze()
        yield
        if settings.gc_freeze:
            gc.unfreeze()
        state.queue.close()  # the assignments not yet stored, through the writer
        state.writer.close()

    app = FastAPI(
        title="fmreview", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.web = state
    app.mount("/static", StaticFiles(directory=str(STATIC.parent)), name="static")

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SessionMiddleware, state=state)  # outermost: headers on every answer

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request) or request.method != "GET":
            return JSONResponse({"error": "log in first"}, status_code=401)
        nxt = request.url.path.removeprefix(prefix(request))
        if request.url.query:
            nxt += "?" + request.url.query
        return RedirectResponse(url(request, "/login?next=" + quote(nxt, safe="")), status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request) or not hasattr(request.state, "session"):
            return JSONResponse(
                {"error": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        resp = page(
            request,
            "error.html",
            status_code=exc.status_code,
            code=exc.status_code,
            message=exc.detail,
        )
        resp.headers.update(exc.headers or {})
        return resp

    @app.exception_handler(FmreviewError)
    async def _domain_error(request: Request, exc: FmreviewError) -> Response:
        code = 404 if isinstance(exc, NotFoundError) else 400
        if isinstance(exc, ForbiddenError):
            code = 403
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=code)
        return page(request, "error.html", status_code=code, code=code, message=str(exc))

    register(app)
    return app

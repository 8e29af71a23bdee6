"""The web app for review teams: ``create_app(store, settings=...)`` returns a FastAPI app.

Pages are server-rendered (Jinja2, autoescaping on) with one small script of our own for
keyboard shortcuts; nothing is loaded from another site. Routes live in
:mod:`fmreview.web.routes`; this module holds what every route shares: the session
middleware, the current user, CSRF checks, error pages and security headers.

Run it with ``fmreview serve`` (uvicorn, one process: the SQLite writer lives in it).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser

from fmreview.errors import FmreviewError, ForbiddenError, NotFoundError
from fmreview.screening.engine import ScreeningEngine
from fmreview.web.amendments import stored_rank_every
from fmreview.web.auth import LoginLimiter, RevocationLog, Sessions, User, get_user
from fmreview.web.limits import BodyLimit
from fmreview.web.render import STATIC, environment, report_csp
from fmreview.web.settings import WebSettings, resolve_secret
from fmreview.web.writer import Writer

COOKIE = "fmr_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class NotAuthenticated(Exception):
    """Raised by :func:`require_user`: HTML pages redirect to the login page, the API says 401."""


class HashSlots:
    """At most ``n`` password hashes at once (argon2: 64 MiB each), as an async context
    manager: waiting requests wait on the event loop, holding no worker thread.

    One :class:`asyncio.Semaphore` per event loop (uvicorn runs one; in-process test clients
    each run their own, and a semaphore may not be shared between loops)."""

    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))
        self._by_loop: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            sem = self._by_loop.get(loop)
            if sem is None:
                sem = self._by_loop[loop] = asyncio.Semaphore(self.n)
        return sem

    async def __aenter__(self) -> None:
        await self._semaphore().acquire()

    async def __aexit__(self, *exc: Any) -> None:
        self._semaphore().release()


@dataclass
class WebState:
    store: Any
    settings: WebSettings
    sessions: Sessions
    limiter: LoginLimiter
    writer: Writer
    queue: ScreeningEngine
    env: Environment
    hashing: HashSlots
    report_csp: str
    user_ttl: float = 2.0
    _users: dict[int, tuple[User | None, float]] = field(default_factory=dict)

    def user(self, user_id: int) -> User | None:
        """The account, from a cache of ``user_ttl`` seconds (a deactivation or a role
        change made elsewhere, e.g. by ``fmreview users``, takes effect within it)."""
        now = time.monotonic()
        hit = self._users.get(user_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        user = get_user(self.store, user_id)
        self._users[user_id] = (user, now + self.user_ttl)
        return user

    def forget_users(self) -> None:
        self._users.clear()


def web(request: Request) -> WebState:
    return request.app.state.web  # type: ignore[no-any-return]


def prefix(request: Request) -> str:
    return str(request.scope.get("root_path") or "").rstrip("/")


def url(request: Request, path: str) -> str:
    """An app path with the reverse proxy's prefix (``--root-path``)."""
    return prefix(request) + path


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(url(request, path), status_code=303)


def current_user(request: Request) -> User | None:
    if hasattr(request.state, "user"):
        return request.state.user  # type: ignore[no-any-return]
    session = getattr(request.state, "session", None) or {}
    user = None
    uid = session.get("uid")
    if isinstance(uid, int) and web(request).sessions.current(session):
        user = web(request).user(uid)
        if user is not None and not user.active:
            user = None
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise NotAuthenticated()
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin:
        raise HTTPException(403, "this page is for admins")
    return user


def csrf_token(request: Request) -> str:
    return web(request).sessions.csrf_token(request.state.session)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, after checking its CSRF token (403 without the right one)."""
    form = await request.form()
    token = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not web(request).sessions.check_csrf(request.state.session, str(token) if token else None):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def check_csrf_header(request: Request) -> None:
    """For JSON API writes: the token in the ``X-CSRF-Token`` header."""
    if not web(request).sessions.check_csrf(
        request.state.session, request.headers.get("x-csrf-token")
    ):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")


def page(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    st = web(request)
    user = current_user(request)
    html = st.env.get_template(template).render(
        request=request,
        user=user,
        csrf=csrf_token(request),
        u=lambda p: url(request, p),
        protocol=st.store.protocol,
        blinding=bool(st.store.protocol.screening.blinding),
        nav=request.url.path.removeprefix(prefix(request)),
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code)


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
        writer=Writer(store),
        queue=ScreeningEngine(
            store,
            ranking=settings.ranking,
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
        yield
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
        from urllib.parse import quote

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

    from fmreview.web.routes import register

    register(app)
    return app


def json_response(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(data, default=str)), status_code=status_code)

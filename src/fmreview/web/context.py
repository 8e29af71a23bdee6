"""What every route of the web app shares: the app's state, the current user, CSRF checks
and page rendering. :mod:`fmreview.web.app` builds the app; the routes
(:mod:`fmreview.web.routes`) import from here, never from the app module.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment

from fmreview.web.assignments import StoredQueue
from fmreview.web.auth import LoginLimiter, Sessions, User, get_user
from fmreview.web.settings import WebSettings
from fmreview.web.writer import Writer


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
    queue: StoredQueue
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


_READERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def reads(store: Any) -> Any:
    """An engine for one-statement reads: on PostgreSQL its connections run in autocommit, so
    a read is one round trip instead of three (``BEGIN``, the query, ``ROLLBACK``); the
    store's own engine on SQLite. Same pool."""
    engine = _READERS.get(store)
    if engine is None:
        engine = store.engine
        if store.dialect == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        _READERS[store] = engine
    return engine


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


def json_response(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(data, default=str)), status_code=status_code)

"""Settings of the web app (``create_app(store, settings=WebSettings(...))``)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

SECRET_FILE = ".web-secret"
SECRET_ENV = "FMREVIEW_SECRET_KEY"


@dataclass
class WebSettings:
    """How the app runs (each setting's meaning below it)."""

    secret_key: str | None = None
    """Signs session cookies and CSRF tokens. Default: ``$FMREVIEW_SECRET_KEY``, else a key
    kept in ``<review folder>/.web-secret`` (made on first start, mode 0600), else a random
    key for this process (in-memory stores)."""
    secure_cookies: bool = False
    """Mark cookies ``Secure`` (set it when users reach the app over HTTPS, e.g. behind a
    reverse proxy that terminates TLS)."""
    session_max_age: int = 12 * 3600
    """Seconds a login lasts."""
    ranking: str = "background"
    """``background`` | ``sync`` | ``off``: how the active-learning order is refitted."""
    ranking_process: bool = True
    """With ``background``: refit in a child process, which leaves the app's requests
    their CPU (see :mod:`fmreview.web.ranking_process`); False: in a thread of the app.
    A review without a folder (in-memory) always refits in a thread."""
    rank_every: int = 10
    """Refit after this many new votes..."""
    rank_interval: float = 30.0
    """...at most once per this many seconds."""
    lease_seconds: float = 600.0
    """How long a served work stays reserved for its reviewer."""
    assignment_flush: float = 0.5
    """Seconds between batched writes of the works served to reviewers (kept in the store so
    that a restarted app serves and takes votes on them; 0: written within the request)."""
    queue_refresh: float = 0.25
    """Seconds between reads of decisions written by other processes (the app's own votes
    count at once)."""
    login_per_user: int = 5
    """Failed logins allowed per username within ``login_window`` seconds."""
    login_per_ip: int = 20
    """Failed logins allowed per client address within ``login_window`` seconds."""
    login_window: float = 900.0
    """The sliding window of the login limits, in seconds."""
    login_per_forwarded: int = 100
    """Failed logins allowed within the window over all requests that carry
    ``X-Forwarded-For`` (whoever can set that header cannot reset their count with it)."""
    max_concurrent_hashes: int = 2
    """argon2 password checks running at once (each takes 64 MiB; more requests wait)."""
    max_body_bytes: int = 1_000_000
    """Largest request body taken (larger ones get 413)."""
    dedupe_roles: tuple[str, ...] = ("admin", "reviewer")
    """Roles allowed to decide dedupe pairs."""
    extraction_roles: tuple[str, ...] = ("admin", "reviewer")
    """Roles allowed to confirm and correct extracted labels."""
    revocation_refresh: float = 2.0
    """Seconds between reads of the logouts stored by other processes (a logout made by this
    app counts at once; a restarted app reads them all before its first answer)."""
    gc_freeze: bool = True
    """At startup, move every object then alive out of the cyclic garbage collector's
    reach (``gc.freeze``): full collections then walk only what was made since, instead of
    pausing every request for up to ~200 ms (see the app's ``lifespan``)."""
    clock: Callable[[], float] = time.monotonic
    """Seconds for rate limiting and leases (``time.monotonic``; tests pass a fake clock)."""
    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)
    """argon2 hasher (tests pass cheaper parameters)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other settings, kept for callers (the app itself reads none)."""


def resolve_secret(settings: WebSettings, folder: Path | None) -> str:
    """The signing key (see :class:`WebSettings`)."""
    if settings.secret_key:
        return settings.secret_key
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    if folder is None:
        return secrets.token_urlsafe(32)
    path = Path(folder) / SECRET_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= 16:
            return key
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key

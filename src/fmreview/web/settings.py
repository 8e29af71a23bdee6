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
    """How the app runs.

    Attributes
    ----------
    secret_key
        Signs session cookies and CSRF tokens. Default: ``$FMREVIEW_SECRET_KEY``, else a key
        kept in ``<review folder>/.web-secret`` (made on first start, mode 0600), else a random
        key for this process (in-memory stores).
    secure_cookies
        Mark cookies ``Secure`` (set it when users reach the app over HTTPS, e.g. behind a
        reverse proxy that terminates TLS).
    session_max_age
        Seconds a login lasts.
    ranking
        ``background`` | ``sync`` | ``off``: how the active-learning order is refitted.
    rank_every, rank_interval
        Refit after this many new votes, at most once per ``rank_interval`` seconds.
    lease_seconds
        How long a served work stays reserved for its reviewer.
    queue_refresh
        Seconds between reads of decisions written by other processes (the app's own votes
        count at once).
    login_per_user, login_per_ip, login_window
        Failed logins allowed per username / per client address within ``login_window`` s.
    login_per_forwarded
        Failed logins allowed within the window over all requests that carry
        ``X-Forwarded-For`` (whoever can set that header cannot reset their count with it).
    max_concurrent_hashes
        argon2 password checks running at once (each takes 64 MiB; more requests wait).
    max_body_bytes
        Largest request body taken (larger ones get 413).
    dedupe_roles, extraction_roles
        Roles allowed to decide dedupe pairs / confirm and correct extracted labels.
    revocation_refresh
        Seconds between reads of the logouts stored by other processes (a logout made by this
        app counts at once; a restarted app reads them all before its first answer).
    clock
        Seconds for rate limiting and leases (``time.monotonic``; tests pass a fake clock).
    password_hasher
        argon2 hasher (tests pass cheaper parameters).
    """

    secret_key: str | None = None
    secure_cookies: bool = False
    session_max_age: int = 12 * 3600
    ranking: str = "background"
    rank_every: int = 10
    rank_interval: float = 30.0
    lease_seconds: float = 600.0
    queue_refresh: float = 0.25
    login_per_user: int = 5
    login_per_ip: int = 20
    login_window: float = 900.0
    login_per_forwarded: int = 100
    max_concurrent_hashes: int = 2
    max_body_bytes: int = 1_000_000
    dedupe_roles: tuple[str, ...] = ("admin", "reviewer")
    extraction_roles: tuple[str, ...] = ("admin", "reviewer")
    revocation_refresh: float = 2.0
    clock: Callable[[], float] = time.monotonic
    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)
    extra: dict[str, Any] = field(default_factory=dict)


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

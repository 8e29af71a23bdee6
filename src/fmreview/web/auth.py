"""Accounts, sessions, CSRF tokens and login rate limiting for the web app.

- **Passwords** are hashed with argon2id (``argon2-cffi``); the hash string carries its own
  parameters, so raising the cost later re-hashes on the next login (``check_needs_rehash``).
- **Users** live in the store's ``users`` table with a role, ``admin`` or ``reviewer``.
  Deactivating a user (never deleting: decisions name them) ends their sessions at once,
  because every request reloads the user from the store.
- **Sessions** are signed cookies (``itsdangerous``): ``{"sid": random, "uid": user id,
  "iat": issued at}``, HttpOnly, SameSite=Lax, Secure when the app runs behind TLS. A new
  ``sid`` is issued at login (no session fixation); logout revokes the ``sid`` until the
  cookie would expire, in memory and in the store's ``session_revocations`` table
  (:class:`RevocationLog`), so the old cookie stays refused after a restart and by every
  process serving the review.
- **Credential versions**: a password change or reset, a deactivation, a reactivation and an
  admin's "log out everywhere" each record a *credential epoch* for the account (a row
  ``u:<user id>`` in the same table, :func:`end_sessions`); every session of that account
  issued before the epoch is refused from then on, in every process.
- **CSRF**: every form carries a token bound to the session (``HMAC(secret, sid)``); a POST
  without the right token is refused with 403. Anonymous visitors get a session too, so the
  login form is protected the same way.
- **Rate limiting**: login attempts are counted per username, per client address, and — for
  requests that carry ``X-Forwarded-For`` — in one bucket for all forwarded requests (a
  client that may set that header itself cannot reset its count by changing it), over a
  sliding window. The check and the recording are one step under one lock
  (:meth:`LoginLimiter.attempt`): an attempt is counted *before* the password is checked
  and forgotten again when it succeeds, so concurrent guesses cannot all pass the check.
  Past the limit a login is refused with 429 before the password is even checked, and at
  most ``max_concurrent_hashes`` argon2 checks run at once (64 MiB each), so memory stays
  flat under a flood.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from fmreview.errors import InputError, NotFoundError
from fmreview.store import schema

ROLES = ("admin", "reviewer")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8
#: A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY: dict[int, str] = {}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def default_hasher() -> PasswordHasher:
    """argon2id with the library's recommended parameters (RFC 9106 low-memory profile)."""
    return PasswordHasher()


def check_username(name: str) -> str:
    name = (name or "").strip()
    if not USERNAME.match(name):
        raise InputError(
            f"user name {name!r} is not allowed; use 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InputError("a password may hold at most 1024 characters")
    return password


def _row_user(row: Any) -> User:
    return User(int(row.id), str(row.username), str(row.role), bool(row.active))


def create_user(
    store: Any,
    username: str,
    password: str,
    *,
    role: str = "reviewer",
    hasher: PasswordHasher | None = None,
) -> User:
    """Add an account; refuses a taken name, an unknown role or a short password."""
    username = check_username(username)
    check_password(password)
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    digest = (hasher or default_hasher()).hash(password)
    u = schema.users
    with store.begin() as conn:
        if conn.execute(sa.select(u.c.id).where(u.c.username == username)).first() is not None:
            raise InputError(
                f"user {username!r} already exists; change the password with: fmreview users passwd {username}"
            )
        uid = conn.execute(
            sa.insert(u).values(
                username=username,
                password_hash=digest,
                role=role,
                active=True,
                created_at=store.clock(),
            )
        ).inserted_primary_key[0]
    return User(int(uid), username, role, True)


def _get_row(conn: sa.Connection, username: str) -> Any:
    u = schema.users
    row = conn.execute(sa.select(u).where(u.c.username == username)).first()
    if row is None:
        raise NotFoundError(f"no user {username!r}; list them with: fmreview users list")
    return row


#: How long a credential epoch is kept: longer than any session lasts.
EPOCH_KEEP = 90 * 24 * 3600.0


def _epoch_sid(user_id: int) -> str:
    return f"u:{int(user_id)}"


def _record_epoch(conn: sa.Connection, user_id: int) -> None:
    now = datetime.now(UTC)
    conn.execute(
        sa.insert(schema.session_revocations).values(
            sid=_epoch_sid(user_id),
            revoked_at=now,
            expires_at=datetime.fromtimestamp(now.timestamp() + EPOCH_KEEP, UTC),
        )
    )


def end_sessions(store: Any, username: str) -> User:
    """Log ``username`` out everywhere: every session issued until now is refused."""
    with store.begin() as conn:
        row = _get_row(conn, username)
        _record_epoch(conn, int(row.id))
    return _row_user(row)


def set_password(
    store: Any, username: str, password: str, *, hasher: PasswordHasher | None = None
) -> None:
    """Change a password; every session of the account issued before ends."""
    check_password(password)
    digest = (hasher or default_hasher()).hash(password)
    with store.begin() as conn:
        row = _get_row(conn, username)
        conn.execute(
            sa.update(schema.users).where(schema.users.c.id == row.id).values(password_hash=digest)
        )
        _record_epoch(conn, int(row.id))


def update_user(
    store: Any, username: str, *, role: str | None = None, active: bool | None = None
) -> User:
    """Change a user's role or activate / deactivate them (users are never deleted).

    Deactivating or reactivating ends every session issued before (a reactivated account
    does not revive its old cookies)."""
    values: dict[str, Any] = {}
    if role is not None:
        if role not in ROLES:
            raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
        values["role"] = role
    if active is not None:
        values["active"] = bool(active)
    with store.begin() as conn:
        row = _get_row(conn, username)
        if values:
            conn.execute(
                sa.update(schema.users).where(schema.users.c.id == row.id).values(**values)
            )
        if active is not None and bool(active) != bool(row.active):
            _record_epoch(conn, int(row.id))
        row = _get_row(conn, username)
    return _row_user(row)


def list_users(store: Any) -> list[User]:
    u = schema.users
    with store.connect() as conn:
        return [_row_user(r) for r in conn.execute(sa.select(u).order_by(u.c.username))]


_GET_USER = sa.select(
    schema.users.c.id, schema.users.c.username, schema.users.c.role, schema.users.c.active
).where(schema.users.c.id == sa.bindparam("uid"))


def get_user(store: Any, user_id: int) -> User | None:
    with store.connect() as conn:
        row = conn.execute(_GET_USER, {"uid": user_id}).first()
    return None if row is None else _row_user(row)


def authenticate(
    store: Any, username: str, password: str, *, hasher: PasswordHasher | None = None
) -> User | None:
    """The active user with this name and password, else None (timing does not reveal which)."""
    hasher = hasher or default_hasher()
    u = schema.users
    with store.connect() as conn:
        row = conn.execute(sa.select(u).where(u.c.username == (username or "").strip())).first()
    if row is None or not row.active:
        key = id(hasher)
        if key not in _DUMMY:
            _DUMMY[key] = hasher.hash(secrets.token_hex(8))
        try:
            hasher.verify(_DUMMY[key], password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        hasher.verify(row.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(row.password_hash):
        with store.begin() as conn:
            conn.execute(
                sa.update(u).where(u.c.id == row.id).values(password_hash=hasher.hash(password))
            )
    return _row_user(row)


# ----------------------------------------------------------------------------- sessions
def _epoch(value: datetime) -> float:
    """Seconds since the epoch of a stored timestamp (SQLite returns naive UTC ones)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


_NEW_REVOCATIONS = (
    sa.select(
        schema.session_revocations.c.id,
        schema.session_revocations.c.sid,
        schema.session_revocations.c.expires_at,
        schema.session_revocations.c.revoked_at,
    )
    .where(schema.session_revocations.c.id > sa.bindparam("last"))
    .order_by(schema.session_revocations.c.id)
)


class RevocationLog:
    """Revoked sessions kept in the store (table ``session_revocations``: sid, expiry).

    :meth:`fetch` reads only the rows added since its last read (``id > last``: one indexed
    query, whatever the number of sessions), and :class:`Sessions` calls it at most once per
    ``refresh`` seconds. So checking a cookie costs a dictionary lookup; a logout made by
    another process serving the same review is honoured within ``refresh`` seconds, one made
    here at once, and a restarted app reads every live revocation before its first answer.

    Parameters
    ----------
    store
        The review store.
    refresh
        Seconds between reads of the table.
    clock
        Monotonic seconds for the refresh interval (tests pass a fake clock).
    """

    def __init__(
        self, store: Any, *, refresh: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.refresh = refresh
        self.clock = clock
        self.reads = 0
        self._last_id = 0
        self._read_at = float("-inf")

    def due(self) -> bool:
        return self.clock() - self._read_at >= self.refresh

    def add(self, sid: str, expires_at: float) -> None:
        """Record a revocation (one transaction, which also drops rows already expired)."""
        t = schema.session_revocations
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.expires_at < now))
            conn.execute(
                sa.insert(t).values(
                    sid=sid,
                    revoked_at=now,
                    expires_at=datetime.fromtimestamp(expires_at, UTC),
                )
            )

    def fetch(self) -> dict[str, tuple[float, float]]:
        """The revocations added since the last call: sid -> (expiry, time of revocation),
        epoch seconds (``u:<id>`` rows are credential epochs)."""
        # PostgreSQL may make a lower id visible after a higher one: look back a little
        lookback = 0 if self.store.dialect == "sqlite" else 100
        with self.store.connect() as conn:
            rows = conn.execute(_NEW_REVOCATIONS, {"last": max(0, self._last_id - lookback)}).all()
        self._read_at = self.clock()
        self.reads += 1
        out: dict[str, tuple[float, float]] = {}
        for rid, sid, expires, revoked in rows:
            self._last_id = max(self._last_id, int(rid))
            old = out.get(str(sid))
            at = _epoch(revoked)
            out[str(sid)] = (_epoch(expires), at if old is None else max(at, old[1]))
        return out


class Sessions:
    """Signed session cookies, their revocation, and the CSRF tokens bound to them.

    With a :class:`RevocationLog` (the app always passes one) revocations are also written
    to the store and read back from it; without one they live in this object only.
    """

    #: Verified cookies remembered (the memo is emptied when full).
    VERIFIED_MAX = 4096

    def __init__(
        self,
        secret_key: str,
        *,
        max_age: int = 12 * 3600,
        log: RevocationLog | None = None,
    ) -> None:
        if len(secret_key) < 16:
            raise InputError("the web secret key needs at least 16 characters")
        self._secret = secret_key.encode()
        self._serializer = URLSafeTimedSerializer(secret_key, salt="fmreview.session")
        self.max_age = max_age
        self.log = log
        self._revoked: dict[str, float] = {}
        self._epochs: dict[int, float] = {}  # user id -> sessions issued before are void
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        # cookie -> (its session, when it was signed): a cookie seen before is not verified
        # again (HMAC, base64 and JSON were ~7% of the server's CPU under the load benchmark);
        # its age and revocation are still checked on every request
        self._verified: dict[str, tuple[dict[str, Any], float]] = {}

    def new(self, user_id: int | None = None) -> dict[str, Any]:
        return {"sid": secrets.token_urlsafe(24), "uid": user_id, "iat": time.time()}

    def current(self, session: dict[str, Any]) -> bool:
        """Whether a logged-in session was issued after its account's credential epoch."""
        uid = session.get("uid")
        if not isinstance(uid, int):
            return True
        iat = session.get("iat")
        with self._lock:
            epoch = self._epochs.get(uid)
        if epoch is None:
            return True
        return isinstance(iat, float | int) and not isinstance(iat, bool) and iat > epoch

    def dumps(self, session: dict[str, Any]) -> str:
        return str(self._serializer.dumps(session))

    def loads(self, cookie: str | None) -> dict[str, Any] | None:
        """The session in a cookie, or None when missing, forged, expired or revoked."""
        if not cookie:
            return None
        hit = self._verified.get(cookie)
        if hit is not None and time.time() - hit[1] <= self.max_age:
            data = dict(hit[0])  # a copy: a route may change its session
        else:
            try:
                data, signed = self._serializer.loads(
                    cookie, max_age=self.max_age, return_timestamp=True
                )
            except BadSignature:  # includes SignatureExpired
                return None
            if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
                return None
            if len(self._verified) >= self.VERIFIED_MAX:
                self._verified.clear()
            self._verified[cookie] = (dict(data), signed.timestamp())
        if self.log is not None and self.log.due():
            self.sync()
        with self._lock:
            if data["sid"] in self._revoked:
                return None
        return data

    def sync(self, *, force: bool = False) -> None:
        """Fold the store's new revocations in (skipped while another thread reads them;
        ``force``: wait for it, and read even when not due)."""
        if self.log is None or not self._reading.acquire(blocking=force):
            return
        try:
            if not force and not self.log.due():
                return
            new = self.log.fetch()
        finally:
            self._reading.release()
        now = time.time()
        with self._lock:
            for sid, (until, at) in new.items():
                if sid.startswith("u:"):
                    uid = int(sid[2:])
                    self._epochs[uid] = max(at, self._epochs.get(uid, at))
                elif until > now:
                    self._revoked[sid] = max(until, self._revoked.get(sid, until))
            for k in [k for k, t in self._revoked.items() if t < now]:
                del self._revoked[k]

    def revoke(self, sid: str, *, persist: bool = True) -> None:
        """Refuse this session's cookie from now on (until it would expire anyway).

        ``persist`` writes the revocation to the store too (when there is a log): call it
        through the app's writer then. Sessions that never held a login need not be persisted.
        """
        now = time.time()
        until = now + self.max_age
        with self._lock:
            self._revoked[sid] = until
            for k in [k for k, t in self._revoked.items() if t < now]:
                del self._revoked[k]
        if persist and self.log is not None:
            self.log.add(sid, until)

    def csrf_token(self, session: dict[str, Any]) -> str:
        return hmac.new(
            self._secret, b"csrf:" + session["sid"].encode(), hashlib.sha256
        ).hexdigest()

    def check_csrf(self, session: dict[str, Any] | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), str(token))


# ----------------------------------------------------------------------------- rate limiting
class LoginLimiter:
    """Login attempts per username, per client address and for forwarded requests, in a
    sliding window (see the module docstring).

    ``clock`` returns seconds (``time.monotonic`` by default; tests pass a fake one).
    """

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_ip: int = 20,
        per_forwarded: int = 100,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_ip = per_ip
        self.per_forwarded = per_forwarded
        self.window = window
        self.clock = clock
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _count(self, key: str, now: float) -> int:
        q = self._fails.get(key)
        if q is None:
            return 0
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fails[key]
            return 0
        return len(q)

    def _keys(self, username: str, ip: str, forwarded: bool) -> list[tuple[str, int]]:
        keys = [(f"u:{username.lower()}", self.per_user), (f"ip:{ip}", self.per_ip)]
        if forwarded:
            keys.append(("fwd:", self.per_forwarded))
        return keys

    def attempt(self, username: str, ip: str, *, forwarded: bool = False) -> float | None:
        """Check and count one attempt in one step: the seconds to wait when it must be
        refused now (nothing counted), else None (counted as a failure until
        :meth:`succeeded` says otherwise)."""
        now = self.clock()
        keys = self._keys(username, ip, forwarded)
        with self._lock:
            waits = [
                self._fails[key][0] + self.window - now
                for key, limit in keys
                if self._count(key, now) >= limit
            ]
            if waits:
                return max(0.0, max(waits))
            for key, _ in keys:
                self._fails[key].append(now)
            return None

    def retry_after(self, username: str, ip: str, *, forwarded: bool = False) -> float | None:
        """Seconds to wait when a login must be refused now, else None (counts nothing)."""
        now = self.clock()
        with self._lock:
            waits = [
                self._fails[key][0] + self.window - now
                for key, limit in self._keys(username, ip, forwarded)
                if self._count(key, now) >= limit
            ]
            return max(waits) if waits else None

    def failed(self, username: str, ip: str, *, forwarded: bool = False) -> None:
        now = self.clock()
        with self._lock:
            for key, _ in self._keys(username, ip, forwarded):
                self._fails[key].append(now)

    def succeeded(self, username: str, ip: str | None = None, *, forwarded: bool = False) -> None:
        """A login succeeded: the username's failures are forgotten, and the address's count
        loses the one :meth:`attempt` added (its earlier failures stay: one address guessing
        many accounts stays limited)."""
        with self._lock:
            self._fails.pop(f"u:{username.lower()}", None)
            if ip is None:
                return
            for key, _ in self._keys(username, ip, forwarded)[1:]:
                q = self._fails.get(key)
                if q:
                    q.pop()

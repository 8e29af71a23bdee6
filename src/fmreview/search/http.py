"""The one HTTP layer every literature source goes through.

:class:`HttpClient` wraps a shared :class:`httpx.Client` and adds what a polite, robust
harvester needs:

- **timeouts** (from the protocol's ``search.timeout``);
- **retries** with exponential backoff and jitter on 429 and 5xx responses and on transport
  errors, honouring ``Retry-After`` (seconds or an HTTP date); a host that cannot be
  reached at all (no network, DNS failure, connection refused) is tried only
  ``connect_retries + 1`` times, so an offline ``fmreview update`` fails in seconds, not
  after minutes of backoff per source;
- a **bounded request rate per source** (a token bucket per source name);
- an **on-disk response cache** in the review folder (``.cache/http/``), keyed by method,
  URL and parameters, so an interrupted harvest re-reads what it already fetched;
- **validation** of the body (JSON / XML) before it is cached: a truncated body is retried,
  never cached.

Clock and sleep are injected, so tests never really sleep and can check every wait.

Secrets (API keys passed as query parameters) are sent but never written into the cache
key, the cache file or any URL that is shown or stored.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from fmreview import __version__
from fmreview.errors import SourceError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying: rate limited, or a server-side problem.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Folder of the response cache inside a review folder.
CACHE_DIR = Path(".cache") / "http"

BodyKind = Literal["json", "xml", "text"]


@dataclass(frozen=True)
class Request:
    """One GET request to a source.

    ``secret_params`` are sent but never shown, stored or used as the cache key.
    ``kind`` says how to validate the body before it is accepted (and cached);
    ``retry_statuses`` the HTTP statuses worth retrying for this source.
    """

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    secret_params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    kind: BodyKind = "json"
    retry_statuses: frozenset[int] = RETRY_STATUSES

    @property
    def display_url(self) -> str:
        """The URL with its (non-secret) parameters, exactly as sent."""
        params = {k: v for k, v in self.params.items() if v is not None}
        return str(httpx.URL(self.url, params=params)) if params else self.url


class SourceRejected(SourceError):
    """A source answered with a non-retryable 4xx status (a rejected query, a bad id).

    ``status`` is the HTTP status, ``message`` the source's own explanation (from its
    error body), ``url`` the request URL without secrets.
    """

    def __init__(self, source: str, status: int, message: str, url: str) -> None:
        self.source = source
        self.status = status
        self.message = message
        self.url = url
        super().__init__(f"{source} answered HTTP {status} for {url}: {message}")


# ----------------------------------------------------------------------------- rate limit
class TokenBucket:
    """At most ``rate`` requests per second on average, bursts of up to ``capacity``.

    Hand-written (20 lines) rather than a dependency: the rate-limit libraries on PyPI
    either sleep for real or are asyncio-only, and tests need an injected clock and sleep.
    """

    def __init__(
        self,
        rate: float,
        *,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.sleep = sleep
        self._tokens = capacity
        self._last: float | None = None

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the time slept."""
        now = self.clock()
        if self._last is not None:
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            now = max(now, self._last)
        self._last = now
        waited = 0.0
        if self._tokens < 1.0:
            waited = (1.0 - self._tokens) / self.rate
            self.sleep(waited)
            # Count the wait as elapsed even if the injected clock did not move.
            self._tokens = 1.0
            self._last = max(self.clock(), now + waited)
        self._tokens -= 1.0
        return waited


# ----------------------------------------------------------------------------- cache
def cache_key(method: str, url: str, params: Mapping[str, Any]) -> str:
    """SHA-256 of method, URL and sorted parameters (secrets are never part of it)."""
    items = sorted((str(k), str(v)) for k, v in params.items() if v is not None)
    text = json.dumps([method.upper(), url, items], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Successful responses on disk, one gzip'd JSON file per request.

    Hand-written rather than hishel/requests-cache: those follow HTTP caching headers,
    which literature APIs set to "no-cache"; here we want a harvest cache keyed by the
    request itself with our own time-to-live.

    Parameters
    ----------
    folder : Path
        Where the files go (a review's ``.cache/http``).
    ttl : float or None
        Seconds an entry stays fresh; ``None`` keeps entries forever.
    now : callable
        Wall clock in seconds since the epoch (injected in tests).
    """

    def __init__(
        self,
        folder: Path | str,
        *,
        ttl: float | None = 86400.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.folder = Path(folder)
        self.ttl = ttl
        self.now = now

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json.gz"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data = json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, ValueError, EOFError):
            return None
        if self.ttl is not None and self.now() - float(data.get("fetched_at", 0)) > self.ttl:
            return None
        data["content"] = base64.b64decode(data.pop("body_b64"))
        return data

    def put(
        self, key: str, *, url: str, status: int, headers: Mapping[str, str], content: bytes
    ) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "url": url,
            "status": status,
            "headers": {k: v for k, v in headers.items() if k.lower() == "content-type"},
            "fetched_at": self.now(),
            "body_b64": base64.b64encode(content).decode("ascii"),
        }
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(gzip.compress(json.dumps(data).encode("utf-8")))
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written entry

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.json.gz")) if self.folder.exists() else 0


# ----------------------------------------------------------------------------- helpers
def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def error_message(content: bytes, limit: int = 300) -> str:
    """The source's own explanation from an error body (JSON, Atom/XML or text)."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return "(empty response body)"
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if data is not None:
        found = _json_message(data)
        if found:
            return _short(found, limit)
        return _short(text, limit)
    if text.startswith("<"):
        try:
            root = parse_xml(content)
            parts = []
            for tag in ("summary", "ERROR", "error", "message", "title"):
                for el in root.iter("{*}" + tag):
                    t = " ".join("".join(el.itertext()).split())
                    if t and t.lower() not in ("error", "arxiv query interface") and t not in parts:
                        parts.append(t)
            if parts:
                return _short("; ".join(parts), limit)
        except Exception:  # noqa: BLE001 - fall back to the raw text
            pass
    return _short(" ".join(text.split()), limit)


def _json_message(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        return "; ".join(m for m in (_json_message(x) for x in data) if m)
    if isinstance(data, dict):
        parts = []
        for key in ("error", "message", "detail", "ERROR", "errors", "description"):
            if key in data:
                m = _json_message(data[key])
                if m and m not in parts:
                    parts.append(m)
        if "esearchresult" in data:
            m = _json_message(data["esearchresult"])
            if m:
                parts.append(m)
        return "; ".join(parts)
    return ""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_xml(content: bytes) -> Any:
    """Parse an XML body safely: no network access, no entity expansion (no XXE), big trees ok."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return etree.fromstring(content, parser)


def validate_body(content: bytes, kind: BodyKind) -> None:
    """Raise ValueError when ``content`` is not well-formed ``kind``."""
    if kind == "json":
        json.loads(content)
    elif kind == "xml":
        from lxml import etree

        try:
            parse_xml(content)
        except etree.XMLSyntaxError as exc:
            raise ValueError(str(exc)) from exc


def user_agent(email: str | None = None) -> str:
    ua = f"fmreview/{__version__} (+https://github.com/fmreview/fmreview"
    return ua + (f"; mailto:{email})" if email else ")")


# ----------------------------------------------------------------------------- client
class HttpClient:
    """GET with rate limits, retries, validation and a response cache.

    Parameters
    ----------
    client : httpx.Client, optional
        The transport; tests pass ``httpx.Client(transport=httpx.MockTransport(handler))``.
        A client with the fmreview User-Agent is made when omitted.
    timeout : float
        Seconds for connect/read/write/pool.
    max_retries : int
        Retries after the first attempt (so ``max_retries + 1`` attempts at most).
    backoff : float
        First backoff in seconds; doubled on every retry, capped at ``max_backoff``, with
        "equal jitter" (half fixed, half random) so parallel clients spread out.
    max_wait : float
        A ``Retry-After`` longer than this is not waited for: the request fails at once
        with a message saying how long the source asked to wait.
    connect_retries : int
        Retries after a failure to connect (DNS, refused, connect timeout). A host that is
        unreachable twice in a row is reported at once: the backoff meant for a busy
        server only made an offline update wait minutes per source.
    connect_timeout : float
        Seconds to wait for a connection (at most ``timeout``).
    cache : ResponseCache, optional
        The response cache; ``None`` disables caching.
    rates : mapping
        Requests per second per source name (see :meth:`set_rate`).
    clock, sleep, now, rng :
        Injected monotonic clock, sleep function, wall clock and random generator.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_wait: float = 600.0,
        connect_retries: int = 1,
        connect_timeout: float = 10.0,
        cache: ResponseCache | None = None,
        rates: Mapping[str, float] | None = None,
        email: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._own_client = client is None
        self.user_agent = user_agent(email)
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, connect_timeout))
        self.client = client or httpx.Client(timeout=self.timeout, follow_redirects=True)
        self.connect_retries = connect_retries
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_wait = max_wait
        self.cache = cache
        self.clock = clock
        self.sleep = sleep
        self.now = now
        self.rng = rng or random.Random()
        self._buckets: dict[str, TokenBucket] = {}
        self.waits: list[
            tuple[str, str, float]
        ] = []  # (source, reason, seconds): for reports/tests
        self.requests_sent = 0
        self.cache_hits = 0
        for name, rate in (rates or {}).items():
            self.set_rate(name, rate)

    # -------------------------------------------------------------- configuration
    def set_rate(self, source: str, per_second: float, *, burst: float = 1.0) -> None:
        """Limit ``source`` to ``per_second`` requests per second (bursts of ``burst``)."""
        self._buckets[source] = TokenBucket(
            per_second,
            capacity=burst,
            clock=self.clock,
            sleep=self._sleep_for(source, "rate limit"),
        )

    def ensure_rate(self, source: str, per_second: float) -> None:
        """Set the rate of ``source`` unless one was set already (e.g. by a test)."""
        if source not in self._buckets:
            self.set_rate(source, per_second)

    def _sleep_for(self, source: str, reason: str) -> Callable[[float], None]:
        def _sleep(seconds: float) -> None:
            if seconds > 0:
                self.waits.append((source, reason, seconds))
                self.sleep(seconds)

        return _sleep

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- requests
    def backoff_delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based): exponential with equal jitter."""
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return base / 2 + self.rng.uniform(0, base / 2)

    def get(self, source: str, request: Request, *, use_cache: bool = True) -> httpx.Response:
        """Send ``request`` for ``source``; return a 2xx response whose body validated.

        Raises
        ------
        SourceRejected
            A non-retryable 4xx answer (the source's message included).
        SourceError
            Retries exhausted (429/5xx, transport errors, malformed bodies), or a
            ``Retry-After`` longer than ``max_wait``.
        """
        key = cache_key("GET", request.url, request.params)
        url = request.display_url
        if self.cache is not None and use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache_hits += 1
                return httpx.Response(
                    hit["status"],
                    headers=hit.get("headers") or {},
                    content=hit["content"],
                    request=httpx.Request("GET", url),
                )
        params = {k: v for k, v in request.params.items() if v is not None}
        params.update({k: v for k, v in request.secret_params.items() if v is not None})
        sleep = self._sleep_for(source, "retry")
        last = ""
        attempts = self.max_retries + 1
        unreachable = 0  # connection failures in a row
        for attempt in range(1, attempts + 1):
            bucket = self._buckets.get(source)
            if bucket is not None:
                bucket.acquire()
            wait: float | None = None
            try:
                self.requests_sent += 1
                resp = self.client.get(
                    request.url,
                    params=params,
                    headers={"User-Agent": self.user_agent, **request.headers},
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    unreachable += 1
                    if unreachable > self.connect_retries:
                        log.info("%s: %s unreachable after %d attempt(s)", source, url, attempt)
                        # "[Errno -2] Name or service not known" -> the words only
                        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc))
                        raise SourceError(
                            f"cannot connect to {httpx.URL(request.url).host} "
                            f"({_short(reason or type(exc).__name__, 100)})"
                        ) from None
                else:
                    unreachable = 0
            else:
                unreachable = 0
                if resp.status_code in request.retry_statuses:
                    last = f"HTTP {resp.status_code} ({error_message(resp.content, 120)})"
                    wait = parse_retry_after(resp.headers.get("Retry-After"), now=self.now())
                    if wait is not None and wait > self.max_wait:
                        raise SourceError(
                            f"{source} asked to retry after {wait:.0f} s (HTTP {resp.status_code}) for "
                            f"{url}; run the command again later (it resumes where it stopped)"
                        )
                elif resp.status_code >= 400:
                    raise SourceRejected(source, resp.status_code, error_message(resp.content), url)
                else:
                    try:
                        validate_body(resp.content, request.kind)
                    except ValueError as exc:
                        last = f"malformed {request.kind.upper()} ({_short(str(exc), 120)})"
                    else:
                        if self.cache is not None:
                            self.cache.put(
                                key,
                                url=url,
                                status=resp.status_code,
                                headers=resp.headers,
                                content=resp.content,
                            )
                        return resp
            if attempt == attempts:
                break
            delay = wait if wait is not None else self.backoff_delay(attempt)
            log.info("%s: %s; retry %d in %.1f s", source, last, attempt, delay)
            sleep(delay)
        raise SourceError(
            f"{source} failed after {attempts} attempt(s) for {url}: {last}; "
            "the search keeps its place, run the same command again to resume"
        )


def make_http(
    settings: Any = None,
    *,
    folder: Path | str | None = None,
    client: httpx.Client | None = None,
    cache: bool | None = None,
    **kwargs: Any,
) -> HttpClient:
    """The shared client for a review, configured from its protocol's ``search`` settings.

    Parameters
    ----------
    settings : fmreview.protocol.model.SearchSettings, optional
        ``timeout``, ``max_retries``, ``cache`` and ``email`` are taken from it.
    folder : path, optional
        The review folder; the cache lives in ``folder/.cache/http``. No folder, no cache.
    client : httpx.Client, optional
        Injected transport (tests).
    cache : bool, optional
        Overrides ``settings.cache`` (``--no-cache``).
    kwargs :
        Passed to :class:`HttpClient` (``sleep``, ``clock``, ``rng``, ...).
    """
    timeout = getattr(settings, "timeout", 30.0)
    max_retries = getattr(settings, "max_retries", 5)
    email = getattr(settings, "email", None)
    use_cache = getattr(settings, "cache", True) if cache is None else cache
    rc = ResponseCache(Path(folder) / CACHE_DIR) if (folder is not None and use_cache) else None
    return HttpClient(
        client, timeout=timeout, max_retries=max_retries, cache=rc, email=email, **kwargs
    )

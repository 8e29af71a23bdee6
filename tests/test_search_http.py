"""The shared HTTP layer: retries, Retry-After, rate limits, validation, cache."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fmreview.errors import SourceError
from fmreview.search.http import (
    CACHE_DIR,
    Request,
    ResponseCache,
    SourceRejected,
    TokenBucket,
    cache_key,
    error_message,
    make_http,
    parse_retry_after,
)
from tests.test_search_fakes import FakeTime, fake_http

URL = "https://api.example.org/works"


def ok_json(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"results": []})


class Script:
    """Answers requests from a list of responses (or exceptions), then repeats the last."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        a = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(a, BaseException):
            raise a
        assert isinstance(a, httpx.Response)
        return a


# ----------------------------------------------------------------------------- rate limit
def test_token_bucket_spaces_requests_with_fake_clock() -> None:
    t = FakeTime()
    bucket = TokenBucket(1 / 3, clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(4):
        bucket.acquire()
        stamps.append(t.clock())
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert gaps == pytest.approx([3.0, 3.0, 3.0])
    assert t.sleeps == pytest.approx([3.0, 3.0, 3.0])


def test_token_bucket_does_not_wait_when_time_passed() -> None:
    t = FakeTime()
    bucket = TokenBucket(2.0, clock=t.clock, sleep=t.sleep)
    bucket.acquire()
    t.t += 0.5  # exactly one token refilled
    assert bucket.acquire() == 0.0
    t.t += 0.2  # 0.4 token: wait 0.3 s for the rest
    assert bucket.acquire() == pytest.approx(0.3)


def test_token_bucket_burst_then_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, capacity=3, clock=t.clock, sleep=t.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.1])


def test_token_bucket_counts_wait_even_if_clock_does_not_move() -> None:
    slept: list[float] = []
    bucket = TokenBucket(1.0, clock=lambda: 0.0, sleep=slept.append)
    for _ in range(3):
        bucket.acquire()
    assert slept == pytest.approx([1.0, 1.0])


def test_token_bucket_rejects_zero_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_client_rate_limit_per_source_is_independent() -> None:
    t = FakeTime()
    http = fake_http(Script(ok_json()), time=t, rates={"slow": 0.5, "fast": 100.0})
    for _ in range(3):
        http.get("slow", Request(URL))
        http.get("fast", Request(URL + "/x"))
    slow = [w for s, r, w in http.waits if s == "slow"]
    fast = [w for s, r, w in http.waits if s == "fast"]
    assert slow == pytest.approx([2.0, 2.0], abs=0.02)
    assert all(w < 0.02 for w in fast)


# ----------------------------------------------------------------------------- retries
def test_429_storm_honours_retry_after_seconds() -> None:
    storm = httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "Too Many Requests"})
    script = Script(storm, storm, storm, ok_json({"ok": 1}))
    t = FakeTime()
    http = fake_http(script, time=t, max_retries=5)
    resp = http.get("openalex", Request(URL))
    assert resp.json() == {"ok": 1}
    assert len(script.calls) == 4
    assert t.sleeps == [7.0, 7.0, 7.0]
    assert [r for _, r, _ in http.waits] == ["retry"] * 3


def test_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    later = "Wed, 01 May 2024 12:00:30 GMT"
    script = Script(httpx.Response(503, headers={"Retry-After": later}), ok_json())
    t = FakeTime()
    http = fake_http(script, time=t, now=lambda: now)
    http.get("crossref", Request(URL))
    assert t.sleeps == [30.0]


def test_retry_after_beyond_max_wait_fails_at_once() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "86400"}))
    http = fake_http(script, max_wait=600)
    with pytest.raises(SourceError, match=r"openalex asked to retry after 86400 s"):
        http.get("openalex", Request(URL))
    assert len(script.calls) == 1


def test_500_then_success_backs_off_with_jitter() -> None:
    script = Script(httpx.Response(500, text="Internal Server Error"), ok_json())
    t = FakeTime()
    http = fake_http(script, time=t, backoff=2.0)
    http.get("s2", Request(URL))
    assert len(script.calls) == 2
    assert len(t.sleeps) == 1 and 1.0 <= t.sleeps[0] <= 2.0  # equal jitter: [b/2, b]


def test_backoff_grows_exponentially_and_is_capped() -> None:
    http = fake_http(Script(ok_json()), backoff=1.0, max_backoff=8.0)
    delays = [http.backoff_delay(a) for a in range(1, 8)]
    for a, d in enumerate(delays, 1):
        base = min(8.0, 2 ** (a - 1))
        assert base / 2 <= d <= base
    assert max(delays) <= 8.0


def test_retries_exhausted_names_source_status_and_attempts() -> None:
    script = Script(httpx.Response(502, text="Bad Gateway"))
    t = FakeTime()
    http = fake_http(script, time=t, max_retries=3)
    with pytest.raises(SourceError) as info:
        http.get("pubmed", Request(URL, {"term": "x"}))
    msg = str(info.value)
    assert "pubmed failed after 4 attempt(s)" in msg and "HTTP 502" in msg and "term=x" in msg
    assert len(script.calls) == 4 and len(t.sleeps) == 3


def test_transport_errors_are_retried() -> None:
    script = Script(httpx.ConnectError("connection refused"), httpx.ReadTimeout("slow"), ok_json())
    http = fake_http(script)
    assert http.get("arxiv", Request(URL)).status_code == 200
    assert len(script.calls) == 3


def test_400_is_not_retried_and_carries_source_message() -> None:
    body = {
        "error": "Invalid query parameters error.",
        "message": "filter is not a valid field: foo",
    }
    script = Script(httpx.Response(400, json=body))
    http = fake_http(script)
    with pytest.raises(SourceRejected) as info:
        http.get("openalex", Request(URL, {"filter": "foo:1"}))
    assert len(script.calls) == 1
    assert info.value.status == 400
    assert "filter is not a valid field: foo" in info.value.message


def test_truncated_json_is_retried_and_never_cached(tmp_path) -> None:
    script = Script(
        httpx.Response(200, content=b'{"meta": {"count": 3}, "results": [{"id": '),
        ok_json({"x": 1}),
    )
    cache = ResponseCache(tmp_path)
    http = fake_http(script, cache=cache)
    assert http.get("openalex", Request(URL)).json() == {"x": 1}
    assert len(script.calls) == 2
    assert len(cache) == 1  # only the good answer
    assert json.loads(http.get("openalex", Request(URL)).content) == {"x": 1}
    assert len(script.calls) == 2


def test_always_truncated_json_fails_with_clear_message() -> None:
    script = Script(httpx.Response(200, content=b'{"results": ['))
    http = fake_http(script, max_retries=2)
    with pytest.raises(SourceError, match=r"crossref failed after 3 attempt\(s\).*malformed JSON"):
        http.get("crossref", Request(URL))


def test_malformed_xml_is_retried() -> None:
    script = Script(
        httpx.Response(200, content=b"<PubmedArticleSet><PubmedArticle>"),
        httpx.Response(200, content=b"<a/>"),
    )
    http = fake_http(script)
    assert http.get("pubmed", Request(URL, kind="xml")).content == b"<a/>"
    assert len(script.calls) == 2


# ----------------------------------------------------------------------------- cache
def test_cache_hit_avoids_the_transport(tmp_path) -> None:
    script = Script(ok_json({"page": 1}))
    http = fake_http(script, cache=ResponseCache(tmp_path))
    req = Request(URL, {"search": "sam", "cursor": "*"})
    first = http.get("openalex", req)
    second = http.get(
        "openalex", Request(URL, {"cursor": "*", "search": "sam"})
    )  # same params, other order
    assert first.json() == second.json() == {"page": 1}
    assert len(script.calls) == 1 and http.cache_hits == 1
    third = http.get("openalex", Request(URL, {"search": "sam", "cursor": "abc"}))
    assert third.status_code == 200 and len(script.calls) == 2


def test_cache_can_be_bypassed_and_disabled(tmp_path) -> None:
    script = Script(ok_json())
    http = fake_http(script, cache=ResponseCache(tmp_path))
    http.get("x", Request(URL))
    http.get("x", Request(URL), use_cache=False)
    assert len(script.calls) == 2
    nocache = fake_http(script, cache=None)
    nocache.get("x", Request(URL))
    nocache.get("x", Request(URL))
    assert len(script.calls) == 4


def test_cache_never_stores_or_keys_on_secrets(tmp_path) -> None:
    script = Script(ok_json({"k": 1}))
    http = fake_http(script, cache=ResponseCache(tmp_path))
    http.get("pubmed", Request(URL, {"term": "a"}, secret_params={"api_key": "SECRET-1"}))
    assert script.calls[0].url.params["api_key"] == "SECRET-1"  # it is sent
    http.get("pubmed", Request(URL, {"term": "a"}, secret_params={"api_key": "SECRET-2"}))
    assert len(script.calls) == 1  # same cache entry: the key is not part of it
    for f in tmp_path.rglob("*.gz"):
        assert b"SECRET" not in gzip.decompress(f.read_bytes())
    assert cache_key("GET", URL, {"term": "a"}) == cache_key("GET", URL, {"term": "a", "x": None})


def test_cache_entries_expire(tmp_path) -> None:
    wall = [1_000_000.0]
    cache = ResponseCache(tmp_path, ttl=3600, now=lambda: wall[0])
    script = Script(ok_json())
    http = fake_http(script, cache=cache)
    http.get("x", Request(URL))
    wall[0] += 1800
    http.get("x", Request(URL))
    assert len(script.calls) == 1
    wall[0] += 3600
    http.get("x", Request(URL))
    assert len(script.calls) == 2


def test_cache_survives_a_corrupt_file(tmp_path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key("GET", URL, {})
    cache.put(key, url=URL, status=200, headers={"content-type": "application/json"}, content=b"{}")
    path = next(tmp_path.rglob("*.gz"))
    path.write_bytes(b"not gzip")
    assert cache.get(key) is None


def test_make_http_puts_cache_in_review_folder(tmp_path) -> None:
    from fmreview.protocol.model import SearchSettings

    http = make_http(
        SearchSettings(email="a@b.org", timeout=5, max_retries=1),
        folder=tmp_path,
        client=httpx.Client(transport=httpx.MockTransport(lambda r: ok_json())),
    )
    assert http.cache is not None and http.cache.folder == tmp_path / CACHE_DIR
    assert http.max_retries == 1 and http.timeout == httpx.Timeout(5, connect=5)
    assert "mailto:a@b.org" in http.user_agent
    http.get("x", Request(URL))
    assert (tmp_path / CACHE_DIR).exists()
    assert make_http(SearchSettings(cache=False), folder=tmp_path).cache is None
    assert make_http(SearchSettings(), folder=tmp_path, cache=False).cache is None
    assert make_http(SearchSettings(), folder=None).cache is None


# ----------------------------------------------------------------------------- helpers
def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(date, now=now) == pytest.approx(90.0)
    past = (now - timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(past, now=now) == 0.0


def test_error_message_from_each_source_format() -> None:
    from tests.test_search_fakes import load_text

    assert error_message(
        json.dumps({"error": "Bad", "message": "Unknown filter field: x"}).encode()
    ) == ("Bad; Unknown filter field: x")
    crossref = {
        "status": "failed",
        "message-type": "validation-failure",
        "message": [
            {
                "type": "unknown-parameter",
                "value": "foo",
                "message": "Parameter foo specified but there is no such parameter available on any route",
            }
        ],
    }
    assert "no such parameter" in error_message(json.dumps(crossref).encode())
    assert "unbalanced parentheses" in error_message(load_text("arxiv_error.xml").encode())
    assert error_message(b"  plain\n text  ") == "plain text"
    assert error_message(b"") == "(empty response body)"
    assert len(error_message(b"x" * 1000)) == 300


def test_request_display_url_hides_secrets_and_none() -> None:
    req = Request(URL, {"a": "1 2", "b": None}, secret_params={"api_key": "k"})
    assert req.display_url == URL + "?a=1+2"
    assert Request(URL).display_url == URL


# ----------------------------------------------------------------------------- properties
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.05, 50),
    burst=st.integers(1, 5),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=30),
)
def test_token_bucket_never_exceeds_its_rate(rate, burst, gaps) -> None:
    """In any window, requests <= burst + rate * window length (the token-bucket bound)."""
    t = FakeTime(0.0)
    bucket = TokenBucket(rate, capacity=burst, clock=t.clock, sleep=t.sleep)
    stamps = []
    for gap in gaps:
        t.t += gap
        bucket.acquire()
        stamps.append(t.clock())
    for i in range(len(stamps)):
        for j in range(i, len(stamps)):
            assert j - i + 1 <= burst + rate * (stamps[j] - stamps[i]) + 1e-6


def test_xml_entities_are_never_expanded() -> None:
    from fmreview.search.http import parse_xml, validate_body

    evil = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    validate_body(evil, "xml")
    assert "root:" not in (parse_xml(evil).text or "")


def test_error_message_from_broken_xml_falls_back_to_text() -> None:
    assert error_message(b"<html><body>Service Unavailable") == "<html><body>Service Unavailable"


def test_client_closes_only_what_it_made() -> None:
    from fmreview.search.http import HttpClient

    own = HttpClient()
    own.close()
    assert own.client.is_closed
    injected = httpx.Client(transport=httpx.MockTransport(lambda r: ok_json()))
    with HttpClient(injected) as shared:
        shared.get("x", Request(URL))
    assert not injected.is_closed


def test_an_unreachable_host_fails_after_one_retry() -> None:
    # connection failures are not a busy server: two in a row end the request at once,
    # whatever max_retries says (the backoff made an offline update wait minutes)
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    t = FakeTime()
    http = fake_http(script, time=t, max_retries=5)
    with pytest.raises(SourceError, match=r"cannot connect to \S+ \(Connection refused\)"):
        http.get("arxiv", Request(URL))
    assert len(script.calls) == 2 and len(t.sleeps) == 1 and t.sleeps[0] <= 1.0


def test_a_busy_server_still_gets_every_retry() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    http = fake_http(script, max_retries=3)
    with pytest.raises(SourceError, match="failed after 4 attempt"):
        http.get("arxiv", Request(URL))
    assert len(script.calls) == 4

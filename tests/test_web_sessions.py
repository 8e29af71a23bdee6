"""Logging out revokes the session for good: after a restart, in every process serving the
review, at the cost of one small query every few seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fmreview.store import Store, schema
from fmreview.web.auth import RevocationLog, Sessions
from tests.test_web_app import Browser, FakeClock, add_works, make_app, team

COOKIE = "fmr_session"


@pytest.fixture
def fstore(tmp_path: Path) -> Iterator[Store]:
    s = Store.create(tmp_path / "review")
    add_works(s, 2)
    team(s)
    yield s
    s.close()


def revocations(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(schema.session_revocations))]


def logout(b: Browser) -> Any:
    b.get("/dashboard")  # the page carries the CSRF token of the logged-in session
    return b.post("/logout")


def with_cookie(app: Any, cookie: str) -> TestClient:
    c = TestClient(app)
    c.cookies.set(COOKIE, cookie)
    return c


def test_logout_is_refused_by_a_new_app_over_the_same_store(fstore: Store) -> None:
    app1 = make_app(fstore)
    b = Browser(app1)
    b.login("alice")
    cookie = str(b.c.cookies.get(COOKIE))
    app2 = make_app(fstore)  # a restart: nothing in memory, the same signing key
    assert with_cookie(app2, cookie).get("/dashboard", follow_redirects=False).status_code == 200
    assert logout(b).status_code == 303
    (row,) = revocations(fstore)
    assert row["expires_at"] is not None
    app3 = make_app(fstore)
    r = with_cookie(app3, cookie).get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    assert with_cookie(app3, cookie).get("/api/session").status_code == 401
    # logging in again works, with a new session
    again = Browser(app3)
    assert again.login("alice").status_code == 303
    assert again.get("/dashboard").status_code == 200
    for app in (app1, app2, app3):
        app.state.web.writer.close()


def test_another_process_honours_a_logout_within_the_refresh(fstore: Store) -> None:
    clock = FakeClock()
    app1 = make_app(fstore, clock=clock, revocation_refresh=2.0)
    app2 = make_app(fstore, clock=clock, revocation_refresh=2.0)  # a second worker
    b = Browser(app1)
    b.login("alice")
    cookie = str(b.c.cookies.get(COOKIE))
    other = with_cookie(app2, cookie)
    assert other.get("/dashboard", follow_redirects=False).status_code == 200
    assert logout(b).status_code == 303
    # app1 refuses at once; app2 within revocation_refresh seconds
    assert with_cookie(app1, cookie).get("/dashboard", follow_redirects=False).status_code == 303
    assert other.get("/dashboard", follow_redirects=False).status_code == 200
    clock.t += 2.5
    assert other.get("/dashboard", follow_redirects=False).status_code == 303
    app1.state.web.writer.close()
    app2.state.web.writer.close()


def test_the_store_is_read_once_per_refresh_not_per_request(fstore: Store) -> None:
    clock = FakeClock()
    app = make_app(fstore, clock=clock, revocation_refresh=2.0)
    b = Browser(app)
    b.login("alice")
    log = app.state.web.sessions.log
    reads = log.reads
    for _ in range(30):
        assert b.c.get("/api/session").status_code == 200
    assert log.reads == reads  # no read at all while the refresh interval runs
    clock.t += 2.0
    for _ in range(30):
        b.c.get("/api/session")
    assert log.reads == reads + 1
    app.state.web.writer.close()


def test_only_logged_in_sessions_are_stored(fstore: Store) -> None:
    app = make_app(fstore)
    anon = Browser(app)
    anon.get("/login")
    assert anon.post("/logout").status_code == 303  # an anonymous session: memory only
    assert revocations(fstore) == []
    b = Browser(app)
    b.login("bob")  # the anonymous session of the login page is not stored either
    assert revocations(fstore) == []
    assert logout(b).status_code == 303
    assert len(revocations(fstore)) == 1
    app.state.web.writer.close()


def test_expired_revocations_are_dropped_and_never_refuse(fstore: Store) -> None:
    log = RevocationLog(fstore)
    past = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    log.add("old-session", past)
    assert [r["sid"] for r in revocations(fstore)] == ["old-session"]
    s = Sessions("k" * 32, max_age=100, log=RevocationLog(fstore))
    s.revoke("new-session")  # stores it, and deletes the expired row
    assert [r["sid"] for r in revocations(fstore)] == ["new-session"]
    fresh = Sessions("k" * 32, max_age=100, log=RevocationLog(fstore))
    assert fresh.loads(fresh.dumps({"sid": "new-session", "uid": 1})) is None
    assert fresh.loads(fresh.dumps({"sid": "old-session", "uid": 1})) is not None
    # a revocation whose expiry has passed is dropped from memory too
    log.add("ending", time.time() + 0.01)
    late = Sessions("k" * 32, max_age=100, log=RevocationLog(fstore))
    time.sleep(0.05)
    assert late.loads(late.dumps({"sid": "ending", "uid": 1})) is not None


def test_sessions_without_a_log_stay_in_memory() -> None:
    s = Sessions("k" * 32, max_age=100)
    sess = s.new(1)
    s.revoke(sess["sid"])
    assert s.loads(s.dumps(sess)) is None and s.log is None


@pytest.mark.postgres
def test_logout_survives_a_restart_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    store = Store.create(tmp_path / "review", db_url=pg_url)
    try:
        team(store)
        app1 = make_app(store)
        b = Browser(app1)
        b.login("carol")
        cookie = str(b.c.cookies.get(COOKIE))
        assert logout(b).status_code == 303
        app2 = make_app(store)
        r = with_cookie(app2, cookie).get("/dashboard", follow_redirects=False)
        assert r.status_code == 303
        (row,) = revocations(store)
        assert row["expires_at"].tzinfo is not None  # timestamptz on PostgreSQL
    finally:
        store.close()

"""The works served to reviewers are kept in the store: a restarted app serves the same work
and takes the vote on it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fmreview.store import Store, schema
from fmreview.web.app import create_app
from fmreview.web.settings import WebSettings
from tests.conftest import store_on
from tests.test_web_app import FAST, Browser, add_works, team

SECRET = "assignment-test-secret-0123456789"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A file-backed review with the flagship protocol (two reviewers a record, blinded),
    on SQLite and on PostgreSQL."""
    yield from store_on(request.param, tmp_path / "review")


def _app(store: Store, flush: float) -> Any:
    return create_app(
        store,
        settings=WebSettings(
            ranking="off", password_hasher=FAST, secret_key=SECRET, assignment_flush=flush
        ),
    )


def _stored(store: Store) -> dict[tuple[str, str], int]:
    t = schema.web_assignments
    with store.connect() as conn:
        rows = conn.execute(sa.select(t.c.stage, t.c.reviewer, t.c.work_id)).all()
    return {(r.stage, r.reviewer): int(r.work_id) for r in rows}


def _vote(b: Browser, work_id: int, label: str = "include") -> Any:
    return b.c.post(
        "/api/votes",
        json={"work_id": work_id, "label": label},
        headers={"X-CSRF-Token": b.api_csrf()},
    )


@pytest.mark.parametrize("flush", [0.0, 0.5], ids=["write-through", "batched"])
def test_a_restarted_app_takes_the_vote_on_the_work_it_served(
    any_store: Store, flush: float
) -> None:
    add_works(any_store, 6)
    team(any_store)
    app1 = _app(any_store, flush)
    with TestClient(app1):  # the lifespan: a shutdown writes what is pending
        alice = Browser(app1)
        alice.login("alice")
        served = alice.c.get("/api/next").json()["work"]["id"]
        bob = Browser(app1)
        bob.login("bob")
        assert bob.c.get("/api/next").json()["work"]["id"] == served  # dual screening
        assert _vote(bob, served).status_code == 201
        bob_next = bob.c.get("/api/next").json()["work"]["id"]
    assert _stored(any_store)[("title_abstract", "alice")] == served

    app2 = _app(any_store, flush)  # the restart: nothing in memory
    alice.c = _same_cookies(alice.c, app2)
    carol = Browser(app2)
    carol.login("carol")
    # the work alice holds has bob's vote and her lease: carol is not served it (a third
    # voter); bob's next work needs a second reviewer, so carol may get that one
    assert carol.c.get("/api/next").json()["work"]["id"] != served
    r = _vote(alice, served, "exclude")  # no reload first: the work on her screen
    assert r.status_code == 201, r.text
    # bob's assignment came back too, and is served to him again
    bob.c = _same_cookies(bob.c, app2)
    assert bob.c.get("/api/next").json()["work"]["id"] == bob_next


def _alice_served_then_restart(store: Store) -> tuple[Browser, int, Any]:
    """Five works, the team, alice served her first work; then a second app on the same
    store (the restart): alice's browser, her work, the new app."""
    add_works(store, 5)
    team(store)
    alice = Browser(_app(store, 0.0))
    alice.login("alice")
    first = alice.c.get("/api/next").json()["work"]["id"]
    return alice, first, _app(store, 0.0)


def test_after_a_restart_a_reload_serves_the_same_work(any_store: Store) -> None:
    alice, first, app2 = _alice_served_then_restart(any_store)
    others = {}
    for name in ("bob", "carol"):  # back before alice: her lease still counts
        b = Browser(app2)
        b.login(name)
        others[name] = b.c.get("/api/next").json()["work"]["id"]
    assert sorted(others.values()) != [first, first]  # two voters a work, alice is one
    alice.c = _same_cookies(alice.c, app2)
    assert alice.c.get("/api/next").json()["work"]["id"] == first


def test_a_restored_assignment_does_not_open_other_works(any_store: Store) -> None:
    alice, first, app2 = _alice_served_then_restart(any_store)
    alice.c = _same_cookies(alice.c, app2)
    other = next(w for w in range(1, 6) if w != first)
    r = _vote(alice, other)
    assert r.status_code == 403, r.text
    assert "not assigned to you" in r.json()["error"]


def test_a_voted_assignment_is_not_restored(any_store: Store) -> None:
    add_works(any_store, 5)
    team(any_store)
    app1 = _app(any_store, 0.0)
    alice = Browser(app1)
    alice.login("alice")
    first = alice.c.get("/api/next").json()["work"]["id"]
    assert _vote(alice, first).status_code == 201
    app2 = _app(any_store, 0.0)
    alice.c = _same_cookies(alice.c, app2)
    r = _vote(alice, first, "exclude")  # a change needs a reason, as before the restart
    assert r.status_code == 400, r.text
    assert alice.c.get("/api/next").json()["work"]["id"] != first


def _same_cookies(client: TestClient, app: Any) -> TestClient:
    """A client of ``app`` carrying ``client``'s cookies (the browser after a restart)."""
    c = TestClient(app)
    for name, value in client.cookies.items():
        c.cookies.set(name, value)
    return c


@pytest.mark.parametrize(
    "failure",
    ["closed", "error", "store-closed"],
    ids=["writer-closed", "store-error", "store-closed"],
)
def test_the_background_writer_stops_when_the_store_cannot_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    """A queue whose store went away (its writer closed, or every write failing) must not
    keep a thread retrying and logging for ever: it stops, and says so once."""
    import threading
    import time

    from fmreview.web.assignments import StoredQueue
    from fmreview.web.writer import WriterClosed

    store = Store.create(tmp_path / "review")
    add_works(store, 3)
    calls: list[int] = []

    def broken(fn: Any) -> Any:
        calls.append(1)
        if failure == "closed":
            raise WriterClosed("the store writer is closed")
        if failure == "store-closed":  # the review was closed while the write was pending
            store.close()
        raise sa.exc.OperationalError("INSERT", {}, Exception("no such table"))

    queue = StoredQueue(store, run_write=broken, flush_interval=0.01, ranking="off")
    try:
        with caplog.at_level("ERROR", logger="fmreview.web.assignments"):
            assert queue.next_for("alice") is not None
            flusher = queue._flusher
            assert isinstance(flusher, threading.Thread)
            flusher.join(timeout=10)
            assert not flusher.is_alive()
            assert queue._flusher is None
            stopped_after = len(calls)
            time.sleep(0.1)
            assert len(calls) == stopped_after  # no more retries
        expected = StoredQueue.FAILED_ROUNDS if failure == "error" else 1
        assert stopped_after == expected
        # only this queue's thread: another test's app may log from its own thread
        mine = [r for r in caplog.records if r.thread == flusher.ident]
        assert len(mine) == {"closed": 0, "store-closed": 1, "error": 2}[failure]
        # the served assignment is still pending: the next serve tries again
        assert queue._dirty
    finally:
        queue._stopped = True
        store.close()

"""The web app's writes: one writer, concurrent votes, crash consistency; the queue; accounts;
the ``fmreview serve`` / ``fmreview users`` commands."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fmreview.errors import InputError, NotFoundError
from fmreview.screening.decisions import Actor, resolve_conflict, visible_votes, write_decision
from fmreview.screening.engine import ScreeningEngine as ScreeningQueue
from fmreview.status import work_statuses
from fmreview.store import Store, schema
from fmreview.web.auth import (
    LoginLimiter,
    Sessions,
    authenticate,
    create_user,
    list_users,
    set_password,
    update_user,
)
from fmreview.web.settings import WebSettings, resolve_secret
from fmreview.web.writer import Writer
from tests.test_web_app import (
    FAST,
    PASSWORD,
    Browser,
    FakeClock,
    add_works,
    decisions,
    flagship,
    make_app,
    team,
)
from tests.test_web_app import store as store  # noqa: F401 - the fixture


def add_vote(store, *, work_id, reviewer, label, stage="title_abstract", **kw):
    """A local vote through the one decision writer (as the terminal session casts them)."""
    return write_decision(
        store, actor=Actor(reviewer), work_id=work_id, label=label, stage=stage, **kw
    )


@pytest.fixture
def fstore(tmp_path: Path) -> Any:
    """A file-backed SQLite review (WAL) with the flagship protocol."""
    s = Store.create(tmp_path / "review")
    yield s
    s.close()


def _count(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.decisions)).scalar())


# ----------------------------------------------------------------------------- writer
def test_sqlite_file_store_uses_wal(fstore: Store) -> None:
    with fstore.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_writer_serialises_concurrent_writes(fstore: Store) -> None:
    n_threads, per = 8, 25
    wids = add_works(fstore, n_threads * per)
    writer = Writer(fstore)
    assert writer.threaded
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        for k in range(per):
            try:
                writer.call(
                    lambda i=i, k=k: add_vote(
                        fstore,
                        work_id=wids[i * per + k],
                        reviewer=f"r{i}",
                        label="include",
                        note=str(k),
                    )
                )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    assert _count(fstore) == n_threads * per
    assert writer.writes == n_threads * per
    ids = [d["id"] for d in decisions(fstore)]
    assert len(ids) == len(set(ids))


def test_failed_write_rolls_back_and_the_writer_carries_on(fstore: Store) -> None:
    (wid,) = add_works(fstore, 1)
    writer = Writer(fstore)

    def half_then_fail() -> None:
        with fstore.begin() as conn:
            for r in ("a", "b", "c"):
                conn.execute(
                    sa.insert(schema.decisions).values(
                        work_id=wid,
                        stage="title_abstract",
                        reviewer=r,
                        label="include",
                        note="",
                        created_at=fstore.clock(),
                    )
                )
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        writer.call(half_then_fail)
    assert _count(fstore) == 0  # no partial rows
    writer.call(lambda: add_vote(fstore, work_id=wid, reviewer="a", label="include"))
    assert _count(fstore) == 1
    writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(lambda: None)


def test_writer_passes_through_when_not_threaded(store: Store) -> None:  # noqa: F811
    (wid,) = add_works(store, 1)
    w = Writer(store, threaded=False)
    assert w.call(lambda: add_vote(store, work_id=wid, reviewer="a", label="maybe")) > 0
    with pytest.raises(NotFoundError):
        w.call(lambda: add_vote(store, work_id=999, reviewer="a", label="maybe"))
    assert w.writes == 1


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import sqlalchemy as sa
    from fmreview.store import Store, schema
    store = Store.open(sys.argv[1])
    with store.begin() as conn:  # committed before the kill: must survive
        conn.execute(sa.insert(schema.decisions).values(work_id=1, stage="title_abstract", reviewer="kept",
                     label="include", note="", created_at=store.clock()))
    with store.begin() as conn:
        for i in range(500):
            conn.execute(sa.insert(schema.decisions).values(work_id=1, stage="title_abstract", reviewer=f"lost{i}",
                         label="include", note="x" * 1000, created_at=store.clock()))
        sys.stdout.write("inserted\\n"); sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # the server dies before the commit
    """
)


def test_a_process_killed_mid_write_leaves_the_store_consistent(fstore: Store) -> None:
    add_works(fstore, 1)
    folder = str(fstore.folder)
    fstore.close()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, folder], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr
    assert "inserted" in proc.stdout
    again = Store.open(folder)
    try:
        with again.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        rows = decisions(again)
        assert [d["reviewer"] for d in rows] == ["kept"]
        assert work_statuses(again)[1].stages["title_abstract"] == "in_progress"
    finally:
        again.close()


def test_two_reviewers_voting_on_the_same_work_at_once_both_count(fstore: Store) -> None:
    add_works(fstore, 3)
    team(fstore)
    app = make_app(fstore)
    people = [Browser(app) for _ in range(2)]
    for b, name in zip(people, ("alice", "bob"), strict=True):
        b.login(name)
    tokens = [b.api_csrf() for b in people]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def vote(i: int) -> None:
        assert people[i].c.get("/api/next").json()["work"]["id"] == 1  # assigned to both
        barrier.wait()
        r = people[i].c.post(
            "/api/votes",
            json={"work_id": 1, "label": ("include", "exclude")[i]},
            headers={"X-CSRF-Token": tokens[i]},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [201, 201]
    assert {d["reviewer"]: d["label"] for d in decisions(fstore)} == {
        "alice": "include",
        "bob": "exclude",
    }
    assert work_statuses(fstore)[1].status == "conflict"
    app.state.web.writer.close()


def test_many_concurrent_votes_through_the_app(fstore: Store) -> None:
    add_works(fstore, 40)
    names = [f"r{i}" for i in range(6)]
    team(fstore, reviewers=names, admins=())
    app = make_app(fstore)
    errors: list[str] = []

    def reviewer(name: str) -> None:
        b = Browser(app)
        b.login(name)
        tok = b.api_csrf()
        for _ in range(10):
            nxt = b.c.get("/api/next").json()
            if nxt["work"] is None:
                return
            r = b.c.post(
                "/api/votes",
                json={"work_id": nxt["work"]["id"], "label": "include"},
                headers={"X-CSRF-Token": tok},
            )
            if r.status_code != 201:
                errors.append(f"{name} {nxt['work']['id']} {r.text}")

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = decisions(fstore)
    assert len(rows) == 60
    pairs = [(d["work_id"], d["reviewer"]) for d in rows]
    assert len(pairs) == len(set(pairs))  # nobody was served a work twice
    app.state.web.writer.close()


# ----------------------------------------------------------------------------- queue
def test_queue_agrees_with_status(store: Store) -> None:  # noqa: F811
    add_works(store, 8)
    q = ScreeningQueue(store, ranking="off")
    crit = "E-REVIEW"
    add_vote(store, work_id=1, reviewer="a", label="include")
    add_vote(store, work_id=1, reviewer="b", label="include")  # include
    add_vote(store, work_id=2, reviewer="a", label="include")
    add_vote(store, work_id=2, reviewer="b", label="exclude", criterion=crit)  # conflict
    add_vote(store, work_id=3, reviewer="a", label="maybe")  # in progress
    add_vote(store, work_id=4, reviewer="a", label="exclude", criterion=crit)
    add_vote(store, work_id=4, reviewer="b", label="exclude", criterion=crit)  # excluded
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=5,
                stage="automation",
                reviewer="rules",
                label="exclude",
                criterion="E-DATE",
                note="",
                created_at=store.clock(),
            )
        )
    q.refresh()
    st = work_statuses(store)
    ta_open = {w for w, s in st.items() if s.status == "awaiting_screening"}
    ft_open = {w for w, s in st.items() if s.status == "awaiting_full_text"}
    assert q._open["title_abstract"] == ta_open == {3, 6, 7, 8}
    assert q._open["full_text"] == ft_open == {1}
    assert q._started["title_abstract"] == {3}
    # started works first, for someone who has not voted on them
    assert q.next_for("c").work_id == 3
    assert q.next_for("a").work_id == 6
    # resolving the conflict moves work 2 on
    resolve_conflict(
        store,
        work_id=2,
        stage="title_abstract",
        label="include",
        reviewer="admin",
        method="third reviewer",
    )
    q.refresh()
    assert 2 in q._open["full_text"]
    with pytest.raises(InputError):
        resolve_conflict(
            store, work_id=1, stage="title_abstract", label="include", reviewer="admin"
        )
    with pytest.raises(InputError):
        resolve_conflict(
            store,
            work_id=2,
            stage="title_abstract",
            label="include",
            reviewer="x",
            method="coin flip",
        )


def test_undo_withdraws_a_vote_in_the_queue(store: Store) -> None:  # noqa: F811
    add_works(store, 2)
    q = ScreeningQueue(store, ranking="off")
    add_vote(store, work_id=1, reviewer="a", label="include")
    q.refresh()
    assert q.next_for("a").work_id == 2
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=1,
                stage="title_abstract",
                reviewer="a",
                label="undo",
                note="",
                created_at=store.clock(),
            )
        )
    q.release("a", "title_abstract")
    assert q.next_for("a").work_id == 1


def test_leases_spread_works_and_expire(store: Store) -> None:  # noqa: F811
    add_works(store, 3)
    clock = FakeClock()
    q = ScreeningQueue(store, ranking="off", lease_seconds=60, clock=clock)
    assert q.next_for("a").work_id == 1
    assert q.next_for("b").work_id == 1  # needs two reviewers: both may have it
    assert q.next_for("c").work_id == 2  # but not a third while a and b hold it
    assert q.next_for("a").work_id == 1  # a reload keeps the same work
    clock.t += 61
    assert q.next_for("d").work_id == 1  # leases expired
    assert q.lease_of("d", "title_abstract") == 1


def test_single_reviewer_protocol(minimal_store: Store) -> None:
    add_works(minimal_store, 2)
    q = ScreeningQueue(minimal_store, ranking="off")
    assert q.next_for("a").work_id == 1
    assert q.next_for("b").work_id == 2  # one reviewer per record: work 1 is leased to a
    add_vote(minimal_store, work_id=1, reviewer="a", label="exclude")
    assert work_statuses(minimal_store)[1].status == "excluded_title_abstract"
    q.release("a", "title_abstract")
    assert q.next_for("a") is None or q.next_for("a").work_id == 2


def test_active_learning_order_when_the_ranker_can_learn(store: Store) -> None:  # noqa: F811
    pytest.importorskip("fmreview.screening.session")
    items = [
        (f"foundation model CLIP segmentation study {i}", "vision language medical imaging")
        for i in range(6)
    ]
    items += [(f"protein folding molecule {i}", "chemistry docking drug") for i in range(6)]
    add_works(store, items)
    add_vote(store, work_id=1, reviewer="a", label="include")
    add_vote(store, work_id=7, reviewer="a", label="exclude", criterion="E-NON-IMAGING")
    q = ScreeningQueue(store, ranking="sync", rank_every=1)
    item = q.next_for("b")
    # started works come first (1 and 7 need a second vote)
    assert item.work_id in (1, 7) and item.phase == "started"
    item = q.next_for("a")
    assert q.ranked and item.phase == "ranked" and item.rank is not None and item.score is not None
    assert item.work_id in range(2, 7), "the ranker puts FM works before protein works"
    state = q.model_state(item)
    assert state["source"] == "engine" and state["rank"] == item.rank and state["config"]


def test_background_ranking_thread(fstore: Store) -> None:
    pytest.importorskip("fmreview.screening.session")
    add_works(fstore, [("foundation model CT", "x"), ("protein", "y"), ("CLIP xray", "z")])
    add_vote(fstore, work_id=1, reviewer="a", label="include")
    add_vote(fstore, work_id=2, reviewer="a", label="exclude")
    q = ScreeningQueue(fstore, ranking="background", rank_every=1)
    q.next_for("a")
    q.wait_for_ranking()
    assert q.ranked
    with pytest.raises(InputError):
        ScreeningQueue(fstore, ranking="sometimes")
    with pytest.raises(InputError):
        q.next_for("a", "abstract_only")


def test_visible_votes_blinding(store: Store) -> None:  # noqa: F811
    add_works(store, 1)
    add_vote(store, work_id=1, reviewer="a", label="include", note="mine")
    v = visible_votes(store, 1, viewer="b", is_admin=False)
    # blinded: neither the status (in_progress) nor a count of hidden votes
    assert v["title_abstract"] == {"status": "blinded", "votes": {}}
    assert visible_votes(store, 1, viewer="a", is_admin=False)["title_abstract"]["votes"] == {
        "a": "include"
    }
    assert visible_votes(store, 1, viewer="b", is_admin=True)["title_abstract"]["votes"] == {
        "a": "include"
    }
    with pytest.raises(NotFoundError):
        visible_votes(store, 42, viewer="a", is_admin=True)


# ----------------------------------------------------------------------------- accounts
def test_accounts(store: Store) -> None:  # noqa: F811
    u = create_user(store, "alice", PASSWORD, hasher=FAST)
    assert u.role == "reviewer" and u.active
    with store.connect() as conn:
        stored = conn.execute(sa.select(schema.users.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for bad in ("", " ", "a b", "<x>", "x" * 65):
        with pytest.raises(InputError):
            create_user(store, bad, PASSWORD, hasher=FAST)
    with pytest.raises(InputError):
        create_user(store, "bob", "short", hasher=FAST)
    with pytest.raises(InputError):
        create_user(store, "bob", PASSWORD, role="root", hasher=FAST)
    with pytest.raises(InputError, match="already exists"):
        create_user(store, "alice", PASSWORD, hasher=FAST)
    assert authenticate(store, "alice", PASSWORD, hasher=FAST) is not None
    assert authenticate(store, "alice", "wrong pass", hasher=FAST) is None
    assert authenticate(store, "nobody", PASSWORD, hasher=FAST) is None
    set_password(store, "alice", "a new password", hasher=FAST)
    assert authenticate(store, "alice", PASSWORD, hasher=FAST) is None
    assert authenticate(store, "alice", "a new password", hasher=FAST) is not None
    update_user(store, "alice", active=False)
    assert authenticate(store, "alice", "a new password", hasher=FAST) is None
    assert update_user(store, "alice", role="admin", active=True).is_admin
    with pytest.raises(NotFoundError):
        update_user(store, "nobody", active=True)
    assert [x.username for x in list_users(store)] == ["alice"]


def test_password_rehash_on_login(store: Store) -> None:  # noqa: F811
    from argon2 import PasswordHasher

    create_user(store, "alice", PASSWORD, hasher=FAST)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert authenticate(store, "alice", PASSWORD, hasher=stronger) is not None
    with store.connect() as conn:
        assert "t=2" in conn.execute(sa.select(schema.users.c.password_hash)).scalar()


def test_sessions_refuse_forged_expired_and_revoked_cookies() -> None:
    s = Sessions("k" * 32, max_age=100)
    sess = s.new(7)
    cookie = s.dumps(sess)
    assert s.loads(cookie) == sess
    assert s.loads(cookie[:-2] + "xx") is None
    assert s.loads(Sessions("j" * 32).dumps(sess)) is None  # another key
    assert s.loads(None) is None and s.loads("garbage") is None
    tok = s.csrf_token(sess)
    forged = tok[:-1] + ("1" if tok[-1] == "0" else "0")  # always differs from the real one
    assert forged != tok
    assert (
        s.check_csrf(sess, tok) and not s.check_csrf(sess, forged) and not s.check_csrf(None, tok)
    )
    assert not s.check_csrf(s.new(7), tok)
    s.revoke(sess["sid"])
    assert s.loads(cookie) is None
    with pytest.raises(InputError):
        Sessions("short")
    expired = Sessions("k" * 32, max_age=-1)
    assert expired.loads(expired.dumps(expired.new(1))) is None


def test_login_limiter_window() -> None:
    clock = FakeClock()
    lim = LoginLimiter(per_user=2, per_ip=3, window=10, clock=clock)
    assert lim.retry_after("a", "1.1.1.1") is None
    lim.failed("a", "1.1.1.1")
    lim.failed("A", "1.1.1.1")  # user names are counted case-insensitively
    assert lim.retry_after("a", "2.2.2.2") == pytest.approx(10)
    clock.t += 5
    assert lim.retry_after("a", "2.2.2.2") == pytest.approx(5)
    lim.failed("b", "1.1.1.1")
    assert lim.retry_after("c", "1.1.1.1") is not None  # the address's limit
    clock.t += 6
    assert lim.retry_after("a", "1.1.1.1") is None
    lim.failed("a", "9.9.9.9")
    lim.succeeded("a")
    assert lim.retry_after("a", "8.8.8.8") is None


def test_secret_is_kept_in_the_review_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FMREVIEW_SECRET_KEY", raising=False)
    key = resolve_secret(WebSettings(), tmp_path)
    assert len(key) >= 32 and resolve_secret(WebSettings(), tmp_path) == key
    assert stat.S_IMODE((tmp_path / ".web-secret").stat().st_mode) == 0o600
    assert (
        resolve_secret(WebSettings(secret_key="given-key-0123456789"), tmp_path)
        == "given-key-0123456789"
    )
    monkeypatch.setenv("FMREVIEW_SECRET_KEY", "from-the-environment-123")
    assert resolve_secret(WebSettings(), tmp_path) == "from-the-environment-123"
    assert resolve_secret(WebSettings(), None) != resolve_secret(WebSettings(), None) or True


def test_sessions_survive_an_app_restart(fstore: Store) -> None:
    team(fstore)
    app1 = create_app_with_folder_secret(fstore)
    b = Browser(app1)
    b.login("alice")
    cookie = b.c.cookies.get("fmr_session")
    app2 = create_app_with_folder_secret(fstore)
    c = TestClient(app2)
    c.cookies.set("fmr_session", cookie)
    assert c.get("/dashboard", follow_redirects=False).status_code == 200


def create_app_with_folder_secret(store: Store) -> Any:
    from fmreview.web.app import create_app

    os.environ.pop("FMREVIEW_SECRET_KEY", None)
    return create_app(store, settings=WebSettings(ranking="off", password_hasher=FAST))


# ----------------------------------------------------------------------------- CLI
def _cli() -> typer.Typer:
    from fmreview.cli.serve import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    register(app)
    return app


def test_users_commands(fstore: Store) -> None:
    folder = str(fstore.folder)
    runner = CliRunner()
    app = _cli()
    r = runner.invoke(
        app, ["users", "add", "bob", "--dir", folder], env={"FMREVIEW_PASSWORD": "bobs password"}
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["users", "add", "ann", "--role", "admin", "--dir", folder],
        input="ann password\nann password\n",
        env={"FMREVIEW_PASSWORD": ""},
    )
    assert r.exit_code == 0, r.output
    assert "ann password" not in r.output  # the prompt hides it
    r = runner.invoke(app, ["users", "list", "--dir", folder, "--json"])
    import json

    assert {u["username"]: u["role"] for u in json.loads(r.output)} == {
        "ann": "admin",
        "bob": "reviewer",
    }
    r = runner.invoke(
        app,
        ["users", "passwd", "bob", "--dir", folder],
        env={"FMREVIEW_PASSWORD": "new bob password"},
    )
    assert r.exit_code == 0
    assert authenticate(fstore, "bob", "new bob password") is not None
    r = runner.invoke(app, ["users", "deactivate", "bob", "--dir", folder])
    assert r.exit_code == 0 and "deactivated" in r.output
    r = runner.invoke(app, ["users", "list", "--dir", folder])
    assert "bob" in r.output
    r = runner.invoke(
        app, ["users", "add", "x", "--dir", folder], env={"FMREVIEW_PASSWORD": "short"}
    )
    assert r.exit_code != 0 and isinstance(r.exception, InputError)


def test_users_logout_ends_every_session_of_that_user(fstore: Store) -> None:
    team(fstore)
    app = make_app(fstore, revocation_refresh=0.0)
    try:
        laptop, phone, other = Browser(app), Browser(app), Browser(app)
        laptop.login("bob")
        phone.login("bob")
        other.login("alice")
        assert all(b.c.get("/api/session").status_code == 200 for b in (laptop, phone, other))
        r = CliRunner().invoke(_cli(), ["users", "logout", "bob", "--dir", str(fstore.folder)])
        assert r.exit_code == 0 and "every session of bob has ended" in r.output
        assert laptop.c.get("/api/session").status_code == 401
        assert phone.c.get("/api/session").status_code == 401
        assert other.c.get("/api/session").status_code == 200  # only bob's sessions end
        again = Browser(app)
        again.login("bob")  # a new login works
        assert again.c.get("/api/session").status_code == 200
    finally:
        app.state.web.writer.close()


def test_serve_command_binds_loopback_and_creates_the_admin(
    fstore: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    runner = CliRunner()
    r = runner.invoke(
        _cli(),
        ["serve", "--dir", str(fstore.folder), "--create-admin", "root1"],
        env={"FMREVIEW_PASSWORD": "root password"},
    )
    assert r.exit_code == 0, r.output
    (call,) = calls
    assert call["host"] == "127.0.0.1" and call["port"] == 8000 and call["workers"] == 1
    assert {u.username: u.role for u in list_users(fstore)} == {"root1": "admin"}
    r = runner.invoke(
        _cli(),
        [
            "serve",
            "--dir",
            str(fstore.folder),
            "--host",
            "0.0.0.0",
            "--secure-cookies",
            "--root-path",
            "/review/",
            "--port",
            "9000",
        ],
    )
    assert r.exit_code == 0, r.output
    assert calls[1]["root_path"] == "/review" and calls[1]["host"] == "0.0.0.0"
    assert calls[1]["app"].state.web.settings.secure_cookies is True
    r = runner.invoke(_cli(), ["serve", "--dir", str(fstore.folder), "--root-path", "review"])
    assert isinstance(r.exception, InputError)


def test_every_command_has_an_example() -> None:
    import typer.main

    cmd = typer.main.get_command(_cli())
    found = []

    def walk(prefix: str, c: Any) -> None:
        if hasattr(c, "commands"):
            for name, sub in c.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append(prefix)
            assert f"Example: fmreview {prefix}" in (c.help or ""), prefix

    walk("", cmd)
    assert set(found) == {
        "serve",
        "users add",
        "users list",
        "users passwd",
        "users deactivate",
        "users logout",
    }


def test_protocol_copy_is_independent() -> None:
    a, b = flagship(), flagship()
    a.screening.blinding = False
    assert b.screening.blinding is True


@pytest.mark.postgres
def test_the_app_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    s = Store.create(tmp_path / "review", db_url=pg_url)
    try:
        add_works(s, 4)
        team(s)
        app = make_app(s)
        assert not app.state.web.writer.threaded  # PostgreSQL: plain transactions
        people = {n: Browser(app) for n in ("alice", "bob")}
        for n, b in people.items():
            b.login(n)
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def vote(name: str, label: str) -> None:
            b = people[name]
            tok = b.api_csrf()
            assert b.c.get("/api/next").json()["work"]["id"] == 1  # assigned to both
            barrier.wait()
            r = b.c.post(
                "/api/votes", json={"work_id": 1, "label": label}, headers={"X-CSRF-Token": tok}
            )
            codes.append(r.status_code)

        threads = [
            threading.Thread(target=vote, args=a)
            for a in (("alice", "include"), ("bob", "exclude"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [201, 201]
        assert work_statuses(s)[1].status == "conflict"
        nxt = people["alice"].c.get("/api/next").json()["work"]["id"]
        assert nxt != 1
        assert people["alice"].get("/dashboard").status_code == 200
    finally:
        s.close()

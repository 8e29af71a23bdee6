"""The web app in-process (FastAPI TestClient): every route, with its permissions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from fmreview.record import Record
from fmreview.status import work_statuses
from fmreview.store import Store, schema
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records
from fmreview.web.app import create_app
from fmreview.web.auth import create_user
from fmreview.web.settings import WebSettings

#: Cheap argon2 parameters: tests log in often.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def add_works(
    store: Store, items: Sequence[tuple[str, str]] | int, *, keywords: list[str] | None = None
) -> list[int]:
    """Works from (title, abstract) pairs (or ``n`` plain ones); returns their ids."""
    if isinstance(items, int):
        items = [
            (f"Work {i}: a foundation model for CT", f"Abstract {i}: zero-shot segmentation.")
            for i in range(items)
        ]
    recs = [Record(title=t, abstract=a, keywords=list(keywords or []), year=2024) for t, a in items]
    with store.run("import") as run:
        add_records(store, recs, source="test", source_kind="file", run_id=run.id)
        works_from_records(store, run.id)
    with store.connect() as conn:
        return list(
            conn.execute(sa.select(schema.works.c.id).order_by(schema.works.c.id)).scalars()
        )


def team(
    store: Store,
    reviewers: Sequence[str] = ("alice", "bob", "carol"),
    admins: Sequence[str] = ("admin",),
) -> None:
    for name in reviewers:
        create_user(store, name, PASSWORD, role="reviewer", hasher=FAST)
    for name in admins:
        create_user(store, name, PASSWORD, role="admin", hasher=FAST)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Browser:
    """A TestClient with a login helper and CSRF-carrying form posts."""

    def __init__(self, app: Any) -> None:
        self.c = TestClient(app)
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> Any:
        r = self.c.get(path, **kw)
        m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def login(self, name: str, password: str = PASSWORD) -> Any:
        self.get("/login")
        return self.c.post(
            "/login",
            data={"username": name, "password": password, "csrf_token": self.csrf},
            follow_redirects=False,
        )

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any
    ) -> Any:
        if csrf and not self.csrf:
            self.get("/dashboard")
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        return self.c.post(path, data=body, follow_redirects=False, **kw)

    def api_csrf(self) -> str:
        return str(self.c.get("/api/session").json()["csrf"])

    def vote(
        self,
        label: str,
        *,
        stage: str = "title_abstract",
        criterion: str | None = None,
        note: str = "",
    ) -> int:
        """Vote on the next work of the queue; returns its id."""
        r = self.get(f"/screen?stage={stage}")
        m = re.search(r'name="work_id" value="(\d+)"', r.text)
        assert m, "nothing to screen"
        data = {"work_id": m.group(1), "stage": stage, "label": label, "note": note}
        if criterion:
            data["criterion"] = criterion
        resp = self.post("/screen/vote", data)
        assert resp.status_code == 303, resp.text
        return int(m.group(1))


_PROTOCOL: list[Any] = []


def flagship() -> Any:
    """The flagship protocol, parsed once per test session (a fresh copy each call), with
    human dual screening pinned: the web app's tests must not follow the flagship's mode."""
    if not _PROTOCOL:
        from fmreview.store.store import _flagship

        _PROTOCOL.append(_flagship())
    p = _PROTOCOL[0].model_copy(deep=True)
    p.screening.mode = "human"
    p.screening.reviewers_per_record = 2
    p.screening.blinding = True
    return p


@pytest.fixture
def store() -> Iterator[Store]:
    """An in-memory store with the flagship protocol (shadows conftest's: parsed once)."""
    s = Store.memory(flagship())
    yield s
    s.close()


def make_app(store: Store, **kw: Any) -> Any:
    kw.setdefault("ranking", "off")
    kw.setdefault("password_hasher", FAST)
    kw.setdefault("secret_key", "test-secret-key-0123456789")
    return create_app(store, settings=WebSettings(**kw))


@pytest.fixture
def review(store: Store) -> Iterator[tuple[Store, Any]]:
    add_works(store, 6)
    team(store)
    app = make_app(store)
    yield store, app
    app.state.web.writer.close()


def decisions(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(sa.select(schema.decisions).order_by(schema.decisions.c.id))
        ]


EXCLUDE_CRITERION = "E-NOT-FM"


def an_exclusion(store: Store) -> str:
    crits = [
        c.id
        for c in store.protocol.eligibility
        if c.action == "exclude" and c.stage != "automation"
    ]
    assert crits, "the flagship protocol has exclusion criteria"
    return crits[0]


# ----------------------------------------------------------------------------- auth
def test_pages_need_a_login(review: tuple[Store, Any]) -> None:
    _, app = review
    b = Browser(app)
    for path in (
        "/dashboard",
        "/screen",
        "/conflicts",
        "/dedupe",
        "/extraction",
        "/atlas",
        "/admin",
        "/works/1",
        "/report/",
    ):
        r = b.c.get(path, follow_redirects=False)
        assert r.status_code == 303 and "/login?next=" in r.headers["location"], path
    for path in ("/api/next", "/api/dashboard", "/api/works/1/votes", "/api/session", "/api/users"):
        assert b.c.get(path).status_code == 401, path


def test_login_wrong_password_and_logout(review: tuple[Store, Any]) -> None:
    _, app = review
    b = Browser(app)
    assert b.login("alice", "wrong password").status_code == 401
    assert b.login("nobody", PASSWORD).status_code == 401
    r = b.login("alice")
    assert r.status_code == 303
    assert b.get("/dashboard").status_code == 200
    assert b.post("/logout").status_code == 303
    assert b.c.get("/dashboard", follow_redirects=False).status_code == 303


def test_login_cookie_flags_and_new_session_id(review: tuple[Store, Any]) -> None:
    store, _ = review
    app = make_app(store, secure_cookies=True)
    b = Browser(app)
    b.get("/login")
    before = b.c.cookies.get("fmr_session")
    r = b.c.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": b.csrf},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
        and "Secure" in cookie
    )
    assert r.cookies.get("fmr_session") != before


def test_login_redirect_stays_inside_the_app(review: tuple[Store, Any]) -> None:
    _, app = review
    b = Browser(app)
    b.get("/login")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = b.c.post(
            "/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": b.csrf, "next": evil},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/dashboard"
        b.post("/logout")
        b.get("/login")


def test_deactivated_user_is_logged_out(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.login("alice")
    assert b.get("/dashboard").status_code == 200
    admin = Browser(app)
    admin.login("admin")
    admin.get("/admin")
    assert (
        admin.post("/admin/users/update", {"username": "alice", "action": "deactivate"}).status_code
        == 303
    )
    assert b.c.get("/dashboard", follow_redirects=False).status_code == 303
    assert b.login("alice").status_code == 401


def test_login_rate_limit_per_user_and_per_ip(store: Store) -> None:
    add_works(store, 1)
    team(store)
    clock = FakeClock()
    app = make_app(store, clock=clock, login_per_user=3, login_per_ip=5, login_window=60)
    b = Browser(app)
    for _ in range(3):
        assert b.login("alice", "nope nope").status_code == 401
    r = b.login("alice")  # right password, but the user is locked for now
    assert r.status_code == 429 and "Retry-After" in r.headers
    clock.t += 61
    assert b.login("alice").status_code == 303
    b.post("/logout")
    # per address: many names from one client
    for name in ("bob", "carol", "x1", "x2", "x3"):
        b.login(name, "nope nope")
    assert b.login("admin").status_code == 429
    clock.t += 61
    assert b.login("admin").status_code == 303


# ----------------------------------------------------------------------------- CSRF
def test_posts_without_csrf_are_refused(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.login("alice")
    wid = add_works(store, 0)[0]
    for path, data in (
        ("/screen/vote", {"work_id": wid, "stage": "title_abstract", "label": "include"}),
        ("/logout", {}),
        ("/dedupe/decide", {"a": 1, "b": 2, "same": "yes"}),
        ("/extraction/confirm", {"label_id": 1}),
        ("/conflicts/resolve", {"work_id": wid, "label": "include"}),
        ("/admin/users", {"username": "mallory", "password": "12345678"}),
    ):
        r = b.post(path, data, csrf=False)
        assert r.status_code == 403, path
        r = b.post(path, {**data, "csrf_token": "0" * 64}, csrf=False)
        assert r.status_code == 403, path
    assert decisions(store) == []
    # the JSON API wants the header
    wid = b.c.get("/api/next").json()["work"]["id"]
    r = b.c.post("/api/votes", json={"work_id": wid, "label": "include"})
    assert r.status_code == 403
    assert decisions(store) == []
    r = b.c.post(
        "/api/votes",
        json={"work_id": wid, "label": "include"},
        headers={"X-CSRF-Token": b.api_csrf()},
    )
    assert r.status_code == 201
    assert len(decisions(store)) == 1


def test_login_form_needs_csrf(review: tuple[Store, Any]) -> None:
    _, app = review
    c = TestClient(app)
    r = c.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_csrf_token_of_another_session_is_refused(review: tuple[Store, Any]) -> None:
    store, app = review
    a, b = Browser(app), Browser(app)
    a.login("alice")
    b.login("bob")
    a.get("/screen")
    wid = decisions(store)
    r = b.post(
        "/screen/vote",
        {"work_id": 1, "stage": "title_abstract", "label": "include", "csrf_token": a.csrf},
        csrf=False,
    )
    assert r.status_code == 403
    assert decisions(store) == wid


def test_unauthenticated_writes_are_refused(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.get("/login")  # an anonymous session with a valid token
    for path, data in (
        ("/screen/vote", {"work_id": 1, "stage": "title_abstract", "label": "include"}),
        ("/conflicts/resolve", {"work_id": 1, "label": "include"}),
        ("/admin/users", {"username": "mallory", "password": "12345678"}),
        ("/dedupe/decide", {"a": 1, "b": 2, "same": "yes"}),
        ("/extraction/correct", {"work_id": 1, "axis": "modality", "value": "CT"}),
    ):
        assert b.post(path, data).status_code == 401, path
    assert b.c.post("/api/votes", json={"work_id": 1, "label": "include"}).status_code == 401
    assert decisions(store) == []


# ----------------------------------------------------------------------------- screening
def test_dual_screening_conflict_and_resolution(review: tuple[Store, Any]) -> None:
    store, app = review
    alice, bob, admin = Browser(app), Browser(app), Browser(app)
    alice.login("alice")
    bob.login("bob")
    admin.login("admin")
    crit = an_exclusion(store)
    w1 = alice.vote("include")
    # bob is served the work alice started (it needs a second vote)
    w2 = bob.vote("exclude", criterion=crit, note="not an FM")
    assert w1 == w2
    st = work_statuses(store)[w1]
    assert st.status == "conflict"
    # reviewers may not see the conflicts page while blinding is on
    assert alice.get("/conflicts").status_code == 403
    page = admin.get("/conflicts")
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.text)
    cards = doc.xpath(f"//*[@id='conflict-{w1}']//div[contains(@class, 'vote-card')]")
    assert {c.xpath(".//h3")[0].text_content() for c in cards} == {"alice", "bob"}
    assert "not an FM" in page.text
    r = admin.post(
        "/conflicts/resolve",
        {
            "work_id": w1,
            "stage": "title_abstract",
            "label": "include",
            "method": "consensus",
            "comment": "discussed",
        },
    )
    assert r.status_code == 303
    st = work_statuses(store)[w1]
    assert st.stages["title_abstract"] == "include" and st.status == "awaiting_full_text"
    res = [d for d in decisions(store) if d["stage"] == "resolution"]
    assert len(res) == 1 and res[0]["note"] == "title_abstract" and res[0]["reviewer"] == "admin"
    assert res[0]["model"]["resolution"] == "consensus" and res[0]["model"]["votes"] == {
        "alice": "include",
        "bob": "exclude",
    }
    # resolving again is refused: no conflict any more
    r = admin.post(
        "/conflicts/resolve", {"work_id": w1, "stage": "title_abstract", "label": "exclude"}
    )
    assert r.status_code == 400
    # the work now waits for full text
    alice_ft = alice.get("/screen?stage=full_text")
    assert f'name="work_id" value="{w1}"' in alice_ft.text


def test_reviewer_cannot_read_blinded_votes(review: tuple[Store, Any]) -> None:
    store, app = review
    alice, bob, admin = Browser(app), Browser(app), Browser(app)
    alice.login("alice")
    bob.login("bob")
    admin.login("admin")
    w = alice.vote("exclude", criterion=an_exclusion(store), note="secret reasoning")
    # bob sees nothing of alice's vote: not on the work page, not in the API, not on the screen page
    v = bob.c.get(f"/api/works/{w}/votes").json()
    assert v["title_abstract"] == {"status": "blinded", "votes": {}}
    page = bob.get(f"/works/{w}")
    assert "alice" not in page.text and "secret reasoning" not in page.text
    screen = bob.get("/screen")
    assert "alice" not in screen.text and "secret reasoning" not in screen.text
    # alice sees her own vote; the admin sees all
    assert alice.c.get(f"/api/works/{w}/votes").json()["title_abstract"]["votes"] == {
        "alice": "exclude"
    }
    assert admin.c.get(f"/api/works/{w}/votes").json()["title_abstract"]["votes"] == {
        "alice": "exclude"
    }
    # once bob agrees the stage is final and the votes are visible to both
    bob.vote("exclude", criterion=an_exclusion(store))
    assert bob.c.get(f"/api/works/{w}/votes").json()["title_abstract"]["votes"] == {
        "alice": "exclude",
        "bob": "exclude",
    }


def test_blinding_off_shows_votes_and_conflicts(store: Store) -> None:
    store.protocol.screening.blinding = False
    add_works(store, 2)
    team(store)
    app = make_app(store)
    alice, bob = Browser(app), Browser(app)
    alice.login("alice")
    bob.login("bob")
    w = alice.vote("include")
    assert bob.c.get(f"/api/works/{w}/votes").json()["title_abstract"]["votes"] == {
        "alice": "include"
    }
    assert bob.get("/conflicts").status_code == 200


def test_queue_serves_each_work_to_the_required_number_of_reviewers(
    review: tuple[Store, Any],
) -> None:
    store, app = review
    people = {n: Browser(app) for n in ("alice", "bob", "carol")}
    for n, b in people.items():
        b.login(n)
    served: dict[str, list[int]] = {n: [] for n in people}
    for _ in range(6):
        for n, b in people.items():
            r = b.c.get("/api/next").json()
            if r["work"] is None:
                continue
            wid = r["work"]["id"]
            served[n].append(wid)
            resp = b.c.post(
                "/api/votes",
                json={"work_id": wid, "label": "include"},
                headers={"X-CSRF-Token": b.api_csrf()},
            )
            assert resp.status_code == 201
    votes: dict[int, set[str]] = {}
    for d in decisions(store):
        votes.setdefault(d["work_id"], set()).add(d["reviewer"])
    # 6 works x 2 reviewers: every work got exactly two different reviewers, nobody voted twice
    assert sorted(len(v) for v in votes.values()) == [2] * 6
    assert len(decisions(store)) == 12
    for n in people:
        assert len(served[n]) == len(set(served[n]))
    assert all(s.status == "awaiting_full_text" for s in work_statuses(store).values())
    for b in people.values():
        assert b.c.get("/api/next").json()["work"] is None


def test_reload_shows_the_same_work(review: tuple[Store, Any]) -> None:
    _, app = review
    b = Browser(app)
    b.login("alice")
    first = b.c.get("/api/next").json()["work"]["id"]
    assert b.c.get("/api/next").json()["work"]["id"] == first


def test_automation_excluded_works_are_never_served(review: tuple[Store, Any]) -> None:
    store, app = review
    with store.begin() as conn:
        for wid in (1, 2, 3):
            conn.execute(
                sa.insert(schema.decisions).values(
                    work_id=wid,
                    stage="automation",
                    reviewer="rules",
                    label="exclude",
                    criterion="E-X",
                    note="",
                    created_at=store.clock(),
                )
            )
    b = Browser(app)
    b.login("alice")
    seen = []
    while True:
        r = b.c.get("/api/next").json()
        if r["work"] is None:
            break
        seen.append(r["work"]["id"])
        b.c.post(
            "/api/votes",
            json={"work_id": r["work"]["id"], "label": "maybe"},
            headers={"X-CSRF-Token": b.api_csrf()},
        )
    assert sorted(seen) == [4, 5, 6]


def test_vote_validation(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.login("alice")
    b.get("/screen")
    assert (
        b.post(
            "/screen/vote", {"work_id": 1, "stage": "title_abstract", "label": "yes"}
        ).status_code
        == 400
    )
    assert (
        b.post("/screen/vote", {"work_id": 1, "stage": "nope", "label": "include"}).status_code
        == 400
    )
    r = b.post(
        "/screen/vote",
        {"work_id": 1, "stage": "title_abstract", "label": "exclude", "criterion": "E-NOPE"},
    )
    assert r.status_code == 404 and "E-NOPE" in r.text
    assert (
        b.post(
            "/screen/vote", {"work_id": 999, "stage": "title_abstract", "label": "include"}
        ).status_code
        == 404
    )
    assert (
        b.post(
            "/screen/vote", {"work_id": "x", "stage": "title_abstract", "label": "include"}
        ).status_code
        == 400
    )
    headers = {"X-CSRF-Token": b.api_csrf()}
    assert (
        b.c.post("/api/votes", json={"work_id": 1, "label": "bad"}, headers=headers).status_code
        == 422
    )
    assert (
        b.c.post(
            "/api/votes", json={"work_id": "x", "label": "include"}, headers=headers
        ).status_code
        == 422
    )
    assert decisions(store) == []


def test_vote_records_the_queue_state(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.login("alice")
    b.vote("maybe", note="check methods")
    (d,) = decisions(store)
    assert d["reviewer"] == "alice" and d["label"] == "maybe" and d["note"] == "check methods"
    assert d["model"]["source"] == "engine" and d["model"]["phase"] in (
        "started",
        "ranked",
        "unranked",
    )
    assert d["criterion"] is None


def test_screen_page_highlights_and_lists_criteria(store: Store) -> None:
    add_works(
        store, [("A foundation model review", "We pretrain a CLIP model; this survey covers EEG.")]
    )
    team(store)
    app = make_app(store)
    b = Browser(app)
    b.login("alice")
    r = b.get("/screen")
    doc = lxml.html.fromstring(r.text)
    inc = [m.text_content() for m in doc.xpath("//mark[@class='hl-include']")]
    exc = [m.text_content() for m in doc.xpath("//mark[@class='hl-exclude']")]
    assert "foundation model" in inc and "CLIP" in inc and "pretrain" in inc
    assert "survey" in exc and "EEG" in exc and "review" in exc
    radios = doc.xpath("//*[@id='criteria']//input[@name='criterion']")
    assert [x.get("value") for x in radios] == [
        c.id
        for c in store.protocol.eligibility
        if c.action == "exclude" and c.stage in ("title_abstract",)
    ]
    assert doc.xpath("//script[contains(@src, '/static/web/screen.js')]")
    assert b.get("/screen?stage=bogus").status_code == 400


def test_nothing_left_page(store: Store) -> None:
    add_works(store, 1)
    team(store)
    app = make_app(store)
    b = Browser(app)
    b.login("alice")
    b.vote("include")
    r = b.get("/screen")
    assert "Nothing left for you" in r.text


# ----------------------------------------------------------------------------- dashboard
def test_dashboard_shows_prisma_progress_and_kappa(review: tuple[Store, Any]) -> None:
    store, app = review
    alice, bob = Browser(app), Browser(app)
    alice.login("alice")
    bob.login("bob")
    crit = an_exclusion(store)
    for lab_a, lab_b in (
        ("include", "include"),
        ("exclude", "exclude"),
        ("include", "exclude"),
        ("exclude", "exclude"),
        ("include", "include"),
        ("exclude", "exclude"),
    ):
        w = alice.vote(lab_a, criterion=crit if lab_a == "exclude" else None)
        assert bob.vote(lab_b, criterion=crit if lab_b == "exclude" else None) == w
    # blinded reviewers see none of it (it moves with the co-reviewer's votes); admins all
    data = alice.c.get("/api/dashboard").json()
    assert data["agreement"] is None and data["progress"] is None and data["prisma"] is None
    assert 'id="agreement"' not in alice.get("/dashboard").text
    admin = Browser(app)
    admin.login("admin")
    r = admin.get("/dashboard")
    assert r.status_code == 200
    doc = lxml.html.fromstring(r.text)
    kappas = [
        td.text_content().strip()
        for td in doc.xpath("//*[@id='agreement']//td[contains(@class, 'kappa')]")
    ]
    from fmreview.agreement import agreement

    expected = agreement(store).pairs[0].kappa
    assert kappas == [f"{expected:.3f}"]
    assert "Gwet" in r.text and "Fleiss" in r.text and "Krippendorff" in r.text
    prisma = doc.xpath("//*[@id='prisma']")[0].text_content()
    assert "Records screened" in prisma and "Studies included" in prisma
    assert "Recall" in doc.xpath("//*[@id='stopping']")[0].text_content()
    data = admin.c.get("/api/dashboard").json()
    # the estimate is the one `fmreview screen status` prints, from the same function
    from fmreview.screening.recall import store_recall_estimate

    est = store_recall_estimate(store).to_dict()
    assert data["stopping"]["estimate"] == est and est["found"] == 2
    shown = " ".join(doc.xpath("//*[@id='estimate']")[0].text_content().split())
    assert f"{est['found']} found" in shown and f"({est['unscreened']} left to screen)" in shown
    assert data["progress"]["stages"]["title_abstract"]["conflict"] == 1
    assert data["progress"]["stages"]["title_abstract"]["exclude"] == 3


# ----------------------------------------------------------------------------- admin
def test_reviewer_cannot_reach_admin(review: tuple[Store, Any]) -> None:
    store, app = review
    b = Browser(app)
    b.login("alice")
    assert b.get("/admin").status_code == 403
    assert b.c.get("/api/users").status_code == 403
    assert (
        b.post(
            "/admin/users", {"username": "mallory", "password": "12345678", "role": "admin"}
        ).status_code
        == 403
    )
    assert (
        b.post("/admin/users/update", {"username": "alice", "action": "admin"}).status_code == 403
    )
    assert b.post("/admin/report", {}).status_code == 403
    from fmreview.web.auth import list_users

    assert "mallory" not in {u.username for u in list_users(store)}
    assert {u.username: u.role for u in list_users(store)}["alice"] == "reviewer"


def test_admin_manages_users(review: tuple[Store, Any]) -> None:
    store, app = review
    a = Browser(app)
    a.login("admin")
    assert a.get("/admin").status_code == 200
    assert (
        a.post(
            "/admin/users", {"username": "dave", "password": "long enough", "role": "reviewer"}
        ).status_code
        == 303
    )
    assert (
        a.post("/admin/users", {"username": "dave", "password": "long enough"}).status_code == 400
    )
    assert a.post("/admin/users", {"username": "eve", "password": "short"}).status_code == 400
    assert (
        a.post("/admin/users", {"username": "<script>", "password": "long enough"}).status_code
        == 400
    )
    assert a.post("/admin/users/update", {"username": "dave", "action": "admin"}).status_code == 303
    assert (
        a.post(
            "/admin/users/update",
            {"username": "dave", "action": "password", "password": "another one"},
        ).status_code
        == 303
    )
    assert (
        a.post("/admin/users/update", {"username": "admin", "action": "deactivate"}).status_code
        == 400
    )
    assert (
        a.post("/admin/users/update", {"username": "dave", "action": "explode"}).status_code == 400
    )
    d = Browser(app)
    assert d.login("dave", "another one").status_code == 303
    assert d.get("/admin").status_code == 200
    users = a.c.get("/api/users").json()
    assert {u["username"]: u["role"] for u in users}["dave"] == "admin"


# ----------------------------------------------------------------------------- other pages
def test_dedupe_page_and_decision(review: tuple[Store, Any]) -> None:
    store, app = review
    io = pytest.importorskip("fmreview.dedupe.store_io")
    with store.begin() as conn:
        run_id = conn.execute(sa.select(sa.func.max(schema.runs.c.id))).scalar()
        conn.execute(
            sa.insert(schema.dedupe_pairs).values(
                record_a=1, record_b=2, score=0.8, reason={}, run_id=run_id
            )
        )
    b = Browser(app)
    b.login("alice")
    r = b.get("/dedupe")
    assert r.status_code == 200 and 'name="a" value="1"' in r.text
    assert b.post("/dedupe/decide", {"a": 1, "b": 2, "same": "maybe"}).status_code == 400
    assert (
        b.post(
            "/dedupe/decide", {"a": 1, "b": 2, "same": "no", "note": "different cohorts"}
        ).status_code
        == 303
    )
    with store.connect() as conn:
        rows = [dict(x._mapping) for x in conn.execute(sa.select(schema.dedupe_decisions))]
    assert len(rows) == 1 and rows[0]["same"] is False and rows[0]["reviewer"] == "alice"
    assert io.pending_pairs(store) == []
    assert "No pairs wait" in b.get("/dedupe").text


def _label(
    store: Store, work_id: int, axis: str, value: str, evidence: list[dict[str, Any]]
) -> int:
    with store.begin() as conn:
        return int(
            conn.execute(
                sa.insert(schema.labels).values(
                    work_id=work_id,
                    axis=axis,
                    value=value,
                    method="rule",
                    confidence=0.6,
                    evidence=evidence,
                    status="auto",
                    created_at=store.clock(),
                )
            ).inserted_primary_key[0]
        )


def test_extraction_review_confirm_and_correct(store: Store) -> None:
    pytest.importorskip("fmreview.extract.store_io")
    add_works(store, [("SAM for CT segmentation", "We adapt SAM to abdominal CT scans.")])
    team(store)
    app = make_app(store)
    lid = _label(
        store, 1, "modality", "ct", [{"field": "abstract", "start": 26, "end": 28, "text": "CT"}]
    )
    b = Browser(app)
    b.login("alice")
    r = b.get("/extraction")
    assert r.status_code == 200
    doc = lxml.html.fromstring(r.text)
    assert [m.text_content() for m in doc.xpath("//mark[@class='hl-evidence']")] == ["CT"]
    assert b.post("/extraction/confirm", {"label_id": lid, "note": "ok"}).status_code == 303
    assert (
        b.post(
            "/extraction/correct", {"work_id": 1, "axis": "modality", "value": "mri; ct"}
        ).status_code
        == 303
    )
    r = b.post("/extraction/correct", {"work_id": 1, "axis": "modality", "value": "not-a-modality"})
    assert r.status_code == 404 and "not-a-modality" in r.text
    assert (
        b.post("/extraction/correct", {"work_id": 1, "axis": "modality", "value": ""}).status_code
        == 400
    )
    with store.connect() as conn:
        human = [
            dict(x._mapping)
            for x in conn.execute(sa.select(schema.labels).where(schema.labels.c.method == "human"))
        ]
    assert (
        human[0]["reviewer"] == "alice"
        and human[0]["supersedes"] == lid
        and human[0]["status"] == "confirmed"
    )
    assert {h["value"] for h in human[1:]} == {"mri", "ct"} and {
        h["status"] for h in human[1:]
    } == {"corrected"}


def test_atlas_page(review: tuple[Store, Any]) -> None:
    _, app = review
    b = Browser(app)
    b.login("alice")
    assert b.get("/atlas").status_code == 200
    r = b.get("/atlas?modality=not-a-modality")
    assert r.status_code == 200 and "not-a-modality" in r.text


def test_report_is_served_only_from_the_report_folder(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "review")
    try:
        add_works(store, 1)
        team(store)
        app = make_app(store)
        b = Browser(app)
        b.login("alice")
        assert b.get("/report/").status_code == 404  # not built yet
        rep = tmp_path / "review" / "report"
        (rep / "figures").mkdir(parents=True)
        (rep / "index.html").write_text("<html><body>THE REPORT</body></html>")
        (rep / "figures" / "a.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
        (rep / ".hidden").write_text("no")
        (tmp_path / "secret.txt").write_text("TOP SECRET")
        (rep / "link.txt").symlink_to(tmp_path / "secret.txt")
        assert "THE REPORT" in b.get("/report/").text
        assert "THE REPORT" in b.get("/report").text
        assert b.get("/report/figures/a.svg").status_code == 200
        for evil in (
            "/report/../../secret.txt",
            "/report/..%2F..%2Fsecret.txt",
            "/report/%2e%2e/%2e%2e/secret.txt",
            "/report/figures/../../protocol.yaml",
            "/report/link.txt",
            "/report/.hidden",
            "/report/figures",
            "/report/..%5C..%5Csecret.txt",
            "/report//etc/passwd",
            "/report/%2Fetc%2Fpasswd",
        ):
            r = b.c.get(evil)
            assert r.status_code == 404, evil
            assert "TOP SECRET" not in r.text and "root:" not in r.text
        anon = TestClient(app)
        assert anon.get("/report/", follow_redirects=False).status_code == 303
    finally:
        store.close()


def test_report_file_helper_refuses_escapes(tmp_path: Path) -> None:
    from fastapi import HTTPException

    from fmreview.web.routes.files import report_file

    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.html").write_text("x")
    (tmp_path / "outside.txt").write_text("x")
    assert report_file(tmp_path, "") == (tmp_path / "report" / "index.html").resolve()
    for rel in ("../outside.txt", "/etc/passwd", "..\\outside.txt", "a/../../outside.txt", "C:/x"):
        with pytest.raises(HTTPException):
            report_file(tmp_path, rel)
    with pytest.raises(HTTPException):
        report_file(None, "index.html")


def test_admin_rebuilds_the_report(tmp_path: Path) -> None:
    pytest.importorskip("fmreview.report.build")
    store = Store.create(tmp_path / "review")
    try:
        add_works(store, 2)
        team(store)
        app = make_app(store)
        a = Browser(app)
        a.login("admin")
        a.get("/admin")
        r = a.post("/admin/report", {})
        assert r.status_code == 303 and r.headers["location"] == "/report/"
        assert (tmp_path / "review" / "report" / "index.html").exists()
        assert a.get("/report/").status_code == 200
    finally:
        store.close()


def test_root_path_prefixes_links_and_redirects(review: tuple[Store, Any]) -> None:
    _, app = review
    c = TestClient(app, root_path="/review")
    r = c.get("/review/login")
    assert r.status_code == 200
    assert 'href="/review/static/web/app.css"' in r.text and 'action="/review/login"' in r.text
    r2 = c.get("/review/dashboard", follow_redirects=False)
    assert r2.headers["location"].startswith("/review/login")


def test_security_headers_and_static(review: tuple[Store, Any]) -> None:
    _, app = review
    c = TestClient(app)
    r = c.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert c.get("/static/web/screen.js").status_code == 200
    assert c.get("/static/web/app.css").status_code == 200
    assert c.get("/static/../web/app.py").status_code == 404
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"


def test_screen_page_of_a_review_without_works_says_what_to_run(store: Store) -> None:
    team(store)
    app = make_app(store)
    b = Browser(app)
    b.login("alice")
    text = lxml.html.fromstring(b.get("/screen").text).text_content()
    assert "No works to screen yet" in text and "fmreview dedupe" in text
    assert "Nothing left for you here" not in text
    app.state.web.writer.close()

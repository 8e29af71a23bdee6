"""The random phase of the hypergeometric stopping rule in the web queue: the same criterion
as the terminal session, random draws recorded as such, dual screening kept, the dashboard's
stopping status, and an admin starting the phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmreview.protocol.model import StoppingSettings
from fmreview.record import Record
from fmreview.screening.engine import ScreeningEngine as ScreeningQueue
from fmreview.screening.phase import START_COMMAND, FoldedDecision, ScreeningSequence
from fmreview.screening.session import Session, load_state
from fmreview.screening.session import random_draw as draw
from fmreview.screening.stopping import Hypergeometric, get_stopping_rule
from fmreview.screening.synthetic import synthetic_frame
from fmreview.store import Store, add_records, schema
from fmreview.store.works import works_from_records
from tests.test_web_app import Browser, add_works, decisions, flagship, make_app, team

EXCLUDE = "E-NON-IMAGING"


def protocol(rule: str = "hypergeometric", **params: Any) -> Any:
    p = flagship()
    p.screening.stopping = StoppingSettings(
        rule=rule, recall=0.8, confidence=0.9, params=params or {"switch_after": 20}
    )
    return p


def synthetic_review(store: Store, n: int = 300, n_relevant: int = 30) -> dict[int, int]:
    """``n`` synthetic works (``n_relevant`` of them relevant); work id -> true label."""
    df = synthetic_frame(n, n_relevant, seed=4)
    recs = [
        Record(title=r.title or "", abstract=r.abstract or "", year=2023, url=f"u{r.record_id}")
        for r in df.itertuples()
    ]
    with store.run("import") as run:
        add_records(store, recs, source="synthetic", source_kind="file", run_id=run.id)
        works_from_records(store, run.id)
    truth = {f"u{r.record_id}": int(r.label_included) for r in df.itertuples()}
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.works.c.id, schema.works.c.url)).all()
    return {int(w): truth[u] for w, u in rows}


def insert(store: Store, rows: list[dict[str, Any]]) -> None:
    with store.begin() as conn:
        for r in rows:
            conn.execute(
                sa.insert(schema.decisions).values({"note": "", "created_at": store.clock(), **r})
            )


# ----------------------------------------------------------------------------- the criterion
_decision = st.fixed_dictionaries(
    {
        "work_id": st.integers(1, 12),
        "stage": st.sampled_from(["title_abstract"] * 6 + ["resolution", "full_text"]),
        "reviewer": st.sampled_from(["alice", "bob", "carol"]),
        "label": st.sampled_from(["include", "exclude", "exclude", "exclude", "maybe", "undo"]),
        "random": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(_decision, max_size=60), switch_after=st.integers(1, 6))
def test_sequence_matches_the_terminal_session(
    history: list[dict[str, Any]], switch_after: int
) -> None:
    """Fed the same decisions, the queue's incremental sequence gives the session's labels,
    random flags and switch verdict."""
    store = Store.memory(flagship())
    try:
        add_works(store, 12)
        rows = [
            {
                "work_id": d["work_id"],
                "stage": d["stage"],
                "reviewer": d["reviewer"],
                "label": d["label"],
                "model": {"phase": "random" if d["random"] else "ranked"},
                "note": "title_abstract" if d["stage"] == "resolution" else "",
            }
            for d in history
        ]
        insert(store, rows)
        state = load_state(store)
        labs, rnd = state.screening_sequence()
        seq = ScreeningSequence()
        for i, r in enumerate(rows, start=1):
            seq.add(
                FoldedDecision(
                    i,
                    r["work_id"],
                    r["stage"],
                    r["reviewer"],
                    r["label"],
                    phase=r["model"]["phase"],
                )
            )
        assert seq.labels() == labs.tolist()
        assert seq.random_started() == bool(rnd.any())
        assert seq.history == len(state.history)
        flags = seq.random_flags()
        assert any(flags) == bool(rnd.any())
        if any(flags):  # the session counts everything after the first draw into the sample
            assert rnd.tolist() == [False] * flags.index(True) + [True] * (
                len(flags) - flags.index(True)
            )
        rule = Hypergeometric(switch_after=switch_after)
        n_total = len(state.work_ids) - len(state.auto_excluded)
        assert seq.should_switch(rule, n_total) == rule.should_switch(labs, n_total)
        session_due = bool(rnd.any()) or bool(rule.should_switch(labs, n_total))
        assert seq.random_phase(rule, n_total) == session_due
        # a rule without switch_run gets the whole sequence
        knee = get_stopping_rule("knee")
        assert seq.should_switch(knee, n_total) is False
        assert seq.random_phase(knee, n_total) is False  # no random phase for that rule
    finally:
        store.close()


def test_fast_switch_check_agrees_with_the_rule() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        labels = rng.choice([0, 1], size=int(rng.integers(0, 80)), p=[0.8, 0.2]).tolist()
        seq = ScreeningSequence()
        for i, lab in enumerate(labels, start=1):
            seq.add(FoldedDecision(i, i, "title_abstract", "a", "include" if lab else "exclude"))
        for sa_ in (1, 3, 25, 0.1):
            rule = Hypergeometric(switch_after=sa_)
            for n_total in (len(labels), 500):
                assert seq.should_switch(rule, n_total) == rule.should_switch(labels, n_total)


def test_draw_is_reproducible_and_uniform() -> None:
    cand = [3, 5, 7, 11]
    assert draw(cand, 20, seed=1, history=9) == draw(list(reversed(cand)), 20, seed=1, history=9)
    picks = [draw(cand, 20, seed=1, history=h) for h in range(400)]
    assert set(picks) == set(cand)
    counts = np.bincount(picks, minlength=12)[cand]
    assert counts.min() > 60  # about 100 each: uniform, not stuck on one work
    assert [draw(cand, 20, seed=2, history=h) for h in range(20)] != picks[:20]


# ----------------------------------------------------------------------------- end to end
@pytest.fixture
def hyper() -> Iterator[tuple[Store, dict[int, int], Any]]:
    """300 synthetic works, the hypergeometric rule (recall 0.8, confidence 0.9, random phase
    after 20 irrelevant in a row), two reviewers per record with blinding, ranking refitted
    in the request every 5 votes."""
    store = Store.memory(protocol())
    truth = synthetic_review(store)
    team(store)
    app = make_app(store, ranking="sync", rank_every=5, rank_interval=0)
    yield store, truth, app
    app.state.web.writer.close()
    store.close()


def _vote(b: Browser, csrf: str, wid: int, relevant: int) -> None:
    body: dict[str, Any] = {"work_id": wid, "label": "include" if relevant else "exclude"}
    if not relevant:
        body["criterion"] = EXCLUDE
    r = b.c.post("/api/votes", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_queue_draws_at_random_after_the_ranked_phase(
    hyper: tuple[Store, dict[int, int], Any],
) -> None:
    store, truth, app = hyper
    people = {n: Browser(app) for n in ("alice", "bob")}
    for n, b in people.items():
        b.login(n)
    csrf = {n: b.api_csrf() for n, b in people.items()}
    admin = Browser(app)
    admin.login("admin")  # the recall estimate is for admins while blinding is on
    served: list[tuple[str, int, str]] = []
    stopping: list[dict[str, Any]] = []
    hidden_checked = False
    for i in range(300):
        for n, b in people.items():
            r = b.c.get("/api/next").json()
            if r["work"] is None:
                continue
            wid = int(r["work"]["id"])
            # blinded reviewers are not told the phase (it follows everyone's votes)
            assert "phase" not in r
            phase = app.state.web.queue.served(n, "title_abstract", wid).phase
            served.append((n, wid, phase))
            if phase == "random" and n == "bob" and not hidden_checked:
                # blinding holds in the random phase: bob cannot see alice's vote yet
                v = b.c.get(f"/api/works/{wid}/votes").json()["title_abstract"]
                hidden_checked = v == {"status": "blinded", "votes": {}}
                assert hidden_checked
            _vote(b, csrf[n], wid, truth[wid])
        if i % 20 == 19:
            s = admin.c.get("/api/dashboard").json()["stopping"]
            stopping.append(s["stopping"])
            if s["stopping"]["met"]:
                break
    phases = [p for _, _, p in served]
    assert "ranked" in phases and "random" in phases
    first = phases.index("random")
    assert phases.index("ranked") < first
    # once the random phase is on, nothing new is served by rank
    assert not {p for p in phases[first:]} & {"ranked", "unranked"}
    # every random draw went to both reviewers, and both votes record phase "random"
    rows = decisions(store)
    random_works = {d["work_id"] for d in rows if d["model"]["phase"] == "random"}
    assert len(random_works) >= 20
    for w in random_works:
        votes = [d for d in rows if d["work_id"] == w]
        assert {d["reviewer"] for d in votes} == {"alice", "bob"}
        assert {d["model"]["phase"] for d in votes} == {"random"}
        assert all(d["model"]["source"] == "engine" for d in votes)
    assert hidden_checked
    # the dashboard's stopping status moved from the ranked phase to the random sample
    assert stopping[0]["phase"] == "ranked" and stopping[0]["recall"] is None
    assert stopping[-1]["phase"] == "random" and stopping[-1]["recall_low"] is not None
    assert stopping[-1]["met"] and "random sample" in stopping[-1]["message"]
    # ... exactly as `fmreview screen status` computes it
    from fmreview.screening.session import status

    assert status(store)["stopping"] == stopping[-1]


def test_single_reviewer_gets_the_terminal_sessions_draw() -> None:
    p = protocol()
    p.screening.reviewers_per_record = 1
    store = Store.memory(p)
    try:
        truth = synthetic_review(store, 120, 10)
        ids = sorted(truth)
        # a ranked history, then one random draw: both now draw at random
        rows = [
            {"work_id": w, "stage": "title_abstract", "reviewer": "alice", "label": lab}
            for w, lab in zip(ids[:10], ["include", "exclude"] * 5, strict=True)
        ]
        rows.append(
            {
                "work_id": ids[10],
                "stage": "title_abstract",
                "reviewer": "alice",
                "label": "exclude",
                "model": {"phase": "random"},
            }
        )
        insert(store, rows)
        queue = ScreeningQueue(store, ranking="off")
        item = queue.next_for("alice")
        assert item is not None and item.phase == "random"
        nxt = Session(store).next_work("alice")
        assert nxt is not None and nxt.phase == "random"
        assert item.work_id == nxt.work_id
        # reproducible: another queue over the same store draws the same work
        assert ScreeningQueue(store, ranking="off").next_for("alice").work_id == item.work_id  # type: ignore[union-attr]
    finally:
        store.close()


def test_rules_without_a_random_phase_never_draw_at_random() -> None:
    store = Store.memory(protocol("knee", min_screened=5))
    try:
        add_works(store, 30)
        rows = [
            {
                "work_id": w,
                "stage": "title_abstract",
                "reviewer": "alice",
                "label": "exclude",
                "model": {"phase": "random"},
            }
            for w in range(1, 6)
        ]
        insert(store, rows)
        queue = ScreeningQueue(store, ranking="off")
        assert queue.next_for("alice").phase != "random"  # type: ignore[union-attr]
        assert queue.random_phase()["needs_random_phase"] is False
        with pytest.raises(Exception, match="no random phase"):
            queue.start_random_phase()
    finally:
        store.close()


# ----------------------------------------------------------------------------- admin start
def test_admin_starts_the_random_phase(tmp_path: Any) -> None:
    store = Store.create(tmp_path / "review")
    try:
        store.protocol.screening.mode = "human"
        store.protocol.screening.stopping.rule = "hypergeometric"  # a rule with a random phase
        add_works(store, 40)
        team(store)
        app = make_app(store)
        alice, admin = Browser(app), Browser(app)
        alice.login("alice")
        admin.login("admin")
        wid0 = alice.c.get("/api/next").json()["work"]["id"]
        assert app.state.web.queue.served("alice", "title_abstract", wid0).phase == "unranked"
        page = admin.get("/admin")
        assert "Start the random phase" in page.text
        # a reviewer may not; an admin must confirm; a CSRF token is needed
        alice.get("/dashboard")
        assert alice.post("/admin/random-phase", {"confirm": "yes"}).status_code == 403
        assert admin.post("/admin/random-phase", {"confirm": "yes"}, csrf=False).status_code == 403
        r = admin.post("/admin/random-phase", {})
        assert r.status_code == 400 and "confirm" in r.text
        assert store.runs(START_COMMAND) == []
        r = admin.post("/admin/random-phase", {"confirm": "yes"})
        assert r.status_code == 303
        (run,) = store.runs(START_COMMAND)
        assert run["params"] == {"user": "admin"} and run["status"] == "ok"
        assert f"run {run['id']}" in admin.get(r.headers["location"]).text
        alice.c.get("/api/next")  # the lease from before expires with the vote
        alice.vote("exclude", criterion=EXCLUDE)
        nxt = alice.c.get("/api/next").json()
        wid = nxt["work"]["id"]
        assert app.state.web.queue.served("alice", "title_abstract", wid).phase == "random"
        assert (
            alice.c.post(
                "/api/votes",
                json={"work_id": wid, "label": "exclude", "criterion": EXCLUDE},
                headers={"X-CSRF-Token": alice.api_csrf()},
            ).status_code
            == 201
        )
        assert decisions(store)[-1]["model"]["phase"] == "random"
        # the admin page says so, and starting again changes nothing
        assert "started by an admin" in admin.get("/admin").text
        assert "already on" in admin.post("/admin/random-phase", {"confirm": "yes"}).text
        assert len(store.runs(START_COMMAND)) == 1
        # a new app over the same store (a restart, another process) is in the random phase
        app2 = make_app(store)
        bob = Browser(app2)
        bob.login("bob")
        token = bob.api_csrf()
        seen = {}
        for _ in range(4):  # the two works alice started come first, then new random draws
            r = bob.c.get("/api/next").json()
            seen[r["work"]["id"]] = app2.state.web.queue.served(
                "bob", "title_abstract", r["work"]["id"]
            ).phase
            bob.c.post(
                "/api/votes",
                json={"work_id": r["work"]["id"], "label": "include"},
                headers={"X-CSRF-Token": token},
            )
        assert seen[wid] == "random"  # alice's random draw stays one for bob
        assert list(seen.values()).count("started") == 1
        assert list(seen.values())[-1] == "random"
        app2.state.web.writer.close()
        app.state.web.writer.close()
    finally:
        store.close()


def test_admin_cannot_start_a_random_phase_the_rule_does_not_have() -> None:
    store = Store.memory(protocol("consecutive", n=50))
    try:
        add_works(store, 5)
        team(store)
        app = make_app(store)
        admin = Browser(app)
        admin.login("admin")
        admin.get("/admin")
        r = admin.post("/admin/random-phase", {"confirm": "yes"})
        assert r.status_code == 400 and "has no random phase" in r.text
        assert store.runs(START_COMMAND) == []
        app.state.web.writer.close()
    finally:
        store.close()


@pytest.mark.postgres
def test_random_draws_are_read_back_on_postgresql(tmp_path: Any, pg_url: str) -> None:
    """The queue reads the phase out of the decisions' JSON model state on PostgreSQL too."""
    store = Store.create(tmp_path / "review", db_url=pg_url)
    try:
        store.protocol.screening.stopping.rule = "hypergeometric"  # a rule with a random phase
        add_works(store, 30)
        insert(
            store,
            [
                {
                    "work_id": 3,
                    "stage": "title_abstract",
                    "reviewer": "alice",
                    "label": "exclude",
                    "model": {"phase": "random"},
                }
            ],
        )
        queue = ScreeningQueue(store, ranking="off")
        item = queue.next_for("bob")
        assert item is not None and (item.work_id, item.phase) == (3, "random")
        nxt = queue.next_for("carol")
        assert nxt is not None and nxt.phase == "random"
    finally:
        store.close()

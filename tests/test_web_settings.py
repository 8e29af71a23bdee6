"""Admins amend the screening settings from the admin page: a protocol amendment, validated,
written atomically with its comments, recorded as a run, and used at once."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fmreview.protocol import load_protocol
from fmreview.store import Store
from fmreview.web import amendments
from fmreview.web.amendments import COMMAND, RANK_EVERY, write_atomic
from fmreview.web.yaml_edit import CannotEdit, apply, edit, flow, update_text
from tests.test_web_app import Browser, add_works, make_app, team


@pytest.fixture
def folder_review(tmp_path: Path) -> Iterator[tuple[Store, Any, Path]]:
    """A review folder (SQLite, the flagship protocol file with its comments), 4 works, a team."""
    store = Store.create(tmp_path / "review")
    store.protocol.screening.mode = "human"  # in memory only: the file is left as shipped
    add_works(store, 4)
    team(store)
    app = make_app(store)
    yield store, app, tmp_path / "review" / "protocol.yaml"
    app.state.web.writer.close()
    store.close()


def admin_of(app: Any) -> Browser:
    b = Browser(app)
    b.login("admin")
    b.get("/admin")
    return b


def form(b: Browser, **changes: Any) -> dict[str, Any]:
    """The settings form as the page shows it, with ``changes``."""
    page = b.get("/admin").text
    data = {}
    for name in re.findall(r'<input type="(?:number|hidden)" name="([^"]+)"', page):
        m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
        data[name] = m.group(1) if m else ""
    for name in ("blinding", "model", "stopping_rule"):
        sel = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
        assert sel, name
        data[name] = re.search(r'<option value="([^"]+)" selected', sel.group(1)).group(1)  # type: ignore[union-attr]
    data.pop("csrf_token", None)
    data.update({k: str(v) for k, v in changes.items()})
    return data


def runs(store: Store) -> list[dict[str, Any]]:
    return store.runs(COMMAND)


# ----------------------------------------------------------------------------- amending
def test_admin_amends_the_protocol(folder_review: tuple[Store, Any, Path]) -> None:
    store, app, path = folder_review
    before = path.read_text(encoding="utf-8")
    a = admin_of(app)
    r = a.post(
        "/admin/settings",
        form(
            a,
            reviewers_per_record=3,
            blinding="off",
            model="svm",
            recall=0.9,
            param_min_screened=30,
            rank_every=4,
        ),
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/admin?amended=")
    after = path.read_text(encoding="utf-8")
    # only the amended lines changed; every comment of the shipped file is still there
    removed = [ln for ln in difflib.ndiff(before.splitlines(), after.splitlines()) if ln[:1] == "-"]
    assert sorted(removed) == sorted(
        ["-   model: default", "-   reviewers_per_record: 2", "-   blinding: true"]
    )
    comments = [ln for ln in before.splitlines() if ln.strip().startswith("#")]
    assert comments and all(c in after.splitlines() for c in comments)
    # the file is the source of truth: it holds the new values, and so does the running app
    p = load_protocol(path)
    s = p.screening
    assert (s.reviewers_per_record, s.blinding, s.model) == (3, False, "svm")
    assert s.stopping.recall == 0.9 and s.stopping.params == {"min_screened": 30}
    assert store.protocol.screening == s
    st = app.state.web
    assert st.queue.required == 3 and st.queue.rank_every == 4
    # recorded as a run: who, what (old and new), the file before and after
    (run,) = runs(store)
    assert run["status"] == "ok" and run["params"]["user"] == "admin"
    assert run["params"]["screening.blinding"] == [True, False]
    assert run["params"]["screening.reviewers_per_record"] == [2, 3]
    assert run["params"]["screening.model"] == ["default", "svm"]
    assert run["params"]["screening.stopping.recall"] == [0.95, 0.9]
    assert run["params"]["screening.stopping.params"] == [{}, {"min_screened": 30}]
    assert run["params"][RANK_EVERY] == [10, 4]
    assert run["config"]["protocol_sha256"] == hashlib.sha256(after.encode()).hexdigest()
    assert run["config"]["previous_sha256"] == hashlib.sha256(before.encode()).hexdigest()
    assert run["config"]["written"] == "in place"
    page = a.get(r.headers["location"]).text
    assert f"run {run['id']}" in page and "screening.blinding: on → off" in page
    # the page now shows the new values, and saving them again changes nothing
    again = a.post("/admin/settings", form(a))
    assert again.status_code == 200 and "Nothing changed" in again.text
    assert len(runs(store)) == 1 and path.read_text(encoding="utf-8") == after


def test_amendment_takes_effect_in_the_running_app(
    folder_review: tuple[Store, Any, Path],
) -> None:
    store, app, _ = folder_review
    alice, bob = Browser(app), Browser(app)
    alice.login("alice")
    bob.login("bob")
    w = alice.vote("include")
    # two reviewers per record, blinding on: bob is served alice's work and cannot see her vote
    assert bob.c.get(f"/api/works/{w}/votes").json()["title_abstract"] == {
        "status": "blinded",
        "votes": {},
    }
    assert bob.c.get("/api/next").json()["work"]["id"] == w
    a = admin_of(app)
    assert (
        a.post("/admin/settings", form(a, reviewers_per_record=1, blinding="off")).status_code
        == 303
    )
    # one vote now settles a work, so bob is not served alice's work any more; votes are shown
    assert bob.c.get("/api/next").json()["work"]["id"] != w
    assert bob.c.get(f"/api/works/{w}/votes").json()["title_abstract"]["votes"] == {
        "alice": "include"
    }
    d = bob.c.get("/api/dashboard").json()
    assert d["screening"]["reviewers_per_record"] == 1 and d["screening"]["blinding"] is False


def test_bad_values_are_refused_and_nothing_is_written(
    folder_review: tuple[Store, Any, Path],
) -> None:
    store, app, path = folder_review
    before = path.read_bytes()
    a = admin_of(app)
    cases = [
        ({"reviewers_per_record": 0}, r"protocol\.yaml line \d+: screening\.reviewers_per_record"),
        ({"reviewers_per_record": "two"}, "reviewers per record: 'two' is not a whole number"),
        ({"recall": 1.5}, r"line \d+: screening\.stopping\.recall"),
        ({"confidence": "high"}, "confidence: 'high' is not a number"),
        ({"model": "svmx"}, "Unknown screening model 'svmx'; available: "),
        ({"stopping_rule": "magic"}, "Unknown stopping rule 'magic'; available: "),
        ({"param_min_screened": "soon"}, "stopping parameter min_screened: 'soon' is not a number"),
        ({"blinding": "maybe"}, "blinding: 'maybe' is not on or off"),
        ({"rank_every": 0}, r"rank_every\): 0 is below the minimum 1"),
        ({"protocol_sha256": "0" * 64, "blinding": "off"}, "changed since this page was shown"),
    ]
    for change, message in cases:
        r = a.post("/admin/settings", form(a, **change))
        assert r.status_code == 400, change
        errors = re.findall(r'<p class="error" role="alert">(.*?)</p>', r.text, re.S)
        assert errors and re.search(message, errors[0].replace("&#39;", "'")), (change, errors)
    assert path.read_bytes() == before
    assert runs(store) == []
    assert store.protocol.screening.reviewers_per_record == 2


def test_reviewers_cannot_amend_and_csrf_is_required(
    folder_review: tuple[Store, Any, Path],
) -> None:
    store, app, path = folder_review
    before = path.read_bytes()
    alice = Browser(app)
    alice.login("alice")
    assert alice.get("/admin").status_code == 403
    alice.get("/dashboard")
    assert alice.post("/admin/settings", {"blinding": "off"}).status_code == 403
    a = admin_of(app)
    data = form(a, blinding="off")
    assert a.post("/admin/settings", data, csrf=False).status_code == 403
    assert (
        a.post("/admin/settings", {**data, "csrf_token": "0" * 64}, csrf=False).status_code == 403
    )
    anon = Browser(app)
    anon.get("/login")
    assert anon.post("/admin/settings", data).status_code == 401
    assert path.read_bytes() == before and runs(store) == []


def test_changing_the_rule_keeps_only_its_parameters(
    folder_review: tuple[Store, Any, Path],
) -> None:
    store, app, path = folder_review
    a = admin_of(app)
    # the default rule (poisson_process) takes min_screened
    assert a.post("/admin/settings", form(a, param_min_screened=25)).status_code == 303
    assert load_protocol(path).screening.stopping.params == {"min_screened": 25}
    page = a.get("/admin").text
    assert 'name="param_min_screened"' in page
    # hypergeometric does not take min_screened: it is dropped, and the rule's own show
    assert a.post("/admin/settings", form(a, stopping_rule="hypergeometric")).status_code == 303
    st = load_protocol(path).screening.stopping
    assert st.rule == "hypergeometric" and st.params == {}
    page = a.get("/admin").text
    assert 'name="param_switch_after"' in page and 'name="param_min_screened"' not in page
    assert a.post("/admin/settings", form(a, param_switch_after=80)).status_code == 303
    assert load_protocol(path).screening.stopping.params == {"switch_after": 80}
    # the queue follows: the hypergeometric rule has a random phase
    assert app.state.web.queue.random_phase()["needs_random_phase"] is True
    assert [r["params"].get("screening.stopping.rule") for r in runs(store)] == [
        None,
        ["poisson_process", "hypergeometric"],
        None,
    ]


def test_in_memory_store_refuses_protocol_changes_but_keeps_the_cadence() -> None:
    from tests.test_web_app import flagship

    store = Store.memory(flagship())
    try:
        add_works(store, 2)
        team(store)
        app = make_app(store)
        a = admin_of(app)
        assert "held in memory" in a.get("/admin").text
        r = a.post("/admin/settings", form(a, blinding="off"))
        assert r.status_code == 400 and "held in memory" in r.text
        assert store.protocol.screening.blinding is True and runs(store) == []
        r = a.post("/admin/settings", form(a, rank_every=3))
        assert r.status_code == 303
        (run,) = runs(store)
        assert run["params"] == {RANK_EVERY: [10, 3], "user": "admin"}
        assert "config" in run and "protocol_sha256" not in run["config"]
        # the cadence outlives the app: a new one over the same store starts with it
        app.state.web.writer.close()
        app2 = make_app(store)
        assert app2.state.web.queue.rank_every == 3
        app2.state.web.writer.close()
    finally:
        store.close()


def test_concurrent_edit_of_the_file_is_noticed(folder_review: tuple[Store, Any, Path]) -> None:
    store, app, path = folder_review
    a = admin_of(app)
    data = form(a, blinding="off")
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
    r = a.post("/admin/settings", data)
    assert r.status_code == 400 and "changed since this page was shown" in r.text
    assert "edited by hand" in path.read_text(encoding="utf-8") and runs(store) == []


def test_a_failed_write_leaves_the_file_and_marks_the_run_failed(
    folder_review: tuple[Store, Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, app, path = folder_review
    before = path.read_bytes()
    a = admin_of(app)
    data = form(a, blinding="off")

    def boom(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(amendments.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        a.post("/admin/settings", data)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    (run,) = runs(store)
    assert run["status"] == "failed" and "disk full" in run["error"]
    assert store.protocol.screening.blinding is True


# ----------------------------------------------------------------------------- the file
def test_write_atomic_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    p = tmp_path / "protocol.yaml"
    p.write_text("a: 1\n")
    os.chmod(p, 0o640)
    write_atomic(p, "a: 2\n")
    assert p.read_text() == "a: 2\n"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert [x.name for x in tmp_path.iterdir()] == ["protocol.yaml"]


TEXT = """\
# a protocol
name: x   # the name
screening:
  model: default  # ranker
  blinding: true
  stopping:
    rule: hypergeometric
    params:
      switch_after: 20   # irrelevant in a row
    recall: 0.95
  flowy: {a: 1, b: [1, 2]}
# trailing comment
other: >-
  folded
  text
"""


@pytest.mark.parametrize(
    "changes",
    [
        {("screening", "model"): "svm"},
        {("screening", "blinding"): False, ("screening", "model"): "nb"},
        {("screening", "stopping", "params", "switch_after"): 40},
        {("screening", "stopping", "params"): {"min_screened": 5}},
        {("screening", "stopping", "confidence"): 0.9},
        {("screening", "reviewers_per_record"): 3},
        {("screening", "flowy", "a"): 2},
        {("screening", "flowy", "c"): "new"},
        {("analyses", "alpha"): 0.01},
        {("screening", "model"): "yes"},  # a string that YAML would read as a bool
        {("screening", "model"): "it's: odd # not a comment"},
    ],
)
def test_edit_in_place_touches_only_the_changed_lines(changes: dict[Any, Any]) -> None:
    new = edit(TEXT, changes)
    assert yaml.safe_load(new) == apply(yaml.safe_load(TEXT), changes)
    kept = [ln for ln in TEXT.splitlines() if ln in new.splitlines()]
    assert len(TEXT.splitlines()) - len(kept) <= len(changes) + 1
    for comment in ("# a protocol", "# the name", "# ranker", "# trailing comment"):
        assert comment in new
    assert "other: >-\n  folded\n  text\n" in new


def test_edit_refuses_layouts_it_cannot_change_in_place() -> None:
    with pytest.raises(CannotEdit):
        edit(TEXT, {("other",): "short"})  # a folded scalar
    with pytest.raises(CannotEdit):
        edit("{a: 1}\n", {("a",): 2})  # a flow document
    with pytest.raises(CannotEdit):
        edit("a:\n  b:\n", {("a", "b"): 1})  # an empty value


def test_update_text_keeps_the_comments_or_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    new, how = update_text(TEXT, {("screening", "model"): "svm"})
    assert how == "in place"
    new, how = update_text(TEXT, {("other",): "short"})
    assert yaml.safe_load(new)["other"] == "short"
    assert how == "ruamel.yaml"
    assert "# trailing comment" in new and "# the name" in new
    # when ruamel's text would not load to the intended data, nothing is rewritten: there is
    # no fallback that drops the comments
    from fmreview.web import yaml_edit

    monkeypatch.setattr(yaml_edit, "_ruamel", lambda text, changes: "other: wrong\n")
    with pytest.raises(CannotEdit, match="comments kept"):
        update_text(TEXT, {("other",): "short"})


def test_flow_scalars() -> None:
    assert flow(3) == "3" and flow(0.5) == "0.5" and flow(True) == "true"
    assert flow("svm") == "svm" and yaml.safe_load(flow("yes")) == "yes"
    assert yaml.safe_load(flow({"a": [1, "b"]})) == {"a": [1, "b"]}

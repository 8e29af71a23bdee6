"""Hostile input renders as inert text on every page.

Records whose titles, abstracts, keywords, URLs, notes and evidence hold script tags,
event-handler attributes, ``javascript:`` URLs, 1 MB strings and control characters; every
page is parsed with lxml and must contain no script but our own file, no ``on*`` attribute,
no ``javascript:`` link, no control character, and must show the hostile text as text.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
import pytest
import sqlalchemy as sa

from fmreview.store import Store, schema
from fmreview.web.render import clean, doi_url, evidence, highlight, safe_url
from tests.test_web_app import Browser, add_works, make_app, team
from tests.test_web_app import store as store  # noqa: F401 - the fixture

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'
SVG = "<svg onload=alert(2)>"
JS_URL = "javascript:alert(3)"
CONTROL = "ctl\x00\x01\x08\x0b\x1b\x7f\x9fend"
BIG = "A" * (1024 * 1024)

HOSTILE_TITLE = f"{SCRIPT} {IMG} {SVG} \"quoted' {CONTROL} foundation model"
HOSTILE_ABSTRACT = f'{IMG} zero-shot {SCRIPT} <a href="{JS_URL}">click</a> {CONTROL} ' + BIG
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def assert_inert(html: str, *, page: str) -> Any:
    """Parse ``html`` and check it holds nothing executable from the data."""
    assert not CONTROL_RE.search(html), f"{page}: a control character reached the page"
    doc = lxml.html.fromstring(html)
    for script in doc.iter("script"):
        src = script.get("src") or ""
        assert src.endswith("/static/web/screen.js"), (
            f"{page}: foreign script {lxml.html.tostring(script)[:200]!r}"
        )
        assert not (script.text or "").strip(), f"{page}: inline script"
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in ("img", "svg", "iframe", "object", "embed"), (
            f"{page}: injected <{el.tag}>"
        )
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (
                f"{page}: event handler {name}={value!r} on <{el.tag}>"
            )
            v = re.sub(r"\s", "", value).lower()
            assert not v.startswith("javascript:"), (
                f"{page}: javascript: URL in {name} of <{el.tag}>"
            )
            assert not v.startswith("data:text"), f"{page}: data URL in {name}"
    return doc


@pytest.fixture
def hostile(store: Store) -> tuple[Store, Any, int]:  # noqa: F811
    ids = add_works(store, 3)
    wid = ids[0]
    with store.begin() as conn:
        conn.execute(
            sa.update(schema.works)
            .where(schema.works.c.id == wid)
            .values(
                title=HOSTILE_TITLE,
                abstract=HOSTILE_ABSTRACT,
                keywords=[SCRIPT, IMG, "CLIP" + CONTROL],
                url=JS_URL,
                doi='10.1/x" onmouseover="alert(4)',
                venue=IMG,
            )
        )
        for rid in (1, 2):
            conn.execute(
                sa.update(schema.records)
                .where(schema.records.c.id == rid)
                .values(
                    title=HOSTILE_TITLE,
                    abstract=HOSTILE_ABSTRACT,
                    url=JS_URL,
                    venue=SVG,
                    doi=SCRIPT,
                )
            )
        run_id = conn.execute(sa.select(sa.func.max(schema.runs.c.id))).scalar()
        conn.execute(
            sa.insert(schema.dedupe_pairs).values(
                record_a=1, record_b=2, score=0.8, reason={"x": SCRIPT}, run_id=run_id
            )
        )
        conn.execute(
            sa.insert(schema.labels).values(
                work_id=wid,
                axis="modality",
                value="ct",
                method="rule",
                confidence=0.6,
                evidence=[
                    {"field": "title", "start": 0, "end": len(SCRIPT), "text": SCRIPT},
                    {"field": "abstract", "start": 0, "end": 5, "text": IMG},
                ],
                status="auto",
                created_at=store.clock(),
            )
        )
    team(store)
    return store, make_app(store), wid


def _conflict(app: Any, wid: int) -> None:
    a, b = Browser(app), Browser(app)
    a.login("alice")
    b.login("bob")
    for who, label in ((a, "include"), (b, "exclude")):
        assert who.c.get("/api/next").json()["work"]["id"] == wid  # assigned to both
        r = who.c.post(
            "/api/votes",
            json={
                "work_id": wid,
                "label": label,
                "note": HOSTILE_TITLE,
                **({"criterion": "E-REVIEW"} if label == "exclude" else {}),
            },
            headers={"X-CSRF-Token": who.api_csrf()},
        )
        assert r.status_code == 201, r.text


def test_every_page_renders_hostile_text_inert(hostile: tuple[Store, Any, int]) -> None:
    store, app, wid = hostile
    carol = Browser(app)
    carol.login("carol")
    # the hostile work is the first in carol's queue; its 1 MB abstract is shown whole,
    # in the fixed-height scroll area
    r = carol.get("/screen")
    doc = assert_inert(r.text, page="/screen")
    assert clean(HOSTILE_TITLE) in doc.xpath("//*[@id='work-title']")[0].text_content()
    abstract = doc.xpath("//*[@id='abstract']")[0].text_content()
    assert BIG in abstract and JS_URL in abstract and SCRIPT in abstract
    assert SCRIPT in doc.xpath("//*[@id='keywords']")[0].text_content()
    app.state.web.queue.release("carol", "title_abstract")  # carol leaves it to alice and bob
    _conflict(app, wid)
    admin = Browser(app)
    admin.login("admin")
    pages = {
        "/screen": carol,
        f"/works/{wid}": admin,
        "/dashboard": admin,
        "/conflicts": admin,
        "/dedupe": carol,
        "/extraction": carol,
        "/atlas": carol,
        "/admin": admin,
        "/atlas?modality=%3Cscript%3Ealert(1)%3C/script%3E&task=%22onmouseover=%22x": carol,
        "/login?next=javascript:alert(1)": Browser(app),
        "/screen?stage=%3Cscript%3E": carol,
        "/works/999999": carol,
    }
    shown_title = clean(HOSTILE_TITLE)
    for path, who in pages.items():
        r = who.get(path)
        assert r.status_code in (200, 400, 404), (path, r.status_code)
        doc = assert_inert(r.text, page=path)
        text = doc.text_content()
        if path in (f"/works/{wid}", "/extraction"):
            assert shown_title in text, f"{path}: the hostile title is not shown as text"
            assert SCRIPT in text
        if path in ("/conflicts", "/dedupe", "/atlas"):
            assert SCRIPT in text, f"{path}: the hostile title is not shown as text"
    # lists cut long texts
    assert len(admin.get("/conflicts").text) < 200_000
    assert len(carol.get("/dedupe").text) < 200_000


def test_hostile_reviewer_note_is_inert_in_conflicts(hostile: tuple[Store, Any, int]) -> None:
    _, app, wid = hostile
    _conflict(app, wid)
    admin = Browser(app)
    admin.login("admin")
    doc = assert_inert(admin.get("/conflicts").text, page="/conflicts")
    notes = [n.text_content() for n in doc.xpath("//p[@class='note']")]
    assert notes and all(SCRIPT in n for n in notes)


def test_json_api_returns_json_not_html(hostile: tuple[Store, Any, int]) -> None:
    _, app, wid = hostile
    b = Browser(app)
    b.login("carol")
    r = b.c.get("/api/next")
    assert r.headers["content-type"].startswith("application/json")
    r = b.c.get(f"/api/works/{wid}/votes")
    assert r.headers["content-type"].startswith("application/json")


# ----------------------------------------------------------------------------- helpers
def test_highlight_escapes_every_piece() -> None:
    out = str(
        highlight(f"{SCRIPT} foundation model & CLIP <b>", ["foundation model", "clip"], ["script"])
    )
    assert "<script>" not in out and "<b>" not in out
    assert '<mark class="hl-include">foundation model</mark>' in out
    assert '<mark class="hl-include">CLIP</mark>' in out
    assert '&lt;<mark class="hl-exclude">script</mark>&gt;' in out
    assert "&amp;" in out


def test_highlight_terms_are_literal_and_cannot_break_entities() -> None:
    out = str(highlight("a & b < c", ["amp", "lt", ".*"], ["&"]))
    assert out == 'a <mark class="hl-exclude">&amp;</mark> b &lt; c'
    assert str(highlight("x.*y", [".*"])) == 'x<mark class="hl-include">.*</mark>y'
    assert str(highlight("", ["x"])) == ""
    assert str(highlight(None, ["x"])) == ""


def test_highlight_strips_control_characters() -> None:
    assert str(highlight("a\x00b\x1bc\td\ne", ["b"])) == 'a<mark class="hl-include">b</mark>c\td\ne'


def test_evidence_marks_spans_and_escapes() -> None:
    text = f"{SCRIPT} uses CT"
    spans = [
        {"field": "abstract", "start": len(text) - 2, "end": len(text), "text": "CT"},
        {"field": "abstract", "start": 0, "end": 8, "text": "<script>"},
        {"field": "title", "start": 0, "end": 1, "text": "x"},
        {"field": "abstract", "start": 500, "end": 900, "text": "uses"},
        "not a dict",
    ]
    out = str(evidence(text, spans, "abstract"))  # type: ignore[arg-type]
    assert "<script>" not in out
    assert out.count("<mark") == 3
    assert '<mark class="hl-evidence">CT</mark>' in out
    assert '<mark class="hl-evidence">&lt;script&gt;</mark>' in out
    assert '<mark class="hl-evidence">uses</mark>' in out  # found by its text


def test_safe_url_keeps_only_http() -> None:
    assert safe_url("https://example.org/a?b=c") == "https://example.org/a?b=c"
    assert safe_url("http://example.org") == "http://example.org"
    for bad in (
        JS_URL,
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil.example",
        "/relative",
        "http://exa mple.org",
        "http://a\x00b",
        "https://",
        None,
        "",
    ):
        assert safe_url(bad) is None, bad
    assert doi_url('10.1/x"onmouseover') is not None and '"' not in str(doi_url('10.1/x"y'))
    assert doi_url(None) is None

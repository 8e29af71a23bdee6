"""The web app end to end in headless Chromium: two reviewers screen 20 works with the
keyboard, a conflict appears and an admin resolves it, kappa shows on the dashboard.

Needs the Debian ``chromium`` package and the ``playwright`` Python package (Playwright's own
browser download is not used). Skipped when either is missing, unless the environment
variable ``FMREVIEW_REQUIRE_BROWSER`` is set: then the test fails instead. Screenshots go to
``tmp_path`` and, when ``FMREVIEW_SCREENSHOTS`` names a folder, there too.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmreview.status import work_statuses
from fmreview.store import Store
from tests.test_web_app import PASSWORD, add_works, decisions, make_app, team

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("FMREVIEW_REQUIRE_BROWSER"):
        pytest.fail(f"FMREVIEW_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason, allow_module_level=True)


if not Path(CHROMIUM).exists():
    _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    _unavailable("the playwright package is missing (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """uvicorn on a free loopback port, in a thread, over a file-backed review of 20 works."""
    import uvicorn

    store = Store.create(tmp_path / "review")
    items = []
    for i in range(20):
        tag = "[ex]" if i % 4 == 1 else "[split]" if i in (2, 10) else "[in]"
        abstract = (
            ""
            if i == 3
            else (
                "A vision-language foundation model for chest X-ray report generation. "
                * (60 if i == 5 else 2)
            )
        )
        items.append(
            (f"{tag} Study {i}: CLIP pretraining for medical image segmentation", abstract)
        )
    add_works(store, items, keywords=["foundation model", "survey"])
    team(store, reviewers=("alice", "bob"), admins=("admin",))
    app = make_app(store, ranking="background", rank_every=5, rank_interval=0)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        store.close()


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("FMREVIEW_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    assert path.stat().st_size > 1000


def _page(browser: Any, base: str, errors: list[str]) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # nothing may leave the app (no CDN)
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(base)
            else (errors.append(f"request outside the app: {route.request.url}"), route.abort())
        ),
    )
    return page


def _login(page: Any, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    assert "/dashboard" in page.url


def _screen_all(
    page: Any, base: str, *, exclude_split: bool, tmp_path: Path, who: str
) -> list[float]:
    """Screen every work served, with the keyboard; returns the include button's y position."""
    page.goto(base + "/screen")
    ys: list[float] = []
    noted = False  # the first work to include gets "maybe" with a note instead (the
    # order the works come in follows the ranking, refitted in the background)
    for n in range(25):
        if page.locator("#vote-form").count() == 0:
            break
        title = page.text_content("#work-title") or ""
        ys.append(page.locator("#btn-include").bounding_box()["y"])
        if n == 0:
            _shot(page, tmp_path, f"screen-{who}.png")
        if "[ex]" in title or ("[split]" in title and exclude_split):
            page.keyboard.press("e")
            assert "choosing" in (page.get_attribute("#criteria", "class") or "")
            with page.expect_navigation():
                page.keyboard.press("1")
        elif not noted:
            noted = True
            page.keyboard.press("n")
            assert page.evaluate("document.activeElement.id") == "note"
            page.keyboard.type("methods unclear")
            page.keyboard.press("Escape")
            with page.expect_navigation():
                page.keyboard.press("m")
        else:
            with page.expect_navigation():
                page.keyboard.press("i")
    assert "Nothing left for you" in page.text_content("main")
    return ys


def test_two_reviewers_a_conflict_and_kappa(server: tuple[str, Store], tmp_path: Path) -> None:
    base, store = server
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            alice, bob, admin = (_page(browser, base, errors) for _ in range(3))
            _login(alice, base, "alice")
            _login(bob, base, "bob")
            ys = _screen_all(alice, base, exclude_split=True, tmp_path=tmp_path, who="alice")
            assert len(ys) == 20
            assert max(ys) - min(ys) < 1.0, f"the buttons move with the abstract's length: {ys}"
            # bob sees none of alice's votes while screening
            bob.goto(base + "/screen")
            assert "alice" not in (bob.text_content("main") or "")
            ys_b = _screen_all(bob, base, exclude_split=False, tmp_path=tmp_path, who="bob")
            assert len(ys_b) == 20

            rows = decisions(store)
            assert len(rows) == 40
            assert {r["reviewer"] for r in rows} == {"alice", "bob"}
            assert any(r["note"] == "methods unclear" and r["label"] == "maybe" for r in rows)
            conflicts = [w for w, s in work_statuses(store).items() if s.status == "conflict"]
            assert len(conflicts) == 2

            # reviewers cannot open the conflicts page; the admin resolves
            bob.goto(base + "/conflicts")
            assert "403" in (bob.text_content("main") or "")
            errors[:] = [e for e in errors if "status of 403" not in e]  # that refusal was expected
            _login(admin, base, "admin")
            admin.goto(base + "/conflicts")
            assert admin.locator(".conflict").count() == 2
            first = admin.locator(".conflict").first
            assert first.locator(".vote-card").count() == 2
            _shot(admin, tmp_path, "conflicts.png")
            for _ in range(2):
                card = admin.locator(".conflict").first
                card.locator("select[name=method]").select_option("consensus")
                card.locator("input[name=comment]").fill("agreed after discussion")
                with admin.expect_navigation():
                    card.locator("button[value=include]").click()
            assert "No conflicts" in (admin.text_content("main") or "")
            assert not [w for w, s in work_statuses(store).items() if s.status == "conflict"]
            res = [r for r in decisions(store) if r["stage"] == "resolution"]
            assert len(res) == 2 and all(r["note"] == "title_abstract" for r in res)

            # kappa on the dashboard
            admin.goto(base + "/dashboard")
            kappa = admin.locator("#agreement td.kappa").first.text_content().strip()
            from fmreview.agreement import agreement

            assert kappa == f"{agreement(store).pairs[0].kappa:.3f}"
            assert "Gwet" in admin.text_content("#agreement")
            _shot(admin, tmp_path, "dashboard.png")
            alice.goto(base + "/dashboard")  # agreement is for admins
            assert alice.locator("#agreement").count() == 0

            # a phone-width screen page: nothing wider than the viewport
            small = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
            _login(small, base, "admin")
            small.goto(base + "/screen?stage=full_text")
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"page is {width}px wide at 390px"
            _shot(small, tmp_path, "screen-full-text-phone.png")
        finally:
            browser.close()
    assert errors == [], errors

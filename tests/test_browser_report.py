"""The report in headless Chromium: no console errors, PRISMA numbers equal the store's,
the atlas filter works, nothing overflows at phone width, no dialog from untrusted titles.

Needs the Debian ``chromium`` package and the ``playwright`` Python package (Playwright's own
browser download is not used). Screenshots go to ``tmp_path`` and, when the environment
variable ``FMREVIEW_SCREENSHOTS`` names a folder, there too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fmreview.report.build import build_report
from fmreview.report.prisma import prisma_counts
from fmreview.store import Store
from tests.test_report_build import EVIL_IMG, EVIL_SCRIPT, evil_works
from tests.test_report_prisma import AUTO_IN, FT_IN, TA_IN, W, make_review, memory_store


@pytest.fixture
def store() -> Iterator[Store]:
    """Human screening with two reviewers per work, whatever the flagship protocol says."""
    s = memory_store()
    yield s
    s.close()


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

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    extra = os.environ.get("FMREVIEW_SCREENSHOTS")
    # the whole page only for a person to look at: a full-page shot of the bundled report
    # (tens of thousands of pixels tall) took over 30 s on a loaded 2-core machine
    page.screenshot(path=str(path), full_page=bool(extra))
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / name)
    assert path.stat().st_size > 1000
    return path


def _open(browser: Any, index: Path, width: int = 1280) -> tuple[Any, Any, list[str], list[str]]:
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # offline: any request that leaves the file system is an error
    page.route(
        "http*://**",
        lambda route: (errors.append(f"network request {route.request.url}"), route.abort()),
    )
    page.goto(index.as_uri())
    page.wait_for_load_state("load")
    return ctx, page, errors, dialogs


def _check_page(
    browser: Any, store: Store, index: Path, tmp_path: Path, tag: str, query: str
) -> None:
    ctx, page, errors, dialogs = _open(browser, index)
    try:
        # PRISMA numbers on the page equal the store's
        flat = prisma_counts(store).flat()
        shown = page.eval_on_selector_all(
            "svg.prisma tspan[data-key]",
            "els => els.map(e => [e.getAttribute('data-key'), e.textContent])",
        )
        assert len(shown) >= 8
        for key, text in shown:
            assert flat[key] == int(text), key
        for key in ("records_identified", "studies_included"):
            assert int(page.text_content(f"span.n[data-key='{key}']") or "-1") == flat[key]
        _shot(page, tmp_path, f"{tag}-desktop.png")
        rows = page.locator("#atlas-table tbody tr")
        total = rows.count()
        assert total == flat["studies_included"]
        if total >= 2:
            _check_atlas(page, total, query)
        assert not dialogs, dialogs
        assert not errors, errors
    finally:
        ctx.close()
    _check_phone(browser, index, tmp_path, tag)


def _check_atlas(page: Any, total: int, query: str) -> None:
    """Pages of 25; a query narrows the matches; an axis value filters; Clear restores all."""
    matched = "#atlas-table tbody tr[data-match='1']"
    visible = "#atlas-table tbody tr:not([hidden])"
    assert page.locator(matched).count() == total
    assert page.locator(visible).count() == min(total, 25)
    page.fill("#atlas-query", query)
    n_match = page.locator(matched).count()
    assert 0 < n_match < total
    assert page.locator(visible).count() == min(n_match, 25)
    assert f"{n_match} of {total}" in (page.text_content("#atlas-count") or "")
    sel = page.locator("select[data-axis]").first
    if sel.count():
        page.fill("#atlas-query", "")
        opts = sel.locator("option").all_text_contents()
        if len(opts) > 1:
            sel.select_option(opts[1])
            n = page.locator(matched).count()
            assert 0 < n <= total
    page.click("#atlas-reset")
    assert page.locator(matched).count() == total
    if total > 25:  # the pager walks through every match, 25 at a time
        first = page.locator(visible).first.get_attribute("data-id")
        assert page.is_visible("#atlas-pager") and page.is_disabled("#atlas-prev")
        page.click("#atlas-next")
        assert page.locator(visible).count() == min(25, total - 25)
        assert page.locator(visible).first.get_attribute("data-id") != first
        assert "page 2 of" in (page.text_content("#atlas-page") or "")
        page.click("#atlas-prev")
        assert page.locator(visible).first.get_attribute("data-id") == first


def page_height(browser: Any, index: Path, width: int) -> int:
    ctx, page, errors, _ = _open(browser, index, width=width)
    try:
        assert not errors, errors
        return int(page.evaluate("document.documentElement.scrollHeight"))
    finally:
        ctx.close()


def _check_phone(browser: Any, index: Path, tmp_path: Path, tag: str) -> None:
    """At phone width nothing overflows horizontally; print media renders; a PDF prints."""
    ctx, page, errors, dialogs = _open(browser, index, width=390)
    try:
        sw, cw = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert sw <= cw, f"page is {sw}px wide at a {cw}px viewport"
        rows = page.locator("#atlas-table tbody tr")
        if rows.count() > 10:  # a phone shows 10 study cards a page
            assert page.locator("#atlas-table tbody tr:not([hidden])").count() == 10
        _shot(page, tmp_path, f"{tag}-phone.png")
        page.emulate_media(media="print")
        _shot(page, tmp_path, f"{tag}-print.png")
        pdf = tmp_path / f"{tag}.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)  # what "Print to PDF" gives
        assert pdf.read_bytes()[:5] == b"%PDF-"
        if os.environ.get("FMREVIEW_SCREENSHOTS"):
            shutil.copy(pdf, Path(os.environ["FMREVIEW_SCREENSHOTS"]) / pdf.name)
        assert not errors and not dialogs
    finally:
        ctx.close()


def test_small_review_in_browser(browser: Any, store: Store, tmp_path: Path) -> None:
    works = evil_works() + [
        W(
            f"Vision-language model {i} for chest X-ray",
            decisions=AUTO_IN + TA_IN + FT_IN,
            labels={"fm_type": ["vision_language"], "modality": ["X-ray"]},
        )
        for i in range(4)
    ]
    make_review(store, works, searches={"openalex": 1200, "arxiv": 310})
    res = build_report(store, out_dir=tmp_path / "report")
    index = Path(res["report_path"])
    _check_page(browser, store, index, tmp_path, "small", "chest")
    # the untrusted titles are on the page as text
    ctx, page, _, dialogs = _open(browser, index)
    try:
        text = page.text_content("#atlas-table") or ""
        assert EVIL_SCRIPT in text and EVIL_IMG in text
        assert page.locator("#atlas-table img").count() == 0
        assert page.locator("#atlas-table script").count() == 0
        assert not dialogs
    finally:
        ctx.close()


def test_bundled_review_in_browser(browser: Any, tmp_path: Path) -> None:
    """The bundled snapshot through the pipeline to the page.

    The full ``run_review`` takes over a minute (classification of every work), so by default
    the extraction stage is left out; set ``FMREVIEW_BROWSER_FULL=1`` to run all of it.
    """
    from fmreview.pipeline import run_review, run_stages
    from fmreview.snapshot import import_snapshot

    folder = tmp_path / "r"
    try:
        if os.environ.get("FMREVIEW_BROWSER_FULL"):
            run_review(folder)
            store = Store.open(folder)
        else:
            store = Store.create(folder)
            import_snapshot(store, store.protocol.snapshot or "fm-studies")
            run_stages(store, only=["dedupe", "eligibility", "analyze"])
    except ImportError as exc:  # a pipeline stage's module is present but not finished
        pytest.skip(f"the pipeline cannot run in this build: {exc}")
    try:
        res = build_report(store)
        c = prisma_counts(store)
        assert c.records_identified > 700  # the bundled lists
        index = Path(res["report_path"])
        _check_page(browser, store, index, tmp_path, "bundled", "segment")
        # readable: the atlas is paged, long tables collapsed (it was 92,800 px at 1400 px
        # and 228,700 px at 390 px with every study on the page)
        desktop, phone = page_height(browser, index, 1400), page_height(browser, index, 390)
        assert desktop < 25_000, desktop
        assert phone < 40_000, phone
    finally:
        store.close()

"""The admin page in headless Chromium: amending the screening settings through the form (a
bad value shows its message, nothing written), then starting the random phase.

Same requirements as ``tests/test_browser_web.py`` (Debian ``chromium`` and ``playwright``),
whose server fixture and helpers it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmreview.protocol import load_protocol
from fmreview.screening.phase import START_COMMAND
from fmreview.store import Store
from fmreview.web.amendments import COMMAND
from tests.test_browser_web import ARGS, CHROMIUM, _login, _page, _shot
from tests.test_browser_web import server as server  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def test_admin_amends_settings_in_the_browser(
    server: tuple[str, Store],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    base, store = server
    assert store.folder is not None
    path = Path(store.folder) / "protocol.yaml"
    before = path.read_bytes()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            admin = _page(browser, base, errors)
            _login(admin, base, "admin")
            admin.goto(base + "/admin")
            form = admin.locator("#settings form")
            # a value the protocol model refuses: the page says why, the file is untouched
            form.locator("input[name=reviewers_per_record]").fill("0")
            form.locator("input[name=reviewers_per_record]").evaluate(
                "e => e.removeAttribute('min')"
            )
            with admin.expect_navigation():
                form.locator("button[type=submit]").click()
            alert = admin.text_content("#settings [role=alert]") or ""
            assert "screening.reviewers_per_record" in alert and "line" in alert
            assert path.read_bytes() == before and store.runs(COMMAND) == []
            # the posted values stay in the form; fix the one that was wrong and amend
            form = admin.locator("#settings form")
            form.locator("input[name=reviewers_per_record]").fill("3")
            form.locator("select[name=blinding]").select_option("off")
            # the rule with a random phase (the default, poisson_process, has none)
            form.locator("select[name=stopping_rule]").select_option("hypergeometric")
            with admin.expect_navigation():
                form.locator("button[type=submit]").click()
            note = admin.text_content("#settings [role=status]") or ""
            assert "Amendment recorded as run" in note and "screening.blinding: on → off" in note
            _shot(admin, tmp_path, "admin-settings.png")
            s = load_protocol(path).screening
            assert (s.reviewers_per_record, s.blinding, s.stopping.rule) == (
                3,
                False,
                "hypergeometric",
            )
            (run,) = store.runs(COMMAND)
            assert run["params"]["user"] == "admin"
            # start the random phase: the checkbox must be ticked first
            with admin.expect_navigation():
                admin.locator("#random-phase input[name=confirm]").check()
                admin.locator("#random-phase button[type=submit]").click()
            assert "started by an admin" in (admin.text_content("#random-phase") or "")
            assert len(store.runs(START_COMMAND)) == 1
            # the refused form came back with status 400, which the console notes; nothing else
            assert [e for e in errors if "status of 400" not in e] == []
        finally:
            browser.close()

"""Accessibility of every page kind, checked in chromium by axe-core (vendored in
``tests/e2e/vendor``, MPL-2.0; no download): no serious or critical violation of WCAG 2.1
A/AA rules (labels, headings, contrast, landmarks, keyboard focus), in English and Arabic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_browser import base_url, browser, sign_in  # noqa: F401  (fixtures)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
pytestmark = pytest.mark.browser

PAGES = {  # page kind -> (who signs in, path)
    "catalogue": (None, "/"),
    "sop": (None, "/sops/tn-dgpemoe-foreign-worker-contract"),
    "login": (None, "/login"),
    "requests": ("agent@nile.demo", "/requests"),
    "new-request": ("rh@carthage.demo", "/requests/new/tn-dgpemoe-foreign-worker-contract"),
    "request": ("agent@nile.demo", "/requests/EG-2026-000003"),
    "inbox": ("examiner@dgpemoe.demo", "/inbox"),
    "auditor-request": ("auditor@mom.demo", "/requests/EG-2026-000004?at_seq=3"),
    "export": ("auditor@mom.demo", "/audit/export"),
}


def violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_every_page_kind_has_no_serious_accessibility_violation(base_url: str, browser,
                                                                lang: str) -> None:  # fmt: skip
    found = {}
    sessions = {}
    for kind, (email, path) in PAGES.items():
        if email not in sessions:
            sessions[email] = browser.new_context(bypass_csp=True).new_page()  # axe is injected
            if email:
                sign_in(sessions[email], base_url, email, lang=lang)
        page = sessions[email]
        page.goto(f"{base_url}{path}{'&' if '?' in path else '?'}lang={lang}")
        if kind == "sop":
            page.wait_for_selector("#diagram[data-rendered='true'] svg", timeout=20_000)
        problems = violations(page)
        if problems:
            found[kind] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                           for v in problems]  # fmt: skip
    assert not found, found


def test_signing_in_and_acting_work_with_the_keyboard_alone(base_url: str, browser) -> None:
    from sopflow import demo

    page = browser.new_context().new_page()
    page.goto(f"{base_url}/login?lang=en")
    for _ in range(20):  # through the header's links to the form, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    page.keyboard.type("examiner@dgpemoe.demo")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(demo.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/inbox")  # an official's page after signing in

    page.goto(f"{base_url}/inbox?lang=en")
    page.locator("input[name='ref']").first.focus()
    page.keyboard.press("Space")  # select the first request
    assert page.locator("input[name='ref']").first.is_checked()
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none", "the focused control shows where the keyboard is"

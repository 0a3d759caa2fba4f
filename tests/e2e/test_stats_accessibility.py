"""The statistics pages in chromium, checked by axe-core like every other page kind
(``test_accessibility.py``): no serious or critical WCAG 2.1 A/AA violation, in English and
Arabic, charts included; and the page loads nothing from elsewhere."""

from __future__ import annotations

import pytest

from tests.e2e.test_accessibility import violations
from tests.e2e.test_browser import base_url, browser, sign_in  # noqa: F401  (fixtures)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

pytestmark = pytest.mark.browser
TABLES = ("placements", "stages", "deadlines", "returns", "ageing", "workload")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_statistics_pages_have_no_serious_accessibility_violation(
    base_url: str, browser, lang: str
) -> None:
    page = browser.new_context(bypass_csp=True).new_page()  # axe is injected
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, base_url, "auditor@mom.demo", lang=lang)
    found = {}
    for table in TABLES:
        page.goto(f"{base_url}/stats/{table}?lang={lang}")
        assert page.locator("svg[role=img]").count() >= 1
        problems = violations(page)
        if problems:
            found[table] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                            for v in problems]  # fmt: skip

    assert not found, found
    assert all(url.startswith(base_url) for url in requested), "a request left the site"

"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).
An employer files a request with a document, an official returns it, the employer resubmits,
an auditor reads the timeline; the same in Arabic checks the right-to-left layout.
Screenshots of each page kind are saved to ``screenshots/`` (the folder is printed)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from sopflow import bootstrap, demo
from sopflow.services import Services
from sopflow.settings import Settings
from sopflow.web.app import create_app
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base_url(services: Services, settings: Settings, monkeypatch) -> Iterator[str]:
    demo.seed(services)
    off = settings.model_copy(update={"prefect_mode": "off"})
    monkeypatch.setattr(bootstrap, "settings", lambda: off)
    monkeypatch.setattr(bootstrap, "_services", services)
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "browser-test")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def sign_in(page, base_url: str, email: str, lang: str = "en") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login?lang={lang}")
    page.fill("#email", email)
    page.fill("#password", demo.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/requests")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_file_return_resubmit_and_audit_in_the_browser(base_url: str, browser, tmp_path) -> None:
    letter = tmp_path / "demand_letter.pdf"
    letter.write_bytes(b"%PDF-1.4\n% demand letter\n%%EOF\n")
    employer = browser.new_context().new_page()
    sign_in(employer, base_url, "agent@nile.demo")
    shot(employer, "employer-requests")
    employer.click("a[href='/requests/new/eg-mom-international-placement']")
    for name, value in demo.EG_DATA.items():
        if isinstance(value, dict):
            employer.fill(f"[name='{name}__amount']", value["amount"])
            employer.fill(f"[name='{name}__currency']", value["currency"])
        elif name in ("legal_regime", "placement_channel"):
            employer.select_option(f"[name='{name}']", value)
        else:
            employer.fill(f"[name='{name}']", str(value))
    employer.set_input_files("[name='document__demand_letter']", str(letter))
    employer.set_input_files("[name='document__power_of_attorney']", str(letter))
    shot(employer, "employer-new-request")
    employer.click("main button[type=submit]")  # (the header's button signs out)
    employer.wait_for_url("**/requests/EG-2026-*?done=1")
    shot(employer, "employer-request")
    reference = employer.url.split("/requests/")[1].split("?")[0]
    assert "Done." in employer.content()

    official = browser.new_context().new_page()
    sign_in(official, base_url, "attache@mom.demo")
    official.goto(f"{base_url}/inbox")
    shot(official, "official-inbox")
    official.click(f"a[href='/requests/{reference}']")
    form = official.locator("form:has(input[value='return_for_correction'])")
    form.locator("select[name='reason']").select_option("attestation_invalid")
    form.locator("textarea[name='comment']").fill("Attest the demand at the consulate.")
    shot(official, "official-request")
    form.locator("button[type=submit]").click()
    official.wait_for_url(f"**/requests/{reference}?done=1")

    employer.goto(f"{base_url}/requests/{reference}")
    assert "Attest the demand at the consulate." in employer.content()
    employer.locator("form:has(input[value='resubmit']) button[type=submit]").click()
    employer.wait_for_url(f"**/requests/{reference}?done=1")

    auditor = browser.new_context().new_page()
    sign_in(auditor, base_url, "auditor@mom.demo")
    auditor.goto(f"{base_url}/requests/{reference}")
    shot(auditor, "auditor-timeline")
    assert "Hash chain verified: intact." in auditor.content()
    assert auditor.locator("fieldset").count() == 0  # an auditor changes nothing


def test_the_arabic_pages_are_right_to_left(base_url: str, browser) -> None:
    page = browser.new_context().new_page()
    sign_in(page, base_url, "agent@nile.demo", lang="ar")
    page.goto(f"{base_url}/requests/EG-2026-000003?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert "الإجراءات المتاحة لك الآن" in page.content()
    shot(page, "employer-request-ar")

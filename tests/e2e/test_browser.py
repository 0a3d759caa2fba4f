"""The pages in a real browser: Debian's chromium driven by Playwright (no browser download).
For each shipped SOP, a requester files a request with its documents, an official returns
it, the requester corrects and resubmits it, the officials take it to its end, and an
auditor verifies the chain, replays it as of a step and downloads its history; the Arabic
pages are right to left; the catalogue draws each SOP's diagram.
Screenshots of each page kind are saved to ``screenshots/`` (the folder is printed)."""

from __future__ import annotations

import re
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
    # an official lands on their inbox, a requester on their requests
    page.wait_for_url(re.compile(rf"{re.escape(base_url)}/(requests|inbox)$"))


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_file_return_resubmit_and_audit_in_the_browser(base_url: str, browser, tmp_path,
                                                       clock) -> None:  # fmt: skip
    today = clock.now.date()  # the demo's dates follow the services' clock
    employer = browser.new_context().new_page()
    sign_in(employer, base_url, "agent@nile.demo")
    shot(employer, "employer-requests")
    employer.click("a[href='/requests/new/eg-mom-international-placement']")
    fill(employer.locator("main form"), demo.EG_DATA, demo.EG_DOCS, tmp_path)
    shot(employer, "employer-new-request")
    employer.click("main button[type=submit]")  # (the header's button signs out)
    employer.wait_for_url("**/requests/EG-2026-*?done=1")
    shot(employer, "employer-request")
    reference = employer.url.split("/requests/")[1].split("?")[0]
    assert f"Request {reference} was filed." in employer.content()

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

    users = {"agent@nile.demo": employer, "attache@mom.demo": official}
    # officials (and the agency) take it to the end, under a register number of its own (the
    # demo's requests hold theirs, and a number is used once)
    path = demo.eg_path(today, "DR-2026-0901")
    for step in path:
        take_step(browser, base_url, users, reference, step, tmp_path)
    employer.goto(f"{base_url}/requests/{reference}")
    assert "Closed: approved." in employer.content()

    audit(browser, base_url, "auditor@mom.demo", reference, steps=4 + len(path))


def take_step(browser, base_url: str, users: dict, reference: str, step: demo.Step,  # type: ignore[no-untyped-def]
              folder: Path) -> None:  # fmt: skip
    """One step of a demo path, taken in the browser by the user of its role: the fields it
    sets, the documents it brings (an ``attach`` step uses the add-documents form)."""
    email = demo.USERS[step.role][0]
    if email not in users:
        users[email] = browser.new_context().new_page()
        sign_in(users[email], base_url, email)
    page = users[email]
    page.goto(f"{base_url}/requests/{reference}?lang=en")
    if step.trigger == "attach":
        form = page.locator(f"form[action='/requests/{reference}/attach']")
    else:
        form = page.locator(f"form:has(input[name='trigger'][value='{step.trigger}'])")
    assert form.count() == 1, f"{email} has no form for {step.trigger}"
    fill(form, step.data, step.documents, folder)
    if step.reason:
        form.locator("select[name='reason']").select_option(step.reason)
    if step.comment:
        form.locator("textarea[name='comment']").fill(step.comment)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/requests/{reference}?done=1")
    assert "Refused" not in page.content(), f"{step.trigger}: {page.content()[-2000:]}"


def fill(form, data: dict, documents: tuple[str, ...], folder: Path) -> None:  # type: ignore[no-untyped-def]
    """Fill a generated form: each field by its type, a small PDF for each document kind."""
    for name, value in data.items():
        if isinstance(value, dict):  # money: amount and currency
            form.locator(f"[name='{name}__amount']").fill(value["amount"])
            form.locator(f"[name='{name}__currency']").fill(value["currency"])
            continue
        field = form.locator(f"[name='{name}']")
        if isinstance(value, bool):
            field.set_checked(value)
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))
    for kind in documents:
        upload = folder / f"{kind}.pdf"
        upload.write_bytes(f"%PDF-1.4\n% {kind}\n%%EOF\n".encode())
        form.locator(f"[name='document__{kind}']").set_input_files(str(upload))


def audit(browser, base_url: str, auditor_email: str, reference: str, steps: int) -> None:  # type: ignore[no-untyped-def]
    """An auditor reads the timeline, sees the chain verified, replays the request as it was
    after its second step, and changes nothing."""
    auditor = browser.new_context().new_page()
    sign_in(auditor, base_url, auditor_email)
    auditor.goto(f"{base_url}/requests/{reference}?lang=en")
    shot(auditor, f"auditor-timeline-{reference[:2].lower()}")
    assert "Hash chain verified: intact." in auditor.content()
    assert auditor.locator("fieldset").count() == 0  # an auditor changes nothing
    assert auditor.locator("main ol > li").count() == steps
    auditor.click("main ol > li:nth-child(2) > a")
    assert "As it was after step 2" in auditor.content()
    with auditor.expect_download() as download:
        auditor.click("a[href$='/history.csv']")
    assert download.value.suggested_filename == f"{reference}-history.csv"


def test_a_tunisian_contract_from_filing_to_visa_in_french(base_url: str, browser,
                                                          tmp_path, clock) -> None:  # fmt: skip
    today = clock.now.date()
    enterprise = browser.new_context().new_page()
    sign_in(enterprise, base_url, "rh@carthage.demo", lang="fr")
    enterprise.goto(f"{base_url}/requests/new/{demo.TN}")
    form = enterprise.locator("main form")
    fill(form, {**demo.tn_data(today), "passport_number": "Z9990001"}, demo.TN_DOCS, tmp_path)
    shot(enterprise, "employer-new-request-fr")
    form.locator("button[type=submit]").click()
    enterprise.wait_for_url("**/requests/TN-2026-*?done=1")
    reference = enterprise.url.split("/requests/")[1].split("?")[0]
    assert "Contrôle de recevabilité du dossier" in enterprise.content()

    users = {"rh@carthage.demo": enterprise}
    back = demo.Step("examiner", "return_for_correction", comment="Le CV n'est pas signé.",
                     reason="incomplete_file")  # fmt: skip
    take_step(browser, base_url, users, reference, back, tmp_path)
    take_step(browser, base_url, users, reference,
              demo.Step("enterprise", "resubmit"), tmp_path)  # fmt: skip
    for step in demo.tn_path(today):
        take_step(browser, base_url, users, reference, step, tmp_path)
    enterprise.goto(f"{base_url}/requests?lang=fr")
    shot(enterprise, "employer-requests-fr")
    assert "Clôturée : accordée." in enterprise.content()

    audit(browser, base_url, "auditor@dgpemoe.demo", reference, steps=4 + len(demo.tn_path(today)))


def test_the_catalogue_draws_each_diagram_in_the_browser(base_url: str, browser) -> None:
    page = browser.new_context().new_page()
    for sop_id in (demo.EG, demo.TN):
        page.goto(f"{base_url}/sops/{sop_id}?lang=ar")
        page.wait_for_selector("#diagram[data-rendered='true'] svg", timeout=20_000)
        assert page.locator("#diagram svg g.node").count() == len(
            page.locator("main table").nth(1).locator("tbody tr").all()
        )
    shot(page, "catalogue-sop-ar")


def test_the_pages_work_under_their_content_security_policy(base_url: str, browser) -> None:
    page = browser.new_context().new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, base_url, "attache@mom.demo")
    for path in ("/", "/requests", "/inbox", "/requests/EG-2026-000001", "/stats"):
        page.goto(f"{base_url}{path}")
        # the page's own stylesheet applies (its nonce), the header drawn in its colours
        assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor"
                             ) == "rgb(11, 61, 92)"  # fmt: skip
    page.goto(f"{base_url}/sops/{demo.EG}")
    page.wait_for_selector("#diagram[data-rendered='true'] svg", timeout=20_000)
    assert not refused, refused  # nothing of the pages' own was refused
    blocked = page.evaluate("""() => new Promise(done => {
        document.addEventListener('securitypolicyviolation', () => done(true));
        const s = document.createElement('script'); s.textContent = 'window.injected = 1';
        document.body.append(s); setTimeout(() => done(false), 500); })""")
    assert blocked and page.evaluate("window.injected") is None  # an injected script: refused


def test_without_javascript_the_catalogue_says_where_the_diagram_s_content_is(
    base_url: str, browser
) -> None:
    page = browser.new_context(java_script_enabled=False).new_page()
    page.goto(f"{base_url}/sops/{demo.TN}?lang=fr")
    assert not page.is_visible("#diagram-loading")  # nothing will draw it
    # (Playwright's text and visibility checks skip <noscript>: its paragraph is read)
    said = page.locator("#diagram noscript p").text_content() or ""
    assert said.startswith("Le dessin du schéma nécessite JavaScript.")
    assert page.locator("main table").count() >= 2  # the stages and steps it points to


def test_the_arabic_pages_are_right_to_left(base_url: str, browser) -> None:
    page = browser.new_context().new_page()
    sign_in(page, base_url, "agent@nile.demo", lang="ar")
    page.goto(f"{base_url}/requests/EG-2026-000003?lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert "الإجراءات المتاحة لك الآن" in page.content()
    shot(page, "employer-request-ar")

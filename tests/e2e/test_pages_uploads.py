"""Files chosen on the filing form survive a refusal: the page shows them as kept and the
next attempt uses them, so a user corrects a value without choosing every file again."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from sopflow import demo
from tests.e2e.test_pages import (  # noqa: F401  (fixtures)
    _template,
    clock,
    csrf_of,
    database_url,
    services,
    settings,
    sign_in,
    site,
    version_of,
)
from tests.e2e.test_pages_refusals import EG, field_errors, filing_form, refusal

PDF = b"%PDF-1.4\n%%EOF\n"


def kept(page: str) -> list[str]:
    return re.findall(r'<span class="kept">[^<]*\) ?: ?([^<]*)</span>', page)


def every_document() -> dict[str, tuple[str, bytes, str]]:
    return {f"document__{kind}": (f"{kind}.pdf", PDF + kind.encode(), "application/pdf")
            for kind in demo.EG_DOCS}  # fmt: skip


def test_files_are_kept_across_a_refusal_and_used_by_the_next_attempt(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "en")

    refused = site.post(f"/requests/new/{EG}", data={**fields, "workers_requested": "0"},
                        files=every_document())  # fmt: skip
    assert refused.status_code == 422
    assert sorted(kept(refused.text)) == sorted(f"{k}.pdf" for k in demo.EG_DOCS)

    fields["csrf"] = csrf_of(refused.text)
    filed = site.post(f"/requests/new/{EG}", data=fields, follow_redirects=False)  # no files
    assert filed.status_code == 303, field_errors(filed.text)
    page = site.get(filed.headers["location"]).text
    for kind in demo.EG_DOCS:
        assert f"{kind}.pdf" in page

    # filed: forgotten (a second filing starts with nothing kept)
    again = site.post(f"/requests/new/{EG}", data={**fields, "workers_requested": "0"})
    assert kept(again.text) == []


def test_a_fresh_form_forgets_and_a_refused_file_is_not_kept(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "en")
    files = every_document()
    files["document__demand_letter"] = ("letter.pdf", b"plain words, not a PDF", "text/plain")

    refused = site.post(f"/requests/new/{EG}", data={**fields, "workers_requested": "0"},
                        files=files)  # fmt: skip
    assert refused.status_code == 422
    assert kept(refused.text) == ["power_of_attorney.pdf"]  # the text file is not offered again

    assert kept(site.get(f"/requests/new/{EG}").text) == []
    fields["csrf"] = csrf_of(site.get(f"/requests/new/{EG}").text)
    nothing = site.post(f"/requests/new/{EG}", data=fields)
    assert nothing.status_code == 409  # valid data, documents missing: as the API says
    assert kept(nothing.text) == []


def test_a_bad_file_is_refused_with_every_other_mistake_and_the_good_files_kept(site) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "en")
    files = every_document()
    files["document__demand_letter"] = ("letter.pdf", b"", "application/pdf")  # empty

    refused = site.post(f"/requests/new/{EG}", files=files, data={
        **fields, "workers_requested": "0", "destination_country": ""})  # fmt: skip

    assert refused.status_code == 422
    said = refusal(refused.text)
    assert "letter.pdf is empty" in said
    assert "must be at least 1" in said and "is required" in said  # the form's other mistakes
    assert kept(refused.text) == ["power_of_attorney.pdf"]


def test_a_file_added_without_its_kind_is_refused_not_dropped(site: TestClient) -> None:
    sign_in(site, "rh@carthage.demo")  # the enterprise provides the file's papers
    page = site.get("/requests/TN-2026-000001?lang=fr").text
    form = {"csrf": csrf_of(page), "other_kind": "", "comment": "Pièce complémentaire"}
    files = {"document__other": ("note.pdf", PDF, "application/pdf")}

    refused = site.post("/requests/TN-2026-000001/attach", data=form, files=files)

    assert refused.status_code == 422
    assert "Autre pièce : note.pdf : choisissez le type de cette pièce" in refusal(refused.text)
    assert ">Pièce complémentaire</textarea>" in refused.text


def test_files_are_kept_in_the_session_that_chose_them_only(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "en")
    site.post(f"/requests/new/{EG}", data={**fields, "workers_requested": "0"},
              files=every_document())  # fmt: skip
    site.cookies.clear()  # another browser, or after signing out

    sign_in(site, "agent@nile.demo")
    fields["csrf"] = csrf_of(site.get("/requests").text)  # not the form: it would forget
    assert kept(site.post(f"/requests/new/{EG}", data=fields).text) == []


def refused_step(site: TestClient, **extra: object) -> Any:
    """The labour attaché's attestation of the demo's first request, sent on a stale page
    (someone moved first) with a comment and the attestation file: refused."""
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001").text
    form = {"trigger": "attest_demand", "csrf": csrf_of(page), "comment": "Seen in Riyadh",
            "version": str(int(version_of(page)) - 1), **extra}  # fmt: skip
    files = {"document__attestation": ("stamp.pdf", PDF + b"stamp", "application/pdf")}
    return site.post("/requests/EG-2026-000001/act", data=form, files=files)


def test_a_refused_step_is_shown_as_it_was_sent_and_its_file_is_used_next(site) -> None:
    refused = refused_step(site)

    assert refused.status_code == 412 and "Someone else" in refusal(refused.text)
    assert ">Seen in Riyadh</textarea>" in refused.text  # the comment, not lost
    assert kept(refused.text) == ["stamp.pdf"]

    form = {"trigger": "attest_demand", "csrf": csrf_of(refused.text),
            "comment": "Seen in Riyadh", "version": version_of(refused.text)}  # fmt: skip
    done = site.post("/requests/EG-2026-000001/act", data=form, follow_redirects=False)
    assert done.status_code == 303
    after = site.get(done.headers["location"]).text
    assert "stamp.pdf" in after and "Seen in Riyadh" in after
    assert kept(after) == []


def test_leaving_the_page_forgets_a_refused_steps_file(site: TestClient) -> None:
    refused = refused_step(site)
    assert kept(refused.text) == ["stamp.pdf"]

    again = site.get("/requests/EG-2026-000001").text  # come back later: a fresh page
    assert kept(again) == [] and ">Seen in Riyadh</textarea>" not in again
    form = {"trigger": "attest_demand", "csrf": csrf_of(again), "version": version_of(again)}
    without = site.post("/requests/EG-2026-000001/act", data=form)
    assert "must be attached" in refusal(without.text)  # the stamp was not carried over


def test_the_address_cannot_put_words_in_a_refusal(site: TestClient) -> None:
    sign_in(site, "attache@mom.demo")

    page = site.get("/requests/EG-2026-000001?error=Your+account+is+locked:+call+us").text

    assert "account is locked" not in page
    assert 'role="alert"' not in page

"""A problem's ``type`` is an absolute URI of the serving site that documents its code
(RFC 9457 §3.1.1): dereferenced, a page in the reader's language for a browser, JSON for a
program; ``/api/v1/errors`` lists every code."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow.services import Services
from sopflow.settings import Settings
from sopflow.web.app import create_app
from sopflow.web.problem_types import CATALOGUE
from tests.e2e.test_api import (  # noqa: F401  (fixtures)
    _template,
    app_services,
    assert_problem,
    auth,
    clock,
    database_url,
    seeded,
    services,
    settings,
    tokens,
)

PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def api(app_services: Services, settings: Settings) -> Iterator[TestClient]:
    """The app without SOPFLOW_PUBLIC_URL: its problems' types are on the address asked."""
    cfg = settings.model_copy(update={"public_url": None})
    with TestClient(create_app(app_services, cfg), raise_server_exceptions=False) as client:
        yield client


# a refusal of each way the app makes one: (what to ask, status, code)
REFUSALS: list[tuple[Callable[[TestClient, dict[str, str]], Any], int, str]] = [
    (lambda api, _: api.get("/api/v1/requests"), 401, "unauthorized"),
    (lambda api, _: api.get("/api/v1/no-such-thing"), 404, "not-found"),
    (lambda api, _: api.delete("/api/v1/requests"), 405, "method-not-allowed"),
    (lambda api, t: api.get("/api/v1/requests/EG-2026-999999", headers=t), 404, "not-found"),
    (lambda api, t: api.get("/api/v1/requests?limit=0", headers=t), 422, "invalid-data"),
    (lambda api, t: api.get("/api/v1/audit/verify", headers=t), 403, "forbidden"),
    (lambda api, t: api.post("/api/v1/requests", content=b"{}",
                             headers={**t, "Content-Type": "text/plain"}), 415,
     "unsupported-media-type"),
]  # fmt: skip


@pytest.mark.parametrize(("ask", "status", "code"), REFUSALS)
def test_a_problems_type_documents_its_code_for_a_program(api, tokens, ask, status, code) -> None:
    problem = assert_problem(ask(api, auth(tokens, "agent")), status, code)

    documented = api.get(problem["type"])

    assert problem["type"] == f"http://testserver/api/v1/errors/{code}"
    assert documented.status_code == 200, documented.text
    assert documented.headers["content-type"].startswith("application/json")
    said = documented.json()
    assert (said["code"], said["type"], said["lang"]) == (code, problem["type"], "en")
    assert said["title"] == problem["title"] == CATALOGUE[code]["en"]["title"]
    assert status in said["status"]
    assert said["description"] and said["when"] and said["what_to_do"]


@pytest.mark.parametrize(("ask", "status", "code"), REFUSALS[:3])
def test_a_problems_type_documents_its_code_for_a_browser(api, tokens, ask, status, code) -> None:
    problem = ask(api, auth(tokens, "agent")).json()

    page = api.get(problem["type"], headers=PAGE)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = html.unescape(page.text)
    assert '<html lang="en" dir="ltr">' in page.text
    assert f'<code class="ltr">{code}</code>' in page.text
    assert f"<h1>{problem['title']}</h1>" in text and str(status) in text
    assert CATALOGUE[code]["en"]["what_to_do"].split("`")[0] in text
    assert "Vary" in page.headers and "Accept" in page.headers["Vary"]


def test_the_page_is_in_the_readers_language_arabic_right_to_left(api) -> None:
    english = api.get("/api/v1/errors/conflict", headers=PAGE)
    arabic = api.get("/api/v1/errors/conflict", headers={**PAGE, "Accept-Language": "ar"})
    french = api.get("/api/v1/errors/conflict?lang=fr", headers=PAGE)  # kept in the session
    still = api.get("/api/v1/errors/conflict", headers={**PAGE, "Accept-Language": "ar"})

    assert '<html lang="fr" dir="ltr">' in french.text and '<html lang="fr"' in still.text
    assert html.unescape(CATALOGUE["conflict"]["fr"]["description"].split("`")[0]) in (
        html.unescape(french.text))  # fmt: skip
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert CATALOGUE["conflict"]["ar"]["title"] in arabic.text
    # the names to type stay left to right inside the Arabic sentences
    assert '<code class="ltr">If-Match</code>' in arabic.text
    assert "Someone else changed" in html.unescape(english.text)


def test_a_program_chooses_the_language_with_lang(api) -> None:
    french = api.get("/api/v1/errors/not-found?lang=fr")
    arabic = api.get("/api/v1/errors/not-found?lang=ar")

    assert french.json()["title"] == CATALOGUE["not-found"]["fr"]["title"]
    assert french.headers["content-language"] == "fr"
    assert arabic.json()["what_to_do"] == CATALOGUE["not-found"]["ar"]["what_to_do"]
    bad = assert_problem(api.get("/api/v1/errors/not-found?lang=de"), 422, "invalid-data")
    assert bad["errors"][0]["field"] == "lang" and bad["errors"][0]["code"] == "not-in-enum"


def test_an_unknown_code_is_a_404_problem_whose_own_type_is_documented(api) -> None:
    for headers in ({}, PAGE):
        refused = api.get("/api/v1/errors/no-such-code", headers=headers)
        problem = assert_problem(refused, 404, "not-found")
        assert "no-such-code" in problem["detail"]

    assert api.get(problem["type"]).json()["code"] == "not-found"


def test_every_code_is_listed_and_each_listed_type_answers(api) -> None:
    listed = api.get("/api/v1/errors")
    page = api.get("/api/v1/errors?lang=ar", headers=PAGE)

    assert listed.status_code == 200
    codes = [entry["code"] for entry in listed.json()]
    assert codes == sorted(CATALOGUE)
    for entry in listed.json():
        assert entry["type"] == f"http://testserver/api/v1/errors/{entry['code']}"
        assert api.get(entry["type"]).json() == entry
    assert '<html lang="ar" dir="rtl">' in page.text
    assert all(f'href="/api/v1/errors/{c}"' in page.text for c in CATALOGUE)  # same-site


def test_the_type_is_on_the_address_asked_or_the_public_one_where_set(
    app_services: Services, settings: Settings, api: TestClient
) -> None:
    asked = api.get("/api/v1/requests", headers={"Host": "sop.ministry.example:8443"})
    public = settings.model_copy(update={"public_url": "https://sop.ministry.example/sopflow/"})
    with TestClient(create_app(app_services, public), raise_server_exceptions=False) as proxied:
        behind = proxied.get("/api/v1/requests").json()

    assert asked.json()["type"] == "http://sop.ministry.example:8443/api/v1/errors/unauthorized"
    assert behind["type"] == "https://sop.ministry.example/sopflow/api/v1/errors/unauthorized"


def test_a_code_has_one_title_however_it_comes(api, tokens) -> None:
    path = api.get("/api/v1/nope").json()
    request = api.get("/api/v1/requests/EG-2026-999999", headers=auth(tokens, "agent")).json()

    assert path["code"] == request["code"] == "not-found"
    assert path["title"] == request["title"] == "Not found"
    assert path["type"] == request["type"]

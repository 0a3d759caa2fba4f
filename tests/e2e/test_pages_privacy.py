"""Who took each step, as each reader sees it: a requester reads an official's step as
taken by the office (the role's title and the authority's name, in their language), never
the official's e-mail or name, on the request page, in its downloads and in the API; the
authority's officials and auditors see who acted; colleagues and the system stay named."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow import demo
from sopflow.domain.chain import SALT, event_hash
from sopflow.services import Command, Services
from tests.e2e.test_pages import sign_in, site  # noqa: F401  (fixtures)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

REF = "EG-2026-000001"  # just filed by agent@nile.demo, with the labour attaché
KARIM = "karim.adel@mom.demo"  # the official who returns it, under a name of his own
OFFICE_EN = ("Labour attaché (labour representation office), Ministry of Labour (formerly "
             "Ministry of Manpower, MoM), Arab Republic of Egypt")  # fmt: skip
OFFICE_AR = "الملحق العمالي (مكتب التمثيل العمالي)، وزارة العمل"


@pytest.fixture
def returned(site: TestClient) -> TestClient:
    """The demo, with ``REF`` returned for correction by Karim Adel, labour attaché."""
    services: Services = site.app.state.services  # type: ignore[attr-defined]
    services.directory.add_user(KARIM, "Karim Adel", "eg-mom", ["labour_attache"], "en",
                                demo.PASSWORD)  # fmt: skip
    services.commands.act(REF, "return_for_correction", KARIM, Command(
        comment="The consulate's stamp is illegible", reason="attestation_invalid"))  # fmt: skip
    return site


def _token(site: TestClient, email: str) -> dict[str, str]:
    services: Services = site.app.state.services  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {services.tokens.create(email).token}"}


def test_a_requesters_page_shows_an_officials_step_as_the_office(returned) -> None:
    sign_in(returned, "agent@nile.demo")

    english = returned.get(f"/requests/{REF}?lang=en").text
    arabic = returned.get(f"/requests/{REF}?lang=ar").text

    for page in (english, arabic):
        assert "Karim" not in page and "@mom.demo" not in page  # no official, anywhere
        assert "The consulate&#39;s stamp is illegible" in page  # the grounds, still there
    history = english.split("<ol>", 1)[1].split("</ol>", 1)[0]
    assert f"<bdi>{OFFICE_EN}</bdi>" in history  # the office, once (not its role again)
    assert '<span class="ltr">agent@nile.demo</span>' in history  # a colleague: named
    assert OFFICE_AR in arabic.split("<ol>", 1)[1]


def test_a_requesters_downloads_carry_no_official(returned) -> None:
    sign_in(returned, "agent@nile.demo")

    as_json = returned.get(f"/requests/{REF}/history.json?lang=en")
    as_csv = returned.get(f"/requests/{REF}/history.csv?lang=en")

    for download in (as_json, as_csv):
        assert download.status_code == 200
        assert "Karim" not in download.text and "@mom.demo" not in download.text
    last = as_json.json()["events"][-1]
    assert (last["actor"], last["actor_masked"], last["role"]) == (
        OFFICE_EN, True, "labour_attache")  # fmt: skip
    rows = list(csv.reader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert rows[-1][5] == OFFICE_EN and rows[1][5] == "agent@nile.demo"  # column 6: actor


def test_a_requesters_api_gives_the_office_in_their_own_language(returned) -> None:
    agent = _token(returned, "agent@nile.demo")  # an Arabic-speaking user

    history = returned.get(f"/api/v1/requests/{REF}/history", headers=agent)
    view = returned.get(f"/api/v1/requests/{REF}", headers=agent)

    assert history.status_code == 200 and view.status_code == 200
    for answer in (history, view):
        assert "Karim" not in answer.text and "@mom.demo" not in answer.text
    events = history.json()["events"]
    assert events[-1]["actor"].startswith(OFFICE_AR) and events[-1]["actor_masked"] is True
    assert [(e["actor"], e["actor_masked"]) for e in events[:2]] == [
        ("agent@nile.demo", False), ("agent@nile.demo", False)]  # fmt: skip


def _recomputed(history: dict[str, Any], actor: str) -> str:
    """The last step's hash as a reader could recompute it from their history, with
    ``actor`` (a guess) as the step's actor."""
    events = history["events"]
    step = {**events[-1], "actor_id": actor, "acting_for": None,
            "at": datetime.fromisoformat(events[-1]["at"]), "prev_hash": events[-2]["hash"],
            "reference": history["reference"], "sop_id": history["sop_id"],
            "sop_hash": history["sop_hash"]}  # fmt: skip
    return event_hash(step)


def test_a_requester_cannot_test_a_guess_of_the_official_against_the_hash(returned) -> None:
    """The requester keeps each step's hash (their receipt of what was recorded) and reads
    every other field of the step but its salt: the right address recomputes nothing."""
    services: Services = returned.app.state.services  # type: ignore[attr-defined]
    mine = services.audit.history(REF, "agent@nile.demo")
    audited = services.audit.history(REF, "auditor@mom.demo")

    assert [e["hash"] for e in mine["events"]] == [e["hash"] for e in audited["events"]]
    assert all(SALT not in (e["payload"] or {}) for e in mine["events"])
    assert _recomputed(mine, KARIM) != mine["events"][-1]["hash"]  # the right guess: no match
    assert _recomputed(audited, KARIM) == audited["events"][-1]["hash"]  # the auditor's check


def test_every_step_carries_a_salt_of_its_own(returned) -> None:
    services: Services = returned.app.state.services  # type: ignore[attr-defined]
    events = services.audit.history(REF, None)["events"]

    salts = [e["payload"][SALT] for e in events]
    assert len(set(salts)) == len(salts) and all(re.fullmatch("[0-9a-f]{32}", s) for s in salts)


@pytest.mark.parametrize("reader", ["clerk@mom.demo", "auditor@mom.demo"])
def test_the_authoritys_officials_and_auditors_see_who_acted(returned, reader) -> None:
    sign_in(returned, reader)

    page = returned.get(f"/requests/{REF}?lang=en").text
    history = returned.get(f"/api/v1/requests/{REF}/history", headers=_token(returned, reader))
    as_csv = returned.get(f"/requests/{REF}/history.csv?lang=en").text

    assert f'<span class="ltr">{KARIM}</span> (Labour attaché' in page
    last = history.json()["events"][-1]
    assert (last["actor"], last["actor_masked"]) == (KARIM, False)
    assert KARIM in as_csv and OFFICE_EN not in as_csv


def test_the_api_documents_what_actor_holds_for_whom(returned) -> None:
    schemas = returned.get("/openapi.json").json()["components"]["schemas"]
    event = schemas["HistoryEvent"]["properties"]

    assert "shown as their office" in event["actor"]["description"]
    assert event["actor_masked"]["type"] == "boolean"
    assert "actor" in schemas["HistoryEvent"]["required"]

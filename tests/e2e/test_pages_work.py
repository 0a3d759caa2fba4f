"""The working pages beyond sign-in: the SOP catalogue, the requests list with its search
and plain-language status, the history download, the bulk action with preview."""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re

from fastapi.testclient import TestClient

from sopflow import demo
from sopflow.services import Command, Services
from sopflow.web.exports import HISTORY_COLUMNS, HISTORY_LABEL_COLUMNS
from tests.e2e.test_pages import csrf_of, sign_in, site  # noqa: F401  (fixture)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

TN, EG = demo.TN, demo.EG


def text_of(page: str) -> str:
    """What a reader sees: the main part's text, unescaped, one space between words."""
    main = page[page.find("<main") :]
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))
    return re.sub(r" ([:,.;)])", r"\1", words)


def test_the_catalogue_lists_each_sop_and_its_page_draws_the_diagram_from_local_files(
    site: TestClient,
) -> None:
    catalogue = site.get("/?lang=fr")
    page = site.get(f"/sops/{TN}?lang=en")
    script = re.search(r'import \{ Graphviz \} from "([^"]+)"', page.text)

    assert catalogue.status_code == 200 and f'href="/sops/{TN}"' in catalogue.text
    assert "Contrat de travail pour étranger" in catalogue.text  # in the chosen language
    assert page.status_code == 200 and script, "the page loads Graphviz"
    assert script.group(1).startswith("/static/"), "served by the app, never a CDN"
    assert "https://" not in script.group(1) and "cdn" not in page.text.lower()
    assert site.get(script.group(1)).status_code == 200
    assert "digraph " in page.text and "awaiting_signature -&gt; visa_granted" in page.text
    words = text_of(page.text)
    assert "5 working days" in words  # the stages' deadlines
    assert "Code du travail (loi n° 66-27 du 30 avril 1966), art. 258-2" in words  # legal basis
    assert site.get("/sops/no-such-sop").status_code == 404
    missing = site.get("/sops/tn-dgpemoe-foreign-worker-contract?version=99&lang=fr")
    assert missing.status_code == 404 and "Cette procédure, ou cette version" in missing.text


def test_an_employer_sees_plain_status_what_is_expected_and_by_when(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    listing = text_of(site.get("/requests?lang=en").text)

    assert "Waiting for you: Returned for correction." in listing
    assert "Resubmit" in listing and "Respond by:" in listing
    assert "With Ministry of Labour" in listing or "With the Ministry" in listing
    assert "Closed: approved." in listing


def test_the_expected_final_decision_date_is_given_where_the_sop_promises_one(
    site: TestClient,
) -> None:
    sign_in(site, "rh@carthage.demo")
    listing = text_of(site.get("/requests?lang=en").text)

    # Tunisia: every stage to the visa has a deadline, so the latest date is known
    assert "Final decision at the latest by:" in listing


def test_the_search_finds_by_reference_or_employer_name_and_filters_by_state(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "auditor@dgpemoe.demo")
    by_name = site.get("/requests", params={"q": "carthage"}).text
    by_state = site.get("/requests", params={"state": "visa_granted"}).text
    nothing = site.get("/requests", params={"q": "' OR 1=1 --"}).text

    assert "TN-2026-" in by_name
    refs = set(re.findall(r"TN-\d{4}-\d{6}", by_state))
    assert len(refs) == 1
    assert "TN-" not in nothing  # a quote is text to look for, not SQL


def history_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """A history CSV's header (in the reader's language) and its rows, each by the columns'
    stable names (their positions)."""
    assert content.startswith(codecs.BOM_UTF8)  # Excel reads it as UTF-8 only with it
    header, *rows = list(csv.reader(io.StringIO(content[3:].decode("utf-8"), newline="")))
    names = (*HISTORY_COLUMNS, *HISTORY_LABEL_COLUMNS)
    assert len(header) == len(names)
    return header, [dict(zip(names, row, strict=True)) for row in rows]


def test_the_requester_downloads_the_full_history_as_csv_and_json(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    listing = site.get("/requests").text
    ref = re.findall(r"EG-\d{4}-\d{6}", listing)[0]

    as_csv = site.get(f"/requests/{ref}/history.csv")
    as_json = site.get(f"/requests/{ref}/history.json")
    _, rows = history_rows(as_csv.content)

    assert as_csv.status_code == 200 and "attachment" in as_csv.headers["content-disposition"]
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    assert rows[1]["trigger"] == "submit" and rows[1]["legal_citation"]
    # the licence on record the filing relied on, in the reader's language (Arabic)
    assert rows[1]["grounds"].startswith("تم التحقق من السجل: الترخيص RA-2024-117")
    assert json.loads(as_json.text)["reference"] == ref
    assert site.get(f"/requests/{ref}/history.exe").status_code == 404


def test_the_history_says_which_licence_on_record_a_step_relied_on(site: TestClient) -> None:
    sign_in(site, "auditor@mom.demo")

    page = text_of(site.get("/requests/EG-2026-000001?lang=en").text)
    french = text_of(site.get("/requests/EG-2026-000001?lang=fr").text)

    assert "Checked against the directory: licence RA-2024-117 of nile-recruitment, active" in page
    # (text_of joins the French space before a colon)
    assert (
        "Vérifié dans le répertoire: licence RA-2024-117 de nile-recruitment, en vigueur" in french
    )


def test_another_organisations_history_is_not_found(site: TestClient) -> None:
    sign_in(site, "rh@carthage.demo")
    assert site.get("/requests/EG-2026-000001/history.csv").status_code == 404


def test_notices_addresses_are_shown_to_officials_not_to_the_requester(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    mine = site.get("/requests/EG-2026-000001").text
    site.post("/logout", data={"csrf": csrf_of(mine)})
    sign_in(site, "auditor@mom.demo")
    audited = site.get("/requests/EG-2026-000001").text

    assert "attache@mom.demo" not in mine
    assert "attache@mom.demo" in audited


def test_the_requesters_history_json_carries_no_notices_as_their_page_shows_none(
    site: TestClient,
) -> None:
    sign_in(site, "agent@nile.demo")
    mine = site.get("/requests/EG-2026-000001/history.json")
    site.post("/logout", data={"csrf": csrf_of(site.get("/requests").text)})
    sign_in(site, "auditor@mom.demo")
    audited = site.get("/requests/EG-2026-000001/history.json").json()

    assert mine.status_code == 200
    assert all(e["notices"] == [] for e in mine.json()["events"])
    assert any(e["notices"] for e in audited["events"])
    assert "attache@mom.demo" not in mine.text and "attache@mom.demo" in json.dumps(audited)
    assert "provider_message_id" not in mine.text and "last_error" not in mine.text


def _bulk_preview(site: TestClient, refs: list[str], trigger: str) -> str:
    inbox = site.get("/inbox?lang=en").text
    return site.post("/inbox/bulk", data={"csrf": csrf_of(inbox), "ref": refs,
                                          "trigger": trigger, "comment": "batch"}).text  # fmt: skip


def _confirm(site: TestClient, preview: str) -> str:
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview))
    refs = re.findall(r'name="ref" value="([^"]+)"', preview)
    return site.post("/inbox/bulk/apply", data={**form, "ref": refs}).text


def test_bulk_preview_changes_nothing_and_confirming_applies_each_once(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "examiner@dgpemoe.demo")  # the demo has three requests just filed
    inbox = site.get("/inbox").text
    refs = re.findall(r'name="ref" value="([^"]+)"', inbox)
    assert len(refs) == 3

    preview = _bulk_preview(site, [*refs, "TN-2026-999999"], "accept_filing")
    untouched = [services.queries.show(r, "examiner@dgpemoe.demo")["state"] for r in refs]
    results = text_of(_confirm(site, preview))
    again = text_of(_confirm(site, preview))  # the confirmation submitted twice
    states = [services.queries.show(r, "examiner@dgpemoe.demo") for r in refs]

    assert text_of(preview).count("will be applied → Examination of the file") == 3
    assert "cannot be applied: No such request, or it is not one you may see." in text_of(preview)
    assert untouched == ["filing_check"] * 3
    assert results.count("done, now: Examination of the file") == 3
    assert again == results
    assert [s["state"] for s in states] == ["examination"] * 3
    assert [s["seq"] for s in states] == [3, 3, 3]  # create, submit, accept: once each


def test_bulk_reports_a_request_that_moved_after_the_preview_and_leaves_it(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "examiner@dgpemoe.demo")
    ref = re.findall(r'name="ref" value="([^"]+)"', site.get("/inbox").text)[0]
    preview = _bulk_preview(site, [ref], "accept_filing")
    services.commands.act(ref, "return_for_correction", "examiner@dgpemoe.demo",
                          Command(comment="missing CV", reason=_a_reason(services)))  # fmt: skip

    results = text_of(_confirm(site, preview))

    assert "refused:" in results and "now at the stage “Returned for correction”" in results
    assert services.queries.show(ref, "examiner@dgpemoe.demo")["state"] == (
        "returned_for_correction"
    )


def _a_reason(services: Services) -> str:
    sop = services.sops.catalogue.get(TN)
    step = sop.by_state["filing_check"]["return_for_correction"]
    return step.reasons[0]


def test_bulk_without_a_csrf_token_or_a_selection_is_refused(site: TestClient) -> None:
    sign_in(site, "examiner@dgpemoe.demo")
    site.get("/inbox?lang=en")
    forged = site.post("/inbox/bulk", data={"csrf": "x", "ref": ["TN-2026-000001"],
                                            "trigger": "accept_filing"})  # fmt: skip
    inbox = site.get("/inbox").text
    empty = site.post("/inbox/bulk", data={"csrf": csrf_of(inbox), "trigger": "accept_filing",
                                           "comment": "Dossiers complets."})  # fmt: skip

    assert forged.status_code == 403
    assert empty.status_code == 422 and "Select at least one request" in empty.text
    # the inbox again, its form as it was sent
    assert ">Dossiers complets.</textarea>" in empty.text
    assert '<option value="accept_filing" selected>' in empty.text


def test_steps_needing_documents_or_a_reason_are_not_offered_in_bulk(site: TestClient) -> None:
    sign_in(site, "signatory@dgpemoe.demo")
    # the signatory's steps all need a document or a reason: nothing to do in bulk
    inbox = site.get("/inbox").text
    assert 'action="/inbox/bulk"' not in inbox or 'value="grant_visa"' not in inbox


def test_a_comment_typed_as_a_formula_stays_text_in_the_history_csv(
    site: TestClient, services: Services
) -> None:
    from sopflow.services import Command

    services.commands.act("TN-2026-000001", "return_for_correction", "examiner@dgpemoe.demo",
                          Command(comment='=HYPERLINK("http://evil.example","x")',
                                  reason="incomplete_file"))  # fmt: skip
    sign_in(site, "rh@carthage.demo")
    _, rows = history_rows(site.get("/requests/TN-2026-000001/history.csv").content)

    assert rows[-1]["comment"] == '\'=HYPERLINK("http://evil.example","x")'


def test_the_history_csv_speaks_the_readers_language_with_a_bom_and_the_sops_labels(
    site: TestClient, services: Services
) -> None:
    """Excel opens it as UTF-8 (the byte-order mark), the header is in the reader's
    language, and each step's code is followed, at the end of the row, by the SOP's words
    for it; the columns of the codes keep their place."""
    services.commands.act("TN-2026-000001", "return_for_correction", "examiner@dgpemoe.demo",
                          Command(comment="Pièce manquante", reason="incomplete_file"))  # fmt: skip
    sop = services.sops.catalogue.get(TN)
    transition = next(tr for tr in sop.by_state["filing_check"].values()
                      if tr.trigger == "return_for_correction")  # fmt: skip
    sign_in(site, "rh@carthage.demo")

    arabic = site.get("/requests/TN-2026-000001/history.csv?lang=ar")
    header, rows = history_rows(arabic.content)

    assert arabic.headers["content-type"] == "text/csv; charset=utf-8"
    assert header[:3] == ["الرقم", "التاريخ والوقت (UTC)", "الخطوة (الرمز)"]
    last = rows[-1]
    assert (last["trigger"], last["to_state"], last["reason"]) == (
        "return_for_correction", transition.to, "incomplete_file")  # fmt: skip
    assert last["step"] == transition.label.get("ar")
    assert last["to_state_label"] == sop.states[transition.to].label.get("ar")
    assert last["from_state_label"] == sop.states["filing_check"].label.get("ar")
    assert last["role_label"] == sop.roles[last["role"]].title.get("ar")
    reason = next(r for r in sop.spec.reason_codes if r.id == "incomplete_file")
    assert last["reason_label"] == reason.label.get("ar")
    assert rows[0]["trigger"] == "create" and rows[0]["step"] == "إنشاء الطلب"
    french, _ = history_rows(site.get("/requests/TN-2026-000001/history.csv?lang=fr").content)
    english, same = history_rows(site.get("/requests/TN-2026-000001/history.csv?lang=en").content)
    assert french[-2] == "Motif" and english[-2] == "Reason" and english[0] == "No."
    assert english[-1] == "Checked against the records"
    assert [r["hash"] for r in same] == [r["hash"] for r in rows]

"""The statistics pages: for officials and auditors of an authority (its SOPs only), with
SVG charts that fetch nothing, a data table, CSV downloads, three languages; others get a
sign-in redirect or "not found"; the same tables as JSON for programs with a bearer token."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from sopflow import demo
from sopflow.services import Command, Services
from tests.e2e.test_pages import sign_in, site  # noqa: F401  (fixture)
from tests.integration import world as w
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

TABLES = ("placements", "stages", "deadlines", "returns", "ageing", "workload")
OFFICER, TN_AUDITOR, AGENT = "officer@mom.demo", "auditor@dgpemoe.demo", "agent@nile.demo"


@pytest.fixture
def later(site: TestClient, services: Services, clock) -> TestClient:
    """The demo, plus a Tunisian contract visa'd six weeks later (a second month)."""
    clock.advance(days=42)
    email = demo.USERS["enterprise"][0]
    data = {**demo.tn_data(clock.now.date()), "passport_number": "D7654321"}
    ref = services.commands.submit(demo.TN, email, Command(data=data,
                                   documents=w.docs(*demo.TN_DOCS))).reference  # fmt: skip
    for step in demo.tn_path(clock.now.date()):
        clock.advance(hours=30)
        services.commands.act(ref, step.trigger, demo.USERS[step.role][0], Command(
            data=step.data, documents=w.docs(*step.documents), comment=step.comment))  # fmt: skip
    return site


def test_signed_out_visitors_are_sent_to_sign_in(site: TestClient) -> None:
    for path in ("/stats", "/stats/stages", "/stats/stages.csv"):
        response = site.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].split("?")[0] == "/login"


def test_employers_get_not_found_and_no_link(site: TestClient) -> None:
    sign_in(site, AGENT)

    assert "/stats" not in site.get("/requests").text
    for path in ("/stats", "/stats/workload", "/stats/placements.csv"):
        response = site.get(path)
        assert response.status_code == 404, path
        assert "الإحصاءات مخصصة لموظفي الجهة الحكومية ومدققيها" in response.text  # Arabic: theirs
    assert "agents et aux auditeurs" in site.get("/stats?lang=fr").text


@pytest.mark.parametrize("table", TABLES)
def test_an_official_sees_every_table_with_a_chart_and_its_figures(site, table) -> None:
    sign_in(site, OFFICER)

    page = site.get(f"/stats/{table}")

    assert page.status_code == 200
    html = page.text
    assert '<a href="/stats">' in site.get("/requests").text  # the navigation link
    chart = re.search(rf'<svg role="img"[^>]*aria-labelledby="bar-{table}-title '
                      rf'bar-{table}-desc".*?</svg>', html, re.S)  # fmt: skip
    assert chart, "no bar chart"
    assert f'<title id="bar-{table}-title">' in chart.group(0)
    assert f'<desc id="bar-{table}-desc">' in chart.group(0)
    assert "<table>" in html and "<caption>" in html
    assert f'href="/stats/{table}.csv?' in html
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "an external URL"
    assert "tn-dgpemoe" not in html  # the Egyptian ministry sees its own SOP only


def test_an_sop_is_named_by_its_title_in_the_readers_language(site) -> None:
    sign_in(site, OFFICER)

    html = site.get("/stats/stages?by=sop&by=stage&lang=fr").text

    assert "Placement de travailleurs égyptiens à l&#39;étranger" in html
    assert 'title="eg-mom-international-placement"' in html  # the id, for those who need it
    cells = re.findall(r'<td class="num">([^<]+)</td>', html)
    assert any("," in c for c in cells) and not any("." in c for c in cells)  # 1,50 jours


def test_an_auditor_sees_their_authoritys_sop_and_a_line_over_months(later) -> None:
    sign_in(later, TN_AUDITOR)

    html = later.get("/stats/placements?min_cell=5&period=month&by=period&by=outcome").text

    assert 'aria-labelledby="line-placements-title line-placements-desc"' in html
    assert "eg-mom" not in html
    assert "suppressed" in html  # two visas: under the threshold of 5


def test_the_csv_says_a_suppressed_cell_in_its_language(later) -> None:
    sign_in(later, TN_AUDITOR)
    query = "min_cell=5&period=month&by=period&by=outcome"

    said = {lang: list(csv.reader(io.StringIO(
                later.get(f"/stats/placements.csv?{query}&lang={lang}").text.lstrip("\ufeff"))))
            for lang in ("en", "fr", "ar")}  # fmt: skip

    cells = {lang: [c for row in rows[1:] for c in row[4:]] for lang, rows in said.items()}
    assert "suppressed" in cells["en"]  # two visas: under the threshold of 5
    assert "masqué" in cells["fr"] and "suppressed" not in cells["fr"]
    assert "محجوب" in cells["ar"] and "suppressed" not in cells["ar"]
    # the header line is the columns' codes, which programs read: the same in every language
    assert said["en"][0] == said["fr"][0] == said["ar"][0]
    assert said["fr"][0][:4] == ["period", "period_label", "outcome", "outcome_label"]
    assert "requests" in said["fr"][0]


def test_the_csv_download_is_the_table_with_labels(site: TestClient) -> None:
    sign_in(site, OFFICER)

    response = site.get("/stats/stages.csv?by=stage&lang=fr")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="sopflow-stages.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["sop", "sop_label", "stage", "stage_label"]
    stages = {row[2]: row[3] for row in rows[1:-1]}
    assert {row[0] for row in rows[1:-1]} == {"eg-mom-international-placement"}
    assert stages["attestation_review"] == "Légalisation de la demande"  # the page's language
    assert rows[-1][:4] == ["total", "Total", "total", "Total"]  # code columns stay codes


def test_the_csvs_total_row_says_total_in_the_readers_language(site: TestClient) -> None:
    sign_in(site, OFFICER)

    for lang, word in (("en", "Total"), ("fr", "Total"), ("ar", "المجموع")):
        text = site.get(f"/stats/workload.csv?by=role&lang={lang}").text
        last = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[-1]
        assert last[:2] == ["total", word], lang


def notes_of(html: str) -> str:
    found = re.search(r"</dl>\s*<h3>[^<]+</h3><ul>(.*?)</ul>", html, re.S)
    assert found, "no notes"
    return found.group(1)


@pytest.mark.parametrize("table", ["placements", "stages", "returns", "workload"])  # noted
def test_the_notes_are_in_the_pages_language(site: TestClient, table: str) -> None:
    sign_in(site, OFFICER)
    by = "&by=sex&by=occupation_major" if table == "placements" else ""

    for lang in ("fr", "ar"):
        notes = notes_of(site.get(f"/stats/{table}?lang={lang}{by}").text)
        assert notes.count("<li>") > 0 and 'lang="en"' not in notes, (table, lang)
        assert not re.search(r"\b(the|is|are|of)\b", notes), (table, lang)  # no English
    english = notes_of(site.get(f"/stats/{table}?lang=en{by}").text)
    assert english.count("<li>") > 0 and 'lang="en"' not in english  # English is the page's


def test_a_note_names_the_breakdown_and_the_procedure_in_the_readers_words(site) -> None:
    sign_in(site, OFFICER)

    french = notes_of(site.get("/stats/placements?by=sex&lang=fr").text)
    arabic = notes_of(site.get("/stats/placements?by=sex&lang=ar").text)

    assert ("<li>Sexe : non relevé par la procédure « Placement de travailleurs égyptiens à "
            "l&#39;étranger") in french  # fmt: skip
    assert "<li>الجنس: لا يسجله الإجراء «" in arabic


def test_occupations_and_industries_are_named_in_the_pages_language(site) -> None:
    sign_in(site, OFFICER)
    query = "/stats/placements?by=occupation_major&by=industry_section&by=occupation_unit"

    french = site.get(f"{query}&lang=fr").text
    arabic = site.get(f"{query}&lang=ar").text
    english = site.get(f"{query}&lang=en").text

    # the demo's Egyptian demand: bricklayers (ISCO-08 7112) building (ISIC Rev.4 41)
    assert "<td>Métiers qualifiés de l&#39;industrie et de l&#39;artisanat</td>" in french
    assert "<td>Construction</td>" in french
    assert "<td>العاملون في الحرف وما يتصل بها</td>" in arabic and "<td>التشييد</td>" in arabic
    assert "<td>Craft and related trades workers</td>" in english
    # a unit group's title is English only: said so, and left to right on an Arabic page
    for html in (french, arabic):
        assert '<td lang="en" dir="ltr">Bricklayers and related workers</td>' in html
    assert "<td>Bricklayers and related workers</td>" in english


def test_the_api_answers_in_the_language_asked_for(site: TestClient, services) -> None:
    auth = {"Authorization": f"Bearer {services.tokens.create(OFFICER, 'stats').token}"}
    query = "/api/v1/stats/placements?by=sex&by=occupation_major"

    english = site.get(query, headers=auth).json()
    french = site.get(f"{query}&lang=fr", headers=auth).json()
    arabic = site.get(f"{query}&lang=ar", headers=auth).json()

    described = {b["measures"][0]["description"] for b in (english, french, arabic)}
    assert len(described) == 3  # each in its language
    assert french["measures"][0]["description"] == "demandes comptées dans la cellule"
    assert [m["name"] for m in french["measures"]] == [m["name"] for m in english["measures"]]
    assert len(french["notes"]) == len(english["notes"]) > 0
    assert french["notes"][0].startswith("Sexe : non relevé par la procédure « Placement")
    assert arabic["notes"][0].startswith("الجنس: لا يسجله الإجراء «")
    assert english["notes"][0].startswith("sex is not recorded by eg-mom-international-placement")
    labels = {r["occupation_major_label"] for r in french["rows"]}
    assert "Métiers qualifiés de l'industrie et de l'artisanat" in labels
    assert french["title"] == "Placements et autorisations"
    assert (french["table"], french["dimensions"]) == (english["table"], english["dimensions"])


def test_the_definitions_are_in_the_pages_language(site: TestClient) -> None:
    sign_in(site, OFFICER)

    english = site.get("/stats/stages?lang=en").text
    french = site.get("/stats/stages?lang=fr").text
    arabic = site.get("/stats/stages?lang=ar").text

    assert (
        '<code class="ltr">median_days</code></dt><dd>median elapsed days of those stays</dd>'
        in english
    )
    assert "<dd>médiane des jours écoulés de ces passages</dd>" in french
    assert "<dd>وسيط الأيام المنقضية لهذه الإقامات</dd>" in arabic
    assert 'title="médiane des jours écoulés de ces passages"' in french  # the column's header
    for html in (french, arabic):
        assert '<code class="ltr">median_days</code>' in html  # the measure's code stays
        assert "median elapsed days" not in html


@pytest.mark.parametrize("table", TABLES)
def test_every_definition_of_every_table_is_translated(site: TestClient, table: str) -> None:
    sign_in(site, OFFICER)

    for lang in ("fr", "ar"):
        html = site.get(f"/stats/{table}?lang={lang}").text
        definitions = re.search(r"<dl>(.*?)</dl>", html, re.S)

        assert (
            definitions
            and definitions.group(1).count("<dd>") == definitions.group(1).count("<dt>") > 0
        )
        assert 'lang="en"' not in definitions.group(1), (table, lang)  # no English fallback


def test_the_pages_speak_arabic_right_to_left(site: TestClient) -> None:
    sign_in(site, OFFICER)

    html = site.get("/stats/deadlines?lang=ar").text

    assert 'dir="rtl"' in html and "الالتزام بالمواعيد" in html and "المرحلة" in html


@pytest.mark.parametrize(("query", "message"), [
    ("by=stagee", "Break down by: “stagee” is not a breakdown of this table; choose among: "
                  "“Procedure”, “Stage”"),
    ("from=yesterday", "From (date): must be a date"),
])  # fmt: skip
def test_bad_filters_are_explained_on_the_page(site: TestClient, query, message) -> None:
    sign_in(site, OFFICER)

    response = site.get(f"/stats/stages?{query}")

    assert response.status_code == 422 and message in response.text
    assert "<form" in response.text  # the form stays, to correct the filter


def test_the_threshold_may_be_raised_on_the_web_but_not_lowered(site: TestClient) -> None:
    sign_in(site, OFFICER)

    raised = site.get("/stats/placements?min_cell=9")
    lowered = site.get("/stats/placements?min_cell=1")

    assert raised.status_code == 200
    assert lowered.status_code == 422
    assert "Suppress cells under (requests): must be at least 5" in lowered.text


CLERK, EXAMINER = "clerk@mom.demo", "examiner@dgpemoe.demo"  # Arabic, French


@pytest.mark.parametrize(("who", "path", "status", "said"), [
    (EXAMINER, "/stats?by=sexx", 422,
     "Ventiler par : « sexx » n&#39;est pas une ventilation de ce tableau ; choisissez parmi : "
     "« Période », « Procédure »"),
    (CLERK, "/stats?by=sexx", 422, "التصنيف حسب: «sexx» ليس تصنيفًا متاحًا لهذا الجدول"),
    (EXAMINER, "/stats?min_cell=2", 422,
     "Masquer les cellules sous (demandes) : doit être au moins 5"),
    (CLERK, "/stats?min_cell=2", 422, "حجب الخلايا الأقل من (طلبات): يجب ألا يقل عن 5"),
    (EXAMINER, "/stats?min_cell=abc", 422,
     "Masquer les cellules sous (demandes) : doit être un nombre entier"),
    (EXAMINER, "/stats?from=2026-02-30", 422, "Du (date) : doit être une date"),
    (CLERK, "/stats?from=2026-02-30", 422, "من (تاريخ): يجب أن يكون تاريخًا"),
    (EXAMINER, "/stats/stages?from=2026-03-01&to=2026-02-01", 422,
     "Au (date, incluse) : ne peut pas précéder le 2026-03-01"),
    (EXAMINER, "/stats?period=decade", 422,
     "Période : choisissez parmi : « mois », « trimestre », « année »"),
    (CLERK, "/stats?period=decade", 422, "الفترة: اختر واحدًا مما يلي: «شهر»، «ربع سنة»، «سنة»"),
    (EXAMINER, "/stats?basis=whim", 422, "Compter à la date de : choisissez parmi : « "),
    (EXAMINER, "/stats/nosuch.csv", 404, "Cette page n&#39;existe pas."),
    (CLERK, "/stats/nosuch.csv", 404, "هذه الصفحة غير موجودة."),
    (EXAMINER, "/stats?sop=nope", 404,
     "Pas de statistiques pour la procédure « nope » : elle n&#39;existe pas"),
    (EXAMINER, "/stats/stages.csv?by=sexx", 422, "Ventiler par : « sexx » n&#39;est pas"),
])  # fmt: skip
def test_refusals_are_in_the_readers_language_naming_the_forms_labels(
    site: TestClient, who: str, path: str, status: int, said: str
) -> None:
    sign_in(site, who)

    response = site.get(path)

    assert response.status_code == status
    assert said in response.text
    english = ("invalid statistics query", "--by", "--from", "--period", "--min-cell",
               "no statistics table", "no statistics for SOP", "is not a dimension")  # fmt: skip
    assert not [words for words in english if words in response.text]


def test_every_mistake_of_a_page_query_is_listed(site: TestClient) -> None:
    sign_in(site, EXAMINER)

    html = site.get("/stats/stages?from=2026-02-30&by=sexx&period=decade").text

    assert "Du (date) : doit être une date" in html
    assert "Ventiler par : « sexx »" in html and "Période : choisissez parmi" in html


def test_programs_get_the_tables_as_json_with_a_token(site: TestClient, services) -> None:
    official = services.tokens.create(OFFICER, "stats").token
    agent = services.tokens.create(AGENT, "stats").token

    ok = site.get("/api/v1/stats/ageing?by=stage&lang=fr",
                  headers={"Authorization": f"Bearer {official}"})  # fmt: skip
    refused = site.get("/api/v1/stats/ageing", headers={"Authorization": f"Bearer {agent}"})
    anonymous = site.get("/api/v1/stats/ageing")
    unknown = site.get("/api/v1/stats/nope", headers={"Authorization": f"Bearer {official}"})

    assert ok.status_code == 200
    body = ok.json()
    assert body["table"] == "ageing" and body["dimensions"] == ["sop", "stage"]
    assert {r["sop"] for r in body["rows"]} == {demo.EG}
    assert any(r["stage_label"] == "Légalisation de la demande" for r in body["rows"])
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert anonymous.status_code == 401
    assert unknown.status_code == 404 and unknown.json()["code"] == "not-found"


def test_the_api_explains_a_bad_query_as_a_problem(site: TestClient, services) -> None:
    auth = {"Authorization": f"Bearer {services.tokens.create(OFFICER, 'stats').token}"}

    period = site.get("/api/v1/stats/stages?period=week", headers=auth)
    dimension = site.get("/api/v1/stats/stages?by=stage&by=colour", headers=auth)
    lowered = site.get("/api/v1/stats/placements?min_cell=2", headers=auth)

    assert period.status_code == 422 and period.json()["code"] == "invalid-data"
    assert dimension.status_code == 422
    assert dimension.json()["errors"][0]["code"] == "unknown-dimension"
    assert lowered.status_code == 422 and "at least 5" in lowered.json()["detail"]


def test_the_api_names_its_parameters_and_lists_every_mistake(site: TestClient, services) -> None:
    auth = {"Authorization": f"Bearer {services.tokens.create(OFFICER, 'stats').token}"}

    refused = site.get("/api/v1/stats/placements?from=2026-02-30&to=2026-13-01&by=sexx"
                       "&period=week&basis=whim&min_cell=abc&lang=de", headers=auth)  # fmt: skip
    reversed_window = site.get("/api/v1/stats/stages?from=2026-03-01&to=2026-02-01",
                               headers=auth)  # fmt: skip

    assert refused.status_code == 422 and refused.json()["code"] == "invalid-data"
    assert {(e["field"], e["code"]) for e in refused.json()["errors"]} == {
        ("from", "wrong-type"), ("to", "wrong-type"), ("by", "unknown-dimension"),
        ("period", "not-in-enum"), ("basis", "not-in-enum"), ("min_cell", "wrong-type"),
        ("lang", "not-in-enum")}  # fmt: skip
    by = next(e for e in refused.json()["errors"] if e["field"] == "by")
    assert by["params"]["value"] == "sexx" and by["params"]["closest"] == "sex"
    assert "sex" in by["params"]["allowed"]
    period = next(e for e in refused.json()["errors"] if e["field"] == "period")
    assert period["params"] == {"value": "week", "allowed": ["month", "quarter", "year"]}
    assert "--" not in refused.text and "literal_error" not in refused.text
    [backwards] = reversed_window.json()["errors"]
    assert (backwards["field"], backwards["code"]) == ("to", "out-of-range")
    assert backwards["params"] == {"bound": "not-before", "value": "2026-02-01",
                                   "limit": "2026-03-01"}  # fmt: skip


def test_the_api_schema_still_lists_the_words_a_parameter_takes(site: TestClient) -> None:
    operation = site.get("/openapi.json").json()["paths"]["/api/v1/stats/{table}"]["get"]
    schema = {p["name"]: p["schema"] for p in operation["parameters"]}

    assert schema["period"]["enum"] == ["month", "quarter", "year"]
    assert schema["basis"]["enum"] == ["decision", "filing"]
    assert schema["lang"]["enum"] == ["en", "fr", "ar"]


def test_a_headline_from_a_suppressed_total_says_it_is_suppressed(later) -> None:
    sign_in(later, TN_AUDITOR)

    english = later.get("/stats/placements?min_cell=5&lang=en").text
    french = later.get("/stats/placements?min_cell=5&lang=fr").text

    assert "requests: suppressed" in english and "requests: —" not in english
    assert re.search(r"demandes ?: masqué", french)

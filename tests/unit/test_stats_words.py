"""The words of the statistics pages: every word of the pages in the three working
languages, every measure of every table with a heading and a French and an Arabic
definition (a new measure without them fails here), no translation of a measure that does
not exist, every note in French and Arabic with the English one's parameters, the CSV's
words for a hidden value and for the total in the language asked for, and the API's
answer in that language."""

from __future__ import annotations

import importlib
import pkgutil
from string import Formatter

import pytest

import sopflow.analytics
from sopflow.analytics import deadlines, placements, returns, stages, workload
from sopflow.analytics.labels import Labels
from sopflow.analytics.model import Column, Query, Row, Table
from sopflow.analytics.notes import ENGLISH, Note, note
from sopflow.services.statistics import TABLES
from sopflow.web import i18n
from sopflow.web.stats_text import DEFINITIONS, NOTES, table_json
from sopflow.web.stats_text import definition as _definition
from sopflow.web.stats_text import note as said
from tests.factories import EG, TN, compiled

# every measure each table may have, in column order (stages: its open_* ones only when not
# broken down by role or period)
TABLE_MEASURES: dict[str, tuple[Column, ...]] = {
    "placements": placements.MEASURES, "deadlines": deadlines.MEASURES,
    "stages": stages.STAGE_MEASURES + stages.OPEN_MEASURES, "returns": returns.MEASURES,
    "ageing": stages.AGEING_MEASURES, "workload": workload.MEASURES,
}  # fmt: skip
MEASURES = [(table, m) for table in TABLES for m in TABLE_MEASURES[table]]


def test_every_word_of_the_pages_is_in_the_three_languages() -> None:
    missing = [(key, lang) for key, said in i18n.WORDS.items() for lang in i18n.LANGS
               if not isinstance(said.get(lang), str) or not said[lang].strip()]  # fmt: skip

    assert missing == []


def test_the_registry_lists_every_table_and_every_measure_the_analytics_define() -> None:
    defined = {
        id(value): value
        for info in pkgutil.iter_modules(sopflow.analytics.__path__)
        for found in vars(importlib.import_module(f"sopflow.analytics.{info.name}")).values()
        if isinstance(found, tuple)
        for value in found
        if isinstance(value, Column)
    }
    registered = {id(m) for _, m in MEASURES}

    assert set(TABLE_MEASURES) == set(TABLES)
    assert [m.name for key, m in defined.items() if key not in registered] == []
    assert set(defined) == registered


@pytest.mark.parametrize(("table", "measure"), MEASURES, ids=[f"{t}.{m.name}" for t, m in MEASURES])
def test_every_measure_has_a_heading_and_a_french_and_an_arabic_definition(
    table: str, measure: Column
) -> None:
    said = DEFINITIONS.get(table, {}).get(measure.name, {})

    assert f"st_m_{measure.name}" in i18n.WORDS
    for lang in ("fr", "ar"):
        assert isinstance(said.get(lang), str) and said[lang].strip(), (table, measure.name, lang)
        assert said[lang].strip() != measure.description.strip()
        assert _definition(table, measure, lang) == (said[lang], lang)
    assert any("\u0600" <= c <= "\u06ff" for c in said["ar"])  # Arabic letters
    assert _definition(table, measure, "en") == (measure.description, "en")


def test_no_definition_names_a_table_or_measure_that_does_not_exist() -> None:
    known = {(table, m.name) for table, m in MEASURES}

    assert [(t, m) for t, ms in DEFINITIONS.items() for m in ms if (t, m) not in known] == []
    assert all(set(said) == {"fr", "ar"} for ms in DEFINITIONS.values() for said in ms.values())


def test_a_name_two_tables_share_is_defined_for_each() -> None:
    assert DEFINITIONS["placements"]["requests"]["fr"] != DEFINITIONS["workload"]["requests"]["fr"]
    assert DEFINITIONS["returns"]["returns"]["ar"] != DEFINITIONS["workload"]["returns"]["ar"]


def test_a_missing_translation_falls_back_to_the_english_definition() -> None:
    new = Column("brand_new", "count", "a measure nobody has translated yet")

    assert _definition("stages", new, "fr") == ("a measure nobody has translated yet", "en")
    assert _definition("nosuch", new, "ar") == ("a measure nobody has translated yet", "en")


def test_the_csv_writes_a_hidden_value_with_the_word_it_is_given() -> None:
    measures = (Column("requests", "count", "requests"), Column("share_pct", "percent", "share"))
    table = Table("t", "T", "", ("sex",), measures,
                  [Row(("female",), {"requests": None, "share_pct": None},
                       frozenset({"requests", "share_pct"})),
                   Row(("male",), {"requests": 7, "share_pct": 12.5})],
                  total=Row(("total",), {"requests": None, "share_pct": None},
                            frozenset({"requests"})))  # fmt: skip

    english = table.csv().splitlines()
    french = table.csv(lang="fr", suppressed="masqué", total="Total")

    assert english[0] == french.splitlines()[0] == "sex,sex_label,requests,share_pct"  # codes
    assert english[1] == "female,female,suppressed,suppressed"
    assert french.splitlines()[1:] == ["female,female,masqué,masqué", "male,male,7,12.50",
                                       "total,Total,masqué,"]  # fmt: skip


def test_the_csvs_total_row_is_labelled_in_the_words_given_its_code_column_stays_total() -> None:
    table = Table("t", "T", "", ("sop", "sex"), (Column("requests", "count", "requests"),),
                  [Row(("eg", "female"), {"requests": 7})],
                  total=Row(("total",), {"requests": 7}))  # fmt: skip

    assert table.csv().splitlines()[-1] == "total,total,total,total,7"  # the command line's
    assert table.csv(lang="ar", total="المجموع").splitlines()[-1] == (
        "total,المجموع,total,المجموع,7")  # fmt: skip


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def test_every_note_has_french_and_arabic_with_the_english_ones_placeholders() -> None:
    assert set(NOTES) == set(ENGLISH)  # no note untranslated, none that does not exist
    for code, english in ENGLISH.items():
        assert set(NOTES[code]) == {"fr", "ar"}, code
        for lang in ("fr", "ar"):
            assert placeholders(NOTES[code][lang]) == placeholders(english), (code, lang)
        assert any("\u0600" <= c <= "\u06ff" for c in NOTES[code]["ar"]), code


def test_a_note_names_the_breakdown_and_the_procedure_in_the_readers_words() -> None:
    labels = Labels([compiled(EG), compiled(TN)])
    missing = note("not-in-sop", dimension="sex", sop="eg-mom-international-placement")

    french, lang = said(missing, labels, "fr")

    assert lang == "fr"
    assert french.startswith("Sexe : non relevé par la procédure « Placement de travailleurs")
    assert "« non relevé par cette procédure »" in french  # the table's word for the key
    assert said(missing, labels, "ar")[0].startswith("الجنس: لا يسجله الإجراء «")
    assert said(note("rows-suppressed", hidden=2, count=4, min_cell=5), labels, "fr")[0] == (
        "Lignes masquées : 2 sur 4 (moins de 5 demandes, ou masquées pour qu'une cellule "
        "masquée ne puisse pas être déduite des totaux).")  # fmt: skip
    english = said(missing, labels, "en")
    assert english == ("sex is not recorded by eg-mom-international-placement (its statistics "
                       "mapping has no field for it): its requests count under 'not recorded "
                       "by this SOP'", "en")  # fmt: skip


def test_a_note_without_a_translation_falls_back_to_english_said_to_be_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(ENGLISH, "brand-new", "a note about {sop} nobody has translated yet")

    new = note("brand-new", sop="eg")

    assert said(new, Labels([]), "ar") == ("a note about eg nobody has translated yet", "en")
    with pytest.raises(KeyError):
        note("no-such-note")


def test_the_api_answer_is_in_the_language_asked_for_codes_staying_codes() -> None:
    measures = placements.MEASURES[:2]
    table = Table("placements", "Placements and authorisations (decided)", "Requests decided",
                  ("sex",), measures, [Row(("female",), {"requests": 7, "workers": 7})],
                  total=Row(("total",), {"requests": 7, "workers": 7}),
                  notes=[note("not-recorded"), Note("rows-suppressed",
                                                    {"hidden": 1, "count": 3, "min_cell": 5})],
                  query=Query(by=("sex",)))  # fmt: skip
    labels = Labels([compiled(TN)])

    french, english = table_json(table, labels, "fr"), table_json(table, labels, "en")

    assert [m["name"] for m in french["measures"]] == ["requests", "workers"]
    assert french["measures"][0]["description"] == DEFINITIONS["placements"]["requests"]["fr"]
    assert french["notes"][0] == ("« non renseigné » : la procédure a le champ, mais la demande "
                                  "ne le remplit pas.")  # fmt: skip
    assert french["rows"][0]["sex"] == "female" and french["rows"][0]["sex_label"] == "Féminin"
    assert (french["title"], french["definition"]) == (
        i18n.t("st_t_placements", "fr"), i18n.t("st_def_placements", "fr"))  # fmt: skip
    arabic = table_json(table, labels, "ar")
    assert arabic["measures"][1]["description"] == DEFINITIONS["placements"]["workers"]["ar"]
    assert arabic["notes"][1].startswith("الصفوف المحجوبة: 1 من 3")
    # English: the analytics' own words, as the command line's --format json
    assert english == table.to_json(labels, "en")
    assert english["measures"][0]["description"] == measures[0].description
    assert english["notes"] == [str(n) for n in table.notes]
    assert english["title"] == "Placements and authorisations (decided)"

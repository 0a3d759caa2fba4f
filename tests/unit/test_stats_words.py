"""The words of the statistics pages: every word of the pages in the three working
languages, every measure of every table with a heading and a French and an Arabic
definition (a new measure without them fails here), no translation of a measure that does
not exist, and the CSV's word for a hidden value in the language asked for."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import sopflow.analytics
from sopflow.analytics import deadlines, placements, returns, stages, workload
from sopflow.analytics.model import Column, Row, Table
from sopflow.services.statistics import TABLES
from sopflow.web import i18n
from sopflow.web.stats import DEFINITIONS, _definition

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

    english, french = table.csv().splitlines(), table.csv(lang="fr", suppressed="masqué")

    assert english[0] == french.splitlines()[0] == "sex,sex_label,requests,share_pct"  # codes
    assert english[1] == "female,female,suppressed,suppressed"
    assert french.splitlines()[1:] == ["female,female,masqué,masqué", "male,male,7,12.50",
                                       "total,total,masqué,"]  # fmt: skip

"""ISCO-08 and ISIC Rev.4 titles in the reader's language: every ISCO-08 major and sub-major
group and every ISIC Rev.4 section in French and Arabic, no title for a code the English
tables do not have, and English below the covered levels, said to be English; the
statistics' labels and the request pages go through the same lookup."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sopflow.analytics.labels import Labels
from sopflow.spec.classifications import ISCO08, ISIC4, title
from sopflow.spec.classifications_i18n import ISCO08_AR, ISCO08_FR, ISIC4_AR, ISIC4_FR
from sopflow.web.display import display
from tests.factories import EG, TN, compiled

UPPER_ISCO = [code for code in ISCO08 if len(code) <= 2]  # major and sub-major groups
SECTIONS = [code for code in ISIC4 if code.isalpha()]
TRANSLATED = {("isco08", "fr"): ISCO08_FR, ("isco08", "ar"): ISCO08_AR,
              ("isic4", "fr"): ISIC4_FR, ("isic4", "ar"): ISIC4_AR}  # fmt: skip


def arabic(text: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in text)


def test_the_covered_levels_are_whole_and_exactly_these() -> None:
    assert len(UPPER_ISCO) == 53 and len(SECTIONS) == 21  # 10 + 43 groups, sections A-U
    for lang in ("fr", "ar"):
        assert sorted(TRANSLATED[("isco08", lang)]) == sorted(UPPER_ISCO), lang
        assert sorted(TRANSLATED[("isic4", lang)]) == SECTIONS, lang


@pytest.mark.parametrize("kind", ["isco08", "isic4"])
def test_every_translated_code_is_a_code_of_the_english_table(kind: str) -> None:
    english = ISCO08 if kind == "isco08" else ISIC4
    for lang in ("fr", "ar"):
        assert [c for c in TRANSLATED[(kind, lang)] if c not in english] == [], lang


@pytest.mark.parametrize(("kind", "code"), [("isco08", c) for c in UPPER_ISCO]
                         + [("isic4", c) for c in SECTIONS])  # fmt: skip
def test_every_major_group_sub_major_group_and_section_has_french_and_arabic(
    kind: str, code: str
) -> None:
    french, french_in = title(kind, code, "fr")
    in_arabic, arabic_in = title(kind, code, "ar")

    assert (french_in, arabic_in) == ("fr", "ar")
    assert french.strip() == french and french and not arabic(french)
    assert in_arabic.strip() == in_arabic and arabic(in_arabic)
    assert "’" not in french  # plain apostrophes, as the English table


def test_a_few_official_titles() -> None:
    assert title("isco08", "7", "fr") == ("Métiers qualifiés de l'industrie et de l'artisanat",
                                          "fr")  # fmt: skip
    assert title("isco08", "91", "fr") == ("Aides de ménage", "fr")
    assert title("isic4", "C", "fr") == ("Activités de fabrication", "fr")
    assert title("isic4", "F", "ar") == ("التشييد", "ar")
    assert title("isco08", "9", "ar") == ("المهن الأولية", "ar")


def test_below_the_covered_levels_the_title_is_english_and_said_to_be() -> None:
    assert title("isco08", "7112", "fr") == ("Bricklayers and related workers", "en")
    assert title("isco08", "711", "ar") == ("Building frame and related trades workers", "en")
    assert title("isic4", "41", "ar") == ("Construction of buildings", "en")
    assert title("isco08", "7", "en") == ("Craft and related trades workers", "en")
    assert title("isco08", "7", "de") == ("Craft and related trades workers", "en")


def test_a_code_the_classification_does_not_have_has_no_title() -> None:
    assert title("isco08", "10", "fr") is None  # no sub-major group 10
    assert title("isic4", "V", "ar") is None
    assert title("isic4", "7", "fr") is None  # an ISCO code is not an ISIC one


def test_the_statistics_label_groups_in_the_readers_language_and_say_when_english() -> None:
    labels = Labels([compiled(EG), compiled(TN)])

    assert labels("occupation_major", "2", "fr") == "Professions intellectuelles et scientifiques"
    assert labels.said("industry_section", "J", "ar") == ("المعلومات والاتصالات", "ar")
    assert labels.said("occupation_unit", "2512", "fr") == ("Software developers", "en")
    assert labels.said("occupation_unit", "2512", "en") == ("Software developers", "en")
    assert labels.said("occupation_major", "X", "fr") == ("X", "fr")  # not a code: the key
    assert labels.said("destination_country", "SA", "fr") == ("Arabie saoudite", "fr")
    assert labels("destination_country", "SA", "en") == "Saudi Arabia"


def test_a_request_page_shows_a_chosen_code_with_its_title_marked_when_english() -> None:
    occupation, industry = SimpleNamespace(type="isco08"), SimpleNamespace(type="isic")

    assert display("7", occupation, "fr") == "7 Métiers qualifiés de l'industrie et de l'artisanat"
    assert display("F", industry, "ar") == "F التشييد"
    assert display("F", industry, "en") == "F Construction"
    fallback = display("7112", occupation, "ar")
    assert fallback == '7112 <span lang="en" dir="ltr">Bricklayers and related workers</span>'
    assert hasattr(fallback, "__html__")  # markup, not text to escape again
    assert display("7112", occupation, "en") == "7112 Bricklayers and related workers"
    assert display("0000", occupation, "fr") == "0000"

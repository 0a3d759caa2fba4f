"""The words of the statistics pages: the CSV's word for a hidden value in the language
asked for."""

from __future__ import annotations

from sopflow.analytics.model import Column, Row, Table


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

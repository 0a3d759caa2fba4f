"""The SVG charts: well-formed, accessible, escaped, self-contained, and drawn to scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from sopflow.analytics.charts import bar_chart, line_chart, nice_ceiling


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_bar_chart_has_a_title_a_description_and_one_bar_per_known_value() -> None:
    svg = bar_chart("c1", "Requests by stage", "Bar chart of requests", ["Intake", "Review",
                    "Signature"], [10, None, 5], "requests", "suppressed")  # fmt: skip

    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find("title").text == "Requests by stage"  # type: ignore[union-attr]
    assert root.find("desc").text == "Bar chart of requests"  # type: ignore[union-attr]
    bars = root.findall(".//rect")
    assert len(bars) == 2  # the suppressed value is a labelled gap, not a bar
    assert "suppressed" in svg
    widths = [float(b.get("width", 0)) for b in bars]
    assert widths[0] == pytest.approx(2 * widths[1])  # to scale
    assert bars[0].find("title").text == "Intake: 10 requests"  # type: ignore[union-attr]


def test_labels_are_escaped_and_nothing_is_fetched_from_elsewhere() -> None:
    svg = bar_chart("c2", "<script>alert(1)</script>", "a & b", ['"><img src=x>'], [1.5])
    line = line_chart("c3", "t", "d", ["2026-01", "2026-02"], {"<b>": [1.0, 2.0]})

    for text in (svg, line):
        parse(text)  # still well-formed XML
        assert "<script" not in text and "<img" not in text and "<b>" not in text
        assert not re.search(r"https?:|xlink:href|<image|<use|url\(", text)


def test_a_line_chart_breaks_at_a_missing_value_and_has_a_legend() -> None:
    svg = line_chart(
        "c4",
        "Requests per month",
        "One line per outcome",
        ["2026-01", "2026-02", "2026-03", "2026-04"],
        {"approved": [3, None, 5, 6], "rejected": [1, 1, 0, 2]},
        "requests",
    )

    root = parse(svg)
    lines = root.findall(".//polyline")
    assert len(lines) == 3  # approved: two runs around the gap; rejected: one
    assert len(root.findall(".//circle")) == 7
    assert "approved" in svg and "rejected" in svg


@pytest.mark.parametrize(("peak", "end"), [(0, 1), (0.3, 0.5), (7, 10), (10, 10), (11, 20),
                                           (180, 200), (2001, 5000)])  # fmt: skip
def test_axes_end_on_a_round_number(peak: float, end: float) -> None:
    assert nice_ceiling(peak) == pytest.approx(end)


def test_each_gap_says_why_the_bar_is_missing() -> None:
    svg = bar_chart("c5", "t", "d", ["a", "b", "c"], [None, 2, None], "", ["suppressed", "", "—"])

    texts = [t.text for t in parse(svg).iter("text")]
    assert "suppressed" in texts and "—" in texts
    assert len(parse(svg).findall(".//rect")) == 1


def test_a_count_axis_has_whole_ticks_and_a_measure_axis_quarters() -> None:
    counts = [t.text for t in parse(bar_chart("c6", "t", "d", ["a", "b"], [5, 3])).iter("text")]
    days = [t.text for t in parse(bar_chart("c7", "t", "d", ["a", "b"], [4.5, 3])).iter("text")]
    lines = [t.text for t in parse(line_chart("c8", "t", "d", ["p1", "p2"],
                                              {"x": [1, 2]})).iter("text")]  # fmt: skip

    assert counts[:6] == ["0", "1", "2", "3", "4", "5"]
    assert days[:5] == ["0", "1.2", "2.5", "3.8", "5"]  # days: a fraction is a figure
    assert lines[:3] == ["0", "1", "2"]


def test_a_long_label_is_shortened_to_fit_left_of_the_bars_and_kept_whole_in_its_title() -> None:
    label = "attache@mom.demo · الملحق العمالي في الرياض، المملكة العربية السعودية"
    svg = parse(bar_chart("c9", "t", "d", [label], [2]))

    shown = [t.text for t in svg.iter("text") if t.text and "attache" in t.text]
    assert shown == [label[:31] + "…"]
    assert label in svg.find(".//rect/title").text  # type: ignore[union-attr]

"""The placement page, its CSV and the API for a reader whose scope holds both migration
flows: each flow apart, with its own total and headline, none over both, said in the
reader's language. Today no official sees both shipped SOPs (each belongs to its own
authority); an authority running procedures of both flows would (Tunisia's DGPEMOE places
Tunisians abroad too), so here the Tunisian auditor is let see both."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow import demo
from sopflow.services.statistics import Statistics
from tests.e2e.test_pages import sign_in, site  # noqa: F401  (fixture)
from tests.e2e.test_stats_pages import TN_AUDITOR, later  # noqa: F401  (fixture)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

OUTFLOW_FR = "flux sortant : travailleurs placés à l&#39;étranger (pays d&#39;origine)"


@pytest.fixture
def both(later: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The Tunisian auditor sees both SOPs, and every cell is shown (threshold 1)."""
    seen = Statistics.visible_sops

    def widened(self: Statistics, email: str | None) -> Any:
        mine = seen(self, email)
        return None if mine is None else mine | {demo.EG, demo.TN}

    monkeypatch.setattr(Statistics, "visible_sops", widened)
    monkeypatch.setenv("SOPFLOW_STATS_MIN_CELL", "1")
    sign_in(later, TN_AUDITOR)
    return later


def test_the_page_shows_each_flow_with_its_own_total_and_none_over_both(both) -> None:
    html = both.get("/stats/placements?lang=fr").text

    assert '<th scope="col">Flux migratoire</th>' in html  # put first: asked for or not
    totals = re.findall(r'<tr class="total">\s*<td colspan="3">([^<]*)<span>([^<]*)</span>',
                        html)  # fmt: skip
    assert totals == [("Total · ", "flux entrant : travailleurs étrangers admis (pays de "
                       "destination)"), ("Total · ", OUTFLOW_FR)]  # fmt: skip
    assert f"<li>demandes · {OUTFLOW_FR}: 1</li>" in html  # a headline per flow
    assert "<li>demandes: " not in html  # no headline over both flows
    assert "ne sont jamais additionnées" in html  # the note, in French


def test_the_line_chart_draws_a_line_per_flow_and_outcome(both) -> None:
    html = both.get("/stats/placements?period=month").text

    chart = re.search(r'<svg role="img"[^>]*aria-labelledby="line-placements-title.*?</svg>',
                      html, re.S)  # fmt: skip
    assert chart and "inflow: foreign workers admitted" in chart.group(0)


def test_the_csv_has_a_total_line_per_flow_and_none_over_both(both) -> None:
    text = both.get("/stats/placements.csv?lang=ar&by=outcome").text.lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(text)))

    assert lines[0][:4] == ["flow", "flow_label", "outcome", "outcome_label"]
    assert [(line[0], line[2], line[3], line[4]) for line in lines[-2:]] == [
        ("inflow", "total", "المجموع", "2"), ("outflow", "total", "المجموع", "1")]  # fmt: skip
    assert lines[-1][1].startswith("التدفق إلى الخارج")
    assert not [line for line in lines if line[0] == "total"]


def test_the_api_gives_the_totals_and_headlines_per_flow(both, services) -> None:
    auth = {"Authorization": f"Bearer {services.tokens.create(TN_AUDITOR, 'stats').token}"}

    said = both.get("/api/v1/stats/placements?by=sop&lang=fr", headers=auth).json()

    assert said["dimensions"] == ["flow", "sop"] and said["total"] is None
    assert [(t["flow"], t["requests"]) for t in said["totals"]] == [("inflow", 2), ("outflow", 1)]
    assert said["totals"][0]["flow_label"].startswith("flux entrant")
    assert [(f["flow"], f["requests"]) for f in said["summary"]["flows"]] == [
        ("inflow", 2), ("outflow", 1)]  # fmt: skip
    assert "requests" not in said["summary"]
    assert any("jamais additionnées" in n for n in said["notes"])


def test_one_sop_asked_for_is_one_flow_as_before(both) -> None:
    html = both.get(f"/stats/placements?sop={demo.TN}&lang=fr").text

    assert "Flux migratoire</th>" not in html
    assert re.search(r'<tr class="total">\s*<td colspan="2">Total</td>', html)

"""docs/statistics.md lists, for each table, exactly the dimensions the code accepts
(read from the code: the tables' own lists, which the command line, the pages and the API
check ``--by``/``by`` against)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sopflow.analytics.dimensions import PLACEMENT_DIMENSIONS
from sopflow.services.statistics import TABLE_DIMENSIONS, TABLES, TALLIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"


def section(title: str) -> str:
    """The text of the ``### title`` section of docs/statistics.md."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section '### {title}' in docs/statistics.md"
    return match.group(1)


def rows(text: str) -> list[list[str]]:
    """The cells of the table rows in ``text`` (header and rule left out)."""
    found = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            found.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return found[1:]


def names(cell: str) -> list[str]:
    return re.findall(r"`([a-z_]+)`", cell)


def documented_operations() -> dict[str, list[str]]:
    """table -> the dimensions the doc says it takes, from the table of tables."""
    listed = {}
    for cells in rows(section("Of the operations tables")):
        if names(cells[0]) and names(cells[0])[0] in TABLES and len(cells) == 2:
            listed[names(cells[0])[0]] = names(cells[1])
    return listed


@pytest.mark.parametrize("table", [t for t in TABLES if t != "placements"])
def test_the_doc_lists_exactly_the_dimensions_each_operations_table_accepts(table: str) -> None:
    assert documented_operations().get(table) == list(TABLE_DIMENSIONS[table])


def test_the_doc_lists_exactly_the_dimensions_of_placements() -> None:
    listed = [n for cells in rows(section("Of placements (person-level)")) for n in names(cells[0])]

    assert sorted(listed) == sorted(TABLE_DIMENSIONS["placements"])
    assert TABLE_DIMENSIONS["placements"] == tuple(PLACEMENT_DIMENSIONS)


def test_every_dimension_a_table_accepts_has_its_key_explained() -> None:
    explained = {n for cells in rows(section("Of the operations tables")) for n in names(cells[0])}

    used = {d for t in TABLES if t != "placements" for d in TABLE_DIMENSIONS[t]}
    assert used <= explained


@pytest.mark.parametrize("table", [t for t in TABLES if t != "placements"])
def test_the_lists_checked_are_the_ones_the_tables_accept(table: str) -> None:
    assert TALLIES[table][0].allowed == TABLE_DIMENSIONS[table]

"""What ``audit check-export`` questions in an export beyond its chains: lines carrying
fields no export writes or lacking one, a manifest that miscounts its events or names no
known format, a CSV whose header is not the export's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.errors import InvalidData
from sopflow.services import check_export
from sopflow.services.export_write import csv_cell, csv_value
from tests.integration.test_audit import (  # noqa: F401
    Log,
    _edit_line,
    _manifest,
    _rewrite_manifest,
    _sha256,
    log,
)


def _exported(log: Log, tmp_path: Path, fmt: str = "jsonl") -> Path:
    target = tmp_path / f"events.{fmt}"
    log.services.audit.export(target, fmt)
    return target


def _codes_and_messages(target: Path) -> list[tuple[str, str]]:
    return [(b.code, b.message) for b in check_export(target).breaks]


def test_a_line_with_a_field_no_export_writes_is_refused(log: Log, tmp_path: Path) -> None:
    target = _exported(log, tmp_path)
    _edit_line(target, 2, lambda r: r.update(approved_by="minister"))
    _rewrite_manifest(target, file_sha256=_sha256(target))

    assert _codes_and_messages(target)[0] == (
        "export-malformed",
        "events.jsonl line 3 is not an exported event (fields no export writes: approved_by)",
    )


def test_a_line_lacking_a_field_is_malformed_not_altered(log: Log, tmp_path: Path) -> None:
    target = _exported(log, tmp_path)
    _edit_line(target, 2, lambda r: r.pop("actor_id"))
    _rewrite_manifest(target, file_sha256=_sha256(target))

    found = _codes_and_messages(target)
    assert found[0] == ("export-malformed",
                        "events.jsonl line 3 is not an exported event (no actor_id)")  # fmt: skip
    assert "event-altered" not in {code for code, _ in found}


def test_a_manifest_that_miscounts_its_events_is_questioned(log: Log, tmp_path: Path) -> None:
    target = _exported(log, tmp_path)
    _rewrite_manifest(target, events=1000)

    assert _codes_and_messages(target) == [
        ("export-altered", "events.jsonl holds 10 line(s) but its manifest says 1000 event(s)")
    ]


def test_a_manifest_of_an_unknown_format_is_refused(log: Log, tmp_path: Path) -> None:
    target = _exported(log, tmp_path)
    _rewrite_manifest(target, format="xml")

    with pytest.raises(InvalidData) as refused:
        check_export(target)

    assert refused.value.errors[0].code == "not-in-enum"
    assert '"xml"' in refused.value.errors[0].message


def test_a_csv_whose_header_is_not_the_export_s_is_one_finding(log: Log, tmp_path: Path) -> None:
    target = _exported(log, tmp_path, "csv")
    text = target.read_text("utf-8")
    target.write_text(text.replace("actor_id", "actor", 1), "utf-8")
    _rewrite_manifest(target, file_sha256=_sha256(target))

    found = _codes_and_messages(target)

    assert [code for code, _ in found] == ["export-malformed"]
    assert found[0][1].startswith("events.csv line 1: the header is not the export's columns")
    assert _manifest(target)["events"] == 10


@given(st.text(max_size=12))
def test_a_csv_cell_is_read_back_as_the_value_it_was_written_from(value: str) -> None:
    """The neutralisation of formulas in a CSV export is undone exactly, and the cell it
    writes never starts like a formula."""
    cell = csv_cell(value)
    assert csv_value(cell) == value
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))

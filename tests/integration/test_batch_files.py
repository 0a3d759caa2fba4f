"""The file of a ``sopflow request import``: what is read from it, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopflow.errors import InvalidData
from workflows.commands import batch_lines
from workflows.flows import read_batch

LINE = '{"command": "act", "reference": "EG-2026-000001", "trigger": "attest_demand"}'


def test_a_byte_order_mark_before_the_first_line_is_ignored(tmp_path: Path) -> None:
    batch = tmp_path / "saved-by-a-spreadsheet.jsonl"
    batch.write_bytes(b"\xef\xbb\xbf" + f"{LINE}\n\n{LINE}\n".encode())

    assert [number for number, command in read_batch(batch) if command["command"] == "act"] == [
        1,
        3,
    ]


def test_a_batch_that_is_not_utf8_is_refused_naming_the_line_and_byte(tmp_path: Path) -> None:
    batch = tmp_path / "latin1.jsonl"
    batch.write_bytes(f"{LINE}\n".encode() + '{"comment": "café"}\n'.encode("latin-1"))

    with pytest.raises(InvalidData) as refused:
        batch_lines(batch)

    assert refused.value.errors[0].code == "not-utf8"
    assert refused.value.message == (
        f"invalid batch: FILE: {batch}: line 2 is not UTF-8 text (byte 0xe9); "
        "save the file as UTF-8"
    )


def test_a_batch_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as refused:
        batch_lines(tmp_path)  # a folder

    assert refused.value.errors[0].code == "unreadable"

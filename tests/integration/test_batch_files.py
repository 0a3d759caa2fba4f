"""The file of a ``sopflow request import``: what is read from it, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopflow.errors import InvalidData
from workflows.flows import read_batch

LINE = '{"command": "act", "reference": "EG-2026-000001", "trigger": "attest_demand"}'


def test_a_byte_order_mark_before_the_first_line_is_ignored(tmp_path: Path) -> None:
    batch = tmp_path / "saved-by-a-spreadsheet.jsonl"
    batch.write_bytes(b"\xef\xbb\xbf" + f"{LINE}\n\n{LINE}\n".encode())

    assert [number for number, command in read_batch(batch) if command["command"] == "act"] == [
        1,
        3,
    ]


def test_a_batch_in_another_encoding_is_refused_as_a_whole(tmp_path: Path) -> None:
    batch = tmp_path / "latin1.jsonl"
    batch.write_bytes(f"{LINE}\n".encode() + '{"comment": "café"}\n'.encode("latin-1"))

    with pytest.raises(InvalidData) as refused:
        read_batch(batch)

    assert refused.value.message.startswith(f"invalid batch: FILE: {batch}: line 2 is not UTF-8")

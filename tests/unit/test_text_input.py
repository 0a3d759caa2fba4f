"""Text files users give sopflow: UTF-8, a byte-order mark ignored, the rest refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopflow.errors import InvalidData
from sopflow.text_input import read_text


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b'\xef\xbb\xbf{"comment": "caf\xc3\xa9"}')

    assert read_text(path, "--data") == '{"comment": "café"}'


def test_a_file_in_another_encoding_is_refused_naming_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes('{\n"comment": "café"}'.encode("latin-1"))

    with pytest.raises(InvalidData) as refused:
        read_text(path, "--data")

    assert refused.value.errors[0].code == "not-utf8"
    assert refused.value.message == (
        f"invalid request data: --data: {path}: line 2 is not UTF-8 text (byte 0xe9); "
        "save the file as UTF-8"
    )


def test_a_missing_file_is_refused_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as refused:
        read_text(tmp_path / "nowhere.json", "--data", context="batch")

    assert refused.value.errors[0].code == "unreadable"
    assert refused.value.message.startswith("invalid batch: --data: ")

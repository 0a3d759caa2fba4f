"""Text files users hand to sopflow (a command's data, a batch, an export's manifest): read as
UTF-8, a leading byte-order mark ignored (spreadsheet tools and some editors write one), and
anything unreadable refused with the file, the line and the byte named, never a crash."""

from __future__ import annotations

from pathlib import Path

from sopflow.errors import FieldError, InvalidData


def read_text(path: Path, field: str, *, context: str = "request data") -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise InvalidData([FieldError(field, "not-utf8", f"{path}: line {line} is not UTF-8 "
                                      f"text (byte 0x{exc.object[exc.start]:02x}); save the "
                                      "file as UTF-8")], context=context) from exc  # fmt: skip
    except OSError as exc:
        raise InvalidData([FieldError(field, "unreadable", f"{path}: {exc.strerror}")],
                          context=context) from exc  # fmt: skip

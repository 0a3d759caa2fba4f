"""Text files users hand to sopflow (a command's data, a batch, an export's manifest): read as
UTF-8, a leading byte-order mark ignored (spreadsheet tools and some editors write one), and
anything unreadable refused with the file, the line and the byte named, never a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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


def strict_json(text: str | bytes) -> Any:
    """``json.loads`` for data people give: a key given twice, NaN/Infinity (not JSON,
    though Python reads them) or a number too large for a float (1e999, which Python reads
    as infinity) is a ``ValueError`` rather than a silent choice."""
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_a_number,
                      parse_float=_finite)  # fmt: skip


def _finite(word: str) -> float:
    value = float(word)
    if not math.isfinite(value):
        raise ValueError(f"{word} is too large for a number")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {json.dumps(key, ensure_ascii=False)} is given twice")
        seen[key] = value
    return seen


def _not_a_number(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")

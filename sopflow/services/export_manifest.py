"""An export's manifest read and questioned before its files are: every key a checker
relies on, with its type; for version 2 on, the directory log's part; and the link a
manifest anchors for ``audit verify --anchor``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sopflow.errors import FieldError, InvalidData
from sopflow.services.anchors import Anchor
from sopflow.services.export_write import CSV_CELLS, MANIFEST_VERSION
from sopflow.text_input import read_text

MANIFEST_KEYS = ("format", "events", "first_chain_seq", "first_chain_prev", "last_chain_seq",
                 "last_chain_hash", "file_sha256")  # fmt: skip


def read_manifest(path: Path) -> dict[str, Any]:
    """An export manifest, or a precise error saying what is wrong with it."""
    where = f"manifest:{path.name}"
    text = read_text(path, where, context="export")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidData(
            [FieldError(where, "malformed-json", f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}")],
            context="export",
        ) from exc
    missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        why = f"not an export manifest: missing {', '.join(missing)}"
        raise InvalidData([FieldError(where, "missing-field", why)], context="export")
    wrong = [f"{key} is {json.dumps(manifest[key])}, not {JSON_KIND[kind]}"
             for key, kind in _MANIFEST_TYPES.items()
             if manifest[key] is not None and type(manifest[key]) is not kind]  # fmt: skip
    if wrong:
        raise InvalidData([FieldError(where, "wrong-type", "; ".join(wrong))], context="export")
    if manifest["format"] not in ("jsonl", "csv"):
        why = f"format is {json.dumps(manifest['format'])}: an export is jsonl or csv"
        raise InvalidData([FieldError(where, "not-in-enum", why)], context="export")
    if manifest.get("csv_cells") not in (None, CSV_CELLS):
        why = (f"csv_cells is {json.dumps(manifest['csv_cells'])}: an export's cells are "
               f"{CSV_CELLS} or (older exports) not named")  # fmt: skip
        raise InvalidData([FieldError(where, "not-in-enum", why)], context="export")
    _check_directory_part(manifest, where)
    return dict(manifest)


def _check_directory_part(manifest: dict[str, Any], where: str) -> None:
    """The manifest's version and its ``directory_log`` (version 2 on): the directory log's
    file beside the export, its hash, its counts and the log's head at the export."""
    version = manifest.get("manifest_version", 1)
    if type(version) is not int or version not in (1, MANIFEST_VERSION):
        why = (f"manifest_version is {json.dumps(version)}: this sopflow reads versions 1 "
               f"(events only) and {MANIFEST_VERSION} (events and the directory log)")  # fmt: skip
        raise InvalidData([FieldError(where, "not-in-enum", why)], context="export")
    part = manifest.get("directory_log")
    if part is None:
        if version >= MANIFEST_VERSION:
            why = (f"manifest_version {version} names the directory log's file and head in "
                   "directory_log, which is missing")  # fmt: skip
            raise InvalidData([FieldError(where, "missing-field", why)], context="export")
        return
    if not isinstance(part, dict):
        why = f"directory_log is {json.dumps(part)}, not an object"
        raise InvalidData([FieldError(where, "wrong-type", why)], context="export")
    missing = [k for k in (*_DIRECTORY_TYPES, "head") if k not in part]
    if missing:
        why = f"directory_log lacks {', '.join(missing)}"
        raise InvalidData([FieldError(where, "missing-field", why)], context="export")
    wrong = [f"directory_log.{key} is {json.dumps(part[key])}, not {JSON_KIND[kind]}"
             for key, kind in _DIRECTORY_TYPES.items() if type(part[key]) is not kind]  # fmt: skip
    head = part["head"]
    if head is not None and not (isinstance(head, dict) and type(head.get("seq")) is int
                                 and type(head.get("hash")) is str):  # fmt: skip
        wrong.append(f"directory_log.head is {json.dumps(head)}, not null or an object with a "
                     "whole seq and a text hash")  # fmt: skip
    if wrong:
        raise InvalidData([FieldError(where, "wrong-type", "; ".join(wrong))], context="export")
    name = part["file"]
    if name in ("", ".", "..") or Path(name).name != name:  # only ever read beside the export
        why = f"directory_log.file is {json.dumps(name)}: a file name beside the export, not a path"
        raise InvalidData([FieldError(where, "wrong-type", why)], context="export")


# the manifest's links and counts (null where the export holds no event)
_MANIFEST_TYPES: dict[str, type] = {
    "events": int, "first_chain_seq": int, "first_chain_prev": str, "last_chain_seq": int,
    "last_chain_hash": str, "file_sha256": str, "format": str,
}  # fmt: skip


_DIRECTORY_TYPES: dict[str, type] = {
    "file": str, "file_sha256": str, "entries": int, "redacted_entries": int, "covers": str,
}  # fmt: skip
JSON_KIND = {int: "a whole number", str: "a string"}


def anchor_of(manifest: dict[str, Any]) -> Anchor:
    """The links a manifest anchors and when it was taken: the database's chain head at the
    export (an export of a period, or of nothing, still anchors the whole log), else the
    export's last link (manifests written before the head was recorded); and the directory
    log's head (manifest version 2 on)."""
    where = "manifest"
    head = manifest.get("database_chain_head")
    if head is None:
        link = (int(manifest["last_chain_seq"] or 0), str(manifest["last_chain_hash"] or ""))
    elif (isinstance(head, dict) and type(head.get("chain_seq")) is int
          and isinstance(head.get("chain_hash"), str)):  # fmt: skip
        link = (head["chain_seq"], head["chain_hash"])
    else:
        why = "database_chain_head is not an object with a whole chain_seq and a text chain_hash"
        raise InvalidData([FieldError(where, "wrong-type", why)], context="export")
    directory = _directory_head(manifest.get("directory_log"))
    moment = manifest.get("exported_at")
    if moment is None:
        return Anchor(link, None, directory)
    try:
        taken = datetime.fromisoformat(str(moment))
    except ValueError:
        why = f"exported_at is {json.dumps(moment)}, not an ISO 8601 moment"
        raise InvalidData([FieldError(where, "wrong-type", why)], context="export") from None
    return Anchor(link, taken if taken.tzinfo is not None else taken.replace(tzinfo=UTC),
                  directory)  # fmt: skip


def _directory_head(part: Any) -> tuple[int, str] | None:
    """The directory log's head a manifest recorded: None for a manifest without one (before
    version 2) or whose head row was missing at the export (its checker said so)."""
    head = part.get("head") if isinstance(part, dict) else None
    if head is None:
        return None
    if not (isinstance(head, dict) and type(head.get("seq")) is int
            and isinstance(head.get("hash"), str)):  # fmt: skip
        why = "directory_log.head is not an object with a whole seq and a text hash"
        raise InvalidData([FieldError("manifest", "wrong-type", why)], context="export")
    return head["seq"], head["hash"]

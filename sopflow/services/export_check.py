"""An export checked offline, against its manifest, with no database: what an external
auditor runs on the files ``sopflow audit export`` wrote."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sopflow.domain.chain import Break, ChainVerifier, event_hash
from sopflow.errors import FieldError, InvalidData
from sopflow.services.audit import VerifyReport
from sopflow.services.export_write import CSV_CELLS, EXPORT_COLUMNS, REDACTED, csv_value
from sopflow.text_input import read_text


def check_export(path: Path) -> VerifyReport:
    """Verify an exported file (JSONL or CSV) against its manifest, with no database."""
    try:  # the export itself first: without it, its manifest is beside the point
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidData([FieldError("export", "unreadable", f"{path}: {exc.strerror}")],
                          context="export") from None  # fmt: skip
    manifest = read_manifest(path.with_name(path.name + ".manifest.json"))
    report = VerifyReport()
    if hashlib.sha256(data).hexdigest() != manifest["file_sha256"]:
        report.breaks.append(
            Break("export-altered", f"{path.name} does not match the sha256 in its manifest")
        )
    verifier = ChainVerifier(
        manifest["first_chain_seq"] or 1, manifest["first_chain_prev"] or "0" * 64, partial=True
    )
    if manifest["format"] == "csv" and not _csv_header_ok(data):
        report.breaks.append(Break("export-malformed", f"{path.name} line 1: the header is not "
                                   f"the export's columns ({', '.join(EXPORT_COLUMNS)}), so no "
                                   "line of it can be read as an event"))  # fmt: skip
        return report
    lines = (_csv_lines(data, quoted=manifest.get("csv_cells") == CSV_CELLS)
             if manifest["format"] == "csv" else _jsonl_lines(data))  # fmt: skip
    redacted = lines_read = 0
    for number, read in lines:
        lines_read += 1
        try:  # an altered file is a finding to report, line by line, never a crash
            event = read()
            if event.get("redacted"):  # its content is withheld: its own hash is taken as given
                redacted += 1
                verifier.check(event["reference"], event["seq"], None, event["chain_seq"],
                               event["chain_prev"], event["hash"], event["chain_hash"],
                               event["prev_hash"], event["hash"])  # fmt: skip
            else:
                verifier.feed(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = _why_not_an_event(exc)
            report.breaks.append(Break("export-malformed", f"{path.name} line {number} is not "
                                       f"an exported event ({why})"))  # fmt: skip
    if lines_read != manifest["events"]:
        why = f"holds {lines_read} line(s) but its manifest says {manifest['events']} event(s)"
        report.breaks.append(Break("export-altered", f"{path.name} {why}"))
    if manifest["last_chain_seq"] is not None:
        verifier.finish_head(manifest["last_chain_seq"], manifest["last_chain_hash"])
    report.breaks += _redactions(path.name, manifest, redacted) + verifier.breaks
    report.events = verifier.count
    report.requests = sum(1 for ref in verifier.requests if not ref.startswith(REDACTED))
    return report


def _redactions(name: str, manifest: dict[str, Any], redacted: int) -> list[Break]:
    """Events withheld where the manifest says none were (an export of every SOP), or more
    or fewer than it says: an event's content swapped for its hashes is a way to hide it."""
    if redacted == manifest.get("redacted_events", 0) and (redacted == 0 or manifest.get("scope")):
        return []
    return [Break("export-altered", f"{name} withholds the content of {redacted} event(s); its "
                  f"manifest says {manifest.get('redacted_events', 0)} (scope: "
                  f"{', '.join(manifest.get('scope') or []) or 'every SOP'})")]  # fmt: skip


Line = tuple[int, Callable[[], dict[str, Any]]]


def _jsonl_lines(data: bytes) -> Iterator[Line]:
    for number, line in enumerate(data.splitlines(), start=1):
        yield number, functools.partial(_exported_event, line)


# CSV has no null: an empty cell of these columns is None, or (in logs older than the
# normalisation of empty comments) an empty text; the event's own hash tells which
_NULLABLE = ("from_state", "acting_for", "comment", "reason", "legal_clause", "flow_run_id")
_INTEGERS = ("chain_seq", "id", "seq", "sop_version")


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))


def _csv_header_ok(data: bytes) -> bool:
    return next(_csv_rows(data), None) == list(EXPORT_COLUMNS)


def _csv_lines(data: bytes, quoted: bool) -> Iterator[Line]:
    """The rows of a CSV export after its header, as events. ``quoted``: the export's cells
    were neutralised for spreadsheets (``csv_cell``), which is undone first; an export
    written before that convention (its manifest names none) is read as it is."""
    rows = _csv_rows(data)
    next(rows, None)
    for number, row in enumerate(rows, start=2):
        yield number, functools.partial(_csv_event, row, quoted)


def _csv_event(row: list[str], quoted: bool = False) -> dict[str, Any]:
    if quoted:
        row = [csv_value(cell) for cell in row]
    if len(row) != len(EXPORT_COLUMNS):
        raise ValueError(f"{len(row)} cells, not {len(EXPORT_COLUMNS)}")
    event: dict[str, Any] = dict(zip(EXPORT_COLUMNS, row, strict=True))
    for name in _INTEGERS:
        event[name] = int(event[name]) if event[name] else None
    if str(event["reference"]).startswith(REDACTED):
        return {**event, "redacted": True}
    event["payload"] = json.loads(event["payload"]) if event["payload"] else None
    empty = [n for n in _NULLABLE if event[n] == ""]
    for kept in itertools.chain.from_iterable(
            itertools.combinations(empty, k) for k in range(len(empty) + 1)):  # fmt: skip
        candidate = {**event, **{n: None for n in empty if n not in kept}}
        if event_hash(candidate) == event["hash"]:
            return candidate
    return {**event, **dict.fromkeys(empty)}


# the links every exported event carries, and their JSON types
_LINKS: dict[str, type] = {"reference": str, "seq": int, "chain_seq": int, "hash": str,
                           "chain_hash": str, "prev_hash": str, "chain_prev": str}  # fmt: skip


def _exported_event(line: bytes) -> dict[str, Any]:
    """One line of an export, refused before it reaches the chain (which would count it)
    when it is not an object carrying every link with its type."""
    event = json.loads(line)
    if not isinstance(event, dict):
        raise AttributeError("not an object")
    missing = [c for c in EXPORT_COLUMNS if c not in event]
    if missing:
        raise KeyError(", ".join(missing))
    unknown = sorted(set(event) - _EXPORTED_KEYS)
    if unknown:
        raise ValueError(f"fields no export writes: {', '.join(unknown)}")
    for name, kind in _LINKS.items():
        value = event[name]
        if type(value) is not kind:  # bool is an int to isinstance; not here
            raise TypeError(f"{name} is {json.dumps(value)}, not {_JSON_KIND[kind]}")
    return event


_EXPORTED_KEYS = frozenset((*EXPORT_COLUMNS, "redacted"))
_JSON_KIND = {int: "a whole number", str: "a string"}


def _why_not_an_event(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at column {exc.colno}"
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]}"
    if isinstance(exc, AttributeError):
        return "not a JSON object"
    if isinstance(exc, TypeError):
        return f"a value of the wrong type: {exc}"
    return str(exc)


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
    wrong = [f"{key} is {json.dumps(manifest[key])}, not {_JSON_KIND[kind]}"
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
    return dict(manifest)


# the manifest's links and counts (null where the export holds no event)
_MANIFEST_TYPES: dict[str, type] = {
    "events": int, "first_chain_seq": int, "first_chain_prev": str, "last_chain_seq": int,
    "last_chain_hash": str, "file_sha256": str, "format": str,
}  # fmt: skip


def anchor_of(manifest: dict[str, Any]) -> tuple[tuple[int, str], datetime | None]:
    """The link a manifest anchors and when it was taken: the database's chain head at the
    export (an export of a period, or of nothing, still anchors the whole log), else the
    export's last link (manifests written before the head was recorded)."""
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
    moment = manifest.get("exported_at")
    if moment is None:
        return link, None
    try:
        taken = datetime.fromisoformat(str(moment))
    except ValueError:
        why = f"exported_at is {json.dumps(moment)}, not an ISO 8601 moment"
        raise InvalidData([FieldError(where, "wrong-type", why)], context="export") from None
    return link, taken if taken.tzinfo is not None else taken.replace(tzinfo=UTC)

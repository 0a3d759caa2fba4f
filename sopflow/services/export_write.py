"""An export of the event log for auditors: the events in global chain order (JSONL or
CSV), and a manifest carrying the file's hash and the chain head, so that the export can be
checked on its own (``export_check``) and anchor a later ``audit verify``."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sopflow.domain.chain import canonical_time
from sopflow.errors import FieldError, InvalidData
from sopflow.services.context import Context
from sopflow.store.queries import Reader

BATCH = 20_000
REDACTED = "redacted:"  # the reference of a withheld event: this, then an opaque token
EXPORT_COLUMNS = (
    "chain_seq", "id", "reference", "seq", "trigger", "from_state", "to_state", "actor_id",
    "role", "acting_for", "payload", "comment", "reason", "legal_clause", "sop_id",
    "sop_version", "sop_hash", "at", "flow_run_id", "prev_hash", "hash", "chain_prev",
    "chain_hash",
)  # fmt: skip


def write_export(ctx: Context, target: Path, fmt: str, start: datetime | None = None,
                 end: datetime | None = None,
                 scope: frozenset[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write the events (in chain order) and ``<target>.manifest.json``; return the manifest.

    With ``scope`` (SOP ids), the events of other SOPs are redacted: only their hashes,
    sequence numbers and an opaque request token remain, so the chains of the whole file
    still verify while nothing of those requests is shown."""
    if fmt not in ("jsonl", "csv"):
        raise InvalidData([FieldError("format", "not-in-enum", "use csv or jsonl")],
                          context="export")  # fmt: skip
    digest = hashlib.sha256()
    count, redacted, first, last = 0, 0, None, None
    # a key drawn for this export and never kept: a redacted request's token is the same
    # for all its events in the file, but no one can tell which reference it stands for
    # (an unkeyed hash of a sequential reference is reversed by trying them all)
    token_key = secrets.token_bytes(32)
    with ctx.store.read() as r, _opened(target) as out:
        refs = {h["id"]: h["reference"] for h in r.request_heads()}
        writer = csv.writer(out) if fmt == "csv" else None
        if writer is not None:
            header = _csv_line(EXPORT_COLUMNS)
            out.write(header)
            digest.update(header.encode())
        for ev in _stream(r, start, end):
            ev["reference"] = refs.get(ev["request_id"])
            ev["at"] = canonical_time(ev["at"])
            if scope is not None and ev["sop_id"] not in scope:
                ev = _redacted(ev, token_key)
                redacted += 1
            line = _jsonl_line(ev) if fmt == "jsonl" else _csv_line(
                [csv_cell(json.dumps(ev[c], ensure_ascii=False, sort_keys=True)
                          if c == "payload" and ev[c] is not None else ev[c])
                 for c in EXPORT_COLUMNS])  # fmt: skip
            out.write(line)
            digest.update(line.encode())
            count += 1
            first = first or ev
            last = ev
        head = r.chain_head()
    manifest = {
        "format": fmt, "events": count, "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "first_chain_seq": first["chain_seq"] if first else None,
        "first_chain_prev": first["chain_prev"] if first else None,
        "last_chain_seq": last["chain_seq"] if last else None,
        "last_chain_hash": last["chain_hash"] if last else None,
        "database_chain_head": {"chain_seq": head["chain_seq"],
                                "chain_hash": head["chain_hash"]},
        "scope": sorted(scope) if scope is not None else None, "redacted_events": redacted,
        **({"csv_cells": CSV_CELLS} if fmt == "csv" else {}),
        "file": target.name, "file_sha256": digest.hexdigest(),
        "exported_at": canonical_time(ctx.clock()),
    }  # fmt: skip
    manifest_path = target.with_name(target.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _opened(target: Path) -> TextIO:
    """The export's file, open for writing; a place it cannot be written is bad input."""
    try:
        return target.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise InvalidData([FieldError("output", "unwritable", f"{target}: {why}")],
                          context="export") from None  # fmt: skip


def _stream(r: Reader, start: datetime | None = None,
            end: datetime | None = None) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every event in global chain order, in batches (constant memory)."""
    last = 0
    while True:
        rows = r.events_after(last, BATCH, start, end)
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]


# A CSV cell a spreadsheet would run as a formula (a comment typed as '=HYPERLINK(…)')
# starts with one of these; such a cell, and a cell that already starts with the quote, gets
# a quote in front. The quote is undone exactly (``csv_value``) by the checker, which
# re-hashes the events from their cells; the manifest names the convention (``csv_cells``).
CSV_CELLS = "quote-prefixed"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def csv_cell(value: Any) -> Any:
    """A value as written in a CSV export: text that a spreadsheet would read as a formula
    (or that starts with the quote itself) is prefixed with a quote; nothing else changes."""
    if isinstance(value, str) and value[:1] in (*FORMULA_STARTS, QUOTE):
        return QUOTE + value
    return value


def csv_value(cell: str) -> str:
    """The value a CSV export's cell was written from: ``csv_cell`` undone. A cell that
    starts like a formula was not written so (an export puts a quote before it): an edited
    file that would run it in the auditor's spreadsheet is refused (``ValueError``)."""
    if cell[:1] in FORMULA_STARTS:
        raise ValueError(f"a cell starts with {cell[:1]!r} without the quote an export puts "
                         "before it, so a spreadsheet would run it as a formula")  # fmt: skip
    if cell.startswith(QUOTE):
        if cell[1:2] not in (*FORMULA_STARTS, QUOTE):
            raise ValueError("a cell starts with a quote that an export does not write (only "
                             "before = + - @, a tab, a carriage return or a quote)")  # fmt: skip
        return cell[1:]
    return cell


KEPT_WHEN_REDACTED = ("chain_seq", "seq", "prev_hash", "hash", "chain_prev", "chain_hash")


def _redacted(ev: dict[str, Any], key: bytes) -> dict[str, Any]:
    """An event of an SOP outside the export's scope: the links of the chains and an opaque
    token for its request (the same for all its events), nothing else."""
    token = hmac.new(key, str(ev["reference"]).encode(), hashlib.sha256).hexdigest()[:16]
    kept = {c: ev[c] for c in KEPT_WHEN_REDACTED}
    return dict.fromkeys(EXPORT_COLUMNS) | kept | {"reference": f"{REDACTED}{token}",
                                                        "redacted": True}  # fmt: skip


def _jsonl_line(ev: dict[str, Any]) -> str:
    record = {c: ev[c] for c in EXPORT_COLUMNS} | ({"redacted": True} if ev.get("redacted") else {})
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()

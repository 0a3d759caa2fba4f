"""An export of the event log for auditors: the events in global chain order (JSONL or
CSV), the whole directory log beside them (the licences and roles the events' rules relied
on), and a manifest carrying each file's hash and each chain's head, so that the export can
be checked on its own (``export_check``) and anchor a later ``audit verify``."""

from __future__ import annotations

import contextlib
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
from sopflow.domain.directory_log import USER_ACTIONS, StoredEntry, stored_time
from sopflow.errors import FieldError, InvalidData
from sopflow.services.context import Context
from sopflow.store import directory_log as directory_store
from sopflow.store.queries import Reader

BATCH = 20_000
REDACTED = "redacted:"  # the reference of a withheld event: this, then an opaque token
EXPORT_COLUMNS = (
    "chain_seq", "id", "reference", "seq", "trigger", "from_state", "to_state", "actor_id",
    "role", "acting_for", "payload", "comment", "reason", "legal_clause", "sop_id",
    "sop_version", "sop_hash", "at", "flow_run_id", "prev_hash", "hash", "chain_prev",
    "chain_hash",
)  # fmt: skip
# 2: the manifest names the directory log's file and head (``directory_log``); a manifest
# without ``manifest_version`` is of version 1 (events only)
MANIFEST_VERSION = 2


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
    with ctx.store.snapshot() as r, _opened(target) as out:
        refs = r.request_references()
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
        # read after the events and their head: the log as it then stood, which may hold a
        # change made during the export (dated after the last event), never lack one
        directory = _write_directory(r, target, fmt, redact_users=scope is not None)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
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
        "directory_log": directory,
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


def _jsonl_line(ev: dict[str, Any], columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    record = {c: ev[c] for c in columns} | ({"redacted": True} if ev.get("redacted") else {})
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


# The directory log's file: every field its hash covers (``entry_hash``), ``at`` as its
# canonical text and ``change`` as the canonical JSON text it hashes (JSONL: that text
# decoded). Always the whole log, whatever the events' period: its chain can only be
# checked from its first entry, and a rule's licence may have been recorded long before.
DIRECTORY_COLUMNS = ("seq", "at", "actor", "action", "subject", "change", "prev_hash", "hash")
DIRECTORY_COVERS = "whole-log"  # the manifest's word for that
# a user's entry in an export of some SOPs (names, e-mails and roles of every organisation's
# people are not the auditor's to see): only its links and its kind; an organisation's
# entries, with the licences the rules read, are always given in full
DIRECTORY_KEPT_WHEN_REDACTED = ("seq", "action", "prev_hash", "hash")


def directory_file(target: Path, fmt: str) -> Path:
    """Where the directory log of the export ``target`` goes: ``events.jsonl`` ->
    ``events.directory.jsonl``."""
    return target.with_name(f"{target.name.removesuffix('.' + fmt)}.directory.{fmt}")


def _write_directory(r: Reader, target: Path, fmt: str, redact_users: bool) -> dict[str, Any]:
    """Write the whole directory log beside ``target``; the manifest's ``directory_log``."""
    path = directory_file(target, fmt)
    digest = hashlib.sha256()
    count = redacted = 0
    with _opened(path) as out:

        def write(line: str) -> None:
            out.write(line)
            digest.update(line.encode())

        if fmt == "csv":
            write(_csv_line(DIRECTORY_COLUMNS))
        # the export's snapshot: the entries and the head as of one moment
        log, head = directory_store.stored_entries(r), directory_store.head(r)
        for stored in log:
            entry = _directory_entry(stored, fmt)
            if redact_users and stored.action in USER_ACTIONS:
                kept = {c: entry[c] for c in DIRECTORY_KEPT_WHEN_REDACTED}
                entry = dict.fromkeys(DIRECTORY_COLUMNS) | kept | {"subject": REDACTED,
                                                                   "redacted": True}  # fmt: skip
                redacted += 1
            write(_jsonl_line(entry, DIRECTORY_COLUMNS) if fmt == "jsonl"
                  else _csv_line([csv_cell(entry[c]) for c in DIRECTORY_COLUMNS]))  # fmt: skip
            count += 1
    return {"file": path.name, "file_sha256": digest.hexdigest(), "entries": count,
            "redacted_entries": redacted, "covers": DIRECTORY_COVERS,
            # None: its row was deleted from the database (the checker says so)
            "head": None if head is None else {"seq": head[0], "hash": head[1]}}  # fmt: skip


def _directory_entry(stored: StoredEntry, fmt: str) -> dict[str, Any]:
    """An entry as exported: its stored texts, which are what its hash covers; in JSONL the
    change decoded to its object (a stored text that is none, an edit in the database, is
    kept as the text, which the checker then hashes as it is)."""
    entry = {c: getattr(stored, c) for c in DIRECTORY_COLUMNS} | {"at": stored_time(stored.at)}
    if fmt == "jsonl" and isinstance(stored.change, str):
        with contextlib.suppress(ValueError):
            decoded = json.loads(stored.change)
            if isinstance(decoded, dict):
                entry["change"] = decoded
    return entry

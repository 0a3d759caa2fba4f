"""An export checked offline, against its manifest, with no database: what an external
auditor runs on the files ``sopflow audit export`` wrote (the events, and from manifest
version 2 on the directory log beside them)."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sopflow.domain.chain import GENESIS, Break, ChainVerifier, event_hash
from sopflow.domain.directory_log import (
    USER_ACTIONS,
    StoredEntry,
    entry_hash,
    organisation_timeline,
)
from sopflow.domain.grounds_check import ReliedOn, grounds_breaks, licence_grounds
from sopflow.errors import FieldError, InvalidData
from sopflow.services.export_manifest import JSON_KIND, read_manifest
from sopflow.services.export_write import (
    CSV_CELLS,
    DIRECTORY_COLUMNS,
    EXPORT_COLUMNS,
    REDACTED,
    csv_value,
)
from sopflow.services.verification import VerifyReport
from states.replay import CLOCK_TOLERANCE

DIRECTORY_NOT_EXPORTED = ("the directory log was not part of this export (its manifest "
                          "predates exports carrying it): the licences and roles its events "
                          "relied on are not checked")  # fmt: skip


@dataclass
class ExportReport(VerifyReport):
    """``VerifyReport`` of an export; ``notes``: what was not part of it to check."""

    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | ({"notes": self.notes} if self.notes else {})


def check_export(path: Path) -> ExportReport:
    """Verify an exported file (JSONL or CSV), and the directory log its manifest names
    beside it, against that manifest, with no database."""
    try:  # the export itself first: without it, its manifest is beside the point
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidData([FieldError("export", "unreadable", f"{path}: {exc.strerror}")],
                          context="export") from None  # fmt: skip
    manifest = read_manifest(path.with_name(path.name + ".manifest.json"))
    report = ExportReport()
    relied: list[ReliedOn] = []
    _check_events(path.name, data, manifest, report, relied)
    if manifest.get("directory_log") is None:
        report.notes.append(DIRECTORY_NOT_EXPORTED)
    else:
        entries: list[StoredEntry] = []
        report.directory_entries, found = _check_directory(path, manifest, entries)
        if not found:  # the steps' licence grounds against the log beside them, if it holds
            found = grounds_breaks(relied, organisation_timeline(entries), CLOCK_TOLERANCE)
        report.breaks += found
    return report


def _check_events(name: str, data: bytes, manifest: dict[str, Any], report: VerifyReport,
                  relied: list[ReliedOn]) -> None:  # fmt: skip
    """The events file; the licence grounds of its steps go to ``relied``."""
    if hashlib.sha256(data).hexdigest() != manifest["file_sha256"]:
        report.breaks.append(
            Break("export-altered", f"{name} does not match the sha256 in its manifest")
        )
    verifier = ChainVerifier(
        manifest["first_chain_seq"] or 1, manifest["first_chain_prev"] or "0" * 64, partial=True
    )
    if manifest["format"] == "csv" and not _csv_header_ok(data, EXPORT_COLUMNS):
        report.breaks.append(Break("export-malformed", f"{name} line 1: the header is not "
                                   f"the export's columns ({', '.join(EXPORT_COLUMNS)}), so no "
                                   "line of it can be read as an event"))  # fmt: skip
        return
    lines = (_csv_lines(data, manifest.get("csv_cells") == CSV_CELLS, _csv_event)
             if manifest["format"] == "csv" else _jsonl_lines(data, _exported_event))  # fmt: skip
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
                relied += _licence_grounds(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = _why_not_an_event(exc)
            report.breaks.append(Break("export-malformed", f"{name} line {number} is not "
                                       f"an exported event ({why})"))  # fmt: skip
    if lines_read != manifest["events"]:
        why = f"holds {lines_read} line(s) but its manifest says {manifest['events']} event(s)"
        report.breaks.append(Break("export-altered", f"{name} {why}"))
    if manifest["last_chain_seq"] is not None:
        verifier.finish_head(manifest["last_chain_seq"], manifest["last_chain_hash"])
    report.breaks += _redactions(name, manifest, redacted) + verifier.breaks
    report.events = verifier.count
    report.requests = sum(1 for ref in verifier.requests if not ref.startswith(REDACTED))


def _licence_grounds(event: dict[str, Any]) -> list[ReliedOn]:
    """An exported step's licence grounds (none for a time that is none: the event's hash
    has said so already)."""
    try:
        at = datetime.fromisoformat(str(event["at"]))
    except ValueError:
        return []
    return licence_grounds(event["reference"], event["seq"], at, event["payload"])


def _redactions(name: str, manifest: dict[str, Any], redacted: int) -> list[Break]:
    """Events withheld where the manifest says none were (an export of every SOP), or more
    or fewer than it says: an event's content swapped for its hashes is a way to hide it."""
    if redacted == manifest.get("redacted_events", 0) and (redacted == 0 or manifest.get("scope")):
        return []
    return [Break("export-altered", f"{name} withholds the content of {redacted} event(s); its "
                  f"manifest says {manifest.get('redacted_events', 0)} (scope: "
                  f"{', '.join(manifest.get('scope') or []) or 'every SOP'})")]  # fmt: skip


Line = tuple[int, Callable[[], dict[str, Any]]]


def _jsonl_lines(data: bytes, read: Callable[[bytes], dict[str, Any]]) -> Iterator[Line]:
    for number, line in enumerate(data.splitlines(), start=1):
        yield number, functools.partial(read, line)


# CSV has no null: an empty cell of these columns is None, or (in logs older than the
# normalisation of empty comments) an empty text; the event's own hash tells which
_NULLABLE = ("from_state", "acting_for", "comment", "reason", "legal_clause", "flow_run_id")
_INTEGERS = ("chain_seq", "id", "seq", "sop_version")


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))


def _csv_header_ok(data: bytes, columns: tuple[str, ...]) -> bool:
    return next(_csv_rows(data), None) == list(columns)


def _csv_lines(data: bytes, quoted: bool,
               read: Callable[[list[str], bool], dict[str, Any]]) -> Iterator[Line]:  # fmt: skip
    """The rows of a CSV file after its header, as events or entries. ``quoted``: the
    export's cells were neutralised for spreadsheets (``csv_cell``), which is undone first;
    an export written before that convention (its manifest names none) is read as it is."""
    rows = _csv_rows(data)
    next(rows, None)
    for number, row in enumerate(rows, start=2):
        yield number, functools.partial(read, row, quoted)


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


def _json_object(line: bytes, columns: tuple[str, ...], known: frozenset[str]) -> dict[str, Any]:
    """A line of an export file as the object it must be: every one of ``columns``, no key
    outside ``known`` (the errors are read as a malformed line, ``_why_not_an_event``)."""
    found = json.loads(line)
    if not isinstance(found, dict):
        raise AttributeError("not an object")
    missing = [c for c in columns if c not in found]
    if missing:
        raise KeyError(", ".join(missing))
    unknown = sorted(set(found) - known)
    if unknown:
        raise ValueError(f"fields no export writes: {', '.join(unknown)}")
    return found


def _exported_event(line: bytes) -> dict[str, Any]:
    """One line of an export, refused before it reaches the chain (which would count it)
    when it is not an object carrying every link with its type."""
    event = _json_object(line, EXPORT_COLUMNS, _EXPORTED_KEYS)
    for name, kind in _LINKS.items():
        value = event[name]
        if type(value) is not kind:  # bool is an int to isinstance; not here
            raise TypeError(f"{name} is {json.dumps(value)}, not {JSON_KIND[kind]}")
    return event


_EXPORTED_KEYS = frozenset((*EXPORT_COLUMNS, "redacted"))


def _why_not_an_event(exc: Exception) -> str:
    """Why a line could not be read (as an event, or as a directory log entry)."""
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


def _check_directory(export: Path, manifest: dict[str, Any],
                     into: list[StoredEntry]) -> tuple[int, list[Break]]:  # fmt: skip
    """The directory log's file against the manifest's ``directory_log``: its hash, every
    entry re-hashed and linked from the log's first entry (the file holds the whole log),
    its end against the head at the export; (entries checked, breaks in line order). The
    entries read go ``into`` that list."""
    part = manifest["directory_log"]
    name = part["file"]
    try:
        data = export.with_name(name).read_bytes()
    except OSError as exc:
        return 0, [Break("export-altered", f"{name}, the directory log {export.name}'s "
                         f"manifest names, cannot be read beside it: {exc.strerror}")]  # fmt: skip
    breaks = []
    if hashlib.sha256(data).hexdigest() != part["file_sha256"]:
        breaks.append(Break("export-altered", f"{name} does not match the sha256 in its manifest"))
    if manifest["format"] == "csv" and not _csv_header_ok(data, DIRECTORY_COLUMNS):
        breaks.append(Break("export-malformed", f"{name} line 1: the header is not the "
                            f"directory log's columns ({', '.join(DIRECTORY_COLUMNS)}), so no "
                            "line of it can be read as an entry"))  # fmt: skip
        return 0, breaks
    lines = (_csv_lines(data, manifest.get("csv_cells") == CSV_CELLS, _csv_entry)
             if manifest["format"] == "csv" else _jsonl_lines(data, _exported_entry))  # fmt: skip
    expected, prev, count, redacted, lines_read = 1, GENESIS, 0, 0, 0
    for number, read in lines:
        lines_read += 1
        try:
            entry = read()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            breaks.append(Break("export-malformed", f"{name} line {number} is not an exported "
                                f"directory log entry ({_why_not_an_event(exc)})"))  # fmt: skip
            continue
        breaks += _entry_breaks(f"{name} line {number}", entry, expected, prev)
        into.append(StoredEntry(*(entry[c] for c in DIRECTORY_COLUMNS)))
        count, redacted = count + 1, redacted + bool(entry.get("redacted"))
        expected, prev = entry["seq"] + 1, entry["hash"]
    if lines_read != part["entries"]:
        breaks.append(Break("export-altered", f"{name} holds {lines_read} line(s) but its "
                            f"manifest says {_entries(part['entries'])}"))  # fmt: skip
    if redacted != part["redacted_entries"]:
        said = part["redacted_entries"]
        breaks.append(Break("export-altered", f"{name} withholds the content of "
                            f"{_entries(redacted)}; its manifest says {said}"))  # fmt: skip
    return count, breaks + _directory_end(name, (expected - 1, prev), part["head"])


def _entry_breaks(line: str, entry: dict[str, Any], expected: int, prev: str) -> list[Break]:
    """One entry re-hashed (a withheld one: its hash taken as given, and only a user's may
    be withheld) and its link to the entry before it."""
    seq, action = entry["seq"], entry["action"]
    withheld = bool(entry.get("redacted"))
    subject = "withheld" if withheld else entry["subject"]
    where = f"{line}: directory log entry #{seq} ({action} {subject})"
    breaks = []
    if withheld:
        if action not in USER_ACTIONS:
            breaks.append(Break("export-altered", f"{where}: the content of a {action} entry "
                                "is withheld, and an export withholds only users' entries",
                                seq=seq))  # fmt: skip
    elif entry_hash(seq, entry["at"], entry["actor"], action, entry["subject"], entry["change"],
                    entry["prev_hash"]) != entry["hash"]:  # fmt: skip
        breaks.append(Break("directory-altered", f"{where}: its content does not match its "
                            "hash (edited after it was written)", seq=seq))  # fmt: skip
    if seq != expected:
        why = ("the entries between are missing" if seq > expected
               else "entries are repeated or moved")  # fmt: skip
        breaks.append(Break("directory-link-broken", f"{where} follows #{expected - 1}: {why}",
                            seq=seq))  # fmt: skip
    elif entry["prev_hash"] != prev:
        breaks.append(Break("directory-link-broken", f"{where}: its prev_hash is not the hash "
                            "of the entry before it (an entry before it was removed, inserted "
                            "or rewritten)", seq=seq))  # fmt: skip
    return breaks


def _directory_end(name: str, end: tuple[int, str], head: dict[str, Any] | None) -> list[Break]:
    """The file's last link against the directory log's head at the export."""
    if head is None:
        return [Break("directory-head-mismatch", f"{name}: its manifest records no directory "
                      "log head: the database's head row (chain_head row 2) was missing at "
                      "the export", seq=end[0])]  # fmt: skip
    seq, last = head["seq"], head["hash"]
    if end == (seq, last):
        return []
    if end[0] < seq:
        why = (f"the file lacks the newest {_entries(seq - end[0])} (it was cut short, or the "
               "log was, in the database, before the export)")  # fmt: skip
    elif end[0] > seq:
        why = f"the file goes on {_entries(end[0] - seq)} beyond the head"
    else:
        why = "its newest entry was rewritten"
    return [Break("directory-head-mismatch", f"{name} ends at #{end[0]} ({end[1][:16]}…) but "
                  f"its manifest's directory log head is #{seq} ({last[:16]}…): {why}",
                  seq=end[0])]  # fmt: skip


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


# what every exported entry carries, and their JSON types (a withheld entry: only its links
# and its action; the rest null); ``change``: an object, or the stored text when it was none
_ENTRY_LINKS: dict[str, type] = {"seq": int, "action": str, "prev_hash": str, "hash": str}
_ENTRY_CONTENT: dict[str, type] = {"at": str, "actor": str, "subject": str}
_ENTRY_KEYS = frozenset((*DIRECTORY_COLUMNS, "redacted"))


def _exported_entry(line: bytes) -> dict[str, Any]:
    """One line of the directory log's JSONL file, refused when it is not an object
    carrying every field with its type."""
    entry = _json_object(line, DIRECTORY_COLUMNS, _ENTRY_KEYS)
    withheld = entry.get("redacted") is True
    kinds = _ENTRY_LINKS if withheld else _ENTRY_LINKS | _ENTRY_CONTENT
    for name, kind in kinds.items():
        if type(entry[name]) is not kind:  # bool is an int to isinstance; not here
            raise TypeError(f"{name} is {json.dumps(entry[name])}, not {JSON_KIND[kind]}")
    if withheld and any(entry[c] is not None for c in ("at", "actor", "change")):
        raise ValueError("a withheld entry that carries content")
    if not withheld and not isinstance(entry["change"], (dict, str)):
        raise TypeError(f"change is {json.dumps(entry['change'])}, not an object")
    return entry


def _csv_entry(row: list[str], quoted: bool) -> dict[str, Any]:
    """One row of the directory log's CSV file: ``change`` is the very text it hashes."""
    if quoted:
        row = [csv_value(cell) for cell in row]
    if len(row) != len(DIRECTORY_COLUMNS):
        raise ValueError(f"{len(row)} cells, not {len(DIRECTORY_COLUMNS)}")
    entry: dict[str, Any] = dict(zip(DIRECTORY_COLUMNS, row, strict=True))
    entry["seq"] = int(entry["seq"])
    return entry | ({"redacted": True} if entry["subject"] == REDACTED else {})

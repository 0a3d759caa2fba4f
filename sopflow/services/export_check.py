"""An export checked offline, against its manifest, with no database: what an external
auditor runs on the files ``sopflow audit export`` wrote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sopflow.domain.chain import Break, ChainVerifier
from sopflow.errors import FieldError, InvalidData
from sopflow.services.audit import VerifyReport
from sopflow.text_input import read_text


def check_export(path: Path) -> VerifyReport:
    """Verify an exported JSONL file against its manifest, with no database."""
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
    if manifest["format"] != "jsonl":
        return report
    verifier = ChainVerifier(
        manifest["first_chain_seq"] or 1, manifest["first_chain_prev"] or "0" * 64, partial=True
    )
    for number, line in enumerate(data.splitlines(), start=1):
        try:  # an altered file is a finding to report, line by line, never a crash
            event = _exported_event(line)
            if event.get("redacted"):  # its content is withheld: its own hash is taken as given
                verifier.check(event["reference"], event["seq"], None, event["chain_seq"],
                               event["chain_prev"], event["hash"], event["chain_hash"],
                               event["prev_hash"], event["hash"])  # fmt: skip
            else:
                verifier.feed(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = _why_not_an_event(exc)
            report.breaks.append(Break("export-malformed", f"{path.name} line {number} is not "
                                       f"an exported event ({why})"))  # fmt: skip
    if manifest["last_chain_seq"] is not None:
        verifier.finish_head(manifest["last_chain_seq"], manifest["last_chain_hash"])
    report.events, report.breaks = verifier.count, report.breaks + verifier.breaks
    report.requests = len(verifier.requests)
    return report


# the links every exported event carries, and their JSON types
_LINKS: dict[str, type] = {"reference": str, "seq": int, "chain_seq": int, "hash": str,
                           "chain_hash": str, "prev_hash": str, "chain_prev": str}  # fmt: skip


def _exported_event(line: bytes) -> dict[str, Any]:
    """One line of an export, refused before it reaches the chain (which would count it)
    when it is not an object carrying every link with its type."""
    event = json.loads(line)
    if not isinstance(event, dict):
        raise AttributeError("not an object")
    for name, kind in _LINKS.items():
        value = event[name]
        if type(value) is not kind:  # bool is an int to isinstance; not here
            raise TypeError(f"{name} is {json.dumps(value)}, not {_JSON_KIND[kind]}")
    return event


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
    return f"a value of the wrong type: {exc}"


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
    return dict(manifest)

"""Downloads: a request's history (CSV or JSON) for whoever may see the request, and the
audit log for external auditors, from the web: a zip of the export file, the directory
log's file and their manifest (both chains' heads and the files' SHA-256, so that
``sopflow audit check-export`` verifies them offline). An auditor gets the events of the
SOPs they audit in full and the others redacted to their hashes, so the chains of the whole
file still verify; likewise the directory log's organisations in full, its users' entries
redacted to their hashes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from sopflow.errors import CommandRejected, FieldError, InvalidData, SopflowError
from sopflow.services import Services
from sopflow.web import files
from sopflow.web.api import Caller, Svc
from sopflow.web.display import grounds
from sopflow.web.files import attachment
from sopflow.web.i18n import t
from sopflow.web.pages import TEMPLATES, Email, _lang, _render, _services, session_user
from sopflow.web.refusals import explain
from sopflow.web.validation import Day, api_get
from states.machine import CompiledSop

router = APIRouter()
Format = Literal["jsonl", "csv"]


class NotAnAuditor(CommandRejected):
    code = "forbidden"


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    if start and end and end < start:
        raise InvalidData([FieldError("to", "out-of-range", f"{end} is before {start}")],
                          context="export")  # fmt: skip
    first = datetime.combine(start, time.min, tzinfo=UTC) if start else None
    last = datetime.combine(end, time.max, tzinfo=UTC) if end else None
    return first, last


def export_zip(services: Services, email: str, fmt: Format, start: date | None,
               end: date | None) -> FileResponse:  # fmt: skip
    """Export what ``email`` may audit into a zip; refuse anyone who audits nothing."""
    scope = services.audit.auditor_scope(email)
    if not scope:
        raise NotAnAuditor("the audit log export is for auditors")
    first, last = _bounds(start, end)
    folder = Path(tempfile.mkdtemp(prefix="sopflow-export-"))
    target = folder / f"sopflow-events.{fmt}"
    manifest = services.audit.export(target, fmt, first, last, scope=scope)
    bundle = folder / f"sopflow-audit-{services.ctx.clock():%Y%m%dT%H%M%SZ}.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (target.name, manifest["directory_log"]["file"],
                     target.name + ".manifest.json"):  # fmt: skip
            archive.write(folder / name, name)
    return FileResponse(bundle, media_type="application/zip", filename=bundle.name,
                        background=BackgroundTask(shutil.rmtree, folder, True))  # fmt: skip


@api_get(router, "/api/v1/audit/export", tags=["audit"], response_class=FileResponse,
         responses={200: {"content": {"application/zip": {}}}})  # fmt: skip
def api_export(
    member: Caller,
    services: Svc,
    fmt: Annotated[Format, Query(alias="format")] = "jsonl",
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
) -> FileResponse:
    """The event log (events of SOPs the caller does not audit are redacted to their hashes)
    and its manifest, zipped; check it offline with ``sopflow audit check-export``."""
    return export_zip(services, member.email, fmt, start, end)


def export_allowed(request: Request) -> bool:
    """Whether the signed-in user audits an SOP (the navigation shows the export link)."""
    email = session_user(request)
    try:
        return bool(email and _services(request).audit.auditor_scope(str(email)))
    except SopflowError:
        return False


TEMPLATES.env.globals["export_allowed"] = export_allowed  # base.html: the navigation link


@router.get("/audit/export", response_model=None, include_in_schema=False)
def export_page(request: Request, email: Email, format: str = "", start: str = "",
                end: str = "") -> Response:  # fmt: skip
    """The export form; with a format chosen, the download."""
    services = _services(request)
    scope = services.audit.auditor_scope(email)
    if not scope:
        return _render(request, "error.html", 403, error=t("auditors_only", _lang(request)))
    lang = _lang(request)
    titles = sorted(services.sops.catalogue.get(s).spec.title.get(lang) for s in scope)
    form: dict[str, Any] = {"start": start, "end": end, "format": format, "scope": titles}
    if format not in ("jsonl", "csv"):
        return _render(request, "export.html", **form)
    try:
        return export_zip(services, email, format, _day(start), _day(end))  # type: ignore[arg-type]
    except (ValueError, InvalidData) as exc:
        why = "end_before_start" if isinstance(exc, InvalidData) else "not_a_date"
        return _render(request, "export.html", 422, error=t(why, lang), **form)


def _day(text: str) -> date | None:
    """YYYY-MM-DD only, as the form says (Python also reads 20261201 and 2026-W49-1)."""
    if not text:
        return None
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"{text!r} is not YYYY-MM-DD")
    return date.fromisoformat(text)


# The history CSV for people: the columns of the codes (stable, in this order), then the
# SOP's labels of those codes in the reader's language. The header row is in the reader's
# language too; a program reads the columns by position (docs/audit.md) or takes the JSON.
HISTORY_COLUMNS = ("seq", "at", "trigger", "from_state", "to_state", "actor", "role",
                   "acting_for", "reason", "comment", "legal_clause", "legal_citation",
                   "sop_version", "hash")  # fmt: skip
HISTORY_LABEL_COLUMNS = ("step", "from_state_label", "to_state_label", "role_label",
                         "reason_label", "grounds")  # fmt: skip
# sopflow's own steps, which no SOP labels, are said as words.yaml's step_<trigger>; the
# header row's words are its csv_<column>
OWN_STEPS = ("create", "attach", "breach")
BOM = "\ufeff"  # spreadsheet programs read the file as UTF-8 (Arabic, accents) only with it


def history_csv(history: dict[str, Any], sop: CompiledSop, lang: str) -> str:
    """The history as a spreadsheet file for people: a byte-order mark, the header in
    ``lang``, one row per step with its codes and then their labels; no cell runs as a
    formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(f"csv_{c}", lang) for c in (*HISTORY_COLUMNS, *HISTORY_LABEL_COLUMNS)])
    reasons = {r.id: r.label.get(lang) for r in sop.spec.reason_codes}
    for event in history["events"]:
        labels = _labels(event, sop, lang, reasons)
        writer.writerow([_cell(v) for v in (*(event[c] for c in HISTORY_COLUMNS), *labels)])
    return BOM + out.getvalue()


def _labels(event: dict[str, Any], sop: CompiledSop, lang: str,
            reasons: dict[str, str]) -> tuple[str, ...]:  # fmt: skip
    """The SOP's words for the step, its stages, role and reason (as the request page
    names them; a code the SOP does not label stays a code)."""
    trigger, source, target = event["trigger"], event["from_state"], event["to_state"]
    transition = sop.by_state.get(source or "", {}).get(trigger)
    if transition is not None:
        step = transition.label.get(lang)
    elif trigger in OWN_STEPS:
        step = t(f"step_{trigger}", lang)
    else:
        step = trigger
    role = sop.roles[event["role"]].title.get(lang) if event["role"] in sop.roles else ""
    reason = event["reason"] or ""
    relied_on = "; ".join(grounds(g, lang) for g in (event["payload"] or {}).get("grounds", []))
    return (step, sop.states[source].label.get(lang) if source in sop.states else "",
            sop.states[target].label.get(lang) if target in sop.states else target,
            role or event["role"] or "", reasons.get(reason, reason), relied_on)  # fmt: skip


def _refused(request: Request, exc: SopflowError) -> Response:
    status = {"not-found": 404, "storage-error": 503, "document-altered": 503}.get(exc.code, 400)
    return _render(request, "error.html", status,
                   error=explain(exc.to_dict(), _lang(request)).summary)  # fmt: skip


@router.get("/requests/{reference}/documents/{sha256}", response_model=None,
            include_in_schema=False)  # fmt: skip
def document_download(request: Request, reference: str, sha256: str, email: Email) -> Response:
    """A document of a request, for whoever may see the request (the officials who review
    the file, the requester, the auditors)."""
    try:
        return files.document(_services(request), reference, sha256, email)
    except SopflowError as exc:
        return _refused(request, exc)


@router.get("/requests/{reference}/history.{fmt}", response_model=None, include_in_schema=False)
def history_download(request: Request, reference: str, fmt: str, email: Email) -> Response:
    """The request's whole history, for the requester's files or an auditor's working
    papers: JSON (every step; the notices they caused for officials and auditors only, and
    an official who acted named to them only, the requester reading the office in the
    page's language, as the request page shows them: ``Audit.history``) or CSV (one row
    per step)."""
    if fmt not in ("json", "csv"):
        return _render(request, "error.html", 404, error=t("no_such_page", _lang(request)))
    try:
        history = _services(request).audit.history(reference, email, _lang(request))
    except SopflowError as exc:
        return _refused(request, exc)
    name = f"{reference}-history.{fmt}"
    headers = {"Content-Disposition": attachment(name)}
    if fmt == "json":
        body = json.dumps(history, ensure_ascii=False, indent=2, default=str)
        return Response(body, media_type="application/json", headers=headers)
    try:
        sop = _services(request).sops.pinned(history["sop_id"], history["sop_version"],
                                             history["sop_hash"])  # fmt: skip
    except SopflowError as exc:
        return _refused(request, exc)
    body = history_csv(history, sop, _lang(request))
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _cell(value: Any) -> Any:
    """A spreadsheet cell that cannot run as a formula (a comment typed as '=HYPERLINK(…)'
    is shown as text): OWASP's advice for CSV files opened in spreadsheet programs."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

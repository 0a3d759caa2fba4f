"""The Prefect flows that run sopflow. Thin shells: every rule lives in the services.

Each flow run's outcome travels in its final state's message as JSON (``{"result": ...}``
or ``{"error": ...}``), so a caller (in-process or through a deployment on a worker) gets
the outcome or the precise rejection without Prefect result persistence. A rejected command
is a normal outcome: a Completed run named ``Rejected`` carrying the refusal (never retried,
never logged by a worker as a crash); a failure (an ``AdapterError``) is a Failed run, and a
database that is briefly unavailable (a retryable one) is tried again first.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from sopflow import bootstrap
from sopflow.errors import AdapterError, FieldError, InvalidData, SopflowError
from sopflow.services import Services
from sopflow.text_input import strict_json
from workflows import commands

CHUNK = 200


def _run_id() -> str | None:
    value = flow_run.id
    return str(value) if value else None


def _done(result: dict[str, Any]) -> State[Any]:
    return Completed(message=json.dumps({"result": result}, default=str))


def _rejected(error: SopflowError) -> State[Any]:
    """The run's final state for an error. A refusal (a command that may not be applied,
    invalid data, an unknown request) is a normal outcome: a Completed state named
    ``Rejected`` carrying it, so that a worker does not log it as a crash with a traceback
    and Prefect never retries it. A failure (the database, the document store, the
    configuration) is a Failed run."""
    message = json.dumps({"error": error.to_dict()}, default=str)
    if isinstance(error, AdapterError):
        return Failed(message=message)
    return Completed(name=REJECTED, message=message)


REJECTED = "Rejected"  # the name of a Completed state that carries a refusal

# where a flow run of a deployment finds the database and folders: the worker runs it in a
# temporary folder it deletes afterwards, so a relative path there would be another file
_PATH_VARIABLES = ("SOPFLOW_DATABASE_URL", "SOPFLOW_DATA_DIR", "SOPFLOW_DOCUMENTS_DIR",
                   "SOPFLOW_OUTBOX_DIR", "SOPFLOW_SOP_DIR")  # fmt: skip


def worker_paths_problem(env: dict[str, str]) -> str | None:
    """Why a flow run on a worker cannot trust its paths (a relative or missing one, a SQLite
    database that does not exist), or None. ``sopflow worker`` exports absolute paths."""
    import sqlalchemy as sa

    problems = []
    url = env.get("SOPFLOW_DATABASE_URL")
    if not url:
        problems.append("SOPFLOW_DATABASE_URL is not set (the default ./sopflow.db would be "
                        "a new, empty database in the run's temporary folder)")  # fmt: skip
    else:
        try:
            parsed: sa.URL | None = sa.make_url(url)
        except sa.exc.ArgumentError:
            parsed = None  # refused precisely where the engine is made
        database = (parsed.database or "") if parsed is not None else ""
        if parsed is not None and parsed.get_backend_name() == "sqlite" and database \
                and not database.startswith("file:") and database != ":memory:":  # fmt: skip
            if not Path(database).is_absolute():
                problems.append(f"SOPFLOW_DATABASE_URL names the relative path {database}")
            elif not Path(database).exists():
                problems.append(f"the SQLite database {database} does not exist on this "
                                "machine (a worker never creates one: run 'sopflow db "
                                "upgrade' where it belongs, or point at the web processes' "
                                "database)")  # fmt: skip
    if not env.get("SOPFLOW_DATA_DIR") and not env.get("SOPFLOW_DOCUMENTS_DIR"):
        problems.append("neither SOPFLOW_DOCUMENTS_DIR nor SOPFLOW_DATA_DIR is set")
    channel = env.get("SOPFLOW_NOTIFY_CHANNEL", "file")
    if channel == "file" and not env.get("SOPFLOW_OUTBOX_DIR"):
        problems.append(
            "SOPFLOW_NOTIFY_CHANNEL is file and SOPFLOW_OUTBOX_DIR is not set "
            "(notices would be written into ./outbox of the temporary folder)"
        )
    for name in _PATH_VARIABLES[1:]:
        value = env.get(name)
        if value and not Path(value).expanduser().is_absolute():
            problems.append(f"{name}={value} is a relative path")
    if not problems:
        return None
    return (
        "this flow run runs on a worker, in a temporary folder it deletes afterwards: "
        + "; ".join(problems)
        + ". Start workers with 'sopflow worker' (it exports "
        "absolute paths to its runs), with the settings of docs/deploy.md step 4"
    )


def _of_a_deployment() -> bool:
    """Whether this flow run belongs to a deployment (so a worker runs it); read from the
    run's context, not asked of the API."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    run = getattr(ctx, "flow_run", None)
    return getattr(run, "deployment_id", None) is not None


def _services() -> Services:
    """The services, after checking that a run of a deployment (on a worker) uses the same
    database and folders as everyone else, not files of its temporary folder."""
    if _of_a_deployment():
        import os

        problem = worker_paths_problem(dict(os.environ))
        if problem is not None:
            raise AdapterError(problem, code="configuration-error")
    return bootstrap.services()


ATTEMPTS = 3  # for a database that is briefly unavailable


@flow(name="advance-request", persist_result=False, validate_parameters=False)
def advance_request(command: dict[str, Any]) -> State[Any]:
    """One command (submit, act, attach) as one flow run; the event records the run's id.

    A retryable failure (the database briefly unavailable) is tried again here, with the
    command's idempotency key making that safe; a rejection is final. (Flow-level retries
    would retry every Failed final state, rejections included: Prefect 3 has no retry
    condition for flows.)"""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            services = _services()
            spec = commands.parse(command)
            result = commands.apply(services, spec, _run_id())
        except AdapterError as exc:
            if exc.retryable and attempt < ATTEMPTS:
                time.sleep(0.5 * attempt)
                continue
            return _rejected(exc)
        except SopflowError as exc:
            return _rejected(exc)
        return _done(result.to_dict())
    raise AssertionError("unreachable")  # pragma: no cover


@task(name="apply-chunk", persist_result=False)
def apply_chunk(
    lines: list[tuple[int, dict[str, Any]]], run_id: str | None
) -> list[dict[str, Any]]:
    """Each command in its own transaction; a failure is reported and the rest go on."""
    services = _services()
    report = []
    for number, raw in lines:
        try:
            spec = commands.parse(raw, where=f"line {number}")
            result = commands.apply(services, spec, run_id)
            report.append({"line": number, "ok": True, **result.to_dict()})
        except SopflowError as exc:
            report.append({"line": number, "ok": False, "error": exc.to_dict()})
    return report


def prepare_batch(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The commands of a JSONL file, ready to apply: each line without a key gets one derived
    from the file and its number (a re-run applies nothing twice), documents named by
    ``path`` go to the document store. Lines that cannot be commands are reported."""
    services = _services()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    prepared: list[tuple[int, dict[str, Any]]] = []
    early: list[dict[str, Any]] = []
    for number, raw in read_batch(path):
        try:
            if not isinstance(raw, dict) or raw.get("command") == "invalid":
                reason = raw.get("error") if isinstance(raw, dict) else "not a JSON object"
                raise InvalidData([FieldError("json", "malformed-json", str(reason))],
                                  context=f"line {number}")  # fmt: skip
            raw.setdefault("idempotency_key", f"import:{digest}:{number}")
            spec = commands.parse(raw, where=f"line {number}")
            commands.store_documents(services, spec, path.parent)
            prepared.append((number, spec.model_dump(by_alias=True, mode="json")))
        except SopflowError as exc:
            early.append({"line": number, "ok": False, "error": exc.to_dict()})
    return prepared, early


def summarise(report: list[dict[str, Any]]) -> dict[str, Any]:
    return {"commands": len(report),
            "applied": sum(1 for r in report if r["ok"] and not r.get("replayed")),
            "already_applied": sum(1 for r in report if r["ok"] and r.get("replayed")),
            "failed": [r for r in report if not r["ok"]]}  # fmt: skip


@flow(name="process-commands", persist_result=False, validate_parameters=False)
def process_commands(lines: list[tuple[int, dict[str, Any]]] | None = None,
                     path: str | None = None, chunk_size: int = CHUNK) -> State[Any]:  # fmt: skip
    """A batch in one flow run, in chunks (one task each; tasks are not the audit trail).

    ``path``: a JSONL file the run reads itself (a worker needs it on a shared folder; flow
    parameters are limited to 512 KB); ``lines``: a small batch given inline."""
    run_id = _run_id()
    report: list[dict[str, Any]] = []
    try:
        _services()
    except AdapterError as exc:
        return _rejected(exc)
    if path is not None:
        lines, report = prepare_batch(Path(path))
    lines = lines or []
    for start in range(0, len(lines), chunk_size):
        report += apply_chunk(lines[start : start + chunk_size], run_id)
    return _done(summarise(sorted(report, key=lambda r: r["line"])))


@flow(name="sla-sweep", persist_result=False)
def sla_sweep(limit: int = 500) -> State[Any]:
    """Record every passed deadline once and apply the SOP's breach action."""
    try:
        services = _services()
    except AdapterError as exc:
        return _rejected(exc)
    report = services.deadlines.sweep(flow_run_id=_run_id(), limit=limit)
    return _done(report.to_dict())


@flow(name="deliver-notifications", persist_result=False)
def deliver_notifications(limit: int = 200) -> State[Any]:
    """Drain the outbox: send what is due, retry with backoff, dead-letter the rest."""
    try:
        notices = _services().notices
        notices.channel  # noqa: B018 - a misconfigured channel refuses the run, sends nothing
    except AdapterError as exc:
        return _rejected(exc)
    report = notices.deliver(limit)
    return _done(report.to_dict())


@flow(name="audit-verify", persist_result=False)
def audit_verify(reference: str | None = None) -> State[Any]:
    """Verify the hash chains (all, or one request's); a summary artifact for the UI."""
    try:
        report = _services().audit.verify(reference)
    except SopflowError as exc:
        return _rejected(exc)
    lines = [f"**{'intact' if report.intact else 'NOT INTACT'}**: {report.events} event(s) in "
             f"{report.requests} request(s)"]  # fmt: skip
    lines += [f"- `{b.code}` {b.message}" for b in report.breaks[:50]]
    create_markdown_artifact("\n".join(lines), key="audit-verify",
                             description="sopflow hash-chain verification")  # fmt: skip
    if report.intact:
        return _done(report.to_dict())
    return Failed(message=json.dumps({"result": report.to_dict()}))


@flow(name="audit-replay", persist_result=False)
def audit_replay(references: list[str], auditor: str) -> State[Any]:
    """Replay requests from their events; list every difference from the stored state."""
    services = _services()
    rows = []
    for reference in references:
        try:
            result = services.audit.replay(reference, auditor)
            rows.append({"reference": reference, "state": result["state"],
                         "consistent": result["consistent"],
                         "differences": "; ".join(result["differences"])})  # fmt: skip
        except SopflowError as exc:
            rows.append({"reference": reference, "state": "", "consistent": False,
                         "differences": f"{exc.code}: {exc.message}"})  # fmt: skip
    table = "\n".join(f"| {r['reference']} | {r['state']} | {r['consistent']} | "
                      f"{r['differences']} |" for r in rows)  # fmt: skip
    create_markdown_artifact("| request | state | consistent | differences |\n|---|---|---|---|\n"
                             + table, key="audit-replay")  # fmt: skip
    return _done({"requests": rows, "consistent": all(r["consistent"] for r in rows)})


def outcome_of(state: State[Any]) -> dict[str, Any]:
    """The JSON a flow put in its final state's message."""
    try:
        return dict(json.loads(state.message or "{}"))
    except json.JSONDecodeError:
        return {"error": {"code": "flow-failed", "message": state.message or str(state.type)}}


def read_batch(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, command) for each non-empty line of a JSONL file; bad JSON is an error
    for that line (reported, the others go on), kept as an invalid command."""
    lines = []
    for number, text in enumerate(commands.batch_lines(path), start=1):
        if not text.strip():
            continue
        try:
            lines.append((number, strict_json(text)))
        except json.JSONDecodeError as exc:
            lines.append((number, {"command": "invalid", "error": f"{exc.msg} at column "
                                                                   f"{exc.colno}"}))  # fmt: skip
        except ValueError as exc:  # a key twice, NaN
            lines.append((number, {"command": "invalid", "error": str(exc)}))
    return lines

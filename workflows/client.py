"""How the CLI and the web application run commands: as Prefect flow runs.

``SOPFLOW_PREFECT_MODE``:
- ``embedded`` (default): the flow runs in this process, against the local API of a running
  ``sopflow serve`` if there is one, else Prefect's ephemeral API;
- ``deployments``: the run is submitted to the ``advance-request`` deployment on a Prefect
  server and executed by a worker; the caller waits for its outcome;
- ``off``: the services are called directly (no Prefect), for tools that must not pay it.

Every command gets an idempotency key (the caller's, or a fresh one), so that a retried run
never applies it twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from sopflow import bootstrap
from sopflow.errors import (
    AdapterError,
    CommandRejected,
    Conflict,
    FieldError,
    InvalidData,
    NotFound,
    RoleForbidden,
    SeparationOfDuties,
    TriggerNotAllowed,
    UnknownTrigger,
)
from sopflow.services import CommandResult, Services
from workflows import commands

DEPLOYMENT = "advance-request/sopflow"
BATCH_DEPLOYMENT = "process-commands/sopflow"
_ERRORS: dict[str, type[CommandRejected]] = {
    "not-found": NotFound, "conflict": Conflict, "role-forbidden": RoleForbidden,
    "trigger-not-allowed": TriggerNotAllowed, "unknown-trigger": UnknownTrigger,
    "separation-of-duties": SeparationOfDuties,
}  # fmt: skip


def mode() -> str:
    return bootstrap.settings().prefect_mode


def rejection(error: dict[str, Any]) -> Exception:
    """The exception a flow run reported, rebuilt with its code, message and details."""
    code, message = str(error.get("code", "flow-failed")), str(error.get("message", ""))
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    if code == "invalid-data":
        exc: Exception = CommandRejected(message, code=code, details=details)
    elif "retryable" in error or code == "flow-failed":
        # an outside system failed (AdapterError.to_dict says whether trying again may
        # help), whatever its code: the database not migrated, an SOP's stored text altered,
        # a setting that cannot work are the server's failures (5xx), not the caller's
        exc = AdapterError(message, retryable=bool(error.get("retryable")), code=code)
    else:
        exc = _ERRORS.get(code, CommandRejected)(message, code=code, details=details)
    return exc


def run_command(raw: dict[str, Any]) -> CommandResult:
    """Apply one command (a JSON dict, see ``workflows.commands``) and return its outcome."""
    command = dict(raw)
    if not command.get("idempotency_key"):  # (callers pass None for "none given")
        command["idempotency_key"] = f"cmd-{uuid.uuid4()}"
    services = bootstrap.services()
    spec = commands.parse(command)
    if mode() == "off":
        return commands.apply(services, spec)
    parameters = spec.model_dump(by_alias=True, mode="json")
    _fits_a_flow_run(services, parameters)
    try:
        outcome = _submit_run(parameters)
        if "error" in outcome:
            raise rejection(outcome["error"])
    except AdapterError as exc:
        if exc.code == "flow-failed":  # the run crashed: it may or may not have applied it
            raise AdapterError(f"the flow run ended without an outcome ({exc.message}): the "
                               "command may or may not have been applied. To find out and "
                               "finish safely, repeat the command with --idempotency-key "
                               f"{command['idempotency_key']} (applied already: nothing "
                               "changes and its outcome is shown)", retryable=True,
                               code="flow-failed") from exc  # fmt: skip
        raise AdapterError(f"{exc.message}. To try again safely, repeat the command with "
                           f"--idempotency-key {command['idempotency_key']}",
                           retryable=exc.retryable, code=exc.code) from exc  # fmt: skip
    return CommandResult(**{**outcome["result"], "flags": tuple(outcome["result"]["flags"])})


def _fits_a_flow_run(services: Services, command: dict[str, Any]) -> None:
    """Prefect refuses a flow run whose parameters pass its limit (512 KB of JSON by
    default, ``PREFECT_SERVER_API_MAX_PARAMETER_SIZE``; measured as its validator does),
    which would come back as an orchestrator failure that no retry mends. Such a command is
    refused here instead: for what the core finds wrong with it (a text longer than its
    field allows, a comment over its limit), else for its size."""
    from prefect.settings import PREFECT_SERVER_API_MAX_PARAMETER_SIZE

    limit = PREFECT_SERVER_API_MAX_PARAMETER_SIZE.value()
    size = len(json.dumps({"command": command}, separators=(",", ":")).encode())
    if not limit or size <= limit:
        return
    commands.check(services, command)
    raise InvalidData([FieldError(
        "command", "too-large", f"the command is {size:,} bytes of JSON; a flow run takes "
        f"at most {limit:,}: shorten its texts", {"size": size, "limit": limit})],
        context="command")  # fmt: skip


def _submit_run(command: dict[str, Any]) -> dict[str, Any]:
    from workflows.flows import advance_request, outcome_of

    if mode() == "deployments":
        return outcome_of(_through_deployment(DEPLOYMENT, {"command": command}))
    with _embedded_slot(), _in_process():
        return outcome_of(advance_request(command, return_state=True))


@contextlib.contextmanager
def _in_process() -> Iterator[None]:
    """A flow run in this process: quiet, and a Prefect API that fails it (a 503 after the
    client's retries, a connection lost) an orchestrator error to retry, not an internal one."""
    from workflows.runtime import quiet_runs

    try:
        with quiet_runs():
            yield
    except httpx.HTTPError as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AdapterError(f"the Prefect API failed the flow run ({detail})", retryable=True,
                           code="orchestrator-error") from exc  # fmt: skip


_slots: list[threading.BoundedSemaphore] = []
_slots_lock = threading.Lock()


def _embedded_slot() -> threading.BoundedSemaphore:
    """At most ``SOPFLOW_EMBEDDED_RUNS`` commands of this process in flight at once.

    Every run writes several times to the local API's SQLite database, one writer at a
    time (``workflows/prefect_api.py``); runs beyond a few only queue there, holding a
    thread and a database connection each. Queued here instead, they wait their turn: 24
    users of ``bench/load.py`` got 114 actions done at p95 5.0 s with a bound of 3, 79 at
    p95 6.8 s without one (before the API's writes began IMMEDIATE; docs/reliability.md)."""
    with _slots_lock:
        if not _slots:
            _slots.append(threading.BoundedSemaphore(bootstrap.settings().embedded_runs))
        return _slots[0]


def prefect_server(needed_by: str = "SOPFLOW_PREFECT_MODE=deployments") -> str:
    """The Prefect server's API URL (PREFECT_API_URL), once it answers; else an
    orchestrator error saying what to set or start (``needed_by``: who needs it)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise AdapterError(f"{needed_by} needs PREFECT_API_URL: set it to the Prefect server's "
                           "API (e.g. http://prefect-host:4200/api)",
                           code="orchestrator-error")  # fmt: skip
    url = str(url).rstrip("/")
    try:
        httpx.get(f"{url}/health", timeout=3.0).raise_for_status()
    except httpx.HTTPError as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AdapterError(
            f"the Prefect server at {url} is not answering ({detail}); start it"
            + (", or set SOPFLOW_PREFECT_MODE=embedded" if "MODE" in needed_by else ""),
            retryable=True,
            code="orchestrator-error",
        ) from exc
    return url


def _through_deployment(name: str, parameters: dict[str, Any]) -> Any:
    from prefect.deployments import run_deployment

    prefect_server()
    timeout = bootstrap.settings().run_timeout
    flow_run: Any = run_deployment(name, parameters=parameters, timeout=timeout,
                                   poll_interval=0.5, as_subflow=False)  # fmt: skip
    if flow_run.state is None or not flow_run.state.is_final():
        cancelled = _cancel_if_not_started(flow_run.id)
        fate = ("it was cancelled before it started: nothing was applied" if cancelled else
                "it may still be applied when a worker runs it")  # fmt: skip
        raise AdapterError(f"flow run {flow_run.id} did not finish within {timeout:.0f} s (is a "
                           f"worker running for the 'sopflow' pool?); {fate}", retryable=True,
                           code="orchestrator-error")  # fmt: skip
    return flow_run.state


def _cancel_if_not_started(flow_run_id: Any) -> bool:
    """Cancel a run still waiting for a worker; False when it has started (or finished)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        if run.state is None or not (run.state.is_scheduled() or run.state.is_pending()):
            return False
        result: Any = client.set_flow_run_state(flow_run_id, Cancelled(
            message="sopflow: the caller stopped waiting"))  # fmt: skip
        return str(result.status).endswith("ACCEPT")


def run_flow(flow_fn: Any, **parameters: Any) -> dict[str, Any]:
    """Run a maintenance flow (delivery, sweep, audit) as the mode says; its result."""
    from workflows.flows import outcome_of

    if mode() == "off":
        outcome = outcome_of(flow_fn.fn(**parameters))
    elif mode() == "deployments":
        outcome = outcome_of(_through_deployment(f"{flow_fn.name}/sopflow", parameters))
    else:
        with _in_process():
            outcome = outcome_of(flow_fn(**parameters, return_state=True))
    if "error" in outcome:
        raise rejection(outcome["error"])
    return dict(outcome["result"])


def run_batch(path: Path, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Import a JSONL file of commands through the ``process-commands`` flow."""
    from workflows.flows import apply_chunk, outcome_of, prepare_batch, process_commands, summarise

    services = bootstrap.services()
    if mode() == "off":
        prepared, early = prepare_batch(path)
        return summarise(sorted(early + apply_chunk.fn(prepared, None), key=lambda r: r["line"]))
    if mode() == "deployments":
        state = _through_deployment(BATCH_DEPLOYMENT, {"path": str(path.resolve())})
        outcome = outcome_of(state)
        if "error" in outcome:
            error = rejection(outcome["error"])
            if isinstance(error, AdapterError) and error.code == "flow-failed":
                raise AdapterError(f"the batch's flow run ended without an outcome "
                                   f"({error.message}): some of its commands may have been "
                                   "applied. Run the same import again: each line is applied "
                                   "once, those already applied are reported as such",
                                   retryable=True, code="flow-failed") from None  # fmt: skip
            raise error
        return dict(outcome["result"])
    prefix = f"import:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}:"
    outcome = _in_thread(lambda: outcome_of(process_commands(path=str(path), return_state=True)),
                         services, prefix, progress)  # fmt: skip
    if "error" in outcome:
        raise rejection(outcome["error"])
    return dict(outcome["result"])


def _in_thread(run: Callable[[], dict[str, Any]], services: Any, prefix: str,
               progress: Callable[[int], None] | None) -> dict[str, Any]:  # fmt: skip
    """Run the flow in a thread; report progress by counting the batch's applied keys."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with _in_process():
                box["outcome"] = run()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="sopflow-batch", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        if progress is not None:
            progress(_applied(services, prefix))
    if "error" in box:
        raise box["error"]
    return dict(box["outcome"])


def _applied(services: Any, prefix: str) -> int:
    """How many of the batch's commands (keys derived from the file) are applied so far."""
    with services.ctx.store.read() as r:
        row = r.one("SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE :p",
                    {"p": prefix + "%"})  # fmt: skip
    return int(row["n"]) if row else 0

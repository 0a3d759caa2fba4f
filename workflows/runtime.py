"""How sopflow runs Prefect: quietly, cheaply, with its home in the data folder.

Prefect reads its settings from the environment when it is first imported, so ``configure``
must run before anything imports ``prefect``; the CLI and the server call it first thing.

Measured defaults that cost (``../shared/stack-notes.md``, docs/performance.md):
- every synchronous flow run joins its heartbeat thread at the end (~1 s per run): we switch
  heartbeats off for in-process runs (``quiet_runs``); they only matter to detect crashed
  runs of deployments on workers, which keep them;
- logging to the API and the server's own logs flood the console: WARNING and off;
- telemetry tries to reach the internet: off;
- result persistence: off (our database is the source of truth, never Prefect's).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

API_FILE = "prefect-api.url"  # where `sopflow serve` says which local Prefect API it owns

QUIET = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_CLI_COLORS": "false",
    # a loaded 2-core machine can take longer than the default 20 s to start the API
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def _not_a_drain_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Still processing items")


def configure(data_dir: Path) -> None:
    """Prefect's environment, unless the user set it: home under ``data_dir``, quiet, and
    the API of a running ``sopflow serve`` if there is one (else Prefect's ephemeral mode)."""
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    # a CLI command that exits while Prefect still sends its runs' events warns "Still
    # processing items: N items remaining..." (prefect/_internal/concurrency/services.py, a
    # logger outside PREFECT_LOGGING_LEVEL's reach): nothing is wrong and nothing can be
    # done, so the notice is dropped; the service's other warnings still show
    events_worker = logging.getLogger("EventsWorker")
    if _not_a_drain_notice not in events_worker.filters:
        events_worker.addFilter(_not_a_drain_notice)
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    if "PREFECT_API_URL" not in os.environ:
        url = running_api(data_dir)
        if url:
            os.environ["PREFECT_API_URL"] = url


def running_api(data_dir: Path) -> str | None:
    """The URL of the local Prefect API a ``sopflow serve`` owns, if it answers."""
    path = data_dir / API_FILE
    if not path.exists():
        return None
    url = path.read_text(encoding="utf-8").strip()
    try:
        if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
            return url
    except httpx.HTTPError:
        pass
    return None


_quiet: list[Any] = [None, None]  # (settings in effect, PREFECT_* environment), quiet copy
_quiet_lock = threading.Lock()


@contextlib.contextmanager
def quiet_runs() -> Iterator[None]:
    """Flow runs in this context (and thread) skip the heartbeat thread (~1 s per run).

    Prefect's settings context is a context variable: threads do not inherit it, so every
    thread that runs flows enters this context itself. ``temporary_settings`` would build a
    new ``Settings`` each time (environment, dotenv and profile files read again: a quarter
    of the web process's time under load, measured with py-spy); the quiet copy is built
    once for the settings in effect and the environment (which it reads: ``serve`` sets
    ``PREFECT_API_URL`` once its API is up) and entered as is."""
    import prefect.context
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    current = prefect.context.get_settings_context()
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PREFECT_"))
    with _quiet_lock:
        if current.settings.flows.heartbeat_frequency is None:  # already quiet (nested)
            quiet = current.settings
        else:
            if _quiet[0] is None or _quiet[0][0] is not current.settings or _quiet[0][1] != env:
                _quiet[:] = [(current.settings, env), current.settings.copy_with_update(
                    updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})]  # fmt: skip
            quiet = _quiet[1]
    with (
        prefect.context.SettingsContext(profile=current.profile, settings=quiet),
        _thread_client(quiet.api.url),  # built under the quiet settings, entered after them
    ):
        yield


_clients = threading.local()


@contextlib.contextmanager
def _thread_client(api_url: str | None) -> Iterator[None]:
    """Flow runs of this thread share one open API client (per API URL).

    Without it every run opens a client of its own, and each new client loads certifi's
    CA bundle into a fresh SSL context (~20-40 ms a run, a quarter of an empty flow run
    here, measured with cProfile) and opens a new connection. The client is entered once
    and left open for the thread's life (Prefect's clients are reentrant); each run enters
    the ``SyncClientContext`` that carries it, where the flow engine looks first."""
    from prefect.context import SyncClientContext

    if not api_url or SyncClientContext.get() is not None:
        yield
        return
    shared: dict[str, SyncClientContext] = _clients.__dict__.setdefault("by_url", {})
    ctx = shared.get(api_url)
    if ctx is None:
        ctx = SyncClientContext()
        ctx.client.__enter__()  # kept open: each run's enter and exit leave it open
        shared[api_url] = ctx
    # A fresh client fails at once when the API does not answer; one that has connected
    # before retries for a minute (2 + 4 + ... + 32 s). Each run starts as a fresh client
    # would, so a dead API is still reported at once (prefect/client/base.py, send).
    transport: Any = getattr(ctx.client, "_client", None)
    if hasattr(transport, "_has_connected"):
        transport._has_connected = False
    try:
        with ctx:
            yield
    except BaseException:
        # a client that failed may hold a broken connection: the next run gets a new one
        shared.pop(api_url, None)
        with contextlib.suppress(Exception):
            ctx.client.__exit__(None, None, None)
        raise


# The local API that `sopflow serve` owns runs flows in-process only: no deployments, no
# schedules, no workers, no automations, no pauses. Prefect's server services for those
# (and the event persister, which writes every state change's events to Prefect's
# SQLite database) only compete with the API's own writes for that database's lock: a
# write that loses gets a 503, and the client waits 2, 4, 8... s before retrying: the
# long tail of actions under load (docs/reliability.md, "Actions under embedded
# Prefect"). Flow and task runs, their states and the UI's run pages are unchanged; only
# the UI's event feed stays empty.
_UNUSED_SERVICES = ("TRIGGERS", "EVENT_PERSISTER", "SCHEDULER", "LATE_RUNS", "FOREMAN",
                    "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP", "REPOSSESSOR",
                    "CLEANUP_RECONCILER")  # fmt: skip
EMBEDDED_SERVER = {f"PREFECT_SERVER_SERVICES_{s}_ENABLED": "false" for s in _UNUSED_SERVICES}


class EmbeddedApi:
    """The local Prefect API that ``sopflow serve`` owns for its whole life (a subprocess),
    advertised in the data folder so that CLI processes reuse it instead of starting their
    own (several seconds each)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: object | None = None

    def start(self) -> str:
        from workflows.prefect_api import server_class

        for key, value in EMBEDDED_SERVER.items():  # the subprocess inherits them
            os.environ.setdefault(key, value)
        server = server_class()()
        server.start(timeout=120)
        self.server = server
        url = str(server.api_url)
        os.environ["PREFECT_API_URL"] = url
        (self.data_dir / API_FILE).write_text(url + "\n", encoding="utf-8")
        return url

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / API_FILE).unlink()
        if self.server is not None:
            self.server.stop()  # type: ignore[attr-defined]
            self.server = None

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
import os
from collections.abc import Iterator
from pathlib import Path

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


def configure(data_dir: Path) -> None:
    """Prefect's environment, unless the user set it: home under ``data_dir``, quiet, and
    the API of a running ``sopflow serve`` if there is one (else Prefect's ephemeral mode)."""
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
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


@contextlib.contextmanager
def quiet_runs() -> Iterator[None]:
    """Flow runs in this context (and thread) skip the heartbeat thread (~1 s per run).

    ``temporary_settings`` is a context variable: threads do not inherit it, so every thread
    that runs flows enters this context itself."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


class EmbeddedApi:
    """The local Prefect API that ``sopflow serve`` owns for its whole life (a subprocess),
    advertised in the data folder so that CLI processes reuse it instead of starting their
    own (several seconds each)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: object | None = None

    def start(self) -> str:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
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

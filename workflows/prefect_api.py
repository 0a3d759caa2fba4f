"""The Prefect API that ``sopflow serve`` owns: Prefect's own app, served as Prefect serves
its temporary one, with one difference in how it writes to its SQLite database.

Prefect's server begins most of its write transactions on SQLite as deferred ones
(``begin_transaction`` in ``prefect/server/database/configurations.py``). Upgrading one to a
write fails at once with ``SQLITE_BUSY`` when another write got in first; the API answers
503 and Prefect's client waits 2, 4, 8… seconds before trying again (``_send_with_retry`` in
``prefect/client/base.py``). Under a dozen officials acting at once, py-spy showed two of
the three runs in flight asleep in that back-off, and the slowest actions took 7 to 8 s.
Here every transaction takes the write lock at BEGIN (``BEGIN IMMEDIATE``) and waits its
turn on SQLite's busy timeout, as sopflow's own store does (``sopflow/store/db.py``).
Measured in docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

# where this package is imported from, first on the server's path: a folder named
# `workflows` in the working directory must not stand in for it
APP_DIR = str(Path(__file__).resolve().parent.parent)


def _writes_take_the_lock_first() -> None:
    from prefect.server.database import configurations as db

    @contextlib.asynccontextmanager
    async def begin_transaction(self: Any, session: Any, with_for_update: bool = False
                                ) -> AsyncIterator[Any]:  # fmt: skip
        token = db.SQLITE_BEGIN_MODE.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            db.SQLITE_BEGIN_MODE.reset(token)

    db.AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


PARENT_ENV = "SOPFLOW_PREFECT_API_PARENT"  # the pid of the `sopflow serve` that owns the API


def _stop_when_orphaned(parent: int, every: float = 0.5) -> None:
    """End this API (as a SIGTERM would: uvicorn shuts down cleanly) once the ``sopflow
    serve`` that started it is gone, even killed by SIGKILL, which leaves it no chance to
    stop the API itself. Polling the parent, rather than ``PR_SET_PDEATHSIG``, works
    whichever thread started the API, and needs no ``preexec_fn`` in a threaded parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="sopflow-parent-watch", daemon=True).start()


def create_app() -> Any:
    """The uvicorn factory of the embedded API's subprocess."""
    from prefect.server.api.server import create_app as prefect_app

    _writes_take_the_lock_first()
    if os.environ.get(PARENT_ENV, "").isdigit():
        _stop_when_orphaned(int(os.environ[PARENT_ENV]))
    return prefect_app()


def server_class() -> Any:
    """Prefect's ``SubprocessASGIServer`` (port search, health wait, stop) running this
    module's app instead of Prefect's."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    class EmbeddedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect's own command (prefect 3.9.1), with this module's factory
            server_env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                          "PREFECT__SERVER_FINAL": "1", PARENT_ENV: str(os.getpid())}  # fmt: skip
            settings = get_current_settings().to_environment_variables(exclude_unset=True)
            return subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                args=[sys.executable, "-m", "uvicorn", "--app-dir", APP_DIR, "--factory",
                      "workflows.prefect_api:create_app", "--host", "127.0.0.1", "--port",
                      str(self.port), "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, **server_env, **settings},
            )  # fmt: skip

    return EmbeddedServer

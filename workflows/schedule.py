"""Periodic flows while ``sopflow serve`` runs: the SLA sweep (and, with notifications, the
outbox delivery). A small thread instead of Prefect deployments with schedules: the embedded
default needs no worker; in the distributed setup the same flows run as scheduled
deployments (docs/deploy.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sopflow.schedule")


class Every:
    """Run ``job`` every ``seconds`` in a daemon thread until ``stop``; a failing run is
    logged and the next one still happens. ``flows=False``: the job calls the services
    directly (``SOPFLOW_PREFECT_MODE=off``), and nothing of Prefect is imported."""

    def __init__(self, seconds: float, job: Callable[[], Any], name: str, *,
                 flows: bool = True) -> None:  # fmt: skip
        self.seconds = seconds
        self.job = job
        self.name = name
        self.flows = flows
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sopflow-{name}", daemon=True)

    def start(self) -> Every:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        if not self.flows:
            self._run()
            return
        from workflows.runtime import quiet_runs

        with quiet_runs():  # a context variable: this thread sets its own
            self._run()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.job()
            except Exception:  # a periodic job must never kill the server
                log.exception("periodic job %s failed", self.name)

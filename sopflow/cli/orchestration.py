"""``sopflow deploy`` and ``sopflow worker``: the distributed setup on a Prefect server."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from sopflow.cli.common import err, out


def deploy(
    pool: Annotated[str, typer.Option(help="the process work pool")] = "sopflow",
    sweep_every: Annotated[int, typer.Option(min=1, help="seconds between SLA sweeps")] = 300,
) -> None:
    """Create the work pool and the deployments of every flow on PREFECT_API_URL."""
    if not os.environ.get("PREFECT_API_URL"):
        err.print("error[orchestrator-error] set PREFECT_API_URL to the Prefect server's API "
                  "(e.g. http://127.0.0.1:4200/api)")  # fmt: skip
        raise typer.Exit(1)
    from workflows.deployments import ensure_pool, register

    created = ensure_pool(pool)
    err.print(f"work pool '{pool}' {'created' if created else 'exists'}")
    for name in register(pool, sweep_every):
        out.print(name, markup=False)


def worker(
    pool: Annotated[str, typer.Option(help="the process work pool")] = "sopflow",
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many runs at once")] = None,
) -> None:
    """Run a Prefect worker for the pool (``prefect worker start``), in this environment."""
    prefect = shutil.which("prefect", path=os.path.dirname(sys.executable)) or "prefect"
    args = [prefect, "worker", "start", "--pool", pool, "--type", "process"]
    if limit is not None:
        args += ["--limit", str(limit)]
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")
    os.execv(prefect, args)  # noqa: S606 - replaces this process with the worker

"""``sopflow deploy`` and ``sopflow worker``: the distributed setup on a Prefect server."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from sopflow.cli.common import err, out
from sopflow.errors import AdapterError


def deploy(
    pool: Annotated[str, typer.Option(help="the process work pool")] = "sopflow",
    sweep_every: Annotated[int, typer.Option(min=1, help="seconds between SLA sweeps")] = 300,
) -> None:
    """Create the work pool and the deployments of every flow on PREFECT_API_URL."""
    import httpx

    from workflows.client import prefect_server

    url = prefect_server("sopflow deploy")
    from workflows.deployments import ensure_pool, register

    try:
        created = ensure_pool(pool)
        err.print(f"work pool '{pool}' {'created' if created else 'exists'}", markup=False)
        names = register(pool, sweep_every)
    except httpx.HTTPError as exc:  # the server went away, or refused what it was sent
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise AdapterError(f"the Prefect server at {url} failed the deployment ({detail})",
                           retryable=True, code="orchestrator-error") from exc  # fmt: skip
    for name in names:
        out.print(name, markup=False)


# the settings a worker hands to its flow runs, made absolute (each run's working folder is
# a temporary one, deleted afterwards: a relative path there is another, empty, file)
def worker_environment() -> dict[str, str]:
    """The SOPFLOW_* paths of this process's settings, absolute, for the worker's flow runs;
    refuses what a flow run could not use (a channel without its key, a missing SQLite
    database: a worker never creates one)."""
    import sqlalchemy as sa

    from sopflow import bootstrap

    cfg = bootstrap.settings()  # every path made absolute against this folder
    env = {
        "SOPFLOW_DATABASE_URL": cfg.database_url,
        "SOPFLOW_DATA_DIR": str(cfg.data_dir),
        "SOPFLOW_DOCUMENTS_DIR": str(cfg.document_root),
        "SOPFLOW_OUTBOX_DIR": str(cfg.outbox_dir),
    }
    if cfg.sop_dir is not None:
        env["SOPFLOW_SOP_DIR"] = str(cfg.sop_dir)
    channel = bootstrap.channel(cfg)  # a sendgrid channel without its key refuses here
    check = getattr(channel, "check", None)
    if check is not None:
        check()
    try:
        url = sa.make_url(cfg.database_url)
    except sa.exc.ArgumentError:
        bootstrap.engine(cfg, migrate=False)  # says precisely what is wrong
        raise
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
        bootstrap.engine(cfg, migrate=False)  # in memory, another driver: refused precisely
        if not os.path.exists(database):
            raise AdapterError(
                f"the SQLite database {database} does not exist: a worker uses the database "
                "of the web processes and never creates one; point SOPFLOW_DATABASE_URL at "
                "it (or run 'sopflow db upgrade' to create it here)",
                code="database-not-found",
            )
    return env


def worker(
    pool: Annotated[str, typer.Option(help="the process work pool")] = "sopflow",
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many runs at once")] = None,
) -> None:
    """Run a Prefect worker for the pool (``prefect worker start``), in this environment.

    Its flow runs get this process's settings with every path absolute (they run in a
    temporary folder), and deliver notices with its mail settings."""
    from sopflow import bootstrap
    from workflows.client import prefect_server

    url = prefect_server("sopflow worker")
    env = worker_environment()
    os.environ.update(env)
    cfg = bootstrap.settings()
    mail = f"into {cfg.outbox_dir}" if cfg.notify_channel == "file" else f"by {cfg.sendgrid_host}"
    err.print(f"sopflow worker: Prefect server {url}; flow runs use the database "
              f"{_shown(cfg.database_url)}, documents in {cfg.document_root}, notices "
              f"{cfg.notify_channel} {mail}, links to {bootstrap.public_url(cfg)}/",
              markup=False)  # fmt: skip
    prefect = shutil.which("prefect", path=os.path.dirname(sys.executable)) or "prefect"
    args = [prefect, "worker", "start", "--pool", pool, "--type", "process"]
    if limit is not None:
        args += ["--limit", str(limit)]
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")
    os.execv(prefect, args)  # noqa: S606 - replaces this process with the worker


def _shown(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url

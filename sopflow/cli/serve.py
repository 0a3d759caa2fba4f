"""``sopflow serve``: migrate the embedded database, own a local Prefect API, run the periodic
flows, and serve the web application."""

from __future__ import annotations

import errno
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from sopflow import bootstrap
from sopflow.cli.common import err
from sopflow.errors import AdapterError


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    sweep_every: Annotated[int, typer.Option(min=1, help="seconds between SLA sweeps")] = 300,
    demo: Annotated[bool, typer.Option(help="seed the demo (once) and print its users")] = False,
    deliver_every: Annotated[int, typer.Option(min=1, help="seconds between outbox drains")] = 15,
) -> None:
    """Serve the API and pages; the SLA sweep runs as a Prefect flow every few minutes."""
    import uvicorn

    from sopflow.web.app import create_app
    from workflows.schedule import Every

    _can_listen(host, port)  # before the seconds spent starting Prefect, not after
    cfg = bootstrap.settings()
    if cfg.prefect_mode == "deployments":  # refused now, not at the first command
        from workflows.client import prefect_server

        prefect_server()
    links_set = cfg.public_url is not None
    links = bootstrap.serve_links_at(host, port)  # before the notices service is built
    services = bootstrap.services()
    channel = services.notices.channel  # a misconfigured channel fails here, at startup
    check = getattr(channel, "check", None)  # the file channel: an outbox that is a file
    if check is not None:
        check()
    if demo:
        from sopflow.demo import seed, users_table

        made = seed(services)
        err.print(f"sopflow: demo {'seeded: ' + ', '.join(made) if made else 'already seeded'}")
        for role, email, password in users_table():
            err.print(f"  {role:24} {email:28} password: {password}", markup=False)
    err.print(
        f"sopflow: notices by {channel.name}"
        + (f" into {cfg.outbox_dir}/" if channel.name == "file" else "")
        + f"; their links point at {links}/"
        + ("" if links_set else " (set SOPFLOW_PUBLIC_URL to change)")
    )
    catalogue = services.sops.catalogue
    for issue in catalogue.problems:
        err.print(issue.format(), markup=False)
    err.print(
        f"sopflow: {len(catalogue.versions)} SOP version(s); database "
        f"{services.ctx.store.engine.url.render_as_string(hide_password=True)}"
    )
    api = None
    jobs = []
    if cfg.prefect_mode == "embedded":
        from workflows.runtime import EmbeddedApi

        err.print("sopflow: starting the local Prefect API (a few seconds)…")
        api = EmbeddedApi(cfg.data_dir)
        url = api.start()
        err.print(
            f"sopflow: Prefect API {url}; the CLI reuses it while this server runs "
            f"(its runs: PREFECT_API_URL={url} prefect flow-run ls)"
        )
    if cfg.prefect_mode != "off":
        from workflows.flows import deliver_notifications, sla_sweep

        jobs.append(Every(sweep_every, lambda: sla_sweep(return_state=True), "sla-sweep").start())
        jobs.append(Every(deliver_every, lambda: deliver_notifications(return_state=True),
                          "deliver-notifications").start())  # fmt: skip
    else:  # the services the flows call, called directly: the same sweep, the same delivery
        jobs.append(Every(sweep_every, lambda: services.deadlines.sweep(), "sla-sweep",
                          flows=False).start())  # fmt: skip
        jobs.append(Every(deliver_every, lambda: services.notices.deliver(),
                          "deliver-notifications", flows=False).start())  # fmt: skip
    err.print(f"sopflow: SLA sweep every {sweep_every} s, outbox drained every {deliver_every} s"
              + (" (services called directly: SOPFLOW_PREFECT_MODE=off)"
                 if cfg.prefect_mode == "off" else " (as Prefect flow runs)"))  # fmt: skip
    if cfg.forwarded_allow_ips.strip():
        err.print(f"sopflow: X-Forwarded-For/-Proto believed from {cfg.forwarded_allow_ips} "
                  "(SOPFLOW_FORWARDED_ALLOW_IPS)", markup=False)  # fmt: skip
    err.print(f"sopflow: open http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler
    # it found: Python's default one would end the process at once, skipping the clean-up
    # below, and leave the local Prefect API running and still advertised to the CLI.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    served = None if links_set else _advertise(cfg.data_dir / bootstrap.SERVED_URL_FILE, links)
    try:
        uvicorn.run(create_app(services, cfg), host=host, port=port, log_level="warning",
                    **proxy_options(cfg.forwarded_allow_ips))  # fmt: skip
    finally:
        for job in jobs:
            job.stop()
        if api is not None:
            api.stop()
        if served is not None:
            served.unlink(missing_ok=True)


def proxy_options(allowed: str) -> dict[str, Any]:
    """uvicorn's handling of X-Forwarded-For/-Proto: believed only from the proxies the
    operator names (SOPFLOW_FORWARDED_ALLOW_IPS). uvicorn's default believes them from
    127.0.0.1, so that any local client, or a proxy passing the header on unchecked, could
    choose the address the sign-in throttle counts."""
    allowed = allowed.strip()
    if not allowed:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": allowed}


def _advertise(path: Path, url: str) -> Path | None:
    """Tell the CLI's ``notify deliver`` where links point while this server runs (removed
    when it stops); a data folder that cannot be written only loses that."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(url + "\n", encoding="utf-8")
    except OSError as exc:
        why = f"sopflow: cannot write {path} ({exc.strerror}): CLI commands link notices to "
        err.print(why + bootstrap.DEFAULT_PUBLIC_URL, markup=False)
        return None
    return path


def _can_listen(host: str, port: int) -> None:
    """Refuse at once an address this process cannot listen on (a port already taken, often
    by another ``sopflow serve``; an address not on this machine), saying which and why."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        why = exc.strerror or str(exc)
        hint = "; another program (another sopflow serve?) listens there: choose another --port" \
            if exc.errno == errno.EADDRINUSE else ""  # fmt: skip
        raise AdapterError(f"cannot listen on {host}:{port}: {why}{hint}",
                           code="cannot-listen") from exc  # fmt: skip


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # the usual status of a process ended by that signal

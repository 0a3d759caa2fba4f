"""``sopflow serve``: migrate the embedded database and serve the web application."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow import bootstrap
from sopflow.cli.common import err


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the API and pages (migrating an embedded SQLite database first)."""
    import uvicorn

    from sopflow.web.app import create_app

    services = bootstrap.services()
    catalogue = services.sops.catalogue
    for issue in catalogue.problems:
        err.print(issue.format(), markup=False)
    err.print(
        f"sopflow: {len(catalogue.versions)} SOP version(s) loaded; database "
        f"{services.ctx.store.engine.url.render_as_string(hide_password=True)}"
    )
    err.print(f"sopflow: open http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(services), host=host, port=port, log_level="warning")

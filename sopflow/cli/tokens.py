"""``sopflow token``: API tokens for programs (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow import bootstrap
from sopflow.cli.common import err, out

app = typer.Typer(help="API tokens for programs.", no_args_is_help=True)


@app.command()
def create(
    actor: Annotated[str, typer.Option("--as", help="the user the token acts as")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "api",
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    issued = bootstrap.services().tokens.create(actor, name)
    err.print(f"token {issued.id} for {actor.strip().lower()} (store it now: it is not shown "
              "again)")  # fmt: skip
    out.print(issued.token, markup=False)


@app.command()
def revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token: it stops working at once."""
    bootstrap.services().tokens.revoke(token_id)
    err.print(f"token {token_id} revoked")

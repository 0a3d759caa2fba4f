"""``sopflow token``: API tokens for programs (shown once, stored hashed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import err, out, print_json
from sopflow.services.tokens import DEFAULT_DAYS, MAX_DAYS

app = typer.Typer(help="API tokens for programs.", no_args_is_help=True)


@app.command()
def create(
    actor: Annotated[str, typer.Option("--as", help="the user the token acts as")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "api",
    days: Annotated[
        int, typer.Option(min=1, max=MAX_DAYS, help="days the token lives")
    ] = DEFAULT_DAYS,
    never_expires: Annotated[
        bool, typer.Option("--never-expires", help="live until revoked (not advised)")
    ] = False,
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    issued = bootstrap.services().tokens.create(actor, name, None if never_expires else days)
    until = issued.expires_at.date().isoformat() if issued.expires_at else "revoked"
    err.print(f"token {issued.id} for {actor.strip().lower()}, valid until {until} (store it "
              "now: it is not shown again)")  # fmt: skip
    out.print(issued.token, markup=False)


@app.command("list")
def list_tokens(
    actor: Annotated[str | None, typer.Option("--as", help="only this user's tokens")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The tokens (never the tokens themselves): id, user, name, first characters, when
    created, last used and expiring, and whether live, expired or revoked."""
    rows = bootstrap.services().tokens.list(actor)
    if as_json:
        print_json([{k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()}
                    for r in rows])  # fmt: skip
        return
    table = Table("id", "user", "name", "starts", "created", "last used", "expires", "status")
    for r in rows:
        table.add_row(str(r["id"]), r["user_email"], r["name"], r["prefix"] + "…",
                      *(_day(r[c]) for c in ("created_at", "last_used_at", "expires_at")),
                      r["status"])  # fmt: skip
    out.print(table)


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


@app.command()
def revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token: it stops working at once."""
    bootstrap.services().tokens.revoke(token_id)
    err.print(f"token {token_id} revoked")

"""``sopflow db``, ``sopflow org`` and ``sopflow user``: the database and the directory."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import Locale, LocaleOption, err, out, print_json
from sopflow.errors import NotFound
from sopflow.services import OrgInput
from sopflow.store.db import backup, current_revisions, upgrade

db_app = typer.Typer(help="The database.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations: employers, agencies, authorities.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)

# who makes a change to the directory, as its log records it
ByOption = Annotated[str | None, typer.Option(
    "--by", metavar="NAME", help="who makes the change, for the directory log (default: "
    "$SOPFLOW_OPERATOR, else your login name)")]  # fmt: skip


def operator(by: str | None) -> str:
    """``--by``, else SOPFLOW_OPERATOR, else the login name of the process."""
    named = by if by is not None else os.environ.get("SOPFLOW_OPERATOR", "").strip()
    if named:
        return named
    if by is not None:
        raise typer.BadParameter("an empty name: say who makes the change", param_hint="--by")
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's user without a passwd entry)
        raise typer.BadParameter(
            "no login name to record: say who makes the change (--by NAME, or SOPFLOW_OPERATOR)",
            param_hint="--by",
        ) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to SOPFLOW_DATABASE_URL."""
    engine = bootstrap.engine(migrate=False)
    where = engine.url.render_as_string(hide_password=True)
    before = current_revisions(engine)
    upgrade(engine)
    after = current_revisions(engine)
    now = f"migration {', '.join(after)}"
    if before == after:
        err.print(f"database at {where} is up to date ({now}): nothing to apply")
    else:
        since = f"migration {', '.join(before)}" if before else "an empty database"
        err.print(f"database at {where} upgraded from {since} to {now}")


@db_app.command("backup")
def db_backup(
    target: Annotated[Path, typer.Argument(metavar="PATH", help="the backup file to write (new)")],
) -> None:
    """Write a consistent copy of the database while it serves (SQLite: the online backup
    API, the -wal file's transactions included; PostgreSQL: pg_dump). The documents folder
    is backed up apart: docs/deploy.md, "Backup and restore"."""
    engine = bootstrap.engine(migrate=False)
    err.print(backup(engine, target.expanduser().absolute()), markup=False)


@db_app.command("prune-documents")
def prune_documents(
    older_than: Annotated[int, typer.Option(
        "--older-than", metavar="HOURS", min=9,
        help="only files last written this long ago (at least 9: a refused form keeps its "
             "files for the pages' 8-hour sessions)")] = 24,
    dry_run: Annotated[bool, typer.Option(help="say what would be removed; remove nothing")]
    = False,
) -> None:  # fmt: skip
    """Remove the document store's files that no request refers to (uploads of refused or
    abandoned commands, temporary files a crash left)."""
    report = bootstrap.services().storage.prune_documents(timedelta(hours=older_than),
                                                          dry_run=dry_run)  # fmt: skip
    verb = "would remove" if dry_run else "removed"
    err.print(
        f"{verb} {report.removed} file(s), {report.removed_bytes:,} bytes, that no request "
        f"refers to; kept {report.referenced} referenced and {report.recent} written "
        f"within the last {older_than} hour(s)"
    )


@org_app.command("add")
def org_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    kind: Annotated[str, typer.Option(help="employer, agency or authority")],
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2")] = None,
    licence: Annotated[str | None, typer.Option(help="recruitment licence number")] = None,
    licence_expires: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    licence_status: Annotated[str | None, typer.Option(help="active, suspended, cancelled")] = None,
    org_id: Annotated[str | None, typer.Option("--id", help="default: slug of NAME")] = None,
    by: ByOption = None,
) -> None:
    """Add an organisation; print its id."""
    expires = _date(licence_expires, "--licence-expires") if licence_expires else None
    new_id = bootstrap.services().directory.add_org(OrgInput(
        name=name, kind=kind, country=country, licence_number=licence, licence_expires=expires,
        licence_status=licence_status, id=org_id), by=operator(by))  # fmt: skip
    out.print(new_id, markup=False)


@org_app.command("licence")
def org_licence(
    org_id: Annotated[str, typer.Argument(metavar="ORG")],
    status: Annotated[str, typer.Option(help="active, suspended or cancelled")],
    expires: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD")] = None,
    by: ByOption = None,
) -> None:
    """Change an agency's licence status (suspension, cancellation, renewal); the directory
    log records who did, and the status and expiry before and after."""
    bootstrap.services().directory.set_licence(
        org_id, status, _date(expires, "--expires") if expires else None, by=operator(by)
    )
    org = bootstrap.services().directory.organisation(org_id) or {}
    until = f", expires {org['licence_expires']}" if org.get("licence_expires") else ""
    err.print(f"{org_id}: licence {org.get('licence_number') or '(no number)'} {status}{until}",
              markup=False)  # fmt: skip


def _org_row(org: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "kind", "country", "licence_number", "licence_status",
            "licence_expires")  # fmt: skip
    return {key: None if org.get(key) is None else str(org[key]) for key in keys}


@org_app.command("list")
def org_list(
    kind: Annotated[str | None, typer.Option(help="employer, agency or authority")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="as JSON")] = False,
) -> None:
    """The organisations of the directory, with their licences."""
    if kind is not None and kind not in ("employer", "agency", "authority"):
        raise typer.BadParameter(f"'{kind}' is not employer, agency or authority",
                                 param_hint="--kind")  # fmt: skip
    rows = [_org_row(o) for o in bootstrap.services(existing=True).directory.organisations(kind)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "kind", "country", "licence", "status", "expires")
    for row in rows:
        table.add_row(*(row[k] or "" for k in ("id", "name", "kind", "country",
                        "licence_number", "licence_status", "licence_expires")))  # fmt: skip
    out.print(table)


@org_app.command("show")
def org_show(
    org_id: Annotated[str, typer.Argument(metavar="ORG")],
    as_json: Annotated[bool, typer.Option("--json", help="as JSON")] = False,
) -> None:
    """One organisation and its licence (number, status, expiry)."""
    org = bootstrap.services(existing=True).directory.organisation(org_id)
    if org is None:
        raise NotFound(f"no organisation '{org_id}' (sopflow org list)")
    row = _org_row(org)
    if as_json:
        print_json(row)
        return
    for key, value in row.items():
        out.print(f"{key}: {value if value is not None else '-'}", markup=False)


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    name: Annotated[str, typer.Option()],
    org: Annotated[str, typer.Option(help="the organisation id")],
    role: Annotated[list[str], typer.Option(help="a role id declared by an SOP; repeatable")],
    locale: LocaleOption = Locale.en,
    password_stdin: Annotated[bool, typer.Option(help="read a password from stdin")] = False,
    by: ByOption = None,
) -> None:
    """Add a user; print its id."""
    who = operator(by)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    directory = bootstrap.services().directory
    user_id = directory.add_user(email, name, org, role, locale.value, password, by=who)
    out.print(str(user_id), markup=False)


@user_app.command("sign-out")
def user_sign_out(email: Annotated[str, typer.Argument(metavar="EMAIL")]) -> None:
    """End every signed-in session of a user on the pages (a lost laptop, a departure):
    copies of their session cookie are refused from now on."""
    ended = bootstrap.services().sessions.close_all(email)
    err.print(f"{email.strip().lower()}: {ended} session(s) ended")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date YYYY-MM-DD", param_hint=option) from None

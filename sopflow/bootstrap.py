"""The one place that wires adapters to the core: settings, SOP catalogue, store, channels."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError

from sopflow.domain.ports import Channel
from sopflow.errors import AdapterError, FieldError, InvalidData
from sopflow.services import Context, Services, SopRegistry
from sopflow.services.notices import Notices
from sopflow.settings import Settings
from sopflow.sop_files import SopCatalogue, shipped_sop_dir
from sopflow.store.blobs import BlobStore
from sopflow.store.db import in_memory, make_engine, pending_migrations, upgrade
from sopflow.store.repository import Store

# pydantic's error types, as the codes of field errors (docs/errors.md §2.3)
_SETTING_CODES = {"int_parsing": "wrong-type", "int_from_float": "wrong-type",
                  "greater_than_equal": "out-of-range", "literal_error": "not-in-enum",
                  "bool_parsing": "wrong-type", "url_parsing": "wrong-type",
                  "path_not_directory": "not-a-folder"}  # fmt: skip


CONFIGURATION_ERROR = "configuration-error"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings from the environment (read once per process); a bad value is refused
    naming its variable."""
    return read_settings()


def read_settings() -> Settings:
    """The settings as the environment says now; a bad value is refused naming its
    variable."""
    try:
        return Settings()
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            name = "SOPFLOW_" + "_".join(str(part) for part in e["loc"]).upper()
            if e["type"] == CONFIGURATION_ERROR:  # the message names the variable and value
                errors.append(FieldError(name, CONFIGURATION_ERROR, e["msg"]))
                continue
            message = f"{e['msg']} (given: {e['input']!r})"
            errors.append(FieldError(name, _SETTING_CODES.get(e["type"], "invalid-setting"),
                                     message))  # fmt: skip
        if all(e.code == CONFIGURATION_ERROR for e in errors):
            # a channel, an address or a URL that cannot work: as a misconfigured channel is
            raise AdapterError("; ".join(e.message for e in errors),
                               code="configuration-error") from None  # fmt: skip
        raise InvalidData(errors, context="settings") from None


def file_catalogue(cfg: Settings | None = None) -> SopCatalogue:
    """The shipped SOPs plus those in SOPFLOW_SOP_DIR."""
    cfg = cfg or settings()
    dirs = [shipped_sop_dir()]
    if cfg.sop_dir is not None and cfg.sop_dir.resolve() != dirs[0].resolve():
        dirs.append(cfg.sop_dir)
    return SopCatalogue.from_dirs(dirs)


def utc_now() -> datetime:
    return datetime.now(UTC)


def engine(cfg: Settings | None = None, *, migrate: bool = True) -> sa.Engine:
    """The database engine; an embedded SQLite database is migrated on first use."""
    cfg = cfg or settings()
    if in_memory(cfg.database_url):
        raise AdapterError(
            f"SOPFLOW_DATABASE_URL={cfg.database_url!r} names an in-memory SQLite database: "
            "everything written would be lost when the command ends; name a file "
            "(sqlite:///./sopflow.db, the default when the variable is unset) or a "
            "PostgreSQL database",
            code="database-url",
        )
    db = make_engine(cfg.database_url)
    if migrate and db.dialect.name == "sqlite" and pending_migrations(db):
        upgrade(db)
    return db


def channel(cfg: Settings) -> Channel:
    """The notice channel the settings name; a misconfiguration raises here, at startup."""
    from notifications.channels import FileChannel, SendGridChannel

    if cfg.notify_channel == "sendgrid":
        return SendGridChannel(cfg.sendgrid_api_key or "", cfg.sendgrid_host)
    return FileChannel(cfg.outbox_dir)


def build(cfg: Settings | None = None, *, db: sa.Engine | None = None) -> Services:
    cfg = cfg or settings()
    store = Store(db if db is not None else engine(cfg))
    ctx = Context(
        store=store,
        sops=SopRegistry(store, lambda: file_catalogue(cfg)),
        blobs=BlobStore(cfg.document_root),
        clock=utc_now,
        max_document_bytes=cfg.max_document_mb * 1_000_000,
        max_request_bytes=cfg.max_request_bytes,
    )
    services = Services(ctx)
    services.configure_notices(lambda: _notices(ctx, cfg))
    return services


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def served_url(host: str, port: int) -> str:
    """The address a browser on this machine or another reaches ``sopflow serve --host HOST
    --port PORT`` at: a wildcard host (all addresses) is named by the machine's name."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a name for it, not a bind
        host = socket.getfqdn()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


def serve_links_at(host: str, port: int) -> str:
    """Links in notices point at the served address, unless SOPFLOW_PUBLIC_URL says where
    (a reverse proxy, another name); call before ``services()``. Returns the link base."""
    cfg = settings()
    if cfg.public_url is None:
        cfg.public_url = served_url(host, port)
    return public_url(cfg)


SERVED_URL_FILE = "served.url"  # where `sopflow serve` says the address it serves


def public_url(cfg: Settings) -> str:
    """Where links in notices point: SOPFLOW_PUBLIC_URL; else the address a ``sopflow serve``
    with the same data folder serves (it writes it while it runs, so that the CLI's
    ``notify deliver`` links there too); else http://127.0.0.1:8000."""
    if cfg.public_url:
        return cfg.public_url.rstrip("/")
    try:
        served = (cfg.data_dir / SERVED_URL_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        served = ""
    return (served or DEFAULT_PUBLIC_URL).rstrip("/")


def _notices(ctx: Context, cfg: Settings) -> Notices:
    from notifications.render import TemplateRenderer

    # the channel is built when delivery first needs it: listing and re-queueing notices
    # must not need its credentials
    return Notices(ctx, TemplateRenderer(), lambda: channel(cfg), cfg.mail_from, public_url(cfg))


_services: Services | None = None


def services(*, existing: bool = False) -> Services:
    """The process-wide services (built on first use). ``existing``: for commands that only
    read (history, replay, verify, export, show, list, inbox), a SQLite file that does not
    exist is refused rather than created: verifying a mistyped path must not answer
    "intact: 0 events" over a database it has just made."""
    global _services
    if _services is None:
        if existing:
            require_database(settings())
        _services = build()
    return _services


def require_database(cfg: Settings) -> None:
    """Refuse a SQLite database file that does not exist (``database-not-found``)."""
    try:
        url = sa.make_url(cfg.database_url)
    except sa.exc.ArgumentError:
        return  # not a URL at all: making the engine says so
    database = url.database or ""
    if (url.get_backend_name() != "sqlite" or database in ("", ":memory:")
            or database.startswith("file:")):  # fmt: skip
        return  # PostgreSQL says so itself; a URI is SQLite's to open
    path = Path(database).expanduser().absolute()
    if path.exists() or any(part.exists() and not part.is_dir() for part in path.parents):
        return  # a file, or a path that cannot be one: opening it says precisely what is wrong
    raise AdapterError(
        f"the SQLite database {database} does not exist: there is nothing to read; check "
        "SOPFLOW_DATABASE_URL (a new database is made by 'sopflow db upgrade' or by a "
        "command that writes)",
        code="database-not-found",
    )


def catalogue() -> SopCatalogue:
    """Every SOP version this installation knows: files, plus published ones if a store exists."""
    return services().sops.catalogue

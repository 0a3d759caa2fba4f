"""Settings from the environment (prefix SOPFLOW_). Defaults work with no configuration.

Relative paths (the SQLite database file, the data, documents and outbox folders, the SOP
folder) are made absolute here, when the settings are read, against the working folder of
the process that reads them: a process never resolves them again later, somewhere else
(a Prefect worker runs each flow run in a temporary folder it deletes afterwards;
``sopflow worker`` exports the absolute values to its flow runs, docs/deploy.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import DirectoryPath, Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

# a sender: a bare address, or "Name <address>"
_SENDER = re.compile(r"^\s*(?:(?P<name>[^<>]*?)\s*<(?P<angle>[^<>\s]+)>|(?P<bare>[^<>\s]+))\s*$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def absolute_database_url(url: str) -> str:
    """A SQLite URL with a relative file path, made absolute against the working folder;
    any other URL (PostgreSQL, in memory, a ``file:`` URI, not a URL at all) as it is."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url  # refused with a precise error where the engine is made
    database = parsed.database or ""
    if (parsed.get_backend_name() != "sqlite" or database in ("", ":memory:")
            or database.startswith("file:") or Path(database).is_absolute()):  # fmt: skip
        return url
    absolute = Path(database).expanduser().absolute()
    return parsed.set(database=str(absolute)).render_as_string(hide_password=False)


_EXAMPLES = {
    "SOPFLOW_SENDGRID_HOST": "https://api.sendgrid.com",
    "SOPFLOW_PUBLIC_URL": "https://sop.ministry.example",
}


def web_address(value: str, variable: str) -> str:
    """An http(s) URL with a host, or a configuration error naming what is wrong."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "configuration-error",
            f"{variable} must be an http:// or https:// URL with a host (like "
            f"{_EXAMPLES[variable]}), not {value!r}".replace("{", "{{").replace("}", "}}"),
        )
    return value.strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOPFLOW_", extra="ignore")

    database_url: str = "sqlite:///./sopflow.db"
    # an extra SOP folder (the shipped SOPs are always loaded): it must exist, or a typo
    # would quietly leave its SOPs out
    sop_dir: DirectoryPath | None = None
    data_dir: Path = Path("./.sopflow")
    documents_dir: Path | None = None
    notify_channel: Literal["file", "sendgrid"] = "file"
    outbox_dir: Path = Path("./outbox")
    sendgrid_api_key: str | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    mail_from: str = "no-reply@sopflow.invalid"
    # links in notices point here; unset: the address `sopflow serve` listens on (while it
    # runs), else http://127.0.0.1:8000 (bootstrap.public_url)
    public_url: str | None = None
    # the addresses of the reverse proxies whose X-Forwarded-For / -Proto headers are
    # believed (comma-separated IPs or networks, "*" for any); unset: none, the client's
    # address is the connection's own (docs/deploy.md)
    forwarded_allow_ips: str = ""
    # the key that signs session cookies; unset: one made once and kept in the data folder
    session_secret: str | None = None
    # the session cookie always Secure (it is anyway when public_url is https, and on
    # requests that come over https)
    secure_cookies: bool = False
    # passwords checked at once by the web server (argon2: ~0.4 s of a CPU each); unset:
    # the number of CPUs, at least 2
    max_password_checks: int | None = Field(default=None, ge=1)
    prefect_mode: Literal["embedded", "deployments", "off"] = "embedded"
    embedded_runs: int = Field(default=3, ge=1)  # commands run at once by one process
    # deployments mode: seconds a command waits for its flow run on a worker
    run_timeout: float = Field(default=300.0, gt=0)
    max_document_mb: int = Field(default=25, ge=1)
    # the largest body of one HTTP request; by default room for three documents at their
    # limit, in base64 (a third larger), and 1 MB for the rest
    max_request_mb: int | None = Field(default=None, ge=1)

    @field_validator("database_url", mode="after")
    @classmethod
    def _absolute_database(cls, value: str) -> str:
        return absolute_database_url(value)

    @field_validator("data_dir", "documents_dir", "outbox_dir", "sop_dir", mode="after")
    @classmethod
    def _absolute_path(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("mail_from", mode="after")
    @classmethod
    def _sender(cls, value: str) -> str:
        match = _SENDER.match(value)
        address = (match["angle"] or match["bare"]) if match else None
        if address is None or not _ADDRESS.match(address):
            raise PydanticCustomError(
                "configuration-error",
                "SOPFLOW_MAIL_FROM must be an e-mail address (no-reply@ministry.example) or "
                f"'Name <address>', not {value!r}".replace("{", "{{").replace("}", "}}"),
            )
        return value.strip()

    @field_validator("sendgrid_host", mode="after")
    @classmethod
    def _sendgrid_host(cls, value: str) -> str:
        return web_address(value, "SOPFLOW_SENDGRID_HOST").rstrip("/")

    @field_validator("session_secret", mode="after")
    @classmethod
    def _session_secret(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # empty: as if unset
        return web_address(value, "SOPFLOW_PUBLIC_URL")

    @property
    def max_request_bytes(self) -> int:
        return (self.max_request_mb or 4 * self.max_document_mb + 1) * 1_000_000

    @property
    def document_root(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

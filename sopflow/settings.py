"""Settings from the environment (prefix SOPFLOW_). Defaults work with no configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import DirectoryPath, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    prefect_mode: Literal["embedded", "deployments", "off"] = "embedded"
    embedded_runs: int = Field(default=3, ge=1)  # commands run at once by one process
    max_document_mb: int = Field(default=25, ge=1)
    # the largest body of one HTTP request; by default room for three documents at their
    # limit, in base64 (a third larger), and 1 MB for the rest
    max_request_mb: int | None = Field(default=None, ge=1)

    @property
    def max_request_bytes(self) -> int:
        return (self.max_request_mb or 4 * self.max_document_mb + 1) * 1_000_000

    @property
    def document_root(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

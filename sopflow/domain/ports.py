"""The ports the services use and the adapters implement (notices: rendering and channels)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sopflow.errors import AdapterError


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    template_version: str
    locale: str


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str  # stable per notice: a retry is the same message, never a new one
    to: str
    subject: str
    text: str
    html: str
    sender: str
    headers: Mapping[str, str] = field(default_factory=dict)


class DeliveryFailed(AdapterError):
    """A channel could not deliver. ``retryable``: timeouts, 429, 5xx; not: 400/401/403,
    an invalid address. ``retry_after``: seconds the provider asked us to wait."""

    code = "delivery-failed"

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None, channel_fault: bool = False) -> None:  # fmt: skip
        super().__init__(message, retryable=retryable)
        self.retry_after = retry_after
        self.status = status
        # the channel's fault, not the notice's (bad credentials, a host that cannot work):
        # every other notice would fail alike
        self.channel_fault = channel_fault

    @property
    def stops_batch(self) -> bool:
        """Whether delivery stops the batch here: the channel's fault, or a 429."""
        return self.channel_fault or self.status == 429


class Renderer(Protocol):
    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> Rendered: ...

    def locales(self, template: str) -> list[str]: ...


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> str:
        """Deliver; return the provider's message id; raise ``DeliveryFailed``."""
        ...

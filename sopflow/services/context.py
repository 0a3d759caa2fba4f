"""What every service needs, wired once by ``sopflow.bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sopflow.services.snapshots import Snapshots
from sopflow.services.sops import SopRegistry
from sopflow.store.blobs import BlobStore
from sopflow.store.repository import Store

Clock = Callable[[], datetime]


@dataclass
class Context:
    store: Store
    sops: SopRegistry
    blobs: BlobStore
    clock: Clock
    max_document_bytes: int = 25 * 1_000_000
    max_request_bytes: int = 101 * 1_000_000  # one HTTP request's body (sopflow.web.limits)
    snapshots: Snapshots = field(default_factory=Snapshots)  # decoded once, by their text

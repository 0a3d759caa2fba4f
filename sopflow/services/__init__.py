"""Use cases of sopflow. Scripts, the CLI, the flows and the API all call these.

``Services`` groups them over one ``Context`` (store, SOP registry, document store, clock),
which ``sopflow.bootstrap.services()`` wires from the settings.
"""

from __future__ import annotations

from collections.abc import Callable

from sopflow.services.audit import Audit
from sopflow.services.commands import Command, CommandResult, Commands
from sopflow.services.context import Context
from sopflow.services.deadlines import Deadlines, SweepReport
from sopflow.services.directory import Directory, OrgInput
from sopflow.services.directory_log import DirectoryLog
from sopflow.services.export_check import check_export
from sopflow.services.notices import DeliveryReport, Notices
from sopflow.services.queries import ListFilter, Queries
from sopflow.services.sessions import Sessions
from sopflow.services.sops import SopRegistry
from sopflow.services.statistics import Statistics
from sopflow.services.storage import PruneReport, Storage
from sopflow.services.tokens import Tokens
from sopflow.services.verification import VerifyReport


class Services:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.directory = Directory(ctx)
        self.directory_log = DirectoryLog(ctx)
        self.commands = Commands(ctx)
        self.queries = Queries(ctx)
        self.audit = Audit(ctx)
        self.deadlines = Deadlines(ctx)
        self.tokens = Tokens(ctx)
        self.sessions = Sessions(ctx)
        self.statistics = Statistics(ctx)
        self.storage = Storage(ctx)

        self._notices: Notices | None = None
        self._make_notices: Callable[[], Notices] | None = None

    @property
    def sops(self) -> SopRegistry:
        return self.ctx.sops

    def configure_notices(self, make: Callable[[], Notices]) -> None:
        """Notices need a renderer and a channel (adapters): built on first use."""
        self._make_notices, self._notices = make, None

    @property
    def notices(self) -> Notices:
        if self._notices is None:
            if self._make_notices is None:
                raise RuntimeError("notices are not configured (sopflow.bootstrap wires them)")
            self._notices = self._make_notices()
        return self._notices


__all__ = [
    "Audit",
    "Command",
    "CommandResult",
    "Commands",
    "Context",
    "Deadlines",
    "DeliveryReport",
    "Directory",
    "DirectoryLog",
    "ListFilter",
    "Notices",
    "OrgInput",
    "PruneReport",
    "Queries",
    "Services",
    "Sessions",
    "SopRegistry",
    "Statistics",
    "Storage",
    "SweepReport",
    "VerifyReport",
    "check_export",
]  # fmt: skip

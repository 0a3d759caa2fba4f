"""Use cases of sopflow. Scripts, the CLI, the flows and the API all call these.

``Services`` groups them over one ``Context`` (store, SOP registry, document store, clock),
which ``sopflow.bootstrap.services()`` wires from the settings.
"""

from __future__ import annotations

from sopflow.services.audit import Audit, VerifyReport, check_export
from sopflow.services.commands import Command, CommandResult, Commands
from sopflow.services.context import Context
from sopflow.services.deadlines import Deadlines, SweepReport
from sopflow.services.directory import Directory, OrgInput
from sopflow.services.queries import ListFilter, Queries
from sopflow.services.sops import SopRegistry


class Services:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.directory = Directory(ctx)
        self.commands = Commands(ctx)
        self.queries = Queries(ctx)
        self.audit = Audit(ctx)
        self.deadlines = Deadlines(ctx)

    @property
    def sops(self) -> SopRegistry:
        return self.ctx.sops


__all__ = [
    "Audit", "Command", "CommandResult", "Commands", "Context", "Deadlines", "Directory",
    "ListFilter", "OrgInput", "Queries", "Services", "SopRegistry", "SweepReport",
    "VerifyReport", "check_export",
]  # fmt: skip
